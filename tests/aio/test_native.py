"""Async-only behaviour: `async with`, the flush timer task, cold-page reads, cancellation."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import anyio
import pytest
from conftest import linux_only

from mmap_io import FlushPolicy, MemoryMappedFile, OutOfBoundsError, aio
from mmap_io._core import _os

pytestmark = pytest.mark.anyio
PAGE = 4096


def _write_cold(path: Path, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
        _os.evict_file(file.fileno(), 0, 0)


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


@linux_only
@pytest.mark.parametrize("cold", [False, True], ids=["resident", "cold"])
async def test_read_into_async_gives_the_same_bytes_resident_or_cold(
    path: Path, cold: bool
) -> None:
    data = os.urandom(64 * PAGE)
    _write_cold(path, data)
    async with aio.open_ro(path) as mm:
        if not cold:
            await mm.touch_pages_async()
        assert mm._is_resident(0, len(mm)) is not cold
        buf = bytearray(10 * PAGE + 7)
        await mm.read_into_async(3 * PAGE - 5, buf)
        assert buf == data[3 * PAGE - 5 : 13 * PAGE + 2]
        assert await mm.read_bytes_async(PAGE, 5 * PAGE) == data[PAGE : 6 * PAGE]


async def test_async_reads_check_their_arguments(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        buf = bytearray(b"\x09" * 10)
        with pytest.raises(OutOfBoundsError):
            await mm.read_into_async(PAGE - 5, buf)
        assert buf == b"\x09" * 10
        with pytest.raises(TypeError):
            await mm.read_into_async(0, b"read-only")
        assert await mm.read_bytes_async(PAGE, 0) == b""
        with pytest.raises(OutOfBoundsError):
            await mm.read_bytes_async(-1, 1)


async def test_cancelled_durable_write_leaves_the_mapping_usable(path: Path) -> None:
    async with aio.create_rw(path, 16 * PAGE) as mm:
        with anyio.move_on_after(0):  # cancelled at its first checkpoint
            await mm.update_region_async(0, b"all-or-nothing")
        # The write is inline before the flush's first await, so it happened in full.
        assert mm.read_bytes(0, 14) == b"all-or-nothing"
        await mm.update_region_async(PAGE, b"after")
        assert mm.pending_bytes == 0
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(PAGE, 5) == b"after"


async def test_cancellation_at_random_points_leaks_nothing(path: Path) -> None:
    async with aio.create_rw(path, 64 * PAGE) as mm:
        for i in range(50):
            with anyio.move_on_after(i / 20000):
                async with anyio.create_task_group() as group:
                    for k in range(8):
                        group.start_soon(mm.update_region_async, k * PAGE, b"%02d" % i)
                    group.start_soon(mm.flush_range_async, 0, PAGE)
                    group.start_soon(mm.touch_pages_async)
        await mm.flush_async()
        assert mm.pending_bytes == 0
        for k in range(8):
            assert mm.read_bytes(k * PAGE, 2).isdigit()
    assert _timer_threads() == []
