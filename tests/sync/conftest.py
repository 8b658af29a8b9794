# GENERATED from tests/aio/conftest.py by scripts/unasync.py: do not edit.
"""Every test here runs under every flush policy, unless it is about the default one.

A mapping opened without `flush_policy=` gets the test's policy instead of NEVER,
so each async call is also checked (by the loop guard) with a policy that wants to
flush after a write, on a timer, or never. Tests whose assertions count syncs or
pending bytes of the default policy are marked `default_policy_only`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mmap_io import FlushPolicy
from mmap_io._core._mapping import Mapping

POLICIES = [
    FlushPolicy.NEVER,
    FlushPolicy.MANUAL,
    FlushPolicy.ALWAYS,
    FlushPolicy.every_bytes(4096),
    FlushPolicy.every_writes(8),
    FlushPolicy.every_millis(5),
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "default_policy_only(why): run only with the default flush policy"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "default_policy" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("default_policy_only")
        policies = POLICIES[:1] if only else POLICIES
        metafunc.parametrize("default_policy", policies, ids=repr, indirect=True)


@pytest.fixture(autouse=True)
def default_policy(request: pytest.FixtureRequest) -> Iterator[FlushPolicy]:
    """The policy of mappings opened without one, for the length of the test."""
    defaults = Mapping.__init__.__kwdefaults__
    assert defaults is not None
    saved, defaults["flush_policy"] = defaults["flush_policy"], request.param
    yield request.param
    defaults["flush_policy"] = saved
