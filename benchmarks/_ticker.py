"""A 1 ms ticker task that measures how late the event loop wakes it, and why.

Each tick sleeps 1 ms and records its lateness. Where /proc/thread-self/schedstat
exists (Linux with schedstats), it also records how the loop thread spent the tick:
running on a CPU, runnable but waiting for one (the host or another thread had the
cores), or blocked (the intended 1 ms sleep, plus any wait for the GIL, a lock or a
syscall on the loop thread). The split tells a loop that was busy with Python
(tasks, the library) from one that was starved or blocked. The time the process
spent in cyclic garbage collection during each tick is recorded too.

Imports only the standard library and anyio (the uid 65534 child has those).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio

# (when it ended (perf_counter), lateness ms, loop on CPU ms, loop runnable ms,
# ms of cyclic garbage collection in any thread of the process)
Tick = tuple[float, float, float, float, float]
PERIOD = 0.001


class _GcClock:
    """Total seconds the process spent in cyclic garbage collection since installed
    (gc.callbacks; a collection holds the GIL, so it stops the loop wherever it runs)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


_gc_clock = _GcClock()
gc.callbacks.append(_gc_clock)


class _Schedstat:
    """The calling thread's (on-CPU ns, runnable-waiting ns), or zeros where unknown."""

    def __init__(self) -> None:
        try:
            self.fd: int | None = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
        except OSError:
            self.fd = None

    def read(self) -> tuple[int, int]:
        if self.fd is None:
            return 0, 0
        running, waiting, _ = os.pread(self.fd, 100, 0).split()
        return int(running), int(waiting)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)


async def tick_until(done: anyio.Event, ticks: list[Tick]) -> None:
    """Tick every 1 ms until `done` is set, appending each tick to `ticks`."""
    stat = _Schedstat()
    try:
        while not done.is_set():
            start = time.perf_counter()
            cpu, waited = stat.read()
            collecting = _gc_clock.total
            await anyio.sleep(PERIOD)
            cpu_after, waited_after = stat.read()
            end = time.perf_counter()
            ticks.append(
                (
                    end,
                    (end - start - PERIOD) * 1e3,
                    (cpu_after - cpu) / 1e6,
                    (waited_after - waited) / 1e6,
                    (_gc_clock.total - collecting) * 1e3,
                )
            )
    finally:
        stat.close()


async def with_ticker(work: Callable[[], Awaitable[object]]) -> tuple[float, list[Tick]]:
    """Run `work` beside the ticker; return (seconds taken, the ticks meanwhile)."""
    ticks: list[Tick] = []
    done = anyio.Event()
    async with anyio.create_task_group() as group:
        group.start_soon(tick_until, done, ticks)
        await anyio.sleep(0.01)
        started = time.perf_counter()
        await work()
        elapsed = time.perf_counter() - started
        done.set()
    return elapsed, [t for t in ticks if t[0] >= started]


def lags(ticks: list[Tick]) -> list[float]:
    return [t[1] for t in ticks]


def p99(values: list[float]) -> float:
    # inclusive: interpolated between samples, never past the worst one (exclusive
    # extrapolates when a stalled loop leaves only a few ticks)
    if len(values) > 1:
        return statistics.quantiles(values, n=100, method="inclusive")[98]
    return max(values, default=0.0)


def split(ticks: list[Tick]) -> str:
    """How the loop thread spent the given ticks (their whole time, 1 ms sleep
    included): on CPU / runnable, waiting for a CPU / blocked."""
    total = sum(t[1] + PERIOD * 1e3 for t in ticks)
    if not ticks or total <= 0:
        return "-"
    cpu = sum(t[2] for t in ticks)
    waiting = sum(t[3] for t in ticks)
    if cpu == 0 and waiting == 0:
        return "? (no schedstat)"
    blocked = max(total - cpu - waiting, 0.0)
    return f"{cpu / total:.0%} / {waiting / total:.0%} / {blocked / total:.0%}"


def worst(ticks: list[Tick]) -> str:
    """The latest tick: its lateness and how the loop thread spent it (ms)."""
    if not ticks:
        return "-"
    tick = max(ticks, key=lambda t: t[1])
    total = tick[1] + PERIOD * 1e3
    blocked = max(total - tick[2] - tick[3], 0.0)
    return (
        f"{tick[1]:.1f} (CPU {tick[2]:.1f}, runnable {tick[3]:.1f}, blocked {blocked:.1f};"
        f" GC {tick[4]:.1f})"
    )
