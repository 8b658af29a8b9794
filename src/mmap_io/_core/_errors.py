"""The MmapIoError family, and how OS and argument failures join it."""

from __future__ import annotations

import errno
from typing import Any


class MmapIoError(Exception):
    """Base class of every error raised by mmap_io.

    Failures that come from the operating system are also instances of the matching
    `OSError` subclass (with `errno` and `filename`), bad argument types are also
    `TypeError`, and use of a closed mapping is also `ValueError`, so code written
    against the standard library keeps catching them.
    """


class OutOfBoundsError(MmapIoError):
    """A range does not fit inside the mapping.

    Attributes:
        offset: The offset the caller asked for.
        length: The length the caller asked for.
        total: The length of the mapping at the time of the call.
    """

    def __init__(self, offset: int, length: int, total: int) -> None:
        super().__init__(offset, length, total)
        self.offset = offset
        self.length = length
        self.total = total

    def __str__(self) -> str:
        return (
            f"range out of bounds: offset={self.offset}, length={self.length}, total={self.total}"
        )


class InvalidModeError(MmapIoError):
    """The operation is not allowed in the mapping's mode (a write on a read-only map, say)."""


class FlushFailedError(MmapIoError):
    """Writing dirty pages back to the file failed."""


class ResizeFailedError(MmapIoError):
    """A size was refused (zero, negative, too large) or the file could not be resized."""


class AdviceFailedError(MmapIoError):
    """The kernel rejected an access-pattern hint."""


class LockFailedError(MmapIoError):
    """Pages could not be locked in memory."""


class UnlockFailedError(MmapIoError):
    """Pages could not be unlocked."""


class MisalignedError(MmapIoError):
    """An atomic view was requested at an offset that is not a multiple of its width.

    Attributes:
        required: The alignment the view needs, in bytes.
        offset: The offset the caller asked for.
    """

    def __init__(self, required: int, offset: int) -> None:
        super().__init__(required, offset)
        self.required = required
        self.offset = offset

    def __str__(self) -> str:
        return f"offset {self.offset} is not aligned to {self.required} bytes"


class WatchFailedError(MmapIoError):
    """A file watch could not be started."""


def _rebuild(kind: type[MmapIoError], base: type[Exception], args: tuple[Any, ...]) -> Any:
    return combined(kind, base)(*args)


_COMBINED: dict[tuple[type[MmapIoError], type[Exception]], type[MmapIoError]] = {}


def combined(kind: type[MmapIoError], base: type[Exception]) -> type[MmapIoError]:
    """Return a class that is both `kind` and the builtin exception `base`.

    One class per pair is made on first use and reused, so `except` clauses on either
    side match and `type(a) is type(b)` holds for errors of the same pair.
    """
    cls = _COMBINED.get((kind, base))
    if cls is None:
        cls = _COMBINED.setdefault((kind, base), _make_combined(kind, base))
    return cls


def _make_combined(kind: type[MmapIoError], base: type[Exception]) -> type[MmapIoError]:

    def __reduce__(self: BaseException) -> Any:
        # Pickle by pair, so errors cross process boundaries (multiprocessing) intact.
        args = self.args
        if isinstance(self, OSError) and self.filename is not None:
            args = (self.errno, self.strerror, self.filename)
        return (_rebuild, (kind, base, args))

    name = f"{kind.__name__}({base.__name__})"
    return type(name, (kind, base), {"__module__": "mmap_io", "__reduce__": __reduce__})


def os_error(kind: type[MmapIoError], error: OSError, filename: object = None) -> MmapIoError:
    """Wrap an OSError as `kind` while keeping its OSError subclass, errno and filename."""
    cls = combined(kind, type(error))
    if filename is None:
        filename = error.filename
    wrapped = cls(str(error)) if error.errno is None else cls(error.errno, error.strerror, filename)
    wrapped.__cause__ = error.__cause__
    return wrapped


# What mmap(2), ftruncate(2) and fallocate(2) answer for a size the machine cannot map or
# the file system cannot hold: no room in the address space or under the overcommit
# limit (ENOMEM), past the largest file (EFBIG), a length the call refuses (EINVAL,
# EOVERFLOW).
_SIZE_ERRNOS = frozenset((errno.ENOMEM, errno.EFBIG, errno.EINVAL, errno.EOVERFLOW))


def map_error(error: OSError, filename: object = None) -> MmapIoError:
    """Wrap a failure to map memory: `ResizeFailedError` when the size is what failed
    (see `_SIZE_ERRNOS`), plain `MmapIoError` otherwise; both keep the OSError subclass."""
    kind = ResizeFailedError if error.errno in _SIZE_ERRNOS else MmapIoError
    return os_error(kind, error, filename)


def type_error(message: str) -> MmapIoError:
    """A wrong argument type: both `MmapIoError` and `TypeError`."""
    return combined(MmapIoError, TypeError)(message)


def value_error(message: str) -> MmapIoError:
    """A wrong argument value that has no more specific error: also `ValueError`."""
    return combined(MmapIoError, ValueError)(message)


def overflow_error(message: str) -> MmapIoError:
    """A value too large or negative for where it goes: also `OverflowError`."""
    return combined(MmapIoError, OverflowError)(message)


def released_error() -> MmapIoError:
    """Use of a released atomic view: also `ValueError`, as for a closed mapping."""
    return combined(MmapIoError, ValueError)("operation on a released atomic view")


def closed_error() -> MmapIoError:
    """Use after close: also `ValueError`, as for closed files in the standard library."""
    return combined(MmapIoError, ValueError)("operation on a closed mapping")


def busy_error(kind: type[MmapIoError], action: str) -> MmapIoError:
    """A close or resize refused because views into the mapping are still alive.

    Also a `BufferError`, which is what the standard library's mmap raises in the
    same situation.
    """
    return combined(kind, BufferError)(
        f"cannot {action} while views into the mapping are alive; release them first "
        "(leave their `with` block or call .release()) and retry"
    )
