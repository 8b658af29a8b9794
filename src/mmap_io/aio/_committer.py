"""The committer: a mapping's thread that runs syncs back to back for async callers.

Group commit without a leader task: a caller that needs its writes durable joins the
round that the next sync will cover, and waits. The committer takes the round (so
everyone in it arrived before the sync started), runs the sync, and wakes the round
at once. Callers that arrive meanwhile form the next round, which starts as soon as
the thread is free: no task has to wake first, hop to a worker and come back. A round
syncs the whole mapping if any caller asked for that, else just the ranges asked for.
"""

from __future__ import annotations

import copy
import time
import weakref
from collections.abc import Callable
from typing import NoReturn

from .._core._mapping import Mapping
from .._core._utils import page_size
from ._commit import AsyncGroupCommit
from ._worker import IDLE, LoopWorker, Waitable

# Callers in a round at which the loop hands the GIL to an idle committer. A busy
# event loop keeps the GIL until it next waits for I/O, so the committer, woken by
# the round's first caller, would start the sync only after every ready writer had
# run; handing over at 32 starts it while the rest are still being served, and they
# make the next round. Measured with 64 writers: 11.2-11.6x the one-msync-per-write
# anchor against 9.7-10.7x without; handing over at 16 was slower (syncs too small).
HAND_OVER_AT = 32

SyncRanges = Callable[[list[tuple[int, int]]], object]  # syncs each (offset, length)


class Round:
    """The callers one sync covers, and how it ended.

    The sync is the whole mapping's if any caller asked for that (it covers every
    range), else one range sync per run of ranges that share or adjoin a page. A
    failed sync fails the whole round.
    """

    __slots__ = ("callers", "done", "error", "ranges", "sync", "sync_ranges")

    def __init__(self, done: Waitable) -> None:
        self.sync: Callable[[], object] | None = None  # the whole-mapping sync, if asked
        self.sync_ranges: SyncRanges | None = None
        self.ranges: list[tuple[int, int]] = []  # (offset, length) asked for
        self.callers = 0
        self.done = done
        self.error: Exception | None = None

    def raise_error(self) -> NoReturn:
        """Raise the round's error for one caller: a copy of its own, caused by the
        original. Every caller raising the one shared object would add its frames to
        that object's traceback, which each caller's handler then sees."""
        error = self.error
        assert error is not None
        try:
            mine = copy.copy(error)
        except Exception:  # an exception that cannot be rebuilt from its arguments
            raise error from None
        raise mine from error

    def run(self) -> None:
        """Run the round's syncs, and let go of them (they hold the mapping)."""
        sync, self.sync = self.sync, None
        sync_ranges, self.sync_ranges = self.sync_ranges, None
        if sync is not None:
            sync()
        elif sync_ranges is not None:
            sync_ranges(merged(self.ranges))


def merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The byte ranges that cover `ranges`, joining those that share or adjoin a page:
    one msync over two pages costs little more than over one (~55 µs, ~3 µs a page)."""
    page = page_size()
    runs: list[tuple[int, int]] = []
    for offset, length in sorted(ranges):
        if runs:
            start, run_length = runs[-1]
            if offset // page <= (start + run_length - 1) // page + 1:
                runs[-1] = (start, max(run_length, offset + length - start))
                continue
        runs.append((offset, length))
    return runs


class Committer(LoopWorker):
    """Runs one mapping's syncs for one event loop."""

    __slots__ = ("_round", "_syncing")
    thread_name = "mmap_io-committer"

    def __init__(self, mapping: Mapping) -> None:
        super().__init__(mapping)
        self._round: Round | None = None
        self._syncing = False

    def join(
        self, sync: Callable[..., object], span: tuple[int, int] | None = None
    ) -> Round | None:
        """The round the next sync covers; `sync` syncs the whole mapping, or with a
        `span` (offset, length) syncs a list of ranges. None: ended, or not this loop's."""
        if not self.serves_here():
            return None
        with self._lock:
            if not self._open:
                return None
            round_ = self._round
            if round_ is None:
                round_ = self._round = Round(self.new_event())
                self._cond.notify()
            if span is None:
                round_.sync = sync
            else:
                round_.sync_ranges = sync
                round_.ranges.append(span)
            round_.callers += 1
        if round_.callers == HAND_OVER_AT and not self._syncing:
            time.sleep(0)  # release the GIL: the waiting committer takes it and syncs
        return round_

    def _serve(self) -> None:
        while self._run_next_round():
            pass

    def _run_next_round(self) -> bool:
        """Run the syncs of the round waiting; False once the thread should end.

        The syncs (methods of the mapping) are let go before the round is woken, so
        that a mapping dropped unclosed goes as soon as its callers are done.
        """
        round_ = self._next_round()
        if round_ is None:
            return False
        self._syncing = True
        try:
            round_.run()
        except Exception as error:  # every caller in the round needed these syncs
            round_.error = error
        finally:
            self._syncing = False
        self._soon(round_.done.set)
        return True

    def _next_round(self) -> Round | None:
        with self._lock:
            if self._round is None and self._open:
                self._cond.wait(IDLE)
            round_, self._round = self._round, None
            if round_ is None:
                self._open = False
            return round_


class AsyncCommits:
    """How a mapping's async callers share syncs: its committer, or a leader task without one."""

    __slots__ = ("_fallback", "_mapping")

    def __init__(self, mapping: Mapping) -> None:
        self._mapping = weakref.ref(mapping)  # the mapping owns this; no cycle back
        self._fallback = AsyncGroupCommit()  # when no thread can be spared for a committer

    async def run_async(self, sync: Callable[[], object]) -> None:
        """Return once a call of `sync` that started after this call has finished.

        Raises:
            Exception: Whatever that call of `sync` raised.
        """
        round_ = self._join(sync, None)
        if round_ is None:
            await self._fallback.run_async(sync)
            return
        await round_.done.wait()
        if round_.error is not None:
            round_.raise_error()

    async def run_range_async(self, sync_ranges: SyncRanges, offset: int, length: int) -> None:
        """Return once a range sync covering this range, started after this call, or a
        whole-mapping sync started after it, has finished.

        Raises:
            Exception: Whatever a sync of the round raised.
        """
        round_ = self._join(sync_ranges, (offset, length))
        if round_ is None:
            await self._fallback.run_range_async(sync_ranges, offset, length)
            return
        await round_.done.wait()
        if round_.error is not None:
            round_.raise_error()

    def _join(self, sync: Callable[..., object], span: tuple[int, int] | None) -> Round | None:
        """The committer's next round, starting a committer if need be; None if none can run."""
        mapping = self._mapping()
        assert mapping is not None  # the caller's method holds it
        committer: Committer | None = mapping._committer
        round_ = committer.join(sync, span) if committer is not None else None
        if round_ is None:
            committer = None if mapping._closed else Committer.start(mapping)
            if committer is None:
                return None
            mapping._committer = committer
            round_ = committer.join(sync, span)
            assert round_ is not None  # a new committer serves this loop
        return round_
