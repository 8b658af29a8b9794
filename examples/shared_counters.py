"""Two processes share a job queue's counters through one small file, lock-free.

Run: python examples/shared_counters.py [path]

The file holds 64-bit atomic cells: the next job ticket, the number of jobs done,
the sum of their results, and one "done" cell per worker. Each worker process maps
the file on its own, takes tickets with fetch_add until none are left, and adds its
results with fetch_add. No lock is taken anywhere, yet every ticket is handed out
exactly once and no update is lost: the parent checks both at the end.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from mmap_io import MemoryMappedFile, Ordering

JOBS = 200_000
WORKERS = 2
NEXT_TICKET, DONE, RESULT_SUM, PER_WORKER = 0, 1, 2, 3  # cell indexes


def job(ticket: int) -> int:
    """Stand-in for real work."""
    return ticket % 7


def worker(path: str, me: int) -> None:
    with MemoryMappedFile.open_rw(path) as mm, mm.atomic_u64_slice(0, PER_WORKER + WORKERS) as c:
        next_ticket, done, result_sum, mine = (
            c[NEXT_TICKET],
            c[DONE],
            c[RESULT_SUM],
            c[PER_WORKER + me],
        )
        while (ticket := next_ticket.fetch_add(1, order=Ordering.RELAXED)) < JOBS:
            result_sum.fetch_add(job(ticket))
            mine.fetch_add(1)
            done.fetch_add(1, order=Ordering.RELEASE)


def main() -> None:
    folder = tempfile.mkdtemp()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(folder) / "counters.bin"
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        started = time.perf_counter()
        procs = [
            multiprocessing.Process(target=worker, args=(str(path), me)) for me in range(WORKERS)
        ]
        for proc in procs:
            proc.start()
        with mm.atomic_u64_slice(0, PER_WORKER + WORKERS) as cells:
            # Watch progress live through the parent's own mapping of the same file.
            while (done := cells[DONE].load(order=Ordering.ACQUIRE)) < JOBS:
                print(f"  {done:6d} / {JOBS} jobs done")
                time.sleep(0.02)
            for proc in procs:
                proc.join()
                assert proc.exitcode == 0
            per_worker = [cells[PER_WORKER + me].load() for me in range(WORKERS)]
            total = cells[RESULT_SUM].load()
            elapsed = time.perf_counter() - started
            print(f"{JOBS} jobs by {WORKERS} processes in {elapsed:.2f}s: {per_worker} each")
            assert sum(per_worker) == cells[DONE].load() == JOBS  # every ticket taken once
            assert total == sum(job(t) for t in range(JOBS))  # no lost update
            print(f"sum of results {total} (checked)")


if __name__ == "__main__":
    main()
