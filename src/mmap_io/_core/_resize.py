"""Resizing a file mapping: growth beside live views, and shrinks that never cut under one.

Growing never needs the views to go: where the old memory is free, the mapping grows
in place (mremap); where views hold it, the grown file is mapped anew and the old
memory is left to those views, which keep showing the same bytes (one page cache).
A shrink would cut the file under any view of it, so it waits for the views:
the library's own pins always end, and are waited for; views a user holds get
SHRINK_PATIENCE seconds, during which no new view can be made (writer preference),
and if they are still alive then, the shrink is refused and nothing changes. Another
mapping of the same file in this process (or views outliving one) reaching past the
new size refuses the shrink at once: nothing this mapping does would make it go.
"""

from __future__ import annotations

import mmap
import os
import time

from . import _lifetime, _memory, _os
from ._args import check_size
from ._enums import MmapMode
from ._errors import InvalidModeError, ResizeFailedError, busy_error, combined, os_error
from ._mapping import Mapping

# How long a shrink waits for user views to be released before it is refused.
SHRINK_PATIENCE = 0.25
_POLL = 0.0005  # between attempts while views drain


def resize_now(mapping: Mapping, new_size: object) -> None:
    """Grow or shrink the file and the mapping to `new_size` bytes (see the module doc)."""
    with mapping._state:
        mapping._check_open()
        if mapping._mode is not MmapMode.READ_WRITE:
            raise InvalidModeError(f"cannot resize a {mapping._mode.value} mapping")
        n = check_size(new_size, _os.MAX_MAP_SIZE, "new_size")
        mapping._settle_views()
        old = len(mapping._mm)
        if n >= old:
            _grow(mapping, old, n)
        else:
            _shrink(mapping, old, n)
        mapping._hints.forget()
        for helper in tuple(mapping._helpers.values()):
            helper.resized()
        if mapping._huge_pages:
            mapping._advise_huge_pages()


def _grow(mapping: Mapping, old: int, n: int) -> None:
    """Reserve the new blocks (unless sparse), then grow in place or map anew beside views.

    A full disk or quota fails the reservation, before anything changed but the file's
    size, which is put back.
    """
    fileno = mapping._fileno
    try:
        if not mapping._sparse:
            _os.allocate(fileno, old, n - old)  # False: the file system cannot; holes
        os.ftruncate(fileno, n)
    except OSError as error:
        _put_back(fileno, old)
        raise os_error(ResizeFailedError, error, mapping._path) from None
    mapping._detach()
    try:
        mm = _os.resize(mapping._mm, fileno, n, mapping._mode)
    except BufferError:  # views hold the old memory: map the grown file beside it
        try:
            with _lifetime.files_lock:
                mm = _os.map_file(fileno, n, mapping._mode)
                _lifetime.note_mapped(fileno, mm)
        except OSError as error:
            _restore(mapping, old)
            raise os_error(ResizeFailedError, error, mapping._path) from None
        _memory.retire(mapping)
    except OSError as error:
        _restore(mapping, old)
        raise os_error(ResizeFailedError, error, mapping._path) from None
    _attach(mapping, mm)


def _shrink(mapping: Mapping, old: int, n: int) -> None:
    """Cut the mapping once nothing points past `n` any more (state lock held)."""
    mapping._resizing = True  # no new pin from here on
    try:
        while mapping._pins:
            mapping._unpinned.wait()
        mapping._detach()  # no new view either: their slow paths wait for the lock
        deadline = time.monotonic() + SHRINK_PATIENCE
        while True:
            if not _memory.retired_alive(mapping):
                try:
                    cut = _cut(mapping, n)
                except BufferError:
                    pass
                except OSError as error:
                    _restore(mapping, old)
                    raise os_error(ResizeFailedError, error, mapping._path) from None
                else:
                    if cut is None:
                        mapping._attach(mapping._mm)
                        raise combined(ResizeFailedError, BufferError)(
                            "cannot shrink the file: another mapping of it in this process "
                            "(or a view outliving one) reaches past the new size; close it "
                            "and release its views first"
                        )
                    mm = cut
                    break
            if time.monotonic() >= deadline:
                mapping._attach(mapping._mm)
                raise busy_error(ResizeFailedError, "shrink the mapping")
            time.sleep(_POLL)  # the lock stays held: nobody can cut a new view meanwhile
    finally:
        mapping._resizing = False
        mapping._unpinned.notify_all()
    _attach(mapping, mm)


def _cut(mapping: Mapping, n: int) -> mmap.mmap | None:
    """Shrink file and mapping in place, or None if another mapping of this process
    reaches past `n`: its next touch of a cut page would be a SIGBUS. Checked and cut
    under files_lock, so no new mapping of the file appears in between."""
    with _lifetime.files_lock:
        if _lifetime.maps_past(mapping._fileno, n, mapping._mm):
            return None
        return _os.resize(mapping._mm, mapping._fileno, n, mapping._mode)


def _attach(mapping: Mapping, mm: mmap.mmap) -> None:
    if mm is not mapping._mm:
        with _lifetime.files_lock:
            _lifetime.note_mapped(mapping._fileno, mm)
    mapping._attach(mm)


def _put_back(fileno: int, size: int) -> None:
    """Restore a file's size after a failed growth (fallocate may have grown it partly)."""
    if os.fstat(fileno).st_size != size:
        os.ftruncate(fileno, size)


def _restore(mapping: Mapping, old: int) -> None:
    """Put file and mapping back to the old size, so that no page lies past the end of
    the file; the mapping is usable again afterwards."""
    mm = mapping._mm
    if not mm.closed:
        os.ftruncate(mapping._fileno, old)
        mapping._attach(mm)
        return
    size = os.fstat(mapping._fileno).st_size  # the remap path closed it already
    _attach(mapping, _os.map_file(mapping._fileno, size, mapping._mode))
