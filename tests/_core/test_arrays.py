"""as_array: numpy arrays over a mapping, zero-copy, living like any other view."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from conftest import mapped_areas
from mmap_io import (
    AnonymousMmap,
    InvalidModeError,
    MemoryMappedFile,
    MmapIoError,
    OutOfBoundsError,
    ResizeFailedError,
)

np = pytest.importorskip("numpy")


@pytest.fixture
def mm(path: Path) -> MemoryMappedFile:
    mapping = MemoryMappedFile.create_rw(path, 4096)
    yield mapping  # type: ignore[misc]
    mapping.close()


def test_an_array_shows_the_mapped_bytes_in_its_dtype_and_shape(mm: MemoryMappedFile) -> None:
    mm.update_region(16, np.arange(12, dtype="<u4").tobytes())
    grid = mm.as_array("<u4", (3, 4), offset=16)
    assert grid.shape == (3, 4) and grid.dtype == np.dtype("<u4")
    assert grid.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert grid.flags.writeable is False
    mm.update_region(16, (99).to_bytes(4, "little"))  # zero-copy: the array sees it
    assert grid[0, 0] == 99
    assert mm.as_array(np.uint8, 5, offset=20).tolist() == [1, 0, 0, 0, 2]
    record = np.dtype([("id", "<u4"), ("score", "<f8")], align=False)
    mm.update_region(1000, np.array([(7, 2.5)], dtype=record).tobytes())
    [(ident, score)] = mm.as_array(record, 1, offset=1000).tolist()
    assert (ident, score) == (7, 2.5)


def test_no_shape_means_as_many_items_as_fit(mm: MemoryMappedFile) -> None:
    assert mm.as_array("<u8").shape == (512,)
    assert mm.as_array("<u8", offset=10).shape == (510,)  # 4086 bytes hold 510 items
    assert mm.as_array("<u4", offset=4094).shape == (0,)  # two bytes left: none fits
    assert mm.as_array("<u4", offset=5000).shape == (0,)  # empty, like as_slice(5000, 0)


def test_a_writable_array_writes_the_file(path: Path, mm: MemoryMappedFile) -> None:
    counts = mm.as_array("<u8", 4, offset=64, writable=True)
    counts[:] = [1, 2, 3, 4]
    counts[2] += 40
    mm.flush()
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(64, 32) == np.array([1, 2, 43, 4], dtype="<u8").tobytes()
    readonly = mm.as_array("<u8", 4, offset=64)
    with pytest.raises(ValueError, match="read-only"):
        readonly[0] = 5
    with pytest.raises(ValueError):
        readonly.flags.writeable = True  # numpy refuses: its memory is read-only


def test_a_read_only_mapping_refuses_a_writable_array_before_the_range(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 4)
    with MemoryMappedFile.open_ro(path) as ro:
        with pytest.raises(InvalidModeError):
            ro.as_array("<u8", 10**6, writable=True)  # mode checked first
        assert ro.as_array(np.uint8, 4, offset=252).tolist() == [252, 253, 254, 255]


def test_copy_on_write_arrays_keep_their_writes_private(path: Path) -> None:
    path.write_bytes(bytes(4096))
    with MemoryMappedFile.open_cow(path) as cow:
        private = cow.as_array(np.uint8, 4, writable=True)
        private[:] = 7
        assert cow.read_bytes(0, 4) == b"\x07" * 4
    assert path.read_bytes()[:4] == bytes(4)


def test_a_range_past_the_end_is_out_of_bounds_with_the_callers_numbers(
    mm: MemoryMappedFile,
) -> None:
    with pytest.raises(OutOfBoundsError) as info:
        mm.as_array("<u8", (2, 300), offset=8)
    assert (info.value.offset, info.value.length, info.value.total) == (8, 4800, 4096)
    with pytest.raises(OutOfBoundsError) as info:
        mm.as_array("<u8", 1, offset=-8)
    assert info.value.offset == -8
    with pytest.raises(OutOfBoundsError):
        mm.as_array("<u8", 1, offset=4090)  # the item would pass the end by 2 bytes


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"dtype": "not a dtype"}, TypeError),
        ({"dtype": None}, TypeError),
        ({"dtype": object}, ValueError),  # items would be pointers read from the file
        ({"dtype": [("name", "O")]}, ValueError),
        ({"dtype": "V0"}, ValueError),
        ({"dtype": "<u4", "shape": 2.0}, TypeError),
        ({"dtype": "<u4", "shape": (2, True)}, TypeError),
        ({"dtype": "<u4", "shape": (2, -1)}, ValueError),
        ({"dtype": "<u4", "offset": 1.5}, TypeError),
        ({"dtype": "<u4", "writable": 1}, TypeError),
    ],
)
def test_bad_arguments_are_typed_errors(
    mm: MemoryMappedFile, kwargs: dict[str, object], kind: type[Exception]
) -> None:
    with pytest.raises(kind) as info:
        mm.as_array(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, MmapIoError)
    assert mm.pending_bytes == 0


def test_an_array_outlives_close_and_keeps_its_memory(path: Path, mm: MemoryMappedFile) -> None:
    mm.update_region(0, b"kept")
    shown = mm.as_array(np.uint8, 4)
    written = mm.as_array(np.uint8, 4, offset=8, writable=True)
    mm.close()
    with pytest.raises(MmapIoError) as info:
        mm.as_array(np.uint8, 4)
    assert isinstance(info.value, ValueError)  # the closed error
    assert shown.tobytes() == b"kept"
    written[:] = list(b"late")  # a live writable view still writes the shared page
    assert mapped_areas(path) == 1
    del shown, written
    gc.collect()
    assert mapped_areas(path) == 0
    assert path.read_bytes()[:12] == b"kept\0\0\0\0late"


def test_a_shrink_waits_for_arrays_and_growth_does_not(path: Path, mm: MemoryMappedFile) -> None:
    array = mm.as_array("<u4", 4, offset=4080, writable=True)
    mm.resize(8192)  # growth beside a live array: it keeps its memory
    array[0] = 0xABCD
    assert mm.read_bytes(4080, 4) == (0xABCD).to_bytes(4, "little")  # one page cache
    with pytest.raises(ResizeFailedError) as info:
        mm.resize(1024)
    assert isinstance(info.value, BufferError)
    assert len(mm) == 8192 and path.stat().st_size == 8192
    del array
    mm.resize(1024)
    assert len(mm) == 1024


def test_arrays_made_by_numpy_from_a_view_count_as_live_views(mm: MemoryMappedFile) -> None:
    view = mm.as_slice(0, 64)
    array = np.frombuffer(view, dtype=np.uint8)
    view.release()  # numpy holds the memory through a view of its own
    with pytest.raises(ResizeFailedError):
        mm.resize(16)
    assert len(mm) == 4096 and array.sum() == 0
    del array
    mm.resize(16)
    assert len(mm) == 16


def test_a_writable_array_counts_its_length_once_collected(mm: MemoryMappedFile) -> None:
    mm.as_array("<u8", 8, writable=False)  # read-only: never counts
    written = mm.as_array("<u8", 8, writable=True)
    written[0] = 1
    assert mm.pending_bytes == 0  # still alive: its writes are not all in yet
    del written
    assert mm.pending_bytes == 64
    mm.as_array("<u8", 0, writable=True)  # an empty array writes nothing
    assert mm.pending_bytes == 64
    mm.flush()
    assert mm.pending_bytes == 0


def test_anonymous_memory_hands_out_arrays_too() -> None:
    with AnonymousMmap(4096) as scratch:
        shared = scratch.as_array("<i8", writable=True)
        shared[10] = -5
        assert scratch.read_bytes(80, 8) == (-5).to_bytes(8, "little", signed=True)


def test_without_numpy_the_error_names_the_extra(
    mm: MemoryMappedFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # how Python marks a missing module
    with pytest.raises(ImportError, match=r"mmap-io\[numpy\]") as info:
        mm.as_array("<u8")
    assert isinstance(info.value, MmapIoError)
