"""Watch callbacks on the real watchfiles backend: what is reported, and how watches end."""

from __future__ import annotations

import gc
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import mmap_io
from conftest import wait_for_threads_to_end
from mmap_io import (
    ChangeEvent,
    ChangeKind,
    MemoryMappedFile,
    MmapMode,
    OutOfBoundsError,
    WatchFailedError,
    WatchHandle,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="deletes files while mapped")
PAGE = 4096
DEADLINE = 3.0  # generous: events normally arrive within 10 ms


class Recorder:
    """A callback that queues its events for the test thread."""

    def __init__(self) -> None:
        self.events: queue.Queue[ChangeEvent] = queue.Queue()

    def __call__(self, event: ChangeEvent) -> None:
        self.events.put(event)

    def wait_for(self, accept: Callable[[ChangeEvent], bool]) -> ChangeEvent:
        """The first event `accept` takes; others (a split write, say) are skipped."""
        end = time.monotonic() + DEADLINE
        while True:
            event = self.events.get(timeout=max(0.0, end - time.monotonic()))
            if accept(event):
                return event


def watch_threads() -> list[threading.Thread]:
    """Watch threads still alive, once the ones stopping have had time to end."""
    return wait_for_threads_to_end("mmap_io-watch")


@pytest.fixture
def mm(path: Path) -> MemoryMappedFile:
    path.write_bytes(bytes(4 * PAGE))
    mapping = MemoryMappedFile.open_rw(path)
    yield mapping  # type: ignore[misc]
    mapping.close()
    assert watch_threads() == []


def _write_elsewhere(path: Path, offset: int, data: bytes) -> None:
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, data, offset)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_a_write_from_another_process_arrives_as_modified(mm: MemoryMappedFile, path: Path) -> None:
    seen = Recorder()
    with mm.watch(seen) as handle:
        assert isinstance(handle, WatchHandle) and handle.is_active()
        code = "import os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
        code += "os.write(fd, b'from afar'); os.fsync(fd)"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        event = seen.wait_for(lambda e: e.kind is ChangeKind.MODIFIED)
        assert (event.file_size, event.mapped_size) == (4 * PAGE, 4 * PAGE)
        assert not event.mapping_exceeds_file
        assert mm.read_bytes(0, 9) == b"from afar"
    assert not handle.is_active()


def test_a_shrink_reports_the_cut_region_and_that_the_mapping_is_longer(
    mm: MemoryMappedFile, path: Path
) -> None:
    seen = Recorder()
    with mm.watch(seen):
        os.truncate(path, PAGE + 10)
        event = seen.wait_for(lambda e: e.offset is not None)
    assert (event.kind, event.offset) == (ChangeKind.MODIFIED, PAGE + 10)
    assert event.length == 3 * PAGE - 10
    assert (event.file_size, event.mapped_size) == (PAGE + 10, 4 * PAGE)
    assert event.mapping_exceeds_file
    assert mm.read_bytes(0, PAGE) == bytes(PAGE)  # below file_size is still safe


def test_growth_reports_the_new_region(mm: MemoryMappedFile, path: Path) -> None:
    seen = Recorder()
    with mm.watch(seen):
        os.truncate(path, 6 * PAGE)
        event = seen.wait_for(lambda e: e.offset is not None)
    assert (event.kind, event.offset, event.length) == (ChangeKind.MODIFIED, 4 * PAGE, 2 * PAGE)
    assert not event.mapping_exceeds_file


def test_attribute_changes_are_metadata(mm: MemoryMappedFile, path: Path) -> None:
    seen = Recorder()
    with mm.watch(seen):
        os.chmod(path, 0o600)
        assert seen.wait_for(lambda e: True).kind is ChangeKind.METADATA


@pytest.mark.parametrize("how", ["delete", "rename away", "editor replace"])
def test_losing_the_path_is_removed_and_ends_the_watch(
    mm: MemoryMappedFile, path: Path, how: str
) -> None:
    seen = Recorder()
    handle = mm.watch(seen)
    if how == "delete":
        os.remove(path)
    elif how == "rename away":
        path.rename(path.with_name("elsewhere.bin"))
    else:  # write a new file beside it, then rename it over the old one
        fresh = path.with_name(".data.bin.swp")
        fresh.write_bytes(b"new contents")
        os.replace(fresh, path)
    event = seen.wait_for(lambda e: e.kind is ChangeKind.REMOVED)
    assert event.file_size == 4 * PAGE  # the mapped file lives on while it is mapped
    end = time.monotonic() + DEADLINE
    while handle.is_active() and time.monotonic() < end:
        time.sleep(0.01)
    assert not handle.is_active() and watch_threads() == []
    assert seen.events.empty()  # REMOVED was the last event
    mm.update_region(0, b"still usable")  # the mapping itself is unaffected
    assert mm.read_bytes(0, 12) == b"still usable"


def test_several_watchers_on_one_file_all_fire(mm: MemoryMappedFile, path: Path) -> None:
    other = MemoryMappedFile.open_ro(path)
    seen = [Recorder() for _ in range(3)]
    handles = [mm.watch(seen[0]), mm.watch(seen[1]), other.watch(seen[2])]
    _write_elsewhere(path, 100, b"everyone")
    for recorder in seen:
        assert recorder.wait_for(lambda e: True).kind is ChangeKind.MODIFIED
    for handle in handles:
        handle.stop()
    other.close()


def test_own_resize_and_own_writes_are_not_reported(mm: MemoryMappedFile, path: Path) -> None:
    seen = Recorder()
    with mm.watch(seen):
        mm.resize(8 * PAGE)
        mm.update_region(0, b"own write")
        mm.flush()
        os.truncate(path, 9 * PAGE)  # the first event must be this one
        event = seen.wait_for(lambda e: True)
    assert (event.offset, event.length, event.mapped_size) == (8 * PAGE, PAGE, 8 * PAGE)


def test_no_callback_runs_after_stop_returns(mm: MemoryMappedFile, path: Path) -> None:
    stopped = threading.Event()
    late: list[ChangeEvent] = []
    calls = threading.Semaphore(0)

    def slow(event: ChangeEvent) -> None:
        if stopped.is_set():
            late.append(event)
        calls.release()
        time.sleep(0.02)  # widen the window in which stop() races a running callback

    writing = threading.Event()

    def writer() -> None:
        i = 0
        while not writing.is_set():
            _write_elsewhere(path, 0, b"%08d" % i)
            i += 1
            time.sleep(0.003)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        handle = mm.watch(slow)
        for _ in range(3):
            assert calls.acquire(timeout=DEADLINE)
        handle.stop()
        stopped.set()
        time.sleep(0.1)  # keep writing; nothing may arrive now
    finally:
        writing.set()
        thread.join()
    assert late == [] and not handle.is_active() and watch_threads() == []


def test_stop_from_inside_the_callback_does_not_deadlock(mm: MemoryMappedFile, path: Path) -> None:
    returned = threading.Event()
    holder: list[WatchHandle] = []

    def stop_myself(event: ChangeEvent) -> None:
        holder[0].stop()
        returned.set()

    holder.append(mm.watch(stop_myself))
    _write_elsewhere(path, 0, b"x")
    assert returned.wait(DEADLINE)
    holder[0].stop()  # again, from outside: joins the finished thread
    assert not holder[0].is_active() and watch_threads() == []


def test_close_from_inside_the_callback_stops_every_watch(mm: MemoryMappedFile, path: Path) -> None:
    closed = threading.Event()

    def close_mapping(event: ChangeEvent) -> None:
        mm.close()
        closed.set()

    first, second = mm.watch(close_mapping), mm.watch(lambda e: None)
    _write_elsewhere(path, 0, b"x")
    assert closed.wait(DEADLINE)
    first.stop()
    assert not first.is_active() and not second.is_active()


def test_close_stops_watchers_without_waiting_for_them(mm: MemoryMappedFile) -> None:
    before = len(watch_threads())
    handles = [mm.watch(lambda e: None) for _ in range(3)]
    assert len([t for t in threading.enumerate() if t.name == "mmap_io-watch"]) == before + 3
    mm.close()
    assert watch_threads() == []  # each ends within one step of the OS watch
    assert not any(h.is_active() for h in handles)
    for handle in handles:
        handle.stop()  # still allowed


def test_unmap_stops_watchers_too(mm: MemoryMappedFile) -> None:
    handle = mm.watch(lambda e: None)
    mm.unmap().close()
    assert not handle.is_active() and watch_threads() == []


def test_a_dropped_mapping_ends_its_watch(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    mapping = MemoryMappedFile.open_ro(path)
    handle = mapping.watch(lambda e: None)  # the callback keeps no reference to it
    del mapping
    gc.collect()
    end = time.monotonic() + DEADLINE
    while handle.is_active() and time.monotonic() < end:
        time.sleep(0.02)
    assert not handle.is_active()
    handle.stop()


def test_a_failing_callback_is_reported_and_the_watch_goes_on(
    mm: MemoryMappedFile, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: queue.Queue[BaseException | None] = queue.Queue()
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.put(args.exc_value))
    seen = Recorder()

    def flaky(event: ChangeEvent) -> None:
        seen(event)
        if event.offset is None:
            raise RuntimeError("callback bug")

    with mm.watch(flaky):
        _write_elsewhere(path, 0, b"x")
        assert isinstance(reported.get(timeout=DEADLINE), RuntimeError)
        os.truncate(path, 5 * PAGE)
        assert seen.wait_for(lambda e: e.offset is not None).offset == 4 * PAGE


def test_polling_a_range_sees_writes_made_through_another_mapping(
    mm: MemoryMappedFile, path: Path
) -> None:
    seen = Recorder()
    writer = MemoryMappedFile.open_rw(path)
    with mm.watch(seen, poll_interval=0.005, poll_range=(0, 8)):
        writer.update_region(3, b"\x01")  # a sequence counter bumped in place
        event = seen.wait_for(lambda e: True)
        assert (event.kind, event.offset, event.length) == (ChangeKind.MODIFIED, 3, 1)
        writer.update_region(PAGE, b"outside the range")
        writer.update_region(0, (7).to_bytes(8, "little"))
        event = seen.wait_for(lambda e: e.offset is not None)
        assert (event.offset, event.length) == (0, 4)  # bytes 0 and 3 differ from before
    writer.close()


def test_watch_checks_its_arguments(mm: MemoryMappedFile) -> None:
    with pytest.raises(TypeError):
        mm.watch("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mm.watch(print, poll_range=(0, 8))
    with pytest.raises(TypeError):
        mm.watch(print, poll_interval=True)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            mm.watch(print, poll_interval=bad)
    with pytest.raises(TypeError):
        mm.watch(print, poll_interval=1, poll_range=[0, 8])  # type: ignore[arg-type]
    with pytest.raises(OutOfBoundsError):
        mm.watch(print, poll_interval=1, poll_range=(4 * PAGE - 4, 8))
    for bad_type in (True, "fast", b"1"):
        with pytest.raises(TypeError):
            mm.watch(print, latency=bad_type)  # type: ignore[arg-type]
    for bad_value in (0, -0.001, 0.0005, 2, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            mm.watch(print, latency=bad_value)
    assert watch_threads() == []


@pytest.mark.parametrize("latency", [0.001, 0.02])
def test_every_latency_delivers_the_change(
    mm: MemoryMappedFile, path: Path, latency: float
) -> None:
    seen = Recorder()
    with mm.watch(seen, latency=latency):
        os.truncate(path, 2 * PAGE)
        event = seen.wait_for(lambda e: e.offset is not None)
    assert (event.kind, event.offset, event.length) == (ChangeKind.MODIFIED, 2 * PAGE, 2 * PAGE)


def test_watch_fails_without_a_path_or_with_the_path_gone(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    file = open(path, "rb")  # noqa: SIM115 (the mapping takes it over)
    anonymous = MemoryMappedFile.from_file(file, MmapMode.READ_ONLY)
    with pytest.raises(WatchFailedError, match="path"):
        anonymous.watch(print)
    anonymous.close()
    mapping = MemoryMappedFile.open_ro(path)
    os.remove(path)
    with pytest.raises(WatchFailedError) as caught:
        mapping.watch(print)
    assert isinstance(caught.value, FileNotFoundError) and caught.value.filename == path
    path.write_bytes(bytes(PAGE))  # a different file at the same path
    with pytest.raises(WatchFailedError):
        mapping.watch(print)
    mapping.close()
    with pytest.raises(ValueError):
        mapping.watch(print)


_NO_EXTRA = """
import sys
sys.modules["watchfiles"] = None  # as if the extra were not installed
import anyio
from mmap_io import MemoryMappedFile, WatchFailedError
mm = MemoryMappedFile.create_rw(sys.argv[1], 4096)
async def stream():
    await mm.watch_async()
for start in (lambda: mm.watch(print), lambda: anyio.run(stream)):
    try:
        start()
    except WatchFailedError as error:
        print(error)
"""


def test_a_missing_watchfiles_names_the_install_command(path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _NO_EXTRA, str(path)], capture_output=True, text=True, check=True
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("pip install 'mmap-io[watch]'" in line for line in lines)


_NO_DESCRIPTORS = """
import os, resource, sys
import watchfiles  # loaded first: the inotify instance is what must fail
from mmap_io import MemoryMappedFile, WatchFailedError
mm = MemoryMappedFile.open_ro(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
try:
    mm.watch(print)
except WatchFailedError as error:
    print("refused:", error)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")
def test_an_os_refusal_to_watch_is_watch_failed(path: Path) -> None:
    path.write_bytes(bytes(PAGE))
    code = textwrap.dedent(_NO_DESCRIPTORS)
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("refused: ") and "Too many open files" in out.stdout


def test_the_names_are_exported() -> None:
    assert mmap_io.ChangeEvent is ChangeEvent and mmap_io.WatchHandle is WatchHandle
    assert {k.name for k in ChangeKind} == {"MODIFIED", "METADATA", "REMOVED"}
