"""Resizing beside views: growth never waits for them, a shrink waits only for views a
user holds, and nothing the library does on its own makes either fail."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from conftest import at_each_step, run_child
from mmap_io import MemoryMappedFile, MmapIoError


def test_a_thread_reading_into_a_buffer_never_makes_resize_fail(path: Path) -> None:
    """read_into copies through a view of its own for large buffers; the resizes in
    another thread, growing and shrinking, must never be refused because of it."""
    mm = MemoryMappedFile.create_rw(path, 1 << 20)
    mm.update_region(0, b"\x5a" * (64 << 10))
    stop = threading.Event()
    wrong: list[bytes] = []
    errors: list[BaseException] = []

    def reader() -> None:
        buf = bytearray(64 << 10)
        while not stop.is_set():
            try:
                mm.read_into(0, buf)
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)
                return
            if buf != b"\x5a" * len(buf):
                wrong.append(bytes(buf[:16]))

    threads = [threading.Thread(target=reader) for _ in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # threads take turns often: more interleavings, less waiting
    for thread in threads:
        thread.start()
    refused: list[BaseException] = []
    try:
        for i in range(200):
            try:
                mm.resize(1 << 20 if i % 2 else 2 << 20)
            except MmapIoError as error:
                refused.append(error)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
    assert refused == []
    assert errors == [] and wrong == []
    assert len(mm) == 1 << 20 and path.stat().st_size == 1 << 20
    mm.close()


def test_a_shrink_landing_at_any_step_of_as_slice_mut_waits_for_the_view_and_succeeds(
    path: Path,
) -> None:
    """Every 64 mutable views the mapping settles its list, which takes its lock. A
    thread must never wait for that lock with a fresh view in hand: a shrink holding
    the lock would wait for that view and be refused although the caller let it go at
    once. The call makes the 64th and 65th views, so settling falls inside it."""

    made: list[MemoryMappedFile] = []

    def make() -> MemoryMappedFile:
        mm = MemoryMappedFile.create_rw(path, 16384)
        for _ in range(63):
            mm.as_slice_mut(0, 8).release()
        made.append(mm)
        return mm

    def two_views(mm: MemoryMappedFile) -> None:
        for _ in range(2):
            mm.as_slice_mut(0, 8).release()

    runs = at_each_step(make, two_views, lambda mm: mm.resize(4096))
    assert runs
    for call, shrink in runs:
        assert call == ("ok", None)
        assert shrink == ("ok", None)
    for mm in made[: len(runs)]:
        assert mm.pending_bytes == 65 * 8  # each released view counted once (read after close)


_TWO_MAPPINGS = """
path = sys.argv[1]
BYTES = bytes(range(256)) * 64
with open(path, "wb") as f:
    f.write(BYTES)
results = {}
for case in ("open", "closed with a view", "shorter"):
    print(f"case: {case}", file=sys.stderr, flush=True)  # names the case a crash hit
    mine = MemoryMappedFile.open_rw(path)
    view = None
    if case == "shorter":  # maps the first 4 KiB only: a cut to 8 KiB leaves it whole
        mine.resize(4096)
        theirs = MemoryMappedFile.open_rw(path)
        mine.resize(16384)
        mine.update_region(4096, BYTES[4096:])
    else:
        theirs = MemoryMappedFile.open_rw(path)
    if case == "closed with a view":
        view = theirs.as_slice(16384 - 256, 256)
        theirs.close()
    try:
        mine.resize(8192)
        error = None
    except Exception as caught:
        error = describe(caught)
        error["buffer"] = isinstance(caught, BufferError)
    if view is not None:
        touched = bytes(view) == BYTES[-256:]  # a cut page: SIGBUS, and the child dies
        view.release()
    else:
        end = len(theirs)
        touched = theirs.read_bytes(end - 256, 256) == BYTES[end - 256 : end]
        theirs.close()
    results[case] = {"error": error, "touched": touched, "size": os.path.getsize(path),
                     "len": len(mine)}
    mine.resize(16384)  # back to the start for the next case
    mine.update_region(0, BYTES)
    mine.close()
print(json.dumps(results))
"""


def test_a_shrink_never_cuts_the_file_under_another_mapping_of_this_process(
    tmp_path: Path,
) -> None:
    """Two mappings of one file: shrinking one would cut pages the other maps (SIGBUS at
    its next touch: the child would die). Refused at once, as a BufferError, with
    nothing changed; a mapping that ends before the new size does not stand in the way."""
    results = run_child(_TWO_MAPPINGS, str(tmp_path / "shared.bin"))
    for case in ("open", "closed with a view"):
        assert results[case]["error"]["type"] == "ResizeFailedError(BufferError)", case
        assert results[case]["error"]["buffer"] is True
        assert results[case]["touched"] is True
        assert (results[case]["size"], results[case]["len"]) == (16384, 16384)
    assert results["shorter"]["error"] is None
    assert (results["shorter"]["size"], results["shorter"]["len"]) == (8192, 8192)
