"""The async model under load: cold reads, the loop's responsiveness, durable writes.

Run: python benchmarks/bench_async.py [--quick] [--backend asyncio|uvloop|trio]

Five measurements, each beside the anchor DESIGN.md section 7 names, in the same run:

1. one await read of 64 MiB of cold pages, with a 1 ms ticker task watching the loop,
   against a raw stdlib mmap slice taken in the coroutine;
2. 64 tasks reading cold random 4 KiB pages of a 1 GiB file (read_bytes_async and
   read_into_async), against 64 plain threads faulting the same pages in parallel (the
   ceiling: the headline ratio) and raw mmap slices in the coroutines (_cold_reads.py);
3. 64 tasks each doing 50 durable 64-byte writes on their own page, against one
   msync per write offloaded to a thread;
4. 4 KiB reads of resident pages, against aiofiles and anyio.open_file;
5. touch_pages of 1 GiB, against the kernel's MADV_POPULATE_READ on the same range.

"Cold" means: written, fsynced, then dropped from the page cache with
posix_fadvise(DONTNEED) while no mapping of the file is alive.

For 2 and 3 the anchors and the library take turns over several rounds: the host is
shared, and its disk and CPU speed drift within seconds, so a single turn each could
land one side in a quiet moment and the other in a busy one.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import _cold_reads
import aiofiles
import anyio
import anyio.to_thread
from _harness import anyio_backend, backend_arg

from mmap_io import MemoryMappedFile, aio
from mmap_io._core._address import buffer_address

QUICK = "--quick" in sys.argv
PAGE = mmap.PAGESIZE
BIG = (256 << 20) if QUICK else (1 << 30)
_libc = ctypes.CDLL(None, use_errno=True)
_MADV_POPULATE_READ = 22


write_file, evict = _cold_reads.write_file, _cold_reads.evict


async def with_ticker(work: Callable[[], Awaitable[object]]) -> tuple[float, list[float]]:
    """Run `work` beside a 1 ms ticker; return (seconds taken, ticker lags in ms)."""
    lags: list[float] = []
    done = anyio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await anyio.sleep(0.001)
            lags.append((time.perf_counter() - start - 0.001) * 1e3)

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        await anyio.sleep(0.01)
        started = time.perf_counter()
        await work()
        elapsed = time.perf_counter() - started
        done.set()
    return elapsed, lags


Rounds = list[tuple[int, float, list[float]]]  # (operations, seconds, ticker lags) a round


def p99(values: list[float]) -> float:
    # inclusive: interpolated between samples, never past the worst one (exclusive
    # extrapolates when a stalled loop leaves only a few ticks)
    return (
        statistics.quantiles(values, n=100, method="inclusive")[98]
        if len(values) > 1
        else max(values, default=0)
    )


async def cold_big_read(folder: Path) -> None:
    path = folder / "cold64.bin"
    size = 64 << 20
    write_file(path, size)
    print("### 1. One await read of 64 MiB of cold pages, 1 ms ticker beside it\n")
    print("| reader | time (ms) | worst ticker lag (ms) |\n| --- | --- | --- |")
    evict(path)
    with open(path, "rb") as file, mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) as raw:

        async def raw_read() -> None:
            raw[0:size]

        elapsed, lags = await with_ticker(raw_read)
    print(f"| raw mmap slice in the coroutine | {elapsed * 1e3:.1f} | {max(lags):.1f} |")
    evict(path)
    async with aio.open_ro(path) as mm:
        buf = bytearray(size)
        elapsed, lags = await with_ticker(lambda: mm.read_into_async(0, buf))
    print(f"| `await mm.read_into_async(0, buf)` | {elapsed * 1e3:.1f} | {max(lags):.1f} |")
    print("\nBudget: the loop never stalls more than 5 ms.\n")


async def cold_random_reads(path: Path) -> None:
    tasks, rounds, duration = 64, (2 if QUICK else 4), (0.5 if QUICK else 1.0)
    print(f"### 2. {tasks} tasks reading cold random 4 KiB pages of a {BIG >> 20} MiB file\n")
    print(f"The readers take turns for {rounds} rounds of {duration:g} s each, in an order")
    print("rotated every round, the file dropped from the page cache before each, so a")
    print("change in the host's load hits all of them.\n")
    results = []
    for k in range(rounds):
        order = _cold_reads.rotated(k)
        results.append(await _cold_reads.one_round(path, BIG, tasks, duration, order))
    _cold_reads.print_table(results, tasks)


def print_ratios(library: Rounds, anchor: Rounds, anchor_name: str, budget: str) -> None:
    """Library vs anchor round by round, their median (one stalled round cannot swing
    it), and over all rounds together."""
    total = (sum(c for c, _, _ in library) / sum(e for _, e, _ in library)) / (
        sum(c for c, _, _ in anchor) / sum(e for _, e, _ in anchor)
    )
    each = [(lc / le) / (ac / ae) for (lc, le, _), (ac, ae, _) in zip(library, anchor, strict=True)]
    rounds = ", ".join(f"{r:.2f}x" for r in each)
    print(
        f"\nLibrary vs {anchor_name}: {statistics.median(each):.2f}x, the median of its rounds"
        f" ({rounds}); {total:.2f}x over all rounds together. Budget: {budget}.\n"
    )


async def durable_writes(folder: Path) -> None:
    tasks, writes, rounds = 64, 50, (2 if QUICK else 5)
    print(f"### 3. {tasks} tasks each doing {writes} durable 64-byte writes on its own page\n")
    print(f"Raw and library take turns for {rounds} rounds.\n")
    print("| writer | writes/s | msync calls |\n| --- | --- | --- |")
    data = os.urandom(64)
    path = folder / "durable.bin"
    names = ("write + one msync per write in a thread", "`await mm.update_region_async(off, data)`")
    results: dict[str, Rounds] = {name: [] for name in names}
    syncs = dict.fromkeys(names, 0)
    MemoryMappedFile.create_rw(path, tasks * PAGE).close()
    for _ in range(rounds):
        with open(path, "r+b") as file, mmap.mmap(file.fileno(), tasks * PAGE) as raw:

            async def raw_writer(k: int) -> None:
                for i in range(writes):
                    raw[k * PAGE + i : k * PAGE + i + 64] = data
                    await anyio.to_thread.run_sync(raw.flush, k * PAGE, PAGE)
                    syncs[names[0]] += 1

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for k in range(tasks):
                    group.start_soon(raw_writer, k)
            results[names[0]].append((tasks * writes, time.perf_counter() - started, []))
        async with aio.open_rw(path) as mm:
            await mm.touch_pages_async()

            async def lib_writer(k: int) -> None:
                for i in range(writes):
                    await mm.update_region_async(k * PAGE + i, data)

            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for k in range(tasks):
                    group.start_soon(lib_writer, k)
            results[names[1]].append((tasks * writes, time.perf_counter() - started, []))
            syncs[names[1]] += mm.sync_count
    for name, runs in results.items():
        rate = sum(c for c, _, _ in runs) / sum(e for _, e, _ in runs)
        print(f"| {name} | {rate:,.0f} | {syncs[name]} |")
    print_ratios(results[names[1]], results[names[0]], "one msync per write", "at least 10x")


async def resident_reads(folder: Path, backend: str) -> None:
    count = 2_000 if QUICK else 20_000
    path = folder / "resident.bin"
    write_file(path, 16 << 20)
    offsets = [random.randrange(0, (16 << 20) // PAGE) * PAGE for _ in range(count)]
    print("### 4. 4 KiB reads of resident pages, one task\n")
    print("| reader | reads/s |\n| --- | --- |")
    rates = {}
    async with aio.open_ro(path) as mm:
        await mm.touch_pages_async()
        started = time.perf_counter()
        for offset in offsets:
            await mm.read_bytes_async(offset, PAGE)
        rates["`await mm.read_bytes_async(off, 4096)`"] = count / (time.perf_counter() - started)
        buf = bytearray(PAGE)
        started = time.perf_counter()
        for offset in offsets:
            await mm.read_into_async(offset, buf)
        rates["`await mm.read_into_async(off, buf)`"] = count / (time.perf_counter() - started)
    small = offsets[: max(1, count // 10)]
    if backend != "trio":  # aiofiles runs on asyncio only
        async with aiofiles.open(path, "rb") as file:
            started = time.perf_counter()
            for offset in small:
                await file.seek(offset)
                await file.read(PAGE)
            rates["aiofiles seek + read"] = len(small) / (time.perf_counter() - started)
    async with await anyio.open_file(path, "rb") as afile:
        started = time.perf_counter()
        for offset in small:
            await afile.seek(offset)
            await afile.read(PAGE)
        rates["anyio.open_file seek + read"] = len(small) / (time.perf_counter() - started)
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} |")
    library = rates["`await mm.read_bytes_async(off, 4096)`"]
    if "aiofiles seek + read" in rates:
        ratio = library / rates["aiofiles seek + read"]
        print(f"\nLibrary vs aiofiles: {ratio:.0f}x. Budget: at least 50x.\n")
    else:
        ratio = library / rates["anyio.open_file seek + read"]
        print(f"\nLibrary vs anyio.open_file (aiofiles needs asyncio): {ratio:.0f}x.\n")


def touch_pages(path: Path) -> None:
    print(f"### 5. touch_pages of {BIG >> 20} MiB (cold) against MADV_POPULATE_READ\n")
    print("| method | time (ms) |\n| --- | --- |")
    kernel, library = [], []
    for _ in range(2 if QUICK else 3):
        evict(path)
        with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as raw:
            view = memoryview(raw)
            address = buffer_address(view)
            started = time.perf_counter()
            if _libc.madvise(ctypes.c_void_p(address), ctypes.c_size_t(BIG), _MADV_POPULATE_READ):
                raise OSError(ctypes.get_errno(), "madvise")
            kernel.append(time.perf_counter() - started)
            view.release()
        evict(path)
        with MemoryMappedFile.open_ro(path) as mm:
            started = time.perf_counter()
            mm.touch_pages()
            library.append(time.perf_counter() - started)
    print(f"| kernel MADV_POPULATE_READ on a raw mmap | {min(kernel) * 1e3:.0f} |")
    print(f"| `mm.touch_pages()` | {min(library) * 1e3:.0f} |")
    print(f"\nRatio {min(library) / min(kernel):.2f}. Budget: within 1.25x.\n")


async def main() -> None:
    backend = backend_arg()
    print(f"## Async model (bench_async.py, backend {backend}, Python {sys.version.split()[0]})\n")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as name:
        folder = Path(name)
        await cold_big_read(folder)
        big = folder / "big.bin"
        write_file(big, BIG)
        await cold_random_reads(big)
        await durable_writes(folder)
        await resident_reads(folder, backend)
        touch_pages(big)


if __name__ == "__main__":
    choice = backend_arg()
    backend, options = anyio_backend(choice)
    anyio.run(main, backend=backend, backend_options=options)
