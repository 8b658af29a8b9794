"""What the loop guard (tests/_loop_guard.py) costs the calls it watches.

Run: python benchmarks/bench_loop_guard.py

The audit hook sees every audit event of the process once it is added (and cannot be
removed), so the figures are: an `open` of a file with no hook, with the hook but no
guarded test running, with a guard running but off the loop thread, and on the loop
thread from the test's own code and from library code (the stack walk); a spied
OS-layer call; and a resident 4 KiB `read_bytes_async`, the hot async path, with and
without a guard. The whole-suite figure is measured with pytest (see the report).
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import header, table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import _loop_guard

from mmap_io import MemoryMappedFile, MmapAdvice, aio
from mmap_io._core import _os
from mmap_io._core._files import open_file

ROUNDS = 7
PAGE = 4096


def best_ns(fn: object, number: int) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter_ns()
        fn(number)  # type: ignore[operator]
        best = min(best, (time.perf_counter_ns() - start) / number)
    return best


def opens(path: Path, library: bool) -> object:
    name = str(path)

    def run(n: int) -> None:
        for _ in range(n):
            file = open_file(name, name, False) if library else io.FileIO(name)
            file.close()

    return run


def spied_advise(mm: MemoryMappedFile) -> object:
    address = mm.address

    def run(n: int) -> None:
        advise = _os.advise
        for _ in range(n):
            advise(address, PAGE, MmapAdvice.RANDOM)

    return run


async def async_reads(mm: MemoryMappedFile, n: int) -> None:
    for _ in range(n):
        await mm.read_bytes_async(0, PAGE)


def main() -> None:
    header("Loop guard overhead (ns per call, best of 7 rounds)")
    rows: list[tuple[str, str, str]] = []

    def row(what: str, where: str, ns: float) -> None:
        rows.append((what, where, f"{ns:.0f}"))

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.bin"
        path.write_bytes(b"x" * 16 * PAGE)
        mm = MemoryMappedFile.open_rw(path)
        loop_thread = threading.get_ident()
        row("open+close by test code", "no audit hook", best_ns(opens(path, False), 2000))
        row("_os.advise(RANDOM)", "no spy", best_ns(spied_advise(mm), 20000))
        saved = _loop_guard._arm(_loop_guard.Guard("asyncio", loop_thread + 1))  # not this one
        row(
            "open+close by test code",
            "guard armed, off the loop",
            best_ns(opens(path, False), 2000),
        )
        row(
            "open+close by library code",
            "guard armed, off the loop",
            best_ns(opens(path, True), 2000),
        )
        row("_os.advise(RANDOM)", "spied, off the loop", best_ns(spied_advise(mm), 20000))
        _loop_guard._disarm(saved)
        row(
            "open+close by test code",
            "hook added, no guard armed",
            best_ns(opens(path, False), 2000),
        )

        async def on_loop() -> None:
            armed = _loop_guard._arm(_loop_guard.Guard("asyncio", loop_thread))
            try:
                row("open+close by test code", "on the loop (stack walked)",
                    best_ns(opens(path, False), 2000))  # fmt: skip
                row("open+close by library code", "on the loop (recorded)",
                    best_ns(opens(path, True), 2000))  # fmt: skip
            finally:
                _loop_guard._disarm(armed)

        asyncio.run(on_loop())

        async def reads() -> None:
            async with aio.open_ro(path) as ro:
                await async_reads(ro, 1000)
                plain = guarded = float("inf")
                for _ in range(ROUNDS):
                    start = time.perf_counter_ns()
                    await async_reads(ro, 20000)
                    plain = min(plain, (time.perf_counter_ns() - start) / 20000)
                    armed = _loop_guard._arm(_loop_guard.Guard("asyncio", loop_thread))
                    start = time.perf_counter_ns()
                    await async_reads(ro, 20000)
                    guarded = min(guarded, (time.perf_counter_ns() - start) / 20000)
                    _loop_guard._disarm(armed)
                row("read_bytes_async 4 KiB, resident", "no guard", plain)
                row("read_bytes_async 4 KiB, resident", "guard armed, on the loop", guarded)

        asyncio.run(reads())
        mm.close()
    table(rows, ("call", "condition", "ns"))


if __name__ == "__main__":
    main()
