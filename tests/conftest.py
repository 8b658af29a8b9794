"""Shared fixtures: the three async backends, and what /proc says about a mapping."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

BACKENDS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    pytest.param(("trio", {}), id="trio"),
]

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data.bin"


def smaps_field(address: int, field: str) -> int:
    """Sum one /proc/self/smaps field (in KiB) over the mapping that starts at `address`."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and head == field + ":":
            total += int(line.split()[1])
    return total


def dirty_kib(address: int) -> int:
    """Dirty KiB of the mapping at `address`, shared and private."""
    return smaps_field(address, "Shared_Dirty") + smaps_field(address, "Private_Dirty")


async def gather_async(*calls: Callable[[], Awaitable[object]]) -> None:
    """Run the calls as concurrent tasks (the sync twin runs them as threads)."""
    async with anyio.create_task_group() as group:
        for call in calls:
            group.start_soon(call)


def gather(*calls: Callable[[], object]) -> None:
    """Run the calls in concurrent threads, released together, and re-raise the first failure."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        try:
            start.wait()
            call()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def write_cold(path: Path, data: bytes) -> None:
    """Write a file and push it out of the page cache (DONTNEED skips dirty pages)."""
    from mmap_io._core._os import evict_file

    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
        evict_file(file.fileno(), 0, 0)
