"""Atomics between real processes sharing one file: counters, a handshake, a spin lock."""

from __future__ import annotations

import multiprocessing
import os
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mmap_io import MemoryMappedFile, Ordering

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses fork")

FORK = multiprocessing.get_context("fork")
WORKERS = 4


def _run(target: object, *args: object) -> None:
    """Start WORKERS forked processes on `target` and check that each ran cleanly."""
    barrier = FORK.Barrier(WORKERS)
    procs = [FORK.Process(target=target, args=(*args, barrier)) for _ in range(WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0


def _count(path: str, rounds: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    with MemoryMappedFile.open_rw(path) as mm, mm.atomic_u64(64) as counter:
        barrier.wait()  # all start together, so the increments really interleave
        for _ in range(rounds):
            counter.fetch_add(1)


def test_four_processes_lose_no_increment(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        _run(_count, str(path), 50_000)
        with mm.atomic_u64(64) as counter:
            assert counter.load() == WORKERS * 50_000


# The spin lock guards a record of two plain (non-atomic) u64 fields, updated with a
# read-modify-write that would lose updates if two processes ever overlapped in it.
RECORD = struct.Struct("=QQ")


def _locked_updates(path: str, rounds: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    with MemoryMappedFile.open_rw(path) as mm, mm.atomic_u32(0) as lock:
        barrier.wait()
        for _ in range(rounds):
            while not lock.compare_exchange(0, 1, order=Ordering.ACQUIRE)[0]:
                os.sched_yield()
            count, total = RECORD.unpack(mm.read_bytes(64, RECORD.size))
            mm.update_region(64, RECORD.pack(count + 1, total + 3))
            lock.store(0, order=Ordering.RELEASE)


def test_a_compare_exchange_spin_lock_guards_a_plain_record(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        _run(_locked_updates, str(path), 3_000)
        assert RECORD.unpack(mm.read_bytes(64, RECORD.size)) == (WORKERS * 3_000, WORKERS * 9_000)
        with mm.atomic_u32(0) as lock:
            assert lock.load() == 0


# The child answers through the file: it waits for state 1 (a request), reads the
# request, writes request * 2 + 1 as the answer and sets state 2.
_ANSWERER = """
import sys, time
from mmap_io import MemoryMappedFile, Ordering

with MemoryMappedFile.open_rw(sys.argv[1]) as mm:
    cells = mm.atomic_u64_slice(0, 3)
    state, request, answer = cells
    deadline = time.monotonic() + 60
    while state.load(order=Ordering.ACQUIRE) != 1:
        if time.monotonic() > deadline:
            sys.exit("no request came")
        time.sleep(0.001)
    answer.store(request.load() * 2 + 1)
    state.store(2, order=Ordering.RELEASE)
    cells.release()
"""


def test_parent_and_child_hand_values_over_through_the_file(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm, mm.atomic_u64_slice(0, 3) as cells:
        state, request, answer = cells
        child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_ANSWERER), str(path)])
        try:
            request.store(20_000)
            state.store(1, order=Ordering.RELEASE)
            deadline = time.monotonic() + 60
            while state.load(order=Ordering.ACQUIRE) != 2 and time.monotonic() < deadline:
                time.sleep(0.001)
        finally:
            assert child.wait(timeout=60) == 0
        assert state.load() == 2
        assert answer.load() == 40_001  # seen through the parent's existing mapping
