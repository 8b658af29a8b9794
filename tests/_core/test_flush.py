"""Flushing at close: a failing final flush still releases everything, then says so once."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from conftest import mapped_areas, wait_for_threads_to_end
from mmap_io import FlushFailedError, FlushPolicy, MemoryMappedFile, MmapIoError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


class FailingDisk:
    """Fault injection for msync, the one OS call these tests replace: this machine has
    no failing device, so `mmap_io._core._os.sync_range` is swapped for a spy that
    raises EIO while `failing` is set and otherwise runs the real msync."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from mmap_io._core import _os

        real = _os.sync_range
        self.failing = False
        self.calls = 0

        def sync_range(*args: Any) -> None:
            self.calls += 1
            if self.failing:
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            real(*args)

        monkeypatch.setattr(_os, "sync_range", sync_range)


def _close(mm: MemoryMappedFile, how: str) -> None:
    if how == "close":
        mm.close()
    elif how == "unmap":
        mm.unmap()
    else:
        anyio.run(mm.aclose, backend=how.removeprefix("aclose-"))


def _fd_names(path: Path) -> list[int]:
    """This process's descriptors open on `path`."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path.resolve()):
                names.append(int(fd))
        except OSError:  # the directory's own descriptor, gone by now
            pass
    return names


@pytest.mark.parametrize("how", ["close", "unmap", "aclose-asyncio", "aclose-trio"])
@pytest.mark.parametrize(
    "policy",
    [FlushPolicy.every_millis(60_000), FlushPolicy.every_writes(1000), FlushPolicy.ALWAYS],
    ids=["every_millis", "every_writes", "always"],
)
def test_a_failed_final_flush_still_releases_everything_then_raises_once(
    path: Path, monkeypatch: pytest.MonkeyPatch, how: str, policy: FlushPolicy
) -> None:
    disk = FailingDisk(monkeypatch)
    mm = MemoryMappedFile.create_rw(path, 8192, flush_policy=policy)
    mm.update_region(0, b"written")  # ALWAYS syncs this one at once, before the failure
    with mm.as_slice_mut(4096, 4) as view:
        view[:] = b"late"  # a write the policy has not flushed yet
    assert mm.pending_bytes == (4 if policy == FlushPolicy.ALWAYS else 7 + 4)
    assert mm.fileno() in _fd_names(path) and mapped_areas(path) == 1
    disk.failing = True
    with pytest.raises(FlushFailedError) as info:
        _close(mm, how)
    assert isinstance(info.value, OSError) and info.value.errno == errno.EIO
    assert mm.closed
    assert _fd_names(path) == []  # its descriptor (and the mmap's own dup) closed; unmap
    # hands nothing back
    assert mapped_areas(path) == 0  # the memory was unmapped
    assert wait_for_threads_to_end("mmap_io-flush-timer") == []
    calls = disk.calls
    mm.close()  # a second close is a no-op: no second flush, no second error
    anyio.run(mm.aclose)
    assert disk.calls == calls
    with pytest.raises(MmapIoError) as again:
        mm.read_bytes(0, 1)
    assert isinstance(again.value, ValueError)
    assert path.read_bytes()[:7] == b"written"  # the page cache still has the writes
