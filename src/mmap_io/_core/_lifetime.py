"""What the process holds: its live mappings (made fork-safe) and the files they map.

Two process-wide facts live here. Every region registers itself so that a child
forked at any moment gets fresh locks for what it inherited (a lock held by a parent
thread at the fork would otherwise never be released in the child). And every mmap
object made for a file is remembered by the file's identity, so the library can
refuse to truncate a file whose pages this process still maps: touching a mapped
page past the end of its file raises SIGBUS, which kills the process.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from typing import Protocol

from ._errors import MmapIoError, combined


class ForkAware(Protocol):
    def _after_fork(self) -> None:
        """Called in a forked child (its only thread) for each live object."""


class Helper(Protocol):
    """Something that works for a mapping and must stop when it closes: the flush
    timer, a watch, the async layer's pager and committer threads."""

    def stop(self) -> None:
        """Stop; called by close, from any thread, with no lock held. It may wait only
        for a thread that runs no user code (a watch callback may wait for anything)."""

    def resized(self) -> None:
        """The mapping itself just resized the file (state lock held)."""


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def track(obj: ForkAware) -> None:
    """Have `obj._after_fork()` run in every child forked while it lives."""
    _live.add(obj)


FileId = tuple[int, int]  # (st_dev, st_ino)
_mapped: dict[FileId, list[weakref.ref[mmap.mmap]]] = {}
# Held while a mapping is made and while a file is checked and truncated, so that
# no mapping of a file can appear between the check and the truncation.
files_lock = threading.Lock()


def file_id(fileno: int) -> FileId:
    stat = os.fstat(fileno)
    return stat.st_dev, stat.st_ino


def note_mapped(fileno: int, mm: mmap.mmap) -> None:
    """Remember that `mm` maps the file open as `fileno` (files_lock held)."""
    refs = _mapped.setdefault(file_id(fileno), [])
    refs[:] = [ref for ref in refs if _maps(ref)]
    refs.append(weakref.ref(mm))


def refuse_if_mapped(fileno: int, action: str) -> None:
    """Raise if this process maps any page of the file open as `fileno` (files_lock held).

    A closed mapping whose memory user views still hold counts: its pages are still
    mapped, and cutting the file under them would crash the process.
    """
    refs = _mapped.get(file_id(fileno), [])
    if any(_maps(ref) for ref in refs):
        raise combined(MmapIoError, BufferError)(
            f"{action}: this process maps the file, and cutting it would crash the process "
            "at the next touch of a cut page; close its mappings and release their views first"
        )


def maps_past(fileno: int, size: int, own: mmap.mmap) -> bool:
    """Whether a mapping of this process other than `own` reaches past `size` bytes of
    the file open as `fileno` (files_lock held): cutting the file there would crash it."""
    for ref in _mapped.get(file_id(fileno), []):
        mm = ref()
        if mm is not None and mm is not own and not mm.closed and len(mm) > size:
            return True
    return False


def _maps(ref: weakref.ref[mmap.mmap]) -> bool:
    mm = ref()
    return mm is not None and not mm.closed


def _after_fork_in_child() -> None:
    global files_lock
    files_lock = threading.Lock()
    for obj in list(_live):
        obj._after_fork()


if hasattr(os, "register_at_fork"):  # Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
