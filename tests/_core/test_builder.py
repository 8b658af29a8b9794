"""MmapBuilder: chained options, then create, open or open_or_create."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmap_io import (
    FlushPolicy,
    InvalidModeError,
    MemoryMappedFile,
    MmapIoError,
    MmapMode,
    ResizeFailedError,
    TouchHint,
)


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


@pytest.mark.parametrize("bad", ["READ_WRITE", "read-write", None, 1])
def test_builder_mode_must_be_an_mmap_mode(path: Path, bad: object) -> None:
    with pytest.raises(TypeError) as info:
        MemoryMappedFile.builder(path).mode(bad).size(10).create()  # type: ignore[arg-type]
    assert isinstance(info.value, MmapIoError)
    assert not path.exists()


@pytest.mark.parametrize("mode", [MmapMode.READ_ONLY, MmapMode.COPY_ON_WRITE])
def test_builder_creates_only_read_write_mappings(path: Path, mode: MmapMode) -> None:
    with pytest.raises(InvalidModeError):
        MemoryMappedFile.builder(path).mode(mode).size(10).create()
    with pytest.raises(InvalidModeError):
        MemoryMappedFile.builder(path).mode(mode).size(10).open_or_create()
    assert not path.exists()
    path.write_bytes(b"existing")
    with pytest.raises(InvalidModeError):
        MemoryMappedFile.builder(path).mode(mode).size(10).open_or_create()
    with pytest.raises(InvalidModeError):
        MemoryMappedFile.builder(path).mode(mode).size(10).create()
    assert path.read_bytes() == b"existing"  # neither truncated nor grown
    with MemoryMappedFile.builder(path).mode(mode).open() as mm:  # open() takes the mode
        assert mm.mode is mode


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("size", "10"),
        ("size", 1.5),
        ("size", True),
        ("flush_policy", "often"),
        ("touch_hint", "eager"),
        ("huge_pages", 1),
        ("sparse", "yes"),
    ],
)
def test_builder_refuses_a_wrong_type_when_the_option_is_given(
    path: Path, option: str, bad: object
) -> None:
    builder = MemoryMappedFile.builder(path)
    with pytest.raises(TypeError) as info:
        getattr(builder, option)(bad)
    assert isinstance(info.value, MmapIoError)
    assert not path.exists()


def test_builder_sparse_keeps_holes_and_the_default_reserves_blocks(tmp_path: Path) -> None:
    holes, full = tmp_path / "holes.bin", tmp_path / "full.bin"
    with MemoryMappedFile.builder(holes).size(1 << 20).sparse().create():
        pass
    with MemoryMappedFile.builder(full).size(1 << 20).sparse(False).create():
        pass
    assert os.stat(holes).st_blocks == 0
    if os.stat(full).st_blocks == 0:
        pytest.skip("this file system cannot reserve blocks (files get holes)")
    assert os.stat(full).st_blocks * 512 >= 1 << 20
