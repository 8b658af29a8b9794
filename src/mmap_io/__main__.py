"""`python -m mmap_io [path]`: a short tour of the library on a real file."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio

from . import FlushPolicy, MemoryMappedFile, aio


def _sync_tour(path: Path) -> None:
    with MemoryMappedFile.create_rw(
        path, 1 << 20, flush_policy=FlushPolicy.every_bytes(4096)
    ) as mm:
        print(f"created {path} ({len(mm)} bytes), policy {mm.flush_policy!r}")
        mm.update_region(0, b"hello from mmap_io")
        print(f"  wrote 18 bytes, pending {mm.pending_bytes}")
        with mm.as_slice_mut(4096, 8) as view:
            view[:] = b"in place"
        print(f"  patched 8 bytes through a writable view, pending {mm.pending_bytes}")
        with mm.as_slice(0, 18) as view:
            print(f"  zero-copy view: {bytes(view)!r}")
        mm.flush()
        print(f"  flush(): pending {mm.pending_bytes}, the bytes are on disk")
    with MemoryMappedFile.open_ro(path) as fresh:
        print(f"a fresh read-only mapping reads {fresh.read_bytes(4096, 8)!r}")


async def _async_tour(path: Path) -> None:
    async with aio.open_rw(path) as mm:
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for i in range(64):
                group.start_soon(mm.update_region_async, 8192 + i * 64, b"task %02d" % i)
        elapsed = (time.perf_counter() - started) * 1e3
        print(
            f"64 tasks each awaited a durable write in {elapsed:.1f} ms, "
            f"sharing {mm.sync_count} msync calls (group commit)"
        )
        print(f"  cold-safe async read: {await mm.read_bytes_async(8192 + 63 * 64, 7)!r}")


def main() -> None:
    folder = tempfile.TemporaryDirectory()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(folder.name) / "demo.bin"
    _sync_tour(path)
    anyio.run(_async_tour, path)
    folder.cleanup()


if __name__ == "__main__":
    main()
