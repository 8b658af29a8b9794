"""Interleaved micro-timing: every case runs once per round, and the best round counts.

This machine is shared and noisy, so absolute times drift between runs; comparing
cases measured in the same rounds keeps the ratios meaningful.
"""

from __future__ import annotations

import os
import platform
import sys
import timeit
from collections.abc import Mapping
from pathlib import Path


def best_ns(
    cases: Mapping[str, str], env: dict[str, object], number: int | Mapping[str, int], rounds: int
) -> dict[str, float]:
    """Best per-call time in nanoseconds of each statement, interleaved across rounds.

    `number` is the calls per timing, for every case or per case (a case thousands of
    times slower than the others can then still share the rounds).
    """
    timers = {name: timeit.Timer(stmt, globals=env) for name, stmt in cases.items()}
    counts = number if isinstance(number, Mapping) else dict.fromkeys(cases, number)
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(counts[name]) / counts[name] * 1e9)
    return best


def header(title: str) -> None:
    print(f"## {title}")
    print(f"Python {platform.python_version()} on {platform.machine()} {sys.platform}\n")


def table(rows: list[tuple[str, str, str]], columns: tuple[str, str, str]) -> None:
    print(f"| {' | '.join(columns)} |")
    print(f"| {' | '.join('---' for _ in columns)} |")
    for row in rows:
        print(f"| {' | '.join(row)} |")
    print()


BACKENDS = ("asyncio", "uvloop", "trio")


def backend_arg() -> str:
    """The backend named by `--backend=NAME` or `--backend NAME` (asyncio if absent).

    Exits on a name it does not know: silently measuring asyncio instead would print a
    table under the wrong heading.
    """
    args = sys.argv[1:]
    name = "asyncio"
    for i, arg in enumerate(args):
        if arg.startswith("--backend="):
            name = arg.split("=", 1)[1]
        elif arg == "--backend":
            name = args[i + 1] if i + 1 < len(args) else ""
    if name not in BACKENDS:
        sys.exit(f"--backend must be one of {', '.join(BACKENDS)}, not {name!r}")
    return name


def anyio_backend(name: str) -> tuple[str, dict[str, bool]]:
    """anyio.run's backend and backend_options for a name from backend_arg()."""
    return ("asyncio", {"use_uvloop": True}) if name == "uvloop" else (name, {})


def host(path: str | os.PathLike[str]) -> str:
    """The CPU, core count, kernel and the read-ahead of the disk holding `path`: what a
    cold-read figure depends on."""
    with open("/proc/cpuinfo") as cpuinfo:
        names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
    device = os.stat(path).st_dev
    block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}")
    readahead = "?"
    for queue in (block / "queue", block.parent / "queue"):
        if (queue / "read_ahead_kb").exists():
            readahead = (queue / "read_ahead_kb").read_text().strip()
            break
    cpu = names[0] if names else platform.processor()
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, read_ahead_kb {readahead}"
