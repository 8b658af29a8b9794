"""Constructors, modes, sizes, resize, flush and the file underneath."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import mmap_io
from conftest import dirty_kib, linux_only, wait_for_threads_to_end
from mmap_io import (
    FlushPolicy,
    InvalidModeError,
    MemoryMappedFile,
    MmapAdvice,
    MmapIoError,
    MmapMode,
    ResizeFailedError,
    TouchHint,
)


def test_create_rw_makes_a_zeroed_file_of_that_size(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 5000) as mm:
        assert len(mm) == 5000 and mm.mode is MmapMode.READ_WRITE
        assert mm.read_bytes(0, 5000) == bytes(5000)
        assert mm.path == path and mm.created
    assert path.stat().st_size == 5000


def test_create_rw_truncates_an_existing_file(path: Path) -> None:
    path.write_bytes(b"old contents" * 100)
    with MemoryMappedFile.create_rw(path, 64) as mm:
        assert mm.read_bytes(0, 64) == bytes(64) and not mm.created
    assert path.read_bytes() == bytes(64)


@pytest.mark.parametrize("size", [0, -1, -(2**64), 2**64, 2**62])
def test_invalid_sizes_raise_resize_failed_and_touch_no_file(path: Path, size: int) -> None:
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.create_rw(path, size)
    assert not path.exists()
    with pytest.raises(ResizeFailedError):
        mmap_io.create_mmap(path, size)
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.open_or_create(path, size)
    assert not path.exists()
    with pytest.raises(ResizeFailedError):
        mmap_io.AnonymousMmap(size)


def test_invalid_size_keeps_an_existing_file_intact(path: Path) -> None:
    path.write_bytes(b"keep me")
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.create_rw(path, 0)
    assert path.read_bytes() == b"keep me"


@pytest.mark.parametrize("bad", [True, 1.0, None, "10", b"10"])
def test_wrong_typed_size_is_a_type_error_and_touches_no_file(path: Path, bad: object) -> None:
    with pytest.raises(TypeError):
        MemoryMappedFile.create_rw(path, bad)  # type: ignore[arg-type]
    assert not path.exists()


@pytest.mark.parametrize("bad", [5, 3.0, None, ["a"]])
def test_wrong_typed_path_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError):
        MemoryMappedFile.create_rw(bad, 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MemoryMappedFile.open_ro(bad)  # type: ignore[arg-type]


def test_mode_that_is_not_an_mmap_mode_is_a_type_error(path: Path) -> None:
    path.write_bytes(b"x" * 10)
    with pytest.raises(TypeError):
        mmap_io.load_mmap(path, "r")  # type: ignore[arg-type]
    with pytest.raises(TypeError), open(path, "rb") as file:
        MemoryMappedFile.from_file(file, "r")  # type: ignore[arg-type]


def test_options_are_type_checked_before_any_file_is_created(path: Path) -> None:
    for options in ({"flush_policy": "never"}, {"touch_hint": 1}, {"huge_pages": "yes"}):
        with pytest.raises(TypeError):
            MemoryMappedFile.create_rw(path, 10, **options)
    assert not path.exists()


@pytest.mark.parametrize("opener", ["open_ro", "open_rw", "open_cow"])
def test_missing_file_is_file_not_found_with_the_callers_path(path: Path, opener: str) -> None:
    with pytest.raises(FileNotFoundError) as info:
        getattr(MemoryMappedFile, opener)(path)
    error = info.value
    assert isinstance(error, MmapIoError)
    assert error.errno == 2 and error.filename == path


def test_mapping_a_directory_is_an_os_error_too(tmp_path: Path) -> None:
    with pytest.raises(MmapIoError) as info:
        MemoryMappedFile.open_ro(tmp_path)
    assert isinstance(info.value, OSError) and info.value.filename == tmp_path


@pytest.mark.parametrize("opener", ["open_rw", "open_cow", "open_ro"])
def test_empty_files_cannot_be_mapped(path: Path, opener: str) -> None:
    path.write_bytes(b"")
    with pytest.raises(ResizeFailedError):
        getattr(MemoryMappedFile, opener)(path)


def test_from_file_in_rw_mode_rejects_an_empty_file(path: Path) -> None:
    path.write_bytes(b"")
    file = open(path, "r+b")  # noqa: SIM115 - the mapping takes ownership
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.from_file(file, MmapMode.READ_WRITE, path)
    assert file.closed  # the mapping took ownership, even on failure


def test_from_file_maps_and_owns_the_file(path: Path) -> None:
    path.write_bytes(b"abcdef")
    file = open(path, "r+b")  # noqa: SIM115 - the mapping takes ownership
    with MemoryMappedFile.from_file(file, MmapMode.READ_WRITE, path) as mm:
        assert mm.read_bytes(0, 6) == b"abcdef" and mm.path == path
        mm.update_region(0, b"A")
    assert file.closed
    assert path.read_bytes() == b"Abcdef"
    file = open(path, "rb")  # noqa: SIM115 - the mapping takes ownership
    with MemoryMappedFile.from_file(file, MmapMode.READ_ONLY) as ro:
        assert ro.path is None


def test_from_file_with_a_read_only_file_cannot_map_read_write(path: Path) -> None:
    path.write_bytes(b"abc")
    with pytest.raises(PermissionError) as info:
        MemoryMappedFile.from_file(open(path, "rb"), MmapMode.READ_WRITE, path)  # noqa: SIM115
    assert isinstance(info.value, MmapIoError)


def test_copy_on_write_keeps_writes_private(path: Path) -> None:
    path.write_bytes(b"original")
    with MemoryMappedFile.open_cow(path) as cow, MemoryMappedFile.open_ro(path) as ro:
        cow.update_region(0, b"PRIVATE!")
        with cow.as_slice_mut(0, 1) as view:
            view[0] = ord("p")
        assert cow.read_bytes(0, 8) == b"pRIVATE!"
        cow.flush()
        assert ro.read_bytes(0, 8) == b"original"
        with pytest.raises(InvalidModeError):
            cow.resize(100)
    assert path.read_bytes() == b"original"


def test_read_only_mapping_cannot_resize(path: Path) -> None:
    path.write_bytes(b"abc")
    with MemoryMappedFile.open_ro(path) as ro, pytest.raises(InvalidModeError):
        ro.resize(10)


def test_resize_grows_with_zeros_and_shrinks_the_file(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 100) as mm:
        mm.update_region(0, b"x" * 100)
        mm.resize(300)
        assert len(mm) == 300 and path.stat().st_size == 300
        assert mm.read_bytes(0, 300) == b"x" * 100 + bytes(200)
        mm.resize(50)
        assert len(mm) == 50 and path.stat().st_size == 50
        assert mm.read_bytes(0, 50) == b"x" * 50
        for bad in (0, -5, 2**64):
            with pytest.raises(ResizeFailedError):
                mm.resize(bad)
        with pytest.raises(TypeError):
            mm.resize(10.0)  # type: ignore[arg-type]
        assert len(mm) == 50


def test_open_rw_of_existing_file_sees_and_keeps_its_bytes(path: Path) -> None:
    path.write_bytes(b"0123456789")
    with MemoryMappedFile.open_rw(path) as mm:
        assert mm.read_bytes(2, 3) == b"234"
        mm.update_region(0, b"ab")
    assert path.read_bytes() == b"ab23456789"


@linux_only
def test_flush_leaves_no_dirty_page_behind(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 64 * 4096) as mm:
        mm.update_region(0, b"\x01" * (64 * 4096))
        assert dirty_kib(mm.address) >= 256
        mm.flush()
        assert dirty_kib(mm.address) == 0
        assert mm.pending_bytes == 0


@linux_only
def test_flush_range_cleans_its_pages_and_only_resets_pending_when_whole(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 8 * 4096) as mm:
        mm.update_region(0, b"\x01" * (8 * 4096))
        mm.flush_range(4096 + 10, 100)  # inside page 1 only
        assert dirty_kib(mm.address) == 7 * 4
        assert mm.pending_bytes == 8 * 4096
        mm.flush_range(0, 0)
        assert mm.pending_bytes == 8 * 4096
        mm.flush_range(0, len(mm))
        assert dirty_kib(mm.address) == 0 and mm.pending_bytes == 0


def test_flush_always_syncs_even_under_the_default_policy(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        assert mm.flush_policy == FlushPolicy.NEVER
        mm.update_region(0, b"durable")
        assert mm.pending_bytes == 7
        mm.flush()
        assert mm.pending_bytes == 0


@linux_only
def test_sync_all_flushes_then_fsyncs_file_and_directory(path: Path) -> None:
    # What fsync adds (size and directory entry surviving a power loss) cannot be
    # observed without one; this checks the flush part and that both fsyncs run.
    with MemoryMappedFile.create_rw(path, 8 * 4096) as mm:
        mm.update_region(0, b"x" * (8 * 4096))
        mm.resize(16 * 4096)
        mm.sync_all()
        assert mm.pending_bytes == 0 and dirty_kib(mm.address) == 0
    with MemoryMappedFile.open_rw(path) as reopened:  # not created here: file fsync only
        reopened.sync_all()
        reopened.close()
        with pytest.raises(ValueError):
            reopened.sync_all()


def test_unmap_returns_the_open_file_and_closes_the_mapping(path: Path) -> None:
    mm = MemoryMappedFile.create_rw(path, 16)
    mm.update_region(0, b"done")
    file = mm.unmap()
    assert mm.closed and not file.closed
    assert file.read(4) == b"done"
    file.seek(0, io.SEEK_END)
    file.write(b"more")
    file.close()
    assert path.read_bytes() == b"done" + bytes(12) + b"more"


def test_unmap_beside_a_live_view_hands_the_file_back(path: Path) -> None:
    mm = MemoryMappedFile.create_rw(path, 16)
    mm.update_region(0, b"u")
    view = mm.as_slice(0, 1)
    file = mm.unmap()
    assert mm.closed and view == b"u" and file.read(1) == b"u"
    with pytest.raises(MmapIoError) as info:
        mm.unmap()  # already closed
    assert isinstance(info.value, ValueError)
    view.release()
    file.close()


def test_fileno_is_the_mapped_file(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 16) as mm:
        mm.update_region(0, b"via fd")
        assert os.pread(mm.fileno(), 6, 0) == b"via fd"


def test_touch_and_prefetch_and_advise_keep_the_data(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 64)
    with MemoryMappedFile.open_ro(path, touch_hint=TouchHint.EAGER) as mm:
        mm.touch_pages()
        mm.touch_pages_range(100, 5000)
        mm.prefetch_range(0, len(mm))
        for advice in MmapAdvice:
            mm.advise(0, len(mm), advice)
        assert mm.read_bytes(0, len(mm)) == bytes(range(256)) * 64
        with pytest.raises(TypeError):
            mm.advise(0, 10, "random")  # type: ignore[arg-type]


def test_touch_hint_lazy_and_never_are_accepted(path: Path) -> None:
    path.write_bytes(b"abc")
    for hint in TouchHint:
        with MemoryMappedFile.open_ro(path, touch_hint=hint) as mm:
            assert mm.read_bytes(0, 3) == b"abc"


def test_repr_names_mode_path_and_size(path: Path) -> None:
    mm = MemoryMappedFile.create_rw(path, 10)
    assert "read-write" in repr(mm) and "10 bytes" in repr(mm) and "data.bin" in repr(mm)
    mm.close()
    assert "closed" in repr(mm)


def test_manager_functions(path: Path, tmp_path: Path) -> None:
    mm = mmap_io.create_mmap(path, 32)
    mmap_io.update_region(mm, 0, b"managed")
    mmap_io.flush(mm)
    mm.close()
    with mmap_io.load_mmap(path, MmapMode.READ_ONLY) as ro:
        assert ro.read_bytes(0, 7) == b"managed"
    copy = tmp_path / "copy.bin"
    mmap_io.copy_mmap(path, copy)
    assert copy.read_bytes() == path.read_bytes()
    mmap_io.delete_mmap(copy)
    assert not copy.exists()
    with pytest.raises(FileNotFoundError) as info:
        mmap_io.delete_mmap(copy)
    assert isinstance(info.value, MmapIoError) and info.value.filename == copy
    with pytest.raises(FileNotFoundError) as info:
        mmap_io.copy_mmap(tmp_path / "missing", copy)
    assert info.value.filename == tmp_path / "missing"


# -- close and unmap beside the mapping's helper threads ------------------------------
# Each case runs in a thread joined with a timeout, so a deadlock fails the test.


def _finishes(body: Callable[[], None], timeout: float = 60) -> None:
    """Run `body` in a thread; fail if it hangs past `timeout` or raises."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "deadlocked"
    assert errors == []


@pytest.mark.parametrize("how", ["close", "unmap"])
def test_close_and_unmap_never_deadlock_with_the_flush_timer(path: Path, how: str) -> None:
    """The timer flushes every millisecond; each mapping closes while it has writes the
    timer is about to flush, or is flushing."""

    def rounds() -> None:
        for i in range(50):
            mm = MemoryMappedFile.create_rw(path, 1 << 20, flush_policy=FlushPolicy.every_millis(1))
            while mm.sync_count == 0:  # the timer is at work
                mm.update_region(0, b"%04d" % i)
            for page in range(16):
                mm.update_region(page * 4096, b"%04d" % i)
            if how == "close":
                mm.close()
            else:
                mm.unmap().close()
            assert path.read_bytes()[15 * 4096 : 15 * 4096 + 4] == b"%04d" % i

    _finishes(rounds)
    assert wait_for_threads_to_end("mmap_io-flush-timer") == []


@pytest.mark.parametrize("touch", ["read_bytes", "pending_bytes", "close"])
@pytest.mark.parametrize("how", ["close", "unmap"])
def test_close_and_unmap_never_deadlock_with_a_watch_callback_using_the_mapping(
    path: Path, how: str, touch: str
) -> None:
    """The callback is inside the mapping (reading, counting pending bytes under its
    lock, or closing it itself) while the test thread closes or unmaps it."""
    pytest.importorskip("watchfiles")
    path.write_bytes(bytes(4096))
    mm = MemoryMappedFile.open_rw(path)
    # pending_bytes takes the lock when a mutable view is alive
    held = mm.as_slice_mut(0, 4) if touch == "pending_bytes" else None
    inside, go = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    def callback(event: object) -> None:
        if inside.is_set():
            return
        inside.set()
        go.wait(10)
        try:
            closed = False
            while not closed:  # once more after the close, then stop
                closed = mm.closed
                if touch == "read_bytes":
                    assert mm.read_bytes(0, 4) == bytes(4)
                elif touch == "pending_bytes":
                    assert mm.pending_bytes == 0
                else:
                    mm.close()
        except MmapIoError as error:  # closed meanwhile: must be the closed error
            if not isinstance(error, ValueError):
                raised.append(error)
        except BaseException as error:
            raised.append(error)

    handle = mm.watch(callback)
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, b"\0", 100)  # the same byte: the mapping's bytes do not change
        os.fsync(fd)
    finally:
        os.close(fd)
    assert inside.wait(10), "no event arrived"

    def close() -> None:
        go.set()
        if how == "close":
            mm.close()
        else:
            mm.unmap().close()

    _finishes(close)
    _finishes(handle.stop)
    assert mm.closed and raised == []
    if held is not None:
        held.release()
