"""64 tasks reading cold random 4 KiB pages: the library against its anchors, one round.

Shared by bench_async.py (as root) and bench_cold_reads.py (as root and as uid 65534,
through tests/_nobody.py): this module imports only the standard library, anyio and
mmap_io, which is what the unprivileged child has.

A round runs each reader once for `duration` seconds, the file dropped from the page
cache before each, in the order given (callers rotate it between rounds):

* "threads": `tasks` plain threads faulting the pages in with ctypes.memmove (GIL
  released), no event loop: the ceiling offloading can reach (DESIGN.md section 7);
* "raw": stdlib mmap slices in `tasks` coroutines, every fault on the loop;
* "read_bytes": `await mm.read_bytes_async(off, 4096)` in `tasks` coroutines;
* "read_into": `await mm.read_into_async(off, buf)` into a 4 KiB bytearray per task.

Each reader visits every page at most once (a random permutation shared by its
tasks), so every read is of a page that was cold when the reader started. Beside the
coroutine readers a 1 ms ticker measures how late the loop wakes it; the loop
thread's major faults are counted from /proc/thread-self/stat.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from _probe_spy import ProbeSpy
from _ticker import Tick, lags, p99, split, with_ticker, worst

from mmap_io import MmapAdvice, aio
from mmap_io._core import _residency
from mmap_io._core._address import buffer_address

PAGE = mmap.PAGESIZE
READERS = ("threads", "raw", "read_bytes", "read_into")
# A diagnostic reader (bench_cold_reads.py --what-if): the library with its residency
# probe switched off (`mm._probe = NONE`, the state it falls back to where no probe
# works), so every range not already known resident goes to the pager: what cold
# reads would cost if the loop never probed the kernel for them.
WHAT_IF = "read_bytes_no_probe"
LABELS = {
    "threads": "{tasks} plain threads faulting in parallel (memmove, no loop): the ceiling",
    "raw": "raw mmap slices in the coroutines",
    "read_bytes": "`await mm.read_bytes_async(off, 4096)`",
    "read_into": "`await mm.read_into_async(off, buf)`",
    WHAT_IF: "what if: `read_bytes_async` with the probe off (`mm._probe = NONE`)",
}

# One reader's round: (reads, seconds, the ticker's ticks, loop-thread major faults,
# loop-thread CPU seconds, KiB the file's disk read meanwhile).
Run = tuple[int, float, list[Tick], int, float, float]
LATE = 2.0  # ms: the budget's p99 lag; later ticks are broken down


def write_file(path: Path, size: int) -> None:
    """`size` bytes of real (non-hole) blocks, on disk."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as file:
        for _ in range(size >> 20):
            file.write(block)
        file.flush()
        os.fsync(file.fileno())


def evict(path: Path) -> None:
    """Drop the file from the page cache (any reader may: the fd needs only O_RDONLY)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def disk_kib(path: Path) -> float:
    """KiB read so far from the block device holding `path` (0 if unknown)."""
    device = os.stat(path).st_dev
    block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    try:
        return int((block / "stat").read_text().split()[2]) / 2  # 512-byte sectors
    except (OSError, IndexError, ValueError):
        return 0.0


def major_faults() -> int:
    """Major page faults of the calling thread so far (field 12 of its stat)."""
    with open("/proc/thread-self/stat") as stat:
        return int(stat.read().rpartition(")")[2].split()[9])


async def _in_coroutines(
    read: Callable[[int], Awaitable[object]], path: Path, pages: int, tasks: int, duration: float
) -> Run:
    order = random.sample(range(pages), pages)  # every page at most once: all stay cold
    count = 0
    deadline = 0.0

    async def reader(k: int) -> None:
        nonlocal count
        i = k
        while time.perf_counter() < deadline and i < pages:
            await read(order[i] * PAGE)
            count += 1
            i += tasks

    async def work() -> None:
        nonlocal deadline
        deadline = time.perf_counter() + duration
        async with anyio.create_task_group() as group:
            for k in range(tasks):
                group.start_soon(reader, k)

    faults, cpu, disk = major_faults(), time.thread_time(), disk_kib(path)
    elapsed, ticks = await with_ticker(work)
    cpu, disk = time.thread_time() - cpu, disk_kib(path) - disk
    return count, elapsed, ticks, major_faults() - faults, cpu, disk


async def _raw(path: Path, size: int, tasks: int, duration: float) -> Run:
    with open(path, "rb") as file:
        raw = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)
    with raw:
        raw.madvise(mmap.MADV_RANDOM)

        async def read(offset: int) -> None:
            raw[offset : offset + PAGE]
            await anyio.sleep(0)

        return await _in_coroutines(read, path, size // PAGE, tasks, duration)


async def _library(
    path: Path, size: int, tasks: int, duration: float, name: str, spy: ProbeSpy | None
) -> Run:
    async with aio.open_ro(path) as mm:
        mm.advise(0, size, MmapAdvice.RANDOM)
        if name == WHAT_IF:
            mm._probe = _residency.NONE
        if name == "read_into":
            buffers: dict[int, bytearray] = {}

            async def read(offset: int) -> None:
                buf = buffers.get(offset % tasks)  # any one of a few: contents unused
                if buf is None:
                    buf = buffers[offset % tasks] = bytearray(PAGE)
                await mm.read_into_async(offset, buf)

        else:

            async def read(offset: int) -> None:
                await mm.read_bytes_async(offset, PAGE)

        if spy is None:
            return await _in_coroutines(read, path, size // PAGE, tasks, duration)
        with spy:
            return await _in_coroutines(read, path, size // PAGE, tasks, duration)


def threads_faulting(path: Path, size: int, count: int, duration: float) -> Run:
    """`count` plain threads faulting random pages in with memmove (GIL released)."""
    pages = size // PAGE
    order = random.sample(range(pages), pages)
    done = [0] * count
    with open(path, "rb") as file, mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ) as raw:
        raw.madvise(mmap.MADV_RANDOM)
        view = memoryview(raw)
        base = buffer_address(view)
        deadline = 0.0

        def worker(k: int) -> None:
            sink = ctypes.create_string_buffer(PAGE)
            i = k
            while time.perf_counter() < deadline and i < pages:
                ctypes.memmove(sink, base + order[i] * PAGE, PAGE)
                done[k] += 1
                i += count

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(count)]
        disk = disk_kib(path)
        deadline = time.perf_counter() + duration
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        disk = disk_kib(path) - disk
        view.release()
    return sum(done), elapsed, [], 0, 0.0, disk


def backend_name() -> str:
    try:
        import asyncio

        loop = asyncio.get_running_loop()
    except RuntimeError:
        return "trio"
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


async def one_round(
    path: Path,
    size: int,
    tasks: int,
    duration: float,
    order: tuple[str, ...] = READERS,
    spy_probes: bool = False,
) -> dict[str, Any]:
    """Each reader in `order` once, the file evicted before each; plus who ran it, on
    what, the probe the library chose, and the ticker with nothing else running.

    With `spy_probes`, the library's probe syscalls on the loop thread are timed
    (see _probe_spy.py; it costs each read about a microsecond)."""
    runs: dict[str, Run] = {}
    probes: dict[str, Any] = {}
    for name in order:
        evict(path)
        if name == "threads":
            runs[name] = threads_faulting(path, size, tasks, duration)  # no loop to watch
        elif name == "raw":
            runs[name] = await _raw(path, size, tasks, duration)
        else:
            spy = ProbeSpy() if spy_probes else None
            runs[name] = await _library(path, size, tasks, duration, name, spy)
            if spy is not None:
                probes[name] = spy.summary()
    evict(path)
    async with aio.open_ro(path) as mm:
        await mm.read_bytes_async(0, 1)
        probe = mm._probe
    _, idle = await with_ticker(lambda: anyio.sleep(duration / 2))  # the host's share
    return {
        "runs": runs,
        "idle": idle,
        "uid": os.geteuid(),
        "owner": os.stat(path).st_uid,
        "python": f"{sys.executable} {platform.python_version()}",
        "backend": backend_name(),
        "probe": probe,
        "probes": probes,
    }


def rotated(round_index: int, readers: tuple[str, ...] = READERS) -> tuple[str, ...]:
    """The readers' order in a round: rotated each round, so drift hits each in turn."""
    k = round_index % len(readers)
    return readers[k:] + readers[:k]


def rate(runs: list[Run]) -> float:
    return sum(r[0] for r in runs) / sum(r[1] for r in runs)


def ratio_line(library: list[Run], anchor: list[Run]) -> str:
    """Median of the per-round ratios (one stalled round cannot swing it), the rounds,
    and the ratio over all rounds together."""
    each = [
        (lc / le) / (ac / ae) for (lc, le, *_), (ac, ae, *_) in zip(library, anchor, strict=True)
    ]
    rounds = ", ".join(f"{r:.2f}" for r in each)
    together = rate(library) / rate(anchor)
    return f"{statistics.median(each):.2f}x (rounds {rounds}; all together {together:.2f}x)"


def print_table(rounds: list[dict[str, Any]], tasks: int) -> None:
    """The readers' reads/s and lags over all rounds, then the ratios against the budget."""
    print(
        "| reader | reads/s | ticker p99 lag (ms) | worst tick (ms) | ticks late > 2 ms: loop"
        " on CPU / runnable / blocked | loop major faults | loop CPU µs/read | disk KiB/read |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    names = [n for n in (*READERS, WHAT_IF) if n in rounds[0]["runs"]]
    for name in names:
        runs = [r["runs"][name] for r in rounds]
        ticks = [tick for run in runs for tick in run[2]]
        label = LABELS[name].format(tasks=tasks)
        reads = sum(run[0] for run in runs)
        disk = f"{sum(run[5] for run in runs) / reads:.1f}"
        if name == "threads":
            print(f"| {label} | {rate(runs):,.0f} | - | - | - | - | - | {disk} |")
            continue
        late = [t for t in ticks if t[1] > LATE]
        faults = sum(run[3] for run in runs)
        cpu = sum(run[4] for run in runs) / reads * 1e6
        print(
            f"| {label} | {rate(runs):,.0f} | {p99(lags(ticks)):.2f} | {worst(ticks)}"
            f" | {len(late)} of {len(ticks)}: {split(late)} | {faults} | {cpu:.1f} | {disk} |"
        )
    idle = [tick for r in rounds for tick in r["idle"]]
    late = [t for t in idle if t[1] > LATE]
    print(
        f"| the ticker alone, nothing else running | - | {p99(lags(idle)):.2f} | {worst(idle)}"
        f" | {len(late)} of {len(idle)}: {split(late)} | - | - | - |"
    )
    print()
    for name in ("read_bytes", "read_into", WHAT_IF):
        if name not in names:
            continue
        runs = [r["runs"][name] for r in rounds]
        print(f"- {LABELS[name]}:")
        if "threads" in names:
            threads = [r["runs"]["threads"] for r in rounds]
            line = ratio_line(runs, threads)
            print(f"  - **vs {tasks} threads: {line}**. Budget: at least 0.8x.")
        if "raw" in names:
            raw = [r["runs"]["raw"] for r in rounds]
            print(f"  - vs raw mmap in the coroutines: {ratio_line(runs, raw)} (1.9-4x expected).")
        ticks = [tick for run in runs for tick in run[2]]
        print(f"  - ticker p99 lag {p99(lags(ticks)):.2f} ms. Budget: under 2 ms.")
    print()
    print_probes(rounds)


def print_probes(rounds: list[dict[str, Any]]) -> None:
    """The probe syscalls timed on the loop thread, over all rounds (if spied on)."""
    merged: dict[tuple[str, str], list[tuple[int, float, float, float]]] = {}
    for r in rounds:
        for reader, calls in r.get("probes", {}).items():
            for call, figures in calls.items():
                merged.setdefault((reader, call), []).append(figures)
    if not merged:
        return
    print("Probe syscalls on the loop thread (spied on; per call):\n")
    print("| reader | call | calls | mean µs | p99 µs (worst round) | slowest µs |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (reader, call), figures in merged.items():
        calls = sum(f[0] for f in figures)
        mean = sum(f[0] * f[1] for f in figures) / calls
        print(
            f"| {LABELS[reader].split(':')[0]} | {call} | {calls} | {mean:.1f}"
            f" | {max(f[2] for f in figures):.0f} | {max(f[3] for f in figures):.0f} |"
        )
    print()
