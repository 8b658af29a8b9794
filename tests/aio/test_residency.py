"""Async copies that never fault a cold page in on the loop: same bytes either way."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from conftest import believed_resident, linux_only, no_workers_left, worker_threads, write_cold
from mmap_io import (
    InvalidModeError,
    MemoryMappedFile,
    MmapAdvice,
    MmapIoError,
    OutOfBoundsError,
    aio,
)

LARGE_COPY = 2 << 20  # copies larger than this leave the loop (README, Async)

pytestmark = pytest.mark.anyio
PAGE = 4096


@linux_only
@pytest.mark.parametrize("cold", [False, True], ids=["resident", "cold"])
async def test_read_into_async_gives_the_same_bytes_resident_or_cold(
    path: Path, cold: bool
) -> None:
    data = os.urandom(64 * PAGE)
    write_cold(path, data)
    async with aio.open_ro(path) as mm:
        if not cold:
            await mm.touch_pages_async()
        assert believed_resident(mm, 0, len(mm)) is not cold
        buf = bytearray(10 * PAGE + 7)
        await mm.read_into_async(3 * PAGE - 5, buf)
        assert buf == data[3 * PAGE - 5 : 13 * PAGE + 2]
        assert await mm.read_bytes_async(PAGE, 5 * PAGE) == data[PAGE : 6 * PAGE]
        words = memoryview(bytearray(16)).cast("I")
        await mm.read_into_async(8, words)
        assert words.tobytes() == data[8:24]


@linux_only
async def test_as_slice_async_brings_the_pages_in_first(path: Path) -> None:
    data = os.urandom(256 * PAGE)
    write_cold(path, data)
    async with aio.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert not believed_resident(mm, 100 * PAGE, 8 * PAGE)
        with await mm.as_slice_async(100 * PAGE, 8 * PAGE) as view:
            assert believed_resident(mm, 100 * PAGE, 8 * PAGE)
            assert view == data[100 * PAGE : 108 * PAGE]
        assert (await mm.as_slice_async(0, 0)) == b""


async def test_large_copies_in_and_out(path: Path) -> None:
    size = 2 * LARGE_COPY + 123
    data = os.urandom(size)
    async with aio.create_rw(path, size + PAGE) as mm:
        await mm.update_region_async(PAGE, data)
        assert mm.pending_bytes == 0
        buf = bytearray(size)
        await mm.read_into_async(PAGE, buf)
        assert buf == data
        assert await mm.read_bytes_async(PAGE, size) == data
    async with aio.open_ro(path) as fresh:
        assert fresh.read_bytes(PAGE, size) == data


async def test_cold_writes_check_mode_and_range(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as ro:
        with pytest.raises(InvalidModeError):  # the mode is checked before the range
            await ro.update_region_async(0, b"x" * (LARGE_COPY + 1))
    async with aio.open_rw(path) as mm:
        with pytest.raises(OutOfBoundsError):
            await mm.update_region_async(PAGE - 1, b"xy")
        with pytest.raises(OutOfBoundsError):
            await mm.update_region_async(0, bytes(LARGE_COPY + 1))
        with pytest.raises(TypeError):
            await mm.update_region_async(0, "text")
        assert mm.read_bytes(0, 8) == bytes(8) and mm.pending_bytes == 0


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
        with pytest.raises(OutOfBoundsError):
            await mm.as_slice_async(0, PAGE + 1)


async def test_async_reads_of_a_closed_mapping_raise_the_closed_error(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    mm = await aio.open_ro(path)
    await mm.read_bytes_async(0, 8)  # takes the fast path while open...
    mm.close()  # ...which must hand a closed mapping to the checked path
    buf = bytearray(b"\x09" * 8)
    for read in (
        lambda: mm.read_bytes_async(0, 8),
        lambda: mm.read_into_async(0, buf),
        lambda: mm.as_slice_async(0, 8),
    ):
        with pytest.raises(MmapIoError, match="closed") as info:
            await read()
        assert isinstance(info.value, ValueError)
    assert buf == b"\x09" * 8


async def test_offloading_uses_the_librarys_own_limiter(path: Path) -> None:
    limiter = aio.offload_limiter()
    assert limiter is not anyio.to_thread.current_default_thread_limiter()
    assert limiter.total_tokens == aio.DEFAULT_OFFLOAD_THREADS
    limiter.total_tokens = 1
    try:
        async with aio.create_rw(path, PAGE) as mm:
            finished = anyio.Event()

            async def flush() -> None:
                await mm.flush_async()
                finished.set()

            # Hold the library's only worker slot while its flush is pending.
            async with anyio.create_task_group() as group, limiter:
                group.start_soon(flush)
                # The application's own offloading is not starved...
                assert await anyio.to_thread.run_sync(lambda: 42) == 42
                await anyio.sleep(0.01)
                # ...while the library's call waits for its slot.
                assert not finished.is_set()
            assert finished.is_set()
    finally:
        limiter.total_tokens = aio.DEFAULT_OFFLOAD_THREADS


def _pager_threads() -> list[threading.Thread]:
    return worker_threads("mmap_io-pager")


@linux_only
async def test_many_cold_readers_share_one_pager_that_ends_with_the_mapping(path: Path) -> None:
    data = os.urandom(512 * PAGE)
    write_cold(path, data)
    await no_workers_left()
    limiter = aio.offload_limiter()
    async with aio.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        pages = random.Random(5).sample(range(512), 512)
        got: dict[int, bytes] = {}

        async def reader(k: int) -> None:
            for page in pages[k::64]:
                got[page] = await mm.read_bytes_async(page * PAGE + k, PAGE - k)
            assert len(_pager_threads()) == 1
            assert limiter.borrowed_tokens == 1  # the pager holds one of the library's slots

        async with anyio.create_task_group() as group:
            for k in range(64):
                group.start_soon(reader, k)
        assert len(got) == 512
        for page, chunk in got.items():
            k = pages.index(page) % 64
            assert chunk == data[page * PAGE + k : (page + 1) * PAGE]
        assert believed_resident(mm, 0, len(mm))
    await no_workers_left()  # close stopped it, and its slot came back


@linux_only
async def test_an_idle_pager_ends_and_a_new_one_starts(path: Path) -> None:
    data = os.urandom(64 * PAGE)
    write_cold(path, data)
    async with aio.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert await mm.read_bytes_async(0, 10) == data[:10]
        (first,) = _pager_threads()
        await no_workers_left()  # idle for IDLE seconds: it ended
        assert await mm.read_bytes_async(30 * PAGE, 10) == data[30 * PAGE : 30 * PAGE + 10]
        assert first not in _pager_threads()


@linux_only
async def test_cold_reads_without_a_free_slot_are_offloaded_one_by_one(path: Path) -> None:
    data = os.urandom(64 * PAGE)
    write_cold(path, data)
    await no_workers_left()
    limiter = aio.offload_limiter()
    limiter.total_tokens = 1
    try:
        async with aio.open_ro(path) as mm:
            mm.advise(0, len(mm), MmapAdvice.RANDOM)
            taken, release = anyio.Event(), anyio.Event()

            async def hold_the_only_slot() -> None:
                async with limiter:
                    taken.set()
                    await release.wait()

            got: list[bytes] = []

            async def read() -> None:
                got.append(await mm.read_bytes_async(2 * PAGE, 10))

            async with anyio.create_task_group() as group:
                group.start_soon(hold_the_only_slot)
                await taken.wait()
                group.start_soon(read)
                await anyio.sleep(0.05)
                assert got == []  # it waits for a slot like any offload...
                assert _pager_threads() == []  # ...and no pager started without one
                release.set()
            assert _pager_threads() == []  # served by one offloaded call
            assert got == [data[2 * PAGE : 2 * PAGE + 10]]
    finally:
        limiter.total_tokens = aio.DEFAULT_OFFLOAD_THREADS


@linux_only
async def test_a_cancelled_reader_leaves_its_batch_to_finish(path: Path) -> None:
    data = os.urandom(256 * PAGE)
    write_cold(path, data)
    async with aio.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        results: list[bytes] = []

        async def read(page: int) -> None:
            results.append(await mm.read_bytes_async(page * PAGE, 8))

        async with anyio.create_task_group() as group:
            for page in range(0, 256, 8):
                group.start_soon(read, page)
            await anyio.lowlevel.checkpoint()
            group.cancel_scope.cancel()
        expected = {data[p * PAGE : p * PAGE + 8] for p in range(0, 256, 8)}
        assert set(results) <= expected
        for page in range(1, 256, 8):  # the pager still serves whoever comes next
            assert await mm.read_bytes_async(page * PAGE, 8) == data[page * PAGE : page * PAGE + 8]


@linux_only
def test_a_mapping_read_from_one_event_loop_after_another(path: Path, anyio_backend: Any) -> None:
    """A pager belongs to one loop: the next loop, within the pager's idle time, gets its own."""
    data = os.urandom(64 * PAGE)
    write_cold(path, data)
    backend, options = (anyio_backend, {}) if isinstance(anyio_backend, str) else anyio_backend
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        for page in (3, 40):

            async def read(page: int = page) -> bytes:
                with anyio.fail_after(5):
                    return await mm.read_bytes_async(page * PAGE, 16)

            got = anyio.run(read, backend=backend, backend_options=options)
            assert got == data[page * PAGE : page * PAGE + 16]


@linux_only
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_reads_cold_pages_with_its_own_pager(path: Path) -> None:
    data = os.urandom(64 * PAGE)
    write_cold(path, data)
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)

        async def read(page: int) -> bytes:
            with anyio.fail_after(5):
                return await mm.read_bytes_async(page * PAGE, 16)

        assert anyio.run(read, 1) == data[PAGE : PAGE + 16]
        assert len(_pager_threads()) == 1  # the parent's pager is still alive at the fork
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            ok = anyio.run(read, 50) == data[50 * PAGE : 50 * PAGE + 16]
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
