"""Residency hints: what was seen resident is believed for a while, then asked again."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest

from conftest import write_cold
from mmap_io import MemoryMappedFile, MmapAdvice
from mmap_io._core._hints import ResidencyHints
from mmap_io._core._os import evict_file

PAGE = mmap.PAGESIZE


def test_marked_pages_are_known_until_forgotten() -> None:
    hints = ResidencyHints()
    assert not hints.known(0, 0)  # the first look starts a period and trusts nothing
    hints.mark(3, 5)
    assert hints.known(3, 5) and hints.known(4, 4)
    assert not hints.known(2, 3) and not hints.known(5, 6) and not hints.known(100, 100)
    hints.forget()
    assert not hints.known(4, 4)


def test_hints_expire_with_their_period() -> None:
    hints = ResidencyHints()
    hints.known(0, 0)
    hints.mark(0, 0)
    assert hints.known(0, 0)
    hints._expires = 0.0  # the period ran out
    assert not hints.known(0, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore on Linux")
def test_the_mapping_believes_its_hints_and_drops_them_on_resize(path: Path) -> None:
    with open(path, "wb") as file:
        file.write(b"\x01" * (16 * PAGE))
        file.flush()
        os.fsync(file.fileno())
    with MemoryMappedFile.open_rw(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        evict_file(mm.fileno(), 0, 0)
        assert not mm._is_resident(0, PAGE)  # asked mincore: cold
        mm.touch_pages_range(0, PAGE)
        assert mm._hints.known(0, 0)  # touching marked it
        assert mm._is_resident(0, PAGE)
        mm.resize(32 * PAGE)
        assert not mm._hints.known(0, 0)


def test_a_mincore_vector_is_remembered_page_by_page() -> None:
    hints = ResidencyHints()
    hints.known(0, 0)
    hints.record(64, bytes([1, 0, 0, 3, 0]))  # mincore: bit 0 set means resident
    assert hints.known(64, 64) and hints.known(67, 67)
    assert not hints.known(64, 65)
    assert hints.seen_cold(65, 65) and hints.seen_cold(64, 66) and hints.seen_cold(66, 68)
    assert not hints.seen_cold(64, 64) and not hints.seen_cold(0, 63)
    assert not hints.seen_cold(200, 300)  # never seen: unknown, not cold
    hints.mark(65, 66)  # paged in since
    assert hints.known(64, 67) and not hints.seen_cold(64, 67)
    hints.forget()
    assert not hints.known(64, 64) and not hints.seen_cold(65, 65)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore on Linux")
def test_one_mincore_answers_for_the_window_around_a_page(path: Path) -> None:
    write_cold(path, b"\x02" * (200 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert not mm._is_resident(70 * PAGE, 10)
        assert mm._hints.seen_cold(64, 127)  # the whole aligned window of 64 pages
        assert not mm._hints.seen_cold(0, 63) and not mm._hints.seen_cold(128, 199)
        assert mm.read_bytes(100 * PAGE, 4) == b"\x02" * 4  # faults page 100 in...
        assert not mm._is_resident(100 * PAGE, 4)  # ...but the cold belief holds a while
        mm._hints.forget()
        assert mm._is_resident(100 * PAGE, 4)  # asked again: resident
        assert not mm._is_resident(195 * PAGE, PAGE)  # the last window stops at the end
        assert len(mm._hints._pages) == 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore on Linux")
def test_offloaded_copies_leave_their_pages_known_resident(path: Path) -> None:
    write_cold(path, bytes(300 * PAGE))
    with MemoryMappedFile.open_rw(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert not mm._is_resident(0, PAGE)  # the first window, 0-63, is seen cold
        mm._copy_in_now(10 * PAGE, b"x" * (3 * PAGE))
        assert mm._is_resident(10 * PAGE, 3 * PAGE)  # no stale cold belief left
        buf = bytearray(2 * PAGE)
        mm._copy_out_now(40 * PAGE, buf)
        assert mm._is_resident(40 * PAGE, 2 * PAGE)
