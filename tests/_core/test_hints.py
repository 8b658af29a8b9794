"""Residency hints: what was seen resident is believed for a while, then asked again."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest

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
