"""The mapping's side of atomics: checked atomic views, and their writes in pending_bytes."""

from __future__ import annotations

import mmap
import threading
import weakref
from typing import TYPE_CHECKING, ClassVar

from ._args import as_index, check_range
from ._atomic import AtomicSliceView, AtomicView
from ._errors import MisalignedError

# The registry of live atomic views is pruned of dead entries once it has grown to
# twice its last live size (and at every settle), so it never grows without bound.
_PRUNE_AT = 64


class AtomicAccess:
    """Atomic views into a mapping's memory; mixed into Region, whose state it uses."""

    __slots__ = ("_atomic_views", "_prune_at", "_written_cells")

    # Whether atomic writes count in pending_bytes (memory with no file never flushes).
    _COUNTS_WRITES: ClassVar[bool] = True

    if TYPE_CHECKING:
        _state: threading.RLock
        _mm: mmap.mmap
        _rw: memoryview | None

        def _check_writable(self) -> None: ...
        def _note_write(self, n: int) -> None: ...

    def __init__(self) -> None:
        self._atomic_views: list[weakref.ref[AtomicView]] = []
        self._prune_at = _PRUNE_AT
        # (offset, width) of the cells counted since the last flush.
        self._written_cells: set[tuple[int, int]] = set()

    def atomic_u64(self, offset: int) -> AtomicView:
        """Return an atomic view of the unsigned 64-bit integer at `offset`.

        Args:
            offset: A multiple of 8.

        Returns:
            An `AtomicView` with `load`, `store`, `swap`, `compare_exchange` and the
            `fetch_*` operations. It holds the memory: close and resize refuse while
            it lives.

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
        buffer, off = self._atomic_span(offset, 1, 8)
        return AtomicView(self, buffer, off)

    def atomic_u32(self, offset: int) -> AtomicView:
        """Return an atomic view of the unsigned 32-bit integer at `offset` (a multiple of 4).

        Raises:
            InvalidModeError, MisalignedError, OutOfBoundsError, TypeError: As for
                `atomic_u64`, with an alignment of 4.

        Example:
            >>> mm.atomic_u32(4).store(7)
        """
        buffer, off = self._atomic_span(offset, 1, 4)
        return AtomicView(self, buffer, off)

    def atomic_u64_slice(self, offset: int, count: int) -> AtomicSliceView:
        """Return `count` consecutive atomic 64-bit cells starting at `offset`.

        Args:
            offset: A multiple of 8.
            count: The number of cells; 0 gives an empty slice.

        Returns:
            An `AtomicSliceView`: a sequence of `AtomicView`s (len, indexing,
            iteration).

        Raises:
            InvalidModeError: The mapping is read-only or copy-on-write.
            MisalignedError: `offset` is not a multiple of 8.
            OutOfBoundsError: The cells pass the end (`.length` is count x 8).
            TypeError: `offset` or `count` is not an int.

        Example:
            >>> slots = mm.atomic_u64_slice(64, 8)
            >>> slots[3].fetch_add(1)
            0
        """
        span, off = self._atomic_span(offset, count, 8)
        return AtomicSliceView(self, span, off, 8)

    def atomic_u32_slice(self, offset: int, count: int) -> AtomicSliceView:
        """Return `count` consecutive atomic 32-bit cells starting at `offset` (a multiple of 4).

        Raises:
            InvalidModeError, MisalignedError, OutOfBoundsError, TypeError: As for
                `atomic_u64_slice`, with a width and alignment of 4.

        Example:
            >>> flags = mm.atomic_u32_slice(0, 16)
        """
        span, off = self._atomic_span(offset, count, 4)
        return AtomicSliceView(self, span, off, 4)

    def _check_atomic_mode(self) -> None:
        """Refuse mappings an atomic write could fault on (read-only) or not share."""
        self._check_writable()

    def _atomic_span(self, offset: object, count: object, width: int) -> tuple[memoryview, int]:
        """Cut `count` cells of `width` bytes at `offset` from the writable root view.

        Checked in the contract's order: open, mode, argument types, alignment, bounds.
        """
        with self._state:
            self._check_atomic_mode()
            off = as_index(offset, "offset")
            n = as_index(count, "count")
            if off % width:
                raise MisalignedError(width, off)
            off, length = check_range(off, n * width, len(self._mm))
            rw = self._rw
            assert rw is not None
            return rw[off : off + length], off

    # -- write accounting ----------------------------------------------------------

    def _track_atomic(self, view: AtomicView) -> None:
        """Register a new view so settling finds its writes while it lives."""
        if not self._COUNTS_WRITES:
            return
        with self._state:
            views = self._atomic_views
            views.append(weakref.ref(view))
            if len(views) >= self._prune_at:
                self._settle_atomics()
                self._prune_at = max(_PRUNE_AT, 2 * len(self._atomic_views))

    def _settle_atomics(self) -> None:
        """Count the views written since the last settle; forget dead ones (state lock held)."""
        live = []
        for ref in self._atomic_views:
            view = ref()
            if view is not None:
                live.append(ref)
                view._hand_in()
        self._atomic_views = live

    def _atomics_written(self) -> bool:
        """Whether a live view wrote since it was last settled (lock-free: a snapshot)."""
        for ref in tuple(self._atomic_views):  # a copy: settling may swap the list
            view = ref()
            if view is not None and view._dirty:
                return True
        return False

    def _atomic_written(self, offset: int, width: int) -> None:
        """Count a written cell, once until the next flush; the policy reacts at the next settle.

        Also called from a view's `__del__`, so it takes no lock and never flushes; the
        GIL keeps the set and counter updates whole, as on the hot paths.
        """
        cell = (offset, width)
        if self._COUNTS_WRITES and cell not in self._written_cells:
            self._written_cells.add(cell)
            self._note_write(width)
