"""libc calls shared by Linux and macOS, declared through ctypes on first use.

ctypes releases the GIL around each foreign call, which is why msync and madvise go
through here rather than through the stdlib mmap methods (those hold the GIL, so a
slow msync in a worker thread would still stall the event loop). mincore, which never
waits for the disk, is the one call made with the GIL held. ctypes is imported when
the first call is made, not with mmap_io: it costs a few milliseconds to load.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from .._enums import MmapAdvice

if TYPE_CHECKING:
    import ctypes

assert sys.platform != "win32"

# madvise(2) values shared by Linux and the BSDs (macOS included).
ADVICE = {
    MmapAdvice.NORMAL: 0,
    MmapAdvice.RANDOM: 1,
    MmapAdvice.SEQUENTIAL: 2,
    MmapAdvice.WILL_NEED: 3,
    MmapAdvice.DONT_NEED: 4,
}


@functools.cache
def libc() -> ctypes.CDLL:
    """The C library, by dlopen(NULL): it is already loaded into the interpreter, so there
    is no need for ctypes.util.find_library, which runs a subprocess (ldconfig)."""
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def declare(function: Any, restype: Any, *argtypes: Any) -> Any:
    """Give a foreign function its prototype, and return it."""
    function.argtypes = argtypes
    function.restype = restype
    return function


class _Calls:
    """The prototypes of the calls below, made once, on first use."""

    def __init__(self) -> None:
        import ctypes
        from ctypes import c_char_p, c_int, c_size_t, c_void_p

        self.msync = declare(libc().msync, c_int, c_void_p, c_size_t, c_int)
        self.madvise = declare(libc().madvise, c_int, c_void_p, c_size_t, c_int)
        # mincore reads page-table and page-cache state: it never waits for the disk and
        # takes a microsecond or two. Called with the GIL held (PyDLL), it spares the
        # event loop, which asks it before async reads, a GIL round trip with the pager.
        pydll = ctypes.PyDLL(None, use_errno=True)
        self.mincore = declare(pydll.mincore, c_int, c_void_p, c_size_t, c_char_p)
        self.mlock = declare(libc().mlock, c_int, c_void_p, c_size_t)
        self.munlock = declare(libc().munlock, c_int, c_void_p, c_size_t)
        self.buffer = ctypes.create_string_buffer


@functools.cache
def _calls() -> _Calls:
    return _Calls()


def _check(result: int, what: str) -> None:
    if result != 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def msync(address: int, length: int, flags: int) -> None:
    # Safety: the core passes a page-aligned range inside a live mapping and holds the
    # mapping's state lock, so the range cannot be unmapped during the call.
    _check(_calls().msync(address, length, flags), "msync")


def advise(address: int, length: int, advice: MmapAdvice) -> None:
    """madvise with the library's advice names (the values are the same on Linux and BSD)."""
    madvise(address, length, ADVICE[advice])


def madvise(address: int, length: int, advice: int) -> None:
    # Safety: as for msync; advice never changes the mapping's contents except
    # MADV_DONTNEED on private maps, which the docs call out.
    _check(_calls().madvise(address, length, advice), "madvise")


_vectors = threading.local()  # a reused result vector per thread: small queries are hot


def mincore(address: int, length: int, page_size: int) -> bytes:
    """One byte per page of the range; bit 0 set where the page is resident."""
    pages = (length + page_size - 1) // page_size
    calls = _calls()
    if pages <= 64:
        vector = getattr(_vectors, "small", None)
        if vector is None:
            vector = _vectors.small = calls.buffer(64)
    else:
        vector = calls.buffer(pages)
    _check(calls.mincore(address, length, vector), "mincore")
    return vector.raw[:pages]


def lock_pages(address: int, length: int) -> None:
    """mlock(2): fault the range in and keep it in RAM (never swapped out)."""
    # Safety: as for msync. mlock only pins pages; it never reads or writes them from
    # here, and the lock ends with the mapping (munmap unlocks).
    _check(_calls().mlock(address, length), "mlock")


def unlock_pages(address: int, length: int) -> None:
    """munlock(2): let the range be swapped out again."""
    _check(_calls().munlock(address, length), "munlock")


def fsync_directory(path: str | bytes) -> None:
    """fsync a directory so a new entry in it survives a power loss (fsync(2))."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
