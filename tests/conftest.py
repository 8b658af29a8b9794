"""Shared fixtures: the three async backends, and what /proc says about a mapping."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

# Every async test fails if its event loop thread waited on the disk (see _loop_guard).
pytest_plugins = ["_loop_guard"]

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


def mapped_areas(path: Path) -> int:
    """How many memory areas of this process map the file at `path` (/proc/self/maps)."""
    name = str(path.resolve())
    return sum(
        1 for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith(name)
    )


def wait_for_threads_to_end(
    name: str, timeout: float = 5.0, besides: set[threading.Thread] | frozenset[Any] = frozenset()
) -> list[threading.Thread]:
    """The library's threads called `name` still alive after waiting up to `timeout`,
    leaving out those in `besides` (threads that were there before the test began)."""
    deadline = time.monotonic() + timeout
    while (left := [t for t in threading.enumerate() if t.name == name and t not in besides]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.005)
    return left


def at_each_step(
    make: Callable[[], Any],
    call: Callable[[Any], object],
    interrupt: Callable[[Any], object],
    limit: int = 5000,
) -> list[tuple[tuple[str, Any], tuple[str, Any]]]:
    """Run `call(mm)` once for each step it takes inside mmap_io, on a fresh
    `mm = make()` each time, with `interrupt(mm)` (a close, a shrink) run by another
    thread at that step: every point where a concurrent call can land, tried in turn,
    deterministically.

    A step is a call, line or return event of a frame in mmap_io's own files
    (sys.settrace, this thread only). At the chosen step the calling thread starts the
    interrupt and waits for it, or, if the interrupt waits for a lock the call holds,
    goes on and lets it finish once the call lets go: both are orders two threads can
    produce. Returns, per step, what the call and the interrupt each gave:
    ("ok", result) or ("raised", exception). It stops at the first run that ends
    before its step came; each mapping is closed after its run.
    """
    import mmap_io

    root = os.path.dirname(os.path.abspath(mmap_io.__file__)) + os.sep
    runs: list[tuple[tuple[str, Any], tuple[str, Any]]] = []
    for step in range(limit):
        mm = make()
        run = _run_with_interrupt(root, step, mm, call, interrupt)
        mm.close()
        if run is None:  # the call ended before its step came
            return runs
        runs.append(run)
    raise AssertionError(f"the call took more than {limit} steps")


def _outcome(fn: Callable[[Any], object], mm: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(mm))
    except Exception as error:
        return ("raised", error)


def _run_with_interrupt(
    root: str,
    step: int,
    mm: Any,
    call: Callable[[Any], object],
    interrupt: Callable[[Any], object],
) -> tuple[tuple[str, Any], tuple[str, Any]] | None:
    """One run of at_each_step: `call(mm)` with `interrupt(mm)` started at `step`."""
    interrupted: list[tuple[str, Any]] = []
    other = threading.Thread(target=lambda: interrupted.append(_outcome(interrupt, mm)))
    seen = [0]

    def local(frame: Any, event: str, arg: Any) -> Any:
        seen[0] += 1
        if seen[0] == step + 1:
            other.start()
            other.join(0.002)  # not a measurement: time enough for it to land first
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        return local(frame, event, arg) if frame.f_code.co_filename.startswith(root) else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        outcome = _outcome(call, mm)
    finally:
        sys.settrace(previous)
    if other.ident is None:
        return None
    other.join(30)
    if other.is_alive():
        raise AssertionError(f"the interrupt hung, landing at step {step} of the call")
    return outcome, interrupted[0]


def close_at_each_step(make: Callable[[], Any], call: Callable[[Any], object]) -> list[Any]:
    """`at_each_step` with a close as the interrupt; returns the call's outcomes."""
    return [outcome for outcome, _ in at_each_step(make, call, lambda mm: mm.close())]


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
    """Write a file and push every page of it out of the page cache.

    DONTNEED skips a page that is busy at that instant (still batched for the LRU, or
    briefly referenced), so the eviction is checked page by page and retried. Skips
    the calling test, saying why, where pages stay cached all the same (on tmpfs, say):
    a test about cold pages would otherwise pass for the wrong reason.
    """
    from mmap_io._core._os import evict_file

    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    for _ in range(20):
        with open(path, "rb") as file:
            evict_file(file.fileno(), 0, 0)
        if not data or not sys.platform.startswith("linux"):
            return  # mincore's answer is checked where the suite knows it to be honest
        if not _any_page_cached(path, len(data)):
            return
        time.sleep(0.01)
    pytest.skip(f"{path.parent} keeps pages cached after POSIX_FADV_DONTNEED (tmpfs?)")


def _any_page_cached(path: Path, length: int) -> bool:
    """Whether mincore reports any page of the file resident (honest here: the tests
    run as the files' owner)."""
    import mmap

    from mmap_io._core._address import buffer_address
    from mmap_io._core._os import resident_pages

    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)
        try:
            vector = resident_pages(buffer_address(view), length)
        finally:
            view.release()
    return any(flag & 1 for flag in vector or b"")


def believed_resident(mm: Any, offset: int, length: int) -> bool:
    """What the async reads believe about a range's residency (a test helper around the
    library's probe, `mmap_io._core._residency.is_resident`)."""
    from mmap_io._core._residency import is_resident

    return is_resident(mm, offset, length)


def worker_threads(name: str) -> list[threading.Thread]:
    """The library's threads of one kind alive now (mmap_io-pager, mmap_io-committer)."""
    return [t for t in threading.enumerate() if t.name == name]


async def no_workers_left() -> None:
    """Wait until every pager and committer thread has ended and its limiter slot is back."""
    from mmap_io import aio

    with anyio.fail_after(5):
        while (
            worker_threads("mmap_io-pager")
            or worker_threads("mmap_io-committer")
            or aio.offload_limiter().borrowed_tokens
        ):
            await anyio.sleep(0.01)


class RoundsHeld:
    """Test helper: holds the first group-commit round run from now on in its sync.

    Patches the one function every round runs through (`_flush.run_round`), so the
    rounds and syncs stay real: the first round waits until `release()`, then syncs;
    every round is recorded. `joined(mm, n)` waits until n callers wait in the round
    after the held one (no sleeps: the count comes from the mapping's rounds).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from mmap_io._core import _flush

        real = _flush.run_round
        self.rounds: list[Any] = []
        self.entered, self._release = threading.Event(), threading.Event()

        def held(host: Any, round_: Any) -> None:
            self.rounds.append(round_)
            if len(self.rounds) == 1:
                self.entered.set()
                self._release.wait(5)
            real(host, round_)

        monkeypatch.setattr(_flush, "run_round", held)

    def release(self) -> None:
        self._release.set()

    async def started(self) -> None:
        with anyio.fail_after(5):
            while not self.entered.is_set():
                await anyio.sleep(0.001)

    @staticmethod
    async def joined(mm: Any, n: int) -> None:
        """Wait until n callers wait in the round of `mm` that runs next."""
        with anyio.fail_after(5):
            while mm._flushes.waiting() < n:
                await anyio.sleep(0.001)


@contextlib.contextmanager
def mounted(where: Path, fstype: str, options: str = "") -> Iterator[Path]:
    """A fresh `fstype` file system mounted at `where` for the block, unmounted after.

    Needs root (or CAP_SYS_ADMIN): where mounting is refused, the test is skipped
    with mount's own reason. Unmounting fails the test if a file is still open there.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip(f"mounts a Linux {fstype}")
    where.mkdir(exist_ok=True)
    command = ["mount", "-t", fstype, *(["-o", options] if options else []), fstype, str(where)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        pytest.skip(f"cannot run mount(8): {error}")
    if result.returncode:
        reason = (result.stderr.strip() or result.stdout.strip() or "no reason given").splitlines()
        pytest.skip(f"mounting a {fstype} was refused: {reason[0]}")
    try:
        yield where
    finally:
        busy = subprocess.run(["umount", str(where)], capture_output=True, text=True)
        if busy.returncode:
            subprocess.run(["umount", "-l", str(where)], check=False)
            raise AssertionError(f"{where} could not be unmounted: {busy.stderr.strip()}")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs of this test's own: the disk that fills up."""
    with mounted(tmp_path / "small_fs", "tmpfs", "size=1m") as where:
        yield where


# What run_child's programs start with: the public API, and a way to report an error.
CHILD_PRELUDE = """
import errno, json, os, sys
import anyio
from mmap_io import *
from mmap_io import aio

def describe(error):
    filename = getattr(error, "filename", None)
    return {
        "type": type(error).__name__,
        "mmap_io": isinstance(error, MmapIoError),
        "resize": isinstance(error, ResizeFailedError),
        "os": isinstance(error, OSError),
        "errno": getattr(error, "errno", None),
        "filename": None if filename is None else os.fsdecode(filename),
    }
"""


def run_child(code: str, *args: str, timeout: float = 120) -> Any:
    """Run CHILD_PRELUDE + `code` in a fresh interpreter and return the JSON of its last line.

    Fails the test when the child hangs (past `timeout`), dies of a signal (SIGBUS
    on a full disk, say) or exits non-zero.
    """
    program = CHILD_PRELUDE + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=timeout
    )
    if result.returncode < 0:
        name = signal.Signals(-result.returncode).name
        raise AssertionError(f"the child was killed by {name}:\n{result.stderr}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])
