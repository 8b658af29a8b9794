"""Hot paths against the raw stdlib: 64-byte writes and reads, and 1 MiB / 16 MiB copies.

Run: python benchmarks/bench_hot_paths.py [--quick]

Anchors, measured in the same rounds: the raw stdlib mmap slice copy, os.pwrite /
os.pread, and for large copies the raw slice copy into a preallocated buffer.
Budget (DESIGN.md section 7): 64 B update_region and read_into at most 2.5x the raw
mmap copy; copies of 1 MiB and more at least 90% of raw throughput.
"""

from __future__ import annotations

import mmap
import os
import sys
import tempfile
from pathlib import Path

from _harness import best_ns, header, table

from mmap_io import MemoryMappedFile

QUICK = "--quick" in sys.argv
SIZE = 64 << 20


def small(mm: MemoryMappedFile, raw: mmap.mmap, fd: int) -> None:
    data = os.urandom(64)
    buf = bytearray(64)
    env = {"mm": mm, "raw": raw, "fd": fd, "data": data, "buf": buf, "bmv": memoryview(buf),
           "rawmv": memoryview(raw), "os": os}  # fmt: skip
    cases = {
        "raw mmap write `raw[a:b] = data`": "raw[4096:4160] = data",
        "update_region(off, data)": "mm.update_region(4096, data)",
        "os.pwrite": "os.pwrite(fd, data, 4096)",
        "raw mmap read `raw[a:b]` (new bytes)": "raw[4096:4160]",
        "raw mmap read into buffer `bmv[:] = raw[a:b]`": "bmv[:] = raw[4096:4160]",
        "raw mmap read into bytearray `buf[:] = raw[a:b]`": "buf[:] = raw[4096:4160]",
        "read_into(off, buf)": "mm.read_into(4096, buf)",
        "read_bytes(off, 64)": "mm.read_bytes(4096, 64)",
        "os.pread": "os.pread(fd, 64, 4096)",
        "raw memoryview slice `rawmv[a:b]`": "rawmv[4096:4160]",
        "as_slice(off, 64)": "mm.as_slice(4096, 64)",
    }
    best = best_ns(cases, env, number=20_000 if QUICK else 200_000, rounds=5 if QUICK else 25)
    del env
    anchors = {
        "update_region(off, data)": "raw mmap write `raw[a:b] = data`",
        "os.pwrite": "raw mmap write `raw[a:b] = data`",
        "read_into(off, buf)": "raw mmap read into buffer `bmv[:] = raw[a:b]`",
        "read_bytes(off, 64)": "raw mmap read `raw[a:b]` (new bytes)",
        "os.pread": "raw mmap read `raw[a:b]` (new bytes)",
        "as_slice(off, 64)": "raw memoryview slice `rawmv[a:b]`",
    }
    rows = []
    for name, ns in best.items():
        anchor = anchors.get(name)
        ratio = (
            f"{ns / best[anchor]:.2f}x {anchor.split('`')[1] if '`' in anchor else anchor}"
            if anchor
            else "anchor"
        )
        rows.append((name, f"{ns:.0f}", ratio))
    table(rows, ("64 B operation", "ns/op (best round)", "vs raw"))
    extra = best["read_into(off, buf)"] / best["raw mmap read `raw[a:b]` (new bytes)"]
    print(f"read_into vs the bare `raw[a:b]` bytes copy: {extra:.2f}x\n")


def large(mm: MemoryMappedFile, raw: mmap.mmap, size: int) -> None:
    data = os.urandom(size)
    buf = bytearray(size)
    env = {"mm": mm, "raw": raw, "data": data, "buf": buf, "bmv": memoryview(buf),
           "rawmv": memoryview(raw), "n": size}  # fmt: skip
    cases = {
        "raw write": "raw[0:n] = data",
        "update_region": "mm.update_region(0, data)",
        "raw read into buffer": "bmv[:] = rawmv[0:n]",
        "read_into": "mm.read_into(0, buf)",
        "raw read (new bytes)": "raw[0:n]",
        "read_bytes": "mm.read_bytes(0, n)",
    }
    number = max(1, (64 << 20) // size // (4 if QUICK else 1))
    best = best_ns(cases, env, number=number, rounds=3 if QUICK else 12)
    del env
    pairs = [("update_region", "raw write"), ("read_into", "raw read into buffer"),
             ("read_bytes", "raw read (new bytes)")]  # fmt: skip
    rows = []
    for name, anchor in pairs:
        gbps = size / best[name]
        raw_gbps = size / best[anchor]
        rows.append(
            (f"{name} {size >> 20} MiB", f"{gbps:.1f} vs {raw_gbps:.1f}", f"{gbps / raw_gbps:.0%}")
        )
    table(rows, ("copy", "GB/s (library vs raw)", "of raw throughput"))


def main() -> None:
    header("Hot paths (bench_hot_paths.py)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.bin"
        with MemoryMappedFile.create_rw(path, SIZE) as mm:
            mm.touch_pages()
            with open(path, "r+b") as file:
                raw = mmap.mmap(file.fileno(), SIZE)
                small(mm, raw, file.fileno())
                for size in (1 << 20, 16 << 20):
                    large(mm, raw, size)
                raw.close()


if __name__ == "__main__":
    main()
