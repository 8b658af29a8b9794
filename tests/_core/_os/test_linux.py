"""The Linux syscalls behind residency, population, eviction and msync."""

from __future__ import annotations

import mmap
import os
import sys
import time
from pathlib import Path

import pytest

from mmap_io import MemoryMappedFile, MmapAdvice
from mmap_io._core import _os

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
PAGE = mmap.PAGESIZE


def _write_cold(path: Path, data: bytes) -> None:
    """Write a file and push it out of the page cache (DONTNEED skips dirty pages)."""
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
        _os.evict_file(file.fileno(), 0, 0)


def _resident(mm: MemoryMappedFile, offset: int, length: int) -> bytes:
    vector = _os.resident_pages(mm.address + offset, length)
    assert vector is not None
    return bytes(b & 1 for b in vector)


def test_eviction_makes_pages_cold_and_populate_makes_them_resident(path: Path) -> None:
    _write_cold(path, b"\x05" * (64 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        assert _resident(mm, 0, 64 * PAGE) == bytes(64)
        assert _os.populate_read(mm.address, 64 * PAGE)
        assert _resident(mm, 0, 64 * PAGE) == b"\x01" * 64
        assert mm.read_bytes(0, 64 * PAGE) == b"\x05" * (64 * PAGE)


def test_touch_pages_range_faults_exactly_that_range_under_random_advice(path: Path) -> None:
    _write_cold(path, b"\x06" * (1024 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)  # no read-around on faults
        mm.touch_pages_range(600 * PAGE + 1, PAGE)  # spans pages 600 and 601
        resident = _resident(mm, 0, 1024 * PAGE)
        assert [i for i, bit in enumerate(resident) if bit] == [600, 601]


def test_prefetch_reads_the_file_into_the_page_cache(path: Path) -> None:
    _write_cold(path, b"\x07" * (16 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        assert _resident(mm, 0, 16 * PAGE) == bytes(16)
        mm.prefetch_range(0, 16 * PAGE)
        # mincore on a file mapping reports the page cache; readahead is asynchronous.
        deadline = time.monotonic() + 5
        while _resident(mm, 0, 16 * PAGE) != b"\x01" * 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _resident(mm, 0, 16 * PAGE) == b"\x01" * 16


def test_msync_errors_become_os_errors() -> None:
    with pytest.raises(OSError):
        _os.sync_range(None, -1, 1, 0, PAGE)  # type: ignore[arg-type]  # unaligned address
