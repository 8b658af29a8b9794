"""AnonymousMmap: mapped memory with no file behind it."""

from __future__ import annotations

from typing import final

from . import _os
from ._args import check_size
from ._errors import map_error, type_error
from ._region import Region


@final
class AnonymousMmap(Region):
    """Zero-filled memory mapped without a file: scratch space shared by threads, and by
    child processes forked after it was made.

    It reads, writes and hands out views (atomic ones included) like
    `MemoryMappedFile`, but has no path, no file descriptor, no flush and no resize.

    Args:
        size: Bytes to map, at least 1.
        huge_pages: Ask for huge pages (a hint that never fails). On Linux the memory
            is then private to this process, because transparent huge pages only back
            private anonymous memory: a child forked later gets a copy-on-write copy
            instead of sharing it. `is_hugepage_backed()` tells what the kernel did.

    Raises:
        ResizeFailedError: `size` is zero, negative or more than the machine can map
            (also the OSError, ENOMEM).
        TypeError: `size` is not an int.

    Example:
        >>> with AnonymousMmap(4096) as scratch:
        ...     scratch.update_region(0, b"hello")
        ...     scratch.read_bytes(0, 5)
        b'hello'
    """

    __slots__ = ()
    _COUNTS_WRITES = False  # nothing is ever flushed, so atomic writes are not tracked

    def __init__(self, size: int, *, huge_pages: bool = False) -> None:
        n = check_size(size, _os.MAX_MAP_SIZE)
        if not isinstance(huge_pages, bool):
            raise type_error(f"huge_pages must be a bool, not {type(huge_pages).__name__}")
        try:
            mm = _os.map_anonymous(n, huge_pages)
        except OSError as error:  # ENOMEM: no room in the address space or overcommit limit
            raise map_error(error) from None
        super().__init__(mm)
        if huge_pages:
            self._advise_huge_pages()

    def __repr__(self) -> str:
        mm = self._mm  # read once: a close meanwhile swaps in a closed stand-in
        state = "closed" if self._closed or mm.closed else f"{len(mm)} bytes"
        return f"<AnonymousMmap {state}>"


AnonymousMmap.__module__ = "mmap_io"
