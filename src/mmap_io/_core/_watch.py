"""Watching a mapped file: the OS subscription, its dispatch loop and the callback thread."""

from __future__ import annotations

import errno
import math
import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, Self, final

from . import _lifetime
from ._args import check_range
from ._changes import ChangeEvent, changes_between, look_at
from ._enums import ChangeKind
from ._errors import MmapIoError, WatchFailedError, combined, os_error, type_error, value_error

if TYPE_CHECKING:
    from watchfiles._rust_notify import RustNotify

# watchfiles' RustNotify.watch sleeps STEP_MS at a time and returns once a step brings
# nothing new, so a lone change arrives one to two steps after it happened. Its own
# defaults (50 ms steps, 1600 ms debounce) suit reloading code, not data.
STEP_MS = 5  # 5-10 ms latency; an idle watch wakes 200 times a second (well under 1% CPU)
# The step can be chosen per watch (`latency=`, in seconds), within these bounds.
STEP_RANGE_MS = (1, 1000)
DEBOUNCE_MS = 50  # a directory that never goes quiet still yields a batch every 50 ms
IDLE_TIMEOUT_MS = 1000  # without polling, wake once a second to notice a dropped mapping
INSTALL_HINT = "pip install 'mmap-io[watch]'"

Callback = Callable[[ChangeEvent], object]


class Watched(Protocol):
    """What a watch needs of its mapping (Mapping provides it)."""

    _path: Any
    _fileno: int
    _closed: bool

    def __len__(self) -> int: ...
    def _check_open(self) -> None: ...
    def _add_helper(self, key: object, helper: Any) -> bool: ...
    def _drop_helper(self, key: object, helper: Any) -> None: ...


class FileWatch:
    """One OS watch on a mapped file's directory, reporting changes to that file only.

    Watching the directory rather than the file is what lets renames and editors'
    replace-by-rename be seen. Events come from comparing looks at the file (fstat of
    the file, stat of the path), so a batch of raw
    notifications, however merged or reordered, becomes the events that explain it.

    `next_batch()` is the one dispatch loop: the callback thread of WatchHandle and the
    async iterator of `watch_async` only deliver what it returns.
    """

    __slots__ = (
        "__weakref__",
        "_baseline",
        "_done",
        "_file",
        "_idle",
        "_lock",
        "_mapping",
        "_notify",
        "_own_change",
        "_path",
        "_probe",
        "_runner",
        "_step_ms",
        "_stop",
        "_timeout_ms",
        "thread",
    )

    def __init__(
        self,
        mapping: Watched,
        poll_interval: object = None,
        poll_range: object = None,
        latency: object = None,
    ) -> None:
        """Start watching; the watch is registered with `mapping`, which stops it on close.

        Raises:
            WatchFailedError: See MemoryMappedFile.watch.
        """
        mapping._check_open()
        shown = mapping._path
        if shown is None:
            raise WatchFailedError(
                "cannot watch a mapping made by from_file without a path; pass path= to from_file"
            )
        self._step_ms = _step(latency)
        self._timeout_ms, self._probe = _poll_settings(mapping, poll_interval, poll_range)
        notify_class = _load_backend(shown)
        self._path = os.path.realpath(os.fsdecode(shown))
        try:
            # Arguments: paths, debug, force_polling, poll_delay_ms, recursive,
            # ignore_permission_denied (the signature watchfiles >= 0.20 uses itself).
            notify = notify_class([os.path.dirname(self._path)], False, False, 300, False, False)
        except (OSError, RuntimeError) as error:
            raise _start_failed(error, shown) from error
        try:
            # A file of its own (not a dup, which would share the mapping's file offset)
            # for fstat and the polled reads.
            self._file = open(self._path, "rb", buffering=0)  # noqa: SIM115 (closed in _release)
        except OSError as error:
            notify.close()
            raise _start_failed(error, shown) from error
        self._notify: RustNotify | None = notify
        self._mapping = weakref.ref(mapping)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._done = False
        self._own_change = False
        self._runner: int | None = None
        self.thread: threading.Thread | None = None
        try:
            self._baseline = look_at(self._file, self._path, self._probe)
            mapped = os.fstat(mapping._fileno)
            if not self._baseline.present or not os.path.samestat(
                mapped, os.fstat(self._file.fileno())
            ):
                raise FileNotFoundError(errno.ENOENT, "the mapped file is no longer at its path")
        except OSError as error:
            self._release()
            raise _start_failed(error, shown) from error
        if not mapping._add_helper(self, self):  # closed meanwhile
            self._release()
            mapping._check_open()
        _lifetime.track(self)

    @property
    def stopping(self) -> bool:
        """True once stop() was called: nothing more may be delivered."""
        return self._stop.is_set()

    @property
    def active(self) -> bool:
        """True until the watch is stopped or has ended (file removed, mapping gone)."""
        return not (self._done or self._stop.is_set())

    def next_batch(self) -> list[ChangeEvent] | None:
        """Block until the file changes; return its events, or None once the watch is over.

        A batch ending in REMOVED is the last one. Run by one thread at a time.

        Raises:
            WatchFailedError: The OS watch broke; the watch is over.
        """
        with self._lock:
            if not self.active or self._notify is None:
                return None
            notify = self._notify
            self._runner = threading.get_ident()
        try:
            while True:
                raw = notify.watch(DEBOUNCE_MS, self._step_ms, self._timeout_ms, self._stop)
                if raw == "stop":
                    return None
                if raw == "signal":  # only possible on the main thread, which never runs this
                    raise KeyboardInterrupt
                events = self._evaluate(raw)
                if events is None:
                    self._done = True  # the mapping was closed or collected
                    return None
                if events:
                    self._done = events[-1].kind is ChangeKind.REMOVED
                    return events
        except (OSError, RuntimeError) as error:
            self._done = True
            raise WatchFailedError(f"watching {self._path!r} failed: {error}") from error
        except BaseException:
            self._done = True
            raise
        finally:
            with self._lock:
                self._runner = None
                if not self.active:
                    self._release()
                self._idle.notify_all()

    def _evaluate(self, raw: set[tuple[int, str]] | str) -> list[ChangeEvent] | None:
        """Turn one wake-up of the OS watch into events (None: the mapping is gone)."""
        mapping = self._mapping()
        if mapping is None or mapping._closed:
            return None
        try:
            mapped_size: int | None = len(mapping)
        except ValueError:
            return None  # closed a moment ago
        del mapping  # hold no reference across the next wait
        if isinstance(raw, str):  # "timeout": only a polling watch looks at the file
            if self._probe is None:
                return []
            touched = False
        else:
            touched = any(path == self._path for _, path in raw)
        with self._lock:
            if self._stop.is_set():
                return []
            after = look_at(self._file, self._path, self._probe)
            if touched and self._own_change:
                touched = self._own_change = False  # the notification of our own resize
            events = changes_between(
                self._baseline,
                after,
                touched=touched,
                mapped_size=mapped_size,
                probe_offset=self._probe[0] if self._probe else 0,
            )
            self._baseline = after
        return events

    def resized(self) -> None:
        """The mapping itself just resized the file: make that the new baseline, so its
        watchers do not report it back to it."""
        with self._lock:
            if self._notify is not None:
                try:
                    self._baseline = look_at(self._file, self._path, self._probe)
                except OSError:
                    return  # the next wake-up reports the failure
                self._own_change = True

    def stop(self, wait: bool = False) -> None:
        """Stop delivering and release the OS watch (at once, or by the thread inside
        `next_batch`, within one step).

        Args:
            wait: Return only once no thread is inside `next_batch` and the callback
                thread has ended (a call from that thread itself never waits for itself).
                Closing the mapping does not wait: a callback may be waiting for a
                lock the closing thread holds.
        """
        me = threading.get_ident()
        with self._lock:
            self._stop.set()
            if self._runner is None:
                self._release()
            elif wait and self._runner != me:
                while self._runner is not None:
                    self._idle.wait()
        thread = self.thread
        if wait and thread is not None and thread.ident != me:
            thread.join()

    def _release(self) -> None:
        """Close the OS watch and the descriptor, and leave the mapping's registry (lock held)."""
        notify, self._notify = self._notify, None
        if notify is None:
            return
        notify.close()
        self._file.close()
        mapping = self._mapping()
        if mapping is not None:
            mapping._drop_helper(self, self)

    def _after_fork(self) -> None:
        """In a forked child: the watch thread is gone and the OS watch stays the
        parent's; the child's copy is simply over (its descriptors close at exit)."""
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._stop.set()
        self._done = True
        self._runner = None
        self._notify = None
        self.thread = None


@final
class WatchHandle:
    """A running watch that calls a function for each change (see MemoryMappedFile.watch).

    Example:
        >>> with mm.watch(print) as handle:
        ...     assert handle.is_active()
    """

    __slots__ = ("_callback", "_watch")

    def __init__(self, watch: FileWatch, callback: Callback) -> None:
        self._watch = watch
        self._callback = callback
        thread = threading.Thread(target=self._run, name="mmap_io-watch", daemon=True)
        thread.start()
        watch.thread = thread  # set once started, so stop() never joins an unstarted thread

    def stop(self) -> None:
        """Stop the watch and wait for its thread; no callback runs after this returns.

        Safe to call more than once, and from inside the callback (which then finishes
        normally, and is the last one).
        """
        self._watch.stop(wait=True)

    def is_active(self) -> bool:
        """True while changes are being delivered: not stopped, file not removed,
        mapping not closed."""
        thread = self._watch.thread
        return self._watch.active and (thread is None or thread.is_alive())

    def __enter__(self) -> Self:
        """Return the handle itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the watch (see stop)."""
        self.stop()

    def __repr__(self) -> str:
        state = "active" if self.is_active() else "stopped"
        return f"<WatchHandle {self._watch._path!r} {state}>"

    def _run(self) -> None:
        watch = self._watch
        try:
            while (batch := watch.next_batch()) is not None:
                for event in batch:
                    if watch.stopping:
                        return
                    try:
                        self._callback(event)
                    except Exception:
                        _report()  # a failing callback must not end the watch
        except WatchFailedError:
            _report()


def _report() -> None:
    """Show the exception being handled the way an exception ending a thread is shown."""
    threading.excepthook(threading.ExceptHookArgs([*sys.exc_info(), threading.current_thread()]))


def _load_backend(shown: object) -> type[RustNotify]:
    try:
        from watchfiles._rust_notify import RustNotify
    except ImportError as error:
        raise WatchFailedError(
            f"watching needs the optional watchfiles package ({error}); "
            f"install it with: {INSTALL_HINT}"
        ) from error
    except OSError as error:  # out of file descriptors while importing, say
        raise _start_failed(error, shown) from error
    return RustNotify


def _step(latency: object) -> int:
    """The OS watch's step in ms for a `latency=` option in seconds (None: STEP_MS)."""
    if latency is None:
        return STEP_MS
    if isinstance(latency, bool) or not isinstance(latency, int | float):
        raise type_error(f"latency must be a number of seconds, not {type(latency).__name__}")
    low, high = STEP_RANGE_MS
    if not low / 1000 <= latency <= high / 1000:
        raise value_error(f"latency must be {low / 1000} to {high / 1000} seconds, not {latency}")
    return round(latency * 1000)


def _poll_settings(
    mapping: Watched, poll_interval: object, poll_range: object
) -> tuple[int, tuple[int, int] | None]:
    """The OS-watch timeout in ms and the byte range to compare, from the poll options."""
    if poll_interval is None:
        if poll_range is not None:
            raise value_error("poll_range needs poll_interval")
        return IDLE_TIMEOUT_MS, None
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float):
        raise type_error(f"poll_interval must be a number, not {type(poll_interval).__name__}")
    if not 0 < poll_interval < math.inf:
        raise value_error(f"poll_interval must be a positive number of seconds: {poll_interval}")
    timeout_ms = max(1, math.ceil(poll_interval * 1000))
    if poll_range is None:
        return timeout_ms, None
    if not isinstance(poll_range, tuple) or len(poll_range) != 2:
        raise type_error("poll_range must be an (offset, length) tuple")
    return timeout_ms, check_range(poll_range[0], poll_range[1], len(mapping))


def _start_failed(error: BaseException, shown: object) -> MmapIoError:
    """A WatchFailedError that keeps the reason (and the OSError flavour, if any)."""
    if isinstance(error, OSError) and error.errno is not None:
        return os_error(WatchFailedError, error, shown)
    reason = f"cannot watch {os.fsdecode(shown)!r}: {error}"  # type: ignore[arg-type]
    if isinstance(error, OSError):
        return combined(WatchFailedError, type(error))(reason)
    return WatchFailedError(reason)
