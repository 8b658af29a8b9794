#!/usr/bin/env python3
"""Generate the sync facade and its tests from the authored async code.

src/mmap_io/aio/ becomes src/mmap_io/sync/, and tests/aio/ becomes tests/sync/.

The rewrite works on tokens, so comments and docstrings are left alone:

* `async` before `def`, `with` or `for` is dropped, and so is `await`;
* names in RENAMES are replaced, and any other name ending in `_async` loses the
  suffix (a string holding exactly such a name, as in `__all__`, is renamed too);
* a line whose comment reads `# async-only` is left out.

Every rule in RENAMES must be used somewhere, so the table cannot rot. Usage:

    python scripts/unasync.py           # write the generated files
    python scripts/unasync.py --check   # exit 1 if any differs from what would be written
"""

from __future__ import annotations

import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RENAMES = {
    "AsyncEvent": "Event",
    "AsyncFileOps": "FileOps",
    "AsyncGroupCommit": "GroupCommit",
    # Async writes avoid faulting on the loop; sync code writes directly on the core.
    "AsyncResidency": "Mapping",
    "aio": "sync",
    "aclose": "close",
    "async_constructor": "constructor",
    # The spec's update_region_async also makes the write durable; the plain
    # update_region is the non-durable hot path, so the sync twin needs its own name.
    "update_region_async": "update_region_durable",
}

# (authored async directory, generated sync directory, modules with no sync twin)
TREES = [
    (
        ROOT / "src" / "mmap_io" / "aio",
        ROOT / "src" / "mmap_io" / "sync",
        {
            "_committer.py": "the thread that runs syncs for async callers",
            "_native.py": "async with and the flush timer task need a loop",
            "_pager.py": "the thread that pages cold ranges in for async readers",
            "_residency.py": "sync code faults pages in on the calling thread",
            "_worker.py": "the base of the pager and committer threads",
            "_watch.py": "the async iterator of watch events; the sync form is a callback "
            "thread in _core/_watch.py, and both deliver the one dispatch loop's batches",
        },
    ),
    (
        ROOT / "tests" / "aio",
        ROOT / "tests" / "sync",
        {
            "test_committer.py": "tests an async-only module",
            "test_native.py": "tests an async-only module",
            "test_residency.py": "tests an async-only module",
            "test_watch.py": "tests the async-only watch stream (callbacks: tests/_core)",
        },
    ),
]

BANNER = "# GENERATED from {source} by scripts/unasync.py: do not edit.\n"
_DROP_BEFORE = {"def", "with", "for"}


def rename(name: str, used: set[str]) -> str:
    if name in RENAMES:
        used.add(name)
        return RENAMES[name]
    if name.endswith("_async") and name != "_async":
        return name[: -len("_async")]
    return name


def unasync(source: str, used: set[str]) -> str:
    """Return the sync rewrite of one async module."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    dropped: set[int] = set()
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for index, tok in enumerate(tokens):
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        if tok.type == tokenize.COMMENT and tok.string.strip() == "# async-only":
            dropped.add(tok.start[0])
        elif tok.type == tokenize.NAME:
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
    if dropped:
        kept = text.splitlines(keepends=True)
        text = "".join(line for number, line in enumerate(kept, 1) if number not in dropped)
    return text


def generate() -> dict[Path, str]:
    """Map each generated path to the text it should hold."""
    used: set[str] = set()
    out: dict[Path, str] = {}
    for source_dir, target_dir, async_only in TREES:
        for path in sorted(source_dir.glob("*.py")):
            if path.name in async_only:
                continue
            text = unasync(path.read_text(), used)
            banner = BANNER.format(source=path.relative_to(ROOT).as_posix())
            out[target_dir / path.name] = banner + text
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
