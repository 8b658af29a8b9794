"""Argument checks shared by every API: ints, ranges, sizes, buffers and paths.

The hot paths do their own inline checks for the common case and call these only to
handle everything else, so these favour clear messages over speed.
"""

from __future__ import annotations

import operator
import os
from typing import Any

from ._errors import OutOfBoundsError, ResizeFailedError, type_error

# Offsets are u64 in the spec: a zero-length range is fine anywhere below this.
OFFSET_LIMIT = 1 << 64

StrPath = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def as_index(value: object, name: str) -> int:
    """Return `value` as an int; bool, float, None, str and bytes raise TypeError."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise type_error(f"{name} must be an int, not {type(value).__name__}")
    return operator.index(value)  # type: ignore[arg-type]


def check_range(offset: object, length: object, total: int) -> tuple[int, int]:
    """Validate `[offset, offset + length)` against a mapping of `total` bytes.

    A zero-length range is accepted at any offset in [0, 2**64), like an empty slice.

    Raises:
        TypeError: offset or length is not an int.
        OutOfBoundsError: negative numbers, or a range that passes the end.
    """
    off = as_index(offset, "offset")
    n = as_index(length, "length")
    if off < 0 or n < 0 or off >= OFFSET_LIMIT or (n and off + n > total):
        raise OutOfBoundsError(off, n, total)
    return off, n


def check_size(size: object, limit: int, name: str = "size") -> int:
    """A mapping size: an int in [1, limit]; anything else raises ResizeFailedError."""
    n = as_index(size, name)
    if n <= 0:
        raise ResizeFailedError(f"{name} must be greater than zero, got {n}")
    if n > limit:
        raise ResizeFailedError(f"{name} {n} is larger than this platform can map ({limit})")
    return n


def byte_view(data: object) -> memoryview:
    """A flat read-only byte view of any buffer (bytes, bytearray, array, numpy...)."""
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise type_error(f"data must be a bytes-like object, not {type(data).__name__}") from None
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def writable_byte_view(buf: object) -> memoryview:
    """A flat writable byte view of `buf`; read-only or non-contiguous buffers raise TypeError."""
    try:
        view = memoryview(buf)  # type: ignore[arg-type]
    except TypeError:
        raise type_error(f"buf must be a writable buffer, not {type(buf).__name__}") from None
    if view.readonly:
        raise type_error(f"buf must be a writable buffer; this {type(buf).__name__} is read-only")
    if not view.c_contiguous:
        raise type_error("buf must be C-contiguous")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def check_path(path: Any) -> str | bytes:
    """Return the file-system form of a path; a wrong type raises TypeError."""
    try:
        return os.fspath(path)  # type: ignore[no-any-return]
    except TypeError:
        raise type_error(
            f"path must be str, bytes or os.PathLike, not {type(path).__name__}"
        ) from None
