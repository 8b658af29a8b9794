"""Group commit: callers that need their writes durable at the same time share one sync.

The one algorithm for threads and event loops alike. A caller joins the open round;
a round is taken for running only when no other round runs, so every caller in it
arrived before its sync started, and each may return once its round has finished.
Whoever is free runs the next round: a thread calling `flush()` leads it itself, or a
committer thread (`_workers.py`) runs rounds back to back for event-loop callers,
whom it wakes through the waiters they joined with. One round runs at a time; callers
who arrive meanwhile form the next one.

A round syncs the whole mapping if any caller asked for that, else the ranges asked
for, one msync per run of ranges that share or adjoin a page.
"""

from __future__ import annotations

import copy
import mmap
import threading
from collections.abc import Callable
from typing import Any, NoReturn, Protocol


class Waiter(Protocol):
    """How a round reaches a caller that is not a thread: `fire()`, from any thread."""

    def fire(self) -> None: ...


class Round:
    """The callers one sync covers, and how it ended."""

    __slots__ = ("callers", "error", "finished", "ranges", "waiters", "whole")

    def __init__(self) -> None:
        self.callers = 0
        self.whole = False  # some caller asked for the whole mapping
        self.ranges: list[tuple[int, int]] = []  # (offset, length) asked for otherwise
        self.waiters: dict[Any, Waiter] = {}  # one per event loop, keyed by the loop
        self.finished = False
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


class Rounds:
    """One mapping's flush requests, grouped into rounds that run one at a time."""

    __slots__ = ("_closed", "_cond", "_open", "_running", "drivers")

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._open: Round | None = None
        self._running = False
        self._closed: Exception | None = None  # the error rounds fail with once closed
        self.drivers = 0  # committer threads serving these rounds

    def join(
        self,
        span: tuple[int, int] | None,
        key: Any = None,
        make_waiter: Callable[[], Waiter] | None = None,
    ) -> tuple[Round, Waiter | None]:
        """Join the open round, for the whole mapping (`span` None) or one range.

        With `make_waiter`, also return the round's waiter for `key` (made on first
        use), which is fired once the round has finished.
        """
        with self._cond:
            round_ = self._open
            if round_ is None:
                round_ = self._open = Round()
                self._cond.notify_all()  # a committer may be waiting for work
            round_.callers += 1
            if span is None:
                round_.whole = True
            else:
                round_.ranges.append(span)
            waiter = None
            if make_waiter is not None:
                waiter = round_.waiters.get(key)
                if waiter is None:
                    waiter = round_.waiters[key] = make_waiter()
            abandoned = self._abandon() if self._closed is not None and not self._running else None
        if abandoned is not None:
            self._wake(abandoned)
        return round_, waiter

    def waiting(self) -> int:
        """How many callers have joined the round that runs next (a diagnostic)."""
        with self._cond:
            return self._open.callers if self._open is not None else 0

    def close(self, error: Exception) -> None:
        """The mapping closed: the open round (and any later one) fails with `error`
        instead of waiting for a committer that will not come."""
        with self._cond:
            self._closed = error
            abandoned = None if self._running else self._abandon()
        if abandoned is not None:
            self._wake(abandoned)

    def _abandon(self) -> Round | None:
        """Fail the open round with the closed error (lock held); the caller wakes it."""
        round_, self._open = self._open, None
        if round_ is not None:
            round_.error = self._closed
            round_.finished = True
            self._cond.notify_all()
        return round_

    def lead(self, round_: Round, run: Callable[[Round], None]) -> None:
        """Return once `round_` has finished, running it in this thread if nobody else
        runs rounds now.

        Raises:
            Exception: Whatever the round's sync raised.
        """
        with self._cond:
            while not round_.finished and self._running:
                self._cond.wait()
            if not round_.finished:
                # Nobody runs rounds and ours has not run: it is still the open one.
                self._take()
        if not round_.finished:
            self._run(round_, run)
        if round_.error is not None:
            round_.raise_error()

    def take(self, timeout: float, keep_going: Callable[[], bool]) -> Round | None:
        """The next round to run, waiting up to `timeout` for one (a committer's call).

        None once nothing came or `keep_going()` turned false: the caller stops
        driving (counted under the lock, so a joiner that finds no driver left knows
        to start one).
        """
        with self._cond:
            self._cond.wait_for(
                lambda: (self._open is not None and not self._running) or not keep_going(),
                timeout,
            )
            if self._open is None or self._running or not keep_going():
                self.drivers -= 1
                return None
            return self._take()

    def wake(self) -> None:
        """Have waiting committers look at their `keep_going` again."""
        with self._cond:
            self._cond.notify_all()

    def needs_driver(self) -> bool:
        """True if no committer serves these rounds; the caller then counts as starting
        one, and must call `driver_gone` if it cannot."""
        with self._cond:
            if self.drivers:
                return False
            self.drivers += 1
            return True

    def driver_gone(self) -> None:
        """A committer ended (or never started) other than by `take` giving None."""
        with self._cond:
            self.drivers -= 1

    def _take(self) -> Round:
        round_ = self._open
        assert round_ is not None
        self._open = None
        self._running = True
        return round_

    def _run(self, round_: Round, run: Callable[[Round], None]) -> None:
        """Run a taken round, then wake everyone in it."""
        try:
            run(round_)
        except Exception as error:  # every caller in the round needed this sync
            round_.error = error
        finally:
            self.finish(round_)

    def finish(self, round_: Round) -> None:
        """Mark a taken round finished and wake its callers."""
        with self._cond:
            round_.finished = True
            self._running = False
            self._cond.notify_all()
            abandoned = self._abandon() if self._closed is not None else None
        self._wake(round_)
        if abandoned is not None:
            self._wake(abandoned)

    @staticmethod
    def _wake(round_: Round) -> None:
        for waiter in round_.waiters.values():
            waiter.fire()

    def run(self, round_: Round, run: Callable[[Round], None]) -> None:
        """Run a round returned by `take` (a committer's call)."""
        self._run(round_, run)


def merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The byte ranges that cover `ranges`, joining those that share or adjoin a page:
    one msync over two pages costs little more than over one (~55 µs, ~3 µs a page)."""
    page = mmap.PAGESIZE
    runs: list[tuple[int, int]] = []
    for offset, length in sorted(ranges):
        if runs:
            start, run_length = runs[-1]
            if offset // page <= (start + run_length - 1) // page + 1:
                runs[-1] = (start, max(run_length, offset + length - start))
                continue
        runs.append((offset, length))
    return runs
