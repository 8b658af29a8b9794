"""Linux: stdlib mmap plus libc msync, madvise, mincore and posix_fadvise."""

from __future__ import annotations

import errno
import mmap
import os
import sys

from .._enums import MmapAdvice, MmapMode
from . import _posix
from ._common import MAX_MAP_SIZE as MAX_MAP_SIZE
from ._common import map_anonymous as map_anonymous
from ._common import map_file as map_file

assert sys.platform.startswith("linux")

PLATFORM = "linux"

# <asm-generic/mman-common.h> and msync(2).
_MS_SYNC = 4
_MADV_POPULATE_READ = 22  # Linux 5.14+; older kernels answer EINVAL.
_PAGE = mmap.PAGESIZE


def resize(mm: mmap.mmap, fileno: int, new_size: int, mode: MmapMode) -> mmap.mmap:
    """Resize file and mapping in place with ftruncate + mremap (the stdlib's resize).

    The stdlib refuses with BufferError before touching the file while views exist.
    """
    mm.resize(new_size)
    return mm


def sync_range(mm: mmap.mmap, fileno: int, address: int, offset: int, length: int) -> None:
    """Write dirty pages of a page-aligned range back and wait for the disk (msync MS_SYNC)."""
    _posix.msync(address + offset, length, _MS_SYNC)


def sync_file(fileno: int) -> None:
    """Make data and metadata (size included) durable: fsync(2)."""
    os.fsync(fileno)


sync_directory = _posix.fsync_directory


def advise(address: int, length: int, advice: MmapAdvice) -> None:
    _posix.madvise(address, length, _posix.ADVICE[advice])


def populate_read(address: int, length: int) -> bool:
    """Fault a range in with one syscall; False when the kernel predates MADV_POPULATE_READ."""
    try:
        _posix.madvise(address, length, _MADV_POPULATE_READ)
    except OSError as error:
        if error.errno == errno.EINVAL:
            return False
        raise
    return True


def prefetch_file(fileno: int, offset: int, length: int) -> None:
    """Start reading a file range into the page cache (posix_fadvise WILLNEED)."""
    os.posix_fadvise(fileno, offset, length, os.POSIX_FADV_WILLNEED)


def evict_file(fileno: int, offset: int, length: int) -> None:
    """Drop clean cached pages of a file range (posix_fadvise DONTNEED)."""
    os.posix_fadvise(fileno, offset, length, os.POSIX_FADV_DONTNEED)


def resident_pages(address: int, length: int) -> bytes | None:
    """mincore(2): one byte per page, bit 0 set when the page is in memory."""
    return _posix.mincore(address, length, _PAGE)
