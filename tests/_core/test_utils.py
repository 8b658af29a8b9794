"""page_size and align_up."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmap_io import align_up, page_size


def test_page_size_matches_the_os() -> None:
    assert page_size() == os.sysconf("SC_PAGE_SIZE")


def test_align_up_examples() -> None:
    assert align_up(10, 3) == 12
    assert align_up(1001, 1024) == 1024
    assert align_up(2048, 1024) == 2048
    assert align_up(0, 8) == 0


@given(st.integers(0, 2**70), st.integers(1, 2**20))
def test_align_up_is_the_next_multiple(value: int, alignment: int) -> None:
    aligned = align_up(value, alignment)
    assert aligned % alignment == 0 and value <= aligned < value + alignment


@pytest.mark.parametrize(("value", "alignment"), [(1, 0), (-1, 4), (1, -8)])
def test_align_up_rejects_bad_values(value: int, alignment: int) -> None:
    with pytest.raises(ValueError):
        align_up(value, alignment)


def test_align_up_rejects_non_ints() -> None:
    with pytest.raises(TypeError):
        align_up(1.5, 2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        align_up(True, 2)
