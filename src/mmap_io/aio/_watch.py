"""Watch streams: a mapped file's change events as an async iterator.

Async-only (no generated twin): the sync form is the callback thread of
`_core/_watch.py`. Both deliver what `FileWatch.next_batch` returns, so the dispatch
loop exists once; here it runs in a worker thread per wait.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Generator
from functools import partial
from typing import TYPE_CHECKING, Any, Self, final

from .._core._mapping import Mapping
from .._pairs import LoopWaiter, let_others_run_async, run_blocking_async, running_loop

if TYPE_CHECKING:
    import anyio

    from .._core._changes import ChangeEvent
    from .._core._watch import FileWatch


@final
class WatchStream:
    """Change events of a mapped file as an async iterator (see MemoryMappedFile.watch_async).

    `await` it, or enter it with `async with`, to know its OS watch is in place: no
    change from then on is missed. Leaving the `async for` (break, an exception,
    cancellation) or the `async with` block, `aclose()`, and closing the mapping all
    release the OS watch; a REMOVED event is the last one.

    Example:
        >>> async with mm.watch_async() as events:
        ...     async for event in events:
        ...         print(event.kind, event.offset, event.length)
    """

    __slots__ = ("_limiter", "_pending", "_start", "_watch")

    def __init__(self, start: _Start) -> None:
        self._start = start
        self._watch: FileWatch | None = None
        self._pending: collections.deque[ChangeEvent] = collections.deque()
        self._limiter: anyio.CapacityLimiter | None = None

    @classmethod
    def start(
        cls, mapping: Mapping, poll_interval: object, poll_range: object, latency: object
    ) -> Self:
        """Start setting up the OS watch of `mapping`'s file now, off the loop."""
        return cls(_Start(partial(_make_watch, mapping, poll_interval, poll_range, latency)))

    async def _started(self) -> FileWatch:
        if self._watch is None:
            self._watch = await self._start.result()
        return self._watch

    def __await__(self) -> Generator[Any, Any, Self]:
        """`await mm.watch_async()`: the stream, once its OS watch is in place.

        Raises:
            WatchFailedError: The watch could not start (see watch_async).
        """
        return self._ready().__await__()

    async def _ready(self) -> Self:
        await self._started()
        return self

    def __aiter__(self) -> Self:
        """Return the stream itself."""
        return self

    async def __anext__(self) -> ChangeEvent:
        """Wait for the next change without blocking the event loop.

        Raises:
            StopAsyncIteration: The stream was closed, the file removed (after its
                REMOVED event) or the mapping closed.
            WatchFailedError: The OS watch broke.
        """
        import anyio.to_thread  # with watching, not with mmap_io: see _pairs.py

        watch = await self._started()
        if watch.stopping:
            raise StopAsyncIteration
        if not self._pending:
            if self._limiter is None:
                # Its own token: a wait can last forever, so it must not hold one of
                # the library's offload threads (or anyio's shared ones).
                self._limiter = anyio.CapacityLimiter(1)
            try:
                batch = await anyio.to_thread.run_sync(
                    watch.next_batch, abandon_on_cancel=True, limiter=self._limiter
                )
            except anyio.get_cancelled_exc_class():
                # The worker cannot be interrupted; tell it to stop and wait the one
                # step it takes to notice, so the OS watch is gone when this returns.
                with anyio.CancelScope(shield=True):
                    await run_blocking_async(watch.stop, True)
                raise
            if batch is None:
                raise StopAsyncIteration
            self._pending.extend(batch)
        return self._pending.popleft()

    async def aclose(self) -> None:
        """Stop the stream and release the OS watch. Closing twice is allowed."""
        self._close()
        await let_others_run_async()

    async def __aenter__(self) -> Self:
        """Return the stream itself, once its OS watch is in place.

        Raises:
            WatchFailedError: The watch could not start (see watch_async).
        """
        await self._started()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the stream (see aclose)."""
        await self.aclose()

    def __del__(self) -> None:
        # `break` out of `async for` drops the last reference without closing.
        self._close()

    def _close(self) -> None:
        self._pending.clear()
        self._start.abandon()  # a watch still being set up is stopped once it is
        if self._watch is not None:
            self._watch.stop(wait=False)  # never block the loop; a worker releases it


class _Start:
    """An OS watch being set up in a thread of its own: opening the file, its directory's
    inotify instance and, the first time, importing watchfiles may all wait for the
    disk, which the loop must not. Outside an event loop it is set up in place."""

    __slots__ = ("_abandoned", "_error", "_waiter", "_watch")

    def __init__(self, make: Callable[[], FileWatch]) -> None:
        self._watch: FileWatch | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        try:
            self._waiter: LoopWaiter | None = running_loop().make_waiter()
        except RuntimeError:  # no event loop runs here: waiting in place is fine
            self._waiter = None
            self._run(make)
            return
        threading.Thread(target=self._run, args=(make,), name="mmap_io-watch-start").start()

    def _run(self, make: Callable[[], FileWatch]) -> None:
        try:
            self._watch = make()
        except BaseException as error:
            self._error = error
        if self._abandoned and self._watch is not None:
            self._watch.stop()
        if self._waiter is not None:
            self._waiter.fire()

    async def result(self) -> FileWatch:
        """The watch, once set up.

        Raises:
            WatchFailedError: It could not start.
        """
        if self._waiter is not None:
            await self._waiter.wait()
        if self._error is not None:
            raise self._error
        assert self._watch is not None
        return self._watch

    def abandon(self) -> None:
        """Nobody will use the watch: stop it now, or as soon as it is set up."""
        self._abandoned = True
        if self._watch is not None:
            self._watch.stop()


def _make_watch(
    mapping: Mapping, poll_interval: object, poll_range: object, latency: object
) -> FileWatch:
    from .._core._watch import FileWatch  # on first use: most users never watch

    return FileWatch(mapping, poll_interval, poll_range, latency)
