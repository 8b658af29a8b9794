"""The background thread that runs FlushPolicy.every_millis, for sync and async code alike.

A thread, not an event-loop task: its msync never runs on a loop, and `async with`
needs no task group held open across the user's block, so any task may enter and
leave it, nested or not.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from typing import Protocol


class _Flushable(Protocol):
    def _flush_if_pending(self) -> None: ...


class FlushTimer:
    """Flush a mapping every `interval` seconds while it has pending writes.

    The thread holds only a weak reference, so a mapping that is dropped without
    close() is still collected; the thread then ends on its next tick.
    """

    __slots__ = ("_stop", "_thread")

    def __init__(self, mapping: _Flushable, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_run,
            args=(weakref.ref(mapping), interval, self._stop),
            name="mmap_io-flush-timer",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """End the thread and wait for it: at once, or after the flush under way.

        Safe to wait for: the thread runs no user code, and close calls this with no
        lock held (from the thread itself, it does not wait).
        """
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def resized(self) -> None:
        """Nothing to do: each tick flushes the mapping as it is then."""


def _run(ref: weakref.ref[_Flushable], interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        mapping = ref()
        if mapping is None:
            return
        try:
            mapping._flush_if_pending()
        except ValueError:  # closed meanwhile
            return
        except Exception as error:  # a failing disk: pending bytes stay, the next tick retries
            warnings.warn(f"mmap_io background flush failed: {error}", RuntimeWarning, 2)
        del mapping
