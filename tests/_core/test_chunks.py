"""Chunk iterators: what a pass hands out when its callback resizes the mapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mmap_io import MemoryMappedFile


def _pass(mm: MemoryMappedFile, at: int, action: Callable[[], None]) -> list[tuple[int, int]]:
    """Run a for_each_mut pass of 1 KiB chunks that fills each chunk with 0x01 and, at
    offset `at`, releases its view and runs `action`; return (offset, length) per call."""
    seen: list[tuple[int, int]] = []

    def fill(offset: int, view: memoryview) -> None:
        seen.append((offset, len(view)))
        view[:] = b"\x01" * len(view)
        if offset == at:
            view.release()  # a shrink waits for views; this one is done
            action()

    mm.chunks_mut(1024).for_each_mut(fill)
    return seen


@pytest.mark.parametrize(
    ("new_size", "expected"),
    [
        (1500, [(0, 1024), (1024, 1024)]),  # the next chunk would start past the end
        (2500, [(0, 1024), (1024, 1024), (2048, 452)]),  # the last chunk is cut short
        (2048, [(0, 1024), (1024, 1024)]),  # the end falls on a chunk boundary
    ],
)
def test_a_callback_that_shrinks_the_mapping_gets_no_chunk_past_the_new_end(
    path: Path, new_size: int, expected: list[tuple[int, int]]
) -> None:
    mm = MemoryMappedFile.create_rw(path, 4096)
    seen = _pass(mm, 1024, lambda: mm.resize(new_size))
    assert seen == expected  # never an empty view, never one past the end
    assert mm.pending_bytes == sum(length for _, length in expected)  # only views handed out
    mm.flush()
    mm.close()
    assert path.read_bytes() == b"\x01" * new_size


def test_a_callback_that_grows_the_mapping_still_stops_at_the_old_end(path: Path) -> None:
    mm = MemoryMappedFile.create_rw(path, 4096)
    seen = _pass(mm, 0, lambda: mm.resize(8192))
    assert seen == [(0, 1024), (1024, 1024), (2048, 1024), (3072, 1024)]
    assert mm.pending_bytes == 4096
    assert mm.read_bytes(4096, 4096) == bytes(4096)  # the grown part was not visited
    mm.close()
