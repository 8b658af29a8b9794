"""Durable writes and flushes from many tasks: rounds shared through the committer thread."""

from __future__ import annotations

import os
import threading
import traceback
import weakref
from pathlib import Path
from typing import Any

import anyio
import pytest

from conftest import RoundsHeld, dirty_kib, linux_only, no_workers_left, worker_threads
from mmap_io import FlushFailedError, MemoryMappedFile, MmapIoError, aio

pytestmark = pytest.mark.anyio
PAGE = os.sysconf("SC_PAGE_SIZE")


def _committers() -> int:
    return len(worker_threads("mmap_io-committer"))


async def test_durable_writes_from_many_tasks_are_on_disk(path: Path) -> None:
    async with aio.create_rw(path, 64 * PAGE) as mm:

        async def writer(k: int) -> None:
            for i in range(10):
                await mm.update_region_async(k * PAGE + i, bytes([k + 1]))

        async with anyio.create_task_group() as group:
            for k in range(64):
                group.start_soon(writer, k)
        assert mm.pending_bytes == 0
    async with aio.open_ro(path) as fresh:
        for k in range(64):
            assert fresh.read_bytes(k * PAGE, 10) == bytes([k + 1]) * 10


@pytest.mark.default_policy_only("counts the syncs and dirty pages of writes no policy flushed")
async def test_tasks_that_arrive_during_a_sync_share_the_next_one(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = RoundsHeld(monkeypatch)
    async with aio.create_rw(path, 64 * PAGE) as mm, anyio.create_task_group() as group:
        group.start_soon(mm.update_region_async, 0, b"first")
        await held.started()
        for k in range(1, 51):
            group.start_soon(mm.update_region_async, k * 8, b"later")
        await held.joined(mm, 50)
        held.release()
    assert len(held.rounds) == 2 and held.rounds[1].callers == 50
    assert mm.sync_count == 2


async def test_a_failing_sync_fails_its_whole_round_and_strands_nobody(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmap_io._core import _flush

    held = RoundsHeld(monkeypatch)
    real = _flush.flush_now
    failures = [1]

    def failing_once(host: Any) -> None:
        if len(held.rounds) == 2 and failures:
            failures.pop()
            raise FlushFailedError(5, "I/O error", str(path))
        real(host)

    monkeypatch.setattr(_flush, "flush_now", failing_once)
    errors: list[BaseException] = []
    async with aio.create_rw(path, PAGE) as mm:

        async def caller() -> None:
            try:
                await mm.flush_async()
            except FlushFailedError as error:
                errors.append(error)

        async with anyio.create_task_group() as group:
            group.start_soon(mm.flush_async)
            await held.started()
            for _ in range(20):
                group.start_soon(caller)
            await held.joined(mm, 20)
            held.release()
        assert len(errors) == 20  # the whole round failed, each caller with its own copy
        assert len({id(error) for error in errors}) == 20
        assert all(error.__cause__ is errors[0].__cause__ is not None for error in errors)
        assert len({len(traceback.extract_tb(e.__traceback__)) for e in errors}) == 1
        await mm.flush_async()  # the committer goes on working
        assert mm.sync_count == 2


async def test_a_cancelled_caller_leaves_its_round_mates_waiting_for_the_sync(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = RoundsHeld(monkeypatch)
    returned: list[int] = []
    doomed = anyio.CancelScope()
    async with aio.create_rw(path, PAGE) as mm:

        async def caller() -> None:
            await mm.flush_async()
            returned.append(mm.sync_count)  # syncs finished when this caller returned

        async def doomed_caller() -> None:
            with doomed:
                await mm.flush_async()

        async with anyio.create_task_group() as group:
            group.start_soon(mm.flush_async)
            await held.started()
            group.start_soon(doomed_caller)
            for _ in range(7):
                group.start_soon(caller)
            await held.joined(mm, 8)
            doomed.cancel()
            held.release()
        assert doomed.cancelled_caught
        assert returned == [2] * 7  # the round's one flush ran, and they waited for it
        await mm.flush_async()
        assert mm.sync_count == 3


@linux_only
@pytest.mark.default_policy_only("counts the syncs and dirty pages of writes no policy flushed")
async def test_concurrent_flush_range_async_callers_share_a_round(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with aio.create_rw(path, 8 * PAGE) as mm:
        await mm.update_region_async(0, os.urandom(8 * PAGE))
        mm.update_region(0, os.urandom(8 * PAGE))  # dirty again, not flushed
        held = RoundsHeld(monkeypatch)
        async with anyio.create_task_group() as group:
            group.start_soon(mm.flush_range_async, 7 * PAGE, 1)
            await held.started()
            for span in [(0, 10), (PAGE + 5, 10), (5 * PAGE, 100)] * 10:
                group.start_soon(mm.flush_range_async, *span)
            await held.joined(mm, 30)
            held.release()
        assert len(held.rounds) == 2 and held.rounds[1].callers == 30
        assert dirty_kib(mm.address) == 4 * PAGE // 1024  # pages 0, 1, 5 and 7 are clean
        assert mm.sync_count == 1 and mm.pending_bytes == 8 * PAGE  # ranges: no flush


@linux_only
@pytest.mark.default_policy_only("counts the syncs and dirty pages of writes no policy flushed")
async def test_a_range_cut_short_by_a_resize_fails_no_one(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = RoundsHeld(monkeypatch)
    async with aio.create_rw(path, 8 * PAGE) as mm:
        await mm.touch_pages_async()  # resident: the sync write below faults nothing
        mm.update_region(0, b"x" * (8 * PAGE))
        async with anyio.create_task_group() as group:
            group.start_soon(mm.flush_range_async, 7 * PAGE, 1)
            await held.started()
            group.start_soon(mm.flush_range_async, 0, 10)
            group.start_soon(mm.flush_range_async, 6 * PAGE, 10)  # gone after the resize
            await held.joined(mm, 2)
            await mm.resize_async(4 * PAGE)
            held.release()
        assert dirty_kib(mm.address) == 3 * PAGE // 1024  # page 0 was written back


@linux_only
@pytest.mark.default_policy_only("counts the syncs and dirty pages of writes no policy flushed")
async def test_flush_range_async_of_the_whole_mapping_is_a_flush(path: Path) -> None:
    async with aio.create_rw(path, 4 * PAGE) as mm:
        await mm.touch_pages_async()  # resident: the sync write below faults nothing
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
    async with aio.open_ro(path) as fresh:
        assert fresh.read_bytes(0, 6) == b"onetwo"


@pytest.mark.default_policy_only("counts the syncs; a timer would add its own")
async def test_without_a_free_slot_a_worker_thread_leads_the_round(path: Path) -> None:
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

            async with anyio.create_task_group() as group:
                group.start_soon(hold_the_only_slot)
                await taken.wait()
                group.start_soon(mm.update_region_async, 0, b"led")
                await RoundsHeld.joined(mm, 1)  # joined, and waiting for a slot
                assert mm.sync_count == 0 and _committers() == 0
                release.set()
            assert mm.sync_count == 1 and _committers() == 0
    finally:
        limiter.total_tokens = aio.DEFAULT_OFFLOAD_THREADS


async def test_flushing_a_closed_mapping_starts_no_committer(path: Path) -> None:
    await no_workers_left()
    mm = await aio.create_rw(path, PAGE)
    await mm.aclose()
    with pytest.raises(MmapIoError, match="closed") as caught:
        await mm.flush_async()
    assert isinstance(caught.value, ValueError)
    assert _committers() == 0


async def test_closing_releases_callers_waiting_for_a_round(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = RoundsHeld(monkeypatch)
    outcomes: list[str] = []
    async with aio.create_rw(path, PAGE) as mm:

        async def caller() -> None:
            try:
                await mm.flush_async()
                outcomes.append("flushed")
            except MmapIoError as error:
                assert isinstance(error, ValueError)
                outcomes.append("closed")

        async with anyio.create_task_group() as group:
            group.start_soon(caller)
            await held.started()
            for _ in range(5):
                group.start_soon(caller)
            await held.joined(mm, 5)
            closing = threading.Thread(target=mm.close)
            closing.start()
            closing.join(5)  # waits for nothing, not even the round being run
            assert not closing.is_alive() and mm.closed
            held.release()
    assert outcomes == ["closed"] * 6  # no round could sync after the close; none stranded


async def test_flushing_a_copy_on_write_mapping_needs_no_committer(path: Path) -> None:
    await no_workers_left()
    path.write_bytes(bytes(PAGE))
    async with aio.open_cow(path) as mm:
        await mm.touch_pages_async()  # resident: the sync write below faults nothing
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
        assert _committers() == 1  # alive at the fork
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
