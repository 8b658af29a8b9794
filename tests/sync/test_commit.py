# GENERATED from tests/aio/test_commit.py by scripts/unasync.py: do not edit.
"""Group commit on its own: shared syncs, and no caller stranded by a failing one."""

from __future__ import annotations

from functools import partial

import pytest

from conftest import Disk, gather
from mmap_io.sync._commit import GroupCommit



def test_concurrent_callers_share_syncs() -> None:
    commit, disk = GroupCommit(), Disk()
    gather(*(partial(commit.run, disk.sync) for _ in range(50)))
    assert 1 <= disk.calls <= 3


def test_sequential_callers_each_get_their_own_sync() -> None:
    commit, disk = GroupCommit(), Disk()
    for _ in range(5):
        commit.run(disk.sync)
    assert disk.calls == 5


def test_a_failing_sync_fails_its_leader_and_strands_nobody() -> None:
    commit, disk = GroupCommit(), Disk(fail_on=1)
    outcomes: list[str] = []

    def caller() -> None:
        try:
            commit.run(disk.sync)
            outcomes.append("ok")
        except OSError:
            outcomes.append("failed")

    gather(*(caller for _ in range(20)))
    assert outcomes.count("failed") == 1 and outcomes.count("ok") == 19
    assert disk.calls >= 2  # the others led a sync of their own
