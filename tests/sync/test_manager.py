# GENERATED from tests/aio/test_manager.py by scripts/unasync.py: do not edit.
"""Module-level constructors and manager helpers, on every event loop (sync twin generated)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmap_io import MemoryMappedFile, MmapIoError, MmapMode, ResizeFailedError, sync


def test_constructors_return_a_mapping(path: Path) -> None:
    mm = sync.create_rw(path, 64)
    assert isinstance(mm, MemoryMappedFile) and mm.mode is MmapMode.READ_WRITE
    mm.touch_pages()  # resident: the sync write below faults nothing
    mm.update_region_durable(0, b"made")
    mm.close()
    for opener, mode in (
        (sync.open_ro, MmapMode.READ_ONLY),
        (sync.open_rw, MmapMode.READ_WRITE),
        (sync.open_cow, MmapMode.COPY_ON_WRITE),
    ):
        opened = opener(path)
        assert opened.mode is mode and opened.read_bytes(0, 4) == b"made"
        opened.close()


def test_constructors_work_as_context_managers(path: Path) -> None:
    with sync.create_rw(path, 64) as mm:
        mm.touch_pages()  # resident: the sync write below faults nothing
        mm.update_region_durable(0, b"ctx")
    assert mm.closed
    with sync.open_rw(path) as again:
        assert again.read_bytes(0, 3) == b"ctx"
    assert again.closed


def test_open_or_create_reports_who_created(path: Path) -> None:
    first = sync.open_or_create(path, 128)
    second = sync.open_or_create(path, 999)
    assert first.created and not second.created and len(second) == 128
    first.close()
    second.close()


def test_constructor_errors(path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        sync.open_ro(path)
    assert isinstance(info.value, MmapIoError) and info.value.filename == path
    with pytest.raises(ResizeFailedError):
        sync.create_rw(path, 0)
    assert not path.exists()


def test_manager_functions(path: Path, tmp_path: Path) -> None:
    mm = sync.create_mmap(path, 32)
    sync.update_region_durable(mm, 0, b"managed")
    assert mm.pending_bytes == 0
    mm.touch_pages()  # resident: the sync write below faults nothing
    mm.update_region_durable(8, b"more")
    sync.flush(mm)
    assert mm.pending_bytes == 0
    mm.close()
    loaded = sync.load_mmap(path, MmapMode.READ_ONLY)
    assert loaded.read_bytes(0, 12) == b"managed\0more"
    loaded.close()
    copy = tmp_path / "copy.bin"
    sync.copy_mmap(path, copy)
    assert copy.read_bytes() == path.read_bytes()
    sync.delete_mmap(copy)
    assert not copy.exists()
    with pytest.raises(FileNotFoundError):
        sync.delete_mmap(copy)
    with pytest.raises(TypeError):
        sync.load_mmap(path, "r")  # type: ignore[arg-type]
    with pytest.raises(ResizeFailedError):
        sync.create_mmap(path, -1)


def test_copying_a_file_onto_itself_is_refused_and_loses_nothing(
    path: Path, tmp_path: Path
) -> None:
    path.write_bytes(b"precious" * 512)
    alias = tmp_path / "alias.bin"
    alias.hardlink_to(path)  # the same file under another name
    for target in (path, alias):
        with pytest.raises(shutil.SameFileError) as info:
            sync.copy_mmap(path, target)
        assert isinstance(info.value, MmapIoError)
        assert path.read_bytes() == b"precious" * 512
