"""The pager: a mapping's thread that brings cold ranges in, in batches, for async readers.

Readers queue a range and wait on their batch's event. The pager takes everything
queued, starts those reads, then waits for the batch before it (`_start_page_in`,
`_finish_page_in`): while the disk reads one batch, the loop is queueing the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import anyio

from .._core._mapping import Mapping
from ._worker import IDLE, LoopWorker

Batch = tuple[list[tuple[int, int]], anyio.Event]  # ranges, and the event their readers await


class Pager(LoopWorker):
    """Pages in one mapping's cold ranges for one event loop."""

    __slots__ = ("_done", "_pending")
    thread_name = "mmap_io-pager"

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping)
        self._pending: list[tuple[int, int]] = []
        self._done = anyio.Event()

    def add(self, offset: int, length: int) -> anyio.Event | None:
        """Queue a range; the event is set once it is in. None: ended, or not this loop's."""
        if not self.serves_here():
            return None
        with self._cond:
            if not self._open:
                return None
            if not self._pending:
                self._done = anyio.Event()
                self._cond.notify()
            self._pending.append((offset, length))
            return self._done

    def _serve(self) -> None:
        reading: Batch | None = None  # started, not yet waited for
        while (batch := self._next_batch(wait=reading is None)) or reading:
            mapping = self._mapping()
            if mapping is None:
                return  # collected, so nobody is waiting for it
            if batch:
                _quietly(mapping._start_page_in, batch[0])
            if reading:
                _quietly(mapping._finish_page_in, reading[0])
                self._soon(reading[1].set)
            reading = batch
            del mapping

    def _next_batch(self, wait: bool) -> Batch | None:
        """Take what is queued; with `wait`, wait up to IDLE for it, and close if none came."""
        with self._cond:
            if wait and not self._pending and self._open:
                self._cond.wait(IDLE)
            if not self._pending:
                if wait:
                    self._open = False
                return None
            ranges, self._pending = self._pending, []
            return ranges, self._done


def _quietly(step: Callable[[list[tuple[int, int]]], None], ranges: list[tuple[int, int]]) -> None:
    """A paging step whose failure (mapping closed or shrunk) each reader's own copy reports."""
    with contextlib.suppress(Exception):
        step(ranges)
