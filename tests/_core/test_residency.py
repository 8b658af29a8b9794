"""Residency probes: true answers for every readable file, whoever owns it.

`believed_resident` (tests/conftest.py) is the documented way into the probe that
async reads consult; everything else here is public API.
"""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import pytest

from conftest import believed_resident, write_cold
from mmap_io import MemoryMappedFile, MmapAdvice

PAGE = mmap.PAGESIZE
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore on Linux")


@linux
def test_the_mapping_believes_what_it_saw_and_forgets_it_on_resize(path: Path) -> None:
    write_cold(path, b"\x01" * (16 * PAGE))
    with MemoryMappedFile.open_rw(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert not believed_resident(mm, 0, PAGE)  # asked: cold
        mm.touch_pages_range(0, PAGE)
        assert believed_resident(mm, 0, PAGE)  # touching marked it
        mm.resize(32 * PAGE)
        mm.advise(0, PAGE, MmapAdvice.DONT_NEED)
        os.posix_fadvise(mm.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        assert not believed_resident(mm, 0, PAGE)  # nothing believed across the resize


@linux
def test_one_probe_answers_for_the_window_around_a_page(path: Path) -> None:
    write_cold(path, b"\x02" * (200 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:  # root owns the file: mincore is honest
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert not believed_resident(mm, 70 * PAGE, 10)
        assert mm.read_bytes(100 * PAGE, 4) == b"\x02" * 4  # faults page 100 in...
        assert not believed_resident(mm, 100 * PAGE, 4)  # ...but the window's cold belief holds
        assert mm.read_bytes(10 * PAGE, 4) == b"\x02" * 4
        assert believed_resident(mm, 10 * PAGE, 4)  # another window: asked afresh


@linux
def test_offloaded_copies_leave_their_pages_known_resident(path: Path) -> None:
    from mmap_io._core import _paging

    write_cold(path, bytes(300 * PAGE))
    with MemoryMappedFile.open_rw(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert not believed_resident(mm, 0, PAGE)  # the first window, 0-63, is seen cold
        _paging.copy_in(mm, 10 * PAGE, b"x" * (3 * PAGE))
        assert believed_resident(mm, 10 * PAGE, 3 * PAGE)  # no stale cold belief left
        _paging.copy_out(mm, 40 * PAGE, bytearray(2 * PAGE))
        assert believed_resident(mm, 40 * PAGE, 2 * PAGE)
