"""Segments: a window that re-checks its range against the parent at every use."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmap_io import (
    InvalidModeError,
    MemoryMappedFile,
    OutOfBoundsError,
    Segment,
    SegmentMut,
)


@pytest.fixture
def mm(path: Path) -> MemoryMappedFile:
    mm = MemoryMappedFile.create_rw(path, 200)
    yield mm
    mm.close()


def test_segment_reads_its_window(mm: MemoryMappedFile) -> None:
    mm.update_region(100, b"segment!")
    segment = Segment(mm, 100, 8)
    assert segment.parent is mm and segment.offset == 100 and len(segment) == 8
    assert segment.as_slice() == b"segment!" and segment.read_bytes() == b"segment!"
    assert segment.is_valid() and not segment.is_empty()


def test_constructor_validates_the_range(mm: MemoryMappedFile) -> None:
    with pytest.raises(OutOfBoundsError) as info:
        Segment(mm, 150, 100)
    assert (info.value.offset, info.value.length, info.value.total) == (150, 100, 200)
    with pytest.raises(TypeError):
        Segment(mm, 1.0, 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Segment(b"not a mapping", 0, 1)  # type: ignore[arg-type]


def test_segment_cut_off_by_a_shrink_is_invalid_until_regrown(mm: MemoryMappedFile) -> None:
    segment = SegmentMut(mm, 100, 50)
    segment.write(b"before")
    mm.resize(120)
    assert not segment.is_valid()
    with pytest.raises(OutOfBoundsError):
        segment.as_slice()
    with pytest.raises(OutOfBoundsError):
        segment.write(b"x")
    mm.resize(200)
    assert segment.is_valid()
    assert segment.as_slice()[:6] == b"before"


def test_segment_mut_write_checks_length_and_writes_nothing_when_too_long(
    mm: MemoryMappedFile,
) -> None:
    segment = SegmentMut(mm, 10, 4)
    with pytest.raises(OutOfBoundsError) as info:
        segment.write(b"12345")
    assert info.value.length == 5
    assert mm.read_bytes(10, 5) == bytes(5)
    segment.write(b"abcd")
    with segment.as_slice_mut() as view:
        view[0] = ord("A")
    assert mm.read_bytes(10, 4) == b"Abcd"


def test_segment_mut_on_read_only_parent(path: Path) -> None:
    path.write_bytes(bytes(10))
    with MemoryMappedFile.open_ro(path) as ro:
        segment = SegmentMut(ro, 0, 4)
        with pytest.raises(InvalidModeError):
            segment.write(b"x")
        with pytest.raises(InvalidModeError):
            segment.as_slice_mut()


def test_segment_of_a_closed_parent_is_invalid(mm: MemoryMappedFile) -> None:
    segment = Segment(mm, 0, 10)
    mm.close()
    assert not segment.is_valid()
    with pytest.raises(ValueError):
        segment.as_slice()
