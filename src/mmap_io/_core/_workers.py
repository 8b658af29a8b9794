"""Threads that serve one mapping's waiting callers: the pager and the committer.

Each runs blocking work back to back and reaches its callers through waiters they
handed in (`Waiter.fire()`, safe from any thread): the async layer's waiters wake an
event loop with one thread-safe callback per group of callers, which is cheaper than
a thread hop per call. Neither knows anything about event loops.

A worker registers with its mapping as a helper, so close stops it; it ends after
IDLE seconds without work. A forked child does not inherit it (see Mapping).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from . import _flush, _paging
from ._mapping import Mapping
from ._rounds import Round, Waiter

IDLE = 0.25  # seconds a worker waits for work before its thread ends

# Readers woken by one waiter. Measured with 64 cold readers: waking all at once gave
# a p99 loop lag of 1.3-1.9 ms; groups of 32 keep it near 1.1 ms and read about 7% more
# than groups of 16 (lag 0.8 ms), which pay more wakes and pager steps per read.
GROUP = 32

W = TypeVar("W", bound="Worker")


class Worker:
    """A thread doing one mapping's blocking work for callers that wait elsewhere."""

    __slots__ = ("_cond", "_lock", "_mapping", "_on_exit", "_open")
    thread_name: ClassVar[str]

    def __init__(self, mapping: Mapping, on_exit: Callable[[], object]) -> None:
        # Weak: the mapping owns its workers (as helpers), and a mapping dropped
        # unclosed should go with its last reference; whoever waits holds it.
        self._mapping = weakref.ref(mapping)
        self._on_exit = on_exit
        self._lock = threading.Lock()  # guards the queue and _open
        self._cond = threading.Condition(self._lock)  # the thread waits on it for work
        self._open = True

    @classmethod
    def start(cls: type[W], mapping: Mapping, on_exit: Callable[[], object]) -> W | None:
        """Start a worker for `mapping`; None if it is closed or no thread can start.

        `on_exit` runs in the worker's thread when it ends (if it started at all).
        """
        worker = cls(mapping, on_exit)
        if not mapping._add_helper(cls, worker):
            return None
        try:
            threading.Thread(target=worker._run, name=cls.thread_name, daemon=True).start()
        except RuntimeError:  # the process is out of threads
            mapping._drop_helper(cls, worker)
            return None
        return worker

    def stop(self) -> None:
        """End the thread once the queued work is done (from any thread; never waits)."""
        with self._lock:
            self._open = False
            self._cond.notify()

    def resized(self) -> None:
        """Nothing to do: every step works on the mapping as it is then."""

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            mapping = self._mapping()
            if mapping is not None:
                mapping._drop_helper(type(self), self)
            with contextlib.suppress(Exception):  # a loop that has ended needs no wake
                self._on_exit()

    def _serve(self) -> None:
        """The thread's work: run until `_open` ends or IDLE passes without work."""
        raise NotImplementedError


class Group:
    """Ranges whose readers wait on one waiter (all of one event loop)."""

    __slots__ = ("key", "ranges", "waiter")

    def __init__(self, key: Any, waiter: Waiter) -> None:
        self.key = key
        self.waiter = waiter
        self.ranges: list[tuple[int, int]] = []


class Pager(Worker):
    """Pages in one mapping's cold ranges for waiting readers.

    Readers queue a range and wait on their group's waiter. Each time round, the pager
    starts every read queued so far (`start_page_in`), then waits for the oldest group
    it started (`finish_page_in`) and fires that group's waiter. Reads queued while it
    waited are started before it waits again: a read waits for at most one group
    before its disk read begins, and the loop hands out one group while the disk reads
    the rest.
    """

    __slots__ = ("_pending",)
    thread_name = "mmap_io-pager"

    def __init__(self, mapping: Mapping, on_exit: Callable[[], object]) -> None:
        super().__init__(mapping, on_exit)
        self._pending: list[Group] = []

    def add(
        self, offset: int, length: int, key: Any, make_waiter: Callable[[], Waiter]
    ) -> Waiter | None:
        """Queue a range; its group's waiter fires once it is in. None: the pager ended."""
        with self._lock:
            if not self._open:
                return None
            pending = self._pending
            if not pending:
                self._cond.notify()
            if not pending or len(pending[-1].ranges) >= GROUP or pending[-1].key is not key:
                pending.append(Group(key, make_waiter()))
            group = pending[-1]
            group.ranges.append((offset, length))
            return group.waiter

    def _serve(self) -> None:
        reading: collections.deque[Group] = collections.deque()  # started, oldest first
        while (batch := self._next_batch(wait=not reading)) or reading:
            if batch:
                self._step(_paging.start_page_in, [r for group in batch for r in group.ranges])
                reading.extend(batch)
            group = reading.popleft()
            self._step(_paging.finish_page_in, group.ranges)
            group.waiter.fire()

    def _step(
        self, step: Callable[[Mapping, list[tuple[int, int]]], None], ranges: list[tuple[int, int]]
    ) -> None:
        """Run a paging step, holding the mapping only meanwhile.

        A failure (closed, shrunk) is left for each reader's own copy to report.
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


class Committer(Worker):
    """Runs one mapping's group-commit rounds back to back, for callers that wait on
    waiters (event-loop tasks); threads calling flush() may run rounds themselves."""

    __slots__ = ()
    thread_name = "mmap_io-committer"

    def stop(self) -> None:
        super().stop()
        mapping = self._mapping()
        if mapping is not None:
            mapping._flushes.wake()

    def _serve(self) -> None:
        mapping = self._mapping()
        if mapping is None:
            return
        rounds = mapping._flushes
        del mapping  # held only while a round runs
        driving = True
        try:
            while (round_ := rounds.take(IDLE, lambda: self._open)) is not None:
                rounds.run(round_, self._run_round)
            driving = False  # take gave None and stopped counting this driver
        finally:
            if driving:
                rounds.driver_gone()

    def _run_round(self, round_: Round) -> None:
        mapping = self._mapping()
        if mapping is None:
            raise ValueError("the mapping is gone")
        _flush.run_round(mapping, round_)
