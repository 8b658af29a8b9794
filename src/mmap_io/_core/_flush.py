"""Making a file mapping's writes durable: msync, shared rounds, fsync, and the policy.

Blocking work of the core, run in the calling thread (the async layer offloads it or
hands it to a committer thread). The memory is pinned, not locked, while msync
waits for the disk: a close or resize in another thread does not wait behind it,
and neither does anyone who only needs the state lock.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Protocol

from . import _os
from ._enums import MmapMode
from ._errors import FlushFailedError, os_error
from ._memory import Pin
from ._policy import FlushPolicy
from ._rounds import Round, Rounds, merged
from ._utils import page_span


class Host(Protocol):
    """What flushing needs of a file mapping (Mapping provides it)."""

    _state: threading.RLock
    _pending: int
    _writes: int
    _written_cells: set[tuple[int, int]]
    _threshold: int
    _sync_count: int
    _mode: MmapMode
    _policy: FlushPolicy
    _fileno: int
    _path: Any
    _created: bool
    _flushes: Rounds

    def _check_open(self) -> None: ...
    def _settle_views(self) -> None: ...
    def _pinned(self) -> Pin: ...


def maybe_flush(host: Host) -> None:
    """Flush if the policy says a write has made it due (in the writing thread), sharing
    the sync with anyone flushing at the same time."""
    policy = host._policy
    if policy.kind == "every_writes":
        due = policy.value > 0 and host._writes >= policy.value
    else:
        due = host._pending >= host._threshold
    if due:
        share_sync(host, None)


def flush_now(host: Host) -> None:
    """msync the whole mapping; the bytes pending when it starts stop counting.

    They are taken off the count as the sync starts (and given back if it fails), so
    that two syncs running at once (a close's, say, beside a round's) never both take
    the same bytes off.
    """
    with host._state:
        host._check_open()
        host._settle_views()
        taken, host._pending = host._pending, 0
        host._writes = 0
        host._written_cells = set()  # atomic cells written from now on count again
        pin = host._pinned()
    with pin:
        if host._mode is MmapMode.READ_WRITE:
            try:
                _sync(host, pin, 0, pin.size)
            except BaseException:
                host._pending += taken  # still not durable
                raise
            host._sync_count += 1


def sync_ranges_now(host: Host, ranges: list[tuple[int, int]]) -> None:
    """msync the pages of each (offset, length), as far as the mapping still reaches.

    The ranges were checked when they were asked for; a resize since may have cut
    them short, and past the end there is nothing left to write back. Never a
    whole-mapping flush: `pending_bytes` and `sync_count` stay as they are.
    """
    with host._pinned() as pin:
        if host._mode is not MmapMode.READ_WRITE:
            return
        for offset, length in ranges:
            end = min(offset + length, pin.size)
            if offset < end:
                _sync(host, pin, *page_span(offset, end - offset))


def _sync(host: Host, pin: Pin, offset: int, length: int) -> None:
    try:
        _os.sync_range(pin.mm, host._fileno, pin.address, offset, length)
    except OSError as error:
        raise os_error(FlushFailedError, error, host._path) from None


def run_round(host: Host, round_: Round) -> None:
    """The syncs one group-commit round stands for."""
    if round_.whole:
        flush_now(host)
    else:
        sync_ranges_now(host, merged(round_.ranges))


def share_sync(host: Host, span: tuple[int, int] | None) -> None:
    """Flush the whole mapping (`span` None) or one range, sharing the sync with every
    thread (and event-loop task) that asks at the same time."""
    round_, _ = host._flushes.join(span)
    host._flushes.lead(round_, lambda r: run_round(host, r))


def fsync_now(host: Host) -> None:
    """fsync the file, so its size is durable too, and its directory if this mapping
    created it, so its name is (the second half of sync_all, after a flush)."""
    host._check_open()
    try:
        _os.sync_file(host._fileno)
        if host._created and host._path is not None:
            parent = os.path.dirname(os.path.abspath(os.fspath(host._path)))
            _os.sync_directory(parent)
    except OSError as error:
        host._check_open()  # closed meanwhile: the descriptor went with it (EBADF)
        raise os_error(FlushFailedError, error, host._path) from None
