"""Change events, and the diff of two looks at a file that produces them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mmap_io import ChangeEvent, ChangeKind
from mmap_io._core._changes import Look, changed_span, changes_between, look_at

MODIFIED, METADATA, REMOVED = ChangeKind.MODIFIED, ChangeKind.METADATA, ChangeKind.REMOVED
BASE = Look(present=True, size=4096, mtime_ns=10, ctime_ns=10, probe=None)


def _diff(after: Look, touched: bool = True, before: Look = BASE) -> list[ChangeEvent]:
    return changes_between(before, after, touched=touched, mapped_size=4096)


def test_change_event_is_positional_frozen_and_compares_by_kind_and_region() -> None:
    event = ChangeEvent(ChangeKind.MODIFIED, 10, 20)
    assert (event.kind, event.offset, event.length) == (MODIFIED, 10, 20)
    assert event.file_size is None and event.mapped_size is None
    assert event == ChangeEvent(MODIFIED, 10, 20, file_size=30, mapped_size=30)
    assert event != ChangeEvent(MODIFIED, 10, 21)
    assert ChangeEvent(REMOVED) == ChangeEvent(REMOVED, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.offset = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        ChangeEvent(MODIFIED, 0, 1, 2)  # type: ignore[misc]  # sizes are keywords only


def test_mapping_exceeds_file_needs_both_sizes() -> None:
    assert ChangeEvent(MODIFIED, file_size=100, mapped_size=4096).mapping_exceeds_file
    assert not ChangeEvent(MODIFIED, file_size=4096, mapped_size=4096).mapping_exceeds_file
    assert not ChangeEvent(MODIFIED, file_size=8192, mapped_size=4096).mapping_exceeds_file
    assert not ChangeEvent(MODIFIED, file_size=100).mapping_exceeds_file
    assert not ChangeEvent(REMOVED, mapped_size=100).mapping_exceeds_file


def test_a_shrink_reports_the_cut_region_and_the_sizes() -> None:
    [event] = _diff(BASE._replace(size=1000, mtime_ns=11, ctime_ns=11))
    assert (event.kind, event.offset, event.length) == (MODIFIED, 1000, 3096)
    assert (event.file_size, event.mapped_size) == (1000, 4096)
    assert event.mapping_exceeds_file


def test_growth_reports_the_new_region() -> None:
    [event] = _diff(BASE._replace(size=10000, mtime_ns=11))
    assert (event.kind, event.offset, event.length) == (MODIFIED, 4096, 10000 - 4096)
    assert not event.mapping_exceeds_file


def test_a_write_in_place_is_modified_somewhere() -> None:
    assert _diff(BASE._replace(mtime_ns=11, ctime_ns=11)) == [ChangeEvent(MODIFIED)]
    # Timestamps can stay put for a second write within one clock tick: the OS said so.
    assert _diff(BASE) == [ChangeEvent(MODIFIED)]
    assert _diff(BASE, touched=False) == []


def test_attribute_changes_are_metadata() -> None:
    assert _diff(BASE._replace(ctime_ns=11)) == [ChangeEvent(METADATA)]
    assert _diff(BASE._replace(ctime_ns=11), touched=False) == [ChangeEvent(METADATA)]


def test_removal_comes_last_and_hides_the_link_count_change() -> None:
    gone = BASE._replace(present=False, ctime_ns=11)
    assert _diff(gone) == [ChangeEvent(REMOVED)]
    [cut, removed] = _diff(gone._replace(size=0))
    assert (cut.offset, cut.length, removed.kind) == (0, 4096, REMOVED)
    assert removed.file_size == 0


def test_a_polled_range_reports_exactly_the_bytes_that_differ() -> None:
    before = BASE._replace(probe=bytes(64))
    after = BASE._replace(probe=bytes(5) + b"\x01\x00\x02" + bytes(56))
    events = changes_between(before, after, touched=False, mapped_size=4096, probe_offset=100)
    assert events == [ChangeEvent(MODIFIED, 105, 3)]


@pytest.mark.parametrize(
    ("before", "after", "span"),
    [
        (b"abcd", b"abcd", None),
        (b"abcd", b"xbcd", (0, 1)),
        (b"abcd", b"abcx", (3, 1)),
        (b"abcd", b"xbcx", (0, 4)),
        (b"\x00\xff", b"\x00\x7f", (1, 1)),
        (b"abcd", b"ab", (2, 2)),
        (b"ab", b"abcd", (2, 2)),
        (b"abcd", b"xb", (0, 4)),
        (b"", b"a", (0, 1)),
    ],
)
def test_changed_span(before: bytes, after: bytes, span: tuple[int, int] | None) -> None:
    assert changed_span(before, after) == span


def test_look_at_reads_the_probe_short_past_the_end_and_sees_a_missing_path(
    path: Path,
) -> None:
    path.write_bytes(b"0123456789")
    with open(path, "rb", buffering=0) as file:
        look = look_at(file, str(path), (8, 8))
        assert look.present and look.size == 10 and look.probe == b"89"
        assert look_at(file, str(path), (20, 8)).probe == b""
        path.rename(path.with_name("moved"))
        assert not look_at(file, str(path), None).present
