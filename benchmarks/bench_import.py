"""How long `import mmap_io` takes, against `import anyio` in the same rounds.

Run: python benchmarks/bench_import.py [--rounds N]

Each round imports each package in a fresh interpreter with `-X importtime` and takes
its cumulative figure. Bytecode is compiled first and the children may write it:
an environment with PYTHONDONTWRITEBYTECODE set (as some CI images and containers
have) otherwise compiles every edited module from source on each import, which adds
about 15-20 ms here and says nothing about what users see.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
from pathlib import Path

import anyio
from _harness import header, table

import mmap_io

ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 15
PACKAGES = ("anyio", "mmap_io")
OPTIONAL = ("watchfiles", "trio", "uvloop", "asyncio")  # atomicshm is a dependency


def import_us(package: str) -> int:
    """Cumulative import time of `package` in microseconds, in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {package}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    last = result.stderr.strip().splitlines()[-1]  # the package itself comes last
    return int(last.split("|")[1])


def loaded_optional() -> list[str]:
    code = f"import sys, mmap_io; print(*[m for m in {OPTIONAL!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def main() -> None:
    header("Import time (bench_import.py)")
    for package in (anyio, mmap_io):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    times: dict[str, list[int]] = {name: [] for name in PACKAGES}
    for _ in range(ROUNDS):
        for name in PACKAGES:
            times[name].append(import_us(name))
    rows = [
        (
            f"`import {name}`",
            f"{min(us) / 1000:.1f}",
            f"{statistics.median(us) / 1000:.1f}",
        )
        for name, us in times.items()
    ]
    table(rows, ("statement", "best (ms)", "median (ms)"))
    best = min(times["mmap_io"]) / min(times["anyio"])
    median = statistics.median(times["mmap_io"]) / statistics.median(times["anyio"])
    print(f"mmap_io vs anyio alone: {best:.2f}x best, {median:.2f}x median.")
    print("Budget (DESIGN.md section 7): at most 1.5x `import anyio` alone, in the same run.")
    print(f"Optional dependencies loaded by `import mmap_io`: {loaded_optional() or 'none'}.")


if __name__ == "__main__":
    main()
