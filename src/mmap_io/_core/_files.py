"""Opening and creating the files behind mappings, with errors that name the caller's path."""

from __future__ import annotations

import io
import os
import time
from typing import Any

from . import _lifetime
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
            file = File(fspath, "r+")  # not "w+": truncate only after the check below
    except OSError as error:
        raise os_error(MmapIoError, error, path) from None
    if not created:
        try:
            with _lifetime.files_lock:
                _lifetime.refuse_if_mapped(file.fileno(), f"cannot recreate {path!r}")
                os.ftruncate(file.fileno(), 0)
        except OSError as error:
            file.close()
            raise os_error(MmapIoError, error, path) from None
        except BaseException:
            file.close()
            raise
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


def copy_file(source: str | bytes, target: str | bytes, src: Any, dst: Any) -> None:
    """Copy the bytes of `source` to `target`, refusing a target this process maps.

    The target is opened without truncating, checked, and only then cut to zero:
    truncating a file whose pages are mapped here would crash the process on the
    next touch of those pages (SIGBUS).
    """
    try:
        with File(source, "r") as reader:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            with File(fd, "w") as writer:
                with _lifetime.files_lock:
                    _lifetime.refuse_if_mapped(fd, f"cannot copy onto {os.fsdecode(target)!r}")
                    os.ftruncate(fd, 0)
                import shutil  # on first use: it is slow to import and rarely needed

                shutil.copyfileobj(reader, writer, 1 << 20)
    except OSError as error:
        shown = dst if error.filename in (target, os.fsdecode(target)) else src
        raise os_error(MmapIoError, error, shown) from None


def delete_file(fspath: str | bytes, shown: Any) -> None:
    """Remove a file; the memory of its mappings stays valid until they close (POSIX)."""
    try:
        os.remove(fspath)
    except OSError as error:
        raise os_error(MmapIoError, error, shown) from None
