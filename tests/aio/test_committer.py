"""The committer thread: async callers share syncs run back to back by one thread."""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
import weakref
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup

from conftest import Disk, dirty_kib, gather_async, linux_only, no_workers_left, worker_threads
from mmap_io import MemoryMappedFile, MmapIoError, aio
from mmap_io.aio._committer import merged

pytestmark = pytest.mark.anyio
PAGE = 4096


def _committers() -> int:
    return len(worker_threads("mmap_io-committer"))


async def test_concurrent_callers_share_the_committers_syncs(path: Path) -> None:
    await no_workers_left()
    disk = Disk()
    async with aio.create_rw(path, PAGE) as mm:
        await gather_async(*(partial(mm._commit_async.run_async, disk.sync) for _ in range(50)))
        assert 1 <= disk.calls <= 3
        assert _committers() == 1
        assert aio.offload_limiter().borrowed_tokens == 1  # the committer holds one slot
    await no_workers_left()  # close ended it and gave the slot back


async def test_durable_writes_from_many_tasks_are_on_disk(path: Path) -> None:
    async with aio.create_rw(path, 64 * PAGE) as mm:
        before = mm.sync_count

        async def writer(k: int) -> None:
            for i in range(10):
                await mm.update_region_async(k * PAGE + i, bytes([k + 1]))

        async with anyio.create_task_group() as group:
            for k in range(64):
                group.start_soon(writer, k)
        assert 1 <= mm.sync_count - before < 64 * 10 // 4
        assert mm.pending_bytes == 0
    with MemoryMappedFile.open_ro(path) as fresh:
        for k in range(64):
            assert fresh.read_bytes(k * PAGE, 10) == bytes([k + 1]) * 10


async def test_a_failing_sync_fails_its_whole_round_and_strands_nobody(path: Path) -> None:
    disk = Disk(fail_on=1)
    outcomes: list[str] = []
    errors: list[OSError] = []
    async with aio.create_rw(path, PAGE) as mm:

        async def caller() -> None:
            try:
                await mm._commit_async.run_async(disk.sync)
                outcomes.append("ok")
            except OSError as error:
                assert error.errno == 5
                outcomes.append("failed")
                errors.append(error)

        await gather_async(*(caller for _ in range(20)))
        assert len(outcomes) == 20 and outcomes.count("failed") >= 1
        # Each caller raised its own copy, caused by the one failure, with a traceback
        # of its own frames only (a shared object's would grow with every raise).
        assert len({id(error) for error in errors}) == len(errors)
        assert all(error.__cause__ is errors[0].__cause__ is not None for error in errors)
        depths = {len(traceback.extract_tb(error.__traceback__)) for error in errors}
        assert len(depths) == 1
        assert disk.calls == 1 + (outcomes.count("ok") > 0)  # the late ones shared call 2
        await mm._commit_async.run_async(disk.sync)  # the committer goes on working
        assert disk.calls == 2 + (outcomes.count("ok") > 0)


@contextlib.asynccontextmanager
async def committer_held(mm: Any) -> AsyncIterator[TaskGroup]:
    """A task group whose tasks' syncs all make one round: the committer is held in a
    sync of its own until the block ends (and a moment after, for late joiners)."""
    started, release = threading.Event(), threading.Event()

    def held() -> None:
        started.set()
        release.wait(5)

    async with anyio.create_task_group() as group:
        group.start_soon(mm._commit_async.run_async, held)
        while not started.is_set():
            await anyio.sleep(0.001)
        try:
            yield group
            await anyio.sleep(0.05)  # tasks started in the block have joined by now
        finally:
            release.set()


async def test_a_cancelled_caller_leaves_its_round_mates_waiting_for_the_sync(path: Path) -> None:
    returned: list[int] = []
    doomed = anyio.CancelScope()
    async with aio.create_rw(path, PAGE) as mm:

        async def caller() -> None:
            await mm.flush_async()
            returned.append(mm.sync_count)  # syncs finished when this caller returned

        async def doomed_caller() -> None:
            with doomed:
                await mm.flush_async()

        async with committer_held(mm) as group:
            group.start_soon(doomed_caller)
            for _ in range(7):
                group.start_soon(caller)
            await anyio.sleep(0.01)  # all eight wait for the round after the held sync
            doomed.cancel()
        assert doomed.cancelled_caught
        assert returned == [1] * 7  # the round's one flush ran, and they waited for it
        await mm.flush_async()  # the committer goes on working
        assert mm.sync_count == 2


async def test_range_flushes_of_one_round_share_one_sync_per_run_of_pages(path: Path) -> None:
    calls: list[list[tuple[int, int]]] = []
    async with aio.create_rw(path, 8 * PAGE) as mm, committer_held(mm) as group:
        for span in [(0, 10), (PAGE + 5, 10), (5 * PAGE, 100)] * 10:
            group.start_soon(mm._commit_async.run_range_async, calls.append, *span)
    assert calls == [[(0, PAGE + 15), (5 * PAGE, 100)]]  # one call for thirty callers


def test_ranges_are_merged_where_they_share_or_adjoin_a_page() -> None:
    assert merged([(PAGE + 1, 2), (0, 10), (3, 4)]) == [(0, PAGE + 3)]  # pages 0 and 1
    assert merged([(0, 10), (2 * PAGE, 1)]) == [(0, 10), (2 * PAGE, 1)]  # a page between
    assert merged([(0, 3 * PAGE), (PAGE, 10)]) == [(0, 3 * PAGE)]  # inside another
    assert merged([(10, 5), (10, 5)]) == [(10, 5)]


@linux_only
async def test_concurrent_flush_range_async_callers_share_a_round(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[tuple[int, int]]] = []
    real = MemoryMappedFile._sync_ranges_now

    def counted(self: MemoryMappedFile, ranges: list[tuple[int, int]]) -> None:
        calls.append(ranges)
        real(self, ranges)

    monkeypatch.setattr(MemoryMappedFile, "_sync_ranges_now", counted)
    async with aio.create_rw(path, 8 * PAGE) as mm:
        mm.update_region(0, os.urandom(8 * PAGE))
        async with committer_held(mm) as group:
            for span in [(0, 10), (PAGE + 5, 10), (5 * PAGE, 100)] * 10:
                group.start_soon(mm.flush_range_async, *span)
        assert calls == [[(0, PAGE + 15), (5 * PAGE, 100)]]
        assert dirty_kib(mm.address) == 5 * PAGE // 1024  # pages 0, 1 and 5 are clean
        assert mm.sync_count == 0 and mm.pending_bytes == 8 * PAGE  # ranges: no flush


@linux_only
async def test_a_range_cut_short_by_a_resize_fails_no_one(path: Path) -> None:
    async with aio.create_rw(path, 8 * PAGE) as mm:
        mm.update_region(0, b"x" * (8 * PAGE))
        async with committer_held(mm) as group:
            group.start_soon(mm.flush_range_async, 0, 10)
            group.start_soon(mm.flush_range_async, 6 * PAGE, 10)  # gone after the resize
            await anyio.sleep(0.01)
            mm.resize(4 * PAGE)
        assert dirty_kib(mm.address) == 3 * PAGE // 1024  # page 0 was written back


@linux_only
async def test_flush_range_async_of_the_whole_mapping_is_a_flush(path: Path) -> None:
    async with aio.create_rw(path, 4 * PAGE) as mm:
        mm.update_region(0, b"y" * (4 * PAGE))
        await mm.flush_range_async(0, 2 * PAGE)
        assert mm.sync_count == 0 and mm.pending_bytes == 4 * PAGE
        await mm.flush_range_async(0, len(mm))
        assert dirty_kib(mm.address) == 0
        assert mm.sync_count == 1 and mm.pending_bytes == 0


async def test_an_idle_committer_ends_and_the_next_caller_starts_another(path: Path) -> None:
    await no_workers_left()
    async with aio.create_rw(path, PAGE) as mm:
        await mm.update_region_async(0, b"one")
        assert _committers() == 1
        await no_workers_left()  # idle for IDLE seconds: it ended
        await mm.update_region_async(3, b"two")
        assert mm.sync_count == 2
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(0, 6) == b"onetwo"


async def test_without_a_free_slot_a_caller_leads_a_sync_itself(path: Path) -> None:
    await no_workers_left()
    limiter = aio.offload_limiter()
    limiter.total_tokens = 1
    try:
        async with aio.create_rw(path, PAGE) as mm:
            await mm.touch_pages_async()  # the write's copy needs no slot, only its sync
            taken, release = anyio.Event(), anyio.Event()

            async def hold_the_only_slot() -> None:
                async with limiter:
                    taken.set()
                    await release.wait()

            async def write() -> None:
                await mm.update_region_async(0, b"led")

            async with anyio.create_task_group() as group:
                group.start_soon(hold_the_only_slot)
                await taken.wait()
                group.start_soon(write)
                await anyio.sleep(0.05)
                assert mm.sync_count == 0  # waiting for a slot, like any offload...
                assert _committers() == 0  # ...and no committer started without one
                release.set()
            assert mm.sync_count == 1 and _committers() == 0
    finally:
        limiter.total_tokens = aio.DEFAULT_OFFLOAD_THREADS


async def test_flushing_a_closed_mapping_starts_no_committer(path: Path) -> None:
    await no_workers_left()
    mm = await aio.create_rw(path, PAGE)
    mm.close()
    with pytest.raises(MmapIoError, match="closed") as caught:
        await mm.flush_async()
    assert isinstance(caught.value, ValueError)
    assert _committers() == 0


async def test_flushing_a_copy_on_write_mapping_needs_no_committer(path: Path) -> None:
    await no_workers_left()
    path.write_bytes(bytes(PAGE))
    async with aio.open_cow(path) as mm:
        mm.update_region(0, b"private")
        assert mm.pending_bytes == 7
        await mm.flush_async()
        assert mm.pending_bytes == 0
        mm.update_region(0, b"again")
        await mm.flush_range_async(0, len(mm))  # the whole mapping: the same flush
        assert mm.pending_bytes == 0 and mm.sync_count == 0
        assert _committers() == 0  # nothing to write back, so no thread was started
    assert path.read_bytes() == bytes(PAGE)


def test_a_mapping_flushed_from_one_event_loop_after_another(
    path: Path, anyio_backend: Any
) -> None:
    """A committer serves one loop: the next loop, within its idle time, gets its own."""
    backend, options = anyio_backend
    with MemoryMappedFile.create_rw(path, PAGE) as mm:
        for text in (b"first", b"later"):

            async def write(text: bytes = text) -> None:
                with anyio.fail_after(5):
                    await mm.update_region_async(0, text)

            anyio.run(write, backend=backend, backend_options=options)
            with MemoryMappedFile.open_ro(path) as fresh:
                assert fresh.read_bytes(0, 5) == text


def test_a_mapping_flushed_from_trio_then_asyncio_then_trio(path: Path) -> None:
    """A worker of one backend, asked from the other, steps aside rather than failing."""
    with MemoryMappedFile.create_rw(path, PAGE) as mm:
        for offset, text, backend in [(0, b"trio ", "trio"), (5, b"asyncio ", "asyncio")] * 2:
            anyio.run(mm.update_region_async, offset, text, backend=backend)
        assert mm.sync_count == 4
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(0, 13) == b"trio asyncio "


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_its_own_committer(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, PAGE) as mm:

        async def write(text: bytes) -> None:
            with anyio.fail_after(5):
                await mm.update_region_async(0, text)

        anyio.run(write, b"parent")
        assert mm._committer is not None  # alive at the fork
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            anyio.run(write, b"child!")
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    with MemoryMappedFile.open_ro(path) as fresh:  # the child's durable write
        assert fresh.read_bytes(0, 6) == b"child!"


async def test_a_mapping_dropped_unclosed_is_freed_at_once(path: Path) -> None:
    """Its pager and committer hold it only while they work for someone."""
    await no_workers_left()
    mm = await aio.create_rw(path, 64 * PAGE)
    await mm.update_region_async(0, b"durable")
    await mm.read_bytes_async(40 * PAGE, 8)  # a fresh page: through the pager on Linux
    assert _committers() == 1
    gone = weakref.ref(mm)
    del mm
    assert gone() is None  # by reference counting alone, no garbage collection
    await no_workers_left()  # its threads then end on their own
