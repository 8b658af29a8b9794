"""Run Python as the unprivileged user nobody (uid and gid 65534), on files root owns.

Since Linux 5.2, mincore() answers "resident" for every page of a file that the caller
can neither write nor own, so the library's residency checks must be tried by a user
who is not root. This helper runs a snippet, or a module-level function (sync or
async, on any anyio backend), in a child forked with setuid(65534).

The child runs the system's Python, /usr/bin/python3 (Debian's 3.11): the test
environment's interpreter lives under /root (pyenv), which nobody cannot enter, and so
does a checkout's venv (CI clones into a 0700 `mktemp -d` folder, pytest's tmp_path is
under a 0700 folder). So the first use copies what the child needs into a fresh 0755
folder under the system temp folder, removed at exit:

* site/: the `mmap_io` package from the source tree being tested, and the installed
  files (from each wheel's RECORD) of anyio, atomicshm, trio, uvloop, watchfiles and
  pytest, with their requirements as the child's own Python resolves the markers;
  compiled once by the child's Python as root, so every child starts quickly;
* code/: for `call`, the module holding the function, with its package chain and the
  other top-level modules beside it (so `from conftest import ...` works);
* folder(): empty 0755 (or nobody-owned) folders for the files a test shares.

The child runs with `-S` (no site-packages of its own, so nothing of Debian's shadows
what is copied), PYTHONPATH=site/, a bare environment, and its cwd in the stage.

Where the machine refuses, `stage()` raises Unavailable and `require()` skips the test
with the reason: not Linux, not root, no /usr/bin/python3, a setuid the kernel
refuses, or no world-traversable temp folder. A module the child cannot import is
reported per module: with the test environment on Python 3.13 (as in CI's second
run) uvloop's extension is built for 3.13 and does not load in 3.11, so tests that
need uvloop skip there while asyncio and trio still run (anyio, trio, atomicshm and
watchfiles are pure Python or abi3).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.metadata
import inspect
import io
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

NOBODY = 65534
PYTHON = "/usr/bin/python3"
DISTRIBUTIONS = ("anyio", "atomicshm", "trio", "uvloop", "watchfiles", "pytest")
MODULES = ("mmap_io", "anyio", "atomicshm", "trio", "uvloop", "watchfiles", "pytest")

# The child's side of `call`: read (module, name, args, kwargs, backend) from stdin,
# send back (ok, result or exception, traceback text) on stdout.
_CALL = """\
import contextlib, importlib, inspect, pickle, sys, traceback
sys.path.insert(0, sys.argv[1])
module, name, args, kwargs, backend = pickle.load(sys.stdin.buffer)
try:
    function = importlib.import_module(module)
    for part in name.split("."):
        function = getattr(function, part)
    with contextlib.redirect_stdout(sys.stderr):
        if inspect.iscoroutinefunction(function):
            import anyio, functools
            result = anyio.run(functools.partial(function, *args, **kwargs),
                               backend=backend[0], backend_options=backend[1])
        else:
            result = function(*args, **kwargs)
    answer = (True, result, "")
except BaseException as error:
    answer = (False, error, traceback.format_exc())
try:
    data = pickle.dumps(answer)
except Exception as error:
    data = pickle.dumps((False, TypeError(f"cannot send the answer back: {error}"), ""))
sys.stdout.buffer.write(data)
"""

# What the child reports about itself: the values environment markers test (PEP 508).
_MARKERS = """\
import json, os, platform, sys
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_system": platform.system(),
    "python_full_version": platform.python_version(),
    "python_version": "%d.%d" % sys.version_info[:2],
    "sys_platform": sys.platform,
}))
"""


class Unavailable(Exception):
    """This machine cannot run code as nobody; the message says why."""


class ChildError(Exception):
    """The child failed in a way that is not an exception of the called function."""


@dataclass(frozen=True)
class Stage:
    root: Path  # 0755, holds site/, code/ and the folders
    site: Path  # what the child imports
    version: str  # the child's Python, e.g. "3.11.2"
    missing: dict[str, str]  # module -> why the child cannot import it


def _traversable(path: Path) -> bool:
    """True if every folder from / down to `path` lets other users through."""
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _environment(stage_root: Path, site: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(stage_root),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _run(command: list[str], root: Path, site: Path, **options: Any) -> Any:
    """Run a command as nobody, in the stage, with the child's bare environment."""
    return subprocess.run(
        command,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        umask=0o022,
        cwd=root,
        env=_environment(root, site),
        capture_output=True,
        **options,
    )


def _requirements(names: tuple[str, ...], markers: dict[str, str]) -> dict[str, str | None]:
    """Each distribution the child needs -> None if installed here, else why not."""
    from packaging.requirements import Requirement

    found: dict[str, str | None] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            found[key] = f"{name} is not installed in the test environment"
            continue
        found[key] = None
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or marker.evaluate({**markers, "extra": ""}):
                todo.append(requirement.name)
    return found


def _copy_distribution(name: str, site: Path) -> None:
    distribution = importlib.metadata.distribution(name)
    for file in distribution.files or ():
        if file.parts[0] == ".." or "__pycache__" in file.parts:
            continue  # scripts in bin/, and bytecode for the wrong Python perhaps
        source = Path(str(distribution.locate_file(file)))
        if source.is_file():
            target = site / file
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _copy_sources(source: Path, target: Path) -> None:
    """A package's .py files, none of its caches."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def _make_world_readable(root: Path) -> None:
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for file in files:
            os.chmod(os.path.join(folder, file), 0o644)


@functools.cache
def stage() -> Stage:
    """Copy what the child needs into a world-readable folder (once per process).

    Raises:
        Unavailable: The machine cannot run code as nobody here.
    """
    if not sys.platform.startswith("linux"):
        raise Unavailable("runs a child as uid 65534 with Linux's /usr/bin/python3")
    if os.geteuid() != 0:
        raise Unavailable("needs root to start a child as uid 65534")
    if not os.access(PYTHON, os.X_OK):
        raise Unavailable(f"no {PYTHON} to run as nobody (the test Python is under /root)")
    base = next(
        (Path(p) for p in (tempfile.gettempdir(), "/tmp", "/dev/shm") if _traversable(Path(p))),
        None,
    )
    if base is None:
        raise Unavailable("no temp folder that uid 65534 may enter")
    root = Path(tempfile.mkdtemp(prefix="mmap_io-nobody-", dir=base))
    atexit.register(shutil.rmtree, root, True)
    site = root / "site"
    site.mkdir()
    os.chmod(root, 0o755)
    try:
        probe = _run([PYTHON, "-S", "-c", _MARKERS], root, site, text=True, timeout=60)
    except PermissionError as error:
        raise Unavailable(f"the kernel refused to switch to uid {NOBODY}: {error}") from None
    if probe.returncode:
        raise Unavailable(f"{PYTHON} failed as nobody: {probe.stderr.strip()}")
    markers = json.loads(probe.stdout)
    missing = {}
    for name, why in _requirements(DISTRIBUTIONS, markers).items():
        if why is None:
            _copy_distribution(name, site)
        else:
            missing[name] = why
    import mmap_io  # the package under test, from its source tree

    _copy_sources(Path(mmap_io.__file__).parent, site / "mmap_io")
    subprocess.run([PYTHON, "-S", "-m", "compileall", "-q", str(site)], capture_output=True)
    _make_world_readable(root)
    check = "import importlib, sys\nfor m in sys.argv[1:]:\n"
    check += "    try: importlib.import_module(m)\n"
    check += "    except Exception as e: print(m, type(e).__name__, e, sep='\\t')\n"
    tried = _run([PYTHON, "-S", "-c", check, *MODULES], root, site, text=True, timeout=120)
    for line in tried.stdout.splitlines():
        module, kind, message = line.split("\t", 2)
        missing[module] = f"{kind}: {message}"
    return Stage(root, site, markers["python_full_version"], missing)


def require(*modules: str) -> Stage:
    """The stage, or skip the calling test with the reason the child cannot run."""
    import pytest

    try:
        staged = stage()
    except Unavailable as error:
        pytest.skip(f"cannot run as nobody: {error}")
    for module in ("mmap_io", *modules):
        if module in staged.missing:
            pytest.skip(
                f"{PYTHON} ({staged.version}) cannot import {module} as staged from "
                f"Python {sys.version.split()[0]}: {staged.missing[module]}"
            )
    return staged


def run(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a snippet as nobody (`/usr/bin/python3 -S -c code args...`); never raises
    for the child's exit status: check `returncode`, `stdout` and `stderr`."""
    staged = stage()
    command = [PYTHON, "-S", "-c", code, *args]
    done: subprocess.CompletedProcess[str] = _run(
        command, staged.root, staged.site, text=True, timeout=timeout
    )
    return done


def _own_source(module: str) -> Path | None:
    """The file of a module the child lacks; None for the standard library, built-in
    modules and installed packages, which the child has (or the stage copied)."""
    try:
        source = inspect.getsourcefile(sys.modules[module])
    except (KeyError, TypeError):
        return None
    if source is None:
        return None
    path = Path(source).resolve()
    paths = sysconfig.get_paths()
    installed = {paths["stdlib"], paths["purelib"], paths["platlib"]}
    if any(path.is_relative_to(Path(p).resolve()) for p in installed):
        return None
    return path


@functools.cache
def _code_for(source: Path, module: str) -> Path:
    """Copy the module (and what sits beside it) where the child can import it."""
    parts = module.split(".")
    top = source.parents[len(parts) - 1] if len(parts) > 1 else source.parent
    target = Path(tempfile.mkdtemp(prefix="code-", dir=stage().root))
    for sibling in top.glob("*.py"):
        shutil.copy2(sibling, target / sibling.name)
    package = top
    for part in parts[:-1]:  # the package chain down to the module
        package = package / part
        (target / package.relative_to(top)).mkdir(exist_ok=True)
        init = package / "__init__.py"
        if init.exists():
            shutil.copy2(init, target / init.relative_to(top))
    shutil.copy2(source, target.joinpath(*parts[:-1], source.name))
    subprocess.run([PYTHON, "-S", "-m", "compileall", "-q", str(target)], capture_output=True)
    _make_world_readable(target)
    return target


def call(
    function: Callable[..., Any],
    *args: Any,
    backend: str | tuple[str, dict[str, Any]] = "asyncio",
    timeout: float = 120,
    **kwargs: Any,
) -> Any:
    """Call a module-level function as nobody and return what it returned.

    A coroutine function runs under `anyio.run` on `backend` (a name, or an
    `anyio_backend` value such as ("asyncio", {"use_uvloop": True})). Arguments and
    the result travel by pickle. The child imports the function's module and looks
    the function up by its qualified name, so the module may import only what the
    stage holds (the standard library, mmap_io and its dependencies, pytest, and the
    modules beside it); call functions of your own modules, since where the standard
    library defines a function changes between Python versions. An exception the
    function raises is raised here, with the child's traceback as a note.

    Raises:
        Unavailable: The machine cannot run code as nobody.
        ChildError: The child died or answered nothing.
    """
    staged = stage()
    module = function.__module__
    source = _own_source(module)
    code = staged.site  # the standard library and the staged packages need no copy
    if source is not None:
        if module == "__main__":
            module = source.stem
        code = _code_for(source, module)
    name = function.__qualname__
    chosen = (backend, {}) if isinstance(backend, str) else backend
    message = _dumps((module, name, args, kwargs, chosen))
    done = _run(
        [PYTHON, "-S", "-c", _CALL, str(code)],
        staged.root,
        staged.site,
        input=message,
        timeout=timeout,
    )
    try:
        ok, value, trace = pickle.loads(done.stdout)
    except Exception:
        raise ChildError(
            f"the child (exit {done.returncode}) sent no answer: "
            + done.stderr.decode(errors="replace")[-2000:]
        ) from None
    if ok:
        return value
    value.add_note(f"raised as uid {NOBODY} in {PYTHON}:\n{trace}")
    raise value


class _Pickler(pickle.Pickler):
    """Pickles paths by their public name: Python 3.13 pickles a PosixPath as
    pathlib._local.PosixPath, which 3.11 (the child) has no module for."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type) and issubclass(obj, PurePath):
            return getattr, (_PATHLIB, obj.__name__)
        if isinstance(obj, PurePath):
            return type(obj), (str(obj),)
        return NotImplemented


class _Module:
    """Pickles as the import of a module by name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> Any:
        return importlib.import_module, (self.name,)


_PATHLIB = _Module("pathlib")


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer).dump(value)
    return buffer.getvalue()


@contextlib.contextmanager
def folder(writable: bool = False) -> Iterator[Path]:
    """A fresh folder nobody can read (and, if `writable`, write), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="files-", dir=stage().root))
    os.chmod(path, 0o755)
    if writable:
        os.chown(path, NOBODY, NOBODY)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
