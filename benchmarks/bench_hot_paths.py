"""Hot paths against the raw stdlib: 64-byte writes and reads, and 1 MiB / 16 MiB copies.

Run: python benchmarks/bench_hot_paths.py [--quick]

Anchors, measured in the same rounds: the raw stdlib mmap slice copy at the same
variable offset, os.pwrite / os.pread, and for large copies the raw slice copy into a
preallocated buffer. Budget (DESIGN.md section 7): 64 B update_region and read_into at
most 2.5x the raw mmap copy in a loop; copies of 1 MiB and more at least 90% of raw
throughput.
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
    """64-byte operations at a variable offset, each against the raw stdlib doing the same.

    The anchors take the offset and the data from variables and compute the slice's end,
    as a loop of raw writes or reads does: `raw[off:off + len(data)] = data`. The same
    slices with both bounds written as constants (`raw[4096:4160]`), which no loop over
    varying offsets can use, are printed beside them for reference.
    """
    data = os.urandom(64)
    buf = bytearray(64)
    env = {"mm": mm, "raw": raw, "fd": fd, "data": data, "buf": buf, "bmv": memoryview(buf),
           "rawmv": memoryview(raw), "os": os, "off": 4096, "n": 64}  # fmt: skip
    cases = {
        "raw write `raw[off:off + len(data)] = data`": "raw[off:off + len(data)] = data",
        "update_region(off, data)": "mm.update_region(off, data)",
        "os.pwrite": "os.pwrite(fd, data, off)",
        "raw read `raw[off:off + n]` (new bytes)": "raw[off:off + n]",
        "raw read into buffer `bmv[:] = raw[off:off + n]`": "bmv[:] = raw[off:off + n]",
        "read_into(off, buf)": "mm.read_into(off, buf)",
        "read_bytes(off, 64)": "mm.read_bytes(off, n)",
        "os.pread": "os.pread(fd, n, off)",
        "raw memoryview slice `rawmv[off:off + n]`": "rawmv[off:off + n]",
        "as_slice(off, 64)": "mm.as_slice(off, n)",
        "(constant bounds) `raw[4096:4160] = data`": "raw[4096:4160] = data",
        "(constant bounds) `bmv[:] = raw[4096:4160]`": "bmv[:] = raw[4096:4160]",
    }
    best = best_ns(cases, env, number=20_000 if QUICK else 200_000, rounds=5 if QUICK else 25)
    del env
    write, into = (
        "raw write `raw[off:off + len(data)] = data`",
        "raw read into buffer `bmv[:] = raw[off:off + n]`",
    )
    new, view = (
        "raw read `raw[off:off + n]` (new bytes)",
        "raw memoryview slice `rawmv[off:off + n]`",
    )
    anchors = {
        "update_region(off, data)": write,
        "os.pwrite": write,
        "read_into(off, buf)": into,
        "read_bytes(off, 64)": new,
        "os.pread": new,
        "as_slice(off, 64)": view,
    }
    rows = []
    for name, ns in best.items():
        anchor = anchors.get(name)
        ratio = f"{ns / best[anchor]:.2f}x" if anchor else "anchor"
        rows.append((name, f"{ns:.0f}", ratio))
    table(rows, ("64 B operation", "ns/op (best round)", "vs its raw anchor"))
    for name, const in (
        ("update_region(off, data)", "(constant bounds) `raw[4096:4160] = data`"),
        ("read_into(off, buf)", "(constant bounds) `bmv[:] = raw[4096:4160]`"),
    ):
        print(f"{name} vs the constant-bounds slice: {best[name] / best[const]:.2f}x")
    print()


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
