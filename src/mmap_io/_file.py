"""MemoryMappedFile: the composition root, where the core mapping meets its two flavours.

The core (`_core/_mapping.py`) holds the state and the hot paths; `aio/_file.py`
adds the async methods and `sync/_file.py` (generated from it) their sync twins.
Nothing below this module imports it: the manager functions of both flavours are
handed the class here.
"""

from __future__ import annotations

from typing import Any, final

from .aio import _manager as _aio_manager
from .aio._file import AsyncFileOps
from .sync import _manager as _sync_manager
from .sync._file import FileOps


@final
class MemoryMappedFile(FileOps, AsyncFileOps):
    """A file mapped into memory: zero-copy views, bounds-checked reads and writes,
    durable flushes, and an async form of every call that can wait for the disk.

    Make one with a classmethod (`create_rw`, `open_ro`, `open_rw`, `open_cow`,
    `open_or_create`, `from_file`, `builder`) or, from async code, with the functions
    of `mmap_io.aio`. Close it with `close()`, `with` or `async with`. Watch it for
    changes made by others with `watch(callback)` or `async for e in watch_async()`.

    Many threads may share one mapping: reads and writes need no lock of yours.
    `close()` always succeeds at once; views taken before keep their memory (and
    their bytes) until they are released, so no view ever dangles.

    Example:
        >>> with MemoryMappedFile.create_rw("data.bin", 4096) as mm:
        ...     mm.update_region(0, b"hello")
        ...     mm.flush()
        ...     bytes(mm.as_slice(0, 5))
        b'hello'
    """

    __slots__ = ()


_aio_manager.build_with(MemoryMappedFile)
_sync_manager.build_with(MemoryMappedFile)


def update_region(mm: MemoryMappedFile, offset: int, data: Any) -> None:
    """Write `data` into `mm` at `offset` (the manager form of `mm.update_region`)."""
    mm.update_region(offset, data)


MemoryMappedFile.__module__ = "mmap_io"
