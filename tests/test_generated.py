"""The generated sync code matches its async source, and the generator's rules all apply."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_sync_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generator_rewrites_tokens_not_text() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import unasync
    finally:
        sys.path.pop(0)
    source = (
        "async def flush_async(self):\n"
        '    """Say flush_async in prose; await stays in docs."""\n'
        "    async with self._lock_async:  # comment about await\n"
        "        await run_blocking_async(self._now)\n"
        '    names = ("flush_async",)\n'
        "    skip = 1  # async-only\n"
    )
    expected = (
        "def flush(self):\n"
        '    """Say flush_async in prose; await stays in docs."""\n'
        "    with self._lock:  # comment about await\n"
        "        run_blocking(self._now)\n"
        '    names = ("flush",)\n'
    )
    assert unasync.unasync(source, set()) == expected
