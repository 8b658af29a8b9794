"""What the event loop pays per cold read, with the disk taken out.

Run: python benchmarks/bench_loop_cost.py [--quick] [--backend=asyncio|uvloop|trio]

A diagnostic, not a budget line. On trio the cold-read line of bench_async.py is
bound by the loop's CPU rather than the disk, and that line swings with the host's
disk, which drifts within seconds here. This takes the disk out: the file is
resident, the library is told every page is cold and the pager's madvise steps are
skipped, so each read runs the library's whole loop-side cold path (checks, queueing,
the wait, the wake, the copy) and nothing else. Against it, the floor: the same 64
tasks woken in groups of 32 by a thread that does nothing else, which is the
backend's own price of resuming a task from a thread. Both run beside the same 1 ms
ticker, in alternating rounds; the loop thread's CPU time per read is the figure to
read (reads/s also moves with the CPU the host lends us). Resident pages never take
this path in real use: they are copied inline.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from _harness import anyio_backend, backend_arg

from mmap_io import aio
from mmap_io._core import _paging, _workers
from mmap_io._core._mapping import Mapping
from mmap_io._pairs import LoopWaiter, running_loop
from mmap_io.aio import _file

QUICK = "--quick" in sys.argv
PAGE = 4096
SIZE = 64 << 20
TASKS = 64

Result = tuple[float, float, float]  # reads/s, loop CPU µs a read, process CPU µs a read


class Waker(_workers.Worker):
    """The floor: queues like the pager, then fires each group without touching memory."""

    __slots__ = ("_pending",)
    thread_name = "bench-waker"

    def __init__(self, mapping: Mapping, on_exit: Callable[[], object]) -> None:
        super().__init__(mapping, on_exit)
        self._pending: list[tuple[list[int], LoopWaiter]] = []

    def add(self) -> LoopWaiter:
        with self._lock:
            pending = self._pending
            if not pending:
                self._cond.notify()
            if not pending or len(pending[-1][0]) >= _workers.GROUP:
                pending.append(([], running_loop().make_waiter()))
            pending[-1][0].append(0)
            return pending[-1][1]

    def _serve(self) -> None:
        while True:
            with self._lock:
                if not self._pending and self._open:
                    self._cond.wait(0.25)
                batch, self._pending = self._pending, []
            if not batch and not self._open:
                return
            for _, waiter in batch:
                waiter.fire()


async def run(read: Callable[[int], Awaitable[object]], seconds: float) -> Result:
    """TASKS readers at random pages for `seconds`, beside a 1 ms ticker."""
    pages = SIZE // PAGE
    count = 0
    deadline = 0.0

    async def reader(k: int) -> None:
        nonlocal count
        rng = random.Random(k)
        while time.perf_counter() < deadline:
            await read(rng.randrange(pages) * PAGE)
            count += 1

    async def ticker(stop: anyio.Event) -> None:
        while not stop.is_set():
            await anyio.sleep(0.001)

    stop = anyio.Event()
    loop_cpu, cpu, started = time.thread_time(), time.process_time(), time.perf_counter()
    async with anyio.create_task_group() as group:
        group.start_soon(ticker, stop)
        deadline = time.perf_counter() + seconds
        async with anyio.create_task_group() as readers:
            for k in range(TASKS):
                readers.start_soon(reader, k)
        stop.set()
    elapsed = time.perf_counter() - started
    per_read = 1e6 / max(count, 1)
    return (
        count / elapsed,
        (time.thread_time() - loop_cpu) * per_read,
        (time.process_time() - cpu) * per_read,
    )


async def floor_round(path: Path, seconds: float) -> Result:
    async with aio.open_ro(path) as mm:
        waker = Waker.start(mm, lambda: None)
        assert waker is not None, "the mapping is closed or no thread can start"

        async def read(offset: int) -> None:
            await waker.add().wait()

        try:
            return await run(read, seconds)
        finally:
            waker.stop()


async def library_round(path: Path, seconds: float) -> Result:
    async with aio.open_ro(path) as mm:

        async def read(offset: int) -> None:
            await mm.read_bytes_async(offset, PAGE)

        return await run(read, seconds)


def cold_path_only() -> Callable[[], None]:
    """Send every read through the pager, which pages nothing in; returns the undo."""
    saved = _file.is_resident, _paging.start_page_in, _paging.finish_page_in
    _file.is_resident = lambda mapping, offset, length: False  # type: ignore[assignment]
    _paging.start_page_in = _paging.finish_page_in = lambda mapping, ranges: None  # type: ignore[assignment]

    def undo() -> None:
        _file.is_resident, _paging.start_page_in, _paging.finish_page_in = saved

    return undo


async def main() -> None:
    backend = backend_arg()
    rounds, seconds = (2, 0.5) if QUICK else (4, 1.0)
    print(f"## Loop cost of a cold read, no disk (bench_loop_cost.py, backend {backend})\n")
    names = ("floor: a thread waking the tasks", "library's cold path, pager steps skipped")
    results: dict[str, list[Result]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warm.bin"
        path.write_bytes(bytes(SIZE))  # written through the page cache: resident
        undo = cold_path_only()
        try:
            for _ in range(rounds):
                results[names[0]].append(await floor_round(path, seconds))
                results[names[1]].append(await library_round(path, seconds))
        finally:
            undo()
    print("| reader | reads/s (median) | loop CPU µs/read | process CPU µs/read | of floor |")
    print("| --- | --- | --- | --- | --- |")
    floor = results[names[0]]
    for name, runs in results.items():
        share = statistics.median(r[0] / f[0] for r, f in zip(runs, floor, strict=True))
        rate, loop, cpu = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"| {name} | {rate:,.0f} | {loop:.1f} | {cpu:.1f} | {share:.2f} |")
    extra = statistics.median(
        lib[1] - base[1] for lib, base in zip(results[names[1]], floor, strict=True)
    )
    print(f"\nMedians over {rounds} alternating rounds of {seconds:g} s, {TASKS} tasks; the")
    print(f"library's cold path adds {extra:.1f} µs of loop CPU per read to the backend's wake.\n")


if __name__ == "__main__":
    choice = backend_arg()
    backend, options = anyio_backend(choice)
    anyio.run(main, backend=backend, backend_options=options)
