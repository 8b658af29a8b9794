"""The file-backed mapping: constructors, flush accounting, resize and close, all blocking.

Everything here runs to completion in the calling thread. The async layer (`aio/`)
offloads these methods to worker threads; the sync facade (`sync/`) calls them
directly. That is why the blocking work has names ending in `_now`.
"""

from __future__ import annotations

import mmap
import os
from typing import TYPE_CHECKING, Any, Self

from . import _os
from ._args import (
    StrPath,
    as_index,
    check_path,
    check_size,
)
from ._builder import MmapBuilder
from ._enums import MmapMode, TouchHint
from ._errors import (
    FlushFailedError,
    InvalidModeError,
    ResizeFailedError,
    busy_error,
    os_error,
    type_error,
)
from ._files import File, create_file, mapping_error, open_file, open_or_create_file, resize_mapped
from ._paging import Paging
from ._policy import FlushPolicy
from ._reader import MmapReader
from ._timer import FlushTimer
from ._utils import page_span

if TYPE_CHECKING:
    import pathlib

    from ._watch import FileWatch

_PAGE = mmap.PAGESIZE
# mincore(2) sets bit 0 of a page's byte when the page is resident.
_RESIDENT = bytes(b for b in range(256) if b & 1)


class Mapping(Paging):
    """A file mapped into memory. The public class is `mmap_io.MemoryMappedFile`."""

    __slots__ = (
        "_commit",
        "_commit_async",
        "_committer",
        "_created",
        "_file",
        "_fileno",
        "_huge_pages",
        "_mode",
        "_pager",
        "_path",
        "_policy",
        "_sparse",
        "_sync_count",
        "_timer",
        "_timer_task",
        "_watchers",
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
        _check_options(flush_policy, touch_hint, huge_pages, sparse)
        self._file = file
        self._fileno: int = file.fileno()
        self._path = path
        self._mode = mode
        self._policy = flush_policy
        self._huge_pages = huge_pages
        self._sparse = sparse  # a growing resize reserves blocks unless this is set
        self._created = created
        self._sync_count = 0
        # Group commit of flush() and flush_async(): set by MemoryMappedFile, which
        # knows both flavours (aio/_commit.py and the sync/_commit.py made from it).
        self._commit: Any = None
        self._commit_async: Any = None
        self._timer: FlushTimer | None = None
        self._timer_task: Any = None
        self._pager: Any = None  # the thread paging cold ranges in for async reads (aio/_pager)
        self._committer: Any = None  # the thread running syncs for async callers (aio/_committer)
        self._watchers: list[FileWatch] = []  # running watches; close() stops them
        try:
            size = os.fstat(self._fileno).st_size
            if size == 0:
                raise ResizeFailedError(f"cannot map an empty file: {path!r}")
            check_size(size, _os.MAX_MAP_SIZE, "file size")
            mm = _os.map_file(self._fileno, size, mode)
        except OSError as error:
            file.close()
            raise mapping_error(error, path, created) from None
        except BaseException:
            file.close()
            raise
        super().__init__(mm)
        if huge_pages:
            self._advise_huge_pages()
        if mode is MmapMode.READ_WRITE:
            self._threshold = flush_policy.byte_threshold
        if touch_hint is TouchHint.EAGER:
            self._touch_now(0, size)
        if mode is MmapMode.READ_WRITE and flush_policy.interval:
            self._timer = FlushTimer(self, flush_policy.interval)

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
                more than the disk or quota holds (also the OSError); a file it made is removed.
            TypeError: A wrong argument type; no file is created or truncated.
            MmapIoError: The file cannot be created (also the matching OSError).

        Example:
            >>> mm = MemoryMappedFile.create_rw("data.bin", 4096)
        """
        fspath = check_path(path)
        n = check_size(size, _os.MAX_MAP_SIZE)
        _check_options(**options)
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
        _check_options(**options)
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
        _check_options(**options)
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
        _check_options(**options)
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
        included; an atomic cell counts its width once per flush)."""
        with self._state:
            if (self._mut_views or self._atomic_views) and not self._closed:
                self._settle_views()
                self._maybe_flush()
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
            MmapIoError: Views into the mapping are alive (also a BufferError); nothing
                is closed.
        """
        return self._unmap_now()

    def fileno(self) -> int:
        """The file descriptor of the mapped file (owned by the mapping)."""
        self._check_open()
        return self._fileno

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._mm)} bytes"
        return f"<MemoryMappedFile {self._mode.value} {os.fsdecode(self._path or '?')!r} {state}>"

    # -- flush policy --------------------------------------------------------------

    def _maybe_flush(self) -> None:
        policy = self._policy
        if policy.kind == "every_writes":
            due = policy.value > 0 and self._writes >= policy.value
        else:
            due = self._pending >= self._threshold
        if due:
            self._flush_now()

    def _flush_if_pending(self) -> None:
        if self._has_pending():
            self._flush_now()

    # -- blocking work -------------------------------------------------------------

    def _flush_now(self) -> None:
        """msync the whole mapping; pending bytes counted before the sync are cleared."""
        with self._state:
            self._check_open()
            self._settle_views()
            taken = self._pending
            self._writes = 0
            if self._mode is MmapMode.READ_WRITE:
                self._sync(0, len(self._mm))
                self._sync_count += 1
            self._pending -= taken
            self._written_cells.clear()  # atomic cells written from now on count again

    def _sync_ranges_now(self, ranges: list[tuple[int, int]]) -> None:
        """msync the pages of each (offset, length), as far as the mapping still reaches.

        The ranges were checked when they were asked for; a resize since may have cut
        them short, and past the end there is nothing left to write back. Never a
        whole-mapping flush: `pending_bytes` and `sync_count` stay as they are.
        """
        with self._state:
            self._check_open()
            if self._mode is not MmapMode.READ_WRITE:
                return
            size = len(self._mm)
            for offset, length in ranges:
                end = min(offset + length, size)
                if offset < end:
                    self._sync(*page_span(offset, end - offset))

    def _sync(self, start: int, length: int) -> None:
        try:
            _os.sync_range(self._mm, self._fileno, self._address, start, length)
        except OSError as error:
            raise os_error(FlushFailedError, error, self._path) from None

    def _sync_all_now(self) -> None:
        """Flush, then fsync the file (and its directory if this mapping created it)."""
        self._flush_now()
        with self._state:
            self._check_open()
            try:
                _os.sync_file(self._fileno)
                if self._created and self._path is not None:
                    parent = os.path.dirname(os.path.abspath(os.fspath(self._path)))
                    _os.sync_directory(parent)
            except OSError as error:
                raise os_error(FlushFailedError, error, self._path) from None

    def _resize_now(self, new_size: int) -> None:
        with self._state:
            self._check_open()
            if self._mode is not MmapMode.READ_WRITE:
                raise InvalidModeError(f"cannot resize a {self._mode.value} mapping")
            n = check_size(new_size, _os.MAX_MAP_SIZE, "new_size")
            self._settle_views()
            old = len(self._mm)
            self._detach()
            try:
                mm = resize_mapped(self._mm, self._fileno, old, n, self._mode, self._sparse)
            except BufferError:
                self._attach(self._mm)
                raise busy_error(ResizeFailedError, "resize the mapping") from None
            except OSError as error:
                self._recover_from_failed_resize(old)
                raise os_error(ResizeFailedError, error, self._path) from None
            self._attach(mm)
            self._hints.forget()
            for watcher in tuple(self._watchers):  # a watch may leave the list meanwhile
                watcher.note_own_change()
            if self._huge_pages:
                self._advise_huge_pages()

    def _recover_from_failed_resize(self, old: int) -> None:
        """Put file and mapping back to the old size so no page lies past the end of file."""
        if not self._mm.closed:
            os.ftruncate(self._fileno, old)
            self._attach(self._mm)
            return
        size = os.fstat(self._fileno).st_size
        self._attach(_os.map_file(self._fileno, size, self._mode))

    def _check_atomic_mode(self) -> None:
        super()._check_atomic_mode()
        if self._mode is MmapMode.COPY_ON_WRITE:
            raise InvalidModeError(
                "atomic views need a read-write mapping: copy-on-write pages are private, "
                "so no other process could see the writes"
            )

    def _close_now(self, keep_file: bool = False) -> None:
        """Final flush when the policy is automatic, then unmap and close the file.

        Timers and watches stop after the lock is released: a watch callback or a
        timer tick may be waiting for that lock, and both are joined here.
        """
        with self._state:
            if self._closed:
                return
            self._settle_views()
            if self._policy.is_automatic and self._pending:
                self._flush_now()
            self._unmap()
            if not keep_file:
                self._file.close()
            timer, self._timer = self._timer, None
            watchers = tuple(self._watchers)
            self._watchers.clear()
        for worker in (self._pager, self._committer):
            if worker is not None:
                worker.stop()
        if timer is not None:
            timer.stop()
        for watcher in watchers:
            watcher.stop()

    def _unmap_now(self) -> File:
        """Close the mapping but hand its open file back."""
        with self._state:
            self._check_open()
            self._close_now(keep_file=True)
            self._file.seek(0)
            return self._file  # type: ignore[no-any-return]


def _check_options(
    flush_policy: object = FlushPolicy.NEVER,
    touch_hint: object = TouchHint.NEVER,
    huge_pages: object = False,
    sparse: object = False,
) -> None:
    """Type-check the keyword options before any file is touched."""
    if not isinstance(flush_policy, FlushPolicy):
        raise type_error(f"flush_policy must be a FlushPolicy, not {type(flush_policy).__name__}")
    if not isinstance(touch_hint, TouchHint):
        raise type_error(f"touch_hint must be a TouchHint, not {type(touch_hint).__name__}")
    if not isinstance(huge_pages, bool):
        raise type_error(f"huge_pages must be a bool, not {type(huge_pages).__name__}")
    if not isinstance(sparse, bool):
        raise type_error(f"sparse must be a bool, not {type(sparse).__name__}")
