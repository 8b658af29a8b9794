"""Change events, and how two looks at a watched file become them."""

from __future__ import annotations

import io
import os
from typing import NamedTuple, final

from ._enums import ChangeKind


@final
class ChangeEvent:
    """One change to a watched file.

    `ChangeEvent(kind, offset, length)` also works positionally; the sizes are keyword
    fields that events carry as context and that equality ignores.

    Attributes:
        kind: What happened (a ChangeKind).
        offset: Where the changed bytes start, when the watch can tell: the old end of
            the file after it grew, the new end after it shrank, the first differing
            byte of a polled range. None when the change could be anywhere.
        length: How many bytes the change spans from `offset`, or None.
        file_size: The mapped file's size right after the change. For REMOVED it is
            the size of the file the mapping still holds open.
        mapped_size: The mapping's length when the event was made (None if closed).

    A file shrunk under a live mapping is the dangerous case: touching a whole page
    past the new end of file raises SIGBUS, which kills the process (Python cannot
    catch it). When `mapping_exceeds_file` is True, stay below `file_size` and
    resize, close or reopen the mapping before touching anything above it.

    Example:
        >>> def on_change(event: ChangeEvent) -> None:
        ...     if event.mapping_exceeds_file:
        ...         shrink_or_reopen(event.file_size)  # before reading past it
    """

    # A plain class, not a dataclass: importing dataclasses costs every user of the
    # library a few milliseconds, and most never watch a file.
    __slots__ = ("file_size", "kind", "length", "mapped_size", "offset")

    kind: ChangeKind
    offset: int | None
    length: int | None
    file_size: int | None
    mapped_size: int | None

    def __init__(
        self,
        kind: ChangeKind,
        offset: int | None = None,
        length: int | None = None,
        *,
        file_size: int | None = None,
        mapped_size: int | None = None,
    ) -> None:
        for name, value in (
            ("kind", kind),
            ("offset", offset),
            ("length", length),
            ("file_size", file_size),
            ("mapped_size", mapped_size),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        import dataclasses  # the error frozen dataclasses raise, as this was one

        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        """Events compare by kind, offset and length; the sizes are context."""
        if not isinstance(other, ChangeEvent):
            return NotImplemented
        return (self.kind, self.offset, self.length) == (other.kind, other.offset, other.length)

    def __hash__(self) -> int:
        return hash((self.kind, self.offset, self.length))

    def __repr__(self) -> str:
        return (
            f"ChangeEvent(kind={self.kind!r}, offset={self.offset!r}, length={self.length!r}, "
            f"file_size={self.file_size!r}, mapped_size={self.mapped_size!r})"
        )

    @property
    def mapping_exceeds_file(self) -> bool:
        """True when the mapping is longer than the file: its tail is no longer backed
        by the file, and touching a page past the end raises SIGBUS."""
        if self.file_size is None or self.mapped_size is None:
            return False
        return self.mapped_size > self.file_size


class Look(NamedTuple):
    """What one look at the watched file shows (a tuple: cheap to build at import)."""

    present: bool  # the path still leads to the mapped file (same device and inode)
    size: int
    mtime_ns: int
    ctime_ns: int
    probe: bytes | None  # the polled byte range, when polling one


def look_at(file: io.FileIO, path: str, probe: tuple[int, int] | None) -> Look:
    """Look at the open file and check that `path` still leads to it.

    The probe is read through the file, never through the mapping: a read past a
    shrunk file's end is then just short, where touching the mapping would raise SIGBUS.

    Raises:
        OSError: The file or its directory cannot be examined (not for a missing path).
    """
    held = os.fstat(file.fileno())
    try:
        named = os.stat(path)
        present = (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)
    except (FileNotFoundError, NotADirectoryError):
        present = False
    data = None
    if probe is not None:
        file.seek(probe[0])
        data = file.read(probe[1]) or b""
    return Look(present, held.st_size, held.st_mtime_ns, held.st_ctime_ns, data)


def changes_between(
    before: Look,
    after: Look,
    *,
    touched: bool,
    mapped_size: int | None,
    probe_offset: int = 0,
) -> list[ChangeEvent]:
    """The events that explain how `before` became `after`.

    Args:
        before: The previous look (the watch's baseline).
        after: The look just taken.
        touched: The OS reported activity on the file itself since `before`. With no
            visible difference that still means a write: two writes within one tick of
            the file-system clock leave the same timestamps behind.
        mapped_size: The mapping's length now, copied into each event.
        probe_offset: Where the polled range starts in the file.

    Returns:
        Content and size changes first, REMOVED last; empty when nothing changed.
    """

    def event(kind: ChangeKind, offset: int | None = None, n: int | None = None) -> ChangeEvent:
        return ChangeEvent(kind, offset, n, file_size=after.size, mapped_size=mapped_size)

    events = []
    if after.size != before.size:
        low, high = sorted((before.size, after.size))
        events.append(event(ChangeKind.MODIFIED, low, high - low))
    if before.probe is not None and after.probe is not None:
        span = changed_span(before.probe, after.probe)
        if span is not None:
            events.append(event(ChangeKind.MODIFIED, probe_offset + span[0], span[1]))
    if not after.present:
        # A deleted file's link count (and so its ctime) changes too: say REMOVED only.
        events.append(event(ChangeKind.REMOVED))
    elif not events:
        if after.mtime_ns != before.mtime_ns or (touched and after.ctime_ns == before.ctime_ns):
            events.append(event(ChangeKind.MODIFIED))
        elif after.ctime_ns != before.ctime_ns:
            events.append(event(ChangeKind.METADATA))
    return events


def changed_span(before: bytes, after: bytes) -> tuple[int, int] | None:
    """The (offset, length) that covers every differing byte, or None if they are equal.

    Bytes present in only one of the two (the file grew or shrank across the range)
    count as changed.
    """
    if before == after:
        return None
    common = min(len(before), len(after))
    # XOR of the two as little-endian integers: byte i of the range is bits 8i..8i+7,
    # so the lowest and highest set bits locate the first and last differing bytes.
    diff = int.from_bytes(before[:common], "little") ^ int.from_bytes(after[:common], "little")
    if diff:
        first = ((diff & -diff).bit_length() - 1) // 8
        end = (diff.bit_length() + 7) // 8
    else:
        first = end = common
    if len(before) != len(after):
        end = max(len(before), len(after))
    return first, end - first
