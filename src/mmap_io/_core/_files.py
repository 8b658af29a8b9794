"""Opening, creating and growing the files behind mappings: regular files only, disk
blocks reserved for what the library creates or grows, errors naming the caller's path."""

from __future__ import annotations

import contextlib
import errno
import io
import mmap
import os
import stat
import time
from typing import Any

from . import _lifetime, _os
from ._args import check_size
from ._enums import MmapMode
from ._errors import MmapIoError, ResizeFailedError, map_error, os_error

# How long open_or_create waits for a racing creator to give a new file its size.
_SIZE_WAIT = 1.0
# Rounds of "it exists" (the O_EXCL create) then "it is gone" (the plain open) before a
# create gives up. Each round means that another process removed the file between our
# two opens; a dangling symlink, which looks the same, is told apart and refused at once.
RETRIES = 64

File = io.FileIO

# Added to every open. O_NONBLOCK: opening a FIFO for reading waits for a writer, and
# some devices wait for a carrier (fifo(7), open(2)); with the flag the open returns at
# once and the fstat that follows refuses the file. On a regular file the flag changes
# nothing, but it is cleared again so that the descriptor the user may get back (unmap)
# is an ordinary one. O_NOCTTY: a terminal never becomes our controlling terminal.
# O_CLOEXEC: FileIO asks for it too.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_EXTRA = _NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_set_blocking = getattr(os, "set_blocking", None)  # not on Windows before 3.12

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def open_file(path: Any, fspath: str | bytes, writable: bool) -> File:
    """Open an existing regular file for reading, or for reading and writing.

    Never blocks: FIFOs, sockets, devices and directories are refused with an
    `MmapIoError` that is also the OSError (ENODEV, or EISDIR for a directory).
    """
    try:
        return File(fspath, "r+" if writable else "r", opener=_open_regular)
    except FileNotFoundError as error:
        raise _not_found(error, fspath, path) from None
    except OSError as error:
        raise os_error(MmapIoError, error, path) from None


def create_file(
    path: Any, fspath: str | bytes, size: int, sparse: bool = False
) -> tuple[File, bool]:
    """Create (or truncate) a regular file of `size` zero bytes; also say whether it was new.

    The file is opened without truncating it and checked to be a regular file first,
    so anything else is refused untouched. Unless `sparse`, its blocks are reserved
    (fallocate): a full disk or quota raises `ResizeFailedError` (also the OSError
    with ENOSPC or EDQUOT) here rather than SIGBUS on a later write. For an existing
    file the blocks are reserved while its old bytes are still there, so a refusal
    leaves it as it was. A file this call created is removed on any failure.
    """
    file, created = _create_or_open(path, fspath)
    _give_size(file, path, fspath, size, sparse, created)
    return file, created


def open_or_create_file(
    path: Any, fspath: str | bytes, size: int | None, sparse: bool = False
) -> tuple[File, bool]:
    """Open `path` read-write, creating it at `size` bytes when it does not exist.

    Race-free across processes: the O_EXCL create succeeds for exactly one caller.
    The others open the winner's file, waiting briefly while it is still empty so
    they never see the moment between its creation and its sizing. `size` None
    means the caller's default size was invalid, which only matters when creating.
    A file created here gets its blocks reserved unless `sparse`; an existing file
    is left exactly as it is.
    """
    file, created = _create_or_open(path, fspath)
    if created:
        if size is None:
            _discard(file, fspath, created)
            raise ResizeFailedError("default_size must be greater than zero to create a file")
        _give_size(file, path, fspath, size, sparse, created)
        return file, True
    deadline = time.monotonic() + _SIZE_WAIT
    while os.fstat(file.fileno()).st_size == 0 and time.monotonic() < deadline:
        time.sleep(0.001)
    return file, False


def map_whole_file(file: File, mode: MmapMode, path: Any, created: bool) -> mmap.mmap:
    """Map all of an open file, remembered as mapped by this process; on failure the
    file is closed (and removed, if the call made it).

    Raises:
        ResizeFailedError: The file is empty, or its size cannot be mapped.
        MmapIoError: The OS refused the mapping (also the matching OSError).
    """
    try:
        with _lifetime.files_lock:
            size = os.fstat(file.fileno()).st_size
            if size == 0:
                raise ResizeFailedError(f"cannot map an empty file: {path!r}")
            check_size(size, _os.MAX_MAP_SIZE, "file size")
            mm = _os.map_file(file.fileno(), size, mode)
            _lifetime.note_mapped(file.fileno(), mm)
            return mm
    except OSError as error:
        file.close()
        raise mapping_error(error, path, created) from None
    except BaseException:
        file.close()
        raise


def mapping_error(error: OSError, path: Any, created: bool) -> MmapIoError:
    """The error for a file that could not be mapped, after removing it if the call made it.

    A size the machine cannot map (ENOMEM, EFBIG, EINVAL, EOVERFLOW) is a
    `ResizeFailedError`; every other failure a plain `MmapIoError`. Both are also the
    OSError, with the caller's path as `filename`.
    """
    if created and path is not None:
        _remove(path)
    return map_error(error, path)


# -- opening -----------------------------------------------------------------------


def _open_regular(fspath: str | bytes, flags: int) -> int:
    """FileIO's opener: open without blocking and refuse anything but a regular file."""
    try:
        fd = os.open(fspath, flags | _EXTRA, 0o666)
    except OSError as error:
        if error.errno == errno.ENXIO:  # what opening a socket (or a driverless device) says
            _refuse_path(fspath)
        raise
    try:
        _refuse(os.fstat(fd).st_mode)
        if _NONBLOCK and _set_blocking is not None:
            _set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse(mode: int) -> None:
    """Raise the OSError for a file that is not regular: EISDIR or ENODEV.

    ENODEV is what mmap(2) answers for a file whose file system cannot map it;
    Python maps it to no OSError subclass, so the message says what the file is.
    """
    if stat.S_ISREG(mode):
        return
    what = next((name for test, name in _KINDS if test(mode)), "a special file")
    code = errno.EISDIR if stat.S_ISDIR(mode) else errno.ENODEV
    raise OSError(code, f"cannot map {what}: only regular files can be mapped")


def _refuse_path(fspath: str | bytes) -> None:
    try:
        mode = os.stat(fspath).st_mode
    except OSError:
        return  # the caller raises the error it has
    _refuse(mode)


def _not_found(error: FileNotFoundError, fspath: str | bytes, path: Any) -> MmapIoError:
    """FileNotFoundError for the caller's path, saying so when it is a dangling symlink."""
    if os.path.islink(fspath):
        error = FileNotFoundError(
            errno.ENOENT, "dangling symbolic link: the file it points to does not exist"
        )
    return os_error(MmapIoError, error, path)


def _create_or_open(path: Any, fspath: str | bytes) -> tuple[File, bool]:
    """Create `path` with O_EXCL, or open the regular file already there; say which.

    A dangling symlink makes the exclusive create say "exists" and the open say "not
    found": it is refused at once (creating through it would create a file somewhere
    else, which O_EXCL exists to prevent). A file removed by another process between
    the two opens is tried again, at most RETRIES times.
    """
    for _ in range(RETRIES):
        try:
            return File(fspath, "x+", opener=_open_regular), True
        except FileExistsError:
            pass
        except OSError as error:
            raise os_error(MmapIoError, error, path) from None
        try:
            return File(fspath, "r+", opener=_open_regular), False
        except FileNotFoundError as error:
            if os.path.islink(fspath):
                raise _not_found(error, fspath, path) from None
        except OSError as error:
            raise os_error(MmapIoError, error, path) from None
    gone = FileNotFoundError(
        errno.ENOENT,
        f"removed by another process each of the {RETRIES} times it was found; giving up",
    )
    raise os_error(MmapIoError, gone, path)


# -- sizing ------------------------------------------------------------------------


def _give_size(
    file: File, path: Any, fspath: str | bytes, size: int, sparse: bool, created: bool
) -> None:
    """Make `file` hold `size` zero bytes; on failure close it (and remove it if created).

    The size is set with one ftruncate before the blocks are reserved: fallocate grows
    a file step by step on some file systems (ext4 here: 8 MiB at a time), and an
    open_or_create racing this one must see the empty file or the whole size, never a
    part of it.
    """
    fileno = file.fileno()
    try:
        if not created:
            # Held from the check to the cut, so no mapping of the file appears between.
            with _lifetime.files_lock:
                _lifetime.refuse_if_mapped(fileno, f"cannot recreate {path!r}")
                _check_room(fileno, size, sparse)
                os.ftruncate(fileno, 0)
        os.ftruncate(fileno, size)
        if not sparse:
            _os.allocate(fileno, 0, size)  # False: the file system cannot; holes it is
    except BaseException as error:
        _discard(file, fspath, created)
        if isinstance(error, OSError) and not isinstance(error, MmapIoError):
            raise os_error(ResizeFailedError, error, path) from None
        raise


def _check_room(fileno: int, size: int, sparse: bool) -> None:
    """Reserve `size` bytes of an existing file over its old bytes, before they are dropped.

    A refusal leaves the file as it was (its size put back, its bytes untouched). Once
    this succeeds, the reservation after the truncation cannot fail for want of space
    (the truncation frees at least what this one found missing) unless another process
    takes the space in between; the file then holds zeros, partly unreserved.
    """
    if sparse:
        return
    before = os.fstat(fileno).st_size
    try:
        _os.allocate(fileno, 0, size)
    except OSError:
        _put_back(fileno, before)
        raise


def _put_back(fileno: int, size: int) -> None:
    """Restore a file's size after a failed growth (fallocate may have grown it partly)."""
    if os.fstat(fileno).st_size != size:
        os.ftruncate(fileno, size)


def _discard(file: File, fspath: str | bytes, created: bool) -> None:
    file.close()
    if created:
        _remove(fspath)


def _remove(path: Any) -> None:
    with contextlib.suppress(OSError):  # already gone: the error being raised says more
        os.unlink(path)


def copy_file(source: str | bytes, target: str | bytes, src: Any, dst: Any) -> None:
    """Copy the bytes of `source` to `target`, refusing a target this process maps.

    The target is opened without truncating, checked, and only then cut to zero:
    truncating a file whose pages are mapped here would crash the process on the
    next touch of those pages (SIGBUS), and truncating the source itself (the same
    file under two names) would lose it, so that is refused too (SameFileError, as
    shutil.copyfile does).
    """
    import shutil  # on first use: it is slow to import and rarely needed

    try:
        with File(source, "r") as reader, File(target, "a", opener=_open_regular) as writer:
            if os.path.samestat(os.fstat(reader.fileno()), os.fstat(writer.fileno())):
                raise shutil.SameFileError(f"{src!r} and {dst!r} are the same file")
            with _lifetime.files_lock:
                _lifetime.refuse_if_mapped(writer.fileno(), f"cannot copy onto {dst!r}")
                os.ftruncate(writer.fileno(), 0)
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
