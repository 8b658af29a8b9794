"""MemoryMappedFile: the core mapping, its generated sync operations and its async ones."""

from __future__ import annotations

from typing import Any, final

from ._core._watch import WatchOps
from .aio._committer import AsyncCommits
from .aio._file import AsyncFileOps
from .aio._native import AsyncNative
from .aio._watch import AsyncWatchOps
from .sync._commit import GroupCommit
from .sync._file import FileOps


@final
class MemoryMappedFile(FileOps, AsyncFileOps, AsyncNative, WatchOps, AsyncWatchOps):
    """A file mapped into memory: zero-copy views, bounds-checked reads and writes,
    durable flushes, and an async form of every call that can wait for the disk.

    Make one with a classmethod (`create_rw`, `open_ro`, `open_rw`, `open_cow`,
    `open_or_create`, `from_file`, `builder`) or, from async code, with the functions
    of `mmap_io.aio`. Close it with `close()`, `with` or `async with`. Watch it for
    changes made by others with `watch(callback)` or `async for e in watch_async()`.

    Many threads may share one mapping: reads and writes need no lock of yours, and
    `close()` or `resize()` refuse (with a BufferError-flavoured MmapIoError) while any
    view into the memory is alive, so no view can ever outlive its memory.

    Example:
        >>> with MemoryMappedFile.create_rw("data.bin", 4096) as mm:
        ...     mm.update_region(0, b"hello")
        ...     mm.flush()
        ...     bytes(mm.as_slice(0, 5))
        b'hello'
    """

    __slots__ = ()

    def __init__(self, *args: Any, **options: Any) -> None:
        """Map an open file; use the classmethods, which open the file for you."""
        super().__init__(*args, **options)
        self._commit = GroupCommit()
        self._commit_async = AsyncCommits(self)


def update_region(mm: MemoryMappedFile, offset: int, data: Any) -> None:
    """Write `data` into `mm` at `offset` (the manager form of `mm.update_region`)."""
    mm.update_region(offset, data)


MemoryMappedFile.__module__ = "mmap_io"
