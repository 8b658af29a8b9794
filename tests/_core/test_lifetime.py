"""What the process holds: forked children can use what they inherit, and the library
never truncates a file this process maps.

Both run in a child interpreter (run_child): a child that hangs is killed and fails
its test, and a SIGBUS from a truncated mapping fails it with the signal's name.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import run_child

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="fork, and /proc/<tid>/syscall"
)

# -- a child forked at any moment can write, flush and close what it inherited --------

# msync's number in /proc/<pid>/task/<tid>/syscall, per architecture (unistd.h).
_MSYNC = {"x86_64": 26, "aarch64": 227, "riscv64": 227, "ppc64le": 144, "s390x": 144}

_FORK = """
import threading, time
case, path, msync = sys.argv[1], sys.argv[2], sys.argv[3]
SIZE = 64 << 20  # msync of this much dirty memory takes long enough to be caught in it


def in_msync(tid):
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            return f.read().split()[0] == msync
    except (OSError, IndexError):
        return False


def dirty(mm, i):
    mm.update_region(4096, bytes([i % 256]) * (SIZE - 4096))  # page 0 is the child's


policy = FlushPolicy.every_millis(1) if case == "timer" else FlushPolicy.MANUAL
mm = MemoryMappedFile.create_rw(path, SIZE, flush_policy=policy)
stop = threading.Event()
tid = None
threads = []


def start(target):
    thread = threading.Thread(target=target)
    threads.append(thread)
    thread.start()


if case == "flush":  # a thread inside flush()
    ident = []

    def flusher():
        ident.append(threading.get_native_id())
        i = 0
        while not stop.is_set():
            i += 1
            dirty(mm, i)
            mm.flush()

    start(flusher)
    while not ident:
        time.sleep(0.001)
    tid = ident[0]
elif case in ("timer", "committer"):  # the timer's or the async committer's msync
    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            dirty(mm, i)
            if case == "committer":
                anyio.run(mm.flush_async)

    start(writer)
    name = "mmap_io-flush-timer" if case == "timer" else "mmap_io-committer"
    while tid is None:
        found = [t for t in threading.enumerate() if t.name == name]
        tid = found[0].native_id if found else None
elif case == "watch":  # a watch thread waiting for the OS, its callback thread alive
    handle = mm.watch(lambda event: None)


def fork_once():
    # Fork (inside an msync of `tid`, if any); the child writes, flushes and closes.
    # Returns the child's exit status ("hung" if it had to be killed) and whether the
    # fork landed inside the msync.
    while tid is not None and not in_msync(tid):
        pass  # spin (not sleep): msync may be short, and the fork must land inside it
    pid = os.fork()
    if pid == 0:  # the child: one thread, everything else inherited as it was
        try:
            mm.update_region(100, b"written by the child")
            mm.flush()
            mm.close()
            os._exit(0)
        except BaseException as error:
            os.write(2, f"child failed: {error!r}\\n".encode())
            os._exit(3)
    inside = tid is not None and in_msync(tid)  # still in it: the fork landed inside
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(wait_status), inside
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "hung", inside


statuses = []
for attempt in range(5):  # until a fork lands inside the msync (the first, as a rule)
    status, inside = fork_once()
    statuses.append(status)
    if inside or tid is None or status != 0:
        break
stop.set()
for thread in threads:
    thread.join()
if case == "watch":
    handle.stop()
mm.close()
with MemoryMappedFile.open_ro(path) as fresh:
    seen = fresh.read_bytes(100, 20).decode(errors="replace")
print(json.dumps({"statuses": statuses, "seen": seen, "inside": inside}))
"""


@pytest.mark.parametrize("case", ["flush", "timer", "committer", "watch"])
def test_a_child_forked_mid_flush_or_with_helpers_running_writes_flushes_and_closes(
    path: Path, case: str
) -> None:
    """The parent has a thread inside msync (a flush(), the every_millis timer, the
    async committer), or a running watch, when it forks. The child inherits locks
    those threads may hold but none of the threads: its flush and close must finish
    (a child that hangs is killed after 30 s) and its bytes must reach the file."""
    if case == "watch":
        pytest.importorskip("watchfiles")
    msync = _MSYNC.get(os.uname().machine)
    if msync is None:
        pytest.skip(f"msync's syscall number on {os.uname().machine} is not listed")
    result = run_child(_FORK, case, str(path), str(msync))
    assert set(result["statuses"]) == {0}, result
    assert result["seen"] == "written by the child"
    assert result["inside"] is (case != "watch")


# clock_nanosleep's number (what time.sleep calls), per architecture (unistd.h).
_NANOSLEEP = {"x86_64": 230, "aarch64": 115, "riscv64": 115}

_FORK_MID_SHRINK = """
import threading
path, nanosleep = sys.argv[1], sys.argv[2]
mm = MemoryMappedFile.create_rw(path, 16384)
mm.update_region(0, b"before the fork")
view = mm.as_slice(8192, 4)  # past the new size: the shrink waits for it, polling


def in_nanosleep(tid):
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            return f.read().split()[0] == nanosleep
    except (OSError, IndexError):
        return False


shrink_error = []
ident = []


def shrink():
    ident.append(threading.get_native_id())
    try:
        mm.resize(4096)
    except MmapIoError as error:
        shrink_error.append(type(error).__name__)


thread = threading.Thread(target=shrink)
thread.start()
while not ident or not in_nanosleep(ident[0]):
    pass  # until the shrinking thread sleeps between two looks at the views
pid = os.fork()
if pid == 0:  # the child: its copy of the mapping was caught mid-shrink
    try:
        seen = bytes(mm.as_slice(0, 15))
        with mm.as_slice_mut(0, 6) as out:
            out[:] = b"child "
        mm.flush()
        mm.close()
        os._exit(0 if seen == b"before the fork" else 4)
    except BaseException as error:
        os.write(2, f"child failed: {error!r}\\n".encode())
        os._exit(3)
_, wait_status = os.waitpid(pid, 0)
thread.join()
view.release()
mm.close()
with open(path, "rb") as f:
    head = f.read(15)
print(json.dumps({"status": os.waitstatus_to_exitcode(wait_status), "head": head.decode(),
                  "parent": shrink_error}))
"""


def test_a_child_forked_while_a_shrink_waits_for_views_can_still_make_views(
    path: Path,
) -> None:
    """A shrink waiting for views has taken the mapping's root views away; the child,
    which has no shrinking thread, gets them back and can view, write, flush, close."""
    nanosleep = _NANOSLEEP.get(os.uname().machine)
    if nanosleep is None:
        pytest.skip(f"clock_nanosleep's number on {os.uname().machine} is not listed")
    result = run_child(_FORK_MID_SHRINK, str(path), str(nanosleep))
    assert result["status"] == 0, result
    assert result["head"] == "child  the fork"  # "before" overwritten by "child "
    assert result["parent"] == ["ResizeFailedError(BufferError)"]  # the view stayed


# -- the library never truncates a file this process maps ----------------------------

_TRUNCATE = """
which, folder = sys.argv[1], sys.argv[2]
results = {}
for state in ("open", "closed", "grown"):
    print(f"state: {state}", file=sys.stderr, flush=True)  # names the case a crash hit
    path, other = f"{folder}/mapped-{state}.bin", f"{folder}/other-{state}.bin"
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 64)
    with open(other, "wb") as f:
        f.write(b"other file")
    mm = MemoryMappedFile.open_rw(path)
    view = mm.as_slice(16384 - 256, 256)  # the last page: the first a truncation cuts
    if state == "grown":  # the old memory is retired to the view, the file mapped anew
        mm.resize(32768)
    elif state == "closed":
        mm.close()
    with open(path, "rb") as f:
        before = f.read()
    calls = {
        "create_rw": lambda: MemoryMappedFile.create_rw(path, 100),
        "create_rw(sparse)": lambda: MemoryMappedFile.create_rw(path, 100, sparse=True),
        "builder.create": lambda: MemoryMappedFile.builder(path).size(100).create(),
        "create_mmap": lambda: create_mmap(path, 100),
        "copy_mmap": lambda: copy_mmap(other, path),
        "aio.create_rw": lambda: anyio.run(aio.create_rw, path, 100),
        "aio.create_mmap_async": lambda: anyio.run(aio.create_mmap_async, path, 100),
        "aio.copy_mmap_async": lambda: anyio.run(aio.copy_mmap_async, other, path),
    }
    try:
        calls[which]()
        error = None
    except Exception as caught:
        error = describe(caught)
        error["buffer"] = isinstance(caught, BufferError)
    touched = bytes(view)  # a cut page would raise SIGBUS here and kill this process
    view.release()
    if not mm.closed:
        mm.close()
    with open(path, "rb") as f:
        after = f.read()
    results[state] = {
        "error": error,
        "same": after == before,
        "size": len(after),
        "view": touched == before[16384 - 256 : 16384],
    }
print(json.dumps(results))
"""

_TRUNCATORS = [
    "create_rw",
    "create_rw(sparse)",
    "builder.create",
    "create_mmap",
    "copy_mmap",
    "aio.create_rw",
    "aio.create_mmap_async",
    "aio.copy_mmap_async",
]


@pytest.mark.parametrize("which", _TRUNCATORS)
def test_creating_or_copying_onto_a_file_this_process_maps_is_refused(
    tmp_path: Path, which: str
) -> None:
    """Open, closed with a live view, or grown beside a view: the call raises, the file
    keeps its size and bytes, and the view still reads them (a cut would have been a
    SIGBUS)."""
    results = run_child(_TRUNCATE, which, str(tmp_path))
    for state, result in results.items():
        assert result["error"] is not None, f"{state}: the call went ahead"
        assert result["error"]["mmap_io"] is True and result["error"]["buffer"] is True, state
        assert result["same"] is True, state
        assert result["size"] == (32768 if state == "grown" else 16384), state
        assert result["view"] is True, state
    assert set(results) == {"open", "closed", "grown"}


def test_once_the_views_are_gone_the_file_may_be_recreated(path: Path) -> None:
    from mmap_io import MemoryMappedFile

    path.write_bytes(b"old" * 1000)
    mm = MemoryMappedFile.open_rw(path)
    view = mm.as_slice(0, 3)
    mm.close()
    view.release()  # nothing maps the file any more
    with MemoryMappedFile.create_rw(path, 100) as fresh:
        assert fresh.read_bytes(0, 100) == bytes(100)
    assert path.stat().st_size == 100
