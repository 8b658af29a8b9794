"""Atomic views and slices: every operation, its values, orderings and errors."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from mmap_io import (
    AnonymousMmap,
    AtomicSliceView,
    AtomicView,
    MemoryMappedFile,
    MmapIoError,
    Ordering,
)

WIDTHS = {"u64": 8, "u32": 4}


@pytest.fixture(params=["file", "anonymous"])
def mm(request: pytest.FixtureRequest, path: Path) -> Iterator[Any]:
    if request.param == "file":
        mapping: Any = MemoryMappedFile.create_rw(path, 4096)
    else:
        mapping = AnonymousMmap(4096)
    yield mapping
    mapping.close()


def _view(mm: Any, kind: str, offset: int = 16) -> AtomicView:
    return mm.atomic_u64(offset) if kind == "u64" else mm.atomic_u32(offset)


@pytest.mark.parametrize("kind", WIDTHS)
def test_every_operation_returns_what_it_replaced(mm: Any, kind: str) -> None:
    with _view(mm, kind) as view:
        assert view.load() == 0
        view.store(0b1100)
        assert view.swap(0b1010) == 0b1100
        assert view.fetch_add(6) == 0b1010
        assert view.fetch_sub(1) == 16
        assert view.fetch_and(0b0110) == 15
        assert view.fetch_or(0b1000) == 0b0110
        assert view.fetch_xor(0b0011) == 0b1110
        assert view.compare_exchange(0b1101, 99) == (True, 0b1101)
        assert view.compare_exchange(0b1101, 7) == (False, 99)
        assert view.load() == 99


@pytest.mark.parametrize("kind", WIDTHS)
def test_values_are_native_endian_in_the_mapping(mm: Any, kind: str) -> None:
    width = WIDTHS[kind]
    value = int.from_bytes(bytes(range(1, width + 1)), "big")
    with _view(mm, kind) as view:
        view.store(value)
        assert mm.read_bytes(16, width) == value.to_bytes(width, sys.byteorder)
        mm.update_region(16, (12345).to_bytes(width, sys.byteorder))
        assert view.load() == 12345


@pytest.mark.parametrize("kind", WIDTHS)
def test_fetch_operations_wrap_around(mm: Any, kind: str) -> None:
    top = 2 ** (8 * WIDTHS[kind]) - 1
    with _view(mm, kind) as view:
        view.store(top)
        assert view.fetch_add(2) == top
        assert view.load() == 1
        assert view.fetch_sub(2) == 1
        assert view.load() == top
        assert view.fetch_add(-1) == top  # a negative operand counts modulo 2**bits
        assert view.load() == top - 1


@pytest.mark.parametrize("kind", WIDTHS)
@pytest.mark.parametrize("bad", [-1, "top+1", -(2**70), 2**70])
def test_storing_a_value_out_of_range_is_refused_and_changes_nothing(
    mm: Any, kind: str, bad: Any
) -> None:
    if bad == "top+1":
        bad = 2 ** (8 * WIDTHS[kind])
    with _view(mm, kind) as view:
        view.store(5)
        for write in (view.store, view.swap, lambda v: view.compare_exchange(5, v)):
            with pytest.raises((OverflowError, ValueError)) as info:
                write(bad)
            assert isinstance(info.value, MmapIoError)
            assert view.load() == 5
        with pytest.raises(OverflowError):
            view.compare_exchange(bad, 6)
        assert view.load() == 5


@pytest.mark.parametrize("kind", WIDTHS)
@pytest.mark.parametrize("bad", [True, False, 1.0, None, "1", b"1"])
def test_non_int_values_are_type_errors(mm: Any, kind: str, bad: Any) -> None:
    with _view(mm, kind) as view:
        view.store(3)
        for write in (view.store, view.swap, lambda v: view.compare_exchange(3, v)):
            with pytest.raises(TypeError) as info:
                write(bad)
            assert isinstance(info.value, MmapIoError)
        if not isinstance(bad, bool):  # fetch_* operands are checked natively (see docs)
            with pytest.raises(TypeError):
                view.fetch_add(bad)
        assert view.load() == 3


def test_index_objects_are_accepted_as_values(mm: Any) -> None:
    class Index:
        def __index__(self) -> int:
            return 7

    with mm.atomic_u64(0) as view:
        view.store(Index())  # type: ignore[arg-type]
        assert view.fetch_add(Index()) == 7  # type: ignore[arg-type]
        assert view.load() == 14


OPERATIONS: dict[str, Callable[[AtomicView, Ordering], object]] = {
    "load": lambda v, o: v.load(order=o),
    "store": lambda v, o: v.store(1, order=o),
    "swap": lambda v, o: v.swap(1, order=o),
    "compare_exchange": lambda v, o: v.compare_exchange(1, 1, order=o),
    "fetch_add": lambda v, o: v.fetch_add(1, order=o),
    "fetch_sub": lambda v, o: v.fetch_sub(1, order=o),
    "fetch_and": lambda v, o: v.fetch_and(1, order=o),
    "fetch_or": lambda v, o: v.fetch_or(1, order=o),
    "fetch_xor": lambda v, o: v.fetch_xor(1, order=o),
}
AFTER = {"fetch_add": 2, "fetch_sub": 0, "fetch_xor": 0}  # the value after OPERATIONS on 1


@pytest.mark.parametrize("op", OPERATIONS)
@pytest.mark.parametrize("order", list(Ordering))
def test_every_operation_accepts_every_ordering(mm: Any, op: str, order: Ordering) -> None:
    with mm.atomic_u32(0) as view:
        view.store(1)
        OPERATIONS[op](view, order)
        assert view.load() == AFTER.get(op, 1)


def test_ordering_is_exported_with_the_five_orderings() -> None:
    assert [o.name for o in Ordering] == ["RELAXED", "ACQUIRE", "RELEASE", "ACQ_REL", "SEQ_CST"]
    assert AtomicView.load.__defaults__ == (Ordering.SEQ_CST,)


@pytest.mark.parametrize("op", OPERATIONS)
def test_a_bad_ordering_is_refused(mm: Any, op: str) -> None:
    with mm.atomic_u64(0) as view:
        with pytest.raises(ValueError) as info:
            OPERATIONS[op](view, 17)  # type: ignore[arg-type]
        assert isinstance(info.value, MmapIoError)
        with pytest.raises(TypeError):
            OPERATIONS[op](view, "SEQ_CST")  # type: ignore[arg-type]
        assert view.load() == 0


@pytest.mark.parametrize("op", OPERATIONS)
def test_a_released_view_refuses_every_operation(mm: Any, op: str) -> None:
    view = mm.atomic_u64(8)
    view.release()
    view.release()  # twice is fine
    with pytest.raises(ValueError) as info:
        OPERATIONS[op](view, Ordering.SEQ_CST)
    assert isinstance(info.value, MmapIoError)
    assert "released" in repr(view)


def test_views_tell_their_offset_and_width(mm: Any) -> None:
    with mm.atomic_u64(24) as wide, mm.atomic_u32(4) as narrow:
        assert (wide.offset, wide.nbytes, narrow.offset, narrow.nbytes) == (24, 8, 4, 4)
        assert "u64" in repr(wide) and "24" in repr(wide)


def test_a_slice_is_a_sequence_of_views(mm: Any) -> None:
    with mm.atomic_u64_slice(64, 4) as cells:
        assert isinstance(cells, AtomicSliceView) and isinstance(cells, Sequence)
        assert len(cells) == 4 and cells.offset == 64
        assert [cell.offset for cell in cells] == [64, 72, 80, 88]
        assert cells[-1] is cells[3] and cells[-4] is cells[0]
        assert [cell.offset for cell in cells[1:3]] == [72, 80]
        for bad in (4, -5):
            with pytest.raises(IndexError):
                cells[bad]
        cells[-1].fetch_add(9)
        cells[0].store(1)
        assert [cell.load() for cell in cells] == [1, 0, 0, 9]
        assert mm.read_bytes(88, 8) == (9).to_bytes(8, sys.byteorder)


def test_a_u32_slice_packs_cells_four_bytes_apart(mm: Any) -> None:
    with mm.atomic_u32_slice(0, 3) as cells:
        for i, cell in enumerate(cells):
            cell.store(0x01010101 * (i + 1))
        assert mm.read_bytes(0, 12) == bytes([1] * 4 + [2] * 4 + [3] * 4)


def test_releasing_a_slice_releases_its_views(mm: Any) -> None:
    cells = mm.atomic_u32_slice(0, 2)
    first = cells[0]
    cells.release()
    with pytest.raises(ValueError):
        first.load()
    with pytest.raises(ValueError):
        cells[1]
    mm.close()  # nothing holds the memory any more


def test_threads_never_lose_an_increment(mm: Any) -> None:
    def work() -> None:
        with mm.atomic_u64(0) as counter:
            for _ in range(20_000):
                counter.fetch_add(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with mm.atomic_u64(0) as counter:
        assert counter.load() == 80_000
