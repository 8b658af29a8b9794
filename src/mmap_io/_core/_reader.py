"""MmapReader: a binary file object that reads a mapping from a cursor."""

from __future__ import annotations

import io
import os
from typing import Any, final

from ._args import as_index, writable_byte_view
from ._errors import closed_error, value_error
from ._region import Region


@final
class MmapReader(io.BufferedIOBase):
    """Read a mapping like a file: `read`, `readinto`, `readline`, `seek`, `tell`.

    Each reader has its own position. Reads copy bytes out, so a reader never pins
    the mapping: it may be resized or closed while readers exist (reads then see the
    new length, or raise once it is closed). Closing the reader leaves the mapping open.
    A refused call (a wrong type, a read-only buffer, a closed mapping) leaves the
    position where it was. Sizes follow `io.BytesIO`: None or a negative size reads to
    the end; a float (NaN included) or a bool raises TypeError.

    Example:
        >>> import json
        >>> data = json.load(mm.reader())
    """

    def __init__(self, region: Region) -> None:
        super().__init__()
        self._region = region
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check()
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the cursor; past the end is allowed (reads then return b"")."""
        self._check()
        offset = as_index(offset, "offset")
        whence = as_index(whence, "whence")
        if whence == os.SEEK_SET:
            target = offset
        elif whence == os.SEEK_CUR:
            target = self._pos + offset
        elif whence == os.SEEK_END:
            target = len(self._region) + offset
        else:
            raise value_error(f"invalid whence {whence!r}")
        if target < 0:
            raise value_error(f"negative seek position {target}")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        start, stop = self._span(size)
        data = self._region.read_bytes(start, stop - start)
        self._pos = max(self._pos, stop)
        return data

    read1 = read

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` from the position; returns the count (0 at the end).

        Raises:
            TypeError: `buffer` is not a writable buffer; nothing is read.
        """
        view = writable_byte_view(buffer)  # refused before the position moves
        start, stop = self._span(view.nbytes)
        self._region.read_into(start, view[: stop - start])
        self._pos = max(self._pos, stop)
        return stop - start

    readinto1 = readinto

    def readline(self, size: int | None = -1) -> bytes:
        start, stop = self._span(size)
        try:
            newline = self._region._mm.find(b"\n", start, stop)
        except ValueError:  # closed since _span looked: the stand-in mmap refuses find
            raise closed_error() from None
        return self.read((newline + 1 if newline >= 0 else stop) - start)

    def _span(self, size: object) -> tuple[int, int]:
        """The [start, stop) a read of `size` covers from the position (checks first)."""
        self._check()
        n = -1 if size is None else as_index(size, "size")
        end = len(self._region)
        start = min(self._pos, end)
        return start, end if n < 0 else min(end, start + n)

    def _check(self) -> None:
        if self.closed:
            raise value_error("I/O operation on a closed reader")


MmapReader.__module__ = "mmap_io"
