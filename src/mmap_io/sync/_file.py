# GENERATED from src/mmap_io/aio/_file.py by scripts/unasync.py: do not edit.
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
    Shield,
    close_mapping,
    copy_in,
    let_others_run,
    run_blocking,
    share_sync,
)


class FileOps(Mapping):
    """Operations that may wait for the disk.

    A mixin of the public class: the async reads are hot paths, which must be bound
    methods of the mapping itself. All state lives in the core mapping.
    """

    __slots__ = ()

    def flush(self) -> None:
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
            share_sync(self, None)
        else:
            _flush.flush_now(self)
            let_others_run()

    def flush_range(self, offset: int, length: int) -> None:
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
            self.flush()
        elif n and self._mode is MmapMode.READ_WRITE:
            share_sync(self, (off, n))
        else:  # nothing to write back; still yield, as the other paths do
            let_others_run()

    def sync_all(self) -> None:
        """Flush, then make the file's size and, for a file this mapping created, its
        directory entry durable too (fsync of file and directory).

        Use after `create_rw` or `resize` when the file must survive a power loss
        with its new size.

        Raises:
            FlushFailedError: The OS could not make the file durable.
        """
        self.flush()
        run_blocking(_flush.fsync_now, self)

    def update_region_durable(self, offset: int, data: Any) -> None:
        """Write `data` at `offset` and return once it is durable on disk.

        Concurrent callers share flushes, so many small durable writes cost far fewer
        syncs than writes. The flush policy has nothing left to do: `pending_bytes`
        is 0 afterwards unless others wrote meanwhile.

        Raises:
            InvalidModeError: The mapping is read-only.
            OutOfBoundsError: The data would pass the end of the mapping.
            FlushFailedError: The write happened but could not be made durable.
        """
        copy_in(self, offset, data)
        share_sync(self, None)

    def resize(self, new_size: int) -> None:
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
        run_blocking(_resize.resize_now, self, new_size)

    def touch_pages(self) -> None:
        """Fault every page of the mapping into memory, so later reads do not wait for the disk."""
        run_blocking(_paging.touch, self, 0, _paging.TO_END)

    def touch_pages_range(self, offset: int, length: int) -> None:
        """Fault the pages of one range into memory.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
        """
        run_blocking(_paging.touch, self, offset, length)

    def prefetch_range(self, offset: int, length: int) -> None:
        """Ask the kernel to start reading a range of the file into the page cache.

        Returns without waiting for the reads (posix_fadvise WILLNEED).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            AdviceFailedError: The kernel refused the hint.
        """
        run_blocking(self._prefetch_now, offset, length)

    def lock(self, offset: int, length: int) -> None:
        """Lock the pages under a range in RAM (mlock): faulted in now, never swapped out.

        The range is widened to whole pages; a zero-length range does nothing. Pages
        stay locked until `unlock`, `unlock_all` or close.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            LockFailedError: The OS refused, also as the matching OSError; without
                privilege the locked-memory limit (`ulimit -l`) is usually why.
        """
        run_blocking(_paging.lock, self, offset, length, True)

    def unlock(self, offset: int, length: int) -> None:
        """Let the pages under a range be swapped out again (munlock).

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            UnlockFailedError: The OS refused (also the matching OSError).
        """
        run_blocking(_paging.lock, self, offset, length, False)

    def lock_all(self) -> None:
        """Lock every page of the mapping in RAM (see `lock_async`).

        Raises:
            LockFailedError: The OS refused (also the matching OSError).
        """
        run_blocking(_paging.lock, self, 0, _paging.TO_END, True)

    def unlock_all(self) -> None:
        """Let every page of the mapping be swapped out again.

        Raises:
            UnlockFailedError: The OS refused (also the matching OSError).
        """
        run_blocking(_paging.lock, self, 0, _paging.TO_END, False)

    def close(self) -> None:
        """Close the mapping: a final flush if the policy is automatic, then let go of
        the file and the memory. Closing twice is allowed.

        Never refused and never waits for views (memory they point into stays mapped
        until the last goes). It completes whatever happens to its caller meanwhile:
        a close always finishes.

        Raises:
            FlushFailedError: The final flush failed; the mapping is closed anyway.
        """
        with Shield():
            close_mapping(self)
