"""pending_bytes accounting for writes the mapping does not see happen: views and atomics.

`update_region` counts its bytes as it writes. Writes through a mutable view or an
atomic view happen in C, with no hook, so those are counted later, when the mapping
settles its views (flush, resize, close, a read of pending_bytes, every SETTLE_AT new
mutable views): a released mutable view counts its full length once, a written
atomic cell its width once per flush.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._atomic import AtomicView

SETTLE_AT = 64  # mutable views registered before they are settled, to bound the list
PRUNE_AT = 64  # atomic views registered before dead ones are pruned (then twice as many)


class Host(Protocol):
    """What accounting needs of a region (Region provides it)."""

    _state: threading.RLock
    _COUNTS_WRITES: bool
    _mut_views: list[tuple[weakref.ref[Any], int]]  # memoryviews and numpy arrays
    _atomic_views: list[weakref.ref[AtomicView]]
    _prune_at: int
    _written_cells: set[tuple[int, int]]
    _pending: int

    def _note_write(self, n: int) -> None: ...
    def _maybe_flush(self) -> None: ...


def register(host: Host, view: object, length: int) -> None:
    """Remember a new mutable view (made after `settle_due`): a memoryview, which
    counts once released or collected, or a numpy array, once collected."""
    host._mut_views.append((weakref.ref(view), length))


def settle_due(host: Host) -> None:
    """Every SETTLE_AT registered views, settle them and let the policy react (a write
    happened). Called before a new view is cut, never while the caller holds one:
    waiting for the state lock with a fresh view in hand would make a shrink under
    way, which holds that lock, wait for the view, and give up."""
    if len(host._mut_views) >= SETTLE_AT:
        with host._state:
            settle(host)
        host._maybe_flush()


def settle(host: Host) -> None:
    """Count the views released or written since the last settle (state lock held).

    Only counts: the policy is not consulted, so reading pending_bytes never flushes.
    """
    views, host._mut_views = host._mut_views, []
    live = []
    for ref, length in views:
        view = ref()
        if view is not None:
            try:
                view.nbytes  # noqa: B018 - raises ValueError once released
                live.append((ref, length))
                continue
            except ValueError:
                pass
        host._note_write(length)
    host._mut_views.extend(live)
    if host._atomic_views:
        atomics = []
        for cell_ref in host._atomic_views:
            made = cell_ref()
            if made is not None:
                atomics.append(cell_ref)
                made._hand_in()
        host._atomic_views = atomics


def has_pending(host: Host) -> bool:
    """Whether a write may await a flush: counted bytes, mutable views, written atomics.

    Takes no lock, so an event loop can ask without waiting behind anyone.
    """
    if host._pending or host._mut_views:
        return True
    for ref in tuple(host._atomic_views):  # a copy: settling may swap the list
        made = ref()
        if made is not None and made._dirty:
            return True
    return False


def track_atomic(host: Host, made: AtomicView) -> None:
    """Register a new atomic view so settling finds its writes while it lives."""
    if not host._COUNTS_WRITES:
        return
    with host._state:
        views = host._atomic_views
        views.append(weakref.ref(made))
        if len(views) >= host._prune_at:
            settle(host)
            host._prune_at = max(PRUNE_AT, 2 * len(host._atomic_views))


def count_cell(host: Host, offset: int, width: int) -> None:
    """Count a written atomic cell, once until the next flush.

    Also called from a view's `__del__`, so it takes no lock and never flushes; the
    GIL keeps the set and counter updates whole, as on the hot paths.
    """
    if not host._COUNTS_WRITES:
        return
    cell = (offset, width)
    if cell not in host._written_cells:
        host._written_cells.add(cell)
        host._note_write(width)
