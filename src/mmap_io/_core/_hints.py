"""Residency hints: pages recently seen in memory, trusted briefly so hot reads skip mincore."""

from __future__ import annotations

import time

# How long a page seen resident is believed to stay so. The kernel rarely evicts a page
# this soon after it was used; if it does, that read faults on the calling thread once.
TRUST_SECONDS = 1.0


class ResidencyHints:
    """One byte per page: 1 where the page was seen resident in the current period."""

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
            return pages[first] == 1
        return pages.find(0, first, last + 1) < 0

    def mark(self, first: int, last: int) -> None:
        """Remember that pages [first, last] are resident now."""
        pages = self._pages
        if last >= len(pages):
            pages.extend(bytes(last + 1 - len(pages)))
        if first == last:
            pages[first] = 1
        else:
            pages[first : last + 1] = b"\x01" * (last + 1 - first)

    def forget(self) -> None:
        """Trust nothing seen so far (after a resize or DONT_NEED, and every period)."""
        self._pages = bytearray(len(self._pages))
        self._expires = time.monotonic() + TRUST_SECONDS
