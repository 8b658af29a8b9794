"""Resizing beside views: growth never waits for them, a shrink waits only for views a
user holds, and nothing the library does on its own makes either fail."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from conftest import at_each_step
from mmap_io import MemoryMappedFile, MmapIoError


def test_a_thread_reading_into_a_buffer_never_makes_resize_fail(path: Path) -> None:
    """read_into copies through a view of its own for large buffers; the resizes in
    another thread, growing and shrinking, must never be refused because of it."""
    mm = MemoryMappedFile.create_rw(path, 1 << 20)
    mm.update_region(0, b"\x5a" * (64 << 10))
    stop = threading.Event()
    wrong: list[bytes] = []
    errors: list[BaseException] = []

    def reader() -> None:
        buf = bytearray(64 << 10)
        while not stop.is_set():
            try:
                mm.read_into(0, buf)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
                return
            if buf != b"\x5a" * len(buf):
                wrong.append(bytes(buf[:16]))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # threads take turns often: more interleavings, less waiting
    for thread in threads:
        thread.start()
    refused: list[BaseException] = []
    try:
        for i in range(200):
            try:
                mm.resize(1 << 20 if i % 2 else 2 << 20)
            except MmapIoError as error:
                refused.append(error)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
    assert refused == []
    assert errors == [] and wrong == []
    assert len(mm) == 1 << 20 and path.stat().st_size == 1 << 20
    mm.close()


def test_a_shrink_landing_at_any_step_of_as_slice_mut_waits_for_the_view_and_succeeds(
    path: Path,
) -> None:
    """Every 64 mutable views the mapping settles its list, which takes its lock. A
    thread must never wait for that lock with a fresh view in hand: a shrink holding
    the lock would wait for that view and be refused although the caller let it go at
    once. The call makes the 64th and 65th views, so settling falls inside it."""

    made: list[MemoryMappedFile] = []

    def make() -> MemoryMappedFile:
        mm = MemoryMappedFile.create_rw(path, 16384)
        for _ in range(63):
            mm.as_slice_mut(0, 8).release()
        made.append(mm)
        return mm

    def two_views(mm: MemoryMappedFile) -> None:
        for _ in range(2):
            mm.as_slice_mut(0, 8).release()

    runs = at_each_step(make, two_views, lambda mm: mm.resize(4096))
    assert runs
    for call, shrink in runs:
        assert call == ("ok", None)
        assert shrink == ("ok", None)
    for mm in made[: len(runs)]:
        assert mm.pending_bytes == 65 * 8  # each released view counted once (read after close)
