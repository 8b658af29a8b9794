"""The loop guard: an async test fails if its event loop thread waited on the disk.

Enable it for the whole suite from tests/conftest.py with

    pytest_plugins = ["_loop_guard"]

The name is top-level, like `conftest`: pytest's default "prepend" import mode has
put tests/ (which has no __init__.py) on sys.path by the time it reads that line.
It must be a plugin, not an imported fixture: it also registers the `loop_may_block`
marker (the suite runs with --strict-markers) and fails the test in its call phase.

What it watches, in every coroutine test that anyio's pytest plugin runs:

* blocking OS calls that mmap_io makes on the loop thread while the loop runs
  there: the OS-layer functions named in BLOCKING, each wrapped by a spy that
  calls through to the real one, and the audit events in AUDITED (`open`,
  `os.truncate`, ...) when the innermost frame outside the standard library is
  mmap_io's;
* major page faults of the loop thread during the test body (field 12 of
  /proc/thread-self/stat, read in that thread when the body starts and ends).

Where the loop runs (anyio 4.x): on asyncio and uvloop the plugin keeps an
asyncio.Runner in pytest's own thread and runs the loop there with
run_until_complete, once per async fixture step and once for the test; on trio it
starts a guest run whose tasks are stepped in pytest's thread while the plugin
waits (trio's I/O wait runs in a helper thread). Sync fixtures and the rest of the
test's setup run in that same thread, but never while the loop runs. So the loop
thread is pytest's thread, and a call counts when it is made there while
`asyncio._get_running_loop()` is set (asyncio, uvloop) or inside a trio task.
Async fixtures count too; faults are counted over the test body only.

Not covered: async tests driven by hypothesis (none today) keep the call checks
but get no fault count, since anyio's plugin rewrites their inner test itself.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import mmap_io
from mmap_io import MmapAdvice
from mmap_io._core import _os

# The OS-layer functions that can wait for the disk. `advise` counts only with
# WILL_NEED. Names the OS layer lacks (see PLANNED) are skipped.
BLOCKING = frozenset(
    {
        "sync_range",
        "sync_file",
        "sync_directory",
        "resize",
        "populate_read",
        "populate_many",
        "will_need_many",
        "prefetch_file",
        "lock_pages",
        "unlock_pages",
        "advise",
        "allocate",
        "truncate",
    }
)

# Names of BLOCKING that the OS layer does not have yet.
PLANNED = frozenset({"truncate"})

# Audit events that mean disk work when the library raises them (os.truncate is
# also raised by os.ftruncate; os.remove also by os.unlink).
AUDITED = frozenset({"open", "os.truncate", "os.remove", "os.rename"})

# Files the kernel makes up on demand: opening them never waits for a disk.
NO_DISK = ("/proc/", "/sys/")

_LIBRARY = os.path.dirname(os.path.abspath(mmap_io.__file__)) + os.sep
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_HERE = os.path.abspath(__file__)
_FRAMES = 10  # frames kept per record: the library's, then its caller's

Frame = tuple[str, int, str]  # file, line, function


@dataclass
class Offence:
    """One kind of wait seen on the loop thread, and how often it happened."""

    what: str
    thread: str
    stack: tuple[Frame, ...]  # innermost first
    count: int = 1

    def describe(self) -> str:
        times = f" (x{self.count})" if self.count > 1 else ""
        lines = [f"{self.what}{times}, on thread {self.thread}"]
        lines += [f"       at {_short(file)}:{line} in {name}" for file, line, name in self.stack]
        return "\n".join(lines)


@dataclass
class Guard:
    """What one async test made its loop thread wait for (the `loop_guard` fixture)."""

    backend: str  # "asyncio", "uvloop" or "trio"
    loop_thread: int  # threading.get_ident() of the thread that runs the loop
    offences: dict[tuple[str, tuple[Frame, ...]], Offence] = field(default_factory=dict)
    faults: tuple[int, int] | None = None  # majflt when the body started and ended
    read_bytes: int | None = None  # bytes the loop thread read from storage meanwhile

    def on_loop(self) -> bool:
        """True in the loop thread while the test's event loop runs there."""
        if threading.get_ident() != self.loop_thread:
            return False
        if self.backend == "trio":
            return bool(sys.modules["trio"].lowlevel.in_trio_task())
        return asyncio.events._get_running_loop() is not None

    def record(self, what: str, frame: Any) -> None:
        stack = _excerpt(frame)
        offence = self.offences.get((what, stack))
        if offence is not None:
            offence.count += 1
            return
        thread = threading.current_thread()
        self.offences[what, stack] = Offence(what, f"{thread.name} ({thread.native_id})", stack)

    def problems(self) -> list[str]:
        """One description per offence, and the faults if there were any."""
        found = [offence.describe() for offence in self.offences.values()]
        if self.faults is not None and self.faults[1] > self.faults[0]:
            start, end = self.faults
            if self.read_bytes is None:
                read = ""
            elif self.read_bytes:
                read = f"; the thread had {self.read_bytes} bytes read from storage meanwhile"
            else:
                read = (
                    "; the thread had nothing read from storage (holes or pages past the "
                    "file's data: a cache miss the disk did not have to serve this time)"
                )
            found.append(
                f"{end - start} major page fault(s) of the loop thread during the test body "
                f"(/proc/thread-self/stat field 12: {start} -> {end}){read}: a page the "
                "loop touched was not in the page cache, e.g. a mapping copied inline"
            )
        return found

    def clear(self) -> None:
        self.offences.clear()
        self.faults = self.read_bytes = None


def major_faults() -> int | None:
    """The calling thread's major page faults so far; None where /proc cannot tell.

    Field 12 of /proc/thread-self/stat (proc(5)). Field 2, the thread's name, is in
    parentheses and may itself hold spaces and ")", so fields are counted from the
    last ")".
    """
    try:
        fd = os.open("/proc/thread-self/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 1024)
    finally:
        os.close(fd)
    return int(data[data.rindex(b")") + 2 :].split()[12 - 3])


def storage_reads() -> int | None:
    """Bytes the calling thread has had read from storage (read_bytes in
    /proc/thread-self/io); None without task I/O accounting."""
    try:
        with open("/proc/thread-self/io", "rb") as file:
            for line in file:
                if line.startswith(b"read_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


_active: Guard | None = None  # the guard of the async test running now
_quiet = 0  # > 0 inside a spied call on the loop: its own audit events add nothing


def _short(filename: str) -> str:
    root = os.path.dirname(os.path.dirname(_LIBRARY.rstrip(os.sep))) + os.sep
    for prefix in (root, os.getcwd() + os.sep):
        if filename.startswith(prefix):
            return filename[len(prefix) :]
    return filename


def _is_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) or filename.startswith("<frozen")


def _excerpt(frame: Any) -> tuple[Frame, ...]:
    """The library's frames from `frame` outwards, then the first frame outside it
    (whoever called the library); the standard library and this module are skipped."""
    kept: list[Frame] = []
    inside = False
    while frame is not None and len(kept) < _FRAMES:
        name = frame.f_code.co_filename
        if name != _HERE and not _is_stdlib(name):
            kept.append((name, frame.f_lineno, frame.f_code.co_name))
            if name.startswith(_LIBRARY):
                inside = True
            elif inside:
                break
        frame = frame.f_back
    return tuple(kept)


def _library_frame(frame: Any) -> bool:
    """True if the innermost frame outside the standard library is mmap_io's.

    The library calling io or shutil opens on its own account; a user callback that
    the library calls opens on the user's.
    """
    while frame is not None:
        name = frame.f_code.co_filename
        if not _is_stdlib(name):
            return name.startswith(_LIBRARY)
        frame = frame.f_back
    return False


# -- spies on the OS layer, and the audit hook --------------------------------------------


def _spy(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def spy(*args: Any, **kwargs: Any) -> Any:
        global _quiet
        guard = _active
        if guard is None or not guard.on_loop():
            return real(*args, **kwargs)
        if name != "advise" or MmapAdvice.WILL_NEED in (*args, *kwargs.values()):
            guard.record(f"blocking OS call _os.{name}()", sys._getframe(1))
        _quiet += 1
        try:
            return real(*args, **kwargs)
        finally:
            _quiet -= 1

    spy.loop_guard_spy = True  # type: ignore[attr-defined]
    return spy


def _install_spies() -> list[tuple[str, Callable[..., Any]]]:
    saved = []
    for name in sorted(BLOCKING):
        real = getattr(_os, name, None)
        if real is not None and not getattr(real, "loop_guard_spy", False):
            saved.append((name, real))
            setattr(_os, name, _spy(name, real))
    return saved


@functools.cache
def _direct_bindings() -> tuple[str, ...]:
    """Library modules that hold an OS-layer function under their own name, so that
    their calls would bypass the spies (which replace the names in `_os` only)."""
    reals = {id(getattr(_os, name)): name for name in BLOCKING if hasattr(_os, name)}
    found = []
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("mmap_io.") or module_name.startswith(_os.__name__):
            continue
        for attribute, value in vars(module).items():
            if id(value) in reals and getattr(_os, reals[id(value)]) is value:
                found.append(f"{module_name}.{attribute} is _os.{reals[id(value)]}")
    return tuple(found)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    guard = _active
    if guard is None or _quiet or event not in AUDITED or not guard.on_loop():
        return
    target = args[0]
    if event == "open":
        if isinstance(target, int):
            return  # wraps a descriptor: no path to look up
        try:
            if os.fsdecode(os.fspath(target)).startswith(NO_DISK):
                return
        except TypeError:
            pass
    frame = sys._getframe(1)
    if _library_frame(frame):
        guard.record(f"{event}({target!r}) from library code", frame)


_hooked: list[bool] = []  # an audit hook cannot be removed: add it once per process


def _arm(guard: Guard) -> list[tuple[str, Callable[..., Any]]]:
    global _active, _quiet
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked.append(True)
    saved = _install_spies()
    _active, _quiet = guard, 0
    return saved


def _disarm(saved: list[tuple[str, Callable[..., Any]]]) -> None:
    global _active
    _active = None
    for name, real in saved:
        setattr(_os, name, real)


# -- pytest wiring -------------------------------------------------------------------------

_GUARD = pytest.StashKey[Guard]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "loop_may_block(reason): the loop guard reports what it sees on the loop thread "
        "but does not fail the test",
    )


def _backend(request: pytest.FixtureRequest) -> str | None:
    """asyncio, uvloop or trio for a coroutine test run by anyio's plugin, else None."""
    function = getattr(request.node, "function", None)
    inner = getattr(getattr(function, "hypothesis", None), "inner_test", function)
    if not inspect.iscoroutinefunction(inner) or "anyio_backend" not in request.fixturenames:
        return None
    backend = request.getfixturevalue("anyio_backend")
    name, options = (backend, {}) if isinstance(backend, str) else backend
    return "uvloop" if options.get("use_uvloop") else str(name)


@pytest.fixture(autouse=True)
def loop_guard(request: pytest.FixtureRequest) -> Iterator[Guard | None]:
    """Watch an async test's loop thread; None for any other test.

    Set up before the test's other function fixtures and torn down after them, so
    async fixtures are watched too. What only a fixture's teardown did is reported
    as an error of the teardown.
    """
    backend = _backend(request)
    if backend is None:
        yield None
        return
    if _direct_bindings():
        pytest.fail(
            "loop guard: these bindings would bypass its spies on mmap_io._core._os: "
            + "; ".join(_direct_bindings()),
            pytrace=False,
        )
    item = request.node
    guard = Guard(backend, threading.get_ident())
    item.stash[_GUARD] = guard
    test = item.obj
    if not hasattr(test, "hypothesis"):
        item.obj = _counting_faults(test, guard)
    saved = _arm(guard)
    try:
        yield guard
    finally:
        _disarm(saved)
        item.obj = test
    _judge(item, guard, "teardown")


def _counting_faults(test: Callable[..., Any], guard: Guard) -> Callable[..., Any]:
    """The test function, reading the loop thread's fault count around its body."""

    @functools.wraps(test)
    async def body(*args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() != guard.loop_thread:
            raise RuntimeError(
                "loop guard: the test body runs in another thread than its fixtures; "
                "the guard's picture of anyio's pytest plugin is out of date"
            )
        start, read = major_faults(), storage_reads()
        try:
            return await test(*args, **kwargs)
        finally:
            end, read_end = major_faults(), storage_reads()
            if start is not None and end is not None:
                guard.faults = (start, end)
            if read is not None and read_end is not None:
                guard.read_bytes = read_end - read

    return body


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Any:
    guard = pyfuncitem.stash.get(_GUARD, None)
    try:
        result = yield
    except BaseException:
        if guard is not None and guard.problems():  # the test's own failure comes first
            pyfuncitem.add_report_section("call", "loop guard", _message(pyfuncitem, guard))
            guard.clear()
        raise
    if guard is not None:
        _judge(pyfuncitem, guard, "call")
    return result


def _judge(item: pytest.Item, guard: Guard, phase: str) -> None:
    """Fail the test (or just report, under loop_may_block) if the loop waited."""
    if not guard.problems():
        return
    text = _message(item, guard)
    guard.clear()
    marker = item.get_closest_marker("loop_may_block")
    if marker is None:
        pytest.fail(text, pytrace=False)
    reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
    if not reason:
        pytest.fail("loop_may_block needs a reason: loop_may_block('why')", pytrace=False)
    item.add_report_section(phase, "loop guard", f"allowed ({reason}):\n{text}")


def _message(item: pytest.Item, guard: Guard) -> str:
    problems = guard.problems()
    lines = [
        f"loop guard: the event loop ({guard.backend}) waited for the disk in {item.name}; "
        f"{len(problems)} finding(s):"
    ]
    lines += [f"  {n}. {problem}" for n, problem in enumerate(problems, 1)]
    lines.append(
        "Use the *_async form (it runs the call in a worker), or mark the test "
        "@pytest.mark.loop_may_block('why') if the wait is intended."
    )
    return "\n".join(lines)
