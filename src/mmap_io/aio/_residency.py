"""Async copies that never fault a cold page in on the event loop thread.

Resident ranges (mincore says every page is in memory) are copied inline: that takes
well under a microsecond per KiB, far less than any thread hop. Cold ranges join the
mapping's current batch: one worker thread starts the reads of the whole batch at
once and waits for them with the GIL free; the loop is woken once for the lot and
each reader then copies its now-resident range inline. Copies so large they would
hold the loop for milliseconds run in a worker thread instead.

Async-only: sync code simply faults pages in on the calling thread.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from .._core._args import byte_view, check_range, writable_byte_view
from .._core._mapping import Mapping
from .._pairs import run_blocking_async
from ._pager import Pager

# Inline copies above this size would hold the loop for more than ~0.1-0.5 ms.
LARGE_COPY = 2 << 20


class AsyncResidency(Mapping):
    """Residency-aware reads and writes."""

    __slots__ = ()

    async def read_into_async(self, offset: int, buf: Any) -> None:
        """Fill `buf` from `offset` without ever waiting for the disk on the event loop.

        Cancelled while waiting for cold pages, it stops at once and leaves `buf`
        untouched (the pager still brings the range in). A copy over 2 MiB runs in a
        worker thread that finishes before the cancellation lands, so `buf` may then
        be filled by a call that raises.

        Raises:
            OutOfBoundsError: The read would pass the end; `buf` is left untouched.
            TypeError: `offset` is not an int, or `buf` is not a writable buffer.
        """
        if type(buf) is bytearray and self._fits(offset, n := len(buf)):  # the common case
            if not self._is_resident(offset, n):
                await _page_in(self, offset, n)
            self.read_into(offset, buf)
            return
        n = writable_byte_view(buf).nbytes
        off, n = check_range(offset, n, len(self))
        if n == 0:
            return
        if n > LARGE_COPY:
            await run_blocking_async(self._copy_out_now, off, buf)
            return
        if not self._is_resident(off, n):
            await _page_in(self, off, n)
        self.read_into(off, buf)

    async def read_bytes_async(self, offset: int, length: int) -> bytes:
        """Return a copy of `length` bytes at `offset`, paging cold ones in off the loop.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        if type(length) is int and self._fits(offset, length):  # the common case
            if not self._is_resident(offset, length):
                await _page_in(self, offset, length)
            return self.read_bytes(offset, length)
        off, n = check_range(offset, length, len(self))
        if n > LARGE_COPY:
            dest = bytearray(n)
            await run_blocking_async(self._copy_out_now, off, dest)
            return bytes(dest)
        if n and not self._is_resident(off, n):
            await _page_in(self, off, n)
        return self.read_bytes(off, n)

    async def as_slice_async(self, offset: int, length: int) -> memoryview:
        """Return a read-only zero-copy view whose pages were brought in off the loop.

        Reading the view right after the call does not wait for the disk (unless the
        kernel evicts the pages again under memory pressure).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        if type(length) is int and self._fits(offset, length):  # the common case
            if not self._is_resident(offset, length):
                await _page_in(self, offset, length)
            return self.as_slice(offset, length)
        off, n = check_range(offset, length, len(self))
        if n and not self._is_resident(off, n):
            await _page_in(self, off, n)
        return self.as_slice(off, n)

    async def _copy_in_async(self, offset: int, data: Any) -> None:
        """update_region, moved to a worker thread when it would fault or copy for long."""
        if type(offset) is int and offset >= 0:
            kind = type(data)
            n = len(data) if kind is bytes or kind is bytearray else byte_view(data).nbytes
            if n == 0 or (self._fits(offset, n) and self._is_resident(offset, n)):
                self.update_region(offset, data)
                return
        await run_blocking_async(self._copy_in_now, offset, data)

    def _fits(self, offset: object, length: int) -> bool:
        """True for an int offset and a length of 1 to LARGE_COPY bytes inside the open
        mapping: the common case, checked in a fraction of check_range's time (every
        async read and write pays it). Anything else takes the general path, which
        reports it."""
        try:
            return (
                type(offset) is int
                and offset >= 0
                and 0 < length <= LARGE_COPY
                and not self._closed
                and offset + length <= len(self._mm)
            )
        except ValueError:  # unmapped by a close in another thread just now
            return False


def _page_in(mapping: Mapping, offset: int, length: int) -> Awaitable[object]:
    """What to await until a cold range is resident: its batch's event in the mapping's
    pager if it can, else one offloaded page-in.

    A plain function returning the awaitable, so that a cold read resumes through one
    coroutine frame fewer. A cancelled reader stops waiting; its range is still
    brought in with its batch.
    """
    pager: Pager | None = mapping._pager
    done = pager.add(offset, length) if pager is not None else None
    if done is None:  # no pager yet, or it ended, or it serves another loop
        pager = None if mapping._closed else Pager.start(mapping)
        if pager is None:  # no thread to spare (or closed: awaiting this raises)
            return run_blocking_async(mapping._page_in_now, [(offset, length)])
        mapping._pager = pager
        done = pager.add(offset, length)
        assert done is not None  # a new pager serves this loop
    return done.wait()
