"""Real processes: flushed writes survive SIGKILL, and racing creators create exactly once."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import linux_only
from mmap_io import MemoryMappedFile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")

_CHILD = """
import sys, time, anyio
sys.path.insert(0, {tests!r})
from conftest import dirty_kib
from mmap_io import MemoryMappedFile, aio

path, how, backend = sys.argv[1], sys.argv[2], sys.argv[3]
if how == "flush":
    mm = MemoryMappedFile.open_rw(path)
    mm.update_region(4096, b"survives SIGKILL")
    mm.flush()
else:
    async def write(mm, i):
        if how == "update_region_async":
            await mm.update_region_async(i * 4096, b"task %02d" % i)
        else:  # flush_range_async: the tasks' range flushes share rounds
            mm.update_region(i * 4096, b"task %02d" % i)
            await mm.flush_range_async(i * 4096, 7)
    async def main():
        mm = await aio.open_rw(path)
        async with anyio.create_task_group() as tg:
            for i in range(32):
                tg.start_soon(write, mm, i)
        return mm
    options = {{"use_uvloop": True}} if backend == "uvloop" else {{}}
    name = "trio" if backend == "trio" else "asyncio"
    mm = anyio.run(main, backend=name, backend_options=options)
print("ready", dirty_kib(mm.address), mm.pending_bytes, flush=True)
time.sleep(60)
"""


@linux_only
@pytest.mark.parametrize(
    ("how", "backend"),
    [
        ("flush", "-"),
        ("update_region_async", "asyncio"),
        ("update_region_async", "uvloop"),
        ("update_region_async", "trio"),
        ("flush_range_async", "asyncio"),
        ("flush_range_async", "trio"),
    ],
)
def test_a_durable_write_survives_sigkill_of_the_writer(path: Path, how: str, backend: str) -> None:
    path.write_bytes(bytes(32 * 4096))
    code = textwrap.dedent(_CHILD).format(tests=str(Path(__file__).parents[1]))
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(path), how, backend], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        word, dirty, pending = child.stdout.readline().split()
        assert word == "ready"
        assert int(dirty) == 0  # nothing left for the kernel to write
        assert int(pending) == (32 * 7 if how == "flush_range_async" else 0)  # ranges keep it
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with MemoryMappedFile.open_ro(path) as fresh:
        if how == "flush":
            assert fresh.read_bytes(4096, 16) == b"survives SIGKILL"
        else:
            for i in range(32):
                assert fresh.read_bytes(i * 4096, 7) == b"task %02d" % i


def _race(
    path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    barrier.wait()
    mm = MemoryMappedFile.open_or_create(path, 8192)
    if mm.created:
        mm.update_region(0, b"HEADER")
    out.put((os.getpid(), mm.created, len(mm)))
    mm.close()


def test_racing_open_or_create_creates_exactly_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for round_ in range(15):
        path = str(tmp_path / f"race{round_}.bin")
        racers = 4
        barrier = context.Barrier(racers)
        out = context.Queue()
        procs = [context.Process(target=_race, args=(path, barrier, out)) for _ in range(racers)]
        for proc in procs:
            proc.start()
        results = [out.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
            assert proc.exitcode == 0
        assert sum(created for _, created, _ in results) == 1
        assert all(size == 8192 for _, _, size in results)
        assert Path(path).read_bytes()[:6] == b"HEADER"


def test_open_or_create_opens_an_existing_file_at_its_own_size(path: Path) -> None:
    path.write_bytes(b"existing")
    with MemoryMappedFile.open_or_create(path, 4096) as mm:
        assert not mm.created and len(mm) == 8 and mm.read_bytes(0, 8) == b"existing"
    with MemoryMappedFile.open_or_create(path, 0) as mm:  # default size unused
        assert len(mm) == 8


def test_shared_mapping_is_seen_by_another_process(path: Path) -> None:
    with MemoryMappedFile.create_rw(path, 4096) as mm:
        code = (
            "import sys; from mmap_io import MemoryMappedFile as M;"
            "m = M.open_rw(sys.argv[1]); m.update_region(0, b'from child'); m.close()"
        )
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        assert mm.read_bytes(0, 10) == b"from child"  # the parent's existing mapping sees it
