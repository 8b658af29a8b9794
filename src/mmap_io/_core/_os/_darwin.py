"""macOS: stdlib mmap plus libc msync/madvise/mincore; F_FULLFSYNC for durability."""

from __future__ import annotations

import fcntl
import mmap
import sys

# No transparent huge pages on macOS (superpages need mach_vm_allocate flags), and no
# per-mapping report of them.
from . import _posix, _stub
from ._common import MAX_MAP_SIZE as MAX_MAP_SIZE
from ._common import map_anonymous as map_anonymous
from ._common import map_file as map_file
from ._common import remap
from ._stub import advise_hugepages as advise_hugepages

# No fallocate: macOS has fcntl(F_PREALLOCATE), which reserves space without growing
# the file and is not wired up yet, so files grow with holes (see _stub.allocate).
from ._stub import allocate as allocate
from ._stub import hugepage_backed as hugepage_backed

assert sys.platform == "darwin"

PLATFORM = "darwin"

# <sys/mman.h> on Darwin: MS_SYNC differs from Linux.
_MS_SYNC = 0x10
_F_FULLFSYNC = 51
_PAGE = mmap.PAGESIZE


# No mremap on Darwin: unmap, ftruncate, map again.
resize = remap


def sync_range(mm: mmap.mmap, fileno: int, address: int, offset: int, length: int) -> None:
    _posix.msync(address + offset, length, _MS_SYNC)


def sync_file(fileno: int) -> None:
    """fsync on macOS stops at the drive's cache; F_FULLFSYNC reaches the platter (fcntl(2))."""
    fcntl.fcntl(fileno, _F_FULLFSYNC)


sync_directory = _posix.fsync_directory
lock_pages = _posix.lock_pages
unlock_pages = _posix.unlock_pages
advise = _posix.advise


def populate_many(address: int, spans: list[tuple[int, int]]) -> bool:
    return False  # No process_madvise: the core goes span by span.


def populate_read(address: int, length: int) -> bool:
    return False  # No MADV_POPULATE_READ: the core touches each page instead.


def will_need_many(address: int, spans: list[tuple[int, int]]) -> bool:
    return False  # No process_madvise: the core goes span by span.


def prefetch_file(fileno: int, offset: int, length: int) -> None:
    """No posix_fadvise on macOS; the hint is advisory, so nothing is done."""


def evict_file(fileno: int, offset: int, length: int) -> None:
    """No posix_fadvise on macOS; the hint is advisory, so nothing is done."""


def resident_pages(address: int, length: int) -> bytes | None:
    return _posix.mincore(address, length, _PAGE)


def mincore_honest(fileno: int) -> bool:
    return True  # Darwin's mincore answers for any mapping its caller can read


mapped_pages = _stub.mapped_pages
