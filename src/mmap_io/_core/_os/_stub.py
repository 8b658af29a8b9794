"""Any other platform: plain stdlib mmap; every optional feature is a no-op or unsupported."""

from __future__ import annotations

import mmap

from .._enums import MmapAdvice, MmapMode
from ._common import MAX_MAP_SIZE, map_anonymous, map_file, remap, unsupported

PLATFORM = "other"

__all__ = (
    "MAX_MAP_SIZE",
    "PLATFORM",
    "advise",
    "advise_hugepages",
    "allocate",
    "evict_file",
    "hugepage_backed",
    "lock_pages",
    "map_anonymous",
    "map_file",
    "mapped_pages",
    "mincore_honest",
    "populate_many",
    "populate_read",
    "prefetch_file",
    "resident_pages",
    "resize",
    "sync_directory",
    "sync_file",
    "sync_range",
    "unlock_pages",
    "will_need_many",
)


def allocate(fileno: int, offset: int, length: int) -> bool:
    """No way to reserve blocks here: False, so the caller extends the file with holes.

    A write into a hole can then still fail for want of space when the page is written
    back (SIGBUS on a full disk); only the Linux module reserves blocks.
    """
    return False


def resize(mm: mmap.mmap, fileno: int, new_size: int, mode: MmapMode) -> mmap.mmap:
    return remap(mm, fileno, new_size, mode)


def sync_range(mm: mmap.mmap, fileno: int, address: int, offset: int, length: int) -> None:
    mm.flush(offset, length)


def sync_file(fileno: int) -> None:
    raise unsupported("fsync")


def sync_directory(path: str | bytes) -> None:
    """No portable way to flush a directory entry; nothing is done."""


def advise(address: int, length: int, advice: MmapAdvice) -> None:
    """Advisory only; nothing is done."""


def populate_many(address: int, spans: list[tuple[int, int]]) -> bool:
    return False


def populate_read(address: int, length: int) -> bool:
    return False


def will_need_many(address: int, spans: list[tuple[int, int]]) -> bool:
    return False


def prefetch_file(fileno: int, offset: int, length: int) -> None:
    """Advisory only; nothing is done."""


def evict_file(fileno: int, offset: int, length: int) -> None:
    """Advisory only; nothing is done."""


def resident_pages(address: int, length: int) -> bytes | None:
    return None


def mincore_honest(fileno: int) -> bool:
    return False  # no mincore to ask


def mapped_pages(address: int, length: int) -> bytes | None:
    return None  # no page-table report to read


def lock_pages(address: int, length: int) -> None:
    raise unsupported("mlock")


def unlock_pages(address: int, length: int) -> None:
    raise unsupported("munlock")


def advise_hugepages(address: int, length: int) -> None:
    """Advisory only; nothing is done."""


def hugepage_backed(address: int, length: int) -> bool | None:
    return None  # no way to tell
