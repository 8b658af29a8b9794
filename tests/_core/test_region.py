"""Reads, writes and views: the hot paths, their contracts, and what views do to close/resize."""

from __future__ import annotations

import array
import threading
from pathlib import Path

import pytest

import mmap_io
from conftest import mapped_areas
from mmap_io import InvalidModeError, MemoryMappedFile, MmapIoError, OutOfBoundsError


@pytest.fixture
def mm(path: Path) -> MemoryMappedFile:
    mm = MemoryMappedFile.create_rw(path, 1024)
    yield mm
    mm.close()


def test_write_then_read_back_through_a_fresh_handle(path: Path, mm: MemoryMappedFile) -> None:
    mm.update_region(100, b"Hello, World!")
    mm.flush()
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(100, 13) == b"Hello, World!"
    assert path.read_bytes()[100:113] == b"Hello, World!"


def test_any_buffer_is_accepted_as_data(mm: MemoryMappedFile) -> None:
    mm.update_region(0, bytearray(b"ab"))
    mm.update_region(2, memoryview(b"cd"))
    mm.update_region(4, array.array("H", [0x6665]))  # 2 bytes from a 1-item array
    assert mm.read_bytes(0, 6) == b"abcdef"
    assert mm.pending_bytes == 6


@pytest.mark.parametrize("bad", ["text", 5, [1, 2], None, 1.5])
def test_data_that_is_not_bytes_like_is_a_type_error(mm: MemoryMappedFile, bad: object) -> None:
    with pytest.raises(TypeError) as info:
        mm.update_region(0, bad)
    assert isinstance(info.value, MmapIoError)
    assert mm.read_bytes(0, 4) == bytes(4)
    assert mm.pending_bytes == 0


def test_read_into_fills_every_kind_of_buffer(mm: MemoryMappedFile) -> None:
    mm.update_region(0, bytes(range(16)))
    small = bytearray(4)
    mm.read_into(2, small)
    assert small == bytes([2, 3, 4, 5])
    big = bytearray(1000)
    mm.read_into(0, big)
    assert big[:16] == bytes(range(16))
    words = array.array("I", [0, 0])
    mm.read_into(0, words)
    assert words.tobytes() == bytes(range(8))
    view = memoryview(bytearray(3))
    mm.read_into(1, view)
    assert bytes(view) == b"\x01\x02\x03"


def test_read_into_a_read_only_buffer_is_a_type_error(mm: MemoryMappedFile) -> None:
    with pytest.raises(TypeError):
        mm.read_into(0, b"immutable")
    with pytest.raises(TypeError):
        mm.read_into(0, memoryview(bytearray(4)).toreadonly())


def test_read_into_the_same_size_twice_uses_the_cached_path(mm: MemoryMappedFile) -> None:
    mm.update_region(0, b"abcd")
    for _ in range(3):
        buf = bytearray(4)
        mm.read_into(0, buf)
        assert buf == b"abcd"
    buf = bytearray(4)
    with pytest.raises(OutOfBoundsError):
        mm.read_into(1022, buf)
    assert buf == bytes(4)


def test_views_are_zero_copy_memoryviews(mm: MemoryMappedFile) -> None:
    view = mm.as_slice(0, 5)
    assert isinstance(view, memoryview) and view.readonly and len(view) == 5
    mm.update_region(0, b"fresh")
    assert view == b"fresh"  # same memory, not a copy
    assert memoryview(view).tobytes() == b"fresh"
    with pytest.raises(TypeError):
        view[0] = 1  # type: ignore[index]
    view.release()


def test_mutable_view_writes_land_in_the_mapping(mm: MemoryMappedFile) -> None:
    with mm.as_slice_mut(10, 3) as view:
        assert not view.readonly
        view[:] = b"xyz"
    assert mm.read_bytes(10, 3) == b"xyz"


def test_zero_length_views_exist_and_mutable_ones_are_writable(mm: MemoryMappedFile) -> None:
    empty = mm.as_slice_mut(1024, 0)
    assert len(empty) == 0 and not empty.readonly
    assert mm.as_slice(10**12, 0) == b""
    empty.release()


def test_read_only_mapping_rejects_writes_before_checking_the_range(path: Path) -> None:
    path.write_bytes(b"\0" * 1024)
    with MemoryMappedFile.open_ro(path) as ro:
        with pytest.raises(InvalidModeError):
            ro.update_region(0, b"x")
        with pytest.raises(InvalidModeError):
            ro.as_slice_mut(2000, 10)
        with pytest.raises(InvalidModeError):
            ro.chunks_mut(16)
        assert ro.as_slice(0, 4) == bytes(4)
        ro.flush()
        ro.flush_range(0, 10)


def test_use_after_close_is_a_clear_value_error(mm: MemoryMappedFile) -> None:
    mm.close()
    mm.close()  # idempotent
    for call in (
        lambda: mm.update_region(0, b"x"),
        lambda: mm.read_into(0, bytearray(1)),
        lambda: mm.read_bytes(0, 1),
        lambda: mm.as_slice(0, 1),
        lambda: mm.as_slice_mut(0, 1),
        lambda: mm.flush(),
        lambda: mm.resize(10),
        lambda: len(mm),
        lambda: mm.fileno(),
        lambda: mm.address,
    ):
        with pytest.raises(MmapIoError) as info:
            call()
        assert isinstance(info.value, ValueError)
    assert mm.closed


def test_close_never_waits_for_views_and_views_keep_their_bytes(
    path: Path, mm: MemoryMappedFile
) -> None:
    mm.update_region(0, b"kept")
    kept = [mm.as_slice(0, 4), mm.as_slice_mut(0, 4), next(iter(mm.chunks(4)))]
    mm.close()  # at once: no BufferError, no wait
    assert mm.closed
    assert [bytes(view) for view in kept] == [b"kept"] * 3  # never dangling
    kept[1][:] = b"KEPT"  # a live writable view still writes the shared page
    assert bytes(kept[0]) == b"KEPT"
    for call in (lambda: mm.as_slice(0, 1), lambda: mm.read_bytes(0, 1), lambda: len(mm)):
        with pytest.raises(MmapIoError) as info:
            call()
        assert isinstance(info.value, ValueError)
    assert mapped_areas(path) == 1  # the memory stays until the last view goes
    for view in kept:
        view.release()
    assert mapped_areas(path) == 0
    assert path.read_bytes()[:4] == b"KEPT"


def test_growth_beside_live_views_keeps_them_valid(mm: MemoryMappedFile) -> None:
    mm.update_region(0, b"old")
    view = mm.as_slice(0, 3)
    mm.resize(4096)  # growing never waits for views
    assert len(mm) == 4096 and view == b"old"
    mm.update_region(0, b"new")  # one page cache: the old memory shows the new bytes
    assert view == b"new"
    mm.update_region(4000, b"end")
    assert mm.read_bytes(4000, 3) == b"end"
    with pytest.raises(mmap_io.ResizeFailedError) as info:
        mm.resize(512)  # a view taken before the growth still holds the first 3 bytes
    assert isinstance(info.value, BufferError) and len(mm) == 4096
    view.release()
    mm.resize(512)
    assert len(mm) == 512 and mm.read_bytes(0, 3) == b"new"


def test_a_shrink_is_refused_while_a_view_lives_and_changes_nothing(
    path: Path, mm: MemoryMappedFile
) -> None:
    mm.update_region(1000, b"tail")
    for view in (mm.as_slice(1000, 4), mm.as_slice_mut(0, 4), next(iter(mm.chunks(100)))):
        with pytest.raises(mmap_io.ResizeFailedError) as info:
            mm.resize(100)
        assert isinstance(info.value, BufferError)
        assert len(mm) == 1024 and path.stat().st_size == 1024
        assert mm.read_bytes(1000, 4) == b"tail"  # still fully usable
        view.release()
    mm.resize(100)
    assert len(mm) == 100 and path.stat().st_size == 100


def test_a_chunk_kept_after_its_iterator_is_gone_keeps_its_memory(mm: MemoryMappedFile) -> None:
    mm.update_region(0, b"chunk")
    chunk = next(mm.chunks(64))
    mm.close()
    assert bytes(chunk[:5]) == b"chunk"


def test_resize_under_threads_never_crashes_refuses_or_reads_stale_memory(
    mm: MemoryMappedFile,
) -> None:
    """Readers take and drop views while a resizer grows and shrinks the file.

    Every resize succeeds: growth never waits for views, and a shrink blocks new
    views while the short-lived ones drain. Every view a reader sees has the bytes
    that were written there.
    """
    mm.update_region(0, b"\x07" * 512)
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                with mm.as_slice(0, 512) as view:
                    assert view == b"\x07" * 512
                buf = bytearray(512)
                mm.read_into(0, buf)
                assert buf == b"\x07" * 512
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for i in range(400):
            mm.resize(1024 if i % 2 else 4096)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors
    assert len(mm) == 1024


def test_chunks_and_pages_cover_the_mapping(mm: MemoryMappedFile) -> None:
    mm.update_region(0, bytes(range(256)) * 4)
    chunks = [bytes(c) for c in mm.chunks(300)]
    assert [len(c) for c in chunks] == [300, 300, 300, 124]
    assert b"".join(chunks) == mm.read_bytes(0, 1024)
    assert list(mm.chunks(0)) == []
    owned = list(mm.chunks_owned(512))
    assert all(type(c) is bytes for c in owned) and b"".join(owned) == mm.read_bytes(0, 1024)
    assert [len(p) for p in mm.pages()] == [1024]
    assert list(mm.pages_owned()) == [mm.read_bytes(0, 1024)]
    with pytest.raises(TypeError):
        mm.chunks(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mm.chunks(-1)


def test_chunks_mut_visits_every_chunk_with_its_offset(mm: MemoryMappedFile) -> None:
    seen: list[tuple[int, int]] = []

    def fill(offset: int, view: memoryview) -> None:
        seen.append((offset, len(view)))
        view[:] = bytes([offset // 256]) * len(view)

    mm.chunks_mut(256).for_each_mut(fill)
    assert seen == [(0, 256), (256, 256), (512, 256), (768, 256)]
    assert mm.read_bytes(0, 1024) == b"".join(bytes([i]) * 256 for i in range(4))
    assert mm.pending_bytes == 1024


def test_chunks_mut_error_propagates_unchanged_and_keeps_earlier_chunks(
    mm: MemoryMappedFile,
) -> None:
    class Stop(Exception):
        pass

    def fill(offset: int, view: memoryview) -> None:
        if offset == 512:
            raise Stop
        view[:] = b"\x01" * len(view)

    with pytest.raises(Stop):
        mm.chunks_mut(256).for_each_mut(fill)
    assert mm.read_bytes(0, 512) == b"\x01" * 512
    assert mm.read_bytes(512, 512) == bytes(512)
    mm.update_region(1000, b"usable")
    mm.close()  # no view leaked by the failed pass


def test_address_points_at_the_mapped_bytes(mm: MemoryMappedFile) -> None:
    import ctypes

    mm.update_region(0, b"ffi!")
    assert ctypes.string_at(mm.address, 4) == b"ffi!"
