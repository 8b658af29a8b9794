"""Residency probes: the library's two (mincore, the pagemap present bit) against the
raw calls and preadv2 RWF_NOWAIT.

Run (as root, for the uid 65534 half): python benchmarks/bench_probe.py [--quick]

A 1 GiB file of real blocks is probed in 4 KiB and 64 KiB ranges, all resident or all
cold, these ways:

* `_residency.is_resident(mm, off, n)`, the probe async reads trust, with fresh
  hints each call (`mm._hints = ResidencyHints()`) so that each asks the kernel, and
  the probe kind forced: `mm._probe = MINCORE` (mincore over the aligned 64-page
  window, recorded in the hints) or `mm._probe = PAGEMAP` (the present bit of
  /proc/self/pagemap over the same window);
* `_os.resident_pages(address, n)`, the raw mincore call;
* `os.preadv(fd, [buf], off, os.RWF_NOWAIT)` into a preallocated buffer: the full
  count where the page cache holds the range, EAGAIN (or a short count) where not;
* the raw pagemap read (bit 63, present, of each page's entry), which says whether the
  page is mapped into this process's page table now. It never starts a read, but a
  page cached and not yet faulted into this mapping reads as absent; the resident
  rounds fault the pages in through the mapping (MADV_POPULATE_READ) first, so they
  show its best case.

Each answer is checked against the truth (resident or cold, as the round set it up):
the "right" column. Cold ranges lie 16 MiB apart (the disk's read_ahead_kb here is
8192), each probed once after the file is evicted. After the cold rounds of the
preadv2 probes, each range is probed again (after a pause) to see whether the
refused probe started a read of its own: it does, from the calling thread, which
is also why a refused probe costs tens of microseconds.

The same probes then run as uid 65534 on the same root-owned 0644 file, where mincore
calls every page resident (Linux 5.2+) and preadv2 still tells the truth. Last: the
memory one 16-byte `read_bytes_async` near the end of a 1 TiB sparse file costs (the
hints keep windows of 64 pages, one byte a page; an earlier design kept a bytearray
of one byte per page up to the highest page read: 256 MiB for a 1 TiB file).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import _cold_reads
from _harness import host

from mmap_io import MemoryMappedFile, MmapAdvice
from mmap_io._core import _os, _residency
from mmap_io._core._hints import WINDOW, ResidencyHints

QUICK = "--quick" in sys.argv
SIZE = 1 << 30
PAGE = 4096
SPACING = 16 << 20  # between cold ranges: more than the largest readahead window
RANGES = (4096, 65536)
ROUNDS = 2 if QUICK else 5
PAUSE = 0.2  # seconds before probing a refused range again


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


def present(pagemap: int, address: int, n: int) -> bool:
    """True if every page of [address, address + n) is in this process's page table."""
    first, last = address // PAGE, (address + n - 1) // PAGE
    entries = os.pread(pagemap, (last - first + 1) * 8, first * 8)
    return all(entries[i + 7] & 0x80 for i in range(0, len(entries), 8))


def is_right(answer: Any, resident: bool) -> bool:
    said = answer is True or answer == "full"
    return said == resident


def _timed(probe: Any, offsets: list[int]) -> tuple[float, float, list[Any]]:
    """Mean and slowest µs per call, and the answers."""
    answers = []
    slowest = 0
    clock = time.perf_counter_ns
    start = clock()
    for off in offsets:
        began = clock()
        answers.append(probe(off))
        slowest = max(slowest, clock() - began)
    return (clock() - start) / len(offsets) / 1000, slowest / 1000, answers


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
    pagemap = os.open("/proc/self/pagemap", os.O_RDONLY)
    mm = MemoryMappedFile.open_ro(path)
    address = mm.address
    try:
        for n in RANGES:
            buf = bytearray(n)
            count = SIZE // SPACING
            spread = [i * SPACING + rng.randrange(0, SPACING - n, PAGE) for i in range(count)]

            def library(kind: str, n: int = n) -> Any:
                def ask(offset: int) -> bool:
                    mm._hints = ResidencyHints()
                    mm._probe = kind
                    return _residency.is_resident(mm, offset, n)

                return ask

            def raw(off: int, n: int = n) -> bool:
                vector = _os.resident_pages(address + off, n)
                return vector is not None and all(b & 1 for b in vector)

            def probe(off: int, buf: bytearray = buf) -> str:
                return nowait(fd, buf, off)

            def mapped(off: int, n: int = n) -> bool:
                return present(pagemap, address + off, n)

            methods = {
                "is_resident, MINCORE (fresh hints)": library(_residency.MINCORE),
                "is_resident, PAGEMAP (fresh hints)": library(_residency.PAGEMAP),
                "raw mincore": raw,
                "raw preadv2 RWF_NOWAIT": probe,
                "raw pagemap present bit": mapped,
            }
            refusing = {methods["is_resident, PAGEMAP (fresh hints)"], probe}
            warm(fd)
            mm.touch_pages()  # mapped too, for the pagemap probe
            for name, method in methods.items():
                costs, answers = [], []
                for _ in range(ROUNDS):
                    *cost, answers = _timed(method, rng.sample(spread, len(spread)) * 8)
                    costs.append(cost)
                rows.append(row(n, "resident", name, costs, answers))
            for name, method in methods.items():
                costs, answers = [], []
                for _ in range(ROUNDS):
                    time.sleep(PAUSE)  # reads a refused probe started are done: evictable
                    mm.advise(0, SIZE, MmapAdvice.DONT_NEED)  # unmapped, or not evictable
                    evict(fd)
                    *cost, answers = _timed(method, rng.sample(spread, len(spread)))
                    costs.append(cost)
                cold = row(n, "cold", name, costs, answers)
                if method in refusing:
                    time.sleep(PAUSE)
                    cold["again"] = _tally([probe(off) for off in spread])
                rows.append(cold)
            mm.advise(0, SIZE, MmapAdvice.DONT_NEED)
            evict(fd)
    finally:
        mm.close()
        os.close(pagemap)
        os.close(fd)
    return rows


def row(
    n: int, state: str, method: str, costs: list[list[float]], answers: list[Any]
) -> dict[str, Any]:
    """A table row: the best round's mean µs, the median round's, the slowest call."""
    right = sum(is_right(a, state == "resident") for a in answers)
    means = sorted(mean for mean, _ in costs)
    return {
        "range": n,
        "state": state,
        "method": method,
        "us": means[0],
        "median_us": means[len(means) // 2],
        "slowest_us": max(slowest for _, slowest in costs),
        "answers": _tally(answers),
        "right": f"{right}/{len(answers)}",
    }


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


def hints_memory(path: Path) -> dict[str, Any]:
    """RSS and peak RSS (KiB) added by one 16-byte read_bytes_async near the end of a
    1 TiB sparse file, and the hints' windows afterwards (as root and as nobody)."""
    import anyio

    from mmap_io import aio

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
                "windows": len(mm._hints._windows),
                "window_bytes": sum(len(w) for w in mm._hints._windows.values()),
                "dict_bytes": sys.getsizeof(mm._hints._windows)
                + sum(sys.getsizeof(w) for w in mm._hints._windows.values()),
                "probe": mm._probe,
            }

    return anyio.run(read)


def print_rows(who: str, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        again = f"; again after {PAUSE:g} s: {r['again']}" if "again" in r else ""
        print(f"| {who} | {r['range'] // 1024} KiB | {r['state']} | {r['method']} | "
              f"{r['us']:.2f} | {r['median_us']:.2f} | {r['slowest_us']:.0f} | {r['right']} | "
              f"{r['answers']}{again} |")  # fmt: skip


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    import _nobody

    with _nobody.folder() as folder:
        path = folder / "probe.bin"
        _cold_reads.write_file(path, SIZE)  # real blocks, on disk
        path.chmod(0o644)  # world-readable: uid 65534 probes it too
        print("## Residency probes on a 1 GiB file (µs per probe)")
        print(f"{host(path)}, Python {platform.python_version()} (uid 65534: the system's)\n")
        print(f"Mean µs per probe in the best and the median of {ROUNDS} rounds, and the slowest")
        print("single probe over all rounds.\n")
        columns = "who | range | state | probe | µs best | µs median | slowest µs | right | answers"
        print(f"| {columns} |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
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
        sparse = folder / "sparse.bin"
        with open(sparse, "wb") as file:
            file.truncate(1 << 40)
        sparse.chmod(0o644)
        memories = [("root", hints_memory(sparse))]
        with contextlib.suppress(_nobody.Unavailable):
            memories.append(("uid 65534", _nobody.call(hints_memory, sparse)))
    old = (1 << 40) // mmap.PAGESIZE  # one byte a page up to the last page read
    for who, memory in memories:
        print(
            f"- {who}: one 16-byte read_bytes_async at the end of a 1 TiB sparse file (probe"
            f" {memory['probe']!r}): {memory['windows']} hints window(s) of {WINDOW} bytes"
            f" ({memory['window_bytes']} bytes of states, {memory['dict_bytes']} bytes with"
            f" the dict and bytearray headers), against {old / 2**20:.0f} MiB for the old"
            f" bytearray; RSS +{memory['rss_kib']} KiB (anonymous +{memory['anon_kib']} KiB),"
            f" peak +{memory['peak_kib']} KiB"
        )


if __name__ == "__main__":
    main()
