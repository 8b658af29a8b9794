"""Paging a mapping: faulting pages in, advice, locking, and copies that release the GIL.

Blocking work like the rest of the core: the async layer offloads it. Each function
pins the memory for the length of its syscalls (see `Region._pinned`), so a close or
a growth meanwhile cannot unmap it, and none of them holds the state lock while it
waits for the disk.
"""

from __future__ import annotations

import contextlib
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
from ._memory import Pin
from ._region import Region
from ._utils import page_span

_PAGE = mmap.PAGESIZE
TO_END: object = object()  # a length meaning "to the end of the mapping as it is then"


def _pages(pin: Pin, offset: object, length: object) -> tuple[int, int] | None:
    """The page-aligned (start, span) under a range checked against the pinned memory;
    None if it is empty. `length` TO_END means everything from `offset` on."""
    if length is TO_END:
        length = max(pin.size - offset, 0) if isinstance(offset, int) else 0
    off, n = check_range(offset, length, pin.size)
    return page_span(off, n) if n else None


def touch(region: Region, offset: object, length: object) -> None:
    """Fault pages in: one MADV_POPULATE_READ where the kernel has it, else a read per page.

    `length` TO_END touches to the end of the mapping as it is when the call runs, so
    a resize meanwhile never makes it fail for a range the caller did not ask for.
    """
    import ctypes  # on first use: it costs milliseconds to import

    with region._pinned() as pin:
        pages = _pages(pin, offset, length)
        if pages is None:
            return
        start, span = pages
        try:
            done = _os.populate_read(pin.address + start, span)
        except OSError as error:
            raise os_error(MmapIoError, error, region._path) from None
        if not done:
            # Safety: each address lies inside the pinned memory; memmove reads one
            # byte per page with the GIL released while the page comes in.
            byte = ctypes.create_string_buffer(1)
            for page in range(start, start + span, _PAGE):
                ctypes.memmove(byte, pin.address + page, 1)
        region._hints.mark(start // _PAGE, (start + span) // _PAGE - 1)


def page_in(region: Region, ranges: list[tuple[int, int]]) -> None:
    """Bring many ranges into memory at once: start every read, then wait for them."""
    start_page_in(region, ranges)
    finish_page_in(region, ranges)


def start_page_in(region: Region, ranges: list[tuple[int, int]]) -> None:
    """Queue the disk reads of many ranges (WILL_NEED) and return without waiting.

    Starting them all first queues them with the disk together, so the waits overlap.
    Ranges no longer inside the mapping (it shrank) are skipped; the reader's own
    copy then reports them.
    """
    with region._pinned() as pin:
        base, spans = pin.address, _spans(pin, ranges)
        if not _os.will_need_many(base, spans):
            for start, span in spans:
                with contextlib.suppress(OSError):  # a hint: finish_page_in faults them in
                    _os.advise(base + start, span, MmapAdvice.WILL_NEED)


def finish_page_in(region: Region, ranges: list[tuple[int, int]]) -> None:
    """Return once many ranges are resident, their reads having been started before.

    Where the kernel allows, this and start_page_in are one syscall for the whole
    batch each, which also spares the worker a wait for the GIL after every range.
    """
    import ctypes  # on first use: it costs milliseconds to import

    with region._pinned() as pin:
        base, spans = pin.address, _spans(pin, ranges)
        if not _os.populate_many(base, spans):
            for start, span in spans:
                if not _os.populate_read(base + start, span):
                    # Safety: the span lies inside the pinned memory; memmove reads
                    # it with the GIL released.
                    ctypes.memmove(ctypes.create_string_buffer(span), base + start, span)
        for start, span in spans:
            region._hints.mark(start // _PAGE, (start + span) // _PAGE - 1)


def _spans(pin: Pin, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The whole pages under each range still inside the pinned memory."""
    return [page_span(off, n) for off, n in ranges if off + n <= pin.size]


def advise(region: Region, offset: int, length: int, advice: MmapAdvice) -> None:
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
    with region._pinned() as pin:
        pages = _pages(pin, offset, length)
        if pages is None:
            return
        start, span = pages
        try:
            _os.advise(pin.address + start, span, advice)
        except OSError as error:
            raise os_error(AdviceFailedError, error, region._path) from None
        if advice is MmapAdvice.DONT_NEED:
            region._hints.forget()


def copy_out(region: Region, offset: object, buf: Any) -> None:
    """Fill `buf` from the mapping with memmove, which releases the GIL during faults."""
    import ctypes  # on first use: it costs milliseconds to import

    dest = writable_byte_view(buf)
    with region._pinned() as pin:
        off, n = check_range(offset, dest.nbytes, pin.size)
        if n:
            # Safety: the range was just checked against the pinned memory, which stays
            # mapped until the pin goes; `dest` is an exported view, so its buffer can
            # neither move nor be freed meanwhile.
            ctypes.memmove(buffer_address(dest), pin.address + off, n)
            region._hints.mark(off // _PAGE, (off + n - 1) // _PAGE)  # all faulted in


def copy_in(region: Region, offset: object, data: Any) -> None:
    """update_region by memmove: the GIL is released while missing pages fault in.

    Counts the write as pending without consulting the flush policy: callers make
    it durable themselves.
    """
    import ctypes  # on first use: it costs milliseconds to import

    source = byte_view(data)
    region._check_writable()
    with region._pinned() as pin:
        off, n = check_range(offset, source.nbytes, pin.size)
        if n:
            # Safety: as in copy_out; the mapping is writable (checked above).
            ctypes.memmove(pin.address + off, buffer_address(source), n)
            region._hints.mark(off // _PAGE, (off + n - 1) // _PAGE)  # all faulted in
    if n:
        region._note_write(n)


def lock(region: Region, offset: object, length: object, locking: bool) -> None:
    """mlock (or munlock) the pages under a range; `length` may be TO_END.

    mlock faults every page in first, so this can wait for the disk.
    """
    with region._pinned() as pin:
        pages = _pages(pin, offset, length)
        if pages is None:
            return
        start, span = pages
        try:
            if locking:
                _os.lock_pages(pin.address + start, span)
            else:
                _os.unlock_pages(pin.address + start, span)
        except OSError as error:
            kind = LockFailedError if locking else UnlockFailedError
            raise os_error(kind, _with_lock_hint(error), region._path) from None


def _with_lock_hint(error: OSError) -> OSError:
    """The OS's reason for a refused mlock, plus what usually fixes it."""
    if error.errno in (errno.ENOMEM, errno.EPERM, errno.EAGAIN):
        return OSError(
            error.errno,
            f"{error.strerror} (locked memory is capped by RLIMIT_MEMLOCK, see `ulimit -l`, "
            "unless the process has CAP_IPC_LOCK)",
        )
    return error
