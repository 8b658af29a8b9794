"""The lifetime model: close always wins at once, and memory goes with the last user view.

The crash-prone cases run in a child process (run_child), so that a segfault or a
SIGBUS fails one test with the signal's name instead of killing the suite.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import close_at_each_step, run_child
from mmap_io import MemoryMappedFile, MmapAdvice, MmapIoError, Segment

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="resizes and reopens files under live views (POSIX)"
)

PATTERN = bytes(range(256)) * 16  # 4 KiB every reader checks
GENERATIONS = 60  # mappings closed under the racing calls

# -- 1. views in reference cycles, then close, then the cycle collector -------------

# The child makes one kind of view four ways: older than the cycle that holds it (the
# collector then clears the view first, which is what crashed when an atomic view
# exported a memoryview), younger than its cycle, in the locals of a frame kept alive
# by a caught exception, and in a cycle that stays alive. Then it closes the mapping,
# collects, and reads the view that is still alive.
_CYCLES = """
import gc
which, path = sys.argv[1], sys.argv[2]
gc.disable()  # collections happen where the program says, not at random


class Holder:
    pass


def make(mm):
    if which == "atomic_u64":
        return mm.atomic_u64(8)
    if which == "atomic_u32":
        return mm.atomic_u32(8)
    if which == "atomic_slice":
        return mm.atomic_u64_slice(8, 2)
    if which == "atomic_from_slice":
        return mm.atomic_u64_slice(8, 2)[0]  # the slice itself is dropped at once
    if which == "slice":
        return mm.as_slice(8, 8)
    if which == "slice_of_slice":
        return mm.as_slice(0, 64)[8:16]
    if which == "mutable_slice":
        return mm.as_slice_mut(8, 8)
    if which == "chunk":
        chunks = mm.chunks(8)
        next(chunks)
        return next(chunks)
    import numpy as np
    if which == "numpy_over_view":
        return np.frombuffer(mm.as_slice(8, 8), dtype=np.uint8)
    return mm.as_array(np.uint8, 8, offset=8)


def head(view):
    # The first bytes the view shows.
    if isinstance(view, memoryview):
        return bytes(view[:8])
    if hasattr(view, "tobytes"):
        return view.tobytes()[:8]
    cell = view[0] if hasattr(view, "__getitem__") else view
    cell.fetch_add(0)  # a write: the view reports it when it goes
    return cell.load().to_bytes(cell.nbytes, sys.byteorder)


def fails(mm):
    view = make(mm)
    try:
        raise KeyError(which)
    except KeyError as error:
        return error  # error -> traceback -> this frame -> its locals (view, error)


results = {}
for kind in ("file", "anon"):
    print(f"kind: {kind}", file=sys.stderr, flush=True)  # names the case a crash hit
    mm = AnonymousMmap(1 << 16) if kind == "anon" else MemoryMappedFile.create_rw(path, 1 << 16)
    mm.update_region(0, bytes(range(64)))
    view = make(mm)
    older = Holder()
    older.self, older.view = older, view
    del older, view
    younger = Holder()
    younger.self, younger.view = younger, make(mm)
    del younger
    caught = fails(mm)
    del caught
    alive = Holder()
    alive.self, alive.view = alive, make(mm)
    mm.close()
    gc.collect()
    results[kind] = {"closed": mm.closed, "alive_view_bytes": list(head(alive.view))}
    del alive
    gc.collect()
print(json.dumps(results))
"""

_VIEWS = [
    "atomic_u64",
    "atomic_u32",
    "atomic_slice",
    "atomic_from_slice",
    "slice",
    "slice_of_slice",
    "mutable_slice",
    "chunk",
    "numpy_over_view",
    "as_array",
]


@pytest.mark.parametrize("which", _VIEWS)
def test_views_in_reference_cycles_survive_close_and_the_collector(path: Path, which: str) -> None:
    """File mappings and AnonymousMmap alike (the child's stderr names the one a crash
    hit)."""
    if which.startswith(("numpy", "as_array")):
        pytest.importorskip("numpy")
    results = run_child(_CYCLES, which, str(path))  # a crash fails with its signal
    width = 4 if which == "atomic_u32" else 8
    for kind in ("file", "anon"):
        assert results[kind]["closed"] is True
        assert bytes(results[kind]["alive_view_bytes"]) == bytes(range(8, 8 + width)), kind


# -- 2. close from a fourth thread while three threads read and write ----------------


def _until_closed(
    step: Callable[[], bool], going: threading.Event, give_up: threading.Event, ends: list[Any]
) -> Callable[[], None]:
    """A thread body: run `step` until it raises; record the exception, or "wrong byte",
    or "gave up" if the test ended first (a close that failed)."""

    def run() -> None:
        calls = 0
        try:
            while not give_up.is_set():
                if not step():
                    ends.append("wrong byte")
                    return
                calls += 1
                if calls == 50:
                    going.set()  # this thread is in full swing
            ends.append("gave up")
        except Exception as error:
            ends.append(error)

    return run


def test_close_is_never_starved_by_readers_and_they_then_get_the_closed_error(
    path: Path,
) -> None:
    mm = MemoryMappedFile.create_rw(path, 1 << 16)
    mm.update_region(0, PATTERN)

    def view_held() -> bool:
        with mm.as_slice(0, len(PATTERN)) as view:
            threading.Event().wait(0.0002)  # hold the view ~0.2 ms, GIL released
            return view == PATTERN

    def read_into() -> bool:
        buf = bytearray(len(PATTERN))
        mm.read_into(0, buf)
        return buf == PATTERN

    def update_region() -> bool:
        mm.update_region(0, PATTERN)  # the same bytes: every read stays checkable
        return True

    ends: list[Any] = []
    going = [threading.Event() for _ in range(3)]
    give_up = threading.Event()
    threads = [
        threading.Thread(target=_until_closed(step, event, give_up, ends), daemon=True)
        for step, event in zip((view_held, read_into, update_region), going, strict=True)
    ]
    for thread in threads:
        thread.start()
    closing: list[BaseException] = []
    try:
        for event in going:
            assert event.wait(30), "a reader never got going"

        def close() -> None:
            try:
                mm.close()  # the first call must succeed
            except BaseException as error:
                closing.append(error)

        closer = threading.Thread(target=close, daemon=True)
        closer.start()
        closer.join(30)
        assert not closer.is_alive(), "close() hung behind the readers"
        assert closing == []
        for thread in threads:
            thread.join(30)
    finally:
        give_up.set()
    assert mm.closed
    assert len(ends) == 3
    for end in ends:
        assert isinstance(end, MmapIoError) and isinstance(end, ValueError), end
    assert path.read_bytes()[: len(PATTERN)] == PATTERN


# -- 9. every call during a concurrent close: the library's closed error only ---------


def _chunks(mm: MemoryMappedFile) -> None:
    for chunk in mm.chunks(4096):
        chunk.release()


_CALLS: dict[str, Callable[[MemoryMappedFile], object]] = {
    "len": len,
    "flush_range": lambda mm: mm.flush_range(0, 4096),
    "touch_pages": lambda mm: mm.touch_pages(),
    "Segment": lambda mm: Segment(mm, 0, 64).read_bytes(),
    "Segment.is_valid": lambda mm: Segment(mm, 0, 64).is_valid(),
    "reader().read": lambda mm: mm.reader().read(64),
    "reader().readline": lambda mm: mm.reader().readline(),
    "chunks": _chunks,
    "sync_all": lambda mm: mm.sync_all(),
    "prefetch_range": lambda mm: mm.prefetch_range(0, 4096),
    "repr": repr,
}


def test_calls_racing_close_raise_only_the_closed_error(path: Path) -> None:
    """One thread closes and reopens the file in a loop; each other thread calls one
    method on whichever mapping is current. Every exception must be the library's
    closed error (never the stdlib's plain "mmap closed or invalid"), and every call
    must also have succeeded on an open mapping."""
    path.write_bytes(b"a line\n" * 2048)
    current = [MemoryMappedFile.open_rw(path)]
    stop = threading.Event()
    lock = threading.Condition()
    done: dict[str, int] = dict.fromkeys(_CALLS, -1)  # the generation each last succeeded on
    generation = [0]
    succeeded: dict[str, int] = dict.fromkeys(_CALLS, 0)
    raised: list[tuple[str, BaseException]] = []

    def caller(name: str, call: Callable[[MemoryMappedFile], object]) -> None:
        while not stop.is_set():
            mm, gen = current[0], generation[0]
            try:
                call(mm)
            except BaseException as error:
                raised.append((name, error))
                continue
            succeeded[name] += 1
            with lock:
                if done[name] != gen:
                    done[name] = gen
                    lock.notify_all()

    threads = [threading.Thread(target=caller, args=item) for item in _CALLS.items()]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # threads take turns often: more interleavings, less waiting
    for thread in threads:
        thread.start()
    try:
        for gen in range(GENERATIONS):
            with lock:  # let every call reach this mapping before closing it
                reached = lock.wait_for(lambda gen=gen: min(done.values()) >= gen, 30)  # type: ignore[misc]
                assert reached, done
            current[0].close()
            current[0], generation[0] = MemoryMappedFile.open_rw(path), gen + 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
        current[0].close()
    leaks = [(name, repr(error)) for name, error in raised if not isinstance(error, MmapIoError)]
    assert leaks == []
    for name, error in raised:
        assert isinstance(error, ValueError), (name, error)  # the closed error
    assert min(succeeded.values()) >= GENERATIONS


# -- 11. views of every kind while a thread closes, resizes and reopens ---------------

_STRESS = """
import threading
path = sys.argv[1]
PATTERN = bytes(range(256)) * 16
COUNTER = 8192  # an atomic counter, past the checked bytes; sizes never cut either
current = [MemoryMappedFile.open_rw(path)]
stop = threading.Event()
tally = {"wrong": 0, "other": [], "closed": 0, "adds": 0, "ok": 0}
lock = threading.Lock()


def note(key, value=1):
    with lock:
        if key == "other":
            tally["other"].append(value)
        else:
            tally[key] += value


went = {kind: threading.Event() for kind in ("as_slice", "as_slice_mut", "read_into", "atomic")}


def worker(kind):
    buf = bytearray(len(PATTERN))
    last, adds, ok = -1, 0, 0
    while not stop.is_set():
        mm = current[0]
        try:
            if kind == "as_slice":
                with mm.as_slice(0, len(PATTERN)) as view:
                    good = view == PATTERN
            elif kind == "as_slice_mut":
                with mm.as_slice_mut(0, len(PATTERN)) as view:
                    good = view == PATTERN
                    view[:] = PATTERN
            elif kind == "read_into":
                mm.read_into(0, buf)
                good = buf == PATTERN
            else:
                with mm.atomic_u64(COUNTER) as counter:
                    previous = counter.fetch_add(1)
                adds += 1
                good, last = previous > last, previous  # one cell, one page cache
            ok += 1
            went[kind].set()
            if not good:
                note("wrong")
        except MmapIoError as error:
            if isinstance(error, ValueError):
                note("closed")
            else:
                note("other", repr(error))
        except BaseException as error:
            note("other", repr(error))
    note("adds", adds)
    note("ok", ok)


kinds = ["as_slice", "as_slice_mut", "read_into", "atomic"]
sys.setswitchinterval(1e-4)  # threads take turns often: more interleavings, less waiting
threads = [threading.Thread(target=worker, args=(kind,)) for kind in kinds]
for thread in threads:
    thread.start()
refused_close = []
refused_shrink = 0
try:
    for event in went.values():  # every kind of view has been taken before the first close
        assert event.wait(30)
    for i in range(int(sys.argv[2])):
        mm = current[0]
        mm.resize(1 << 20)  # growth never waits for views
        try:
            mm.resize(COUNTER + 4096)  # a shrink waits for the short views to go
        except ResizeFailedError as error:
            assert isinstance(error, BufferError) and len(mm) == 1 << 20
            refused_shrink += 1
        try:
            mm.close()
        except BaseException as error:
            refused_close.append(repr(error))
        current[0] = MemoryMappedFile.open_rw(path)
finally:
    stop.set()
    for thread in threads:
        thread.join()
    current[0].close()
with MemoryMappedFile.open_ro(path) as fresh:
    counter = int.from_bytes(fresh.read_bytes(COUNTER, 8), sys.byteorder)
    same = fresh.read_bytes(0, len(PATTERN)) == PATTERN
tally.update(refused_close=refused_close, refused_shrink=refused_shrink, counter=counter,
             same=same)
print(json.dumps(tally))
"""


def test_short_views_of_every_kind_while_a_thread_closes_resizes_and_reopens(
    path: Path,
) -> None:
    """No crash (a child: a crash is its exit code), no refused close, no wrong byte,
    no error but the closed one, and not one atomic increment lost. Every kind of view
    has been taken before the first close (the child waits for each)."""
    path.write_bytes(PATTERN + bytes(8192 + 4096 - len(PATTERN)))
    result = run_child(_STRESS, str(path), "120")
    assert result["refused_close"] == []
    assert result["wrong"] == 0
    assert result["other"] == []
    assert result["same"] is True
    assert result["counter"] == result["adds"]  # every increment landed in the file


# -- 9b. the same calls, with the close landing at each of their steps in turn --------

LINES = b"a line\n" * 2048


def _read_into(n: int) -> Callable[[MemoryMappedFile], bytes]:
    def call(mm: MemoryMappedFile) -> bytes:
        buf = bytearray(n)
        mm.read_into(0, buf)
        return bytes(buf)

    return call


def _write_through_a_view(mm: MemoryMappedFile) -> bytes:
    with mm.as_slice_mut(0, 7) as view:
        view[:] = b"a line\n"
        return bytes(view)


def _for_each_mut(mm: MemoryMappedFile) -> int:
    seen: list[int] = []
    mm.chunks_mut(4096).for_each_mut(lambda offset, view: seen.append(len(view)))
    return sum(seen)


# name: (call, the results it may give when the close lands after it has its answer)
_STEPPED: dict[str, tuple[Callable[[MemoryMappedFile], object], tuple[object, ...]]] = {
    "len": (len, (len(LINES),)),
    "flush_range": (lambda mm: mm.flush_range(0, 4096), (None,)),
    "touch_pages": (lambda mm: mm.touch_pages(), (None,)),
    "Segment": (lambda mm: Segment(mm, 0, 14).read_bytes(), (LINES[:14],)),
    "Segment.as_slice": (lambda mm: bytes(Segment(mm, 7, 7).as_slice()), (b"a line\n",)),
    "Segment.is_valid": (lambda mm: Segment(mm, 0, 14).is_valid(), (True, False)),
    "reader().read": (lambda mm: mm.reader().read(14), (LINES[:14],)),
    "reader().readline": (lambda mm: mm.reader().readline(), (b"a line\n",)),
    "chunks": (lambda mm: b"".join(bytes(chunk) for chunk in mm.chunks(4096)), (LINES,)),
    "chunks_owned": (lambda mm: b"".join(mm.chunks_owned(4096)), (LINES,)),
    "for_each_mut": (_for_each_mut, (len(LINES),)),
    "read_bytes": (lambda mm: mm.read_bytes(7, 7), (b"a line\n",)),
    "read_into": (_read_into(7), (b"a line\n",)),
    "read_into(64 KiB)": (_read_into(len(LINES)), (LINES,)),
    "as_slice": (lambda mm: bytes(mm.as_slice(7, 7)), (b"a line\n",)),
    "as_slice_mut": (_write_through_a_view, (b"a line\n",)),
    "update_region": (lambda mm: mm.update_region(0, b"a line\n"), (None,)),
    "atomic_u64": (lambda mm: mm.atomic_u64(0).load(), (int.from_bytes(LINES[:8], "little"),)),
    "resize": (lambda mm: mm.resize(len(LINES) + 4096), (None,)),
    "flush": (lambda mm: mm.flush(), (None,)),
    "sync_all": (lambda mm: mm.sync_all(), (None,)),
    "prefetch_range": (lambda mm: mm.prefetch_range(0, 4096), (None,)),
    "advise": (lambda mm: mm.advise(0, 4096, MmapAdvice.SEQUENTIAL), (None,)),
    "pending_bytes": (lambda mm: mm.pending_bytes, (0,)),
}


@pytest.mark.parametrize("name", _STEPPED)
def test_a_close_landing_at_any_step_of_a_call_gives_its_result_or_the_closed_error(
    path: Path, name: str
) -> None:
    path.write_bytes(LINES)
    call, expected = _STEPPED[name]
    if name == "atomic_u64" and sys.byteorder != "little":
        expected = (int.from_bytes(LINES[:8], "big"),)
    outcomes = close_at_each_step(lambda: MemoryMappedFile.open_rw(path), call)
    assert outcomes  # the call took steps, and a close landed at each
    for how, value in outcomes:
        if how == "ok":
            assert value in expected
        else:
            assert isinstance(value, MmapIoError) and isinstance(value, ValueError), repr(value)
