"""Page locking (mlock/munlock): ranges, page rounding, and failures that carry their reason."""

from __future__ import annotations

import errno
import json
import mmap
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import linux_only, smaps_field
from mmap_io import (
    LockFailedError,
    MemoryMappedFile,
    MmapIoError,
    OutOfBoundsError,
    UnlockFailedError,
)
from mmap_io._core import _os
from mmap_io._core._os import _stub

PAGE = mmap.PAGESIZE
PAGES = 16


@pytest.fixture
def mm(path: Path) -> Iterator[MemoryMappedFile]:
    mm = MemoryMappedFile.create_rw(path, PAGES * PAGE)
    yield mm
    mm.close()


def _locked_pages(mm: MemoryMappedFile, page: int = 0) -> int:
    """Locked pages in the memory area holding `page` (mlock splits areas at its edges)."""
    return smaps_field(mm.address + page * PAGE, "Locked") * 1024 // PAGE


@linux_only
def test_lock_widens_the_range_to_whole_pages(mm: MemoryMappedFile) -> None:
    mm.lock(PAGE + 10, 2 * PAGE)  # touches pages 1, 2 and 3
    assert _locked_pages(mm, 1) == 3
    assert _locked_pages(mm, 0) == 0 and _locked_pages(mm, 4) == 0
    mm.unlock(PAGE, 3 * PAGE)
    assert _locked_pages(mm, 1) == 0


@linux_only
def test_lock_all_and_unlock_all(mm: MemoryMappedFile) -> None:
    mm.lock_all()
    assert _locked_pages(mm) == PAGES
    mm.update_region(0, b"still writable")
    mm.unlock_all()
    assert _locked_pages(mm) == 0
    assert mm.read_bytes(0, 14) == b"still writable"


@linux_only
def test_a_read_only_mapping_can_be_locked(path: Path) -> None:
    path.write_bytes(b"\x01" * (4 * PAGE))
    with MemoryMappedFile.open_ro(path) as ro:
        ro.lock_all()
        assert _locked_pages(ro) == 4


@linux_only
@pytest.mark.parametrize("offset", [0, 5, PAGES * PAGE, 2**64 - 1])
def test_a_zero_length_range_locks_nothing(mm: MemoryMappedFile, offset: int) -> None:
    mm.lock(offset, 0)
    mm.unlock(offset, 0)
    assert _locked_pages(mm) == 0


@pytest.mark.parametrize("call", ["lock", "unlock"])
@pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, PAGES * PAGE + 1), (PAGE, -1)])
def test_ranges_past_the_end_are_out_of_bounds(
    mm: MemoryMappedFile, call: str, offset: int, length: int
) -> None:
    with pytest.raises(OutOfBoundsError) as info:
        getattr(mm, call)(offset, length)
    assert (info.value.offset, info.value.length, info.value.total) == (
        offset,
        length,
        PAGES * PAGE,
    )


@pytest.mark.parametrize("bad", [True, 1.0, None, "0"])
def test_non_int_ranges_are_type_errors(mm: MemoryMappedFile, bad: Any) -> None:
    for args in ((bad, PAGE), (0, bad)):
        with pytest.raises(TypeError):
            mm.lock(*args)


def test_a_closed_mapping_refuses(path: Path) -> None:
    mm = MemoryMappedFile.create_rw(path, PAGE)
    mm.close()
    for call in (lambda: mm.lock(0, 1), mm.lock_all, mm.unlock_all):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, MmapIoError)


def test_platforms_without_mlock_raise_lock_failed_enosys(
    mm: MemoryMappedFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_os, "lock_pages", _stub.lock_pages)
    monkeypatch.setattr(_os, "unlock_pages", _stub.unlock_pages)
    with pytest.raises(LockFailedError) as locking:
        mm.lock_all()
    with pytest.raises(UnlockFailedError) as unlocking:
        mm.unlock(0, PAGE)
    for error in (locking.value, unlocking.value):
        assert isinstance(error, OSError) and error.errno == errno.ENOSYS


def test_a_refused_unlock_is_an_unlock_failed_error(
    mm: MemoryMappedFile, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(address: int, length: int) -> None:
        raise OSError(errno.ENOMEM, "munlock: Cannot allocate memory")

    monkeypatch.setattr(_os, "unlock_pages", refuse)
    with pytest.raises(UnlockFailedError) as info:
        mm.unlock_all()
    assert info.value.errno == errno.ENOMEM and info.value.filename == path
    assert not isinstance(info.value, LockFailedError)


# An unprivileged process over its locked-memory limit: the child maps the file while
# still root (if it is), caps RLIMIT_MEMLOCK at 4 pages, becomes `nobody` (which drops
# CAP_IPC_LOCK, so the cap applies), then locks one page and then all 64.
_CHILD = """
import json, os, resource, sys
from mmap_io import LockFailedError, MemoryMappedFile

path = sys.argv[1]
mm = MemoryMappedFile.open_ro(path)
limit = 4 * 4096
resource.setrlimit(resource.RLIMIT_MEMLOCK, (limit, limit))
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
mm.lock(0, 4096)
try:
    mm.lock_all()
except LockFailedError as error:
    print(json.dumps({
        "types": [t.__name__ for t in type(error).__mro__],
        "errno": error.errno,
        "message": str(error),
        "filename": error.filename,
        "uid": os.geteuid(),
    }))
else:
    print(json.dumps(None))
"""


@linux_only
def test_over_the_memlock_limit_lock_fails_with_the_os_reason_and_a_hint(path: Path) -> None:
    path.write_bytes(bytes(64 * PAGE))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CHILD), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report is not None, "lock_all succeeded over the limit"
    assert report["uid"] != 0
    assert {"LockFailedError", "MmapIoError", "OSError"} <= set(report["types"])
    assert report["errno"] in (errno.ENOMEM, errno.EPERM, errno.EAGAIN)
    assert "ulimit -l" in report["message"] and "CAP_IPC_LOCK" in report["message"]
    assert report["filename"] == str(path)
