"""Paths that are not regular files: every constructor refuses them at once, typed.

The calls run in a child process with a timeout (run_child): a constructor that
blocks on a FIFO or spins on a dangling symlink fails the test instead of hanging
the suite.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import run_child
from mmap_io import MemoryMappedFile, MmapIoError, ResizeFailedError, create_mmap

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX special files")

_CALLS = """
path = sys.argv[1]
RO, RW, COW = MmapMode.READ_ONLY, MmapMode.READ_WRITE, MmapMode.COPY_ON_WRITE
calls = {
    "open_ro": lambda: MemoryMappedFile.open_ro(path),
    "open_rw": lambda: MemoryMappedFile.open_rw(path),
    "open_cow": lambda: MemoryMappedFile.open_cow(path),
    "load_mmap(READ_ONLY)": lambda: load_mmap(path, RO),
    "load_mmap(COPY_ON_WRITE)": lambda: load_mmap(path, COW),
    "builder.open": lambda: MemoryMappedFile.builder(path).mode(RO).open(),
    "create_rw": lambda: MemoryMappedFile.create_rw(path, 4096),
    "create_rw(sparse)": lambda: MemoryMappedFile.create_rw(path, 4096, sparse=True),
    "create_mmap": lambda: create_mmap(path, 4096),
    "open_or_create": lambda: MemoryMappedFile.open_or_create(path, 4096),
    "builder.create": lambda: MemoryMappedFile.builder(path).size(4096).create(),
    "builder.open_or_create": lambda: MemoryMappedFile.builder(path).size(1).open_or_create(),
}

def in_a_cancel_scope(backend, make, *args):
    async def run():
        with anyio.move_on_after(30):  # cannot rescue a call stuck in a thread: must not be needed
            return await make(path, *args)
        raise RuntimeError("cancelled: the constructor did not return")
    return lambda: anyio.run(run, backend=backend)

for backend in ("asyncio", "trio"):
    calls[f"aio.open_ro on {backend}"] = in_a_cancel_scope(backend, aio.open_ro)
    calls[f"aio.open_cow on {backend}"] = in_a_cancel_scope(backend, aio.open_cow)
    calls[f"aio.open_or_create on {backend}"] = in_a_cancel_scope(backend, aio.open_or_create, 8)
    calls[f"aio.create_rw on {backend}"] = in_a_cancel_scope(backend, aio.create_rw, 8)

results = {}
for name, call in calls.items():
    try:
        call().close()
        results[name] = "mapped"
    except Exception as error:
        results[name] = describe(error)
print(json.dumps(results))
"""


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a socket's path must fit in 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="mmio") as name:
        yield Path(name)


def _fifo(where: Path) -> Path:
    os.mkfifo(where / "fifo")
    return where / "fifo"


def _socket(where: Path) -> Path:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(where / "sock"))  # the name stays after the socket is closed
    listener.close()
    return where / "sock"


def _char_device(where: Path) -> Path:
    return Path("/dev/null")  # opened but never written: the refusal comes first


def _block_device(where: Path) -> Path:
    try:
        os.mknod(where / "blk", stat.S_IFBLK | 0o600, os.makedev(7, 200))  # loop200: unused
    except PermissionError as error:
        pytest.skip(f"cannot make a block device node here: {error}")
    return where / "blk"


def _directory(where: Path) -> Path:
    (where / "dir").mkdir()
    return where / "dir"


def _dangling(where: Path) -> Path:
    (where / "link").symlink_to(where / "missing")
    return where / "link"


def _loop(where: Path) -> Path:
    (where / "a").symlink_to(where / "b")
    (where / "b").symlink_to(where / "a")
    return where / "a"


SPECIALS: dict[str, tuple[Callable[[Path], Path], int]] = {
    "FIFO": (_fifo, errno.ENODEV),
    "socket": (_socket, errno.ENODEV),
    "character device": (_char_device, errno.ENODEV),
    "block device": (_block_device, errno.ENODEV),
    "directory": (_directory, errno.EISDIR),
    "dangling symlink": (_dangling, errno.ENOENT),
    "symlink loop": (_loop, errno.ELOOP),
}


def _snapshot(path: Path) -> tuple[int, int, int, list[str]]:
    info = os.lstat(path)
    listing = sorted(os.listdir(path)) if stat.S_ISDIR(info.st_mode) else []
    return info.st_mode, info.st_size, info.st_mtime_ns, listing


@pytest.mark.parametrize("kind", SPECIALS)
def test_every_constructor_refuses_a_path_that_is_not_a_regular_file(
    short_dir: Path, kind: str
) -> None:
    make, code = SPECIALS[kind]
    path = make(short_dir)
    before = _snapshot(path), sorted(os.listdir(short_dir))
    results = run_child(_CALLS, str(path))
    for name, result in results.items():
        assert result != "mapped", name
        assert result["mmap_io"] and result["os"], (name, result)
        assert result["errno"] == code and result["filename"] == str(path), (name, result)
        assert not result["resize"], (name, result)
    assert (_snapshot(path), sorted(os.listdir(short_dir))) == before  # nothing made or changed


def test_the_error_is_the_matching_os_error_with_the_callers_path(short_dir: Path) -> None:
    directory = _directory(short_dir)
    with pytest.raises(IsADirectoryError) as info:
        MemoryMappedFile.open_ro(directory)
    assert isinstance(info.value, MmapIoError) and info.value.filename == directory
    with pytest.raises(FileNotFoundError) as info:  # (open_or_create: in the child above)
        MemoryMappedFile.create_rw(_dangling(short_dir), 4096)
    assert isinstance(info.value, MmapIoError) and "dangling" in str(info.value)
    assert not (short_dir / "missing").exists()  # O_EXCL semantics: nothing made through it
    with pytest.raises(OSError) as os_info:
        MemoryMappedFile.create_rw(_fifo(short_dir), 4096)
    assert isinstance(os_info.value, MmapIoError) and "FIFO" in str(os_info.value)


def test_a_symlink_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    target, link = tmp_path / "target.bin", tmp_path / "link.bin"
    target.write_bytes(b"hello")
    link.symlink_to(target)
    with MemoryMappedFile.open_ro(link) as mm:
        assert mm.read_bytes(0, 5) == b"hello"
    with MemoryMappedFile.open_or_create(link, 4096) as mm:
        assert not mm.created and len(mm) == 5
    with MemoryMappedFile.create_rw(link, 64) as mm:
        assert not mm.created
    assert link.is_symlink() and target.read_bytes() == bytes(64)


def test_a_file_opened_without_blocking_is_blocking_again(path: Path) -> None:
    path.write_bytes(b"data")
    for make in (MemoryMappedFile.open_ro, lambda p: MemoryMappedFile.create_rw(p, 8)):
        with make(path) as mm:
            assert os.get_blocking(mm.fileno())


@pytest.mark.parametrize(
    "creator",
    [
        lambda p: MemoryMappedFile.create_rw(p, 2**47),
        lambda p: MemoryMappedFile.create_rw(p, 2**47, sparse=True),
        lambda p: MemoryMappedFile.open_or_create(p, 2**47),
        lambda p: MemoryMappedFile.builder(p).size(2**47).sparse().create(),
        lambda p: create_mmap(p, 2**47, sparse=True),
    ],
)
def test_a_size_this_machine_cannot_map_leaves_no_file(path: Path, creator: Callable) -> None:
    with pytest.raises(ResizeFailedError) as info:  # whatever the file system in /tmp says
        creator(path)
    assert isinstance(info.value, OSError) and info.value.filename == path
    assert info.value.errno in (errno.ENOSPC, errno.EFBIG, errno.ENOMEM, errno.EINVAL)
    assert not path.exists()


@pytest.mark.parametrize("bad", [1, "yes", None, 1.0])
def test_sparse_must_be_a_bool_and_touches_no_file(path: Path, bad: object) -> None:
    for call in (
        lambda: MemoryMappedFile.create_rw(path, 10, sparse=bad),
        lambda: MemoryMappedFile.open_or_create(path, 10, sparse=bad),
        lambda: create_mmap(path, 10, sparse=bad),  # type: ignore[arg-type]
        lambda: MemoryMappedFile.builder(path).sparse(bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError) as info:
            call()
        assert isinstance(info.value, MmapIoError)
    assert not path.exists()
