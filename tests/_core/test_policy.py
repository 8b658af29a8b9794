"""Flush policies and pending_bytes: exact counts on every write path."""

from __future__ import annotations

import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import dirty_kib, linux_only
from mmap_io import FlushPolicy, MemoryMappedFile, MmapIoError, MmapMode, OutOfBoundsError
from mmap_io._core._policy import MAX_MILLIS


def test_policies_compare_by_content() -> None:
    assert FlushPolicy.every_bytes(10) == FlushPolicy.every_bytes(10)
    assert FlushPolicy.every_bytes(10) != FlushPolicy.every_bytes(11)
    assert FlushPolicy.every_writes(3) != FlushPolicy.every_bytes(3)
    assert FlushPolicy.every_millis(5) == FlushPolicy.every_millis(5)
    assert len({FlushPolicy.ALWAYS, FlushPolicy.ALWAYS, FlushPolicy.NEVER}) == 2
    assert repr(FlushPolicy.every_bytes(4)) == "FlushPolicy.every_bytes(4)"
    assert repr(FlushPolicy.MANUAL) == "FlushPolicy.MANUAL"


@pytest.mark.parametrize("bad", [True, 1.5, None, "3"])
def test_policy_counts_must_be_ints(bad: object) -> None:
    with pytest.raises(TypeError):
        FlushPolicy.every_bytes(bad)  # type: ignore[arg-type]


def test_negative_policy_counts_are_value_errors() -> None:
    with pytest.raises(ValueError):
        FlushPolicy.every_writes(-1)


def _mapping(path: Path, policy: FlushPolicy, size: int = 4096) -> MemoryMappedFile:
    return MemoryMappedFile.create_rw(path, size, flush_policy=policy)


def test_default_policy_is_never_and_counts_bytes(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        assert mm.flush_policy == FlushPolicy.NEVER
        mm.update_region(0, b"abc")
        mm.update_region(10, b"")
        assert mm.pending_bytes == 3


def test_every_bytes_flushes_when_the_count_reaches_n(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_bytes(10)) as mm:
        seen = []
        for n in (3, 3, 3, 1):
            mm.update_region(0, b"x" * n)
            seen.append(mm.pending_bytes)
        assert seen == [3, 6, 9, 0]


def test_every_bytes_zero_never_flushes(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_bytes(0)) as mm:
        for _ in range(5):
            mm.update_region(0, b"x" * 100)
        assert mm.pending_bytes == 500


@linux_only
def test_every_writes_flushes_on_the_nth_write(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_writes(3)) as mm:
        pending, dirty = [], []
        for i in range(6):
            mm.update_region(i * 8, b"y" * 8)
            pending.append(mm.pending_bytes)
            dirty.append(dirty_kib(mm.address))
        assert pending == [8, 16, 0, 8, 16, 0]
        assert [d == 0 for d in dirty] == [False, False, True, False, False, True]


def test_empty_and_rejected_writes_count_nothing(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_writes(2)) as mm:
        mm.update_region(0, b"")
        with pytest.raises(OutOfBoundsError):
            mm.update_region(4095, b"too long")
        mm.update_region(0, b"a")
        assert mm.pending_bytes == 1  # the first two did not count as writes
        mm.update_region(0, b"b")
        assert mm.pending_bytes == 0


@linux_only
def test_always_flushes_every_write(path: Path) -> None:
    with _mapping(path, FlushPolicy.ALWAYS) as mm:
        for i in range(3):
            mm.update_region(i * 100, b"z" * 10)
            assert mm.pending_bytes == 0
            assert dirty_kib(mm.address) == 0


def test_mutable_views_count_their_full_length_when_released(path: Path) -> None:
    with _mapping(path, FlushPolicy.NEVER) as mm:
        view = mm.as_slice_mut(0, 100)
        view[:1] = b"q"
        assert mm.pending_bytes == 0  # not released yet
        view.release()
        assert mm.pending_bytes == 100
        with mm.as_slice_mut(0, 50) as other:
            other[:] = b"w" * 50
        assert mm.pending_bytes == 150
        dropped = mm.as_slice_mut(0, 20)
        del dropped  # garbage-collected counts as released
        assert mm.pending_bytes == 170


def test_mutable_views_drive_every_bytes(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_bytes(100)) as mm:
        with mm.as_slice_mut(0, 60):
            pass
        assert mm.pending_bytes == 60
        with mm.as_slice_mut(0, 60):
            pass
        assert mm.pending_bytes == 120 and mm.sync_count == 0  # reading only counts
        mm.update_region(0, b"x")  # the next write finds the policy due
        assert mm.pending_bytes == 0 and mm.sync_count == 1


def test_chunks_mut_counts_each_chunk_as_a_write(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_writes(4), size=1000) as mm:
        mm.chunks_mut(100).for_each_mut(lambda offset, view: None)
        # 10 chunks: flushed after the 4th and the 8th, two chunks (200 bytes) remain.
        assert mm.pending_bytes == 200


def test_many_short_lived_mutable_views_do_not_accumulate(path: Path) -> None:
    with _mapping(path, FlushPolicy.NEVER) as mm:
        tracemalloc.start()
        try:
            for i in range(1000):
                with mm.as_slice_mut(i, 1) as view:
                    view[0] = 1
            kept, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert kept < 32 << 10  # settled as they go, not 1000 remembered views
        assert mm.pending_bytes == 1000


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 64), max_size=30),
    threshold=st.integers(0, 200),
)
def test_every_bytes_accounting_matches_a_model(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], threshold: int
) -> None:
    path = tmp_path_factory.mktemp("policy") / "f.bin"
    with _mapping(path, FlushPolicy.every_bytes(threshold)) as mm:
        model = 0
        for n in sizes:
            mm.update_region(0, b"m" * n)
            model += n
            if threshold and model >= threshold:
                model = 0
            assert mm.pending_bytes == model


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 64), max_size=30), every=st.integers(0, 6))
def test_every_writes_accounting_matches_a_model(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], every: int
) -> None:
    path = tmp_path_factory.mktemp("policy") / "f.bin"
    with _mapping(path, FlushPolicy.every_writes(every)) as mm:
        pending = writes = 0
        for n in sizes:
            mm.update_region(0, b"m" * n)
            if n:
                pending, writes = pending + n, writes + 1
                if every and writes >= every:
                    pending = writes = 0
            assert mm.pending_bytes == pending


def test_exact_counts_under_threads(path: Path) -> None:
    with _mapping(path, FlushPolicy.NEVER, size=1 << 16) as mm:

        def writer(base: int) -> None:
            for i in range(2000):
                mm.update_region(base + (i % 64) * 8, b"12345678")

        threads = [threading.Thread(target=writer, args=(k * 1024,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert mm.pending_bytes == 8 * 2000 * 8


@linux_only
def test_every_millis_flushes_in_a_background_thread_and_stops_on_close(path: Path) -> None:
    before = {t.ident for t in threading.enumerate()}
    mm = _mapping(path, FlushPolicy.every_millis(10))
    timers = [t for t in threading.enumerate() if t.ident not in before]
    assert len(timers) == 1
    mm.update_region(0, b"tick")
    deadline = time.monotonic() + 5
    while mm.pending_bytes and time.monotonic() < deadline:
        time.sleep(0.005)
    assert mm.pending_bytes == 0 and dirty_kib(mm.address) == 0
    mm.close()
    assert not timers[0].is_alive()


def test_every_millis_zero_behaves_like_manual(path: Path) -> None:
    before = threading.active_count()
    with _mapping(path, FlushPolicy.every_millis(0)) as mm:
        assert threading.active_count() == before
        mm.update_region(0, b"x")
        time.sleep(0.05)
        assert mm.pending_bytes == 1


def test_automatic_policies_flush_on_close(path: Path) -> None:
    mm = _mapping(path, FlushPolicy.every_bytes(1000))
    mm.update_region(0, b"tail")
    mm.close()
    with MemoryMappedFile.open_ro(path) as ro:
        assert ro.read_bytes(0, 4) == b"tail"


def test_copy_on_write_counts_and_flush_resets(path: Path) -> None:
    path.write_bytes(bytes(100))
    with MemoryMappedFile.load(path, MmapMode.COPY_ON_WRITE) as cow:
        cow.update_region(0, b"abc")
        assert cow.pending_bytes == 3
        cow.flush()
        assert cow.pending_bytes == 0


def test_open_close_cycles_leave_no_thread_or_descriptor(path: Path) -> None:
    import os

    path.write_bytes(bytes(4096))
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    threads = threading.active_count()
    for i in range(500):
        policy = [FlushPolicy.NEVER, FlushPolicy.every_millis(1), FlushPolicy.ALWAYS][i % 3]
        with MemoryMappedFile.open_rw(path, flush_policy=policy) as mm:
            mm.update_region(0, b"c")
    assert threading.active_count() == threads
    if fds:
        assert len(os.listdir("/proc/self/fd")) == fds


@pytest.mark.parametrize(
    "make", [FlushPolicy.every_millis, lambda ms: FlushPolicy("every_millis", ms)]
)
def test_every_millis_beyond_what_a_timer_can_wait_is_refused_when_made(make: Any) -> None:
    with pytest.raises(OverflowError):  # what the flusher thread would have died of
        threading.Event().wait(10**13 / 1000)
    assert threading.TIMEOUT_MAX * 1000 - 1 < MAX_MILLIS <= threading.TIMEOUT_MAX * 1000
    for ms in (10**13, MAX_MILLIS + 1):
        with pytest.raises(OverflowError) as info:
            make(ms)
        assert isinstance(info.value, MmapIoError) and str(ms) in str(info.value)


def test_the_longest_every_millis_runs_a_timer_until_close(path: Path) -> None:
    with _mapping(path, FlushPolicy.every_millis(MAX_MILLIS)) as mm:
        timers = [t for t in threading.enumerate() if t.name == "mmap_io-flush-timer"]
        assert len(timers) == 1 and timers[0].is_alive()  # waiting, not dead of OverflowError
        mm.update_region(0, b"x")
        mm.flush()
    timers[0].join(5)
    assert not timers[0].is_alive()


@pytest.mark.parametrize(("kind", "value"), [("always", 3), ("never", 1), ("manual", 2)])
def test_policies_without_a_number_refuse_one(kind: str, value: int) -> None:
    with pytest.raises(ValueError):
        FlushPolicy(kind, value)


@pytest.mark.parametrize("bad", [1.5, "3", None, True])
def test_the_policy_constructor_checks_its_number_too(bad: object) -> None:
    with pytest.raises(TypeError):
        FlushPolicy("every_bytes", bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FlushPolicy("every_writes", -1)
