"""The generated sync code matches its async source, and the generator's rules all apply."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_sync_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _unasync() -> object:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import unasync
    finally:
        sys.path.pop(0)
    return unasync


def test_generator_rewrites_tokens_not_text() -> None:
    unasync = _unasync()
    source = (
        "async def flush_async(self):\n"
        '    """Say flush_async in prose; await stays in docs."""\n'
        "    async with AsyncShield():  # comment about await\n"
        "        await run_blocking_async(self._now)\n"
        '    names = ("flush_async",)\n'
        '    shown = f"{flush_async!r} stays"\n'
        "    other_async = 1  # not in the rule table: not renamed\n"
    )
    expected = (
        "def flush(self):\n"
        '    """Say flush_async in prose; await stays in docs."""\n'
        "    with Shield():  # comment about await\n"
        "        run_blocking(self._now)\n"
        '    names = ("flush",)\n'
        '    shown = f"{flush_async!r} stays"\n'
        "    other_async = 1  # not in the rule table: not renamed\n"
    )
    used: set[str] = set()
    assert unasync.unasync(source, used) == expected  # type: ignore[attr-defined]
    assert used == {"flush_async", "AsyncShield", "run_blocking_async"}


def test_async_only_leaves_out_whole_statements() -> None:
    unasync = _unasync()
    source = (
        "from x import (  # async-only\n"
        "    a,\n"
        "    b,\n"
        ")\n"
        "class C:\n"
        "    async def __aenter__(self):  # async-only\n"
        "        return (\n"
        "            self\n"
        "        )\n"
        "    def kept(self):\n"
        "        return 1\n"
        "total = (1 +\n"
        "         2)  # async-only: a marker on a later line drops nothing\n"
    )
    expected = (
        "class C:\n"
        "    def kept(self):\n"
        "        return 1\n"
        "total = (1 +\n"
        "         2)  # async-only: a marker on a later line drops nothing\n"
    )
    assert unasync.unasync(source, set()) == expected  # type: ignore[attr-defined]


def test_the_output_is_formatted_and_docstrings_hold_for_both_flavours() -> None:
    """What the generator writes is what ruff would write, and the sync modules'
    docstrings never speak of awaiting or event loops."""
    generated = sorted((ROOT / "src" / "mmap_io" / "sync").glob("*.py"))
    assert generated
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *map(str, generated)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for path in generated:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module):
                doc = (ast.get_docstring(node) or "").lower()
                for word in ("await", "coroutine", "event loop", "cancel"):
                    assert word not in doc, f"{path.name}: {word!r} in a sync docstring"


def test_every_rule_of_the_table_is_used_and_unused_rules_fail() -> None:
    unasync = _unasync()
    unasync.generate()  # type: ignore[attr-defined] - raises SystemExit on an unused rule
    rules = unasync.RENAMES  # type: ignore[attr-defined]
    rules["never_seen_async"] = "never_seen"
    try:
        with pytest.raises(SystemExit, match="never_seen_async"):
            unasync.generate()  # type: ignore[attr-defined]
    finally:
        del rules["never_seen_async"]
