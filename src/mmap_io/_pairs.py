"""Sync and async primitives of identical shape.

`aio/` is written against the async names; `scripts/unasync.py` renames them to the
sync names to produce `sync/`, so each pair below must accept the same arguments and
behave the same apart from awaiting.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, ParamSpec, TypeVar, TypeVarTuple, Unpack

import anyio
import anyio.lowlevel
import anyio.to_thread

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
P = ParamSpec("P")

# Worker threads the library may use at once per event loop, separate from anyio's
# default limiter (40 tokens shared by every to_thread user in the process).
DEFAULT_OFFLOAD_THREADS = 32
_limiter: anyio.lowlevel.RunVar[anyio.CapacityLimiter] = anyio.lowlevel.RunVar("mmap_io_limiter")


def offload_limiter() -> anyio.CapacityLimiter:
    """The CapacityLimiter that bounds mmap_io's worker threads in the running event loop.

    Raise or lower `.total_tokens` to tune it; it is created on first use in each loop.
    """
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(DEFAULT_OFFLOAD_THREADS)
        _limiter.set(limiter)
        return limiter


async def run_blocking_async(fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking call in a worker thread; a cancelled caller still waits for it to end."""
    return await anyio.to_thread.run_sync(fn, *args, limiter=offload_limiter())


def run_blocking(fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking call in the calling thread."""
    return fn(*args)


async def let_others_run_async() -> None:
    """Yield to the other tasks that are ready to run in this event loop."""
    await anyio.lowlevel.checkpoint()


def let_others_run() -> None:
    """Yield the GIL, so that threads ready to run get a turn."""
    time.sleep(0)


# Events: both have set() and wait(); the async one must be made inside its event loop.
AsyncEvent = anyio.Event
Event = threading.Event


class AsyncOpening(Generic[T]):
    """What an async constructor returns: await it, or use it directly in `async with`."""

    __slots__ = ("_coro", "_value")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._value: Any = None

    def __await__(self) -> Generator[Any, Any, T]:
        return self._coro.__await__()

    async def __aenter__(self) -> T:
        self._value = await self._coro
        return await self._value.__aenter__()  # type: ignore[no-any-return]

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._value.__aexit__(*exc_info)


def async_constructor(
    fn: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, AsyncOpening[T]]:
    """Let an async constructor be awaited or entered with `async with` directly."""

    @functools.wraps(fn)
    def opening(*args: P.args, **kwargs: P.kwargs) -> AsyncOpening[T]:
        return AsyncOpening(fn(*args, **kwargs))

    return opening


def constructor(fn: Callable[P, T]) -> Callable[P, T]:
    """The sync twin of async_constructor: the plain function already returns the mapping."""
    return fn
