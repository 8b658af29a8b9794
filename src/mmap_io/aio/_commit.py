"""Group commit: callers that flush at the same time share one sync.

Every caller takes an arrival number and every sync a start number from one counter
(`next()` on itertools.count is atomic). A caller may return once a sync numbered
after its arrival has finished, since that sync began after its writes. One caller
at a time leads and runs the sync; the others wait on an event that wakes them all
at once when it ends, then either return or lead the next sync. Nobody waits in a
queue behind a lock, which would hand the lock over one waiter at a time.

Authored here in async form; `sync/_commit.py` is generated from it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

from .._pairs import AsyncEvent, let_others_run_async, run_blocking_async


class AsyncGroupCommit:
    """Shares each blocking sync among every caller that arrived before it started."""

    __slots__ = ("_done", "_finished", "_guard", "_running", "_tickets")

    def __init__(self) -> None:
        self._tickets = itertools.count(1)
        self._done = 0
        self._running = False
        self._finished: AsyncEvent | None = None
        # Held for a few bytecodes at a time, never across a wait, so it cannot stall
        # an event loop; it makes check-and-lead atomic between threads.
        self._guard = threading.Lock()

    async def run_async(self, sync: Callable[[], object]) -> None:
        """Return once a call of `sync` that started after this call has finished.

        Raises:
            Exception: Whatever `sync` raised, in the caller that ran it.
        """
        arrival = next(self._tickets)
        while True:
            with self._guard:
                if self._done > arrival:
                    return
                leading = not self._running
                if leading:
                    self._running = True
                    self._finished = AsyncEvent()
                finished = self._finished
            assert finished is not None
            if not leading:
                await finished.wait()
                continue
            try:
                # Callers that are ready to write now join this sync rather than the next.
                await let_others_run_async()
                ticket = next(self._tickets)
                await run_blocking_async(sync)
                with self._guard:
                    self._done = max(self._done, ticket)
            finally:
                with self._guard:
                    self._running = False
                finished.set()

    async def run_range_async(
        self, sync_ranges: Callable[[list[tuple[int, int]]], object], offset: int, length: int
    ) -> None:
        """Run `sync_ranges([(offset, length)])` for this caller alone.

        Range syncs are shared only by an async mapping's committer thread, which can
        merge the ranges of one round; without it each caller syncs its own range.
        """
        await run_blocking_async(sync_ranges, [(offset, length)])
