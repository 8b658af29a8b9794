"""MmapBuilder: chained options, then create, open or open_or_create."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmap_io import FlushPolicy, MemoryMappedFile, MmapMode, ResizeFailedError, TouchHint


def test_builder_create_with_options(path: Path) -> None:
    mm = (
        MemoryMappedFile.builder(path)
        .mode(MmapMode.READ_WRITE)
        .size(1000)
        .flush_policy(FlushPolicy.every_bytes(64))
        .touch_hint(TouchHint.EAGER)
        .huge_pages(False)
        .create()
    )
    with mm:
        assert len(mm) == 1000 and mm.flush_policy == FlushPolicy.every_bytes(64)


def test_builder_open_in_a_mode(path: Path) -> None:
    path.write_bytes(b"abc")
    with MemoryMappedFile.builder(path).mode(MmapMode.READ_ONLY).open() as mm:
        assert mm.mode is MmapMode.READ_ONLY and mm.read_bytes(0, 3) == b"abc"


def test_builder_open_or_create(path: Path) -> None:
    with MemoryMappedFile.builder(path).size(10).open_or_create() as mm:
        assert mm.created and len(mm) == 10
    with MemoryMappedFile.builder(path).size(99).open_or_create() as mm:
        assert not mm.created and len(mm) == 10


def test_builder_needs_a_valid_size_to_create(path: Path) -> None:
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.builder(path).create()
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.builder(path).size(0).create()
    assert not path.exists()
    with pytest.raises(TypeError):
        MemoryMappedFile.builder(path).size(10).flush_policy("often").create()  # type: ignore[arg-type]
    assert not path.exists()
