"""Threads that serve one mapping for one event loop: the pager and the committer.

Each runs blocking work back to back for the loop's tasks and wakes the loop with the
backend's own thread-safe callback, one wake per batch: cheaper than a `to_thread`
call per batch, and the thread can take the next batch the moment it is free.

A worker holds one token of the library's CapacityLimiter for as long as it lives,
so the limiter still bounds every thread the library runs; `start` gives None when no
token is free, and callers then offload one call per batch instead. A worker ends
after IDLE seconds without work and when its mapping closes; it serves only the loop
and the process that started it (a forked child has no thread behind it).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Protocol, TypeVar

import anyio

from .._core._mapping import Mapping
from .._pairs import offload_limiter

IDLE = 0.25  # seconds a worker waits for work before its thread ends

# Forks so far in this process's line: a worker compares its own count with this
# rather than calling os.getpid() (a syscall) on every cold read or durable write.
_forks = [0]


def _forked() -> None:
    _forks[0] += 1


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forked)

W = TypeVar("W", bound="LoopWorker")


class Waitable(Protocol):
    """What a worker's callers wait on: a one-shot event of the running backend."""

    def set(self) -> None: ...

    def wait(self) -> Awaitable[object]: ...


class Gate:
    """A one-shot event for asyncio tasks, set from the loop.

    asyncio.Event would do, but every cold read and durable write waits once, and its
    wait adds a coroutine frame, a loop check and a queue removal to each: here a
    waiter awaits a future of its own (so cancelling one waiter cancels no other).
    """

    __slots__ = ("_loop", "_waiters")

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._waiters: list[Any] | None = []  # None once set

    def wait(self) -> Awaitable[object]:
        future = self._loop.create_future()
        if self._waiters is None:
            future.set_result(None)
        else:
            self._waiters.append(future)
        return future  # type: ignore[no-any-return]

    def set(self) -> None:
        waiters, self._waiters = self._waiters, None
        for future in waiters or ():
            if not future.done():  # a cancelled waiter's future is done
                future.set_result(None)


class LoopWorker:
    """A thread doing one mapping's blocking work for one event loop."""

    __slots__ = (
        "_call_soon",
        "_cond",
        "_forks",
        "_here",
        "_limiter",
        "_lock",
        "_loop",
        "_mapping",
        "_new_event",
        "_open",
    )
    thread_name: ClassVar[str]

    def __init__(self, mapping: Mapping) -> None:
        # Weak: the mapping owns its workers, and a mapping dropped unclosed should go
        # when its last reference does. Whoever waits on a worker holds the mapping.
        self._mapping = weakref.ref(mapping)
        # The loop's own calls, looked up once: serves_here asks `_here` on every cold
        # read and durable write, and compares the answer with `_loop`.
        loop = _running_asyncio_loop()
        if loop is not None:
            self._loop = loop
            self._here: Callable[[], object] = sys.modules["asyncio"].events._get_running_loop
            self._call_soon: Callable[..., object] = loop.call_soon_threadsafe
            self._new_event: Callable[[], Waitable] = functools.partial(Gate, loop)
        else:
            import trio  # anyio's other backend; loaded, since it is what runs this code

            self._loop = trio.lowlevel.current_trio_token()
            self._here = trio.lowlevel.current_trio_token  # raises outside trio
            self._call_soon = self._loop.run_sync_soon
            self._new_event = trio.Event
        self._forks = _forks[0]
        self._limiter = offload_limiter()
        self._lock = threading.Lock()  # guards the queue and _open
        self._cond = threading.Condition(self._lock)  # the thread waits on it for work
        self._open = True

    @classmethod
    def start(cls: type[W], mapping: Mapping) -> W | None:
        """Start a worker for the running loop; None when the library has no thread to spare."""
        worker = cls(mapping)
        try:
            worker._limiter.acquire_on_behalf_of_nowait(worker)
        except anyio.WouldBlock:
            return None
        try:
            threading.Thread(target=worker._run, name=cls.thread_name, daemon=True).start()
        except RuntimeError:  # the process is out of threads
            worker._limiter.release_on_behalf_of(worker)
            return None
        return worker

    def serves_here(self) -> bool:
        """True in the loop and process the worker was started for."""
        try:
            return self._here() is self._loop and self._forks == _forks[0]
        except RuntimeError:  # a trio worker asked from asyncio
            return False

    def new_event(self) -> Waitable:
        """A one-shot event for this worker's loop: a Gate, or a trio.Event."""
        return self._new_event()

    def stop(self) -> None:
        """End the thread once the queued work is done (from any thread; never waits)."""
        if self._forks != _forks[0]:
            return  # a forked child: the lock may have been held by a thread it lacks
        with self._lock:
            self._open = False
            self._cond.notify()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._soon(self._limiter.release_on_behalf_of, self)

    def _serve(self) -> None:
        """The thread's work: take batches under `_cond` until `_open` ends or IDLE passes."""
        raise NotImplementedError

    def _soon(self, fn: Any, *args: Any) -> None:
        """Have the loop call fn(*args); a loop that has ended has no one left to wake."""
        with contextlib.suppress(Exception):
            self._call_soon(fn, *args)


def _running_asyncio_loop() -> Any:
    """The running asyncio loop, else None.

    asyncio's own `_get_running_loop` (exported by asyncio.events) answers None where
    get_running_loop would raise, so trio's path costs no exception; and asyncio is
    not imported here (it takes 25-40 ms): if nobody imported it, no loop of its runs.
    """
    asyncio = sys.modules.get("asyncio")
    return None if asyncio is None else asyncio.events._get_running_loop()
