"""How long close() takes while three threads hammer the mapping, and whether it happens.

Run: python benchmarks/bench_lifecycle.py [--quick] [--baseline SRC_DIR]

Each round maps a 1 MiB file, starts three busy threads (one taking `as_slice` views
and holding each ~0.2 ms, one calling `read_into` with a 64 KiB buffer, one calling
`update_region`), waits until each has made 20 calls, then times one `close()` from
the main thread. Reported: the median and the worst close latency, and how many
first closes were refused.

Anchors, from the same run: closing a raw stdlib mmap of the same file with no
readers (the floor: munmap and a descriptor close), closing one while three threads
copy in and out of it in the same pattern (a raw mmap cannot close under a view, so
they copy instead; this shows what the GIL alone costs a closing thread), and, with
`--baseline`, the same load against another version of the library (a directory
holding its `mmap_io` package, such as the `src/` of an older checkout), where close
refused while views lived. Each case runs in its own interpreter, so the two versions
never meet. Timing stays here: no test asserts it.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

from _harness import header, table

QUICK = "--quick" in sys.argv
ROUNDS = 30 if QUICK else 300

_LOADED = textwrap.dedent(
    """
    import json, sys, threading, time
    from mmap_io import MemoryMappedFile, MmapIoError

    path, rounds = sys.argv[1], int(sys.argv[2])
    latencies, refused, reader_errors = [], 0, set()
    for _ in range(rounds):
        mm = MemoryMappedFile.create_rw(path, 1 << 20)
        stop = threading.Event()
        busy = [threading.Event() for _ in range(3)]

        def loop(step, ready):
            calls = 0
            while not stop.is_set():
                try:
                    step()
                except MmapIoError as error:
                    if not isinstance(error, ValueError):  # anything but "closed"
                        reader_errors.add(type(error).__name__)
                    if mm.closed:
                        return
                calls += 1
                if calls == 20:
                    ready.set()

        def view_held():
            with mm.as_slice(0, 4096):
                time.sleep(0.0002)

        buf, data = bytearray(64 << 10), bytes(4096)
        steps = (view_held, lambda: mm.read_into(0, buf), lambda: mm.update_region(0, data))
        threads = [threading.Thread(target=loop, args=pair) for pair in zip(steps, busy)]
        for thread in threads:
            thread.start()
        for ready in busy:
            ready.wait()
        started = time.perf_counter()
        try:
            mm.close()
            latencies.append(time.perf_counter() - started)
        except MmapIoError:
            refused += 1
        stop.set()
        for thread in threads:
            thread.join()
        while not mm.closed:  # a refused close, retried once the readers are gone
            mm.close()
    print(json.dumps({"latencies": latencies, "refused": refused,
                      "reader_errors": sorted(reader_errors)}))
    """
)

_RAW = textwrap.dedent(
    """
    import json, mmap, os, sys, time

    path, rounds = sys.argv[1], int(sys.argv[2])
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    latencies = []
    for _ in range(rounds):
        fd = os.open(path, os.O_RDWR)
        raw = mmap.mmap(fd, 1 << 20)
        raw[0:4096] = bytes(4096)
        started = time.perf_counter()
        raw.close()
        os.close(fd)
        latencies.append(time.perf_counter() - started)
    print(json.dumps({"latencies": latencies, "refused": 0, "reader_errors": []}))
    """
)


_RAW_LOADED = textwrap.dedent(
    """
    import json, mmap, os, sys, threading, time

    path, rounds = sys.argv[1], int(sys.argv[2])
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    latencies = []
    for _ in range(rounds):
        fd = os.open(path, os.O_RDWR)
        raw = mmap.mmap(fd, 1 << 20)
        busy = [threading.Event() for _ in range(3)]

        def loop(step, ready):
            calls = 0
            while True:
                try:
                    step()
                except ValueError:  # closed
                    return
                calls += 1
                if calls == 20:
                    ready.set()

        def copy_held():  # no view can be held: a raw mmap cannot close under one
            raw[0:4096]
            time.sleep(0.0002)

        buf, data = memoryview(bytearray(64 << 10)), bytes(4096)

        def read_into():
            buf[:] = raw[0 : 64 << 10]

        def write():
            raw[0:4096] = data

        steps = (copy_held, read_into, write)
        threads = [threading.Thread(target=loop, args=pair) for pair in zip(steps, busy)]
        for thread in threads:
            thread.start()
        for ready in busy:
            ready.wait()
        started = time.perf_counter()
        raw.close()
        os.close(fd)
        latencies.append(time.perf_counter() - started)
        for thread in threads:
            thread.join()
    print(json.dumps({"latencies": latencies, "refused": 0, "reader_errors": []}))
    """
)


def run(program: str, path: str, source: str | None = None) -> dict[str, object]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = source  # ahead of the installed mmap_io
    result = subprocess.run(
        [sys.executable, "-c", program, path, str(ROUNDS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def main() -> None:
    baseline = None
    if "--baseline" in sys.argv:
        baseline = os.path.abspath(sys.argv[sys.argv.index("--baseline") + 1])
    header(f"close() under three busy threads, {ROUNDS} rounds")
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "lifecycle.bin")
    cases = [("this mmap_io, 3 busy threads", run(_LOADED, path))]
    cases.append(("raw stdlib mmap.close(), no readers (anchor)", run(_RAW, path)))
    cases.append(
        ("raw stdlib mmap.close(), 3 busy threads, no views (anchor)", run(_RAW_LOADED, path))
    )
    if baseline is not None:
        cases.append((f"baseline {baseline}, 3 busy threads", run(_LOADED, path, baseline)))
    rows = []
    for name, result in cases:
        latencies = result["latencies"]
        assert isinstance(latencies, list)
        done = f"{len(latencies)} of {ROUNDS}"
        if latencies:
            rows.append((name, f"{ms(statistics.median(latencies))} / {ms(max(latencies))}", done))
        else:
            rows.append((name, "-", done))
        errors = result["reader_errors"]
        if errors:
            print(f"{name}: readers saw {errors}")
    table(rows, ("case", "close ms: median / worst", "first close() succeeded"))
    os.remove(path)
    os.rmdir(folder)


if __name__ == "__main__":
    main()
