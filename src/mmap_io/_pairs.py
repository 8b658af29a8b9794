"""Sync and async primitives of identical shape: every difference between the two flavours.

`aio/` is written against the async names; `scripts/unasync.py` renames them to the
sync names to produce `sync/`, so each pair below takes the same arguments and has
the same effect, apart from awaiting. The async halves offload blocking work to
threads (through the library's own anyio CapacityLimiter) or to the mapping's
pager and committer threads, which wake the waiting tasks with one thread-safe
callback per group.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    ParamSpec,
    Protocol,
    TypeVar,
    TypeVarTuple,
    Unpack,
    cast,
)

from ._core import _flush, _paging
from ._core._args import byte_view
from ._core._mapping import Mapping
from ._core._residency import is_resident
from ._core._workers import Committer, Pager, Worker

if TYPE_CHECKING:
    import anyio
    import anyio.lowlevel

# anyio is imported on first use, not with mmap_io: `import anyio` alone costs as
# much as the rest of the library, and sync users never need it.

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
P = ParamSpec("P")
W = TypeVar("W", bound=Worker)

# Worker threads the library may use at once per event loop, separate from anyio's
# default limiter (40 tokens shared by every to_thread user in the process).
DEFAULT_OFFLOAD_THREADS = 32
_limiter: anyio.lowlevel.RunVar[anyio.CapacityLimiter] | None = None  # one per event loop


def offload_limiter() -> anyio.CapacityLimiter:
    """The CapacityLimiter that bounds mmap_io's worker threads in the running event loop.

    Raise or lower `.total_tokens` to tune it; it is created on first use in each loop.
    """
    global _limiter
    import anyio.lowlevel

    if _limiter is None:
        _limiter = anyio.lowlevel.RunVar("mmap_io_limiter")
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(DEFAULT_OFFLOAD_THREADS)
        _limiter.set(limiter)
        return limiter


# -- running blocking work ---------------------------------------------------------


async def run_blocking_async(fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking call in a worker thread; a cancelled caller still waits for it to end."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args, limiter=offload_limiter())


def run_blocking(fn: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
    """Run a blocking call in the calling thread."""
    return fn(*args)


async def let_others_run_async() -> None:
    """Yield to the other tasks that are ready to run in this event loop."""
    import anyio.lowlevel

    await anyio.lowlevel.checkpoint()


def let_others_run() -> None:
    """Yield the GIL, so that threads ready to run get a turn."""
    time.sleep(0)


def AsyncShield() -> anyio.CancelScope:
    """A scope that cancellation cannot enter (anyio's and trio's convention for closing)."""
    import anyio

    return anyio.CancelScope(shield=True)


Shield = contextlib.nullcontext  # the sync twin: there is no cancellation to keep out


# -- closing ----------------------------------------------------------------------


async def close_mapping_async(mapping: Mapping) -> None:
    """Close the mapping without waiting on the loop: inline when that takes no wait
    (no final flush due, and the state lock free), else in a worker thread.

    Raises:
        FlushFailedError: The final flush failed; the mapping is closed anyway.
    """
    final_flush = mapping._policy.is_automatic and not mapping._closed and mapping._has_pending()
    if not final_flush and mapping._state.acquire(blocking=False):
        try:  # nothing in it waits for the disk, and nobody holds the lock (a resize may)
            mapping._close_now()
        finally:
            mapping._state.release()
    else:
        await run_blocking_async(mapping._close_now)


def close_mapping(mapping: Mapping) -> None:
    """Close the mapping (a final flush first, under an automatic policy)."""
    mapping._close_now()


# -- durable writes ----------------------------------------------------------------


async def share_sync_async(mapping: Mapping, span: tuple[int, int] | None) -> None:
    """Flush the whole mapping (`span` None) or one range, sharing the msync with every
    caller that asks meanwhile, and return once a sync that started after this call
    has finished. The sync runs in the mapping's committer thread, never on the loop.

    Raises:
        FlushFailedError: The sync this call waited for failed.
    """
    mapping._check_open()
    loop = running_loop()
    rounds = mapping._flushes
    round_, waiter = rounds.join(span, loop.key, loop.make_waiter)
    if rounds.needs_driver() and _start_worker(Committer, mapping, loop) is None:
        rounds.driver_gone()  # no thread to spare: a worker thread leads the round instead
        await run_blocking_async(rounds.lead, round_, functools.partial(_flush.run_round, mapping))
        return
    await cast(LoopWaiter, waiter).wait()
    if round_.error is not None:
        round_.raise_error()


def share_sync(mapping: Mapping, span: tuple[int, int] | None) -> None:
    """Flush the whole mapping or one range, sharing the msync with concurrent callers."""
    _flush.share_sync(mapping, span)


async def copy_in_async(mapping: Mapping, offset: int, data: Any) -> None:
    """Write `data` and count it as pending, never faulting on the loop: copied inline
    when its pages are resident, else by memmove in a worker thread. The flush policy
    is not consulted (the caller flushes right after)."""
    if type(offset) is int and offset >= 0:
        kind = type(data)
        view = data if kind is bytes or kind is bytearray else byte_view(data)
        n = len(view)
        if n == 0:
            mapping._write(offset, view)  # checks the mode, and offsets past 2**64
            return
        if fits(mapping, offset, n) and is_resident(mapping, offset, n):
            try:  # no lock: a resize or close holding it must not hold the loop up
                mapping._mm[offset : offset + n] = view
            except Exception:
                pass  # resized or closed just now: the offloaded copy says what happened
            else:
                mapping._note_write(n)
                return
    await run_blocking_async(_paging.copy_in, mapping, offset, data)


def copy_in(mapping: Mapping, offset: int, data: Any) -> None:
    """Write `data` and count it as pending, without consulting the flush policy."""
    mapping._write(offset, data)


# -- cold reads (async only: sync code faults pages in on the calling thread) -------

# Inline copies above this size would hold the loop for more than ~0.1-0.5 ms.
LARGE_COPY = 2 << 20


def fits(mapping: Mapping, offset: object, length: int) -> bool:
    """True for an int offset and a length of 1 to LARGE_COPY bytes inside the open
    mapping: the common case, checked in a fraction of check_range's time (every
    async read and write pays it). Anything else takes the general path."""
    try:
        return (
            type(offset) is int
            and offset >= 0
            and 0 < length <= LARGE_COPY
            and offset + length <= len(mapping._mm)
        )
    except ValueError:  # closed (the stand-in mmap refuses len)
        return False


def page_in_async(mapping: Mapping, offset: int, length: int) -> Awaitable[object]:
    """What to await until a cold range is resident: its group's waiter in the mapping's
    pager if it can, else one offloaded page-in.

    A plain function returning the awaitable, so that a cold read resumes through one
    coroutine frame fewer. A cancelled reader stops waiting; its range is still
    brought in with its group.
    """
    loop = running_loop()
    pager: Pager | None = mapping._helper(Pager)
    waiter = pager.add(offset, length, loop.key, loop.make_waiter) if pager else None
    if waiter is None:  # no pager yet, or it ended
        pager = None if mapping._closed else _start_worker(Pager, mapping, loop)
        waiter = pager.add(offset, length, loop.key, loop.make_waiter) if pager else None
        if waiter is None:  # no thread to spare (or closed: awaiting this raises)
            return run_blocking_async(_paging.page_in, mapping, [(offset, length)])
    return cast(LoopWaiter, waiter).wait()


# -- event loops ---------------------------------------------------------------------


class LoopWaiter(Protocol):
    """A waiter that tasks of one event loop await, fired from any thread."""

    def wait(self) -> Awaitable[object]: ...
    def fire(self) -> None: ...


class Gate:
    """A one-shot event for asyncio tasks, fired from any thread.

    asyncio.Event would do, but every cold read and durable write waits once, and
    its wait adds a coroutine frame, a loop check and a queue removal to each: here a
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

    def fire(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
            self._loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        waiters, self._waiters = self._waiters, None
        for future in waiters or ():
            if not future.done():  # a cancelled waiter's future is done
                future.set_result(None)


class TrioGate:
    """The same for trio tasks: a trio.Event set through the run's token."""

    __slots__ = ("_event", "_token")

    def __init__(self, token: Any) -> None:
        import trio  # loaded already: it is what runs this code

        self._token = token
        self._event = trio.Event()

    def wait(self) -> Awaitable[object]:
        return self._event.wait()

    def fire(self) -> None:
        with contextlib.suppress(Exception):  # the run has ended: nobody waits
            self._token.run_sync_soon(self._event.set)


class Loop:
    """The running event loop as the workers see it: a key, a waiter maker and a way to
    have it call something soon from another thread."""

    __slots__ = ("call_soon", "key", "make_waiter")

    def __init__(self, key: Any, make_waiter: Callable[[], LoopWaiter], call_soon: Any) -> None:
        self.key = key
        self.make_waiter = make_waiter
        self.call_soon = call_soon


_last: Loop | None = None  # most programs run one loop: its Loop is kept


def running_loop() -> Loop:
    """The running event loop (asyncio, uvloop or trio).

    Raises:
        RuntimeError: No event loop runs in this thread.
    """
    global _last
    asyncio = sys.modules.get("asyncio")  # not imported here: it costs 25-40 ms
    loop = None if asyncio is None else asyncio.events._get_running_loop()
    if loop is None:
        trio = sys.modules.get("trio")  # anyio's other backend, loaded if it runs
        if trio is None:
            raise RuntimeError("no event loop runs in this thread")
        loop = trio.lowlevel.current_trio_token()
        if _last is None or _last.key is not loop:
            _last = Loop(loop, functools.partial(TrioGate, loop), loop.run_sync_soon)
    elif _last is None or _last.key is not loop:
        _last = Loop(loop, functools.partial(Gate, loop), loop.call_soon_threadsafe)
    return _last


def _start_worker(cls: type[W], mapping: Mapping, loop: Loop) -> W | None:
    """Start a pager or committer holding one token of the loop's limiter for its life;
    None when the library has no thread to spare."""
    import anyio

    limiter, token = offload_limiter(), object()
    try:
        limiter.acquire_on_behalf_of_nowait(token)
    except anyio.WouldBlock:
        return None
    worker = cls.start(
        mapping, functools.partial(loop.call_soon, limiter.release_on_behalf_of, token)
    )
    if worker is None:
        limiter.release_on_behalf_of(token)
    return worker


# -- constructors ----------------------------------------------------------------------


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
