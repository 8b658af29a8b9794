"""Mapped bytes behind the hot paths: reads, writes and views, shared by file and anonymous maps.

Lifetime model (see _memory.py): views hold their memory, so close and growth never
wait for them or refuse; only a shrink waits for them.

Speed model. The hot paths (`update_region`, `read_into`, `as_slice`) do one inline
type-and-sign check, then let the stdlib slice do the bounds check in C. Anything
unusual (a closed mapping, a wrong mode, a numpy offset, a range past the end) makes
that one C call fail, and only then does a slow path take the state lock and explain
precisely what was wrong. try blocks cost nothing on 3.11+ until they catch.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
import threading
import weakref
from collections.abc import Callable
from typing import Any, Self

from . import _accounting, _arrays, _atomic_access, _chunks, _lifetime, _memory, _os
from ._address import buffer_address
from ._args import OFFSET_LIMIT, byte_view, check_range, writable_byte_view
from ._atomic import AtomicView
from ._errors import InvalidModeError, closed_error
from ._hints import ResidencyHints
from ._policy import NEVER_TRIPS

# read_into copies through a cached struct for up to this many bytes (two small
# copies beat building a memoryview of the destination); larger reads copy once.
_SMALL_READ = 4096
_PACKERS: dict[int, Callable[[Any, int, bytes], None]] = {}
_SETTLE_AT = _accounting.SETTLE_AT  # mutable views between settles
# Stands in for the mmap once the region is closed: every use of it raises, which
# sends the hot paths to their slow paths, which report the closed error.
_CLOSED = mmap.mmap(-1, 1)
_CLOSED.close()

Buffer = Any  # anything with the buffer protocol (collections.abc.Buffer is 3.12+)


class Region:
    """The bytes of one mapping and the views into them."""

    __slots__ = (
        "__weakref__",
        "_address",
        "_atomic_views",
        "_closed",
        "_hints",
        "_mm",
        "_mut_views",
        "_path",
        "_pending",
        "_pins",
        "_prune_at",
        "_resizing",
        "_retired",
        "_ro",
        "_rw",
        "_state",
        "_threshold",
        "_unpinned",
        "_writes",
        "_written_cells",
    )

    # Whether atomic writes count in pending_bytes (memory with no file never flushes).
    _COUNTS_WRITES = True

    def __init__(self, mm: mmap.mmap) -> None:
        self._state = threading.RLock()
        self._unpinned = threading.Condition(self._state)
        self._pins = 0
        self._resizing = False
        self._closed = False
        self._retired: list[weakref.ref[mmap.mmap]] = []  # older maps views still hold
        self._pending = 0
        self._writes = 0
        self._threshold = NEVER_TRIPS
        self._mut_views: list[tuple[weakref.ref[Any], int]] = []
        self._atomic_views: list[weakref.ref[AtomicView]] = []
        self._prune_at = _accounting.PRUNE_AT
        self._written_cells: set[tuple[int, int]] = set()  # atomic (offset, width) counted
        self._hints = ResidencyHints()
        self._path: Any = None  # for error messages; a file mapping sets it
        self._attach(mm)
        _lifetime.track(self)

    # -- lifecycle -----------------------------------------------------------------

    def _attach(self, mm: mmap.mmap) -> None:
        """Make `mm` the live mapping and cut fresh root views from it."""
        self._mm = mm
        whole = memoryview(mm)
        self._rw: memoryview | None = None if whole.readonly else whole
        self._ro = whole.toreadonly()
        self._address = buffer_address(mm)

    def _detach(self) -> None:
        """Release the root views: the fast paths that cut views fall to the slow ones."""
        self._ro.release()
        if self._rw is not None:
            self._rw.release()

    def close(self) -> None:
        """Close the mapping at once. Closing twice is allowed.

        Never refused and never waits for views: memory that views still point into
        stays mapped until the last of them is released, and every method of the
        mapping raises the closed error from now on.
        """
        with self._state:
            if not self._closed:
                self._settle_views()
                self._shut()

    def _shut(self) -> None:
        """Mark closed and retire the memory (state lock held)."""
        self._closed = True
        _memory.retire(self)
        self._mm = _CLOSED

    @property
    def closed(self) -> bool:
        """True once the mapping has been closed."""
        return self._closed

    def __enter__(self) -> Self:
        """Return the mapping itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the mapping (see close)."""
        self.close()

    def __len__(self) -> int:
        """The mapping's current length in bytes."""
        try:
            return len(self._mm)
        except ValueError:  # the closed stand-in
            raise closed_error() from None

    @property
    def address(self) -> int:
        """The start address of the mapped memory, for ctypes and other FFI.

        The address changes when the mapping is resized and is meaningless once it is
        closed; do not keep it across either.
        """
        self._check_open()
        return self._address

    def _check_open(self) -> None:
        if self._closed:
            raise closed_error()

    def _check_writable(self) -> None:
        if self._closed:
            raise closed_error()
        if self._rw is None:
            raise InvalidModeError("the mapping is read-only")

    def _pinned(self) -> _memory.Pin:
        """Pin the current memory for a blocking call (see _memory.py)."""
        return _memory.pin(self)

    def _after_fork(self) -> None:
        """In a forked child: locks fresh, no pin or shrink of a parent thread pending, and
        root views cut afresh (a shrink waiting for views had released them)."""
        self._state = threading.RLock()
        self._unpinned = threading.Condition(self._state)
        self._pins = 0
        self._resizing = False
        if not self._closed and not self._mm.closed:
            self._attach(self._mm)

    def is_hugepage_backed(self) -> bool | None:
        """Whether huge pages (transparent or hugetlbfs) back any part of the mapping now:
        a snapshot from /proc/self/smaps; None where the platform cannot tell.

        Raises:
            MmapIoError: The mapping is closed (also a ValueError).
        """
        with self._pinned() as pin:
            try:
                return _os.hugepage_backed(pin.address, pin.size)
            except OSError:
                return None

    def _advise_huge_pages(self) -> None:
        """Ask for transparent huge pages over the whole mapping; a refusal is ignored."""
        with contextlib.suppress(OSError):  # kernels without THP answer EINVAL: fine
            _os.advise_hugepages(self._address, len(self._mm))

    # -- hot paths -----------------------------------------------------------------

    def update_region(self, offset: int, data: Buffer) -> None:
        """Copy `data` into the mapping at `offset`.

        The bytes are visible to every other mapping of the file at once; they are
        durable after a flush (or as the flush policy decides).

        Args:
            offset: Where the first byte goes.
            data: Any bytes-like object.

        Raises:
            InvalidModeError: The mapping is read-only.
            OutOfBoundsError: The data would pass the end of the mapping.
            TypeError: `offset` is not an int, or `data` is not bytes-like.
            FlushFailedError: The flush policy flushed and the flush failed (the bytes
                are written).

        Example:
            >>> mm.update_region(0, b"hello")
        """
        if type(offset) is int and offset >= 0:
            try:
                n = len(data)
                self._mm[offset : offset + n] = data
            except Exception:
                return self._update_region_slow(offset, data)
            if n:
                pending = self._pending + n
                self._pending = pending
                if pending >= self._threshold:
                    self._policy_hit(n)
            elif offset >= OFFSET_LIMIT:  # an empty write is fine anywhere below 2**64
                self._update_region_slow(offset, data)
        else:
            self._update_region_slow(offset, data)

    def _update_region_slow(self, offset: object, data: Buffer) -> None:
        if self._write(offset, data):
            self._maybe_flush()

    def _write(self, offset: object, data: Buffer) -> int:
        """Copy `data` in and count it as pending, without consulting the policy.

        The write step of a durable write, which flushes right after anyway.
        """
        with self._state:
            self._check_writable()
            view = byte_view(data)
            off, n = check_range(offset, view.nbytes, len(self._mm))
            if n:
                self._mm[off : off + n] = view
                self._note_write(n)
        return n

    def read_into(self, offset: int, buf: Buffer) -> None:
        """Fill all of `buf` with the mapping's bytes starting at `offset`.

        Args:
            offset: Where to start reading.
            buf: A writable buffer (bytearray, memoryview, array, numpy array); its size
                in bytes is the number of bytes read.

        Raises:
            OutOfBoundsError: The read would pass the end; `buf` is left untouched.
            TypeError: `offset` is not an int, or `buf` is not a writable buffer.

        Example:
            >>> buf = bytearray(5)
            >>> mm.read_into(0, buf)
        """
        if type(offset) is int and offset >= 0 and type(buf) is bytearray:
            n = len(buf)
            try:
                if n <= _SMALL_READ:
                    pack = _PACKERS[n]  # KeyError the first time a size is seen
                    chunk = self._mm[offset : offset + n]
                    if len(chunk) == n:
                        pack(buf, 0, chunk)
                        return
                else:
                    # One copy, no lock: the slice is an export, so the memory stays
                    # mapped under it whatever close or resize do meanwhile.
                    view = self._ro[offset : offset + n]
                    if len(view) == n:
                        memoryview(buf)[:] = view
                        view.release()
                        return
                    view.release()  # out of range: let the slow path explain, unpinned
            except Exception:
                pass
        self._read_into_slow(offset, buf)

    def _read_into_slow(self, offset: object, buf: Buffer) -> None:
        dest = writable_byte_view(buf)
        n = dest.nbytes
        with self._state:
            self._check_open()
            off, n = check_range(offset, n, len(self._mm))
            if n == 0:
                return
            if n <= _SMALL_READ and type(buf) is bytearray:
                _PACKERS.setdefault(n, struct.Struct(f"{n}s").pack_into)
            dest[:] = self._mm[off : off + n]

    def read_bytes(self, offset: int, length: int) -> bytes:
        """Return a copy of `length` bytes starting at `offset`.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        if type(offset) is int and type(length) is int and offset >= 0 and length > 0:
            try:
                data = self._mm[offset : offset + length]
                if len(data) == length:
                    return data
            except Exception:
                pass
        with self._state:
            self._check_open()
            off, n = check_range(offset, length, len(self._mm))
            return self._mm[off : off + n] if n else b""

    def as_slice(self, offset: int, length: int) -> memoryview:
        """Return a read-only zero-copy view of `length` bytes at `offset`.

        The view is a `memoryview`: it supports `len`, `==` against bytes, slicing,
        `bytes(view)` (a copy) and `with` (which releases it). It keeps its memory
        mapped for as long as it lives, even past `close()`; a shrinking resize waits
        for it (and is refused if it stays).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.

        Example:
            >>> with mm.as_slice(0, 5) as view:
            ...     bytes(view)
            b'hello'
        """
        if type(offset) is int and type(length) is int and offset >= 0 and length > 0:
            try:
                view = self._ro[offset : offset + length]
            except ValueError:  # root released by a concurrent close or resize
                return self._as_slice_slow(offset, length, writable=False)
            if len(view) == length:
                return view
            view.release()
        return self._as_slice_slow(offset, length, writable=False)

    def as_slice_mut(self, offset: int, length: int) -> memoryview:
        """Return a writable zero-copy view of `length` bytes at `offset`.

        Writes through the view land in the mapping directly. They are counted as
        pending bytes once the view is released or garbage-collected, at the
        mapping's next flush, pending_bytes read, resize or close.

        Raises:
            InvalidModeError: The mapping is read-only (checked before the range).
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.

        Example:
            >>> with mm.as_slice_mut(0, 5) as view:
            ...     view[:] = b"HELLO"
        """
        if len(self._mut_views) >= _SETTLE_AT:
            _accounting.settle_due(self)
        rw = self._rw
        if (
            rw is not None
            and type(offset) is int
            and type(length) is int
            and offset >= 0
            and length > 0
        ):
            try:
                view = rw[offset : offset + length]
            except ValueError:
                return self._as_slice_slow(offset, length, writable=True)
            if len(view) == length:
                _accounting.register(self, view, length)
                return view
            view.release()
        return self._as_slice_slow(offset, length, writable=True)

    def _as_slice_slow(self, offset: object, length: object, *, writable: bool) -> memoryview:
        with self._state:
            if writable:
                self._check_writable()
            else:
                self._check_open()
            off, n = check_range(offset, length, len(self._mm))
            root = self._rw if writable else self._ro
            assert root is not None
            if n == 0:
                return root[0:0]
            view = root[off : off + n]
            if writable:
                _accounting.register(self, view, n)
            return view

    # -- write accounting (views and atomics: see _accounting.py) ------------------

    _settle_views = _accounting.settle  # count views released since (state lock held)
    _has_pending = _accounting.has_pending  # whether a write may await a flush (no lock)
    _atomic_written = _accounting.count_cell  # a written atomic cell, once per flush

    def _note_write(self, n: int) -> None:
        """Count one write of `n` bytes without consulting the policy (callers do, later)."""
        self._pending += n
        self._writes += 1

    def _count_write(self, n: int) -> None:
        """Account one accepted write of `n` bytes and let the policy react."""
        if n:
            pending = self._pending + n
            self._pending = pending
            if pending >= self._threshold:
                self._policy_hit(n)

    def _policy_hit(self, n: int) -> None:
        """A write crossed the policy's byte threshold: count it and let the policy decide."""
        if n:  # an empty write is not a write, even when pending already sits at the threshold
            self._writes += 1
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        """Flush if the policy says so. Memory with no file behind it never flushes."""

    # -- atomic views, chunk iterators and arrays: made by their own modules --------

    as_array = _arrays.as_array
    atomic_u64 = _atomic_access.atomic_u64
    atomic_u32 = _atomic_access.atomic_u32
    atomic_u64_slice = _atomic_access.atomic_u64_slice
    atomic_u32_slice = _atomic_access.atomic_u32_slice
    chunks = _chunks.chunks
    chunks_owned = _chunks.chunks_owned
    pages = _chunks.pages
    pages_owned = _chunks.pages_owned
    chunks_mut = _chunks.chunks_mut

    # -- atomics -------------------------------------------------------------------

    def _check_atomic_mode(self) -> None:
        """Refuse mappings an atomic write could fault on (read-only) or not share."""
        self._check_writable()
