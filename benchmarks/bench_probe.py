"""Residency probes: today's mincore path against preadv2(RWF_NOWAIT), as root and nobody.

Run (as root, for the uid 65534 half): python benchmarks/bench_probe.py [--quick]

A 1 GiB file of real blocks is probed in 4 KiB and 64 KiB ranges, all resident or all
cold, three ways:

* `mm._is_resident(off, n)` with a fresh ResidencyHints each call, so each asks the
  kernel (mincore over the 64-page window, then the hints bytearray grows to the
  range's page index, as it does today);
* `_os.resident_pages(address, n)`, the raw mincore call;
* `os.preadv(fd, [buf], off, os.RWF_NOWAIT)` into a preallocated buffer: the full
  count where the page cache holds the range, EAGAIN (or a short count) where not.

Cold ranges lie 16 MiB apart (the disk's read_ahead_kb here is 8192), each probed once
after the file is evicted. After the cold NOWAIT round, each range is probed again
(after a pause) to see whether the refused probe started a read of its own.

The same probes then run as uid 65534 on the same root-owned 0644 file, where mincore
calls every page resident (Linux 5.2+) and preadv2 still tells the truth. Last: the
memory one 16-byte `read_bytes_async` near the end of a 1 TiB sparse file costs today.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

from mmap_io import MemoryMappedFile
from mmap_io._core import _os
from mmap_io._core._hints import ResidencyHints

QUICK = "--quick" in sys.argv
SIZE = 1 << 30
PAGE = 4096
SPACING = 16 << 20  # between cold ranges: more than the largest readahead window
RANGES = (4096, 65536)
ROUNDS = 2 if QUICK else 5
PAUSE = 0.2  # seconds before probing a refused range again


def make_file(path: Path) -> None:
    """1 GiB of real (non-hole) blocks, on disk, world-readable."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as file:
        for _ in range(SIZE >> 20):
            file.write(block)
        file.flush()
        os.fsync(file.fileno())
    path.chmod(0o644)


def evict(fd: int) -> None:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def warm(fd: int) -> None:
    buf = bytearray(8 << 20)
    for off in range(0, SIZE, len(buf)):
        os.preadv(fd, [buf], off)


def nowait(fd: int, buf: bytearray, off: int) -> str:
    try:
        n = os.preadv(fd, [buf], off, os.RWF_NOWAIT)
    except BlockingIOError:
        return "EAGAIN"
    return "full" if n == len(buf) else "short"


def _timed(probe: Any, offsets: list[int]) -> tuple[float, list[Any]]:
    answers = []
    start = time.perf_counter_ns()
    for off in offsets:
        answers.append(probe(off))
    return (time.perf_counter_ns() - start) / len(offsets) / 1000, answers


def _tally(answers: list[Any]) -> str:
    counts: dict[str, int] = {}
    for answer in answers:
        key = {True: "resident", False: "cold"}.get(answer, str(answer))
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}/{len(answers)}" for k, v in sorted(counts.items()))


def measure(path: Path) -> list[dict[str, Any]]:
    """Every probe, both sizes, resident then cold; run as root and as nobody."""
    rows: list[dict[str, Any]] = []
    rng = random.Random(7)
    fd = os.open(path, os.O_RDONLY)
    mm = MemoryMappedFile.open_ro(path)
    address = mm.address
    try:
        for n in RANGES:
            buf = bytearray(n)
            count = SIZE // SPACING
            spread = [i * SPACING + rng.randrange(0, SPACING - n, PAGE) for i in range(count)]

            def fresh(off: int, n: int = n) -> bool:
                mm._hints = ResidencyHints()
                return mm._is_resident(off, n)

            def raw(off: int, n: int = n) -> bool:
                vector = _os.resident_pages(address + off, n)
                return vector is not None and all(b & 1 for b in vector)

            def probe(off: int, buf: bytearray = buf) -> str:
                return nowait(fd, buf, off)

            methods = {
                "_is_resident (fresh hints)": fresh,
                "raw mincore": raw,
                "preadv2 RWF_NOWAIT": probe,
            }
            warm(fd)
            for name, method in methods.items():
                best, answers = float("inf"), []
                for _ in range(ROUNDS):
                    cost, answers = _timed(method, rng.sample(spread, len(spread)) * 8)
                    best = min(best, cost)
                rows.append({"range": n, "state": "resident", "method": name, "us": best,
                             "answers": _tally(answers)})  # fmt: skip
            for name, method in methods.items():
                best, answers = float("inf"), []
                for _ in range(ROUNDS):
                    time.sleep(PAUSE)  # reads a refused probe started are done: evictable
                    evict(fd)
                    cost, answers = _timed(method, rng.sample(spread, len(spread)))
                    best = min(best, cost)
                row = {"range": n, "state": "cold", "method": name, "us": best,
                       "answers": _tally(answers)}  # fmt: skip
                if method is probe:
                    time.sleep(PAUSE)
                    row["again"] = _tally([probe(off) for off in spread])
                rows.append(row)
            evict(fd)
    finally:
        mm.close()
        os.close(fd)
    return rows


def readahead_of_one_refused_probe(path: Path, n: int) -> tuple[int, float]:
    """Pages resident around one cold range after a refused NOWAIT probe, and how long
    until a NOWAIT read of that range succeeds (root only: mincore tells the truth)."""
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(n)
    try:
        with MemoryMappedFile.open_ro(path) as mm:
            off = SIZE // 2
            evict(fd)
            start = time.perf_counter()
            first = nowait(fd, buf, off)
            while nowait(fd, buf, off) != "full":
                if time.perf_counter() - start > 5:
                    return -1, float("inf")
                time.sleep(0.0001)
            took = time.perf_counter() - start
            window = _os.resident_pages(mm.address + off - (8 << 20), 16 << 20) or b""
            assert first == "EAGAIN"
            return sum(b & 1 for b in window), took
    finally:
        os.close(fd)


def hints_memory(folder: Path) -> dict[str, int]:
    """RSS and peak RSS (KiB) added by one 16-byte read_bytes_async near the end of a
    1 TiB sparse file, and the length of the hints bytearray afterwards."""
    import anyio

    from mmap_io import aio

    path = folder / "sparse.bin"
    with open(path, "wb") as file:
        file.truncate(1 << 40)

    def status() -> dict[str, int]:
        fields = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon"):
                fields[key] = int(value.split()[0])
        return fields

    async def read() -> dict[str, int]:
        async with aio.open_ro(path) as mm:
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak to now
            before = status()
            assert await mm.read_bytes_async(len(mm) - 16, 16) == bytes(16)
            after = status()
            return {
                "rss_kib": after["VmRSS"] - before["VmRSS"],
                "anon_kib": after["RssAnon"] - before["RssAnon"],
                "peak_kib": after["VmHWM"] - before["VmRSS"],
                "hints_bytes": len(mm._hints._pages),
            }

    try:
        return anyio.run(read)
    finally:
        path.unlink()


def machine(path: Path) -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    device = os.stat(path).st_dev
    block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    readahead = "?"
    for queue in (block / "queue", block.parent / "queue"):
        if (queue / "read_ahead_kb").exists():
            readahead = (queue / "read_ahead_kb").read_text().strip()
            break
    return (
        f"{names[0] if names else platform.processor()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}, Python {platform.python_version()} (uid 65534: the system's), "
        f"read_ahead_kb {readahead}"
    )


def print_rows(who: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        again = f"; again after {PAUSE:g} s: {row['again']}" if "again" in row else ""
        print(f"| {who} | {row['range'] // 1024} KiB | {row['state']} | {row['method']} | "
              f"{row['us']:.2f} | {row['answers']}{again} |")  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import _nobody

    with _nobody.folder() as folder:
        path = folder / "probe.bin"
        make_file(path)
        print("## Residency probes on a 1 GiB file (µs per probe, best of rounds)")
        print(machine(path) + "\n")
        print("| who | range | state | probe | µs | answers |")
        print("| --- | --- | --- | --- | --- | --- |")
        print_rows("root (owner)", measure(path))
        try:
            rows = _nobody.call(measure, path, timeout=600)
        except _nobody.Unavailable as error:
            print(f"\n(uid 65534 skipped: {error})")
        else:
            print_rows("uid 65534", rows)
        print()
        for n in RANGES:
            pages, took = readahead_of_one_refused_probe(path, n)
            print(
                f"- one refused NOWAIT probe of {n // 1024} KiB: {pages} pages resident around"
                f" it afterwards; a NOWAIT read of it succeeded {took * 1e3:.2f} ms later"
            )
        memory = hints_memory(folder)
    print(
        f"- one 16-byte read_bytes_async at the end of a 1 TiB sparse file: hints "
        f"bytearray {memory['hints_bytes'] / 2**20:.0f} MiB, RSS +{memory['rss_kib'] / 1024:.0f}"
        f" MiB (anonymous +{memory['anon_kib'] / 1024:.0f} MiB), peak +"
        f"{memory['peak_kib'] / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
