"""Handing out atomic views: argument checks, modes, lifetime, and write accounting."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmap_io import (
    AnonymousMmap,
    FlushPolicy,
    InvalidModeError,
    MemoryMappedFile,
    MisalignedError,
    MmapIoError,
    OutOfBoundsError,
    ResizeFailedError,
)

SIZE = 4096
OFFSETS = st.one_of(
    st.integers(-64, SIZE + 64),
    st.sampled_from([-(2**64), 2**63, 2**64 - 8, 2**64, 2**64 + 8, 2**70]),
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryMappedFile]:
    path: Path = tmp_path_factory.mktemp("atomic") / "f.bin"
    with MemoryMappedFile.create_rw(path, SIZE) as mm:
        yield mm


@pytest.fixture
def mm(path: Path) -> Iterator[MemoryMappedFile]:
    mm = MemoryMappedFile.create_rw(path, SIZE)
    yield mm
    mm.close()


SINGLE = object()  # as count: a single view instead of a slice


def _open(mm: MemoryMappedFile, width: int, offset: Any, count: Any = SINGLE) -> Any:
    if count is SINGLE:
        return mm.atomic_u64(offset) if width == 8 else mm.atomic_u32(offset)
    if width == 8:
        return mm.atomic_u64_slice(offset, count)
    return mm.atomic_u32_slice(offset, count)


@pytest.mark.parametrize("width", [8, 4])
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=OFFSETS, count=st.one_of(st.none(), st.integers(-3, SIZE // 4 + 3)))
@example(offset=SIZE, count=0)
@example(offset=SIZE - 8, count=1)
@example(offset=SIZE + 1, count=0)
@example(offset=-8, count=None)
@example(offset=-3, count=None)
@example(offset=SIZE + 3, count=None)
@example(offset=0, count=-1)
def test_alignment_is_checked_before_bounds(
    shared: MemoryMappedFile, width: int, offset: int, count: int | None
) -> None:
    length = width if count is None else count * width
    shape = SINGLE if count is None else count
    if offset % width:
        with pytest.raises(MisalignedError) as info:
            _open(shared, width, offset, shape)
        assert (info.value.required, info.value.offset) == (width, offset)
    elif offset < 0 or length < 0 or offset >= 2**64 or (length and offset + length > SIZE):
        with pytest.raises(OutOfBoundsError) as info:
            _open(shared, width, offset, shape)
        assert (info.value.offset, info.value.length, info.value.total) == (offset, length, SIZE)
    else:
        view = _open(shared, width, offset, shape)
        if count is not None:
            assert len(view) == count
        view.release()


@pytest.mark.parametrize("width", [8, 4])
@pytest.mark.parametrize("bad", [True, 1.0, None, "8", b"8"])
def test_non_int_offsets_and_counts_are_type_errors(
    shared: MemoryMappedFile, width: int, bad: Any
) -> None:
    for args in ((bad, SINGLE), (bad, 1), (0, bad)):
        with pytest.raises(TypeError) as info:
            _open(shared, width, *args)
        assert isinstance(info.value, MmapIoError)


def test_count_zero_is_an_empty_sequence_even_at_the_end(shared: MemoryMappedFile) -> None:
    with shared.atomic_u64_slice(SIZE, 0) as empty:
        assert len(empty) == 0 and list(empty) == []
        with pytest.raises(IndexError):
            empty[0]


@pytest.mark.parametrize("mode", ["ro", "cow"])
def test_read_only_and_copy_on_write_maps_refuse_atomic_views(path: Path, mode: str) -> None:
    path.write_bytes(bytes(SIZE))
    mm = MemoryMappedFile.open_ro(path) if mode == "ro" else MemoryMappedFile.open_cow(path)
    with mm:
        for call in (
            lambda: mm.atomic_u64(0),
            lambda: mm.atomic_u32(0),
            lambda: mm.atomic_u64_slice(0, 2),
            lambda: mm.atomic_u32_slice(0, 2),
            lambda: mm.atomic_u64(3),  # the mode is checked before alignment...
            lambda: mm.atomic_u64(SIZE * 2),  # ...and before bounds
        ):
            with pytest.raises(InvalidModeError):
                call()
    assert path.read_bytes() == bytes(SIZE)


def test_a_closed_mapping_refuses_with_the_closed_error() -> None:
    mm = AnonymousMmap(SIZE)
    mm.close()
    with pytest.raises(ValueError) as info:
        mm.atomic_u64(0)
    assert isinstance(info.value, MmapIoError)


# -- lifetime ------------------------------------------------------------------


def _assert_holds_memory(mm: MemoryMappedFile) -> None:
    """A live view makes a shrink refuse; growth goes ahead beside it."""
    size = len(mm)
    with pytest.raises(ResizeFailedError) as info:
        mm.resize(SIZE // 2)
    assert isinstance(info.value, BufferError) and len(mm) == size
    mm.resize(size + SIZE)


def test_live_views_hold_their_memory(mm: MemoryMappedFile) -> None:
    single = mm.atomic_u64(0)
    cells = mm.atomic_u32_slice(8, 4)
    empty = mm.atomic_u64_slice(0, 0)
    kept = cells[2]
    _assert_holds_memory(mm)
    single.release()
    empty.release()
    _assert_holds_memory(mm)
    del cells  # dropped, not released: the view taken from it still holds the memory
    gc.collect()
    _assert_holds_memory(mm)
    kept.store(1)
    kept.release()
    mm.resize(SIZE)
    assert len(mm) == SIZE and mm.read_bytes(16, 1) == b"\x01"


def test_a_view_outlives_the_close_of_its_mapping(mm: MemoryMappedFile) -> None:
    counter = mm.atomic_u64(0)
    counter.fetch_add(5)
    mm.close()  # never refused
    assert counter.fetch_add(1) == 5 and counter.load() == 6
    counter.release()


def test_a_shrink_waits_for_a_view_another_thread_releases(mm: MemoryMappedFile) -> None:
    opened, release = threading.Event(), threading.Event()
    counts: list[int] = []

    def worker() -> None:
        with mm.atomic_u64(0) as counter:
            opened.set()
            while not release.is_set():
                counter.fetch_add(1)
            counts.append(counter.load())

    thread = threading.Thread(target=worker)
    thread.start()
    opened.wait()
    for _ in range(10):
        mm.resize(len(mm) + SIZE)  # growth never waits for the view
    with pytest.raises(ResizeFailedError) as info:
        mm.resize(SIZE)  # the view stays for longer than a shrink waits
    assert isinstance(info.value, BufferError)
    release.set()
    thread.join()
    mm.resize(SIZE)  # the view is gone now
    with mm.atomic_u64(0) as counter:
        assert counter.load() == counts[0] > 0
    assert len(mm) == SIZE


# -- pending_bytes ---------------------------------------------------------------


def test_an_atomic_write_counts_its_width(mm: MemoryMappedFile) -> None:
    with mm.atomic_u64(0) as wide, mm.atomic_u32(8) as narrow:
        wide.load()
        wide.compare_exchange(1, 2)  # fails: writes nothing
        assert mm.pending_bytes == 0
        wide.store(1)
        assert mm.pending_bytes == 8
        narrow.fetch_add(1)
        assert mm.pending_bytes == 12


@pytest.mark.parametrize(
    "write",
    [
        lambda v: v.store(3),
        lambda v: v.swap(3),
        lambda v: v.compare_exchange(0, 3),
        lambda v: v.fetch_add(3),
        lambda v: v.fetch_sub(3),
        lambda v: v.fetch_and(3),
        lambda v: v.fetch_or(3),
        lambda v: v.fetch_xor(3),
    ],
)
def test_every_write_operation_counts(mm: MemoryMappedFile, write: Any) -> None:
    with mm.atomic_u64(0) as view:
        write(view)
        assert mm.pending_bytes == 8


def test_rejected_atomic_writes_count_nothing(mm: MemoryMappedFile) -> None:
    with mm.atomic_u64(0) as view:
        for bad in (lambda: view.store(-1), lambda: view.swap(True), lambda: view.fetch_add(1.5)):
            with pytest.raises(MmapIoError):
                bad()  # type: ignore[no-untyped-call]
        assert mm.pending_bytes == 0


def test_a_cell_counts_once_per_flush_however_often_it_is_written(
    mm: MemoryMappedFile,
) -> None:
    with mm.atomic_u64(0) as view:
        for _ in range(100):
            view.fetch_add(1)
        assert mm.pending_bytes == 8
        view.fetch_add(1)
        assert mm.pending_bytes == 8  # reading the count does not change what it counts
        mm.flush()
        assert mm.pending_bytes == 0
        view.fetch_add(1)
        assert mm.pending_bytes == 8  # written again after the flush


def test_slice_cells_count_one_by_one(mm: MemoryMappedFile) -> None:
    with mm.atomic_u32_slice(0, 8) as cells:
        cells[0].store(1)
        cells[5].store(1)
        cells[5].store(2)
        assert mm.pending_bytes == 8


def test_released_and_dropped_views_still_count(mm: MemoryMappedFile) -> None:
    view = mm.atomic_u64(0)
    view.store(1)
    view.release()
    mm.atomic_u64(8).store(1)  # dropped at once, never released
    gc.collect()
    assert mm.pending_bytes == 16


def test_the_flush_policy_sees_atomic_writes(path: Path) -> None:
    policy = FlushPolicy.every_bytes(16)
    with MemoryMappedFile.create_rw(path, SIZE, flush_policy=policy) as mm:
        cells = mm.atomic_u64_slice(0, 2)
        cells[0].store(1)
        cells[1].store(1)
        assert mm.pending_bytes == 16 and mm.sync_count == 0  # reading only counts
        mm.update_region(100, b"x")  # the next write finds the policy due
        assert mm.pending_bytes == 0 and mm.sync_count == 1
        cells.release()


def test_the_flush_timer_flushes_atomic_writes_but_not_clean_views(path: Path) -> None:
    policy = FlushPolicy.every_millis(5)
    mm = MemoryMappedFile.create_rw(path, SIZE, flush_policy=policy)
    with mm, mm.atomic_u64(0) as counter:
        time.sleep(0.05)
        assert mm.sync_count == 0  # a live view that wrote nothing gives it no work
        counter.fetch_add(1)
        deadline = time.monotonic() + 5
        while mm.sync_count == 0 and time.monotonic() < deadline:
            time.sleep(0.005)  # not pending_bytes: reading it would settle the view
        assert mm.sync_count >= 1 and mm.pending_bytes == 0


def test_many_views_keep_the_registry_small(mm: MemoryMappedFile) -> None:
    """Dropped views are forgotten: memory stays flat however many were made."""
    for i in range(1000):  # warm up: the registry reaches its working size
        mm.atomic_u32(4 * (i % 8)).store(i)
    tracemalloc.start()
    try:
        for i in range(10_000):
            mm.atomic_u32(4 * (i % 8)).store(i)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 64 << 10  # a handful of live entries, not 10,000
    assert mm.pending_bytes == 8 * 4
