"""libc calls shared by Linux and macOS, declared once through ctypes.

ctypes releases the GIL around each foreign call, which is why msync and madvise go
through here rather than through the stdlib mmap methods (those hold the GIL, so a
slow msync in a worker thread would still stall the event loop). mincore, which never
waits for the disk, is the one call made with the GIL held.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

from .._enums import MmapAdvice

assert sys.platform != "win32"

# madvise(2) values shared by Linux and the BSDs (macOS included).
ADVICE = {
    MmapAdvice.NORMAL: 0,
    MmapAdvice.RANDOM: 1,
    MmapAdvice.SEQUENTIAL: 2,
    MmapAdvice.WILL_NEED: 3,
    MmapAdvice.DONT_NEED: 4,
}

# dlopen(NULL): the C library is already loaded into the interpreter, so there is no
# need for ctypes.util.find_library, which runs a subprocess (ldconfig) on Linux.
libc = ctypes.CDLL(None, use_errno=True)

_msync = libc.msync
_msync.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_msync.restype = ctypes.c_int

_madvise = libc.madvise
_madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_madvise.restype = ctypes.c_int

# mincore reads page-table and page-cache state: it never waits for the disk and takes
# a microsecond or two. Called with the GIL held (PyDLL), it spares the event loop,
# which asks it before async reads, a GIL round trip with the pager thread each time.
_mincore = ctypes.PyDLL(None, use_errno=True).mincore
_mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
_mincore.restype = ctypes.c_int

_mlock = libc.mlock
_mlock.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_mlock.restype = ctypes.c_int

_munlock = libc.munlock
_munlock.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_munlock.restype = ctypes.c_int


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def msync(address: int, length: int, flags: int) -> None:
    # Safety: the core passes a page-aligned range inside a live mapping and holds the
    # mapping's state lock, so the range cannot be unmapped during the call.
    _check(_msync(address, length, flags), "msync")


def advise(address: int, length: int, advice: MmapAdvice) -> None:
    """madvise with the library's advice names (the values are the same on Linux and BSD)."""
    madvise(address, length, ADVICE[advice])


def madvise(address: int, length: int, advice: int) -> None:
    # Safety: as for msync; advice never changes the mapping's contents except
    # MADV_DONTNEED on private maps, which the docs call out.
    _check(_madvise(address, length, advice), "madvise")


_vectors = threading.local()  # a reused result vector per thread: small queries are hot


def mincore(address: int, length: int, page_size: int) -> bytes:
    """One byte per page of the range; bit 0 set where the page is resident."""
    pages = (length + page_size - 1) // page_size
    if pages <= 64:
        vector = getattr(_vectors, "small", None)
        if vector is None:
            vector = _vectors.small = ctypes.create_string_buffer(64)
    else:
        vector = ctypes.create_string_buffer(pages)
    _check(_mincore(address, length, vector), "mincore")
    return vector.raw[:pages]


def lock_pages(address: int, length: int) -> None:
    """mlock(2): fault the range in and keep it in RAM (never swapped out)."""
    # Safety: as for msync. mlock only pins pages; it never reads or writes them from
    # here, and the lock ends with the mapping (munmap unlocks).
    _check(_mlock(address, length), "mlock")


def unlock_pages(address: int, length: int) -> None:
    """munlock(2): let the range be swapped out again."""
    _check(_munlock(address, length), "munlock")


def fsync_directory(path: str | bytes) -> None:
    """fsync a directory so a new entry in it survives a power loss (fsync(2))."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
