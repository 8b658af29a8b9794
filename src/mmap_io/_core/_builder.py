"""MmapBuilder: options gathered step by step, then one of create, open or open_or_create."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, final

from ._enums import MmapMode, TouchHint
from ._errors import ResizeFailedError
from ._policy import FlushPolicy

M = TypeVar("M")


@final
class MmapBuilder(Generic[M]):
    """Collect a mapping's options with chained calls, then make it.

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
        """The mode for `open()` (create and open_or_create are always read-write)."""
        self._mode = mode
        return self

    def size(self, size: int) -> MmapBuilder[M]:
        """The size for `create()`, and the default size for `open_or_create()`."""
        self._size = size
        return self

    def flush_policy(self, policy: FlushPolicy) -> MmapBuilder[M]:
        self._options["flush_policy"] = policy
        return self

    def touch_hint(self, hint: TouchHint) -> MmapBuilder[M]:
        self._options["touch_hint"] = hint
        return self

    def huge_pages(self, flag: bool) -> MmapBuilder[M]:
        self._options["huge_pages"] = flag
        return self

    def create(self) -> M:
        """Create the file at the chosen size and map it read-write.

        Raises:
            ResizeFailedError: No size was chosen, or it is not a valid size.
        """
        if self._size is None:
            raise ResizeFailedError("builder.create() needs a size: call .size(n) first")
        return self._cls.create_rw(self._path, self._size, **self._options)  # type: ignore[no-any-return]

    def open(self) -> M:
        """Map the existing file in the chosen mode (read-write unless `.mode()` said otherwise)."""
        return self._cls.load(self._path, self._mode, **self._options)  # type: ignore[no-any-return]

    def open_or_create(self) -> M:
        """Map the file read-write, creating it at the chosen size if it is missing."""
        if self._size is None:
            raise ResizeFailedError("builder.open_or_create() needs a size: call .size(n) first")
        return self._cls.open_or_create(self._path, self._size, **self._options)  # type: ignore[no-any-return]


MmapBuilder.__module__ = "mmap_io"
