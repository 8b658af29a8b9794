#!/usr/bin/env python3
"""Generate src/mmap_io/sync/ from the authored async layer in src/mmap_io/aio/.

The rewrite works on tokens, so comments and docstrings are left alone:

* `async` before `def`, `with` or `for` is dropped, and so is `await`;
* names in RENAMES are replaced, and any other name ending in `_async` loses the
  suffix (a string holding exactly such a name, as in `__all__`, is renamed too);
* a line whose comment reads `# async-only` is left out.

Every rule in RENAMES must be used somewhere, so the table cannot rot. Usage:

    python scripts/unasync.py           # write sync/
    python scripts/unasync.py --check   # exit 1 if sync/ differs from what would be written
"""

from __future__ import annotations

import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIO = ROOT / "src" / "mmap_io" / "aio"
SYNC = ROOT / "src" / "mmap_io" / "sync"

RENAMES = {
    "AsyncFileOps": "FileOps",
    "aclose": "close",
    "async_constructor": "constructor",
    # The spec's update_region_async also makes the write durable; the plain
    # update_region is the non-durable hot path, so the sync twin needs its own name.
    "update_region_async": "update_region_durable",
}

# aio modules with no sync twin: what they do only exists with an event loop.
ASYNC_ONLY = {
    "_native.py": "async with, the flush timer task and cold-page reads",
}

BANNER = "# GENERATED from src/mmap_io/aio/{name} by scripts/unasync.py: do not edit.\n"
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
    """Map each sync/ path to the text it should hold."""
    used: set[str] = set()
    out: dict[Path, str] = {}
    for path in sorted(AIO.glob("*.py")):
        if path.name in ASYNC_ONLY:
            continue
        text = unasync(path.read_text(), used)
        out[SYNC / path.name] = BANNER.format(name=path.name) + text
    unused = set(RENAMES) - used
    if unused:
        raise SystemExit(f"unasync: unused rename rules: {sorted(unused)}")
    return out


def main(argv: list[str]) -> int:
    wanted = generate()
    if "--check" in argv:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
        orphans = [p for p in SYNC.glob("*.py") if p not in wanted]
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}")
        for path in orphans:
            print(f"orphan (no aio/ source): {path.relative_to(ROOT)}")
        if stale or orphans:
            print("run: python scripts/unasync.py")
            return 1
        return 0
    SYNC.mkdir(exist_ok=True)
    for path, text in wanted.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    for path in SYNC.glob("*.py"):
        if path not in wanted:
            path.unlink()
            print(f"removed {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
