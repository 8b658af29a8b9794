"""MmapBuilder: options gathered step by step, then one of create, open or open_or_create."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from ._args import as_index
from ._enums import MmapMode, TouchHint
from ._errors import InvalidModeError, ResizeFailedError, type_error
from ._policy import FlushPolicy

M = TypeVar("M")


@final
class MmapBuilder(Generic[M]):
    """Collect a mapping's options with chained calls, then make it.

    Each call checks its value at once (TypeError for a wrong type), so a builder
    never holds an option it would drop or refuse later. Creating (`create`,
    `open_or_create`) always makes a read-write mapping: after `.mode(READ_ONLY)` or
    `.mode(COPY_ON_WRITE)` those refuse with InvalidModeError and touch no file.

    Example:
        >>> mm = (MemoryMappedFile.builder("data.bin")
        ...       .size(1 << 20)
        ...       .flush_policy(FlushPolicy.every_bytes(64 * 1024))
        ...       .create())
    """

    __slots__ = ("_cls", "_mode", "_options", "_path", "_size")

    def __init__(self, cls: Any, path: Any) -> None:
        self._cls = cls
        self._path = path
        self._mode = MmapMode.READ_WRITE
        self._size: Any = None
        self._options: dict[str, Any] = {}

    def mode(self, mode: MmapMode) -> MmapBuilder[M]:
        """The mode for `open()` (create and open_or_create are always read-write).

        Raises:
            TypeError: `mode` is not an MmapMode (a string such as "READ_WRITE" included).
        """
        self._mode = _checked(mode, MmapMode, "mode")
        return self

    def size(self, size: int) -> MmapBuilder[M]:
        """The size for `create()`, and the default size for `open_or_create()`.

        Only the type is checked here (TypeError); whether the size is valid is up to
        the call that creates (ResizeFailedError), since `open_or_create()` of an
        existing file never uses it.
        """
        self._size = as_index(size, "size")
        return self

    def flush_policy(self, policy: FlushPolicy) -> MmapBuilder[M]:
        """The FlushPolicy of the mapping (TypeError for anything else)."""
        self._options["flush_policy"] = _checked(policy, FlushPolicy, "flush_policy")
        return self

    def touch_hint(self, hint: TouchHint) -> MmapBuilder[M]:
        """The TouchHint of the mapping (TypeError for anything else)."""
        self._options["touch_hint"] = _checked(hint, TouchHint, "touch_hint")
        return self

    def huge_pages(self, flag: bool) -> MmapBuilder[M]:
        """Ask for huge pages, a hint that never fails (TypeError unless a bool)."""
        self._options["huge_pages"] = _checked(flag, bool, "huge_pages")
        return self

    def sparse(self, flag: bool = True) -> MmapBuilder[M]:
        """Leave a created or grown file's blocks unreserved (holes), as ftruncate makes them.

        By default the blocks are reserved (fallocate), so a full disk is an error
        from the call that creates or grows, not a SIGBUS on a later write.
        """
        self._options["sparse"] = _checked(flag, bool, "sparse")
        return self

    def create(self) -> M:
        """Create the file at the chosen size and map it read-write.

        Raises:
            InvalidModeError: `.mode()` chose read-only or copy-on-write; no file is touched.
            ResizeFailedError: No size was chosen, it is not a valid size, or the disk
                is full (also the OSError).
        """
        self._check_read_write("create")
        if self._size is None:
            raise ResizeFailedError("builder.create() needs a size: call .size(n) first")
        return self._cls.create_rw(self._path, self._size, **self._options)  # type: ignore[no-any-return]

    def open(self) -> M:
        """Map the existing file in the chosen mode (read-write unless `.mode()` said otherwise)."""
        return self._cls.load(self._path, self._mode, **self._options)  # type: ignore[no-any-return]

    def open_or_create(self) -> M:
        """Map the file read-write, creating it at the chosen size if it is missing.

        Raises:
            InvalidModeError: `.mode()` chose read-only or copy-on-write; no file is touched.
            ResizeFailedError: No size was chosen, or the file had to be created and the
                size is not valid or does not fit on the disk.
        """
        self._check_read_write("open_or_create")
        if self._size is None:
            raise ResizeFailedError("builder.open_or_create() needs a size: call .size(n) first")
        return self._cls.open_or_create(self._path, self._size, **self._options)  # type: ignore[no-any-return]

    def _check_read_write(self, call: str) -> None:
        if self._mode is not MmapMode.READ_WRITE:
            raise InvalidModeError(
                f"builder.{call}() makes a read-write mapping, but .mode() chose "
                f"{self._mode.value}; use .open() for that mode"
            )


def _checked(value: Any, kind: type, name: str) -> Any:
    if not isinstance(value, kind):
        raise type_error(f"{name} must be {kind.__name__}, not {type(value).__name__}")
    return value


MmapBuilder.__module__ = "mmap_io"


def check_options(
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
