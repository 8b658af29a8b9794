#!/usr/bin/env python3
"""Generate the sync facade and its tests from the authored async code.

src/mmap_io/aio/ becomes src/mmap_io/sync/, and tests/aio/ becomes tests/sync/.

The rewrite is a pure rename, on tokens, so comments and docstrings are left alone:

* `async` before `def`, `with` or `for` is dropped, and so is `await`;
* names in RENAMES are replaced (a string holding exactly such a name, as in
  `__all__`, is renamed too; nothing inside an f-string is, on any Python);
* a statement whose first line ends with the comment `# async-only` is left out
  whole: a simple statement with its continuation lines, a `def` or `class` with
  its body.

RENAMES is the only source of renames, and every rule in it must be used, so the
table cannot rot. The output is formatted with ruff, so it reads like the source.
Usage:

    python scripts/unasync.py           # write the generated files
    python scripts/unasync.py --check   # exit 1 if any differs from what would be written
"""

from __future__ import annotations

import ast
import importlib.util
import io
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RENAMES = {
    # primitives of src/mmap_io/_pairs.py
    "AsyncShield": "Shield",
    "async_constructor": "constructor",
    "close_mapping_async": "close_mapping",
    "copy_in_async": "copy_in",
    "let_others_run_async": "let_others_run",
    "run_blocking_async": "run_blocking",
    "share_sync_async": "share_sync",
    # the layer and its classes
    "aio": "sync",
    "AsyncFileOps": "FileOps",
    # MemoryMappedFile methods
    "aclose": "close",
    "flush_async": "flush",
    "flush_range_async": "flush_range",
    "lock_all_async": "lock_all",
    "lock_async": "lock",
    "prefetch_range_async": "prefetch_range",
    "resize_async": "resize",
    "sync_all_async": "sync_all",
    "touch_pages_async": "touch_pages",
    "touch_pages_range_async": "touch_pages_range",
    "unlock_all_async": "unlock_all",
    "unlock_async": "unlock",
    # The spec's update_region_async also makes the write durable; the plain
    # update_region is the non-durable hot path, so the sync twin needs its own name.
    "update_region_async": "update_region_durable",
    # manager functions
    "copy_mmap_async": "copy_mmap",
    "create_mmap_async": "create_mmap",
    "delete_mmap_async": "delete_mmap",
    "load_mmap_async": "load_mmap",
    # test helpers of tests/conftest.py
    "gather_async": "gather",
}

# (authored async directory, generated sync directory, modules with no sync twin)
TREES = [
    (
        ROOT / "src" / "mmap_io" / "aio",
        ROOT / "src" / "mmap_io" / "sync",
        {
            "_watch.py": "the async iterator of watch events; the sync form is a callback "
            "thread in _core/_watch.py, and both deliver the one dispatch loop's batches",
        },
    ),
    (
        ROOT / "tests" / "aio",
        ROOT / "tests" / "sync",
        {
            "test_committer.py": "tests the committer thread, which serves event loops",
            "test_native.py": "tests what only an event loop has (async with, cancellation)",
            "test_residency.py": "tests the async-only cold-read path",
            "test_watch.py": "tests the async-only watch stream (callbacks: tests/_core)",
        },
    ),
]

BANNER = "# GENERATED from {source} by scripts/unasync.py: do not edit.\n"
MARK = "# async-only"
_DROP_BEFORE = {"def", "with", "for"}
# Async-only imports sit between these two comments, so that sorting imports never
# merges them into a shared statement; once they are left out, so is the pair.
_EMPTY_ISORT_BLOCK = "# isort: off\n# isort: on\n"
# Token types that open and close an f-string on Python 3.12+ (absent before).
_FSTRING_START = getattr(tokenize, "FSTRING_START", None)
_FSTRING_END = getattr(tokenize, "FSTRING_END", None)


def rename(name: str, used: set[str]) -> str:
    if name in RENAMES:
        used.add(name)
        return RENAMES[name]
    return name


def async_only_lines(source: str) -> set[int]:
    """The line numbers of every statement marked `# async-only` on its first line."""
    lines = source.splitlines()
    dropped: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.stmt) and lines[node.lineno - 1].rstrip().endswith(MARK):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            dropped.update(range(first, (node.end_lineno or node.lineno) + 1))
    return dropped


def unasync(source: str, used: set[str]) -> str:
    """Return the sync rewrite of one async module (not yet formatted)."""
    dropped = async_only_lines(source)
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    in_fstring = 0
    for index, tok in enumerate(tokens):
        if tok.type == _FSTRING_START:
            in_fstring += 1
        elif tok.type == _FSTRING_END:
            in_fstring -= 1
        if in_fstring or tok.start[0] in dropped:
            continue
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        if tok.type == tokenize.NAME:
            following = tokens[index + 1].string if index + 1 < len(tokens) else ""
            if tok.string == "await" or (tok.string == "async" and following in _DROP_BEFORE):
                edits.append((begin, end + 1, ""))  # the keyword and the space after it
            else:
                new = rename(tok.string, used)
                if new != tok.string:
                    edits.append((begin, end, new))
        elif tok.type == tokenize.STRING and tok.string[1:-1].isidentifier():
            new = rename(tok.string[1:-1], used)
            if new != tok.string[1:-1]:
                edits.append((begin, end, tok.string[0] + new + tok.string[-1]))
    text = source
    for begin, end, new in sorted(edits, reverse=True):
        text = text[:begin] + new + text[end:]
    kept = text.splitlines(keepends=True)
    text = "".join(line for number, line in enumerate(kept, 1) if number not in dropped)
    return text.replace(_EMPTY_ISORT_BLOCK, "")  # async-only imports kept unsorted, all gone


def ruff() -> list[str]:
    """How to run the pinned ruff: this interpreter's, else the README's .venv's (so a
    bare `python3 scripts/unasync.py --check` works in a checkout set up as the README
    says), else any on PATH."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    for candidate in (ROOT / ".venv" / "bin" / "ruff", shutil.which("ruff")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    raise SystemExit("unasync: needs ruff to format its output: pip install -e '.[test]'")


def formatted(text: str, path: Path) -> str:
    """`text` as ruff formats it (the project's settings), for a file at `path`."""
    done = subprocess.run(
        [*ruff(), "format", "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"unasync: ruff could not format {path}:\n{done.stderr}")
    return done.stdout


def generate() -> dict[Path, str]:
    """Map each generated path to the text it should hold."""
    used: set[str] = set()
    out: dict[Path, str] = {}
    for source_dir, target_dir, async_only in TREES:
        for path in sorted(source_dir.glob("*.py")):
            if path.name in async_only:
                continue
            banner = BANNER.format(source=path.relative_to(ROOT).as_posix())
            target = target_dir / path.name
            out[target] = formatted(banner + unasync(path.read_text(), used), target)
    unused = set(RENAMES) - used
    if unused:
        raise SystemExit(f"unasync: unused rename rules: {sorted(unused)}")
    return out


def main(argv: list[str]) -> int:
    wanted = generate()
    existing = [p for _, target, _ in TREES for p in target.glob("*.py")]
    if "--check" in argv:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
        orphans = [p for p in existing if p not in wanted]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}")
        for path in orphans:
            print(f"orphan (no aio/ source): {path.relative_to(ROOT)}")
        if stale or orphans:
            print("run: python scripts/unasync.py")
            return 1
        return 0
    for path, text in wanted.items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    for path in existing:
        if path not in wanted:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
