"""Watch latency: an external write+fsync until the callback or async iterator hears of it.

Run: python benchmarks/bench_watch.py [--quick]

A writer thread stamps the time, writes with os.pwrite and fsyncs through its own
descriptor, then waits for the receiver under test to stamp the arrival. Anchor,
measured in the same rounds on the same directory: raw `watchfiles.watch` at its
fastest (1 ms step, no debounce, no filter, non-recursive), and with mmap_io's default
settings (5 ms step, 50 ms debounce) for reference. The library runs at its default
latency (0.005 s) and at `latency=0.001`. Budget (DESIGN.md section 7): median within
3x of raw watchfiles. Receivers take turns, so they never compete for the GIL.

Then the price of a lower latency: the CPU an idle watch burns (process CPU time over
wall time, for IDLE seconds with nothing changing), for each setting.
"""

from __future__ import annotations

import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import anyio.from_thread
import anyio.lowlevel
import watchfiles
from _harness import header, table

from mmap_io import MemoryMappedFile
from mmap_io._core._watch import DEBOUNCE_MS, IDLE_TIMEOUT_MS, STEP_MS

QUICK = "--quick" in sys.argv
ROUNDS, WRITES = (2, 10) if QUICK else (6, 25)
SETTINGS = {"debounce": DEBOUNCE_MS, "step": STEP_MS, "rust_timeout": IDLE_TIMEOUT_MS}
FASTEST = {"debounce": 0, "step": 1, "rust_timeout": IDLE_TIMEOUT_MS}
IDLE = 1.0 if QUICK else 3.0

Stamps = queue.Queue[float]
Receiver = Callable[[MemoryMappedFile, Path, Stamps], Callable[[], None]]


def raw_watch(settings: dict[str, int]) -> Receiver:
    def start(mm: MemoryMappedFile, path: Path, stamps: Stamps) -> Callable[[], None]:
        return _raw_watch(path, stamps, settings)

    return start


def _raw_watch(path: Path, stamps: Stamps, settings: dict[str, int]) -> Callable[[], None]:
    stop = threading.Event()

    def run() -> None:
        changes = watchfiles.watch(
            path.parent, watch_filter=None, stop_event=stop, recursive=False, **settings
        )
        for batch in changes:
            if any(p == str(path) for _, p in batch):
                stamps.put(time.perf_counter())

    thread = threading.Thread(target=run)
    thread.start()
    return lambda: (stop.set(), thread.join())


def callback(latency: float | None) -> Receiver:
    def start(mm: MemoryMappedFile, path: Path, stamps: Stamps) -> Callable[[], None]:
        return mm.watch(lambda event: stamps.put(time.perf_counter()), latency=latency).stop

    return start


def _in_loop(backend: str, consume: Callable[[anyio.Event], object]) -> Callable[[], None]:
    """Run `consume(stop_event)` on an event loop in its own thread."""
    ready, box = threading.Event(), {}

    async def main() -> None:
        box["stop"], box["token"] = anyio.Event(), anyio.lowlevel.current_token()
        ready.set()
        await consume(box["stop"])  # type: ignore[misc]

    thread = threading.Thread(target=anyio.run, args=(main,), kwargs={"backend": backend})
    thread.start()
    ready.wait()

    def stop() -> None:
        anyio.from_thread.run_sync(box["stop"].set, token=box["token"])
        thread.join()

    return stop


def stream(backend: str, latency: float | None = None) -> Receiver:
    def start(mm: MemoryMappedFile, path: Path, stamps: Stamps) -> Callable[[], None]:
        async def consume(stop: anyio.Event) -> None:
            async with (
                anyio.create_task_group() as group,
                mm.watch_async(latency=latency) as events,
            ):
                group.start_soon(_cancel_on, stop, group.cancel_scope)
                async for _ in events:
                    stamps.put(time.perf_counter())

        return _in_loop(backend, consume)

    return start


def raw_awatch(mm: MemoryMappedFile, path: Path, stamps: Stamps) -> Callable[[], None]:
    async def consume(stop: anyio.Event) -> None:
        changes = watchfiles.awatch(
            path.parent, watch_filter=None, stop_event=stop, recursive=False, **SETTINGS
        )
        async for batch in changes:
            if any(p == str(path) for _, p in batch):
                stamps.put(time.perf_counter())

    return _in_loop("asyncio", consume)


async def _cancel_on(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    await stop.wait()
    scope.cancel()


def measure(receiver: Receiver, mm: MemoryMappedFile, path: Path, fd: int) -> list[float]:
    """Latencies in ms of WRITES spaced writes, heard by one receiver."""
    stamps: Stamps = queue.Queue()
    stop = receiver(mm, path, stamps)
    time.sleep(0.05)
    latencies = []
    try:
        for i in range(WRITES):
            time.sleep(random.uniform(0.02, 0.04))  # random phase against the 5 ms steps
            while not stamps.empty():
                stamps.get_nowait()
            start = time.perf_counter()
            os.pwrite(fd, b"%08d" % i, 0)
            os.fsync(fd)
            latencies.append((stamps.get(timeout=5) - start) * 1000)
    finally:
        stop()
    return latencies


def idle_cpu(start: Callable[[], Callable[[], None]]) -> float:
    """Percent of one core that an idle watch uses, measured over IDLE seconds."""
    stop = start()
    time.sleep(0.2)  # set up
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(IDLE)
    used = (time.process_time() - cpu) / (time.perf_counter() - wall)
    stop()
    return used * 100


def main() -> None:
    header("Watch latency (bench_watch.py)")
    receivers: dict[str, Receiver] = {
        "raw watchfiles.watch, 1 ms step, no debounce (anchor)": raw_watch(FASTEST),
        "raw watchfiles.watch, 5 ms step, 50 ms debounce": raw_watch(SETTINGS),
        "mm.watch(callback), default latency 0.005": callback(None),
        "mm.watch(callback, latency=0.001)": callback(0.001),
        "raw watchfiles.awatch, asyncio, 5 ms step": raw_awatch,
        "mm.watch_async(), asyncio, default": stream("asyncio"),
        "mm.watch_async(latency=0.001), asyncio": stream("asyncio", 0.001),
        "mm.watch_async(), trio, default": stream("trio"),
    }
    results: dict[str, list[float]] = {name: [] for name in receivers}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "watched.bin"
        path.write_bytes(bytes(1 << 16))
        with MemoryMappedFile.open_ro(path) as mm:
            fd = os.open(path, os.O_RDWR)
            for _ in range(ROUNDS):
                for name, receiver in receivers.items():
                    results[name] += measure(receiver, mm, path, fd)
            os.close(fd)
        anchor = statistics.median(results["raw watchfiles.watch, 1 ms step, no debounce (anchor)"])
        rows = []
        for name, values in results.items():
            median = statistics.median(values)
            deciles = statistics.quantiles(values, n=10)
            spread = f"{median:.1f} [{deciles[0]:.1f}-{deciles[-1]:.1f}]"
            rows.append((name, spread, "anchor" if "anchor" in name else f"{median / anchor:.2f}x"))
        table(rows, ("receiver", "median ms [p10-p90]", "vs the fastest raw watchfiles"))
        print(f"{len(values)} writes per receiver; write+fsync from a thread\n")
        with MemoryMappedFile.open_ro(path) as mm:
            quiet: Stamps = queue.Queue()
            costs = {
                "raw watchfiles.watch, 1 ms step": lambda: _raw_watch(path, quiet, FASTEST),
                "raw watchfiles.watch, 5 ms step": lambda: _raw_watch(path, quiet, SETTINGS),
                "mm.watch, default latency 0.005": lambda: mm.watch(print).stop,
                "mm.watch, latency=0.001": lambda: mm.watch(print, latency=0.001).stop,
            }
            cpu = [(name, f"{idle_cpu(start):.2f}%") for name, start in costs.items()]
        table(cpu, ("idle watch", "CPU (% of one core)", ""))


if __name__ == "__main__":
    main()
