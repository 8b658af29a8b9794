"""Cold random reads as an unprivileged user on a file owned by another user, and as root.

Run (as root): python benchmarks/bench_cold_reads.py [--quick] [--backend=asyncio|uvloop|trio]
                  [--spy-probes] [--what-if]

DESIGN.md section 7 asks the cold-read budget (64 tasks reading cold random 4 KiB
pages: at least 0.8x the reads/s of 64 plain threads faulting the same pages, ticker
p99 lag under 2 ms) also of an unprivileged user reading a file owned by another
user. There mincore calls every page resident (Linux 5.2+), so the library probes
with the present bit of /proc/self/pagemap instead.

One root-owned 0644 file of 1 GiB, in a folder uid 65534 may enter. Each round runs
the measurement of _cold_reads.py once as root (in this process) and once as uid
65534 (a child running the system's /usr/bin/python3 on a staged copy of the
packages, see tests/_nobody.py), alternating which goes first; within a round the
readers' order rotates. Ratios are taken between readers of the same run (same
user, same process), so the two Pythons' speeds do not enter them.

Diagnostics, for a run of their own (they change what they measure a little):
--spy-probes times each probe call (mincore, the pagemap read) the library makes
on the loop thread; --what-if adds a reader with the library's probe switched off,
every range not known resident going straight to the pager.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import _cold_reads
import anyio
from _harness import anyio_backend, backend_arg, host

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import _nobody

QUICK = "--quick" in sys.argv
SPY = "--spy-probes" in sys.argv  # time the probe syscalls on the loop (a diagnostic)
WHAT_IF = "--what-if" in sys.argv  # add the reader with the probe off (a diagnostic)
READERS = (*_cold_reads.READERS, _cold_reads.WHAT_IF) if WHAT_IF else _cold_reads.READERS
SIZE = (256 << 20) if QUICK else (1 << 30)
TASKS = 64
ROUNDS = 2 if QUICK else 4
DURATION = 0.5 if QUICK else 1.0


def backend_choice() -> tuple[str, tuple[str, dict[str, Any]]]:
    name = backend_arg()
    return name, anyio_backend(name)


def as_root(path: Path, order: tuple[str, ...], backend: tuple[str, dict[str, Any]]) -> Any:
    args = (path, SIZE, TASKS, DURATION, order, SPY)
    return anyio.run(_cold_reads.one_round, *args, backend=backend[0], backend_options=backend[1])


def as_nobody(path: Path, order: tuple[str, ...], backend: tuple[str, dict[str, Any]]) -> Any:
    args = (path, SIZE, TASKS, DURATION, order, SPY)
    return _nobody.call(_cold_reads.one_round, *args, backend=backend, timeout=600)


def main() -> None:
    name, backend = backend_choice()
    print(f"## Cold random reads as root and as uid 65534 (backend {name})\n")
    try:
        staged = _nobody.stage()
    except _nobody.Unavailable as error:
        print(f"uid 65534 unavailable here: {error}")
        return
    module = "uvloop" if name == "uvloop" else name
    nobody_ok = module not in staged.missing
    with _nobody.folder() as folder:
        path = folder / "cold.bin"
        _cold_reads.write_file(path, SIZE)
        path.chmod(0o644)
        print(f"{host(path)}, load {os.getloadavg()[0]:.2f}")
        print(f"{TASKS} tasks, {SIZE >> 20} MiB root-owned 0644 file, {ROUNDS} rounds of")
        print(f"{DURATION:g} s per reader, root and nobody alternating.\n")
        root: list[dict[str, Any]] = []
        nobody: list[dict[str, Any]] = []
        for k in range(ROUNDS):
            order = _cold_reads.rotated(k, READERS)
            turns = [(root, as_root)]
            if nobody_ok:
                turns.append((nobody, as_nobody))
            if k % 2:
                turns.reverse()
            for results, run in turns:
                results.append(run(path, order, backend))
    for who, results in (("root (the file's owner)", root), ("uid 65534", nobody)):
        if not results:
            why = staged.missing.get(module, "")
            print(f"### {who}: not run ({_nobody.PYTHON} {staged.version} cannot import")
            print(f"{module} as staged: {why})\n")
            continue
        first = results[0]
        print(f"### {who}: {first['python']}, {first['backend']}, probe {first['probe']!r}\n")
        _cold_reads.print_table(results, TASKS)


if __name__ == "__main__":
    main()
