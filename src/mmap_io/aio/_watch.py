"""Watch streams: a mapped file's change events as an async iterator.

Async-only (no generated twin): the sync form is the callback thread of
`_core/_watch.py`. Both deliver what `FileWatch.next_batch` returns, so the dispatch
loop exists once; here it runs in a worker thread per wait.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Self, final

import anyio
import anyio.lowlevel
import anyio.to_thread

from .._core._mapping import Mapping
from .._pairs import run_blocking_async

if TYPE_CHECKING:
    from .._core._changes import ChangeEvent
    from .._core._watch import FileWatch


@final
class WatchStream:
    """Change events of a mapped file as an async iterator (see MemoryMappedFile.watch_async).

    Leaving the `async for` (break, an exception, cancellation) or the `async with`
    block, `aclose()`, and closing the mapping all release the OS watch; a REMOVED
    event is the last one.

    Example:
        >>> async with mm.watch_async() as events:
        ...     async for event in events:
        ...         print(event.kind, event.offset, event.length)
    """

    __slots__ = ("_limiter", "_pending", "_watch")

    def __init__(self, watch: FileWatch) -> None:
        self._watch = watch
        self._pending: collections.deque[ChangeEvent] = collections.deque()
        self._limiter: anyio.CapacityLimiter | None = None

    @classmethod
    def start(cls, mapping: Mapping, poll_interval: object, poll_range: object) -> Self:
        """Start the OS watch of `mapping`'s file now (see MemoryMappedFile.watch_async)."""
        from .._core._watch import FileWatch  # on first use: most users never watch

        return cls(FileWatch(mapping, poll_interval, poll_range))

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
        if self._watch.stopping:
            raise StopAsyncIteration
        if not self._pending:
            if self._limiter is None:
                # Its own token: a wait can last forever, so it must not hold one of
                # the library's offload threads (or anyio's shared ones).
                self._limiter = anyio.CapacityLimiter(1)
            try:
                batch = await anyio.to_thread.run_sync(
                    self._watch.next_batch, abandon_on_cancel=True, limiter=self._limiter
                )
            except anyio.get_cancelled_exc_class():
                # The worker cannot be interrupted; tell it to stop and wait the one
                # step it takes to notice, so the OS watch is gone when this returns.
                with anyio.CancelScope(shield=True):
                    await run_blocking_async(self._watch.stop, True)
                raise
            if batch is None:
                raise StopAsyncIteration
            self._pending.extend(batch)
        return self._pending.popleft()

    async def aclose(self) -> None:
        """Stop the stream and release the OS watch. Closing twice is allowed."""
        self._close()
        await anyio.lowlevel.checkpoint()

    async def __aenter__(self) -> Self:
        """Return the stream itself."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the stream (see aclose)."""
        await self.aclose()

    def __del__(self) -> None:
        # `break` out of `async for` drops the last reference without closing.
        self._close()

    def _close(self) -> None:
        self._pending.clear()
        self._watch.stop(wait=False)  # never block the loop; a running worker releases it
