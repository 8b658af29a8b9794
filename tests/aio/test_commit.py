"""Group commit on its own: shared syncs, and no caller stranded by a failing one."""

from __future__ import annotations

from functools import partial

import pytest

from conftest import Disk, gather_async
from mmap_io.aio._commit import AsyncGroupCommit

pytestmark = pytest.mark.anyio  # async-only


async def test_concurrent_callers_share_syncs() -> None:
    commit, disk = AsyncGroupCommit(), Disk()
    await gather_async(*(partial(commit.run_async, disk.sync) for _ in range(50)))
    assert 1 <= disk.calls <= 3


async def test_sequential_callers_each_get_their_own_sync() -> None:
    commit, disk = AsyncGroupCommit(), Disk()
    for _ in range(5):
        await commit.run_async(disk.sync)
    assert disk.calls == 5


async def test_a_failing_sync_fails_its_leader_and_strands_nobody() -> None:
    commit, disk = AsyncGroupCommit(), Disk(fail_on=1)
    outcomes: list[str] = []

    async def caller() -> None:
        try:
            await commit.run_async(disk.sync)
            outcomes.append("ok")
        except OSError:
            outcomes.append("failed")

    await gather_async(*(caller for _ in range(20)))
    assert outcomes.count("failed") == 1 and outcomes.count("ok") == 19
    assert disk.calls >= 2  # the others led a sync of their own
