"""Async-only lifecycle: `async with`, the flush timer task, cancellation of async calls."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import anyio
import pytest

from mmap_io import FlushPolicy, MemoryMappedFile, MmapAdvice, ResizeFailedError, aio

pytestmark = pytest.mark.anyio
PAGE = 4096


async def test_async_with_yields_the_mapping_and_closes_it(path: Path) -> None:
    mm = MemoryMappedFile.create_rw(path, PAGE)
    async with mm as entered:
        assert entered is mm
    assert mm.closed


def _timer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mmap_io-flush-timer"]


async def test_every_millis_runs_as_a_task_under_async_with(path: Path) -> None:
    mm = await aio.create_rw(path, PAGE, flush_policy=FlushPolicy.every_millis(5))
    assert len(_timer_threads()) == 1  # outside `async with`, a thread does the job
    async with mm:
        assert _timer_threads() == []  # swapped for a task of this event loop
        mm.update_region(0, b"tick")
        with anyio.fail_after(5):
            while mm.pending_bytes:
                await anyio.sleep(0.005)
    assert mm.closed and _timer_threads() == []


async def test_the_timer_task_flushes_atomic_writes_but_not_clean_views(path: Path) -> None:
    policy = FlushPolicy.every_millis(5)
    async with aio.create_rw(path, PAGE, flush_policy=policy) as mm:
        with mm.atomic_u64(0) as counter:
            await anyio.sleep(0.05)
            assert mm.sync_count == 0  # a live view that wrote nothing gives it no work
            counter.fetch_add(1)
            with anyio.fail_after(5):
                while mm.sync_count == 0:  # not pending_bytes: reading it would settle
                    await anyio.sleep(0.005)
            assert mm.pending_bytes == 0


async def test_every_millis_task_outlives_nothing_after_aclose_inside_the_block(
    path: Path,
) -> None:
    async with aio.create_rw(path, PAGE, flush_policy=FlushPolicy.every_millis(1)) as mm:
        await mm.aclose()
        await anyio.sleep(0.02)  # the task sees the mapping closed and ends quietly
    assert mm.closed


@pytest.mark.parametrize("resident", [True, False], ids=["resident", "cold"])
async def test_cancelled_durable_write_is_all_or_nothing(path: Path, resident: bool) -> None:
    async with aio.create_rw(path, 1024 * PAGE) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)  # no read-around: cold pages stay cold
        if resident:
            await mm.touch_pages_async()
        for step, delay in enumerate((0, 0.00001, 0.0001, 0.001, 0.01)):
            offset = step * 100 * PAGE  # a fresh page each time
            assert mm._is_resident(offset, 14) is resident
            with anyio.move_on_after(delay):
                await mm.update_region_async(offset, b"all-or-nothing")
            assert mm.read_bytes(offset, 14) in (b"all-or-nothing", bytes(14))
        await mm.update_region_async(PAGE, b"after")
        assert mm.pending_bytes == 0
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(PAGE, 5) == b"after"


async def resize_unless_pinned(mm: MemoryMappedFile) -> None:
    try:
        await mm.resize_async(64 * PAGE)
    except ResizeFailedError as error:  # a concurrent view pinned the mapping: allowed
        assert isinstance(error, BufferError)


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
                    group.start_soon(resize_unless_pinned, mm)
        await mm.flush_async()
        assert mm.pending_bytes == 0 and len(mm) == 64 * PAGE
        for k in range(8):
            assert mm.read_bytes(k * PAGE, 2).isdigit()
        assert mm._pager is None or not mm._pager._pending
    assert _timer_threads() == []


async def test_flush_calls_with_nothing_to_write_are_still_checkpoints(path: Path) -> None:
    """Like any async call, they notice a cancellation already pending."""
    async with aio.create_rw(path, PAGE) as rw, aio.open_ro(path) as ro:
        for call in (partial(rw.flush_range_async, 5, 0), partial(ro.flush_range_async, 0, 10)):
            with anyio.CancelScope() as scope:
                scope.cancel()
                await call()
            assert scope.cancelled_caught
