"""Mapped bytes behind the hot paths: reads, writes and views, shared by file and anonymous maps.

Safety model. The stdlib `mmap` object owns the memory. Every view handed out is a
`memoryview` sliced from one of two root views, so the mmap counts it as an export:
while any view is alive the stdlib itself refuses to unmap or resize (BufferError),
which this module turns into a clear MmapIoError. No code path can leave a view
pointing at unmapped memory.

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

from . import _os
from ._address import buffer_address
from ._args import OFFSET_LIMIT, as_index, byte_view, check_range, writable_byte_view
from ._atomic_access import AtomicAccess
from ._errors import InvalidModeError, MmapIoError, busy_error, closed_error, value_error
from ._policy import NEVER_TRIPS

# read_into copies through a cached struct for up to this many bytes (two small
# copies beat building a memoryview of the destination); larger reads copy once.
_SMALL_READ = 4096
_PACKERS: dict[int, Callable[[Any, int, bytes], None]] = {}
# Settle released mutable views once this many are registered, to bound the list.
_SETTLE_AT = 64

Buffer = Any  # anything with the buffer protocol (collections.abc.Buffer is 3.12+)


class Region(AtomicAccess):
    """The bytes of one mapping and the views into them (atomic views from AtomicAccess)."""

    __slots__ = (
        "__weakref__",
        "_address",
        "_closed",
        "_mm",
        "_mut_views",
        "_pending",
        "_ro",
        "_rw",
        "_state",
        "_threshold",
        "_writes",
    )

    def __init__(self, mm: mmap.mmap) -> None:
        super().__init__()
        self._state = threading.RLock()
        self._closed = False
        self._pending = 0
        self._writes = 0
        self._threshold = NEVER_TRIPS
        self._mut_views: list[tuple[weakref.ref[memoryview], int]] = []
        self._attach(mm)

    # -- lifecycle -----------------------------------------------------------------

    def _attach(self, mm: mmap.mmap) -> None:
        """Make `mm` the live mapping and cut fresh root views from it."""
        self._mm = mm
        whole = memoryview(mm)
        self._rw: memoryview | None = None if whole.readonly else whole
        self._ro = whole.toreadonly()
        self._address = buffer_address(mm)

    def _detach(self) -> None:
        """Release the root views so the stdlib can unmap or resize (views cut from them stay)."""
        self._ro.release()
        if self._rw is not None:
            self._rw.release()

    def _unmap(self) -> None:
        """Unmap (state lock held); refuse with a BufferError-flavoured error while views live."""
        self._detach()
        try:
            self._mm.close()
        except BufferError:
            self._attach(self._mm)
            raise busy_error(MmapIoError, "close the mapping") from None
        self._closed = True

    def close(self) -> None:
        """Unmap the memory. Closing twice is allowed.

        Raises:
            MmapIoError: Views into the mapping are still alive (also a BufferError);
                the mapping stays open and usable.
        """
        with self._state:
            if not self._closed:
                self._unmap()

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
        if self._closed:
            raise closed_error()
        return len(self._mm)

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

    def is_hugepage_backed(self) -> bool | None:
        """Whether huge pages back any part of the mapping right now.

        Read from /proc/self/smaps on Linux: transparent huge pages (anonymous, shmem
        or page cache) and hugetlbfs pages all count. The kernel may promote or split
        pages at any time, so this is a snapshot.

        Returns:
            True or False, or None where the platform cannot tell (not Linux, or
            /proc unreadable).

        Raises:
            MmapIoError: The mapping is closed (also a ValueError).

        Example:
            >>> mm.is_hugepage_backed() in (True, False, None)
            True
        """
        with self._state:
            self._check_open()
            try:
                return _os.hugepage_backed(self._address, len(self._mm))
            except OSError:
                return None

    def _advise_huge_pages(self) -> None:
        """Ask for transparent huge pages over the whole mapping; a refusal is ignored."""
        with contextlib.suppress(OSError):  # kernels without THP answer EINVAL: fine
            _os.advise_hugepages(self._address, len(self._mm))

    def _check_writable(self) -> None:
        if self._closed:
            raise closed_error()
        if self._rw is None:
            raise InvalidModeError("the mapping is read-only")

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
        with self._state:
            self._check_writable()
            view = byte_view(data)
            off, n = check_range(offset, view.nbytes, len(self._mm))
            if n:
                self._mm[off : off + n] = view
        self._count_write(n)

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
                    # One copy, no lock: the slice is an export, so the memory cannot be
                    # unmapped under it; a root released by close/resize raises instead.
                    view = self._ro[offset : offset + n]
                    if len(view) == n:
                        memoryview(buf)[:] = view
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
            dest[:] = self._ro[off : off + n]

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
        `bytes(view)` (a copy) and `with` (which releases it). While it is alive the
        mapping cannot be closed or resized.

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
        pending bytes (and seen by the flush policy) once the view is released or
        garbage-collected, at the mapping's next flush, pending_bytes read, write of a
        mutable view, resize or close.

        Raises:
            InvalidModeError: The mapping is read-only (checked before the range).
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.

        Example:
            >>> with mm.as_slice_mut(0, 5) as view:
            ...     view[:] = b"HELLO"
        """
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
                self._register(view, length)
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
                self._register(view, n)
            return view

    # -- write accounting ----------------------------------------------------------

    def _register(self, view: memoryview, length: int) -> None:
        views = self._mut_views
        views.append((weakref.ref(view), length))
        if len(views) >= _SETTLE_AT:
            with self._state:
                self._settle_views()
                self._maybe_flush()

    def _settle_views(self) -> None:
        """Count mutable views released or collected since the last call (state lock held).

        Each counts as one write of its full length. The policy is not consulted here;
        callers do that once they are ready to flush.
        """
        views, self._mut_views = self._mut_views, []
        live = []
        for ref, length in views:
            view = ref()
            if view is not None:
                try:
                    view.nbytes  # noqa: B018 - raises ValueError once released
                    live.append((ref, length))
                    continue
                except ValueError:
                    pass
            self._note_write(length)
        self._mut_views.extend(live)
        if self._atomic_views:
            self._settle_atomics()

    def _has_pending(self) -> bool:
        """Whether a write may await a flush: counted bytes, mutable views, written atomics.

        Takes no lock, so the event loop can ask without waiting behind an msync.
        """
        return bool(self._pending or self._mut_views or self._atomics_written())

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

    # -- iteration -----------------------------------------------------------------

    def chunks(self, size: int) -> _Chunks:
        """Iterate over read-only zero-copy views of `size` bytes (the last may be shorter).

        `chunks(0)` yields nothing. The iterator reads the mapping's length once, at
        the start.

        Raises:
            TypeError: `size` is not an int.
            ValueError: `size` is negative.
        """
        return _Chunks(self, _chunk_size(size), owned=False)

    def chunks_owned(self, size: int) -> _Chunks:
        """Like `chunks`, but each item is a `bytes` copy that outlives the mapping."""
        return _Chunks(self, _chunk_size(size), owned=True)

    def pages(self) -> _Chunks:
        """Iterate over read-only views of one page each (see `page_size()`)."""
        return _Chunks(self, mmap.PAGESIZE, owned=False)

    def pages_owned(self) -> _Chunks:
        """Like `pages`, but each item is a `bytes` copy."""
        return _Chunks(self, mmap.PAGESIZE, owned=True)

    def chunks_mut(self, size: int) -> ChunksMut:
        """Prepare a pass over writable chunks; run it with `.for_each_mut(fn)`.

        Raises:
            InvalidModeError: The mapping is read-only.
            TypeError: `size` is not an int.
            ValueError: `size` is negative.
        """
        self._check_writable()
        return ChunksMut(self, _chunk_size(size))


def _chunk_size(size: object) -> int:
    n = as_index(size, "size")
    if n < 0:
        raise value_error(f"chunk size must not be negative, got {n}")
    return n


class _Chunks:
    """Iterator over consecutive chunks of a region, as views or as bytes."""

    __slots__ = ("_end", "_offset", "_owned", "_region", "_size")

    def __init__(self, region: Region, size: int, *, owned: bool) -> None:
        self._region = region
        self._size = size
        self._owned = owned
        self._offset = 0
        self._end = len(region) if size else 0

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        offset = self._offset
        if offset >= self._end:
            raise StopIteration
        n = min(self._size, self._end - offset)
        self._offset = offset + n
        if self._owned:
            return self._region.read_bytes(offset, n)
        return self._region.as_slice(offset, n)


class ChunksMut:
    """A pending pass over writable chunks of a region."""

    __slots__ = ("_region", "_size")

    def __init__(self, region: Region, size: int) -> None:
        self._region = region
        self._size = size

    def for_each_mut(self, fn: Callable[[int, memoryview], object]) -> None:
        """Call `fn(offset, view)` for each chunk in order, with a writable view.

        Each view is released as soon as `fn` returns and counts as one write of its
        length. An exception from `fn` stops the pass and propagates unchanged; chunks
        already visited stay written and the mapping stays usable.
        """
        region, size = self._region, self._size
        if not size:
            return
        offset, end = 0, len(region)
        while offset < end:
            n = min(size, end - offset)
            with region._state:
                region._check_writable()
                rw = region._rw
                assert rw is not None
                view = rw[offset : offset + n]
            try:
                fn(offset, view)
            finally:
                view.release()
                region._count_write(n)
            offset += n
