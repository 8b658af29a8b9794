"""Atomic operations through a held view, against a bare atomicshm cell and PyPI `atomics`.

Run: python benchmarks/bench_atomics.py [--quick]

All three libraries work on the same mapped file and are timed in the same rounds.
Budget (DESIGN.md section 7): `fetch_add` through a held view at most 3x a bare
atomicshm cell call, and at least 30x faster than the `atomics` package.
"""

from __future__ import annotations

import mmap
import sys
import tempfile
from pathlib import Path

import atomics
import atomicshm
from _harness import best_ns, header, table

from mmap_io import MemoryMappedFile

QUICK = "--quick" in sys.argv
# (statement on a bare atomicshm cell, the same operation on a held mmap_io view)
PAIRS = [
    ("cell.fetch_add(1)", "view.fetch_add(1)"),
    ("cell.load()", "view.load()"),
    ("cell.store(5)", "view.store(5)"),
    ("cell.cas(5, 5)", "view.compare_exchange(5, 5)"),
]
OTHER = "other.fetch_add(1)"  # the PyPI atomics package's atomicview


def main() -> None:
    header("Atomics (bench_atomics.py)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "atomics.bin"
        with MemoryMappedFile.create_rw(path, 4096) as mm, open(path, "r+b") as file:
            raw = mmap.mmap(file.fileno(), 4096)
            native = atomicshm.AtomicView(raw)
            with (
                mm.atomic_u64(0) as view,
                atomics.atomicview(buffer=memoryview(raw)[128:136], atype=atomics.UINT) as other,
            ):
                run(view, native.cell_u64(64), other)
            native.close()
            raw.close()


def run(view: object, cell: object, other: object) -> None:
    cases = {stmt: stmt for pair in PAIRS for stmt in pair} | {OTHER: OTHER}
    number = dict.fromkeys(cases, 20_000 if QUICK else 200_000)
    number[OTHER] = 1_000 if QUICK else 5_000  # ~150x slower: keep its rounds short
    env = {"view": view, "cell": cell, "other": other}
    best = best_ns(cases, env, number, rounds=5 if QUICK else 25)
    rows = [
        (f"`{on_view}`", f"{best[on_view]:.0f} vs {best[on_cell]:.0f}",
         f"{best[on_view] / best[on_cell]:.2f}x")
        for on_cell, on_view in PAIRS
    ]  # fmt: skip
    rows.append((f"atomics `{OTHER}`", f"{best[OTHER]:.0f}", "anchor"))
    table(rows, ("operation", "ns/op: view vs bare atomicshm cell", "view / cell"))
    view_ns, cell_ns = best["view.fetch_add(1)"], best["cell.fetch_add(1)"]
    print(
        f"fetch_add through a held view: {view_ns / cell_ns:.2f}x a bare atomicshm cell "
        f"(budget <= 3x), {best[OTHER] / view_ns:.0f}x faster than `atomics` (budget >= 30x)\n"
    )


if __name__ == "__main__":
    main()
