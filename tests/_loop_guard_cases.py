"""Async tests for the loop guard to judge: tests/test_loop_guard.py runs a copy of
this file in a pytest subprocess with the guard enabled and reads the verdicts.

Each test runs on asyncio, uvloop and trio. The `*_is_caught` ones must fail with the
guard's message; the others must pass. Not collected from tests/ (no test_ prefix).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio.to_thread
import pytest

import conftest
from mmap_io import MemoryMappedFile, aio

anyio_backend = conftest.anyio_backend  # the suite's three backends
pytestmark = pytest.mark.anyio
PAGE = 4096
COLD = 64 * PAGE
NOT_EVICTABLE = "the temp folder keeps pages cached after POSIX_FADV_DONTNEED (tmpfs?)"


@pytest.fixture
def cold(tmp_path: Path) -> Path:
    """A file none of whose pages is in the page cache (written by a sync fixture,
    which runs while the loop does not)."""
    path = tmp_path / "cold.bin"
    conftest.write_cold(path, os.urandom(COLD))
    with MemoryMappedFile.open_ro(path) as mm:
        if conftest.believed_resident(mm, 0, PAGE):
            pytest.skip(NOT_EVICTABLE)
    return path


async def resident_mapping(path: Path) -> MemoryMappedFile:
    mm = await aio.create_rw(path, 4 * PAGE)
    await mm.touch_pages_async()  # so that writing inline faults nothing in
    mm.update_region(0, b"dirty")
    return mm


async def test_a_sync_flush_is_caught(tmp_path: Path) -> None:
    mm = await resident_mapping(tmp_path / "a.bin")
    mm.flush()  # msync on the loop thread
    await mm.aclose()


async def test_flush_async_passes(tmp_path: Path) -> None:
    mm = await resident_mapping(tmp_path / "a.bin")
    await mm.flush_async()
    await anyio.to_thread.run_sync(mm.flush)  # a sync call in a worker thread is fine
    await mm.aclose()


async def test_a_cold_sync_read_is_caught(cold: Path) -> None:
    mm = await aio.open_ro(cold)
    assert mm.read_bytes(PAGE, 16) == cold.read_bytes()[PAGE : PAGE + 16]
    await mm.aclose()


async def test_a_cold_read_async_passes(cold: Path) -> None:
    mm = await aio.open_ro(cold)
    assert await mm.read_bytes_async(PAGE, 16) == cold.read_bytes()[PAGE : PAGE + 16]
    await mm.aclose()


async def test_a_sync_open_is_caught_but_not_the_tests_own(tmp_path: Path) -> None:
    path = tmp_path / "b.bin"
    path.write_bytes(b"x" * PAGE)  # the test's own open: not the library's to answer for
    with MemoryMappedFile.open_ro(path) as mm:  # the library's open, on the loop
        assert mm.read_bytes(0, 1) == b"x"


@pytest.fixture
def flushed_by_a_sync_fixture(tmp_path: Path) -> Iterator[MemoryMappedFile]:
    with MemoryMappedFile.create_rw(tmp_path / "c.bin", PAGE) as mm:
        mm.update_region(0, b"sync fixture")
        mm.flush()  # no loop runs during a sync fixture
        yield mm
        mm.flush()


async def test_sync_fixtures_are_not_watched(flushed_by_a_sync_fixture: MemoryMappedFile) -> None:
    assert flushed_by_a_sync_fixture.read_bytes(0, 4) == b"sync"


@pytest.fixture
async def flushed_by_an_async_fixture(tmp_path: Path) -> AsyncIterator[MemoryMappedFile]:
    mm = await resident_mapping(tmp_path / "d.bin")
    mm.flush()  # on the loop thread, while the loop runs
    yield mm
    await mm.aclose()


async def test_an_async_fixture_is_caught(flushed_by_an_async_fixture: MemoryMappedFile) -> None:
    assert flushed_by_an_async_fixture.pending_bytes == 0


@pytest.mark.loop_may_block("a demonstration of the marker")
async def test_a_marked_test_passes_with_a_report(tmp_path: Path) -> None:
    mm = await resident_mapping(tmp_path / "e.bin")
    mm.flush()
    await mm.aclose()
