"""Async copies that never fault a cold page in on the event loop thread.

Resident ranges (mincore says every page is in memory) are copied inline: that takes
well under a microsecond per KiB, far less than any thread hop. Ranges with a missing
page, and copies so large they would hold the loop for milliseconds, are copied by
memmove in a worker thread, which releases the GIL while the kernel reads the pages.

Async-only: sync code simply faults pages in on the calling thread.
"""

from __future__ import annotations

from typing import Any

from .._core._args import byte_view, check_range, writable_byte_view
from .._core._mapping import Mapping
from .._pairs import run_blocking_async

# Inline copies above this size would hold the loop for more than ~0.1-0.5 ms.
LARGE_COPY = 2 << 20


class AsyncResidency(Mapping):
    """Residency-aware reads and writes."""

    __slots__ = ()

    async def read_into_async(self, offset: int, buf: Any) -> None:
        """Fill `buf` from `offset` without ever waiting for the disk on the event loop.

        Raises:
            OutOfBoundsError: The read would pass the end; `buf` is left untouched.
            TypeError: `offset` is not an int, or `buf` is not a writable buffer.
        """
        dest = writable_byte_view(buf)
        off, n = check_range(offset, dest.nbytes, len(self))
        if n == 0:
            return
        if n <= LARGE_COPY and self._is_resident(off, n):
            self.read_into(off, dest)
        else:
            await run_blocking_async(self._copy_out_now, off, dest)

    async def read_bytes_async(self, offset: int, length: int) -> bytes:
        """Return a copy of `length` bytes at `offset`, paging cold ones in off the loop.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        off, n = check_range(offset, length, len(self))
        if n == 0 or (n <= LARGE_COPY and self._is_resident(off, n)):
            return self.read_bytes(off, n)
        dest = bytearray(n)
        await run_blocking_async(self._copy_out_now, off, dest)
        return bytes(dest)

    async def as_slice_async(self, offset: int, length: int) -> memoryview:
        """Return a read-only zero-copy view whose pages were brought into memory off the loop.

        Reading the view right after the call will not fault (unless the kernel evicts
        the pages again under memory pressure).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        off, n = check_range(offset, length, len(self))
        if n and not self._is_resident(off, n):
            await run_blocking_async(self._touch_now, off, n)
        return self.as_slice(off, n)

    async def _copy_in_async(self, offset: int, data: Any) -> None:
        """update_region, moved to a worker thread when it would fault or copy for long."""
        if type(offset) is int and offset >= 0:
            n = byte_view(data).nbytes
            if n <= LARGE_COPY and (n == 0 or self._is_resident_safe(offset, n)):
                self.update_region(offset, data)
                return
        await run_blocking_async(self._copy_in_now, offset, data)

    def _is_resident_safe(self, offset: int, length: int) -> bool:
        """_is_resident for a range that may be out of bounds (the write then reports it)."""
        return (
            not self._closed
            and offset + length <= len(self._mm)
            and self._is_resident(offset, length)
        )
