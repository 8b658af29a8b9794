"""The pager: a mapping's thread that brings cold ranges in, in batches, for async readers.

Readers queue a range and wait on their group's event. Each time round, the pager
starts every read queued so far (`_start_page_in`), then waits for the oldest group
it started (`_finish_page_in`) and wakes that group's readers. Reads queued while it
waited are started before it waits again: a read waits for at most one group before
its disk read begins, and the loop hands out one group while the disk reads the
rest. Readers are woken in groups of at most GROUP, so that one wake holds the
loop for a few hundred microseconds, not for every reader at once.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable

from .._core._mapping import Mapping
from ._worker import IDLE, LoopWorker, Waitable

# Readers woken by one event. Measured with 64 cold readers: waking all at once gave a
# p99 loop lag of 1.3-1.9 ms; groups of 32 keep it near 1.1 ms and read about 7% more
# than groups of 16 (lag 0.8 ms), which pay more wakes and pager steps per read.
GROUP = 32

Group = tuple[list[tuple[int, int]], Waitable]  # ranges, and the event their readers await


class Pager(LoopWorker):
    """Pages in one mapping's cold ranges for one event loop."""

    __slots__ = ("_pending",)
    thread_name = "mmap_io-pager"

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping)
        self._pending: list[Group] = []

    def add(self, offset: int, length: int) -> Waitable | None:
        """Queue a range; the event is set once it is in. None: ended, or not this loop's."""
        if not self.serves_here():
            return None
        with self._lock:
            if not self._open:
                return None
            pending = self._pending
            if not pending:
                self._cond.notify()
            if not pending or len(pending[-1][0]) >= GROUP:
                pending.append(([], self.new_event()))
            ranges, done = pending[-1]
            ranges.append((offset, length))
            return done

    def _serve(self) -> None:
        reading: collections.deque[Group] = collections.deque()  # started, oldest first
        while (batch := self._next_batch(wait=not reading)) or reading:
            if batch:
                self._step(Mapping._start_page_in, [r for ranges, _ in batch for r in ranges])
                reading.extend(batch)
            ranges, done = reading.popleft()
            self._step(Mapping._finish_page_in, ranges)
            self._soon(done.set)

    def _step(
        self, step: Callable[[Mapping, list[tuple[int, int]]], None], ranges: list[tuple[int, int]]
    ) -> None:
        """Run a paging step of the mapping, holding it only meanwhile.

        A failure (closed, shrunk) is left for each reader's own copy to report.
        Holding the mapping no longer than the step lets a mapping dropped unclosed go
        as soon as its readers are done.
        """
        mapping = self._mapping()
        if mapping is not None:
            with contextlib.suppress(Exception):
                step(mapping, ranges)

    def _next_batch(self, wait: bool) -> list[Group]:
        """Take what is queued; with `wait`, wait up to IDLE for it, and close if none came."""
        with self._lock:
            if wait and not self._pending and self._open:
                self._cond.wait(IDLE)
            if not self._pending and wait:
                self._open = False
            batch, self._pending = self._pending, []
            return batch
