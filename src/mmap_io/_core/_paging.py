"""Paging a mapping: residency, faulting pages in, advice, locking, GIL-free copies.

Blocking work like the rest of the core: the async layer offloads it, and the copies
here use memmove through ctypes, which releases the GIL while missing pages are read.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import mmap
from typing import Any

from . import _os
from ._address import buffer_address
from ._args import byte_view, check_range, writable_byte_view
from ._enums import MmapAdvice
from ._errors import (
    AdviceFailedError,
    LockFailedError,
    MmapIoError,
    UnlockFailedError,
    os_error,
    type_error,
)
from ._hints import ResidencyHints
from ._region import Region
from ._utils import page_span

_PAGE = mmap.PAGESIZE
# mincore(2) sets bit 0 of a page's byte when the page is resident.
_RESIDENT = bytes(b for b in range(256) if b & 1)
WINDOW = 64  # pages mincore is asked about at once: 64 cost about what 1 does


class Paging(Region):
    """Page-level work on a file mapping (the public class is MemoryMappedFile)."""

    __slots__ = ("_hints",)

    # Set by Mapping, which owns the file.
    _fileno: int
    _path: Any

    def __init__(self, mm: mmap.mmap) -> None:
        super().__init__(mm)
        self._hints = ResidencyHints()

    def _pages(self, offset: object, length: object) -> tuple[int, int] | None:
        """The page-aligned (start, span) under a checked range; None if it is empty.

        For the calls that act on whole pages (state lock held).
        """
        self._check_open()
        off, n = check_range(offset, length, len(self._mm))
        return page_span(off, n) if n else None

    def _touch_now(self, offset: int, length: int) -> None:
        """Fault pages in: one MADV_POPULATE_READ where the kernel has it, else a read per page."""
        with self._state:
            pages = self._pages(offset, length)
            if pages is None:
                return
            start, span = pages
            try:
                if _os.populate_read(self._address + start, span):
                    self._hints.mark(start // _PAGE, (start + span) // _PAGE - 1)
                    return
            except OSError as error:
                raise os_error(MmapIoError, error, self._path) from None
            mm = self._mm
            for page in range(start, start + span, _PAGE):
                mm[page]

    def _page_in_now(self, ranges: list[tuple[int, int]]) -> None:
        """Bring many ranges into memory at once: start every read, then wait for them.

        Starting all the reads first (WILL_NEED) queues them with the disk together, so
        the waits overlap instead of running one after another: one worker thread gets
        the parallelism of many. Ranges no longer inside the mapping (it shrank
        meanwhile) are skipped; the caller's copy then reports them.
        """
        self._start_page_in(ranges)
        self._finish_page_in(ranges)

    def _start_page_in(self, ranges: list[tuple[int, int]]) -> None:
        """Queue the disk reads of many ranges and return without waiting for them."""
        with self._state:
            self._check_open()
            base, spans = self._address, self._page_spans(ranges)
            if not _os.will_need_many(base, spans):
                for start, span in spans:
                    with contextlib.suppress(OSError):  # a hint: _finish_page_in faults them in
                        _os.advise(base + start, span, MmapAdvice.WILL_NEED)

    def _finish_page_in(self, ranges: list[tuple[int, int]]) -> None:
        """Return once many ranges are resident, their reads having been started before.

        Where the kernel allows, this and _start_page_in are one syscall for the whole
        batch each, which also spares the worker a wait for the GIL after every range.
        """
        with self._state:
            self._check_open()
            base, spans = self._address, self._page_spans(ranges)
            if not _os.populate_many(base, spans):
                for start, span in spans:
                    if not _os.populate_read(base + start, span):
                        # Safety: the span lies inside the live mapping (checked under the
                        # state lock); memmove reads it with the GIL released.
                        ctypes.memmove(ctypes.create_string_buffer(span), base + start, span)
            for start, span in spans:
                self._hints.mark(start // _PAGE, (start + span) // _PAGE - 1)

    def _page_spans(self, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """The whole pages under each range still inside the mapping (state lock held)."""
        size = len(self._mm)
        return [page_span(off, n) for off, n in ranges if off + n <= size]

    def _prefetch_now(self, offset: int, length: int) -> None:
        with self._state:
            self._check_open()
            off, n = check_range(offset, length, len(self._mm))
            if n == 0:
                return
            try:
                _os.prefetch_file(self._fileno, off, n)
            except OSError as error:
                raise os_error(AdviceFailedError, error, self._path) from None

    def advise(self, offset: int, length: int, advice: MmapAdvice) -> None:
        """Tell the kernel how a range will be used (madvise); a hint, never a promise.

        The range is widened to whole pages. `DONT_NEED` on a copy-on-write mapping
        throws away its private changes in that range, as madvise(2) does.

        Raises:
            OutOfBoundsError: The range passes the end of the mapping.
            TypeError: `advice` is not an MmapAdvice, or a number is not an int.
            AdviceFailedError: The kernel refused the advice.
        """
        if not isinstance(advice, MmapAdvice):
            raise type_error(f"advice must be an MmapAdvice, not {type(advice).__name__}")
        with self._state:
            pages = self._pages(offset, length)
            if pages is None:
                return
            start, span = pages
            try:
                _os.advise(self._address + start, span, advice)
                if advice is MmapAdvice.DONT_NEED:
                    self._hints.forget()
            except OSError as error:
                raise os_error(AdviceFailedError, error, self._path) from None

    def _is_resident(self, offset: int, length: int) -> bool:
        """True when every page of a non-empty range is in memory; False if unknown.

        What was seen in the last second is believed without asking the kernel (see
        _hints.py). Otherwise mincore is asked about the whole aligned window of
        WINDOW pages around the range, for the same cost as one page, so that random
        reads nearby are answered from the hints.
        """
        first, last = offset // _PAGE, (offset + length - 1) // _PAGE
        hints = self._hints
        if hints.known(first, last):
            return True
        if hints.seen_cold(first, last):
            return False
        start = first - first % WINDOW
        end = min(max(last + 1, start + WINDOW), -(-len(self._mm) // _PAGE))
        try:
            vector = _os.resident_pages(self._address + start * _PAGE, (end - start) * _PAGE)
        except OSError:
            return False
        if vector is None:
            return False
        hints.record(start, vector)
        return not vector[first - start : last + 1 - start].translate(None, _RESIDENT)

    def _copy_in(self, offset: int, data: Any) -> None:
        """The write step of a durable write; the async twin avoids faulting on the loop."""
        self.update_region(offset, data)

    def _copy_out_now(self, offset: int, buf: Any) -> None:
        """Fill `buf` from the mapping with memmove, which releases the GIL during faults."""
        dest = writable_byte_view(buf)
        with self._state:
            self._check_open()
            off, n = check_range(offset, dest.nbytes, len(self._mm))
            if n:
                # Safety: the range was just checked against the live mapping and the
                # state lock keeps close and resize out until the copy ends; `dest` is an
                # exported view, so its buffer can neither move nor be freed meanwhile.
                ctypes.memmove(buffer_address(dest), self._address + off, n)
                self._hints.mark(off // _PAGE, (off + n - 1) // _PAGE)  # all faulted in

    def _copy_in_now(self, offset: int, data: Any) -> None:
        """update_region by memmove: the GIL is released while missing pages fault in."""
        source = byte_view(data)
        with self._state:
            self._check_writable()
            off, n = check_range(offset, source.nbytes, len(self._mm))
            if n:
                # Safety: as in _copy_out_now; the mapping is writable (checked above).
                ctypes.memmove(self._address + off, buffer_address(source), n)
                self._hints.mark(off // _PAGE, (off + n - 1) // _PAGE)  # all faulted in
        self._count_write(n)

    def _lock_now(self, offset: object, length: object, lock: bool) -> None:
        """mlock (or munlock) the pages under a range.

        mlock faults every page in first, so this can wait for the disk.
        """
        with self._state:
            pages = self._pages(offset, length)
            if pages is None:
                return
            start, span = pages
            try:
                if lock:
                    _os.lock_pages(self._address + start, span)
                else:
                    _os.unlock_pages(self._address + start, span)
            except OSError as error:
                kind = LockFailedError if lock else UnlockFailedError
                raise os_error(kind, _with_lock_hint(error), self._path) from None

    def _lock_all_now(self, lock: bool) -> None:
        with self._state:  # the length read and the lock agree even if a resize races
            self._check_open()
            self._lock_now(0, len(self._mm), lock)


def _with_lock_hint(error: OSError) -> OSError:
    """The OS's reason for a refused mlock, plus what usually fixes it."""
    if error.errno in (errno.ENOMEM, errno.EPERM, errno.EAGAIN):
        return OSError(
            error.errno,
            f"{error.strerror} (locked memory is capped by RLIMIT_MEMLOCK, see `ulimit -l`, "
            "unless the process has CAP_IPC_LOCK)",
        )
    return error
