"""Segment and SegmentMut: a fixed window onto part of a mapping, re-checked at each use."""

from __future__ import annotations

from typing import Any, final

from ._args import byte_view, check_range
from ._errors import MmapIoError, OutOfBoundsError, type_error
from ._region import Buffer, Region


class _Window:
    __slots__ = ("_length", "_offset", "_parent")

    def __init__(self, parent: Region, offset: int, length: int) -> None:
        if not isinstance(parent, Region):
            raise type_error(f"parent must be a mapping, not {type(parent).__name__}")
        self._offset, self._length = check_range(offset, length, len(parent))
        self._parent = parent

    @property
    def parent(self) -> Any:
        """The mapping this segment looks into (the same object, not a copy)."""
        return self._parent

    @property
    def offset(self) -> int:
        """Where the segment starts in the parent."""
        return self._offset

    def __len__(self) -> int:
        return self._length

    def is_empty(self) -> bool:
        """True for a zero-length segment."""
        return self._length == 0

    def is_valid(self) -> bool:
        """True while the parent is open and still long enough to hold the whole segment."""
        try:
            return self._offset + self._length <= len(self._parent)
        except MmapIoError:  # closed
            return False

    def as_slice(self) -> memoryview:
        """A read-only view of the segment.

        Raises:
            OutOfBoundsError: The parent was shrunk below the segment's end.
        """
        return self._parent.as_slice(self._offset, self._length)

    def read_bytes(self) -> bytes:
        """A copy of the segment's bytes."""
        return self._parent.read_bytes(self._offset, self._length)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} offset={self._offset} length={self._length}>"


@final
class Segment(_Window):
    """A read-only window of `length` bytes at `offset` in a mapping.

    The range is checked when the segment is made and again at every access, so a
    segment cut off by a shrink raises OutOfBoundsError (and `is_valid()` is False)
    until the mapping grows back.

    Raises:
        OutOfBoundsError: The range does not fit the parent when the segment is made.

    Example:
        >>> header = Segment(mm, 0, 64)
        >>> bytes(header.as_slice())[:4]
    """

    __slots__ = ()


@final
class SegmentMut(_Window):
    """A writable window of `length` bytes at `offset` in a mapping.

    Example:
        >>> record = SegmentMut(mm, 64, 32)
        >>> record.write(b"payload")
    """

    __slots__ = ()

    def as_slice_mut(self) -> memoryview:
        """A writable view of the segment.

        Raises:
            InvalidModeError: The parent is read-only.
            OutOfBoundsError: The parent was shrunk below the segment's end.
        """
        return self._parent.as_slice_mut(self._offset, self._length)

    def write(self, data: Buffer) -> None:
        """Write `data` at the start of the segment.

        Raises:
            OutOfBoundsError: `data` is longer than the segment (`.length` is the data's
                length), or the parent no longer holds the whole segment; nothing is
                written.
            InvalidModeError: The parent is read-only.
        """
        n = byte_view(data).nbytes
        if n > self._length:
            raise OutOfBoundsError(0, n, self._length)
        check_range(self._offset, self._length, len(self._parent))  # the whole window must fit
        self._parent.update_region(self._offset, data)


Segment.__module__ = SegmentMut.__module__ = "mmap_io"
