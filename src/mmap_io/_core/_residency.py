"""Whether a range is in memory, asked without faulting it in: answers that cannot lie.

Async reads copy resident ranges on the event loop and send cold ones to the pager,
so a wrong "resident" stalls the loop on the disk. Two probes, chosen per mapping:

- mincore, where it is honest: the caller owns the file or may write it (since
  Linux 5.2 it claims every page resident otherwise).
- the present bit of /proc/self/pagemap, for every other file: whether the page is
  mapped in this process's page tables, so that touching it cannot fault. It is true
  for any file, and costs about what mincore does. A page the page cache holds but
  this process has not mapped yet reads as absent, and takes one trip through the
  pager, which maps it without waiting.

Either answers for the aligned window of WINDOW pages around the range at once, for
about the cost of one page. Where neither works, every range is cold. Answers are
remembered briefly in the mapping's hints.

preadv2(RWF_NOWAIT) was measured as the probe for others' files and dropped: on a
cache miss it starts the read on the calling thread before it refuses, which cost
the event loop 26-47 us of CPU per cold read (p99 0.1-0.2 ms, worst 1-5 ms).
"""

from __future__ import annotations

import mmap
from collections.abc import Callable

from . import _os
from ._hints import WINDOW
from ._mapping import Mapping

_PAGE = mmap.PAGESIZE
# mincore(2) sets bit 0 of a page's byte when the page is resident.
_RESIDENT = bytes(b for b in range(256) if b & 1)
MINCORE, PAGEMAP, NONE = "mincore", "pagemap", "none"


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
    if probe is NONE:
        return False
    return _ask(region, _os.resident_pages if probe is MINCORE else _os.mapped_pages, first, last)


def choose(region: Mapping) -> str:
    """Pick and remember the probe that tells the truth for this mapping."""
    try:
        probe = MINCORE if _os.mincore_honest(region._fileno) else PAGEMAP
    except OSError:
        probe = PAGEMAP
    region._probe = probe
    return probe


def _ask(region: Mapping, pages: Callable[[int, int], bytes | None], first: int, last: int) -> bool:
    """Ask the probe about the aligned window around pages [first, last]; remember it."""
    start = first - first % WINDOW
    try:
        end = min(max(last + 1, start + WINDOW), -(-len(region._mm) // _PAGE))
        vector = pages(region._address + start * _PAGE, (end - start) * _PAGE)
    except ValueError:  # closed meanwhile: the caller reports it
        return False
    except OSError:  # mincore on memory a resize just unmapped; or no pagemap here
        if region._probe is PAGEMAP:
            region._probe = NONE  # (a sandbox may hide it): every range is cold
        return False
    if vector is None:  # the platform has no such probe
        region._probe = NONE
        return False
    if end - start <= WINDOW:
        region._hints.record(start, vector)
    return not vector[first - start : last + 1 - start].translate(None, _RESIDENT)
