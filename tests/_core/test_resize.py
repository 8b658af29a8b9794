"""Resizing beside views: growth never waits for them, a shrink waits only for views a
user holds, and nothing the library does on its own makes either fail."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

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
