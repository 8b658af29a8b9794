"""Huge pages: the hint is given (and never fails), and is_hugepage_backed reports what happened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import linux_only
from mmap_io import AnonymousMmap, MemoryMappedFile, MmapIoError
from mmap_io._core import _os
from mmap_io._core._os import _stub

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")
THP_ON = THP.exists() and "[never]" not in THP.read_text()
BIG = 16 << 20


def _vm_flags(address: int) -> list[str]:
    """The VmFlags of the memory area holding `address` (proc(5): "hg" = MADV_HUGEPAGE)."""
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            start, end = (int(x, 16) for x in head.split("-"))
            inside = start <= address < end
        elif inside and head == "VmFlags:":
            return line.split()[1:]
    return []


@linux_only
@pytest.mark.skipif(not THP_ON, reason="transparent huge pages are off")
def test_a_big_anonymous_map_gets_huge_pages_once_touched() -> None:
    with AnonymousMmap(BIG, huge_pages=True) as mm:
        assert "hg" in _vm_flags(mm.address)
        assert mm.is_hugepage_backed() is False  # nothing faulted in yet
        mm.update_region(0, b"\x01" * BIG)
        assert mm.is_hugepage_backed() is True


@linux_only
def test_without_the_hint_no_huge_page_is_asked_for() -> None:
    with AnonymousMmap(BIG) as mm:
        mm.update_region(0, b"\x01" * BIG)
        assert "hg" not in _vm_flags(mm.address)


@linux_only  # needs fork
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_huge_anonymous_memory_is_private_to_the_process() -> None:
    with AnonymousMmap(4096, huge_pages=True) as mm:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            mm.update_region(0, b"child")
            os._exit(0)
        os.waitpid(pid, 0)
        assert mm.read_bytes(0, 5) == bytes(5)  # the documented price of the hint


@linux_only
@pytest.mark.parametrize("huge_pages", [True, False])
def test_a_small_file_mapping_is_never_hugepage_backed(path: Path, huge_pages: bool) -> None:
    with MemoryMappedFile.create_rw(path, 8192, huge_pages=huge_pages) as mm:
        mm.update_region(0, b"\x02" * 8192)
        assert mm.is_hugepage_backed() is False
        assert ("hg" in _vm_flags(mm.address)) is huge_pages


@linux_only
def test_the_hint_survives_a_resize(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 8192, huge_pages=True) as mm:
        mm.resize(4 << 20)
        assert "hg" in _vm_flags(mm.address)


def test_the_hint_never_fails(path: Path) -> None:
    path.write_bytes(b"\x03" * 100)
    for mapping in (
        MemoryMappedFile.open_ro(path, huge_pages=True),
        MemoryMappedFile.open_cow(path, huge_pages=True),
        MemoryMappedFile.open_rw(path, huge_pages=True),
        MemoryMappedFile.builder(path).huge_pages(True).open(),
        AnonymousMmap(1, huge_pages=True),
        AnonymousMmap(3 << 20, huge_pages=True),
    ):
        with mapping as mm:
            assert mm.is_hugepage_backed() in (True, False, None)
            assert mm.read_bytes(0, 1) in (b"\x03", b"\x00")


def test_a_wrong_type_hint_is_a_type_error() -> None:
    with pytest.raises(TypeError) as info:
        AnonymousMmap(4096, huge_pages=1)  # type: ignore[arg-type]
    assert isinstance(info.value, MmapIoError)


def test_unknown_where_the_platform_cannot_tell(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        monkeypatch.setattr(_os, "hugepage_backed", _stub.hugepage_backed)
        assert mm.is_hugepage_backed() is None

        def unreadable(address: int, length: int) -> bool:
            raise PermissionError(13, "/proc/self/smaps")

        monkeypatch.setattr(_os, "hugepage_backed", unreadable)
        assert mm.is_hugepage_backed() is None


def test_a_closed_mapping_refuses() -> None:
    mm = AnonymousMmap(4096)
    mm.close()
    with pytest.raises(ValueError):
        mm.is_hugepage_backed()
