"""Making atomic views: checked cells of a region's memory, tracked for pending_bytes.

The public functions below are methods of every mapping (Region binds them).
"""

from __future__ import annotations

import mmap
import threading
from typing import Protocol

from . import _accounting
from ._args import as_index, check_range
from ._atomic import AtomicSliceView, AtomicView
from ._errors import MisalignedError


class Host(_accounting.Host, Protocol):
    """What atomics need of the region they live in (Region provides it)."""

    _state: threading.RLock
    _mm: mmap.mmap

    def _check_atomic_mode(self) -> None: ...
    def _atomic_written(self, offset: int, width: int) -> None: ...


def atomic_u64(self: Host, offset: int) -> AtomicView:
    """Return an atomic view of the unsigned 64-bit integer at `offset`.

    Args:
        offset: A multiple of 8.

    Returns:
        An `AtomicView` with `load`, `store`, `swap`, `compare_exchange` and the
        `fetch_*` operations. It keeps its memory mapped while it lives, like
        any view.

    Raises:
        InvalidModeError: The mapping is read-only or copy-on-write (checked first).
        MisalignedError: `offset` is not a multiple of 8 (checked before bounds).
        OutOfBoundsError: The 8 bytes pass the end of the mapping.
        TypeError: `offset` is not an int.

    Example:
        >>> with mm.atomic_u64(0) as counter:
        ...     counter.fetch_add(1)
        0
    """
    return view(self, offset, 8)


def atomic_u32(self: Host, offset: int) -> AtomicView:
    """Like `atomic_u64`, for the unsigned 32-bit integer at `offset` (a multiple of 4)."""
    return view(self, offset, 4)


def atomic_u64_slice(self: Host, offset: int, count: int) -> AtomicSliceView:
    """Return `count` consecutive atomic 64-bit cells from `offset`: a sequence of
    `AtomicView`s (len, indexing, iteration). `count` 0 gives an empty slice.

    Raises:
        InvalidModeError, MisalignedError, TypeError: As for `atomic_u64`.
        OutOfBoundsError: The cells pass the end (`.length` is count x 8).

    Example:
        >>> mm.atomic_u64_slice(64, 8)[3].fetch_add(1)
        0
    """
    return slice_view(self, offset, count, 8)


def atomic_u32_slice(self: Host, offset: int, count: int) -> AtomicSliceView:
    """Like `atomic_u64_slice`, for 32-bit cells (`offset` a multiple of 4)."""
    return slice_view(self, offset, count, 4)


def view(host: Host, offset: object, width: int) -> AtomicView:
    """One checked cell of `width` bytes at `offset`, tracked for pending_bytes."""
    with host._state:
        off, _ = _span(host, offset, 1, width)
        made = AtomicView(host, host._mm, off, width)
        _accounting.track_atomic(host, made)
        return made


def slice_view(host: Host, offset: object, count: object, width: int) -> AtomicSliceView:
    """`count` checked cells of `width` bytes from `offset`."""
    with host._state:
        off, n = _span(host, offset, count, width)
        return AtomicSliceView(host, host._mm, off, n // width, width, _accounting.track_atomic)


def _span(host: Host, offset: object, count: object, width: int) -> tuple[int, int]:
    """The cells' checked (offset, length), in the contract's order: open, mode, argument
    types, alignment, bounds (state lock held)."""
    host._check_atomic_mode()
    off = as_index(offset, "offset")
    n = as_index(count, "count")
    if off % width:
        raise MisalignedError(width, off)
    return check_range(off, n * width, len(host._mm))
