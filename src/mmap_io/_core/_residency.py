"""Whether a range is in memory, asked without faulting it in: answers that cannot lie.

Async reads copy resident ranges on the event loop and send cold ones to the pager,
so a wrong "resident" stalls the loop on the disk. Two probes, chosen per mapping:

- mincore, where it is honest: the caller owns the file or may write it (since
  Linux 5.2 it claims every page resident otherwise). One call answers for the
  aligned window of WINDOW pages around the range, for about the cost of one page.
- preadv2 with RWF_NOWAIT, for every other readable file: it copies what the page
  cache holds and stops at the first missing page, never waiting. Read into a
  scratch buffer, so it only probes; ranges over PROBE_MAX are called cold.

Where neither works, every range is cold: the pager pages it in (quickly, if it was
resident after all). Answers are remembered briefly in the mapping's hints.
"""

from __future__ import annotations

import errno
import mmap

from . import _os
from ._hints import WINDOW
from ._mapping import Mapping

_PAGE = mmap.PAGESIZE
# mincore(2) sets bit 0 of a page's byte when the page is resident.
_RESIDENT = bytes(b for b in range(256) if b & 1)
PROBE_MAX = 64 << 10  # bytes a preadv2 probe reads at most
_SCRATCH = memoryview(bytearray(PROBE_MAX))  # probes' landing place; never read

MINCORE, PREAD, NONE = "mincore", "pread", "none"


def is_resident(region: Mapping, offset: int, length: int) -> bool:
    """True when every page of a non-empty range in the mapping is in memory; False if
    unknown. Never faults a page in, never waits for the disk."""
    first, last = offset // _PAGE, (offset + length - 1) // _PAGE
    hints = region._hints
    if hints.known(first, last):
        return True
    if hints.seen_cold(first, last):
        return False
    probe = region._probe or choose(region)
    if probe is MINCORE:
        return _ask_mincore(region, first, last)
    if probe is PREAD and length <= PROBE_MAX:
        return _ask_page_cache(region, offset, length, first, last)
    return False


def choose(region: Mapping) -> str:
    """Pick and remember the probe that tells the truth for this mapping."""
    try:
        probe = MINCORE if _os.mincore_honest(region._fileno) else PREAD
    except OSError:
        probe = PREAD
    region._probe = probe
    return probe


def _ask_mincore(region: Mapping, first: int, last: int) -> bool:
    start = first - first % WINDOW
    try:
        end = min(max(last + 1, start + WINDOW), -(-len(region._mm) // _PAGE))
        vector = _os.resident_pages(region._address + start * _PAGE, (end - start) * _PAGE)
    except (OSError, ValueError):  # ValueError: closed meanwhile (the caller reports it)
        return False
    if vector is None:
        return False
    if end - start <= WINDOW:
        region._hints.record(start, vector)
    return not vector[first - start : last + 1 - start].translate(None, _RESIDENT)


def _ask_page_cache(region: Mapping, offset: int, length: int, first: int, last: int) -> bool:
    try:
        copied = _os.read_nowait(region._fileno, _SCRATCH[:length], offset)
    except BlockingIOError:
        copied = 0
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            region._probe = NONE
        return False
    if copied == length:
        region._hints.mark(first, last)
        return True
    return False
