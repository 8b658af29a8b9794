"""Chunk iterators: a mapping walked in views (or copies) of a fixed size.

The functions below are methods of every mapping (Region binds them).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from typing import Any, Protocol, Self

from ._args import as_index
from ._errors import value_error


class Host(Protocol):
    """What chunking needs of a region (Region provides it)."""

    _state: threading.RLock
    _rw: memoryview | None

    def __len__(self) -> int: ...
    def as_slice(self, offset: int, length: int) -> memoryview: ...
    def read_bytes(self, offset: int, length: int) -> bytes: ...
    def _check_writable(self) -> None: ...
    def _count_write(self, n: int) -> None: ...


def chunks(self: Host, size: int) -> Chunks:
    """Iterate over read-only zero-copy views of `size` bytes (the last may be shorter;
    `chunks(0)` yields nothing), stopping at the current end after a shrink.

    Raises:
        TypeError: `size` is not an int.
        ValueError: `size` is negative.
    """
    return Chunks(self, chunk_size(size), owned=False)


def chunks_owned(self: Host, size: int) -> Chunks:
    """Like `chunks`, but each item is a `bytes` copy that outlives the mapping."""
    return Chunks(self, chunk_size(size), owned=True)


def pages(self: Host) -> Chunks:
    """Iterate over read-only views of one page each (see `page_size()`)."""
    return Chunks(self, mmap.PAGESIZE, owned=False)


def pages_owned(self: Host) -> Chunks:
    """Like `pages`, but each item is a `bytes` copy."""
    return Chunks(self, mmap.PAGESIZE, owned=True)


def chunks_mut(self: Host, size: int) -> ChunksMut:
    """Prepare a pass over writable chunks; run it with `.for_each_mut(fn)`.

    Raises:
        InvalidModeError: The mapping is read-only.
        TypeError, ValueError: As for `chunks`.
    """
    self._check_writable()
    return ChunksMut(self, chunk_size(size))


def chunk_size(size: object) -> int:
    n = as_index(size, "size")
    if n < 0:
        raise value_error(f"chunk size must not be negative, got {n}")
    return n


class Chunks:
    """Iterator over consecutive chunks of a region, as views or as bytes.

    It covers the region as long as it was when the iteration started, and stops
    early at the current end if a resize cut the region shorter since.
    """

    __slots__ = ("_end", "_offset", "_owned", "_region", "_size")

    def __init__(self, region: Host, size: int, *, owned: bool) -> None:
        self._region = region
        self._size = size
        self._owned = owned
        self._offset = 0
        self._end = len(region) if size else 0

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> Any:
        offset = self._offset
        end = min(self._end, len(self._region)) if offset < self._end else 0
        if offset >= end:
            raise StopIteration
        n = min(self._size, end - offset)
        self._offset = offset + n
        if self._owned:
            return self._region.read_bytes(offset, n)
        return self._region.as_slice(offset, n)


class ChunksMut:
    """A pending pass over writable chunks of a region."""

    __slots__ = ("_region", "_size")

    def __init__(self, region: Host, size: int) -> None:
        self._region = region
        self._size = size

    def for_each_mut(self, fn: Callable[[int, memoryview], object]) -> None:
        """Call `fn(offset, view)` for each chunk in order, with a writable view.

        Each view is released as soon as `fn` returns and counts as one write of its
        length. An exception from `fn` stops the pass and propagates unchanged; chunks
        already visited stay written and the mapping stays usable. The pass covers
        the mapping as long as it was at the start, and stops at the current end if
        `fn` shrank it meanwhile.
        """
        region, size = self._region, self._size
        if not size:
            return
        offset, end = 0, len(region)
        while True:
            with region._state:
                region._check_writable()
                n = min(size, end - offset, len(region) - offset)
                if n <= 0:
                    return
                rw = region._rw
                assert rw is not None
                view = rw[offset : offset + n]
            try:
                fn(offset, view)
            finally:
                view.release()
                region._count_write(n)
            offset += n
