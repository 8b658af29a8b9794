"""Run the suite with another default flush policy, to find what a policy does on the loop.

    PYTHONPATH=tests python -m pytest -p _loop_guard -p _default_policy \\
        --default-flush-policy=always tests/aio

Every mapping opened without `flush_policy=` then gets the chosen policy: never,
manual, always, every_bytes:N, every_writes:N or every_millis:N. Mappings that name
their policy keep it. Opt-in only: tests that count syncs assume the usual default.
"""

from __future__ import annotations

import pytest

from mmap_io import FlushPolicy
from mmap_io._core._mapping import Mapping


def policy(text: str) -> FlushPolicy:
    """`always`, `every_bytes:4096` and so on, as a FlushPolicy."""
    kind, _, number = text.partition(":")
    if kind in ("never", "manual", "always"):
        return getattr(FlushPolicy, kind.upper())  # type: ignore[no-any-return]
    return getattr(FlushPolicy, kind)(int(number))  # type: ignore[no-any-return]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--default-flush-policy",
        default=None,
        help="flush policy of mappings opened without one (always, every_bytes:N, ...)",
    )


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--default-flush-policy")
    if chosen:
        defaults = Mapping.__init__.__kwdefaults__
        assert defaults is not None and "flush_policy" in defaults
        defaults["flush_policy"] = policy(chosen)


def pytest_report_header(config: pytest.Config) -> str | None:
    chosen = config.getoption("--default-flush-policy")
    return f"default flush policy: {policy(chosen)!r}" if chosen else None
