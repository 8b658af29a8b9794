"""Scan a large log in chunks without reading it into memory.

Run: python examples/log_scan.py [path]

Chunks are zero-copy views; a line split across two chunks is carried over.
The mapping is advised SEQUENTIAL so the kernel reads ahead aggressively.
"""

from __future__ import annotations

import collections
import random
import sys
import tempfile
from pathlib import Path

from mmap_io import MemoryMappedFile, MmapAdvice

LEVELS = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]


def write_log(path: Path, lines: int) -> None:
    rng = random.Random(7)
    with open(path, "w") as log:
        for i in range(lines):
            log.write(f"2026-11-26T10:00:{i % 60:02d} {rng.choice(LEVELS)} request {i} done\n")


def count_levels(path: Path, chunk_size: int = 64 * 1024) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    with MemoryMappedFile.open_ro(path) as log:
        log.advise(0, len(log), MmapAdvice.SEQUENTIAL)
        carry = b""
        for chunk in log.chunks(chunk_size):
            with chunk:
                data = carry + bytes(chunk)
            lines = data.split(b"\n")
            carry = lines.pop()  # the last piece may continue in the next chunk
            for line in lines:
                counts[line.split(b" ", 2)[1].decode()] += 1
        if carry:
            counts[carry.split(b" ", 2)[1].decode()] += 1
    return counts


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "app.log"
    if not path.exists():
        write_log(path, 200_000)
    counts = count_levels(path)
    total = sum(counts.values())
    print(f"{path.stat().st_size / 1e6:.1f} MB, {total} lines")
    for level, n in counts.most_common():
        print(f"  {level:5} {n}")
    assert total == path.read_bytes().count(b"\n")


if __name__ == "__main__":
    main()
