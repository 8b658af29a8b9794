"""What reserving blocks costs: create and grow with fallocate against sparse=True (holes).

Run: python benchmarks/bench_storage.py [--quick] [DIR ...]

Each DIR (default: the temporary directory and /dev/shm) is measured on its own file
system. For 1 MiB, 64 MiB and 1 GiB: `create_rw(path, n)` against
`create_rw(path, n, sparse=True)`, then growth of a 1 MiB mapping by n with
`resize`, each followed by close (not timed: unlink and shrink). The two paths take
turns in the same rounds; the figure is the best round, the ratio allocated / sparse.
A last table writes every page of a fresh mapping once: with holes, that first write
is where the file system allocates instead, so it shows where the cost moves.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from _harness import header, table

from mmap_io import MemoryMappedFile

QUICK = "--quick" in sys.argv
SIZES = (1 << 20, 64 << 20, 1 << 30)
BASE = 1 << 20  # the size a growing mapping starts from
PAGE = os.sysconf("SC_PAGE_SIZE")


def rounds_for(size: int) -> int:
    if QUICK:
        return 2
    return 15 if size <= 64 << 20 else 5


def file_system(folder: Path) -> str:
    """The type and mount point of the file system holding `folder`, from /proc/self/mounts."""
    best = ("?", "")
    try:
        with open("/proc/self/mounts") as mounts:
            for line in mounts:
                _, where, kind, *_ = line.split()
                if str(folder.resolve()).startswith(where) and len(where) > len(best[1]):
                    best = (kind, where)
    except OSError:
        pass
    return f"{best[0]} at {best[1] or '?'}"


def best_of(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Best seconds of each case, the cases taking turns round by round."""
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, case in cases.items():
            best[name] = min(best[name], case())
    return best


def timed_create(path: Path, size: int, sparse: bool) -> float:
    start = time.perf_counter()
    mm = MemoryMappedFile.create_rw(path, size, sparse=sparse)
    elapsed = time.perf_counter() - start
    mm.close()
    path.unlink()
    return elapsed


def timed_growth(path: Path, size: int, sparse: bool) -> float:
    with MemoryMappedFile.create_rw(path, BASE, sparse=sparse) as mm:
        start = time.perf_counter()
        mm.resize(BASE + size)
        elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def timed_first_write(path: Path, size: int, sparse: bool) -> float:
    page = b"\x01" * PAGE
    start = time.perf_counter()
    with MemoryMappedFile.create_rw(path, size, sparse=sparse) as mm:
        update = mm.update_region
        for offset in range(0, size, PAGE):
            update(offset, page)
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def measure(folder: Path, title: str, timer: Callable[[Path, int, bool], float]) -> None:
    path = folder / "mmap_io_bench_storage.bin"
    rows = []
    for size in SIZES:
        cases = {
            "allocated": partial(timer, path, size, False),
            "sparse": partial(timer, path, size, True),
        }
        best = best_of(cases, rounds_for(size))
        label = f"{size >> 20} MiB" if size < 1 << 30 else f"{size >> 30} GiB"
        rows.append(
            (
                label,
                f"{best['allocated'] * 1e3:.3f} vs {best['sparse'] * 1e3:.3f}",
                f"{best['allocated'] / best['sparse']:.2f}x",
            )
        )
    print(f"### {title}\n")
    table(rows, ("size", "ms, allocated vs sparse (best round)", "allocated / sparse"))


def main() -> None:
    folders = [Path(arg) for arg in sys.argv[1:] if not arg.startswith("--")]
    if not folders:
        folders = [Path(tempfile.gettempdir())]
        if Path("/dev/shm").is_dir():
            folders.append(Path("/dev/shm"))
    header("Storage: reserving blocks against holes (bench_storage.py)")
    print(f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs\n")
    for folder in folders:
        with tempfile.TemporaryDirectory(dir=folder) as name:
            where = Path(name)
            print(f"## {file_system(where)}\n")
            measure(where, "create_rw(path, n)", timed_create)
            measure(where, f"resize({BASE >> 20} MiB + n) of a {BASE >> 20} MiB mapping",
                    timed_growth)  # fmt: skip
            measure(where, "create_rw(path, n), then write every page once", timed_first_write)


if __name__ == "__main__":
    main()
