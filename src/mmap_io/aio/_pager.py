"""A mapping's pager: one thread that brings cold ranges in, in batches, for async readers.

Readers queue a range and wait on their batch's event. The thread takes everything
queued, pages it in (`_page_in_now`: start every read, then wait for them all), and
has the loop set the event through the backend's own thread-safe callback. Because
it takes the next batch the moment one is done, the disk works on one batch while the
loop hands out the last, where one `to_thread` call per batch makes them take turns.

The thread holds one token of the library's CapacityLimiter for as long as it lives,
so the limiter still bounds every thread the library runs; when no token is free,
readers fall back to one offloaded call per batch. It ends after IDLE seconds without
work, or when the mapping closes. Async-only: sync readers fault pages in themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

import anyio

from .._core._mapping import Mapping
from .._pairs import offload_limiter

IDLE = 0.25  # seconds a pager waits for work before its thread ends

Batch = tuple[list[tuple[int, int]], anyio.Event]  # ranges, and the event their readers await


class Pager:
    """A worker thread paging in one mapping's cold ranges for one event loop."""

    __slots__ = ("_cond", "_done", "_limiter", "_loop", "_mapping", "_open", "_pending", "_pid")

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = mapping
        self._loop = _current_loop()
        self._limiter = offload_limiter()
        self._cond = threading.Condition(threading.Lock())
        self._open = True
        self._pending: list[tuple[int, int]] = []
        self._done = anyio.Event()
        self._pid = os.getpid()  # a forked child has no thread behind this pager

    @classmethod
    def start(cls, mapping: Mapping) -> Pager | None:
        """Start a pager on the running loop; None when the library has no thread to spare."""
        pager = cls(mapping)
        try:
            pager._limiter.acquire_on_behalf_of_nowait(pager)
        except anyio.WouldBlock:
            return None
        try:
            threading.Thread(target=pager._run, name="mmap_io-pager", daemon=True).start()
        except RuntimeError:  # the process is out of threads
            pager._limiter.release_on_behalf_of(pager)
            return None
        return pager

    def add(self, offset: int, length: int) -> anyio.Event | None:
        """Queue a range; the event is set once its batch is in. None: ended, or another loop's."""
        if self._pid != os.getpid() or self._loop is not _current_loop():
            return None  # after a fork, never touch the lock: the thread may have held it
        with self._cond:
            if not self._open:
                return None
            if not self._pending:
                self._done = anyio.Event()
                self._cond.notify()
            self._pending.append((offset, length))
            return self._done

    def stop(self) -> None:
        """End the thread once the queued ranges are served (from any thread; never waits)."""
        if self._pid != os.getpid():
            return
        with self._cond:
            self._open = False
            self._cond.notify()

    def _run(self) -> None:
        """Serve batches in a pipeline: start the next batch's reads before awaiting the last's.

        While the disk reads one batch, the loop is queueing the next; starting those
        reads before waiting keeps the disk busy with both.
        """
        reading: Batch | None = None  # started, not yet waited for
        try:
            while (batch := self._next_batch(wait=reading is None)) or reading:
                if batch:
                    _quietly(self._mapping._start_page_in, batch[0])
                if reading:
                    _quietly(self._mapping._finish_page_in, reading[0])
                    self._soon(reading[1].set)
                reading = batch
        finally:
            self._soon(self._limiter.release_on_behalf_of, self)

    def _next_batch(self, wait: bool) -> Batch | None:
        """Take what is queued; with `wait`, wait up to IDLE for it, then close if idle."""
        with self._cond:
            if wait and not self._pending and self._open:
                self._cond.wait(IDLE)
            if not self._pending:
                if wait:
                    self._open = False
                return None
            ranges, self._pending = self._pending, []
            return ranges, self._done

    def _soon(self, fn: Any, *args: Any) -> None:
        """Have the loop call fn(*args); a loop that has ended has no one left to wake."""
        loop: Any = self._loop
        with contextlib.suppress(Exception):
            if isinstance(loop, asyncio.AbstractEventLoop):
                loop.call_soon_threadsafe(fn, *args)
            else:
                loop.run_sync_soon(fn, *args)  # a trio token


def _quietly(step: Callable[[list[tuple[int, int]]], None], ranges: list[tuple[int, int]]) -> None:
    """A paging step whose failure (mapping closed or shrunk) each reader's own copy reports."""
    with contextlib.suppress(Exception):
        step(ranges)


def _current_loop() -> object:
    """The running asyncio loop, or trio's token for the running trio run."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        import trio  # anyio's other backend; loaded, since it is what runs this code

        return trio.lowlevel.current_trio_token()
