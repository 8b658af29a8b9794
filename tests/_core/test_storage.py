"""Storage faults on a real 1 MiB tmpfs: a full disk is a typed error, never a SIGBUS.

Whatever writes into the mapping runs in a child process (run_child), so a SIGBUS
there fails the test with the signal's name instead of killing pytest. The file
system is mounted per test (root only; skipped with mount's reason elsewhere).
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from conftest import CHILD_PRELUDE, mounted, run_child
from mmap_io import (
    AnonymousMmap,
    MemoryMappedFile,
    MmapIoError,
    ResizeFailedError,
    aio,
    create_mmap,
)
from mmap_io._core import _os

KIB = 1024
MIB = 1024 * KIB


def _via_aio(make: Callable[..., Any], *args: Any, **options: Any) -> MemoryMappedFile:
    async def run() -> MemoryMappedFile:
        return await make(*args, **options)  # type: ignore[no-any-return]

    return anyio.run(run)


CREATORS: dict[str, Callable[..., MemoryMappedFile]] = {
    "create_rw": MemoryMappedFile.create_rw,
    "create_mmap": create_mmap,
    "open_or_create": MemoryMappedFile.open_or_create,
    "builder.create": lambda p, n, **o: _build(p, n, **o).create(),
    "builder.open_or_create": lambda p, n, **o: _build(p, n, **o).open_or_create(),
    "aio.create_rw": lambda p, n, **o: _via_aio(aio.create_rw, p, n, **o),
    "aio.create_mmap_async": lambda p, n, **o: _via_aio(aio.create_mmap_async, p, n, **o),
    "aio.open_or_create": lambda p, n, **o: _via_aio(aio.open_or_create, p, n, **o),
}


def _build(path: Path, size: int, sparse: bool = False) -> Any:
    builder = MemoryMappedFile.builder(path).size(size)
    return builder.sparse() if sparse else builder


def _assert_full(error: BaseException, path: Path) -> None:
    assert isinstance(error, ResizeFailedError) and isinstance(error, OSError)
    assert error.errno == errno.ENOSPC and error.filename == path


def _free(fs: Path) -> int:
    stats = os.statvfs(fs)
    return stats.f_bfree * stats.f_frsize


@pytest.mark.parametrize("creator", CREATORS)
def test_a_file_larger_than_the_disk_is_refused_and_not_left_behind(
    small_fs: Path, creator: str
) -> None:
    path = small_fs / "big.bin"
    free = _free(small_fs)
    with pytest.raises(ResizeFailedError) as info:
        CREATORS[creator](path, 4 * MIB)
    _assert_full(info.value, path)
    assert not path.exists() and _free(small_fs) == free  # nothing held either


@pytest.mark.parametrize("creator", ["create_rw", "create_mmap", "builder.create"])
def test_recreating_a_file_that_no_longer_fits_keeps_its_bytes(
    small_fs: Path, creator: str
) -> None:
    path = small_fs / "old.bin"
    old = os.urandom(512 * KIB)
    path.write_bytes(old)
    with pytest.raises(ResizeFailedError) as info:
        CREATORS[creator](path, 2 * MIB)  # the old bytes' blocks would not be enough
    _assert_full(info.value, path)
    assert path.read_bytes() == old
    with CREATORS[creator](path, 768 * KIB) as mm:  # fits once the old bytes are gone
        assert not mm.created and mm.read_bytes(0, len(mm)) == bytes(768 * KIB)
    assert os.stat(path).st_size == 768 * KIB
    assert os.stat(path).st_blocks * 512 >= 768 * KIB  # reserved, not holes


_FILL = """
root, make = sys.argv[1], sys.argv[2]
made, refusal = [], None
for i in range(100):
    path = os.path.join(root, f"{i}.bin")
    n = 96 * 1024
    try:
        mm = eval(make)
    except ResizeFailedError as error:
        refusal = describe(error)
        refusal["left"] = os.path.exists(path)
        break
    with mm:
        for off in range(0, n, 4096):
            mm.update_region(off, bytes([i % 251 + 1]) * 4096)  # every page, through the map
        mm.flush()
    made.append(path)
print(json.dumps({"made": made, "refusal": refusal}))
"""


@pytest.mark.parametrize(
    "make",
    [
        "MemoryMappedFile.create_rw(path, n)",
        "MemoryMappedFile.open_or_create(path, n)",
        "create_mmap(path, n)",
        "MemoryMappedFile.builder(path).size(n).create()",
    ],
)
def test_creating_and_writing_until_the_disk_is_full_never_signals(
    small_fs: Path, make: str
) -> None:
    report = run_child(_FILL, str(small_fs), make)
    refusal = report["refusal"]
    assert refusal is not None, "the 1 MiB disk never filled up"
    assert refusal["resize"] and refusal["os"] and refusal["errno"] == errno.ENOSPC
    assert refusal["filename"].startswith(str(small_fs)) and not refusal["left"]
    assert len(report["made"]) >= 8  # 96 KiB files: most of the megabyte was used
    for i, name in enumerate(report["made"]):  # every written byte is in the files
        assert Path(name).read_bytes() == bytes([i % 251 + 1]) * 96 * KIB


_GROW = """
root, how = sys.argv[1], sys.argv[2]
path = os.path.join(root, "grow.bin")
step = 64 * 1024
mm = MemoryMappedFile.create_rw(path, step)
mm.update_region(0, b"\\x01" * step)

def resize(n):
    if how == "resize":
        mm.resize(n)
    else:
        anyio.run(mm.resize_async, n)

report = {}
try:
    resize(4 * 1024 * 1024)  # far more than the disk holds
except ResizeFailedError as error:
    report["first"] = describe(error)
report["after_first"] = [len(mm), os.path.getsize(path), mm.read_bytes(0, step) == b"\\x01" * step]
size = step
while True:  # then grow step by step, writing every new page, until refused
    try:
        resize(size + step)
    except ResizeFailedError as error:
        report["last"] = describe(error)
        break
    mm.update_region(size, bytes([size // step % 251 + 1]) * step)
    size += step
mm.update_region(0, b"still usable")
mm.flush()
report["size"], report["len"], report["file"] = size, len(mm), os.path.getsize(path)
mm.close()
print(json.dumps(report))
"""


@pytest.mark.parametrize("how", ["resize", "resize_async"])
def test_growing_until_the_disk_is_full_never_signals(small_fs: Path, how: str) -> None:
    report = run_child(_GROW, str(small_fs), how)
    for refusal in (report["first"], report["last"]):
        assert refusal["resize"] and refusal["os"] and refusal["errno"] == errno.ENOSPC
    assert report["after_first"] == [64 * KIB, 64 * KIB, True]  # mapping and file as before
    size = report["size"]
    assert size > 64 * KIB and report["len"] == report["file"] == size
    expected = b"still usable" + b"\x01" * (64 * KIB - 12)
    expected += b"".join(bytes([i % 251 + 1]) * 64 * KIB for i in range(1, size // (64 * KIB)))
    assert (small_fs / "grow.bin").read_bytes() == expected


def test_a_refused_growth_leaves_the_mapping_usable_in_process(small_fs: Path) -> None:
    path = small_fs / "data.bin"
    with MemoryMappedFile.create_rw(path, 128 * KIB) as mm:
        mm.update_region(0, b"kept")
        with pytest.raises(ResizeFailedError) as info:
            mm.resize(2 * MIB)
        _assert_full(info.value, path)
        assert len(mm) == os.path.getsize(path) == 128 * KIB
        assert mm.read_bytes(0, 4) == b"kept"
        mm.resize(256 * KIB)  # a growth that fits still works
        assert os.stat(path).st_blocks * 512 >= 256 * KIB


def test_only_what_the_library_creates_or_grows_gets_blocks(small_fs: Path) -> None:
    path = small_fs / "sparse.bin"
    with open(path, "wb") as file:
        file.truncate(4 * MIB)  # four times the disk, all holes
    assert os.stat(path).st_blocks == 0
    for opener in (MemoryMappedFile.open_ro, MemoryMappedFile.open_rw, MemoryMappedFile.open_cow):
        with opener(path) as mm:
            assert len(mm) == 4 * MIB
    with MemoryMappedFile.open_or_create(path, 4096) as mm:
        assert not mm.created and len(mm) == 4 * MIB
    assert os.stat(path).st_blocks == 0  # opened files are left as they are
    with MemoryMappedFile.open_rw(path) as mm:
        mm.resize(4 * MIB + 64 * KIB)
        assert os.stat(path).st_blocks * 512 == 64 * KIB  # the grown part, and only it
        mm.resize(2 * MIB)  # a shrink allocates nothing
    assert os.stat(path).st_blocks == 0 and os.path.getsize(path) == 2 * MIB


@pytest.mark.parametrize("creator", CREATORS)
def test_sparse_keeps_holes_when_creating_and_growing(small_fs: Path, creator: str) -> None:
    path = small_fs / "holes.bin"
    with CREATORS[creator](path, 4 * MIB, sparse=True) as mm:  # more than the disk holds
        assert mm.created and len(mm) == 4 * MIB
        mm.resize(8 * MIB)  # the option stays with the mapping
        assert len(mm) == 8 * MIB
    assert os.stat(path).st_blocks == 0 and os.path.getsize(path) == 8 * MIB


def test_sparse_mappings_still_die_of_sigbus_when_the_disk_fills(small_fs: Path) -> None:
    """What `sparse=True` opts back into, and proof that run_child's check can see it."""
    code = CHILD_PRELUDE + textwrap.dedent(
        """
        mm = MemoryMappedFile.create_rw(os.path.join(sys.argv[1], "holes.bin"), 4 << 20,
                                        sparse=True)
        for off in range(0, len(mm), 4096):
            mm.update_region(off, b"x" * 4096)
        """
    )
    result = subprocess.run([sys.executable, "-c", code, str(small_fs)], capture_output=True)
    assert result.returncode == -signal.SIGBUS


def test_sizes_the_machine_cannot_map_leave_no_file(small_fs: Path) -> None:
    path = small_fs / "huge.bin"
    with pytest.raises(ResizeFailedError) as info:  # reserving 128 TiB: ENOSPC
        MemoryMappedFile.create_rw(path, 2**47)
    _assert_full(info.value, path)
    for creator in CREATORS.values():  # holes fit, but no address space holds 2**47 bytes
        with pytest.raises(ResizeFailedError) as info:
            creator(path, 2**47, sparse=True)
        assert isinstance(info.value, OSError) and info.value.errno == errno.ENOMEM
        assert info.value.filename == path and not path.exists()
    with pytest.raises(ResizeFailedError) as info:
        AnonymousMmap(2**47)
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOMEM


def test_an_existing_file_too_large_to_map_is_refused_and_kept(small_fs: Path) -> None:
    path = small_fs / "huge.bin"
    with open(path, "wb") as file:
        file.truncate(2**47)
    for opener in (MemoryMappedFile.open_ro, MemoryMappedFile.open_rw):
        with pytest.raises(ResizeFailedError) as info:
            opener(path)
        assert isinstance(info.value, OSError) and info.value.errno == errno.ENOMEM
        assert info.value.filename == path
    with pytest.raises(ResizeFailedError):
        MemoryMappedFile.open_or_create(path, 4096)
    assert os.path.getsize(path) == 2**47  # not ours: left as it was


def test_a_growth_the_machine_cannot_map_leaves_file_and_mapping(small_fs: Path) -> None:
    path = small_fs / "data.bin"
    with MemoryMappedFile.create_rw(path, 4096, sparse=True) as mm:
        mm.update_region(0, b"kept")
        with pytest.raises(ResizeFailedError) as info:
            mm.resize(2**47)
        assert isinstance(info.value, OSError) and info.value.errno in (errno.ENOMEM, errno.EINVAL)
        assert len(mm) == os.path.getsize(path) == 4096 and mm.read_bytes(0, 4) == b"kept"


@pytest.fixture
def ramfs(tmp_path: Path) -> Any:
    with mounted(tmp_path / "ramfs", "ramfs") as where:
        yield where


def test_where_the_file_system_cannot_allocate_files_get_holes(ramfs: Path) -> None:
    path = ramfs / "data.bin"
    with open(path, "wb") as file:  # ramfs has no fallocate: the OS layer says so
        assert _os.allocate(file.fileno(), 0, 4096) is False
    path.unlink()
    with MemoryMappedFile.create_rw(path, 64 * KIB) as mm:
        assert mm.read_bytes(0, len(mm)) == bytes(64 * KIB)
        mm.update_region(64 * KIB - 4, b"tail")
        mm.resize(128 * KIB)
        mm.update_region(128 * KIB - 4, b"more")
        mm.flush()
    zeros = bytes(64 * KIB - 4)
    assert path.read_bytes() == zeros + b"tail" + zeros + b"more"


def test_a_full_disk_error_names_the_path_as_the_caller_passed_it(small_fs: Path) -> None:
    path = small_fs / "big.bin"
    try:
        MemoryMappedFile.create_rw(str(path), 4 * MIB)
    except MmapIoError as error:  # also catchable the standard-library way
        assert isinstance(error, OSError) and error.filename == str(path)
    else:
        raise AssertionError("a 4 MiB file was made on a 1 MiB disk")
