"""Atomic views: lock-free unsigned integer cells in mapped memory, shared across processes."""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, Self, final, overload

import atomicshm

from ._args import as_index
from ._enums import Ordering
from ._errors import overflow_error, released_error, type_error, value_error

Cell = atomicshm.AtomicU64 | atomicshm.AtomicU32


class Owner(Protocol):
    """The mapping a view reports its writes to."""

    def _atomic_written(self, offset: int, width: int) -> None: ...


_SEQ_CST = Ordering.SEQ_CST
_ORDERS = frozenset(Ordering)


@final
class AtomicView:
    """One aligned unsigned integer in a mapping (64 or 32 bits), read and written atomically.

    Get one from `atomic_u64(off)`, `atomic_u32(off)` or by indexing an atomic slice.
    Every operation is one lock-free instruction on the shared page (through
    atomicshm), so it is atomic with respect to every thread of every process that
    maps the same bytes. Values are unsigned and native-endian; `fetch_*` wrap around.

    While the view is alive it keeps its memory mapped, even past `close()` of the
    mapping, and a shrinking `resize()` waits for it; leave its `with` block or call
    `release()` to let go.

    Writes count in the mapping's `pending_bytes`: each cell written since the last
    flush counts its width once, however many operations (or views) wrote it; see
    docs/decisions.md.

    Example:
        >>> with mm.atomic_u64(0) as hits:
        ...     hits.fetch_add(1)
        ...     hits.load()
        0
        1
    """

    # _dirty is set after every successful write (one store: the hot path can afford
    # no more); the mapping turns it into pending bytes when it settles its views.
    __slots__ = ("__weakref__", "_cell", "_dirty", "_limit", "_offset", "_region")

    def __init__(self, owner: Owner, mm: mmap.mmap, offset: int, width: int) -> None:
        """Wrap the `width` (8 or 4) bytes at `offset` of `mm` (already checked)."""
        self._dirty = False  # first: __del__ reads it even if the rest fails
        self._region = owner
        self._offset = offset
        self._limit = (1 << (8 * width)) - 1
        # The native view exports the mmap object itself, which keeps the memory mapped
        # while this object lives. Not a memoryview: the cycle collector may clear a
        # memoryview that still has exports, and the memory could then be unmapped
        # under the cell (an mmap object is never cleared while exported).
        native = atomicshm.AtomicView(mm)
        self._cell: Cell = native.cell_u64(offset) if width == 8 else native.cell_u32(offset)

    # -- reads and writes ----------------------------------------------------------
    # Each method calls the cell directly and translates failures only once they have
    # happened (try costs nothing until it catches): these are the hot paths.

    def load(self, order: Ordering = _SEQ_CST) -> int:
        """Read the value.

        Args:
            order: The memory ordering (RELEASE and ACQ_REL mean SEQ_CST for a load).

        Returns:
            The current value.

        Raises:
            MmapIoError: The view was released (also a ValueError).

        Example:
            >>> counter.load(order=Ordering.ACQUIRE)
            41
        """
        try:
            return self._cell.load(order)
        except Exception as error:
            return self._redo(error, "load", order)  # type: ignore[no-any-return]

    def store(self, value: int, order: Ordering = _SEQ_CST) -> None:
        """Write `value`.

        Args:
            value: An int in [0, 2**bits).
            order: The memory ordering (ACQUIRE and ACQ_REL mean SEQ_CST for a store).

        Raises:
            OverflowError: `value` is negative or too large; nothing is written.
            TypeError: `value` is not an int (bool and float included).
            MmapIoError: The view was released (also a ValueError). The errors above
                are MmapIoErrors too.

        Example:
            >>> counter.store(0, order=Ordering.RELEASE)
        """
        if type(value) is not int or not 0 <= value <= self._limit:
            value = self._checked(value)
        try:
            self._cell.store(value, order)
        except Exception as error:
            self._redo(error, "store", value, order)
        self._dirty = True

    def swap(self, value: int, order: Ordering = _SEQ_CST) -> int:
        """Write `value` and return the value it replaced, in one step.

        Raises:
            OverflowError, TypeError, MmapIoError: As for `store`.

        Example:
            >>> flag.swap(0)  # take the flag, learning whether it was set
            1
        """
        if type(value) is not int or not 0 <= value <= self._limit:
            value = self._checked(value)
        try:
            previous = self._cell.exchange(value, order)
        except Exception as error:
            previous = self._redo(error, "exchange", value, order)
        self._dirty = True
        return previous

    def compare_exchange(
        self, expected: int, desired: int, order: Ordering = _SEQ_CST
    ) -> tuple[bool, int]:
        """Write `desired` only if the value is `expected`, in one step.

        Args:
            expected: The value the cell must hold for the write to happen.
            desired: The value to write.
            order: The memory ordering of a successful exchange; a failed one reads
                with the strongest ordering that fits a read.

        Returns:
            `(succeeded, previous)`: whether `desired` was written, and the value the
            cell held just before (equal to `expected` exactly when it succeeded).

        Raises:
            OverflowError, TypeError, MmapIoError: As for `store`, for either value.

        Example:
            >>> lock.compare_exchange(0, 1)  # try to take a spin lock
            (True, 0)
        """
        limit = self._limit
        if (
            type(expected) is not int
            or type(desired) is not int
            or not 0 <= expected <= limit
            or not 0 <= desired <= limit
        ):
            expected, desired = self._checked(expected), self._checked(desired)
        try:
            previous = self._cell.cas(expected, desired, order)
        except Exception as error:
            previous = self._redo(error, "cas", expected, desired, order)
        if previous == expected:
            self._dirty = True
            return True, previous
        return False, previous

    # The five fetch_* methods differ only in the cell method they call; each calls
    # it by name because a shared helper would add a call to the hot path. Their
    # operands are not range-checked in Python (that would cost more than the atomic
    # instruction): a negative one is taken modulo 2**bits, as the result is.

    def fetch_add(self, value: int, order: Ordering = _SEQ_CST) -> int:
        """Add `value` (wrapping around at 2**bits) and return the previous value.

        Args:
            value: The addend; a negative one subtracts (it is taken modulo 2**bits).
            order: The memory ordering.

        Returns:
            The value before the addition.

        Raises:
            OverflowError: `value` does not fit in 64 (32) bits, signed or unsigned.
            TypeError: `value` is not an int.
            MmapIoError: The view was released (also a ValueError).

        Example:
            >>> ticket = counter.fetch_add(1)
        """
        try:
            previous = self._cell.fetch_add(value, order)
        except Exception as error:
            previous = self._redo(error, "fetch_add", value, order)
        self._dirty = True
        return previous

    def fetch_sub(self, value: int, order: Ordering = _SEQ_CST) -> int:
        """Subtract `value` (wrapping around below 0) and return the previous value.

        Raises:
            OverflowError, TypeError, MmapIoError: As for `fetch_add`.
        """
        try:
            previous = self._cell.fetch_sub(value, order)
        except Exception as error:
            previous = self._redo(error, "fetch_sub", value, order)
        self._dirty = True
        return previous

    def fetch_and(self, value: int, order: Ordering = _SEQ_CST) -> int:
        """Bitwise-and `value` into the cell and return the previous value.

        Raises:
            OverflowError, TypeError, MmapIoError: As for `fetch_add`.
        """
        try:
            previous = self._cell.fetch_and(value, order)
        except Exception as error:
            previous = self._redo(error, "fetch_and", value, order)
        self._dirty = True
        return previous

    def fetch_or(self, value: int, order: Ordering = _SEQ_CST) -> int:
        """Bitwise-or `value` into the cell and return the previous value.

        Raises:
            OverflowError, TypeError, MmapIoError: As for `fetch_add`.
        """
        try:
            previous = self._cell.fetch_or(value, order)
        except Exception as error:
            previous = self._redo(error, "fetch_or", value, order)
        self._dirty = True
        return previous

    def fetch_xor(self, value: int, order: Ordering = _SEQ_CST) -> int:
        """Bitwise-xor `value` into the cell and return the previous value.

        Raises:
            OverflowError, TypeError, MmapIoError: As for `fetch_add`.
        """
        try:
            previous = self._cell.fetch_xor(value, order)
        except Exception as error:
            previous = self._redo(error, "fetch_xor", value, order)
        self._dirty = True
        return previous

    # -- lifetime and introspection ------------------------------------------------

    def release(self) -> None:
        """Let go of the mapping's memory; later operations raise. Releasing twice is allowed."""
        self._hand_in()
        self._cell.view.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def __del__(self) -> None:
        self._hand_in()  # a view dropped without release() still reports its write

    @property
    def offset(self) -> int:
        """The cell's byte offset in the mapping."""
        return self._offset

    @property
    def nbytes(self) -> int:
        """The cell's width in bytes: 8 or 4."""
        return self._cell.nbytes

    def __repr__(self) -> str:
        state = " released" if self._cell.view.closed else ""
        return f"<AtomicView u{8 * self._cell.nbytes} at offset {self._offset}{state}>"

    # -- slow paths ----------------------------------------------------------------

    def _hand_in(self) -> None:
        """Report a write made since the last report to the mapping's accounting."""
        if self._dirty:
            self._dirty = False
            self._region._atomic_written(self._offset, self._cell.nbytes)

    def _checked(self, value: object) -> int:
        """`value` as an int that fits the cell; anything else raises."""
        n = as_index(value, "value")
        if not 0 <= n <= self._limit:
            bits = self._limit.bit_length()
            raise overflow_error(f"{n} does not fit in an unsigned {bits}-bit cell")
        return n

    def _redo(self, error: Exception, op: str, *args: Any) -> Any:
        """Explain a failed native call in the library's terms, or redo it where it can work."""
        cell = self._cell
        if cell.view.closed:
            raise released_error() from None
        *values, order = args
        if not isinstance(order, int):
            raise type_error(f"order must be an Ordering, not {type(order).__name__}") from None
        if isinstance(error, ValueError) and order in _ORDERS:
            # An ordering this operation has no use for (a RELEASE load, an ACQUIRE
            # store) is strengthened to SEQ_CST, the fallback GCC's __atomic builtins use.
            return getattr(cell, op)(*values, _SEQ_CST)
        if isinstance(error, ValueError):
            raise value_error(f"order must be an Ordering, not {order!r}") from None
        if isinstance(error, OverflowError):
            bits = self._limit.bit_length()
            raise overflow_error(f"{op}: {values[-1]} does not fit in {bits} bits") from None
        if isinstance(error, TypeError):
            ints = [as_index(value, "value") for value in values]  # numpy ints and the like
            return getattr(cell, op)(*ints, order)
        raise error


@final
class AtomicSliceView(Sequence[AtomicView]):
    """`count` consecutive atomic cells: a sequence of `AtomicView`s.

    Indexing (negative indexes included) and iteration hand out one view per cell,
    made on first use and kept; the slice holds the memory while it lives, and
    `release()` (or leaving its `with` block) releases it and every view it made.

    Example:
        >>> with mm.atomic_u32_slice(0, 4) as slots:
        ...     slots[-1].fetch_add(1)
        ...     [slot.load() for slot in slots]
        0
        [0, 0, 0, 1]
    """

    __slots__ = ("_count", "_made", "_mm", "_native", "_offset", "_region", "_track", "_width")

    def __init__(
        self,
        owner: Owner,
        mm: mmap.mmap,
        offset: int,
        count: int,
        width: int,
        track: Callable[[Any, AtomicView], None],
    ) -> None:
        """Cover `count` cells of `width` bytes from `offset` of `mm` (already checked)."""
        self._region = owner
        self._native = atomicshm.AtomicView(mm)  # keeps the memory mapped (see AtomicView)
        self._mm: mmap.mmap | None = mm
        self._offset = offset
        self._width = width
        self._count = count
        self._track = track
        self._made: dict[int, AtomicView] = {}

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> AtomicView: ...

    @overload
    def __getitem__(self, index: slice) -> list[AtomicView]: ...

    def __getitem__(self, index: int | slice) -> AtomicView | list[AtomicView]:
        """The view of one cell, or a list of views for a slice of indexes.

        Raises:
            IndexError: The index is out of range.
            TypeError: The index is not an int or a slice.
            MmapIoError: The slice view was released (also a ValueError).
        """
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._count))]
        i = as_index(index, "index")
        if i < 0:
            i += self._count
        view = self._made.get(i)
        if view is None:
            if not 0 <= i < self._count:
                raise IndexError(f"index {index} out of range for {self._count} atomic cells")
            if self._mm is None:
                raise released_error()
            width = self._width
            view = AtomicView(self._region, self._mm, self._offset + i * width, width)
            self._track(self._region, view)
            self._made[i] = view
        return view

    def __iter__(self) -> Iterator[AtomicView]:
        for index in range(self._count):
            yield self[index]

    def release(self) -> None:
        """Release every view made from this slice and the slice's hold on the memory."""
        for view in self._made.values():
            view.release()
        self._made.clear()
        self._mm = None
        self._native.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    @property
    def offset(self) -> int:
        """The byte offset of the first cell in the mapping."""
        return self._offset

    def __repr__(self) -> str:
        return f"<AtomicSliceView {self._count} x u{8 * self._width} at offset {self._offset}>"


AtomicView.__module__ = "mmap_io"
AtomicSliceView.__module__ = "mmap_io"
