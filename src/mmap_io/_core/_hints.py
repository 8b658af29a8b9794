"""Residency hints: what mincore said about a page, trusted briefly so reads skip asking.

A page seen resident is believed resident, and a page seen cold believed cold, until
the current period ends; then everything is asked again. A cold belief that went
stale costs nothing but speed (the async path sends the range to the pager, which
finds it in memory at once); a resident belief that went stale costs one page fault
on the reading thread.
"""

from __future__ import annotations

import time

# How long what mincore said is believed. The kernel rarely evicts a page this soon
# after it was used; if it does, that read faults on the calling thread once.
TRUST_SECONDS = 1.0

UNKNOWN, RESIDENT, COLD = 0, 1, 2
# mincore's answer (bit 0: resident) as hint bytes, for a whole vector at once.
FROM_MINCORE = bytes(RESIDENT if b & 1 else COLD for b in range(256))


class ResidencyHints:
    """One byte per page: UNKNOWN, RESIDENT or COLD as last seen in this period."""

    __slots__ = ("_expires", "_pages")

    def __init__(self) -> None:
        self._pages = bytearray()
        self._expires = 0.0

    def known(self, first: int, last: int) -> bool:
        """True if every page in [first, last] was seen resident in this period."""
        if time.monotonic() >= self._expires:
            self.forget()
            return False
        pages = self._pages
        if last >= len(pages):
            return False
        if first == last:
            return pages[first] == RESIDENT
        return pages.count(RESIDENT, first, last + 1) == last + 1 - first

    def seen_cold(self, first: int, last: int) -> bool:
        """True if a page in [first, last] was seen cold in this period (call known first)."""
        return self._pages.find(COLD, first, last + 1) >= 0

    def mark(self, first: int, last: int) -> None:
        """Remember that pages [first, last] are resident now."""
        pages = self._pages
        if last >= len(pages):
            pages.extend(bytes(last + 1 - len(pages)))
        if first == last:
            pages[first] = RESIDENT
        else:
            pages[first : last + 1] = b"\x01" * (last + 1 - first)

    def record(self, first: int, vector: bytes) -> None:
        """Remember a mincore vector whose first byte is page `first`."""
        pages = self._pages
        end = first + len(vector)
        if end > len(pages):
            pages.extend(bytes(end - len(pages)))
        pages[first:end] = vector.translate(FROM_MINCORE)

    def forget(self) -> None:
        """Trust nothing seen so far (after a resize or DONT_NEED, and every period)."""
        self._pages = bytearray(len(self._pages))
        self._expires = time.monotonic() + TRUST_SECONDS
