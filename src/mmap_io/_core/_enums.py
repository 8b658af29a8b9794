"""The small enumerations of the public API: modes, hints, advice, orderings, change kinds."""

from __future__ import annotations

import enum
from typing import final

import atomicshm


@final
class MmapMode(enum.Enum):
    """How a file is mapped."""

    READ_ONLY = "read-only"
    """Reads only; any write raises InvalidModeError."""
    READ_WRITE = "read-write"
    """Reads and writes; writes reach the file (durably after a flush)."""
    COPY_ON_WRITE = "copy-on-write"
    """Writes are private to this mapping and never reach the file."""


@final
class TouchHint(enum.Enum):
    """When to fault a new mapping's pages in."""

    NEVER = "never"
    """Leave pages to fault in on first access (the default)."""
    EAGER = "eager"
    """Fault every page in while the mapping is being opened."""
    LAZY = "lazy"
    """Same as NEVER today; kept for parity with the Rust crate."""


@final
class MmapAdvice(enum.Enum):
    """Access-pattern hints passed to the kernel (madvise)."""

    NORMAL = "normal"
    RANDOM = "random"
    SEQUENTIAL = "sequential"
    WILL_NEED = "will-need"
    DONT_NEED = "dont-need"


@final
class ChangeKind(enum.Enum):
    """What a file watch saw happen to the mapped file."""

    MODIFIED = "modified"
    """The file's bytes or its size changed."""
    METADATA = "metadata"
    """Only its attributes changed (permissions, owner, link count, timestamps)."""
    REMOVED = "removed"
    """Its path no longer leads to the mapped file: deleted, renamed away or replaced."""


@final
class Ordering(enum.IntEnum):
    """Memory ordering of an atomic operation, with the meanings of C11 and Rust.

    An IntEnum whose values are atomicshm's own constants, so a member is handed to
    the native call as it is, at no cost.
    """

    RELAXED = atomicshm.RELAXED
    """Atomic, but orders no other memory access."""
    ACQUIRE = atomicshm.ACQUIRE
    """Reads and writes after this load stay after it."""
    RELEASE = atomicshm.RELEASE
    """Reads and writes before this store stay before it."""
    ACQ_REL = atomicshm.ACQ_REL
    """ACQUIRE and RELEASE, for read-modify-write operations."""
    SEQ_CST = atomicshm.SEQ_CST
    """ACQ_REL plus one total order of all SEQ_CST operations (the default)."""
