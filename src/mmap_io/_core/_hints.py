"""Residency hints: what a probe said about a page, trusted briefly so reads skip asking.

A page seen resident is believed resident, and a page seen cold believed cold, until
the current period ends; then everything is asked again. A cold belief that went
stale costs nothing but speed (the async path sends the range to the pager, which
finds it in memory at once); a resident belief that went stale costs one page fault
on the reading thread.

Memory is bounded whatever the mapping's size: pages are remembered in windows of
WINDOW pages, at most MAX_WINDOWS of them (about 1.4 MiB), the oldest window making
room for a new one. A one-byte read near the end of a 1 TiB file costs one window.
"""

from __future__ import annotations

import time

# How long what a probe said is believed. The kernel rarely evicts a page this soon
# after it was used; if it does, that read faults on the calling thread once.
TRUST_SECONDS = 1.0
WINDOW = 64  # pages per window: mincore is asked about a whole window at once
# 512 Ki pages (2 GiB of 4 KiB pages). Random reads over a larger span than this churn
# the windows; at a quarter of it (clearing all when full) they did, and each cold read
# on 1 GiB paid a 64-page probe: trio's cold reads went from 0.67x to 0.84x the
# threads' rate with room for the whole file.
MAX_WINDOWS = 8192

UNKNOWN, RESIDENT, COLD = 0, 1, 2
# mincore's answer (bit 0: resident) as hint bytes, for a whole vector at once.
FROM_MINCORE = bytes(RESIDENT if b & 1 else COLD for b in range(256))
_ALL_RESIDENT = bytes([RESIDENT]) * WINDOW


class ResidencyHints:
    """UNKNOWN, RESIDENT or COLD per page, as last seen in this period."""

    __slots__ = ("_expires", "_windows")

    def __init__(self) -> None:
        self._windows: dict[int, bytearray] = {}
        self._expires = 0.0

    def known(self, first: int, last: int) -> bool:
        """True if every page in [first, last] was seen resident in this period."""
        if time.monotonic() >= self._expires:
            self.forget()
            return False
        windows = self._windows
        if first == last:  # the common case: a read inside one page
            states = windows.get(first // WINDOW)
            return states is not None and states[first % WINDOW] == RESIDENT
        for index, start, stop in _spans(first, last):
            states = windows.get(index)
            if states is None or states.count(RESIDENT, start, stop) != stop - start:
                return False
        return True

    def seen_cold(self, first: int, last: int) -> bool:
        """True if a page in [first, last] was seen cold in this period (call known first)."""
        windows = self._windows
        for index, start, stop in _spans(first, last):
            states = windows.get(index)
            if states is not None and states.find(COLD, start, stop) >= 0:
                return True
        return False

    def mark(self, first: int, last: int) -> None:
        """Remember that pages [first, last] are resident now."""
        if last - first >= MAX_WINDOWS * WINDOW:
            return  # more than could be remembered: not worth evicting everything else
        for index, start, stop in _spans(first, last):
            self._states(index)[start:stop] = _ALL_RESIDENT[: stop - start]

    def record(self, first: int, vector: bytes) -> None:
        """Remember a mincore vector whose first byte is page `first` (window-aligned,
        at most one window long)."""
        states = self._states(first // WINDOW)
        states[: len(vector)] = vector.translate(FROM_MINCORE)

    def forget(self) -> None:
        """Trust nothing seen so far (after a resize or DONT_NEED, and every period)."""
        self._windows = {}
        self._expires = time.monotonic() + TRUST_SECONDS

    def _states(self, index: int) -> bytearray:
        windows = self._windows
        states = windows.get(index)
        if states is None:
            if len(windows) >= MAX_WINDOWS:
                del windows[next(iter(windows))]  # the oldest (dicts keep insertion order)
            states = windows[index] = bytearray(WINDOW)
        return states


def _spans(first: int, last: int) -> list[tuple[int, int, int]]:
    """(window, start, stop) for each window that pages [first, last] touch."""
    return [
        (index, max(first - index * WINDOW, 0), min(last + 1 - index * WINDOW, WINDOW))
        for index in range(first // WINDOW, last // WINDOW + 1)
    ]
