"""Module-level constructors and manager helpers, on every event loop (sync twin generated)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmap_io import MemoryMappedFile, MmapIoError, MmapMode, ResizeFailedError, aio

pytestmark = pytest.mark.anyio  # async-only


async def test_constructors_return_a_mapping(path: Path) -> None:
    mm = await aio.create_rw(path, 64)
    assert isinstance(mm, MemoryMappedFile) and mm.mode is MmapMode.READ_WRITE
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    await mm.update_region_async(0, b"made")
    await mm.aclose()
    for opener, mode in (
        (aio.open_ro, MmapMode.READ_ONLY),
        (aio.open_rw, MmapMode.READ_WRITE),
        (aio.open_cow, MmapMode.COPY_ON_WRITE),
    ):
        opened = await opener(path)
        assert opened.mode is mode and opened.read_bytes(0, 4) == b"made"
        await opened.aclose()


async def test_constructors_work_as_context_managers(path: Path) -> None:
    async with aio.create_rw(path, 64) as mm:
        await mm.touch_pages_async()  # resident: the sync write below faults nothing
        await mm.update_region_async(0, b"ctx")
    assert mm.closed
    async with await aio.open_rw(path) as again:
        assert again.read_bytes(0, 3) == b"ctx"
    assert again.closed


async def test_open_or_create_reports_who_created(path: Path) -> None:
    first = await aio.open_or_create(path, 128)
    second = await aio.open_or_create(path, 999)
    assert first.created and not second.created and len(second) == 128
    await first.aclose()
    await second.aclose()


async def test_constructor_errors(path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        await aio.open_ro(path)
    assert isinstance(info.value, MmapIoError) and info.value.filename == path
    with pytest.raises(ResizeFailedError):
        await aio.create_rw(path, 0)
    assert not path.exists()


async def test_manager_functions(path: Path, tmp_path: Path) -> None:
    mm = await aio.create_mmap_async(path, 32)
    await aio.update_region_async(mm, 0, b"managed")
    assert mm.pending_bytes == 0
    await mm.touch_pages_async()  # resident: the sync write below faults nothing
    await mm.update_region_async(8, b"more")
    await aio.flush_async(mm)
    assert mm.pending_bytes == 0
    await mm.aclose()
    loaded = await aio.load_mmap_async(path, MmapMode.READ_ONLY)
    assert loaded.read_bytes(0, 12) == b"managed\0more"
    await loaded.aclose()
    copy = tmp_path / "copy.bin"
    await aio.copy_mmap_async(path, copy)
    assert copy.read_bytes() == path.read_bytes()
    await aio.delete_mmap_async(copy)
    assert not copy.exists()
    with pytest.raises(FileNotFoundError):
        await aio.delete_mmap_async(copy)
    with pytest.raises(TypeError):
        await aio.load_mmap_async(path, "r")  # type: ignore[arg-type]
    with pytest.raises(ResizeFailedError):
        await aio.create_mmap_async(path, -1)


async def test_copying_a_file_onto_itself_is_refused_and_loses_nothing(
    path: Path, tmp_path: Path
) -> None:
    path.write_bytes(b"precious" * 512)
    alias = tmp_path / "alias.bin"
    alias.hardlink_to(path)  # the same file under another name
    for target in (path, alias):
        with pytest.raises(shutil.SameFileError) as info:
            await aio.copy_mmap_async(path, target)
        assert isinstance(info.value, MmapIoError)
        assert path.read_bytes() == b"precious" * 512
