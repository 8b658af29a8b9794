"""The async watch stream on asyncio, uvloop and trio: events, its end, and its release."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest

from mmap_io import ChangeEvent, ChangeKind, MemoryMappedFile, WatchFailedError, WatchStream, aio

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="deletes files while mapped"),
]
PAGE = 4096
DEADLINE = 3.0  # generous: events normally arrive within 10 ms


def _released(mm: MemoryMappedFile) -> bool:
    """No OS watch is left open in this process (each holds an inotify descriptor)."""
    deadline = time.monotonic() + DEADLINE
    while _inotify_instances() and time.monotonic() < deadline:
        time.sleep(0.005)
    return _inotify_instances() == 0


def _inotify_instances() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the one that listed the folder
            count += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
    return count


async def _next(stream: WatchStream) -> ChangeEvent:
    with anyio.fail_after(DEADLINE):
        return await stream.__anext__()


async def test_a_write_from_another_process_arrives(path: Path) -> None:
    path.write_bytes(bytes(4 * PAGE))
    async with aio.open_ro(path) as mm:
        async with mm.watch_async() as events:
            code = "import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
            code += "os.write(fd, b'from afar'); os.fsync(fd)"
            await anyio.run_process([sys.executable, "-c", code, str(path)])
            event = await _next(events)
            assert event.kind is ChangeKind.MODIFIED and event.file_size == 4 * PAGE
        assert _released(mm)
        assert mm.read_bytes(0, 9) == b"from afar"


async def test_size_changes_carry_their_region(path: Path) -> None:
    path.write_bytes(bytes(4 * PAGE))
    async with aio.open_ro(path) as mm:
        events = await mm.watch_async()  # in place once awaited
        os.truncate(path, PAGE)
        shrink = await _next(events)
        assert (shrink.offset, shrink.length, shrink.mapping_exceeds_file) == (PAGE, 3 * PAGE, True)
        os.truncate(path, 4 * PAGE)
        grow = await _next(events)
        assert (grow.offset, grow.length, grow.mapping_exceeds_file) == (PAGE, 3 * PAGE, False)
        await events.aclose()
        await events.aclose()  # twice is fine
        with pytest.raises(StopAsyncIteration):
            await events.__anext__()


async def test_deleting_the_file_ends_the_stream_after_removed(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        events = await mm.watch_async()  # in place once awaited
        os.remove(path)
        seen = []
        with anyio.fail_after(DEADLINE):
            async for event in events:
                seen.append(event.kind)
        assert seen[-1] is ChangeKind.REMOVED and ChangeKind.MODIFIED not in seen
        assert _released(mm)
        assert mm.read_bytes(0, 4) == bytes(4)  # still mapped, still readable


async def test_an_editor_style_replace_is_reported(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        events = await mm.watch_async()  # in place once awaited
        swap = path.with_name("data.bin~")
        swap.write_bytes(b"edited")
        os.replace(swap, path)
        assert (await _next(events)).kind is ChangeKind.REMOVED
        with pytest.raises(StopAsyncIteration):
            await _next(events)


async def test_cancellation_releases_the_watch(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        with anyio.move_on_after(0.05) as scope:
            async for _ in mm.watch_async():
                pytest.fail("nothing changed")
        assert scope.cancelled_caught
        assert _released(mm)


async def test_break_releases_the_watch(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        stream = await mm.watch_async()
        os.chmod(path, 0o600)
        with anyio.fail_after(DEADLINE):
            async for event in stream:
                assert event.kind is ChangeKind.METADATA
                break
        del stream  # what leaving a bare `async for ... mm.watch_async()` does
        assert _released(mm)


async def test_closing_the_mapping_ends_a_waiting_stream(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    mm = await aio.open_ro(path)
    ended = anyio.Event()

    async def consume() -> None:
        async for _ in mm.watch_async():
            pass
        ended.set()

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        await anyio.sleep(0.02)  # let it start waiting
        await mm.aclose()
        with anyio.fail_after(DEADLINE):
            await ended.wait()
    assert _released(mm)


async def test_streams_and_callbacks_all_fire_for_one_change(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        heard = threading.Event()
        handle = await anyio.to_thread.run_sync(mm.watch, lambda event: heard.set())
        first, second = await mm.watch_async(), await mm.watch_async()
        os.truncate(path, 2 * PAGE)
        assert (await _next(first)).offset == PAGE
        assert (await _next(second)).offset == PAGE
        assert await anyio.to_thread.run_sync(heard.wait, DEADLINE)
        await anyio.to_thread.run_sync(handle.stop)
        await first.aclose()
        await second.aclose()
        assert _released(mm)


async def test_polling_in_a_stream_sees_another_mappings_writes(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with (
        aio.open_ro(path) as mm,
        aio.open_rw(path) as writer,
        mm.watch_async(poll_interval=0.005, poll_range=(64, 8)) as events,
    ):
        await writer.update_region_async(64, (1).to_bytes(8, "little"))
        event = await _next(events)
        assert (event.kind, event.offset, event.length) == (ChangeKind.MODIFIED, 64, 1)


async def test_start_failures_raise_once_the_watch_is_awaited(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm:
        os.remove(path)
        with pytest.raises(WatchFailedError):
            await mm.watch_async()
        with pytest.raises(WatchFailedError):
            async with mm.watch_async():
                pass
        with pytest.raises(WatchFailedError):
            async for _ in mm.watch_async():
                pass
        assert _released(mm)


async def test_a_low_latency_stream_delivers(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    async with aio.open_ro(path) as mm, mm.watch_async(latency=0.001) as events:
        os.truncate(path, 2 * PAGE)
        event = await _next(events)
        assert (event.kind, event.offset, event.length) == (ChangeKind.MODIFIED, PAGE, PAGE)
