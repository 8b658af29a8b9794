"""The nobody helper really runs code as another user, and the library works there."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

import _nobody
import pytest

from conftest import believed_resident, linux_only, write_cold
from mmap_io import MemoryMappedFile, MmapAdvice, aio
from mmap_io._core import _os

pytestmark = linux_only
PAGE = 4096


def _identity() -> dict[str, Any]:
    return {
        "ids": (os.getuid(), os.geteuid(), os.getgid(), os.getegid()),
        "groups": os.getgroups(),
        "python": sys.executable,
        "version": sys.version_info[:2],
    }


def test_the_child_is_nobody_running_the_system_python() -> None:
    _nobody.require()
    seen = _nobody.call(_identity)
    assert seen["ids"] == (65534, 65534, 65534, 65534)
    assert seen["groups"] == []
    assert seen["python"] == "/usr/bin/python3"


def _read(path: Path) -> bytes:
    return path.read_bytes()


def test_the_child_cannot_read_what_only_root_may(tmp_path: Path) -> None:
    _nobody.require()
    with _nobody.folder() as shared:
        secret, public = shared / "secret.bin", shared / "public.bin"
        secret.write_bytes(b"root only")
        public.write_bytes(b"anyone")
        secret.chmod(0o600)
        public.chmod(0o644)
        assert secret.stat().st_uid == public.stat().st_uid == 0
        with pytest.raises(PermissionError) as info:
            _nobody.call(_read, secret)
        assert "uid 65534" in info.value.__notes__[0]
        assert _nobody.call(_read, public) == b"anyone"
    (tmp_path / "mine.bin").write_bytes(b"x")
    with pytest.raises(PermissionError):  # pytest's tmp_path sits under a 0700 folder
        _nobody.call(_read, tmp_path / "mine.bin")


def test_the_child_imports_the_library_from_this_source_tree() -> None:
    import mmap_io

    staged = _nobody.require("anyio", "atomicshm", "trio")
    done = _nobody.run("import mmap_io, sys; print(mmap_io.__file__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(staged.site / "mmap_io" / "__init__.py")
    for module in Path(mmap_io.__file__).parent.rglob("*.py"):
        relative = module.relative_to(Path(mmap_io.__file__).parent)
        assert (staged.site / "mmap_io" / relative).read_bytes() == module.read_bytes()


async def _read_async(path: Path) -> tuple[int, bytes]:
    async with aio.open_ro(path) as mm:
        return os.getuid(), await mm.read_bytes_async(PAGE, 8)


def test_async_reads_of_a_root_owned_file_as_nobody(anyio_backend: Any) -> None:
    name, options = anyio_backend
    _nobody.require("uvloop" if options.get("use_uvloop") else name)
    with _nobody.folder() as shared:
        path = shared / "data.bin"
        data = os.urandom(16 * PAGE)
        write_cold(path, data)
        path.chmod(0o644)
        uid, got = _nobody.call(_read_async, path, backend=anyio_backend)
    assert (uid, got) == (65534, data[PAGE : PAGE + 8])


def _residency(path: Path) -> tuple[bool, bool, bool, str]:
    """What raw mincore says of page 0, the library's probe (the one async reads trust)
    of cold page 10 and of page 100 once read through the mapping, and preadv2
    RWF_NOWAIT of page 20: cold pages each asked once, since a refused NOWAIT read
    starts reading its own range in."""
    with MemoryMappedFile.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        vector = _os.resident_pages(mm.address, PAGE)
        claimed = vector is not None and bool(vector[0] & 1)
        believed = believed_resident(mm, 10 * PAGE, PAGE)
        mm.read_bytes(100 * PAGE, 1)  # faulted in, through the mapping
        believed_read = believed_resident(mm, 100 * PAGE, PAGE)
        fd = os.open(path, os.O_RDONLY)
        try:
            read = os.preadv(fd, [bytearray(PAGE)], 20 * PAGE, os.RWF_NOWAIT)
            told = "full" if read == PAGE else f"short ({read})"
        except BlockingIOError:
            told = "EAGAIN"
        finally:
            os.close(fd)
        return claimed, believed, believed_read, told


def test_mincore_lies_to_nobody_about_a_cold_root_file_and_the_library_does_not() -> None:
    """The kernel fact (Linux 5.2+) behind issue 11: to a user who can neither write
    nor own the file, mincore calls every page resident; RWF_NOWAIT still tells, and
    the library's probe believes the truth."""
    _nobody.require()
    with _nobody.folder() as shared:
        path = shared / "cold.bin"
        write_cold(path, os.urandom(128 * PAGE))
        path.chmod(0o644)
        if _residency(path)[0]:
            pytest.skip("the temp folder keeps pages cached after POSIX_FADV_DONTNEED (tmpfs?)")
        write_cold(path, path.read_bytes())  # root's own probe may have read it in
        assert _nobody.call(_residency, path) == (True, False, True, "EAGAIN")


async def _cold_reads_on_the_loop(path: Path) -> tuple[int, int, bool]:
    """Read 32 cold random pages as async reads; count the loop thread's major faults."""
    from _loop_guard import major_faults

    with open(path, "rb") as file:
        data = file.read()
        _os.evict_file(file.fileno(), 0, 0)  # reading it just now cached it again
    async with aio.open_ro(path) as mm:
        mm.advise(0, len(mm), MmapAdvice.RANDOM)
        pages = random.Random(3).sample(range(64), 32)
        before = major_faults()
        got = [await mm.read_bytes_async(page * PAGE + 5, 16) for page in pages[:16]]
        for page in pages[16:]:
            buf = bytearray(16)
            await mm.read_into_async(page * PAGE + 5, buf)
            got.append(bytes(buf))
        after = major_faults()
    ok = got == [data[p * PAGE + 5 : p * PAGE + 21] for p in pages]
    assert before is not None and after is not None
    return os.getuid(), after - before, ok


def test_cold_async_reads_as_nobody_never_fault_on_the_loop(anyio_backend: Any) -> None:
    """An unprivileged server reading a root-owned file: every cold page is paged in
    off the loop (a lying mincore used to send them to an inline copy)."""
    name, options = anyio_backend
    _nobody.require("uvloop" if options.get("use_uvloop") else name)
    with _nobody.folder() as shared:
        path = shared / "cold.bin"
        write_cold(path, os.urandom(64 * PAGE))
        path.chmod(0o644)
        if believed_resident_now(path):
            pytest.skip("the temp folder keeps pages cached after POSIX_FADV_DONTNEED (tmpfs?)")
        assert _nobody.call(_cold_reads_on_the_loop, path, backend=anyio_backend) == (
            65534,
            0,
            True,
        )


def believed_resident_now(path: Path) -> bool:
    with MemoryMappedFile.open_ro(path) as mm:
        return believed_resident(mm, 0, PAGE)
