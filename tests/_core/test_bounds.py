"""Every range API accepts exactly the in-bounds ranges, and rejects the rest cleanly.

Hypothesis drives offsets and lengths across the interesting edges: negative, zero,
the mapping's end, 2**63 and 2**64 and beyond. A rejected call must raise
OutOfBoundsError with the caller's own numbers, or TypeError for non-ints, and must
change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import mmap_io
from mmap_io import MemoryMappedFile, MmapAdvice, OutOfBoundsError, Segment

SIZE = 4096
EDGE_INTS = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([-1, 0, 1, SIZE - 1, SIZE, SIZE + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64]),
)
NOT_INTS = st.sampled_from([True, False, 1.0, 0.0, None, "1", b"1", 2.5, float("nan")])


def _slice(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    mm.as_slice(off, n).release()


def _slice_mut(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    mm.as_slice_mut(off, n).release()


def _read_into(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    mm.read_into(off, bytearray(n) if isinstance(n, int) and 0 <= n < 2**20 else n)


def _update(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    mm.update_region(off, b"\xab" * n if isinstance(n, int) and 0 <= n < 2**20 else n)


# The async reads check the common case on a fast path of their own; these run them
# through the same edges as their sync twins.
def _read_bytes_async(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    anyio.run(mm.read_bytes_async, off, n)


def _slice_async(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    async def take() -> None:
        (await mm.as_slice_async(off, n)).release()

    anyio.run(take)


def _read_into_async(mm: MemoryMappedFile, off: Any, n: Any) -> None:
    buf = bytearray(n) if isinstance(n, int) and 0 <= n < 2**20 else n
    anyio.run(mm.read_into_async, off, buf)


RANGE_APIS: dict[str, Callable[[MemoryMappedFile, Any, Any], object]] = {
    "as_slice": _slice,
    "as_slice_mut": _slice_mut,
    "read_bytes": lambda mm, off, n: mm.read_bytes(off, n),
    "flush_range": lambda mm, off, n: mm.flush_range(off, n),
    "touch_pages_range": lambda mm, off, n: mm.touch_pages_range(off, n),
    "prefetch_range": lambda mm, off, n: mm.prefetch_range(off, n),
    "advise": lambda mm, off, n: mm.advise(off, n, MmapAdvice.NORMAL),
    "segment": lambda mm, off, n: Segment(mm, off, n),
    "read_bytes_async": _read_bytes_async,
    "as_slice_async": _slice_async,
}
# read_into and update_region take a buffer, so huge lengths cannot be expressed.
BUFFER_APIS = {
    "read_into": _read_into,
    "update_region": _update,
    "read_into_async": _read_into_async,
}


@pytest.fixture(scope="module")
def mm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryMappedFile]:
    path: Path = tmp_path_factory.mktemp("bounds") / "f.bin"
    with MemoryMappedFile.create_rw(path, SIZE) as mm:
        mm.update_region(0, bytes(range(256)) * (SIZE // 256))
        yield mm


def _valid(off: int, n: int) -> bool:
    if off < 0 or n < 0:
        return False
    return off < 2**64 if n == 0 else off + n <= SIZE


@pytest.mark.parametrize("api", sorted(RANGE_APIS))
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(off=EDGE_INTS, n=EDGE_INTS)
@example(off=2**64, n=0)
@example(off=2**64 - 1, n=0)
@example(off=SIZE, n=0)
@example(off=-1, n=0)
@example(off=0, n=-1)
@example(off=2**63, n=2**63)
def test_range_apis_accept_exactly_the_valid_ranges(
    mm: MemoryMappedFile, api: str, off: int, n: int
) -> None:
    before = mm.read_bytes(0, SIZE)
    if _valid(off, n):
        RANGE_APIS[api](mm, off, n)
    else:
        with pytest.raises(OutOfBoundsError) as info:
            RANGE_APIS[api](mm, off, n)
        assert (info.value.offset, info.value.length, info.value.total) == (off, n, SIZE)
        assert str(off) in str(info.value) and str(n) in str(info.value)
    assert mm.read_bytes(0, SIZE) == before


@pytest.mark.parametrize("api", sorted(BUFFER_APIS))
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(off=EDGE_INTS, n=st.integers(0, SIZE + 64))
@example(off=2**64, n=0)
@example(off=2**64 - 1, n=0)
@example(off=-1, n=0)
@example(off=SIZE, n=1)
def test_buffer_apis_accept_exactly_the_valid_ranges(
    mm: MemoryMappedFile, api: str, off: int, n: int
) -> None:
    before = mm.read_bytes(0, SIZE)
    if _valid(off, n):
        BUFFER_APIS[api](mm, off, n)
        if api == "update_region" and n:
            assert mm.read_bytes(off, n) == b"\xab" * n
            mm.update_region(0, before)
    else:
        with pytest.raises(OutOfBoundsError) as info:
            BUFFER_APIS[api](mm, off, n)
        assert (info.value.offset, info.value.length, info.value.total) == (off, n, SIZE)
    assert mm.read_bytes(0, SIZE) == before


@pytest.mark.parametrize("api", sorted(RANGE_APIS) + sorted(BUFFER_APIS))
@given(bad=NOT_INTS, position=st.sampled_from(["offset", "length"]))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_non_int_offsets_and_lengths_raise_type_error(
    mm: MemoryMappedFile, api: str, bad: Any, position: str
) -> None:
    call = {**RANGE_APIS, **BUFFER_APIS}[api]
    if api in BUFFER_APIS and position == "length":
        assume(False)  # the length is the buffer's own size there
    args = (bad, 4) if position == "offset" else (0, bad)
    before = mm.read_bytes(0, SIZE)
    with pytest.raises(TypeError) as info:
        call(mm, *args)
    assert isinstance(info.value, mmap_io.MmapIoError)
    assert mm.read_bytes(0, SIZE) == before


def test_read_into_leaves_the_buffer_untouched_when_out_of_range(mm: MemoryMappedFile) -> None:
    buf = bytearray(b"\x01" * 16)
    with pytest.raises(OutOfBoundsError):
        mm.read_into(SIZE - 8, buf)
    assert buf == b"\x01" * 16


def test_numpy_style_index_objects_are_accepted(mm: MemoryMappedFile) -> None:
    class Index:
        def __init__(self, value: int) -> None:
            self.value = value

        def __index__(self) -> int:
            return self.value

    assert mm.read_bytes(Index(1), Index(3)) == bytes([1, 2, 3])
    buf = bytearray(2)
    mm.read_into(Index(4), buf)
    assert buf == bytes([4, 5])
