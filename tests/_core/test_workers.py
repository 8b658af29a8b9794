"""The pager thread on its own: groups of readers, and the order of its paging steps."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import believed_resident, write_cold
from mmap_io import MemoryMappedFile
from mmap_io._core import _paging
from mmap_io._core._workers import GROUP, Pager

PAGE = os.sysconf("SC_PAGE_SIZE")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="paging on Linux")


class Waiter:
    """What an event loop would hand the pager; here, a thread's event."""

    def __init__(self) -> None:
        self.fired = threading.Event()

    def fire(self) -> None:
        self.fired.set()


def test_the_pager_wakes_readers_in_groups(path: Path) -> None:
    """One wake-up holds a loop for at most GROUP readers' copies."""
    write_cold(path, os.urandom(2 * (GROUP + 5) * PAGE))
    exits: list[bool] = []
    with MemoryMappedFile.open_ro(path) as mm:
        pager = Pager.start(mm, lambda: exits.append(True))
        assert pager is not None
        waiters = [pager.add(page * PAGE, 8, "loop", Waiter) for page in range(2 * GROUP + 5)]
        groups = list(dict.fromkeys(waiters))
        assert [waiters.count(group) for group in groups] == [GROUP, GROUP, 5]
        other = pager.add((2 * GROUP + 5) * PAGE, 8, "another loop", Waiter)
        assert other not in groups  # a group never mixes two loops' readers
        for waiter in [*groups, other]:
            assert waiter is not None and waiter.fired.wait(5)
        assert believed_resident(mm, 0, (2 * GROUP + 6) * PAGE)
        pager.stop()
    for _ in range(500):
        if exits:
            break
        threading.Event().wait(0.01)
    assert exits == [True]  # its exit hook ran once, as the thread ended


def test_reads_queued_while_the_pager_waits_start_before_it_waits_again(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pager waits for one group at a time and starts newly queued reads in between,
    so a late read does not wait for every group already started."""
    write_cold(path, os.urandom((GROUP + 2) * PAGE))
    steps: list[tuple[str, list[int]]] = []
    waiting, release = threading.Event(), threading.Event()
    start, finish = _paging.start_page_in, _paging.finish_page_in

    def recording_start(mapping: Any, ranges: list[tuple[int, int]]) -> None:
        steps.append(("start", [offset // PAGE for offset, _ in ranges]))
        start(mapping, ranges)

    def recording_finish(mapping: Any, ranges: list[tuple[int, int]]) -> None:
        steps.append(("finish", [offset // PAGE for offset, _ in ranges]))
        if not waiting.is_set():  # hold the pager in its first wait
            waiting.set()
            release.wait(5)
        finish(mapping, ranges)

    monkeypatch.setattr(_paging, "start_page_in", recording_start)
    monkeypatch.setattr(_paging, "finish_page_in", recording_finish)
    with MemoryMappedFile.open_ro(path) as mm:
        pager = Pager.start(mm, lambda: None)
        assert pager is not None
        waiters = [pager.add(page * PAGE, 8, "loop", Waiter) for page in range(GROUP + 1)]
        assert waiting.wait(5)
        waiters.append(pager.add((GROUP + 1) * PAGE, 8, "loop", Waiter))
        release.set()
        for waiter in dict.fromkeys(waiters):
            assert waiter is not None and waiter.fired.wait(5)
        pager.stop()
    assert steps == [
        ("start", list(range(GROUP + 1))),
        ("finish", list(range(GROUP))),
        ("start", [GROUP + 1]),
        ("finish", [GROUP]),
        ("finish", [GROUP + 1]),
    ]
