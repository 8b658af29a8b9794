"""Pieces every platform shares: mapping through the stdlib and remapping without mremap."""

from __future__ import annotations

import errno
import mmap
import os
import sys

from .._enums import MmapMode

# Largest mapping the core will even try: user address space is 2**47 bytes on 64-bit
# Linux, macOS and Windows; 32-bit builds are bounded by sys.maxsize.
MAX_MAP_SIZE = min(sys.maxsize, 1 << 47)

_ACCESS = {
    MmapMode.READ_ONLY: mmap.ACCESS_READ,
    MmapMode.READ_WRITE: mmap.ACCESS_WRITE,
    MmapMode.COPY_ON_WRITE: mmap.ACCESS_COPY,
}


def map_file(fileno: int, length: int, mode: MmapMode) -> mmap.mmap:
    """Map the first `length` bytes of an open file."""
    return mmap.mmap(fileno, length, access=_ACCESS[mode])


def map_anonymous(length: int, huge_pages: bool = False) -> mmap.mmap:
    """Map `length` bytes of zeroed memory with no file behind it.

    Shared with children forked later. The huge-page hint is ignored here: only the
    Linux module knows a way to honour it.
    """
    return mmap.mmap(-1, length)


def remap(mm: mmap.mmap, fileno: int, new_size: int, mode: MmapMode) -> mmap.mmap:
    """Resize without mremap: unmap, resize the file, map again.

    `mm.close()` raises BufferError while any view is exported, before anything changes,
    so a refused resize leaves both the file and the mapping as they were.
    """
    mm.close()
    try:
        os.ftruncate(fileno, new_size)
    finally:
        size = os.fstat(fileno).st_size
    return map_file(fileno, size, mode)


def unsupported(what: str) -> OSError:
    return OSError(errno.ENOSYS, f"{what} is not supported on {sys.platform}")
