"""Group commit on its own: rounds shared by threads and by a committer, with stand-in syncs."""

from __future__ import annotations

import mmap
import threading
import time

import pytest

from mmap_io._core._rounds import Round, Rounds, merged

PAGE = mmap.PAGESIZE


class Held:
    """A stand-in sync: the first call waits for `release`; every call is counted."""

    def __init__(self, fail_on: int = 0) -> None:
        self.runs: list[Round] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.fail_on = fail_on

    def __call__(self, round_: Round) -> None:
        self.runs.append(round_)
        if len(self.runs) == 1:
            self.entered.set()
            assert self.release.wait(5)
        if len(self.runs) == self.fail_on:
            raise OSError(5, "I/O error")


def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.001)
    assert condition()  # type: ignore[operator]


def _callers(
    rounds: Rounds, sync: Held, n: int, errors: list[BaseException]
) -> list[threading.Thread]:
    def call() -> None:
        try:
            round_, _ = rounds.join(None)
            rounds.lead(round_, sync)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for thread in threads:
        thread.start()
    return threads


def test_threads_that_arrive_during_a_sync_share_the_next_one() -> None:
    rounds, sync, errors = Rounds(), Held(), []
    first = _callers(rounds, sync, 1, errors)
    assert sync.entered.wait(5)  # round 1 runs, held
    later = _callers(rounds, sync, 20, errors)
    _until(lambda: rounds.waiting() == 20)  # all twenty joined round 2
    sync.release.set()
    for thread in first + later:
        thread.join()
    assert errors == [] and len(sync.runs) == 2 and sync.runs[1].callers == 20


def test_sequential_callers_each_get_their_own_sync() -> None:
    rounds, sync = Rounds(), Held()
    sync.release.set()
    for _ in range(5):
        round_, _ = rounds.join(None)
        rounds.lead(round_, sync)
    assert len(sync.runs) == 5


def test_a_failing_sync_fails_its_whole_round_and_the_next_round_runs() -> None:
    rounds, sync, errors = Rounds(), Held(fail_on=2), []
    first = _callers(rounds, sync, 1, errors)
    assert sync.entered.wait(5)
    later = _callers(rounds, sync, 10, errors)
    _until(lambda: rounds.waiting() == 10)
    sync.release.set()
    for thread in first + later:
        thread.join()
    assert len(errors) == 10 and all(isinstance(e, OSError) and e.errno == 5 for e in errors)
    assert len({id(e) for e in errors}) == 10  # a copy each, caused by the one failure
    assert all(e.__cause__ is errors[0].__cause__ is not None for e in errors)
    round_, _ = rounds.join(None)
    rounds.lead(round_, sync)  # nobody stranded: the next round runs
    assert len(sync.runs) == 3


class Waiter:
    def __init__(self) -> None:
        self.fired = threading.Event()

    def fire(self) -> None:
        self.fired.set()


def test_a_committer_runs_rounds_and_fires_their_waiters() -> None:
    rounds, sync = Rounds(), Held()
    sync.release.set()
    assert rounds.needs_driver() and not rounds.needs_driver()  # the first caller starts one
    round_, waiter = rounds.join((0, 10), "loop", Waiter)
    assert waiter is not None and rounds.join((PAGE, 1), "loop", Waiter)[1] is waiter
    taken = rounds.take(1.0, lambda: True)
    assert taken is round_ and taken.ranges == [(0, 10), (PAGE, 1)] and not taken.whole
    rounds.run(taken, sync)
    assert waiter.fired.is_set() and round_.finished and round_.error is None
    assert rounds.take(0.01, lambda: True) is None  # idle: the driver stops counting
    assert rounds.needs_driver()


def test_closing_fails_the_waiting_round_instead_of_stranding_it() -> None:
    rounds = Rounds()
    round_, waiter = rounds.join(None, "loop", Waiter)
    rounds.close(ValueError("closed"))
    assert waiter is not None and waiter.fired.is_set() and isinstance(round_.error, ValueError)
    late, late_waiter = rounds.join(None, "loop", Waiter)
    assert late_waiter is not None and late_waiter.fired.is_set() and late.finished
    with pytest.raises(ValueError):
        rounds.lead(late, Held())


def test_ranges_are_merged_where_they_share_or_adjoin_a_page() -> None:
    assert merged([(PAGE + 1, 2), (0, 10), (3, 4)]) == [(0, PAGE + 3)]  # pages 0 and 1
    assert merged([(0, 10), (2 * PAGE, 1)]) == [(0, 10), (2 * PAGE, 1)]  # a page between
    assert merged([(0, 3 * PAGE), (PAGE, 10)]) == [(0, 3 * PAGE)]  # inside another
    assert merged([(10, 5), (10, 5)]) == [(10, 5)]
