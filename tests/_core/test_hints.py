"""Residency hints: what was seen resident is believed for a while, then asked again."""

from __future__ import annotations

import tracemalloc

from mmap_io._core._hints import MAX_WINDOWS, WINDOW, ResidencyHints


def test_marked_pages_are_known_until_forgotten() -> None:
    hints = ResidencyHints()
    assert not hints.known(0, 0)  # the first look starts a period and trusts nothing
    hints.mark(3, 5)
    assert hints.known(3, 5) and hints.known(4, 4)
    assert not hints.known(2, 3) and not hints.known(5, 6) and not hints.known(100, 100)
    hints.forget()
    assert not hints.known(4, 4)


def test_hints_expire_with_their_period() -> None:
    hints = ResidencyHints()
    hints.known(0, 0)
    hints.mark(0, 0)
    assert hints.known(0, 0)
    hints._expires = 0.0  # the period ran out
    assert not hints.known(0, 0)


def test_a_mincore_vector_is_remembered_page_by_page() -> None:
    hints = ResidencyHints()
    hints.known(0, 0)
    hints.record(64, bytes([1, 0, 0, 3, 0]))  # mincore: bit 0 set means resident
    assert hints.known(64, 64) and hints.known(67, 67)
    assert not hints.known(64, 65)
    assert hints.seen_cold(65, 65) and hints.seen_cold(64, 66) and hints.seen_cold(66, 68)
    assert not hints.seen_cold(64, 64) and not hints.seen_cold(0, 63)
    assert not hints.seen_cold(200, 300)  # never seen: unknown, not cold
    hints.mark(65, 66)  # paged in since
    assert hints.known(64, 67) and not hints.seen_cold(64, 67)
    hints.forget()
    assert not hints.known(64, 64) and not hints.seen_cold(65, 65)


def test_ranges_across_windows_are_answered_whole() -> None:
    hints = ResidencyHints()
    hints.known(0, 0)
    hints.mark(WINDOW - 2, 2 * WINDOW + 1)  # spans three windows
    assert hints.known(WINDOW - 2, 2 * WINDOW + 1) and not hints.known(WINDOW - 3, WINDOW)
    hints.record(2 * WINDOW, bytes([1, 1, 0]))
    assert hints.seen_cold(WINDOW, 3 * WINDOW) and not hints.seen_cold(0, 2 * WINDOW + 1)


def test_memory_does_not_grow_with_the_mapping() -> None:
    """A page near the end of a 1 TiB mapping costs one window, not a byte per page."""
    hints = ResidencyHints()
    hints.known(0, 0)
    tracemalloc.start()
    try:
        hints.mark((1 << 40) // 4096 - 1, (1 << 40) // 4096 - 1)
        for window in range(4 * MAX_WINDOWS):  # more windows than are kept
            hints.mark(window * WINDOW, window * WINDOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (MAX_WINDOWS + 16) * 400  # about 1.4 MiB at most, whatever was touched
    assert hints.known((4 * MAX_WINDOWS - 1) * WINDOW, (4 * MAX_WINDOWS - 1) * WINDOW)
