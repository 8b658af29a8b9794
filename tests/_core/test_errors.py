"""The error family: distinct variants, OS errors that stay OSErrors, pickling."""

from __future__ import annotations

import errno
import pickle

import pytest

import mmap_io
from mmap_io._core._errors import busy_error, closed_error, combined, os_error, type_error

VARIANTS = [
    mmap_io.OutOfBoundsError,
    mmap_io.InvalidModeError,
    mmap_io.FlushFailedError,
    mmap_io.ResizeFailedError,
    mmap_io.AdviceFailedError,
    mmap_io.LockFailedError,
    mmap_io.UnlockFailedError,
    mmap_io.MisalignedError,
    mmap_io.WatchFailedError,
]


def test_the_nine_variants_are_distinct_and_none_subclasses_another() -> None:
    assert len(set(VARIANTS)) == 9
    for cls in VARIANTS:
        assert issubclass(cls, mmap_io.MmapIoError)
        for other in VARIANTS:
            assert cls is other or not issubclass(cls, other)


def test_out_of_bounds_keeps_the_callers_numbers() -> None:
    error = mmap_io.OutOfBoundsError(10, 20, 25)
    assert (error.offset, error.length, error.total) == (10, 20, 25)
    assert all(str(n) in str(error) for n in (10, 20, 25))


def test_misaligned_keeps_required_and_offset() -> None:
    error = mmap_io.MisalignedError(8, 3)
    assert (error.required, error.offset) == (8, 3)


def test_os_error_is_both_families_with_errno_and_filename() -> None:
    error = os_error(mmap_io.FlushFailedError, OSError(errno.EIO, "I/O error"), "f.bin")
    assert isinstance(error, mmap_io.FlushFailedError)
    assert isinstance(error, OSError)
    assert error.errno == errno.EIO
    assert error.filename == "f.bin"


def test_missing_file_error_is_file_not_found() -> None:
    error = os_error(mmap_io.MmapIoError, FileNotFoundError(errno.ENOENT, "gone"), "x")
    assert isinstance(error, FileNotFoundError)
    assert isinstance(error, mmap_io.MmapIoError)


def test_combined_classes_are_cached() -> None:
    assert combined(mmap_io.MmapIoError, ValueError) is combined(mmap_io.MmapIoError, ValueError)
    assert type(closed_error()) is type(closed_error())


def test_closed_error_is_value_error_and_type_error_is_type_error() -> None:
    assert isinstance(closed_error(), ValueError)
    assert isinstance(type_error("x"), TypeError)
    assert isinstance(busy_error(mmap_io.ResizeFailedError, "resize"), BufferError)


@pytest.mark.parametrize(
    "error",
    [
        os_error(mmap_io.MmapIoError, FileNotFoundError(errno.ENOENT, "gone"), "a/b"),
        closed_error(),
        type_error("bad"),
        mmap_io.OutOfBoundsError(1, 2, 3),
        mmap_io.MisalignedError(8, 1),
    ],
)
def test_errors_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    if isinstance(error, OSError):
        assert isinstance(copy, OSError)
        assert (copy.errno, copy.filename) == (error.errno, error.filename)
