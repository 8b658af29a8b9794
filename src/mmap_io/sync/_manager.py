# GENERATED from src/mmap_io/aio/_manager.py by scripts/unasync.py: do not edit.
"""Module-level constructors and the spec's manager helpers (create, load, copy, delete).

Authored here in async form; `sync/_manager.py` is generated from it by
scripts/unasync.py. The class they build is handed in by the composition root
(`build_with`), so this layer never imports what is built on top of it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from .._core._args import StrPath, check_path
from .._core._enums import MmapMode
from .._core._files import copy_file, delete_file
from .._pairs import constructor, run_blocking
from ._file import FileOps

# The public class (MemoryMappedFile), set once by mmap_io._file when the package loads.
_built: type[FileOps] = FileOps


def build_with(cls: type[FileOps]) -> None:
    """Have the functions below build `cls` (called by the composition root)."""
    global _built
    _built = cls


@constructor
def create_rw(path: StrPath, size: int, **options: Any) -> FileOps:
    """Create `path` with `size` zero bytes (truncating an existing file) and map it read-write.

    Raises:
        ResizeFailedError: `size` is not a valid size; no file is touched.
        MmapIoError: The file cannot be created (also the matching OSError).
    """
    return run_blocking(partial(_built.create_rw, path, size, **options))


@constructor
def open_ro(path: StrPath, **options: Any) -> FileOps:
    """Map an existing file read-only.

    Raises:
        ResizeFailedError: The file is empty.
        MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
    """
    return run_blocking(partial(_built.open_ro, path, **options))


@constructor
def open_rw(path: StrPath, **options: Any) -> FileOps:
    """Map an existing file read-write.

    Raises:
        ResizeFailedError: The file is empty.
        MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
    """
    return run_blocking(partial(_built.open_rw, path, **options))


@constructor
def open_cow(path: StrPath, **options: Any) -> FileOps:
    """Map an existing file copy-on-write: writes stay private to the mapping.

    Raises:
        ResizeFailedError: The file is empty.
        MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
    """
    return run_blocking(partial(_built.open_cow, path, **options))


@constructor
def open_or_create(path: StrPath, default_size: int, **options: Any) -> FileOps:
    """Map `path` read-write, creating it with `default_size` zero bytes if it is missing.

    Exactly one of several racing callers creates the file (its `created` is True).

    Raises:
        ResizeFailedError: The file had to be created and `default_size` is invalid.
        MmapIoError: The file cannot be opened or created (also the OSError).
    """
    return run_blocking(partial(_built.open_or_create, path, default_size, **options))


def create_mmap(path: StrPath, size: int, *, sparse: bool = False) -> FileOps:
    """Create (or truncate) a file of `size` zero bytes and map it read-write.

    Its blocks are reserved unless `sparse` (see `MemoryMappedFile.create_rw`).

    Raises:
        ResizeFailedError: `size` is zero, negative or too large (no file is touched),
            or the disk or quota is full (also the OSError; a new file is removed).
        MmapIoError: The file cannot be created (also the matching OSError).
    """
    return create_rw(path, size, sparse=sparse)


def load_mmap(path: StrPath, mode: MmapMode) -> FileOps:
    """Map an existing file in `mode`.

    Raises:
        TypeError: `mode` is not an MmapMode.
        ResizeFailedError: The file is empty.
        MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
    """
    return run_blocking(_built.load, path, mode)


def update_region_durable(mm: FileOps, offset: int, data: Any) -> None:
    """Write `data` into `mm` at `offset` and return once it is durable on disk.

    Raises:
        InvalidModeError: The mapping is read-only.
        OutOfBoundsError: The data would pass the end of the mapping.
        FlushFailedError: The bytes were written but could not be made durable.
    """
    mm.update_region_durable(offset, data)


def flush(mm: FileOps) -> None:
    """Write every dirty page of `mm` back to its file and wait for the disk.

    Raises:
        FlushFailedError: The OS could not write the pages back.
    """
    mm.flush()


def copy_mmap(src: StrPath, dst: StrPath) -> None:
    """Copy the file at `src` to `dst` (the file's bytes, not any mapping of it).

    Raises:
        MmapIoError: Either file cannot be read or written (also the matching OSError).
    """
    source, target = check_path(src), check_path(dst)
    run_blocking(copy_file, source, target, src, dst)


def delete_mmap(path: StrPath) -> None:
    """Delete the file at `path`. Close its mappings first: on Linux the memory stays
    valid until they are closed, but on Windows the delete fails while it is mapped.

    Raises:
        MmapIoError: The file cannot be removed (also FileNotFoundError and friends).
    """
    fspath = check_path(path)
    run_blocking(delete_file, fspath, path)
