"""Async-only lifecycle of MemoryMappedFile: `async with` and the flush timer task.

There is no sync twin to generate: sync code gets its timer as a thread from the
moment the mapping opens (`_core/_timer.py`).
"""

from __future__ import annotations

import warnings
import weakref
from typing import Self

import anyio
import anyio.abc

from .._core._enums import MmapMode
from .._core._mapping import Mapping
from .._core._timer import FlushTimer


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
