"""The file-backed mapping: constructors, flushing, its helpers, and close, all blocking.

Everything here runs to completion in the calling thread. The async layer (`aio/`)
offloads the blocking methods to worker threads; the sync facade (`sync/`) calls
them directly. That is why the blocking work has names ending in `_now`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self

from . import _flush, _lifetime, _os, _paging
from ._args import StrPath, as_index, check_path, check_range, check_size
from ._builder import MmapBuilder, check_options
from ._enums import MmapMode, TouchHint
from ._errors import (
    AdviceFailedError,
    FlushFailedError,
    InvalidModeError,
    ResizeFailedError,
    closed_error,
    os_error,
    type_error,
)
from ._files import File, create_file, map_whole_file, open_file, open_or_create_file
from ._policy import FlushPolicy
from ._reader import MmapReader
from ._region import Region
from ._rounds import Rounds
from ._timer import FlushTimer

if TYPE_CHECKING:
    import pathlib

    from ._changes import ChangeEvent
    from ._watch import WatchHandle


class Mapping(Region):
    """A file mapped into memory. The public class is `mmap_io.MemoryMappedFile`."""

    __slots__ = (
        "_created",
        "_file",
        "_fileno",
        "_flushes",
        "_helpers",
        "_helpers_lock",
        "_huge_pages",
        "_mode",
        "_policy",
        "_probe",
        "_sparse",
        "_sync_count",
    )

    def __init__(
        self,
        file: Any,
        mode: MmapMode,
        path: Any,
        *,
        flush_policy: FlushPolicy = FlushPolicy.NEVER,
        touch_hint: TouchHint = TouchHint.NEVER,
        huge_pages: bool = False,
        sparse: bool = False,
        created: bool = False,
    ) -> None:
        """Map an open file. Use the classmethods; this one takes ownership of `file`."""
        check_options(flush_policy, touch_hint, huge_pages, sparse)
        self._file = file
        self._fileno: int = file.fileno()
        self._mode = mode
        self._policy = flush_policy
        self._huge_pages = huge_pages
        self._sparse = sparse
        self._created = created
        self._sync_count = 0
        self._flushes = Rounds()
        self._helpers: dict[object, _lifetime.Helper] = {}  # stopped at close
        # Guards _helpers alone and is never held while taking another lock: the event
        # loop starts workers, and must not wait behind a resize holding the state lock.
        self._helpers_lock = threading.Lock()
        self._probe: Any = None  # how async reads learn residency (_residency.py)
        mm = map_whole_file(file, mode, path, created)
        super().__init__(mm)
        self._path = path
        if huge_pages:
            self._advise_huge_pages()
        if mode is MmapMode.READ_WRITE:
            self._threshold = flush_policy.byte_threshold
        if touch_hint is TouchHint.EAGER:
            _paging.touch(self, 0, len(mm))
        if mode is MmapMode.READ_WRITE and flush_policy.interval:
            self._helpers[FlushTimer] = FlushTimer(self, flush_policy.interval)

    # -- constructors --------------------------------------------------------------

    @classmethod
    def create_rw(cls, path: StrPath, size: int, **options: Any) -> Self:
        """Create `path` (truncating an existing file) with `size` zero bytes; map it read-write.

        Args:
            path: The file to create.
            size: Its size in bytes, at least 1.
            **options: `flush_policy=`, `touch_hint=`, `huge_pages=`, `sparse=` (holes).

        Raises:
            ResizeFailedError: `size` is zero, negative, larger than can be mapped, or
                more than the disk or quota holds (also the OSError); no file is
                created or truncated, and a file it made is removed.
            TypeError: A wrong argument type; no file is created or truncated.
            MmapIoError: The file cannot be created (also the matching OSError), or
                this process maps it (also a BufferError): truncating it would crash
                the process.

        Example:
            >>> mm = MemoryMappedFile.create_rw("data.bin", 4096)
        """
        fspath = check_path(path)
        n = check_size(size, _os.MAX_MAP_SIZE)
        check_options(**options)
        file, created = create_file(path, fspath, n, options.get("sparse", False))
        return cls(file, MmapMode.READ_WRITE, path, created=created, **options)

    @classmethod
    def open_ro(cls, path: StrPath, **options: Any) -> Self:
        """Map an existing file read-only.

        Raises:
            ResizeFailedError: The file is empty.
            MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
        """
        return cls._open(path, MmapMode.READ_ONLY, options)

    @classmethod
    def open_rw(cls, path: StrPath, **options: Any) -> Self:
        """Map an existing file read-write.

        Raises:
            ResizeFailedError: The file is empty.
            MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
        """
        return cls._open(path, MmapMode.READ_WRITE, options)

    @classmethod
    def open_cow(cls, path: StrPath, **options: Any) -> Self:
        """Map an existing file copy-on-write: writes stay private and never reach the file.

        Raises:
            ResizeFailedError: The file is empty.
            MmapIoError: The file cannot be opened (also FileNotFoundError and friends).
        """
        return cls._open(path, MmapMode.COPY_ON_WRITE, options)

    @classmethod
    def load(cls, path: StrPath, mode: MmapMode, **options: Any) -> Self:
        """Map an existing file in `mode` (the method behind `load_mmap`)."""
        if not isinstance(mode, MmapMode):
            raise type_error(f"mode must be an MmapMode, not {type(mode).__name__}")
        return cls._open(path, mode, options)

    @classmethod
    def _open(cls, path: StrPath, mode: MmapMode, options: dict[str, Any]) -> Self:
        fspath = check_path(path)
        check_options(**options)
        file = open_file(path, fspath, writable=mode is MmapMode.READ_WRITE)
        return cls(file, mode, path, **options)

    @classmethod
    def open_or_create(cls, path: StrPath, default_size: int, **options: Any) -> Self:
        """Map `path` read-write, creating it with `default_size` zero bytes if it is missing.

        Safe against racing processes: exactly one caller creates the file (see the
        `created` property); the others map the file it made.

        Raises:
            ResizeFailedError: The file had to be created and `default_size` is not a
                valid size, or the existing file is empty.
            MmapIoError: The file cannot be opened or created (also the OSError).
        """
        fspath = check_path(path)
        as_index(default_size, "default_size")
        try:
            size: int | None = check_size(default_size, _os.MAX_MAP_SIZE, "default_size")
        except ResizeFailedError:
            size = None  # only an error if this call is the one that creates the file
        check_options(**options)
        file, created = open_or_create_file(path, fspath, size, options.get("sparse", False))
        return cls(file, MmapMode.READ_WRITE, path, created=created, **options)

    @classmethod
    def builder(cls, path: StrPath) -> MmapBuilder[Self]:
        """Start a builder: chain option calls, then create(), open() or open_or_create().

        Example:
            >>> mm = MemoryMappedFile.builder("data.bin").size(4096).create()
        """
        check_path(path)
        return MmapBuilder(cls, path)

    @classmethod
    def from_file(
        cls, file: Any, mode: MmapMode, path: StrPath | None = None, **options: Any
    ) -> Self:
        """Map an already open file object; the mapping takes ownership and closes it.

        Args:
            file: An open file object with `fileno()`, opened for `mode`.
            mode: The MmapMode to map it with.
            path: For `path` and error messages only.

        Raises:
            ResizeFailedError: The file is empty.
            TypeError: `file` has no `fileno()` or `mode` is not an MmapMode.
            MmapIoError: The OS refused the mapping (also the matching OSError).
        """
        if not isinstance(mode, MmapMode):
            raise type_error(f"mode must be an MmapMode, not {type(mode).__name__}")
        if not callable(getattr(file, "fileno", None)):
            raise type_error(f"file must be an open file object, not {type(file).__name__}")
        if path is not None:
            check_path(path)
        check_options(**options)
        return cls(file, mode, path, **options)

    # -- introspection -------------------------------------------------------------

    @property
    def path(self) -> pathlib.Path | None:
        """The mapped file's path, or None for `from_file` without a path."""
        if self._path is None:
            return None
        import pathlib  # on first use: importing it costs every user a few milliseconds

        return pathlib.Path(os.fsdecode(self._path))

    @property
    def mode(self) -> MmapMode:
        """The MmapMode the file is mapped with."""
        return self._mode

    @property
    def flush_policy(self) -> FlushPolicy:
        """The FlushPolicy the mapping was opened with."""
        return self._policy

    @property
    def created(self) -> bool:
        """True when this mapping's constructor created the file."""
        return self._created

    @property
    def sync_count(self) -> int:
        """How many whole-mapping syncs (msync) this mapping has made: a diagnostic for
        tuning flush policies and seeing group commit at work."""
        return self._sync_count

    @property
    def pending_bytes(self) -> int:
        """Bytes written since the last flush (released mutable views and atomic writes
        included; an atomic cell counts its width once per flush).

        Only counts: reading it never flushes and never waits for the disk.
        """
        if self._mut_views or self._atomic_views:
            with self._state:
                if not self._closed:
                    self._settle_views()
        return self._pending

    def reader(self) -> MmapReader:
        """A binary file object over the mapping with its own cursor (see MmapReader).

        Example:
            >>> import json
            >>> config = json.load(mm.reader())
        """
        self._check_open()
        return MmapReader(self)

    def unmap(self) -> File:
        """Close the mapping and return its file, still open, positioned at the start.

        Raises:
            MmapIoError: The mapping is already closed (also a ValueError).
            FlushFailedError: The policy's final flush failed; the mapping and the
                file are closed all the same.
        """
        return self._close_now(keep_file=True)  # type: ignore[return-value]

    def fileno(self) -> int:
        """The file descriptor of the mapped file (owned by the mapping)."""
        self._check_open()
        return self._fileno

    advise = _paging.advise

    def watch(
        self,
        callback: Callable[[ChangeEvent], object],
        *,
        poll_interval: float | None = None,
        poll_range: tuple[int, int] | None = None,
        latency: float | None = None,
    ) -> WatchHandle:
        """Call `callback(event)` on a background thread for each change to the file.

        Reported: writes through other handles or processes, truncation and growth
        (with the region), attribute changes, and the path no longer leading to the
        file (REMOVED, the last event); about 5-10 ms after the change. Writes through
        a mapping are never reported by the OS: poll for those with `poll_interval`
        seconds and `poll_range=(offset, length)`, compared with pread (never through
        the mapping). The watch runs until `stop()`, the end of a `with` block, REMOVED,
        or close; see the README's Watch section.

        Args:
            callback: Called with a ChangeEvent; an exception it raises is shown via
                threading.excepthook and the watch goes on.
            poll_interval: Seconds between polls, or None to rely on the OS alone.
            poll_range: The bytes to compare at each poll (needs poll_interval).
            latency: How often, in seconds (0.001 to 1), the watch looks for the OS's
                notifications: events arrive one to two of these after the change.
                The default, 0.005, wakes an idle watch 200 times a second; 0.001
                brings events in 1-2 ms for five times the wake-ups (see README).

        Returns:
            A WatchHandle: `stop()`, `is_active()`, and a context manager.

        Raises:
            WatchFailedError: watchfiles is missing (`pip install 'mmap-io[watch]'`),
                the mapping has no path, the path no longer leads to the mapped file
                (also FileNotFoundError), or the OS refused a watch.
            TypeError: `callback` is not callable, or a poll option has a wrong type.
            OutOfBoundsError: `poll_range` does not fit the mapping.
        """
        from ._watch import FileWatch, WatchHandle  # on first use: most users never watch

        if not callable(callback):
            raise type_error(f"callback must be callable, not {type(callback).__name__}")
        return WatchHandle(FileWatch(self, poll_interval, poll_range, latency), callback)

    def __repr__(self) -> str:
        mm = self._mm  # read once: a close meanwhile swaps in a closed stand-in
        state = "closed" if self._closed or mm.closed else f"{len(mm)} bytes"
        return f"<MemoryMappedFile {self._mode.value} {os.fsdecode(self._path or '?')!r} {state}>"

    # -- helpers -------------------------------------------------------------------

    def _helper(self, key: object) -> Any:
        """The helper registered under `key`, or None."""
        return self._helpers.get(key)

    def _add_helper(self, key: object, helper: _lifetime.Helper) -> bool:
        """Register a helper, which close will stop; False (and not added) once closed.

        Close marks the mapping closed before it takes the helpers under the same lock,
        so a helper is either refused here or stopped by that close.
        """
        with self._helpers_lock:
            if self._closed:
                return False
            self._helpers[key] = helper
            return True

    def _drop_helper(self, key: object, helper: _lifetime.Helper) -> None:
        """Unregister a helper that ended by itself (if it is still the one registered)."""
        with self._helpers_lock:
            if self._helpers.get(key) is helper:
                del self._helpers[key]

    def _after_fork(self) -> None:
        """In a forked child: the parent's helper threads are not inherited (their locks
        may be held for ever), so they are forgotten, and the flush rounds start over."""
        super()._after_fork()
        self._helpers = {}
        self._helpers_lock = threading.Lock()
        self._flushes = Rounds()

    # -- flushing (the work itself is in _flush.py) ------------------------------

    def _maybe_flush(self) -> None:
        _flush.maybe_flush(self)

    def _flush_if_pending(self) -> None:
        if self._has_pending():
            _flush.share_sync(self, None)

    def _prefetch_now(self, offset: int, length: int) -> None:
        """Start reading a file range into the page cache; returns without waiting."""
        off, n = check_range(offset, length, len(self))
        if n == 0:
            return
        try:
            _os.prefetch_file(self._fileno, off, n)
        except OSError as error:
            self._check_open()  # closed meanwhile: the descriptor went with it (EBADF)
            raise os_error(AdviceFailedError, error, self._path) from None

    def _check_atomic_mode(self) -> None:
        super()._check_atomic_mode()
        if self._mode is MmapMode.COPY_ON_WRITE:
            raise InvalidModeError(
                "atomic views need a read-write mapping: copy-on-write pages are private, "
                "so no other process could see the writes"
            )

    # -- close ---------------------------------------------------------------------

    def _close_now(self, keep_file: bool = False) -> File | None:
        """Final flush when the policy is automatic, then let go of everything.

        Never refused: views keep their memory (see Region). If the final flush
        fails, the mapping is closed all the same and the error raised afterwards.
        Helpers are stopped after the lock is released, without waiting for them:
        a watch callback or a timer tick may be waiting for that lock.
        """
        failure: FlushFailedError | None = None
        with self._state:
            if self._closed:
                if keep_file:
                    raise closed_error()
                return None
            self._settle_views()
            if self._policy.is_automatic and self._has_pending():
                try:
                    _flush.flush_now(self)
                except FlushFailedError as error:
                    failure = error
            self._shut()
            self._flushes.close(closed_error())
            file = self._file
            if keep_file and failure is None:
                file.seek(0)
            else:
                file.close()
            with self._helpers_lock:
                helpers, self._helpers = self._helpers, {}
        for helper in helpers.values():
            helper.stop()
        if failure is not None:
            raise failure
        return file if keep_file else None

    def close(self) -> None:
        """Close the mapping; see `_close_now`."""
        self._close_now()
