"""The loop guard checked against real waits: it must fail the tests that make the
loop wait and pass the same work done through the async API, on every backend."""

from __future__ import annotations

import ctypes
import importlib
import mmap
import os
import pkgutil
import re
import resource
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import _loop_guard
import pytest

import mmap_io
from conftest import believed_resident, linux_only, write_cold
from mmap_io import MemoryMappedFile
from mmap_io._core import _os

TESTS = Path(__file__).parent
BACKENDS = ("asyncio", "uvloop", "trio")
PAGE = 4096

pytestmark = linux_only


@dataclass
class Verdict:
    outcome: str  # passed, failed, skipped or error
    text: str  # the failure message or skip reason


@dataclass
class Run:
    verdicts: dict[str, Verdict]
    output: str  # the terminal report, which holds the sections of passed tests


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Run _loop_guard_cases.py once, guard enabled, in a pytest subprocess."""
    work = tmp_path_factory.mktemp("loop_guard")
    shutil.copy(TESTS / "_loop_guard_cases.py", work / "test_cases.py")
    path = [str(TESTS), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    command = [sys.executable, "-m", "pytest", "-p", "_loop_guard", "-p", "no:cacheprovider"]
    command += ["-q", "-rP", "--junitxml=report.xml", "--basetemp=tmp", "test_cases.py"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verdicts = {}
    for case in ElementTree.parse(work / "report.xml").iter("testcase"):
        outcome, text = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                text = (found.text or "") + found.get("message", "")
        verdicts[case.get("name", "")] = Verdict(outcome, text)
    return Run(verdicts, done.stdout)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sync_flush_on_the_loop_fails_the_test(cases: Run, backend: str) -> None:
    verdict = cases.verdicts[f"test_a_sync_flush_is_caught[{backend}]"]
    assert verdict.outcome == "failed"
    assert f"the event loop ({backend}) waited for the disk" in verdict.text
    assert "1 finding(s)" in verdict.text
    assert "blocking OS call _os.sync_range(), on thread MainThread" in verdict.text
    assert "in flush\n" in verdict.text  # the stack excerpt: the library's frames...
    assert re.search(r"at test_cases.py:\d+ in test_a_sync_flush_is_caught", verdict.text)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cold_read_on_the_loop_fails_on_its_page_fault(cases: Run, backend: str) -> None:
    verdict = cases.verdicts[f"test_a_cold_sync_read_is_caught[{backend}]"]
    if verdict.outcome == "skipped":
        pytest.skip(verdict.text)
    assert verdict.outcome == "failed"
    assert re.search(r"1 finding\(s\):\n  1\. \d+ major page fault\(s\) of the loop", verdict.text)
    if _loop_guard.storage_reads() is not None:
        read = re.search(r"had (\d+) bytes read from storage", verdict.text)
        assert read is not None and int(read[1]) >= PAGE


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sync_open_by_the_library_fails_but_not_the_tests_own(cases: Run, backend: str) -> None:
    verdict = cases.verdicts[f"test_a_sync_open_is_caught_but_not_the_tests_own[{backend}]"]
    assert verdict.outcome == "failed"
    # The library's open (FileIO's event, then its opener's os.open) is caught;
    # path.write_bytes() in the test is not.
    assert "2 finding(s)" in verdict.text and "write_bytes" not in verdict.text
    assert re.search(r"open\('[^']*b\.bin'\) from library code", verdict.text)
    assert "in open_ro\n" in verdict.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_fixtures_are_watched_and_sync_ones_are_not(cases: Run, backend: str) -> None:
    caught = cases.verdicts[f"test_an_async_fixture_is_caught[{backend}]"]
    assert caught.outcome == "failed"
    assert "_os.sync_range()" in caught.text and "in flushed_by_an_async_fixture" in caught.text
    assert cases.verdicts[f"test_sync_fixtures_are_not_watched[{backend}]"].outcome == "passed"


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_same_work_through_the_async_api_passes(cases: Run, backend: str) -> None:
    assert cases.verdicts[f"test_flush_async_passes[{backend}]"].outcome == "passed"
    cold = cases.verdicts[f"test_a_cold_read_async_passes[{backend}]"]
    assert cold.outcome in ("passed", "skipped"), cold.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_may_block_reports_without_failing(cases: Run, backend: str) -> None:
    name = f"test_a_marked_test_passes_with_a_report[{backend}]"
    assert cases.verdicts[name].outcome == "passed"
    _, header, rest = cases.output.partition(f" {name} ")
    assert header, "the terminal report shows no section for the marked test"
    section = rest.split("\n___", 1)[0]
    assert "Captured loop guard call" in section
    assert "allowed (a demonstration of the marker)" in section
    assert "_os.sync_range()" in section


def test_major_faults_reads_field_12_past_a_name_with_parentheses() -> None:
    """A thread can name itself anything: fields are counted from the last ")"."""
    seen: list[tuple[bytes, int, int, int]] = []

    def probe() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(15, b"a) (b c) d", 0, 0, 0) == 0  # PR_SET_NAME
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_majflt
        count = _loop_guard.major_faults()
        after = resource.getrusage(resource.RUSAGE_THREAD).ru_majflt
        assert count is not None
        seen.append((Path("/proc/thread-self/stat").read_bytes(), before, count, after))

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    stat, before, count, after = seen[0]
    assert b"(a) (b c) d)" in stat
    assert before <= count <= after


def test_major_faults_counts_a_cold_read_of_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "cold.bin"
    write_cold(path, os.urandom(64 * PAGE))
    with MemoryMappedFile.open_ro(path) as mm:
        if believed_resident(mm, 0, PAGE):
            pytest.skip("the temp folder keeps pages cached after POSIX_FADV_DONTNEED (tmpfs?)")
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        faults, reads = _loop_guard.major_faults(), _loop_guard.storage_reads()
        assert mm[PAGE] is not None
        assert (_loop_guard.major_faults() or 0) > (faults or 0)
        if reads is not None:
            assert (_loop_guard.storage_reads() or 0) >= reads + PAGE


def test_the_os_layer_has_every_blocking_name_but_the_planned_ones() -> None:
    assert set(_os.__all__) >= _loop_guard.BLOCKING - _loop_guard.PLANNED


def test_no_library_module_binds_an_os_function_past_the_spies() -> None:
    """The spies replace names in _os: a `from ._os import sync_range` elsewhere would
    call the real function unseen."""
    for module in pkgutil.walk_packages(mmap_io.__path__, "mmap_io."):
        if not module.name.startswith(_os.__name__ + "."):  # other platforms' modules
            importlib.import_module(module.name)
    assert _loop_guard._direct_bindings.__wrapped__() == ()
