"""numpy arrays over a mapping: views like any other, made without copying.

The function below is a method of every mapping (Region binds it). numpy is an
optional extra (`pip install 'mmap-io[numpy]'`), imported on the first call only.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any, Protocol

from . import _accounting
from ._args import as_index, check_range
from ._errors import MmapIoError, combined, type_error, value_error

if TYPE_CHECKING:
    import numpy as np

INSTALL_HINT = "pip install 'mmap-io[numpy]'"


class Host(_accounting.Host, Protocol):
    """What an array needs of the region it looks into (Region provides it)."""

    _state: threading.RLock
    _rw: memoryview | None
    _ro: memoryview

    def __len__(self) -> int: ...
    def _check_open(self) -> None: ...
    def _check_writable(self) -> None: ...


def as_array(
    self: Host,
    dtype: Any,
    shape: int | tuple[int, ...] | None = None,
    offset: int = 0,
    writable: bool = False,
) -> np.ndarray[Any, Any]:
    """Return a numpy array over the mapping's bytes from `offset`, without copying.

    The array is a live view like `as_slice`: it keeps its memory mapped for as long
    as it (or any array cut from it) lives, even past `close()`, and a shrinking
    `resize()` waits for it. A writable array's writes land in the mapping; they count
    in `pending_bytes` (its full length) once the array has been garbage-collected.

    Args:
        dtype: Anything `numpy.dtype()` takes: `"<u4"`, `numpy.float64`, a structured
            dtype. Types that hold Python objects are refused.
        shape: An int or a tuple of ints; None means a 1-d array of as many items
            as fit between `offset` and the end.
        offset: The byte offset of the first item; any alignment works (numpy
            handles unaligned items, more slowly).
        writable: A writable array (the mapping must be writable); else read-only.

    Returns:
        A `numpy.ndarray` of `dtype` and `shape`.

    Raises:
        InvalidModeError: `writable=True` on a read-only mapping (checked first).
        OutOfBoundsError: The items pass the end of the mapping (`.length` is their
            size in bytes), or `offset` is negative.
        TypeError: `dtype` is not a dtype, a number is not an int, or `writable`
            is not a bool.
        ValueError: `dtype` holds Python objects or has no size, or a dimension of
            `shape` is negative.
        MmapIoError: numpy is not installed (also an ImportError), or the mapping
            is closed (also a ValueError).

    Example:
        >>> counts = mm.as_array("<u8", 16, offset=4096, writable=True)
        >>> counts[3] += 1
    """
    if not isinstance(writable, bool):
        raise type_error(f"writable must be a bool, not {type(writable).__name__}")
    if writable:
        self._check_writable()
    else:
        self._check_open()
    numpy = _numpy()
    kind = _dtype(numpy, dtype)
    start = as_index(offset, "offset")
    if writable:
        _accounting.settle_due(self)  # before the array exists (see settle_due)
    with self._state:  # a shrink under way holds it: the array is made after it
        if writable:
            self._check_writable()
        else:
            self._check_open()
        total = len(self)
        dims = (max(total - start, 0) // kind.itemsize,) if shape is None else _dims(shape)
        off, n = check_range(start, math.prod(dims) * kind.itemsize, total)
        root = self._rw if writable else self._ro
        assert root is not None
        array: np.ndarray[Any, Any]
        if n == 0:  # nothing to map; numpy refuses an empty buffer
            array = numpy.empty(dims, kind)
            array.flags.writeable = writable
            return array
        view = root[off : off + n]
        try:
            array = numpy.frombuffer(view, dtype=kind).reshape(dims)
        finally:
            view.release()  # numpy holds a view of its own on the same memory
        if writable:
            _accounting.register(self, array, n)
        return array


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as error:
        raise combined(MmapIoError, ImportError)(
            f"as_array needs the optional numpy package ({error}); install it with: {INSTALL_HINT}"
        ) from error
    return numpy


def _dtype(numpy: Any, dtype: Any) -> Any:
    """`dtype` as a numpy dtype of plain data with a size."""
    if dtype is None:  # numpy would take it as float64: say what you mean
        raise type_error("dtype must be given, not None")
    try:
        kind = numpy.dtype(dtype)
    except TypeError as error:
        raise type_error(f"dtype: {error}") from None
    if kind.hasobject:
        # An item would be a pointer read from the file: never valid, possibly a crash.
        raise value_error(f"dtype {kind} holds Python objects, which mapped bytes cannot")
    if kind.itemsize == 0:
        raise value_error(f"dtype {kind} has no size")
    return kind


def _dims(shape: object) -> tuple[int, ...]:
    """`shape` as a tuple of non-negative ints."""
    items = shape if isinstance(shape, tuple | list) else (shape,)
    dims = tuple(as_index(item, "shape") for item in items)
    if any(dim < 0 for dim in dims):
        raise value_error(f"shape must not have a negative dimension, got {dims}")
    return dims
