"""Linux: stdlib mmap plus libc msync, madvise, mincore, posix_fadvise and fallocate."""

from __future__ import annotations

import array
import errno
import functools
import mmap
import os
import sys
import threading
from typing import Any

from .._enums import MmapMode
from . import _posix
from ._common import MAX_MAP_SIZE as MAX_MAP_SIZE
from ._common import map_file as map_file

assert sys.platform.startswith("linux")

PLATFORM = "linux"

# <asm-generic/mman-common.h> and msync(2).
_MS_SYNC = 4
_MADV_POPULATE_READ = 22  # Linux 5.14+; older kernels answer EINVAL.
_MADV_WILLNEED = 3
_MADV_HUGEPAGE = 14
_IOV_MAX = 1024  # most iovecs process_madvise takes in one call
_MAP_HUGETLB = 0x40000
_PAGE = mmap.PAGESIZE

# /proc/self/smaps fields that count memory mapped through huge pages: transparent ones
# (anonymous, shmem/tmpfs, page-cache files) and hugetlbfs ones (proc(5)).
_HUGE_FIELDS = frozenset(
    (b"AnonHugePages:", b"ShmemPmdMapped:", b"FilePmdMapped:", b"Shared_Hugetlb:",
     b"Private_Hugetlb:")
)  # fmt: skip


def map_anonymous(length: int, huge_pages: bool = False) -> mmap.mmap:
    """Map zeroed memory; with `huge_pages`, memory that huge pages can back.

    Transparent huge pages back private anonymous memory; shared anonymous memory is
    shmem, which gets them only when /sys/kernel/mm/transparent_hugepage/shmem_enabled
    allows it (commonly "never"). So a huge-page request maps private memory: a child
    forked later gets a copy-on-write copy instead of sharing it. Explicit hugetlbfs
    pages are tried first when the administrator reserved some and `length` is a whole
    number of them (munmap of a partial huge page fails, and the stdlib ignores that).
    """
    if not huge_pages:
        return mmap.mmap(-1, length)
    size = _huge_page_size()
    if size and length % size == 0 and _read_int("/proc/sys/vm/nr_hugepages") > 0:
        try:
            return mmap.mmap(-1, length, flags=mmap.MAP_PRIVATE | _MAP_HUGETLB)
        except OSError:
            pass  # reserved pool too small or taken: transparent huge pages instead
    return mmap.mmap(-1, length, flags=mmap.MAP_PRIVATE)


def advise_hugepages(address: int, length: int) -> None:
    """Ask for transparent huge pages on a range (madvise MADV_HUGEPAGE)."""
    _posix.madvise(address, length, _MADV_HUGEPAGE)


def hugepage_backed(address: int, length: int) -> bool | None:
    """Whether any huge page backs [address, address + length), from /proc/self/smaps.

    None when no memory area of this process overlaps the range. The kernel reports
    per area, and may merge neighbouring anonymous areas into one.
    """
    end = address + length
    found = inside = False
    with open("/proc/self/smaps", "rb") as smaps:
        for line in smaps:
            head = line.split(None, 1)[0]
            if not head.endswith(b":"):  # an area's header: "start-end perms ..."
                start, stop = (int(x, 16) for x in head.split(b"-"))
                inside = start < end and address < stop
                found = found or inside
            elif inside and head in _HUGE_FIELDS and int(line.split()[1]) > 0:
                return True
    return False if found else None


def _huge_page_size() -> int:
    """The default hugetlbfs page size in bytes (0 when unknown)."""
    try:
        with open("/proc/meminfo", "rb") as meminfo:
            for line in meminfo:
                if line.startswith(b"Hugepagesize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _read_int(path: str) -> int:
    try:
        with open(path, "rb") as file:
            return int(file.read())
    except (OSError, ValueError):
        return 0


# fallocate(2) with a 64-bit off_t whatever the build: fallocate64 where glibc has it
# (fallocate takes a 32-bit off_t on 32-bit builds); musl's fallocate is 64-bit already.
# ctypes releases the GIL around the call: allocation may take long (tmpfs clears every
# page it reserves), and other threads keep running meanwhile.
@functools.cache
def _fallocate() -> Any:
    from ctypes import c_int, c_int64

    libc = _posix.libc()
    call = getattr(libc, "fallocate64", None) or libc.fallocate
    return _posix.declare(call, c_int, c_int, c_int, c_int64, c_int64)


# fallocate(2): the file system has no such operation (EOPNOTSUPP: some FUSE and network
# file systems, for instance), or the kernel has none (ENOSYS, or a seccomp filter that
# answers so). The caller then extends the file with holes instead.
_CANNOT_ALLOCATE = frozenset((errno.EOPNOTSUPP, errno.ENOSYS))


def allocate(fileno: int, offset: int, length: int) -> bool:
    """Reserve disk blocks for [offset, offset + length) of an open file (fallocate(2), mode 0).

    The file grows to cover the range when it is shorter; bytes already there are
    kept, and the new ones read as zeros. Once this returns True, writing those pages
    through a mapping cannot fail for want of space (no SIGBUS on a full disk).

    Returns:
        True when the blocks are reserved, False when the file system cannot allocate
        (EOPNOTSUPP): nothing was done and the caller falls back to holes (ftruncate).

    Raises:
        OSError: ENOSPC (disk full), EDQUOT (quota), EFBIG (past the largest file the
            file system holds) and the like. Part of the range may then be allocated and
            the size partly extended (ext4 allocates in steps): the caller puts it back.
    """
    if length <= 0:
        return True
    call = _fallocate()
    while call(fileno, 0, offset, length) != 0:
        import ctypes

        code = ctypes.get_errno()
        if code in _CANNOT_ALLOCATE:
            return False
        if code != errno.EINTR:  # a signal arrived mid-call: allocating again is harmless
            raise OSError(code, os.strerror(code))
    return True


def resize(mm: mmap.mmap, fileno: int, new_size: int, mode: MmapMode) -> mmap.mmap:
    """Resize file and mapping in place with ftruncate + mremap (the stdlib's resize).

    The stdlib refuses with BufferError before touching the file while views exist.
    """
    mm.resize(new_size)
    return mm


def sync_range(mm: mmap.mmap, fileno: int, address: int, offset: int, length: int) -> None:
    """Write dirty pages of a page-aligned range back and wait for the disk (msync MS_SYNC)."""
    _posix.msync(address + offset, length, _MS_SYNC)


def sync_file(fileno: int) -> None:
    """Make data and metadata (size included) durable: fsync(2)."""
    os.fsync(fileno)


sync_directory = _posix.fsync_directory
lock_pages = _posix.lock_pages
unlock_pages = _posix.unlock_pages
advise = _posix.advise


def populate_read(address: int, length: int) -> bool:
    """Fault a range in with one syscall; False when the kernel predates MADV_POPULATE_READ."""
    try:
        _posix.madvise(address, length, _MADV_POPULATE_READ)
    except OSError as error:
        if error.errno == errno.EINVAL:
            return False
        raise
    return True


# process_madvise(2) applies one advice to many ranges in one call (glibc 2.36+).
@functools.cache
def _process_madvise() -> Any:
    """process_madvise(2), or None where glibc lacks it."""
    from ctypes import c_int, c_size_t, c_ssize_t, c_uint, c_void_p

    call = getattr(_posix.libc(), "process_madvise", None)
    if call is None:
        return None
    # (pidfd, struct iovec[] as (base, length) pairs of words, count, advice, flags)
    return _posix.declare(call, c_ssize_t, c_int, c_void_p, c_size_t, c_int, c_uint)


# Advice process_madvise refused once (kernel too old, or not allowed): not asked again.
_refused: set[int] = set()


def will_need_many(address: int, spans: list[tuple[int, int]]) -> bool:
    """Start reading many page-aligned spans in, in one syscall, without waiting.

    Each span is (offset, length) from `address`. False when the kernel cannot do it
    in one call (process_madvise needs Linux 5.10); the caller then goes span by span.
    """
    return _advise_many(address, spans, _MADV_WILLNEED)


def populate_many(address: int, spans: list[tuple[int, int]]) -> bool:
    """Fault many page-aligned spans in, in one syscall; returns once all are resident.

    False, with part of the work perhaps done, when the kernel cannot: it accepts
    MADV_POPULATE_READ through process_madvise on the caller itself since Linux 6.13.
    """
    return _advise_many(address, spans, _MADV_POPULATE_READ)


def _advise_many(address: int, spans: list[tuple[int, int]], advice: int) -> bool:
    if advice in _refused:
        return False
    call = _process_madvise()
    if call is None:
        return False
    try:
        pidfd = _own_pidfd()
    except OSError as error:
        if error.errno in (errno.ENOSYS, errno.EPERM):  # not short of descriptors: refused
            _refused.add(advice)
        return False
    # A flat array of (base, length) words, unsigned long being pointer-sized on
    # Linux: several times cheaper to build than ctypes structures, which matters
    # because this runs with the GIL held while the event loop waits for it.
    vector = array.array("L", [word for off, n in spans for word in (address + off, n)])
    pointer = vector.buffer_info()[0]
    for first in range(0, len(spans), _IOV_MAX):
        count = min(_IOV_MAX, len(spans) - first)
        # Safety: the caller holds the mapping's state lock and has checked that every
        # span lies inside it; these two advices read pages in and never change data.
        done = call(pidfd, pointer + 2 * vector.itemsize * first, count, advice, 0)
        if done != sum(vector[2 * first + 1 : 2 * (first + count) : 2]):
            import ctypes

            if done < 0 and ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EPERM):
                _refused.add(advice)
            return False
    return True


_pidfd = (0, -1)  # (pid, descriptor of that process): kept, since batches are hot
_pidfd_lock = threading.Lock()


def _own_pidfd() -> int:
    """A pidfd of this process, opened once per process (a forked child opens its own).

    pidfds are close-on-exec, and the one kept stays open for the process's life.
    """
    global _pidfd
    pid = os.getpid()
    if _pidfd[0] != pid:
        with _pidfd_lock:
            if _pidfd[0] != pid:
                _pidfd = (pid, os.pidfd_open(pid))
    return _pidfd[1]


def prefetch_file(fileno: int, offset: int, length: int) -> None:
    """Start reading a file range into the page cache (posix_fadvise WILLNEED)."""
    os.posix_fadvise(fileno, offset, length, os.POSIX_FADV_WILLNEED)


def evict_file(fileno: int, offset: int, length: int) -> None:
    """Drop clean cached pages of a file range (posix_fadvise DONTNEED)."""
    os.posix_fadvise(fileno, offset, length, os.POSIX_FADV_DONTNEED)


def resident_pages(address: int, length: int) -> bytes | None:
    """mincore(2): one byte per page, bit 0 set when the page is in memory."""
    return _posix.mincore(address, length, _PAGE)


def mincore_honest(fileno: int) -> bool:
    """Whether mincore tells this process the truth about the file's pages.

    Since Linux 5.2, mincore reports every page of a file mapping resident unless the
    caller owns the file or may write it (root may do both), so that the page cache
    cannot be used as a side channel; see mincore(2).
    """
    euid = os.geteuid()
    if euid == 0 or os.fstat(fileno).st_uid == euid:
        return True
    return os.access(f"/proc/self/fd/{fileno}", os.W_OK, effective_ids=True)


# A byte per page from /proc/self/pagemap's 64-bit entries: the entry's top byte (the
# last, little-endian) holds bit 63, "present in this process's page tables".
_PRESENT = bytes(1 if b & 0x80 else 0 for b in range(256))
_pagemap = (0, -1)  # (pid, descriptor of /proc/<pid>/pagemap), like _pidfd
_pagemap_lock = threading.Lock()


def mapped_pages(address: int, length: int) -> bytes | None:
    """One byte per page of the range; bit 0 set where the page is mapped in this
    process's page tables, so touching it cannot fault (proc(5), /proc/pid/pagemap).

    Unlike mincore, it answers truly for any file, whoever owns it (an unprivileged
    reader gets the present bit, only not the frame numbers), and unlike a NOWAIT read
    it never starts reading anything. A page the page cache holds but this process has
    not mapped yet reads as absent.
    """
    first = address // _PAGE
    count = (address + length - 1) // _PAGE + 1 - first
    entries = os.pread(_own_pagemap(), 8 * count, 8 * first)
    return entries[7::8].translate(_PRESENT)


def _own_pagemap() -> int:
    """This process's pagemap, opened once per process (a forked child opens its own)."""
    global _pagemap
    pid = os.getpid()
    if _pagemap[0] != pid:
        with _pagemap_lock:
            if _pagemap[0] != pid:
                _pagemap = (pid, os.open(f"/proc/{pid}/pagemap", os.O_RDONLY | os.O_CLOEXEC))
    return _pagemap[1]
