"""A region's memory over time: the current mmap, the ones views still hold, and pins.

The stdlib `mmap` object owns the memory, and every view is a `memoryview` cut from
it, so it holds an export of the mmap. An mmap that is dropped while exported stays
mapped until its last export is released. Close and growth lean on that: they
*retire* the current mmap instead of refusing, so a live view never dangles and never
blocks them. The library's own blocking calls *pin* the memory the same way for
their duration, and a shrink waits for pins to go rather than counting them as views.
"""

from __future__ import annotations

import mmap
import threading
import weakref
from typing import Protocol, Self


class Host(Protocol):
    """What this needs of a region (Region provides it)."""

    _state: threading.RLock
    _unpinned: threading.Condition
    _pins: int
    _resizing: bool
    _mm: mmap.mmap
    _address: int
    _retired: list[weakref.ref[mmap.mmap]]

    def _check_open(self) -> None: ...
    def _detach(self) -> None: ...


class Pin:
    """The memory held mapped while a blocking call works on its address."""

    __slots__ = ("_host", "_view", "address", "mm", "size")

    def __init__(self, host: Host) -> None:
        self._host = host
        self.mm = host._mm
        self._view = memoryview(self.mm)  # the export that keeps it mapped
        self.address = host._address
        self.size = len(self._view)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._view.release()
        with self._host._state:
            self._host._pins -= 1
            if not self._host._pins:
                self._host._unpinned.notify_all()


def pin(host: Host) -> Pin:
    """Pin the current memory for a blocking call; waits while a shrink is pending
    (writer preference: a stream of pins cannot starve it)."""
    with host._state:
        while host._resizing:
            host._unpinned.wait()
        host._check_open()
        host._pins += 1
        return Pin(host)


def retire(host: Host) -> None:
    """Let go of the current mmap (state lock held): unmap it now if nothing holds it,
    else leave it to the views that do; it is unmapped when the last of them goes."""
    host._detach()
    mm = host._mm
    try:
        mm.close()
    except BufferError:
        host._retired = [ref for ref in host._retired if maps(ref())]
        host._retired.append(weakref.ref(mm))


def retired_alive(host: Host) -> bool:
    """Whether views still hold memory of an earlier size, or of the closed mapping."""
    host._retired = [ref for ref in host._retired if maps(ref())]
    return bool(host._retired)


def maps(mm: mmap.mmap | None) -> bool:
    return mm is not None and not mm.closed
