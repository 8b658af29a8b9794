"""The Linux syscalls behind residency, population, eviction, msync, mlock and huge pages."""

from __future__ import annotations

import errno
import mmap
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import mounted, smaps_field, write_cold
from mmap_io import MemoryMappedFile, MmapAdvice
from mmap_io._core import _os, _paging
from mmap_io._core._address import buffer_address

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
if sys.platform.startswith("linux"):
    from mmap_io._core._os import _linux
PAGE = mmap.PAGESIZE
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
THP_MADVISE = THP.exists() and "[never]" not in THP.read_text()


def _resident(mm: MemoryMappedFile, offset: int, length: int) -> bytes:
    vector = _os.resident_pages(mm.address + offset, length)
    assert vector is not None
    return bytes(b & 1 for b in vector)


def test_eviction_makes_pages_cold_and_populate_makes_them_resident(path: Path) -> None:
    write_cold(path, b"\x05" * (64 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        assert _resident(mm, 0, 64 * PAGE) == bytes(64)
        assert _os.populate_read(mm.address, 64 * PAGE)
        assert _resident(mm, 0, 64 * PAGE) == b"\x01" * 64
        assert mm.read_bytes(0, 64 * PAGE) == b"\x05" * (64 * PAGE)


def _kernel_at_least(major: int, minor: int) -> bool:
    release = os.uname().release.split(".")
    return (int(release[0]), int(release[1].split("-")[0])) >= (major, minor)


def test_batch_advice_reads_exactly_the_spans_in(path: Path) -> None:
    write_cold(path, bytes(range(256)) * (64 * PAGE // 256))
    spans = [(3 * PAGE, PAGE), (10 * PAGE, 2 * PAGE), (40 * PAGE, PAGE)]
    wanted = bytes(1 if p in (3, 10, 11, 40) else 0 for p in range(64))
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)  # no read-around beyond the spans
        assert _resident(mm, 0, 64 * PAGE) == bytes(64)
        started = _os.will_need_many(mm.address, spans)
        assert started is _kernel_at_least(5, 10)
        populated = _os.populate_many(mm.address, spans)
        assert populated is _kernel_at_least(6, 13)
        if populated:  # the spans, and only they, are mapped in
            assert _resident(mm, 0, 64 * PAGE) == wanted
        assert _os.populate_many(mm.address, []) is populated
        assert mm.read_bytes(10 * PAGE, 2 * PAGE) == bytes(range(256)) * (2 * PAGE // 256)


def test_page_in_batches_work_with_or_without_the_batch_syscalls(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cold(path, os.urandom(64 * PAGE))
    ranges = [(5 * PAGE + 7, 100), (20 * PAGE - 3, 10), (63 * PAGE, PAGE), (70 * PAGE, 1)]
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        _paging.page_in(mm, ranges)  # the last range is past the end: skipped
        assert _resident(mm, 0, 64 * PAGE) == bytes(
            1 if p in (5, 19, 20, 63) else 0 for p in range(64)
        )
    write_cold(path, os.urandom(64 * PAGE))
    refused = {_linux._MADV_WILLNEED, _linux._MADV_POPULATE_READ}
    monkeypatch.setattr(_linux, "_refused", refused)  # as on a kernel without them
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        _paging.page_in(mm, ranges)
        assert _resident(mm, 0, 64 * PAGE) == bytes(
            1 if p in (5, 19, 20, 63) else 0 for p in range(64)
        )


def test_touch_pages_range_faults_exactly_that_range_under_random_advice(path: Path) -> None:
    write_cold(path, b"\x06" * (1024 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)  # no read-around on faults
        mm.touch_pages_range(600 * PAGE + 1, PAGE)  # spans pages 600 and 601
        resident = _resident(mm, 0, 1024 * PAGE)
        assert [i for i, bit in enumerate(resident) if bit] == [600, 601]


def test_prefetch_reads_the_file_into_the_page_cache(path: Path) -> None:
    write_cold(path, b"\x07" * (16 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        assert _resident(mm, 0, 16 * PAGE) == bytes(16)
        mm.prefetch_range(0, 16 * PAGE)
        # mincore on a file mapping reports the page cache; readahead is asynchronous.
        deadline = time.monotonic() + 5
        while _resident(mm, 0, 16 * PAGE) != b"\x01" * 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _resident(mm, 0, 16 * PAGE) == b"\x01" * 16


def test_msync_errors_become_os_errors() -> None:
    with pytest.raises(OSError):
        _os.sync_range(None, -1, 1, 0, PAGE)  # type: ignore[arg-type]  # unaligned address


def _locked_kib(address: int) -> int:
    return smaps_field(address, "Locked")


def test_lock_pages_pins_exactly_the_range_until_unlocked() -> None:
    mm = mmap.mmap(-1, 8 * PAGE)
    address = buffer_address(mm)
    try:
        _os.lock_pages(address + 2 * PAGE, 3 * PAGE)
        assert _locked_kib(address + 2 * PAGE) == 3 * PAGE // 1024
        assert _locked_kib(address) == 0  # mlock split the area: the head stays unlocked
        _os.unlock_pages(address + 2 * PAGE, 3 * PAGE)
        assert _locked_kib(address + 2 * PAGE) == 0
    finally:
        mm.close()


def test_lock_errors_are_os_errors() -> None:
    with pytest.raises(OSError) as info:
        _os.lock_pages(PAGE, PAGE)  # page 1 is never mapped
    assert info.value.errno == errno.ENOMEM


def test_hugepage_backed_is_unknown_for_memory_the_process_has_not_mapped() -> None:
    assert _os.hugepage_backed(PAGE, PAGE) is None  # page 1 is never mapped


def test_a_small_anonymous_map_is_not_hugepage_backed() -> None:
    mm = mmap.mmap(-1, 2 * PAGE)
    mm[0] = 1
    assert _os.hugepage_backed(buffer_address(mm), 2 * PAGE) is False
    mm.close()


@pytest.mark.skipif(not THP_MADVISE, reason="transparent huge pages are off")
def test_huge_anonymous_memory_is_private_and_gets_transparent_huge_pages() -> None:
    size = 16 << 20
    mm = _os.map_anonymous(size, huge_pages=True)
    address = buffer_address(mm)
    assert _os.hugepage_backed(address, size) is False  # nothing touched yet
    _os.advise_hugepages(address, size)
    mm[:] = b"\x01" * size
    assert _os.hugepage_backed(address, size) is True
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        mm[0] = 2
        os._exit(0)
    os.waitpid(pid, 0)
    assert mm[0] == 1  # private: the child wrote to its own copy
    mm.close()


def test_a_hugetlb_request_the_pool_cannot_serve_falls_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_linux, "_read_int", lambda path: 1)  # claim one reserved page
    size = 4 * _linux._huge_page_size()  # more than that one page: MAP_HUGETLB fails
    mm = _os.map_anonymous(size, huge_pages=True)
    mm[size - 1] = 7
    assert len(mm) == size and mm[size - 1] == 7
    mm.close()


def test_allocate_reserves_blocks_grows_the_file_and_keeps_its_bytes(small_fs: Path) -> None:
    path = small_fs / "data.bin"
    path.write_bytes(b"head")
    with open(path, "r+b") as file:
        assert _os.allocate(file.fileno(), 0, 256 * 1024) is True
        assert _os.allocate(file.fileno(), 4096, 0) is True  # nothing to do
    info = os.stat(path)
    assert info.st_size == 256 * 1024 and info.st_blocks * 512 == 256 * 1024
    assert path.read_bytes() == b"head" + bytes(256 * 1024 - 4)


def test_allocate_past_the_free_space_raises_the_os_error(small_fs: Path) -> None:
    path = small_fs / "data.bin"
    with open(path, "wb") as file:
        with pytest.raises(OSError) as info:
            _os.allocate(file.fileno(), 0, 2 << 20)  # a 1 MiB tmpfs
        assert info.value.errno == errno.ENOSPC and type(info.value) is OSError


def test_allocate_says_false_where_the_file_system_cannot(tmp_path: Path) -> None:
    with mounted(tmp_path / "ramfs", "ramfs") as where, open(where / "f", "wb") as file:
        assert _os.allocate(file.fileno(), 0, 4096) is False
        assert os.fstat(file.fileno()).st_size == 0  # and nothing was done


def test_mapped_pages_reads_the_present_bit_of_this_process(path: Path) -> None:
    """The probe for files mincore would lie about: true, and starts no read."""
    write_cold(path, os.urandom(16 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        assert _os.mapped_pages(mm.address, 16 * PAGE) == bytes(16)
        mm.read_bytes(3 * PAGE, 1)
        mm.touch_pages_range(9 * PAGE, 2 * PAGE)
        present = _os.mapped_pages(mm.address, 16 * PAGE)
        assert [i for i, bit in enumerate(present or b"") if bit] == [3, 9, 10]
        assert _resident(mm, 0, 16 * PAGE) == present  # nothing else was read in
