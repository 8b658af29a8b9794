"""The operations of MemoryMappedFile that may wait for the disk.

Authored here in async form; the sync twin in `sync/_file.py` is generated from it
by scripts/unasync.py, which renames each primitive of `_pairs.py` to its sync
partner and leaves out the statements marked async-only. The blocking work itself
is in the core; this layer only offloads it, shares it and shields it.
"""

from __future__ import annotations

from typing import Any

from .._core import _flush, _paging, _resize
from .._core._args import check_range
from .._core._enums import MmapMode
from .._core._mapping import Mapping
from .._pairs import (
    AsyncShield,
    close_mapping_async,
    copy_in_async,
    let_others_run_async,
    run_blocking_async,
    share_sync_async,
)

# isort: off
from typing import TYPE_CHECKING, Self  # async-only
from .._core._args import writable_byte_view  # async-only
from .._core._residency import is_resident  # async-only
from .._pairs import LARGE_COPY, fits, page_in_async  # async-only
# isort: on

if TYPE_CHECKING:  # async-only
    from ._watch import WatchStream


class AsyncFileOps(Mapping):
    """Operations that may wait for the disk.

    A mixin of the public class: the async reads are hot paths, which must be bound
    methods of the mapping itself. All state lives in the core mapping.
    """

    __slots__ = ()

    async def flush_async(self) -> None:
        """Write every dirty page back to the file and wait until the disk has it.

        Always syncs, whatever the flush policy, and resets `pending_bytes`. Callers
        that arrive while a sync is running share the next one (group commit): each
        returns only after a sync that started after its call has finished.

        A read-only or copy-on-write mapping has nothing to write back: its flush
        only resets `pending_bytes`, at once, with no sync to wait for.

        Raises:
            FlushFailedError: The OS could not write the pages back (also an OSError).
        """
        if self._mode is MmapMode.READ_WRITE:
            await share_sync_async(self, None)
        else:
            _flush.flush_now(self)
            await let_others_run_async()

    async def flush_range_async(self, offset: int, length: int) -> None:
        """Write the dirty pages of one range back and wait for the disk.

        `pending_bytes` is reset only when the range is the whole mapping, which is
        then flushed as a whole (and counted in sync_count). A zero-length range
        writes nothing. Concurrent callers share syncs: the next sync covers every
        range asked for meanwhile (one msync per run of ranges that share or adjoin a
        page).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            FlushFailedError: The OS could not write the pages back.
        """
        size = len(self)
        off, n = check_range(offset, length, size)
        if off == 0 and n == size:
            await self.flush_async()
        elif n and self._mode is MmapMode.READ_WRITE:
            await share_sync_async(self, (off, n))
        else:  # nothing to write back; still yield, as the other paths do
            await let_others_run_async()

    async def sync_all_async(self) -> None:
        """Flush, then make the file's size and, for a file this mapping created, its
        directory entry durable too (fsync of file and directory).

        Use after `create_rw` or `resize` when the file must survive a power loss
        with its new size.

        Raises:
            FlushFailedError: The OS could not make the file durable.
        """
        await self.flush_async()
        await run_blocking_async(_flush.fsync_now, self)

    async def update_region_async(self, offset: int, data: Any) -> None:
        """Write `data` at `offset` and return once it is durable on disk.

        Concurrent callers share flushes, so many small durable writes cost far fewer
        syncs than writes. The flush policy has nothing left to do: `pending_bytes`
        is 0 afterwards unless others wrote meanwhile.

        Raises:
            InvalidModeError: The mapping is read-only.
            OutOfBoundsError: The data would pass the end of the mapping.
            FlushFailedError: The write happened but could not be made durable.
        """
        await copy_in_async(self, offset, data)
        await share_sync_async(self, None)

    async def resize_async(self, new_size: int) -> None:
        """Grow or shrink the file and the mapping to `new_size` bytes.

        Growing adds zero bytes and never waits for views: they keep the memory they
        point into, which shows the same bytes. The mapping's address may change. A
        shrink waits briefly for views to be released, and is refused if any is
        still alive, since it would cut the file under them.

        Raises:
            InvalidModeError: The mapping is not read-write.
            ResizeFailedError: `new_size` is not a valid size, views are alive on a
                shrink (also a BufferError), or the OS refused.
        """
        await run_blocking_async(_resize.resize_now, self, new_size)

    async def touch_pages_async(self) -> None:
        """Fault every page of the mapping into memory, so later reads do not wait for the disk."""
        await run_blocking_async(_paging.touch, self, 0, _paging.TO_END)

    async def touch_pages_range_async(self, offset: int, length: int) -> None:
        """Fault the pages of one range into memory.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
        """
        await run_blocking_async(_paging.touch, self, offset, length)

    async def prefetch_range_async(self, offset: int, length: int) -> None:
        """Ask the kernel to start reading a range of the file into the page cache.

        Returns without waiting for the reads (posix_fadvise WILLNEED).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            AdviceFailedError: The kernel refused the hint.
        """
        await run_blocking_async(self._prefetch_now, offset, length)

    async def lock_async(self, offset: int, length: int) -> None:
        """Lock the pages under a range in RAM (mlock): faulted in now, never swapped out.

        The range is widened to whole pages; a zero-length range does nothing. Pages
        stay locked until `unlock`, `unlock_all` or close.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            LockFailedError: The OS refused, also as the matching OSError; without
                privilege the locked-memory limit (`ulimit -l`) is usually why.
        """
        await run_blocking_async(_paging.lock, self, offset, length, True)

    async def unlock_async(self, offset: int, length: int) -> None:
        """Let the pages under a range be swapped out again (munlock).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            UnlockFailedError: The OS refused (also the matching OSError).
        """
        await run_blocking_async(_paging.lock, self, offset, length, False)

    async def lock_all_async(self) -> None:
        """Lock every page of the mapping in RAM (see `lock_async`).

        Raises:
            LockFailedError: The OS refused (also the matching OSError).
        """
        await run_blocking_async(_paging.lock, self, 0, _paging.TO_END, True)

    async def unlock_all_async(self) -> None:
        """Let every page of the mapping be swapped out again.

        Raises:
            UnlockFailedError: The OS refused (also the matching OSError).
        """
        await run_blocking_async(_paging.lock, self, 0, _paging.TO_END, False)

    async def aclose(self) -> None:
        """Close the mapping: a final flush if the policy is automatic, then let go of
        the file and the memory. Closing twice is allowed.

        Never refused and never waits for views (memory they point into stays mapped
        until the last goes). It completes whatever happens to its caller meanwhile:
        a close always finishes.

        Raises:
            FlushFailedError: The final flush failed; the mapping is closed anyway.
        """
        with AsyncShield():
            await close_mapping_async(self)

    async def __aenter__(self) -> Self:  # async-only
        """Return the mapping itself."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:  # async-only
        """Close the mapping (see aclose), even when the block is left by cancellation."""
        await self.aclose()

    async def read_into_async(self, offset: int, buf: Any) -> None:  # async-only
        """Fill `buf` from `offset` without ever waiting for the disk on the event loop.

        Resident pages are copied at once; cold ones are paged in by a worker thread
        first. Cancelled while waiting for cold pages, it stops at once and leaves
        `buf` untouched (the pages still come in). A copy over 2 MiB runs in a worker
        thread that finishes before the cancellation lands, so `buf` may then be
        filled by a call that raises.

        Raises:
            OutOfBoundsError: The read would pass the end; `buf` is left untouched.
            TypeError: `offset` is not an int, or `buf` is not a writable buffer.
        """
        if type(buf) is bytearray and fits(self, offset, n := len(buf)):  # the common case
            if not is_resident(self, offset, n):
                await page_in_async(self, offset, n)
            self.read_into(offset, buf)
            return
        n = writable_byte_view(buf).nbytes
        off, n = check_range(offset, n, len(self))
        if n == 0:
            return
        if n > LARGE_COPY:
            await run_blocking_async(_paging.copy_out, self, off, buf)
            return
        if not is_resident(self, off, n):
            await page_in_async(self, off, n)
        self.read_into(off, buf)

    async def read_bytes_async(self, offset: int, length: int) -> bytes:  # async-only
        """Return a copy of `length` bytes at `offset`, paging cold ones in off the loop.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        if type(length) is int and fits(self, offset, length):  # the common case
            if not is_resident(self, offset, length):
                await page_in_async(self, offset, length)
            return self.read_bytes(offset, length)
        off, n = check_range(offset, length, len(self))
        if n > LARGE_COPY:
            dest = bytearray(n)
            await run_blocking_async(_paging.copy_out, self, off, dest)
            return bytes(dest)
        if n and not is_resident(self, off, n):
            await page_in_async(self, off, n)
        return self.read_bytes(off, n)

    async def as_slice_async(self, offset: int, length: int) -> memoryview:  # async-only
        """Return a read-only zero-copy view whose pages were brought in off the loop.

        Reading the view right after the call does not wait for the disk (unless the
        kernel evicts the pages again under memory pressure).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `offset` or `length` is not an int.
        """
        if type(length) is int and fits(self, offset, length):  # the common case
            if not is_resident(self, offset, length):
                await page_in_async(self, offset, length)
            return self.as_slice(offset, length)
        off, n = check_range(offset, length, len(self))
        if n and not is_resident(self, off, n):
            await page_in_async(self, off, n)
        return self.as_slice(off, n)

    def watch_async(  # async-only
        self,
        *,
        poll_interval: float | None = None,
        poll_range: tuple[int, int] | None = None,
        latency: float | None = None,
    ) -> WatchStream:
        """Start watching the file; iterate the result with `async for`.

        Reports what `watch()` reports (see there, also for the poll and latency
        options), on
        asyncio, uvloop and trio. The OS watch is set up in a thread of its own from
        this call on (it opens files, which the loop must not wait for); awaiting the
        stream, `async with` on it, or its first iteration waits until it is in place
        and raises any failure to start. Changes from then on are never missed.

        Raises:
            WatchFailedError: When awaited, entered or first iterated: watchfiles
                missing, no path, path gone, or the OS refused a watch.

        Example:
            >>> events = await mm.watch_async()  # in place: nothing from here is missed
            >>> async for event in events:
            ...     if event.kind is ChangeKind.REMOVED:
            ...         print("gone; the mapping still shows the old bytes")
        """
        from ._watch import WatchStream  # on first use: most users never watch

        return WatchStream.start(self, poll_interval, poll_range, latency)
