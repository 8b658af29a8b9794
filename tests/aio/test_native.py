"""Async-only lifecycle: `async with`, the flush timer, cancellation of async calls and closes."""

from __future__ import annotations

import contextlib
import os
import threading
from functools import partial
from pathlib import Path

import anyio
import pytest

from conftest import believed_resident, no_workers_left, wait_for_threads_to_end
from mmap_io import FlushPolicy, MemoryMappedFile, MmapAdvice, aio

pytestmark = pytest.mark.anyio
PAGE = 4096


def _timers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "mmap_io-flush-timer"}


def _open_fds() -> set[str]:
    """What this process's descriptors point at."""
    names = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the one that listed the folder
            names.add(os.readlink(f"/proc/self/fd/{fd}"))
    return names


async def test_async_with_yields_the_mapping_and_closes_it(path: Path) -> None:
    mm = await aio.create_rw(path, PAGE)
    async with mm as entered:
        assert entered is mm
    assert mm.closed


async def test_async_with_left_by_a_cancel_scope_still_closes_everything(path: Path) -> None:
    """The close is shielded: descriptor, memory, final flush and timer all go."""
    policy = FlushPolicy.every_millis(10_000)  # a timer that never ticks in this test
    before = _timers()
    with anyio.move_on_after(0.01) as scope:
        async with aio.create_rw(path, PAGE, flush_policy=policy) as mm:
            await mm.touch_pages_async()  # resident: the sync write below faults nothing
            mm.update_region(0, b"flushed at close")
            await anyio.sleep(10)
    assert scope.cancelled_caught and mm.closed
    assert str(path) not in _open_fds()
    assert wait_for_threads_to_end("mmap_io-flush-timer", besides=before) == []
    assert path.read_bytes()[:16] == b"flushed at close"  # the automatic policy's flush


async def test_aclose_in_a_cancelled_scope_closes(path: Path) -> None:
    mm = await aio.create_rw(path, PAGE, flush_policy=FlushPolicy.ALWAYS)
    with anyio.CancelScope() as scope:
        scope.cancel()
        await mm.aclose()
    assert mm.closed and str(path) not in _open_fds()


async def test_a_cancelled_task_group_closes_its_mapping(path: Path) -> None:
    async with anyio.create_task_group() as group:

        async def user() -> None:
            async with aio.create_rw(path, PAGE) as mm:
                holder.append(mm)
                await anyio.sleep_forever()

        holder: list[MemoryMappedFile] = []
        group.start_soon(user)
        while not holder:
            await anyio.sleep(0.001)
        group.cancel_scope.cancel()
    assert holder[0].closed and str(path) not in _open_fds()


async def test_every_millis_flushes_off_the_loop_whoever_enters_and_leaves(path: Path) -> None:
    before = _timers()
    mm = await aio.create_rw(path, PAGE, flush_policy=FlushPolicy.every_millis(5))
    entered = anyio.Event()

    async def enter() -> None:
        assert await mm.__aenter__() is mm
        await mm.touch_pages_async()  # resident: the sync write below faults nothing
        mm.update_region(0, b"tick")
        with anyio.fail_after(5):
            while mm.sync_count == 0:  # the timer thread flushed it, off the loop
                await anyio.sleep(0.005)
        entered.set()

    async def leave() -> None:
        await entered.wait()
        await mm.__aexit__(None, None, None)  # another task leaves the block

    async with anyio.create_task_group() as group:
        group.start_soon(enter)
        group.start_soon(leave)
    assert mm.closed and wait_for_threads_to_end("mmap_io-flush-timer", besides=before) == []
    assert path.read_bytes()[:4] == b"tick"


async def test_nested_async_with_closes_at_the_first_exit_like_a_file(path: Path) -> None:
    before = _timers()
    async with aio.create_rw(path, PAGE, flush_policy=FlushPolicy.every_millis(5)) as mm:
        async with mm as inner:
            assert inner is mm
        assert mm.closed  # the inner exit closed it; the outer exit closes nothing more
    assert wait_for_threads_to_end("mmap_io-flush-timer", besides=before) == []


async def test_the_timer_flushes_atomic_writes_but_not_clean_views(path: Path) -> None:
    policy = FlushPolicy.every_millis(5)
    async with aio.create_rw(path, PAGE, flush_policy=policy) as mm:
        await mm.touch_pages_async()  # resident: the sync write below faults nothing
        with mm.atomic_u64(0) as counter:
            await anyio.sleep(0.05)
            assert mm.sync_count == 0  # a live view that wrote nothing gives it no work
            counter.fetch_add(1)
            with anyio.fail_after(5):
                while mm.sync_count == 0:  # not pending_bytes: reading it would settle
                    await anyio.sleep(0.005)
            assert mm.pending_bytes == 0


@pytest.mark.parametrize("resident", [True, False], ids=["resident", "cold"])
async def test_cancelled_durable_write_is_all_or_nothing(path: Path, resident: bool) -> None:
    async with aio.create_rw(path, 1024 * PAGE) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)  # no read-around: cold pages stay cold
        if resident:
            await mm.touch_pages_async()
        else:  # a fresh file's pages are holes, which fault without the disk: make real ones
            await mm.update_region_async(0, bytes(len(mm)))
            mm.advise(0, len(mm), MmapAdvice.DONT_NEED)  # unmapped here, then dropped
            os.posix_fadvise(mm.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        for step, delay in enumerate((0, 0.00001, 0.0001, 0.001, 0.01)):
            offset = step * 100 * PAGE  # a fresh page each time
            assert believed_resident(mm, offset, 14) is resident
            with anyio.move_on_after(delay):
                await mm.update_region_async(offset, b"all-or-nothing")
            got = await mm.read_bytes_async(offset, 14)
            assert got in (b"all-or-nothing", bytes(14))
        await mm.update_region_async(PAGE, b"after")
        assert mm.pending_bytes == 0
    async with aio.open_ro(path) as fresh:
        assert fresh.read_bytes(PAGE, 5) == b"after"


async def test_cancellation_at_random_points_leaks_nothing(path: Path) -> None:
    async with aio.create_rw(path, 64 * PAGE) as mm:
        for i in range(50):
            with anyio.move_on_after(i / 20000):
                async with anyio.create_task_group() as group:
                    for k in range(8):
                        group.start_soon(mm.update_region_async, k * PAGE, b"%02d" % i)
                        group.start_soon(mm.read_bytes_async, (32 + k) * PAGE, PAGE)
                    group.start_soon(mm.flush_range_async, 0, PAGE)
                    group.start_soon(mm.touch_pages_async)
                    group.start_soon(mm.as_slice_async, 40 * PAGE, 8 * PAGE)
                    group.start_soon(mm.resize_async, 64 * PAGE)  # growth never refuses
        await mm.flush_async()
        assert mm.pending_bytes == 0 and len(mm) == 64 * PAGE
        for k in range(8):
            assert mm.read_bytes(k * PAGE, 2).isdigit()
    await no_workers_left()


async def test_flush_calls_with_nothing_to_write_are_still_checkpoints(path: Path) -> None:
    """Like any async call, they notice a cancellation already pending."""
    async with aio.create_rw(path, PAGE) as rw, aio.open_ro(path) as ro:
        for call in (partial(rw.flush_range_async, 5, 0), partial(ro.flush_range_async, 0, 10)):
            with anyio.CancelScope() as scope:
                scope.cancel()
                await call()
            assert scope.cancelled_caught
