"""Operations that may wait for the disk, on every event loop (the sync twin is generated)."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest

from conftest import dirty_kib, gather_async, linux_only, smaps_field
from mmap_io import (
    FlushPolicy,
    InvalidModeError,
    LockFailedError,
    OutOfBoundsError,
    ResizeFailedError,
    aio,
)

pytestmark = pytest.mark.anyio  # async-only

PAGE = 4096


@linux_only
async def test_update_region_async_is_durable_on_return(path: Path) -> None:
    mm = await aio.create_rw(path, 8 * PAGE, flush_policy=FlushPolicy.NEVER)
    await mm.update_region_async(PAGE, b"durable")
    assert mm.pending_bytes == 0
    assert dirty_kib(mm.address) == 0
    async with aio.open_ro(path) as fresh:
        assert fresh.read_bytes(PAGE, 7) == b"durable"
    await mm.aclose()


async def test_update_region_async_checks_mode_and_range(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    ro = await aio.open_ro(path)
    with pytest.raises(InvalidModeError):
        await ro.update_region_async(0, b"x")
    await ro.aclose()
    mm = await aio.open_rw(path)
    with pytest.raises(OutOfBoundsError):
        await mm.update_region_async(PAGE - 1, b"xy")
    assert mm.read_bytes(PAGE - 2, 2) == bytes(2)
    await mm.aclose()


@linux_only
@pytest.mark.default_policy_only("needs pages left dirty by writes no policy flushed")
async def test_flush_async_cleans_every_dirty_page(path: Path) -> None:
    mm = await aio.create_rw(path, 32 * PAGE)
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    mm.update_region(0, b"\x01" * (32 * PAGE))
    assert mm.pending_bytes == 32 * PAGE
    await mm.flush_async()
    assert mm.pending_bytes == 0 and dirty_kib(mm.address) == 0
    await mm.aclose()


@linux_only
@pytest.mark.default_policy_only("needs pages left dirty by writes no policy flushed")
async def test_flush_range_async_cleans_only_its_pages(path: Path) -> None:
    mm = await aio.create_rw(path, 4 * PAGE)
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    mm.update_region(0, b"\x02" * (4 * PAGE))
    await mm.flush_range_async(PAGE, PAGE)
    assert dirty_kib(mm.address) == 3 * PAGE // 1024
    assert mm.pending_bytes == 4 * PAGE
    with pytest.raises(OutOfBoundsError):
        await mm.flush_range_async(0, 5 * PAGE)
    await mm.aclose()


async def test_concurrent_durable_writers_all_land(path: Path) -> None:
    """(That they share syncs is shown with held rounds in test_committer.py.)"""
    writers = 64
    mm = await aio.create_rw(path, writers * PAGE)
    await gather_async(
        *(partial(mm.update_region_async, i * PAGE, b"w%03d" % i) for i in range(writers))
    )
    assert mm.pending_bytes == 0
    async with aio.open_ro(path) as fresh:
        assert [fresh.read_bytes(i * PAGE, 4) for i in range(writers)] == [
            b"w%03d" % i for i in range(writers)
        ]
    await mm.aclose()


async def test_resize_async_grows_and_shrinks(path: Path) -> None:
    mm = await aio.create_rw(path, 100)
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    await mm.update_region_async(0, b"r" * 100)
    await mm.resize_async(PAGE)
    assert len(mm) == PAGE and path.stat().st_size == PAGE
    assert mm.read_bytes(0, 101) == b"r" * 100 + b"\0"
    await mm.resize_async(10)
    assert len(mm) == 10 and mm.read_bytes(0, 10) == b"r" * 10
    with pytest.raises(ResizeFailedError):
        await mm.resize_async(0)
    view = mm.as_slice(0, 1)
    await mm.resize_async(20)  # growth goes ahead beside a live view
    with pytest.raises(ResizeFailedError) as info:
        await mm.resize_async(5)  # a shrink does not, while the view lives
    assert isinstance(info.value, BufferError) and len(mm) == 20
    view.release()
    await mm.resize_async(5)
    assert len(mm) == 5 and path.stat().st_size == 5
    await mm.aclose()


async def test_touch_and_prefetch_keep_the_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)
    mm = await aio.open_ro(path)
    await mm.touch_pages_async()
    await mm.touch_pages_range_async(10, 5000)
    await mm.prefetch_range_async(0, len(mm))
    with pytest.raises(OutOfBoundsError):
        await mm.touch_pages_range_async(1, len(mm))
    assert mm.read_bytes(0, len(mm)) == bytes(range(256)) * 64
    await mm.aclose()


@linux_only
async def test_lock_async_keeps_pages_in_memory_until_unlocked(path: Path) -> None:
    mm = await aio.create_rw(path, 8 * PAGE)
    await mm.lock_async(0, 2 * PAGE)
    assert smaps_field(mm.address, "Locked") == 2 * PAGE // 1024
    await mm.unlock_async(0, 2 * PAGE)
    assert smaps_field(mm.address, "Locked") == 0
    await mm.lock_all_async()
    assert smaps_field(mm.address, "Locked") == 8 * PAGE // 1024
    await mm.unlock_all_async()
    assert smaps_field(mm.address, "Locked") == 0
    with pytest.raises(OutOfBoundsError):
        await mm.lock_async(PAGE, 8 * PAGE)
    await mm.aclose()


@pytest.mark.parametrize("which", ["touch_pages", "lock_all", "unlock_all"])
async def test_whole_mapping_calls_racing_shrinks_never_report_a_range_nobody_passed(
    path: Path, which: str
) -> None:
    """The whole-mapping calls take the mapping's length as it is when they run: a
    resize meanwhile never turns them into an OutOfBoundsError for a range the caller
    never named."""
    mm = await aio.create_rw(path, 64 * PAGE)
    whole = {
        "touch_pages": mm.touch_pages_async,
        "lock_all": mm.lock_all_async,
        "unlock_all": mm.unlock_all_async,
    }[which]
    if which == "lock_all":
        try:
            await whole()
        except LockFailedError:
            pytest.skip("mlock is refused here (RLIMIT_MEMLOCK)")
    raised: list[BaseException] = []

    async def whole_mapping() -> None:
        for _ in range(150):
            try:
                await whole()
            except Exception as error:
                raised.append(error)

    async def resizes() -> None:
        for i in range(150):
            await mm.resize_async(PAGE if i % 2 else 64 * PAGE)

    await gather_async(whole_mapping, resizes)
    assert raised == []
    assert len(mm) == PAGE
    await mm.unlock_all_async()
    await mm.aclose()


async def test_sync_all_async(path: Path) -> None:
    mm = await aio.create_rw(path, PAGE)
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    await mm.update_region_async(0, b"all")
    await mm.sync_all_async()
    assert mm.pending_bytes == 0
    await mm.aclose()


async def test_aclose_is_idempotent_and_never_waits_for_views(path: Path) -> None:
    mm = await aio.create_rw(path, PAGE)
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    await mm.update_region_async(0, b"viewed")
    view = mm.as_slice(0, 6)
    await mm.aclose()
    assert mm.closed and view == b"viewed"  # the view keeps its memory
    await mm.aclose()
    with pytest.raises(ValueError):
        await mm.flush_async()
    view.release()


async def test_copy_on_write_flush_async_touches_nothing(path: Path) -> None:
    path.write_bytes(b"keep")
    mm = await aio.open_cow(path)
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    mm.update_region(0, b"lose")
    await mm.flush_async()
    with pytest.raises(InvalidModeError):
        await mm.resize_async(100)
    await mm.aclose()
    assert path.read_bytes() == b"keep"


async def test_flushes_from_threads_and_tasks_mix(path: Path) -> None:
    mm = await aio.create_rw(path, 16 * PAGE)

    def thread_writer(base: int) -> None:
        for i in range(20):
            mm.update_region(base + i, b"t")
            mm.flush()

    threads = [threading.Thread(target=thread_writer, args=(k * PAGE,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for i in range(20):
        await mm.update_region_async(8 * PAGE + i, b"a")
    for thread in threads:
        thread.join()
    await mm.flush_async()
    assert mm.pending_bytes == 0
    async with aio.open_ro(path) as fresh:
        assert fresh.read_bytes(8 * PAGE, 20) == b"a" * 20
        assert fresh.read_bytes(0, 20) == b"t" * 20
    await mm.aclose()
