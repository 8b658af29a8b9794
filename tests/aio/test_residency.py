"""Async copies that never fault a cold page in on the loop: same bytes either way."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from conftest import linux_only, write_cold
from mmap_io import InvalidModeError, MemoryMappedFile, MmapAdvice, OutOfBoundsError, aio
from mmap_io.aio._residency import LARGE_COPY

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
        assert mm._is_resident(0, len(mm)) is not cold
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
        assert not mm._is_resident(100 * PAGE, 8 * PAGE)
        with await mm.as_slice_async(100 * PAGE, 8 * PAGE) as view:
            assert mm._is_resident(100 * PAGE, 8 * PAGE)
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
    with MemoryMappedFile.open_ro(path) as fresh:
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
