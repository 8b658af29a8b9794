"""Async-only parts of MemoryMappedFile: `async with`, the flush timer task, cold-page reads.

These have no sync twin to generate. A sync read simply faults its pages in on the
calling thread, and sync code gets its timer as a thread (`_core/_timer.py`).
"""

from __future__ import annotations

import ctypes
import warnings
import weakref
from typing import Any, Self

import anyio
import anyio.abc

from .._core._address import buffer_address
from .._core._args import check_range, writable_byte_view
from .._core._enums import MmapMode
from .._core._mapping import Mapping
from .._core._os import resident_pages
from .._core._timer import FlushTimer
from .._core._utils import page_span
from .._pairs import run_blocking_async

# mincore(2) sets bit 0 of a page's byte when the page is resident.
_RESIDENT = bytes(b for b in range(256) if b & 1)


class AsyncNative(Mapping):
    """What only makes sense with an event loop."""

    __slots__ = ()

    async def __aenter__(self) -> Self:
        """Enter the mapping; under FlushPolicy.every_millis the background flusher
        becomes a task of this event loop for the duration of the block."""
        interval = self._policy.interval
        if interval and self._mode is MmapMode.READ_WRITE and not self._closed:
            group = anyio.create_task_group()
            await group.__aenter__()
            task = await group.start(_flush_every, weakref.ref(self), interval)
            thread, self._timer, self._timer_task = self._timer, task, group
            if thread is not None:
                thread.stop()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the mapping (see aclose) and end the timer task, if one was started."""
        group, self._timer_task = self._timer_task, None
        task = self._timer
        try:
            await self.aclose()  # type: ignore[attr-defined]
        except BaseException:
            if not self._closed and isinstance(task, _FlushTask):
                self._timer = FlushTimer(self, self._policy.interval)  # back to a thread
            raise
        finally:
            if group is not None:
                group.cancel_scope.cancel()
                await group.__aexit__(None, None, None)

    async def read_into_async(self, offset: int, buf: Any) -> None:
        """Fill `buf` from `offset`, never waiting for the disk on the event loop thread.

        Resident pages (checked with mincore) are copied inline in well under a
        microsecond per KiB; when any page of the range is not in memory, the copy
        runs in a worker thread with the GIL released, so the loop keeps running.

        Raises:
            OutOfBoundsError: The read would pass the end; `buf` is left untouched.
            TypeError: `offset` is not an int, or `buf` is not a writable buffer.
        """
        dest = writable_byte_view(buf)
        off, n = check_range(offset, dest.nbytes, len(self))
        if n == 0:
            return
        if self._is_resident(off, n):
            dest[:] = self._ro[off : off + n]
        else:
            await run_blocking_async(self._copy_out_now, off, dest)

    async def read_bytes_async(self, offset: int, length: int) -> bytes:
        """Return a copy of `length` bytes at `offset` without faulting pages in on the loop.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        off, n = check_range(offset, length, len(self))
        if n == 0 or self._is_resident(off, n):
            return self.read_bytes(off, n)
        dest = bytearray(n)
        await run_blocking_async(self._copy_out_now, off, memoryview(dest))
        return bytes(dest)

    def _is_resident(self, offset: int, length: int) -> bool:
        start, span = page_span(offset, length)
        try:
            vector = resident_pages(self._address + start, span)
        except OSError:
            return False
        return vector is not None and not vector.translate(None, _RESIDENT)

    def _copy_out_now(self, offset: int, dest: memoryview) -> None:
        """memmove from the mapping with the GIL released (runs in a worker thread)."""
        with self._state:
            self._check_open()
            check_range(offset, dest.nbytes, len(self._mm))
            # Safety: the range was just checked against the live mapping, and the
            # state lock keeps close and resize out until the copy ends; `dest` is an
            # exported view, so its buffer cannot move or be freed meanwhile.
            ctypes.memmove(buffer_address(dest), self._address + offset, dest.nbytes)


class _FlushTask:
    """The every_millis flusher as an event-loop task; stop() is safe from any thread."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True  # the task notices on its next tick; __aexit__ cancels it


async def _flush_every(
    ref: weakref.ref[Mapping],
    interval: float,
    *,
    task_status: anyio.abc.TaskStatus[_FlushTask] = anyio.TASK_STATUS_IGNORED,
) -> None:
    task = _FlushTask()
    task_status.started(task)
    while True:
        await anyio.sleep(interval)
        mapping = ref()
        if mapping is None or mapping.closed or task.stopped:
            return
        if mapping._has_pending():
            try:
                await mapping.flush_async()  # type: ignore[attr-defined]
            except ValueError:
                return  # closed while flushing
            except Exception as error:  # keep the user's task group alive; retry next tick
                warnings.warn(f"mmap_io background flush failed: {error}", RuntimeWarning, 2)
        del mapping
