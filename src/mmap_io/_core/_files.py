"""Opening and creating the files behind mappings, with errors that name the caller's path."""

from __future__ import annotations

import io
import os
import time
from typing import Any

from ._errors import MmapIoError, ResizeFailedError, os_error

# How long open_or_create waits for a racing creator to give a new file its size.
_SIZE_WAIT = 1.0

File = io.FileIO


def open_file(path: Any, fspath: str | bytes, writable: bool) -> File:
    """Open an existing file for reading, or for reading and writing."""
    try:
        return File(fspath, "r+" if writable else "r")
    except OSError as error:
        raise os_error(MmapIoError, error, path) from None


def create_file(path: Any, fspath: str | bytes, size: int) -> tuple[File, bool]:
    """Create (or truncate) a file of `size` zero bytes; also say whether it was new."""
    created = True
    try:
        try:
            file = File(fspath, "x+")
        except FileExistsError:
            created = False
            file = File(fspath, "w+")
    except OSError as error:
        raise os_error(MmapIoError, error, path) from None
    _set_size(file, path, fspath, size, created)
    return file, created


def open_or_create_file(path: Any, fspath: str | bytes, size: int | None) -> tuple[File, bool]:
    """Open `path` read-write, creating it at `size` bytes when it does not exist.

    Race-free across processes: the O_EXCL create succeeds for exactly one caller.
    The others open the winner's file, waiting briefly while it is still empty so
    they never see the moment between its creation and its ftruncate. `size` None
    means the caller's default size was invalid, which only matters when creating.
    """
    while True:
        try:
            file = File(fspath, "x+")
        except FileExistsError:
            pass
        except OSError as error:
            raise os_error(MmapIoError, error, path) from None
        else:
            if size is None:
                file.close()
                os.unlink(fspath)
                raise ResizeFailedError("default_size must be greater than zero to create a file")
            _set_size(file, path, fspath, size, created=True)
            return file, True
        try:
            file = File(fspath, "r+")
        except FileNotFoundError:
            continue  # removed between our two opens: try to create it again
        except OSError as error:
            raise os_error(MmapIoError, error, path) from None
        deadline = time.monotonic() + _SIZE_WAIT
        while os.fstat(file.fileno()).st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        return file, False


def _set_size(file: File, path: Any, fspath: str | bytes, size: int, created: bool) -> None:
    try:
        os.ftruncate(file.fileno(), size)
    except OSError as error:
        file.close()
        if created:
            os.unlink(fspath)
        raise os_error(ResizeFailedError, error, path) from None
