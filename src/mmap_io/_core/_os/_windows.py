"""Windows: the stdlib mmap alone (FlushViewOfFile) plus fsync; no advice, no residency."""

from __future__ import annotations

import mmap
import os
import sys

from .._enums import MmapAdvice, MmapMode
from ._common import MAX_MAP_SIZE, map_anonymous, map_file, remap

assert sys.platform == "win32"

PLATFORM = "windows"

__all__ = (
    "MAX_MAP_SIZE",
    "PLATFORM",
    "advise",
    "evict_file",
    "map_anonymous",
    "map_file",
    "populate_read",
    "prefetch_file",
    "resident_pages",
    "resize",
    "sync_directory",
    "sync_file",
    "sync_range",
)


def resize(mm: mmap.mmap, fileno: int, new_size: int, mode: MmapMode) -> mmap.mmap:
    # A mapped file cannot be truncated on Windows; remap closes the view first.
    return remap(mm, fileno, new_size, mode)


def sync_range(mm: mmap.mmap, fileno: int, address: int, offset: int, length: int) -> None:
    """FlushViewOfFile only queues the writes; fsync waits for them to reach the disk."""
    mm.flush(offset, length)
    os.fsync(fileno)


def sync_file(fileno: int) -> None:
    os.fsync(fileno)


def sync_directory(path: str | bytes) -> None:
    """NTFS journals directory entries itself; there is no handle to flush."""


def advise(address: int, length: int, advice: MmapAdvice) -> None:
    """No madvise on Windows; advice is a hint, so nothing is done."""


def populate_read(address: int, length: int) -> bool:
    return False


def prefetch_file(fileno: int, offset: int, length: int) -> None:
    """Advisory; Windows has no posix_fadvise."""


def evict_file(fileno: int, offset: int, length: int) -> None:
    """Advisory; Windows has no posix_fadvise."""


def resident_pages(address: int, length: int) -> bytes | None:
    return None  # Unknown: callers treat the range as cold.
