"""Spies on the OS calls behind the library's residency probes, to see what they cost.

`ProbeSpy` wraps `_os.resident_pages` (mincore) and `_os.mapped_pages` (the pagemap
present bit) in the library's OS layer, calls through to the real ones, and times
each call made on the thread that installed it (the event loop's). A diagnostic:
the wrappers add about a microsecond to each probe, so the benchmarks' headline
rounds run without them.

Imports only the standard library and mmap_io (the uid 65534 child has those).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from _ticker import p99

from mmap_io._core import _os


class ProbeSpy:
    """Times the probes' syscalls on the installing thread; `with ProbeSpy() as spy:`."""

    NAMES = ("resident_pages", "mapped_pages")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.calls: dict[str, list[float]] = {}  # "name outcome" -> µs of each call
        self._real: dict[str, Any] = {}

    def __enter__(self) -> ProbeSpy:
        for name in self.NAMES:
            real = self._real[name] = getattr(_os, name)
            setattr(_os, name, self._wrap(name, real))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name, real in self._real.items():
            setattr(_os, name, real)

    def _wrap(self, name: str, real: Any) -> Any:
        clock = time.perf_counter

        def spy(*args: Any) -> Any:
            if threading.get_ident() != self.thread:
                return real(*args)
            started = clock()
            outcome = "ok"
            try:
                result = real(*args)
            except BlockingIOError:
                outcome = "EAGAIN"
                raise
            finally:
                self.calls.setdefault(f"{name} {outcome}", []).append((clock() - started) * 1e6)
            return result

        return spy

    def summary(self) -> dict[str, tuple[int, float, float, float]]:
        """name outcome -> (calls, mean µs, p99 µs, slowest µs)."""
        return {
            key: (len(us), sum(us) / len(us), p99(us), max(us))
            for key, us in sorted(self.calls.items())
            if us
        }
