"""FlushPolicy: when writes are made durable without an explicit flush()."""

from __future__ import annotations

import threading
from typing import ClassVar, Final, final

from ._args import as_index
from ._errors import overflow_error, value_error

# Pending-byte threshold that never trips (the hot path compares against it).
NEVER_TRIPS: Final = 1 << 62
# The longest interval every_millis accepts: the sync flusher waits on a threading.Event,
# and threading refuses a timeout beyond TIMEOUT_MAX seconds with OverflowError (about
# 292 years on Linux). Refused when the policy is made, not when its thread starts.
MAX_MILLIS: Final = int(threading.TIMEOUT_MAX * 1000)
_KINDS = ("never", "manual", "always", "every_bytes", "every_writes", "every_millis")


@final
class FlushPolicy:
    """When a read-write mapping flushes on its own.

    Policies are values: two policies with the same kind and number compare equal.

    Attributes:
        NEVER: Flush only when `flush()` is called (the default).
        MANUAL: Same behaviour as NEVER, kept as its own name for parity with the spec.
        ALWAYS: Flush after every write.

    Example:
        >>> FlushPolicy.every_bytes(4096) == FlushPolicy.every_bytes(4096)
        True
    """

    NEVER: ClassVar[FlushPolicy]
    MANUAL: ClassVar[FlushPolicy]
    ALWAYS: ClassVar[FlushPolicy]

    __slots__ = ("_kind", "_value")

    def __init__(self, kind: str, value: int = 0) -> None:
        if kind not in _KINDS:
            raise value_error(f"unknown flush policy kind {kind!r}")
        value = _count(value, "value")
        if value and kind in ("never", "manual", "always"):
            raise value_error(f"FlushPolicy.{kind.upper()} takes no number, got {value}")
        if kind == "every_millis" and value > MAX_MILLIS:
            raise overflow_error(
                f"every_millis({value}) is longer than a timer can wait ({MAX_MILLIS} ms)"
            )
        self._kind = kind
        self._value = value

    @classmethod
    def every_bytes(cls, n: int) -> FlushPolicy:
        """Flush once `n` bytes have been written since the last flush (0 never flushes).

        Raises:
            TypeError: `n` is not an int.
            ValueError: `n` is negative.
        """
        return cls("every_bytes", _count(n, "n"))

    @classmethod
    def every_writes(cls, n: int) -> FlushPolicy:
        """Flush on every `n`-th accepted write (0 never flushes).

        Raises:
            TypeError: `n` is not an int.
            ValueError: `n` is negative.
        """
        return cls("every_writes", _count(n, "n"))

    @classmethod
    def every_millis(cls, ms: int) -> FlushPolicy:
        """Flush pending writes in the background every `ms` milliseconds (0 means manual).

        Raises:
            TypeError: `ms` is not an int.
            ValueError: `ms` is negative.
            OverflowError: `ms` is longer than a timer can wait (`MAX_MILLIS`, from
                `threading.TIMEOUT_MAX`); all three are also MmapIoError.
        """
        return cls("every_millis", _count(ms, "ms"))

    @property
    def kind(self) -> str:
        """One of never, manual, always, every_bytes, every_writes, every_millis."""
        return self._kind

    @property
    def value(self) -> int:
        """The policy's number (bytes, writes or milliseconds); 0 for the others."""
        return self._value

    @property
    def byte_threshold(self) -> int:
        """Pending bytes at which the write path must consult the policy."""
        if self._kind == "always" or (self._kind == "every_writes" and self._value):
            return 1
        if self._kind == "every_bytes" and self._value:
            return self._value
        return NEVER_TRIPS

    @property
    def interval(self) -> float:
        """Seconds between background flushes, or 0.0 when there is no timer."""
        return self._value / 1000 if self._kind == "every_millis" else 0.0

    @property
    def is_automatic(self) -> bool:
        """True when the mapping flushes without being asked (close flushes these too)."""
        if self._kind in ("never", "manual"):
            return False
        return self._kind == "always" or self._value > 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FlushPolicy):
            return NotImplemented
        return (self._kind, self._value) == (other._kind, other._value)

    def __hash__(self) -> int:
        return hash((self._kind, self._value))

    def __repr__(self) -> str:
        if self._kind in ("never", "manual", "always"):
            return f"FlushPolicy.{self._kind.upper()}"
        return f"FlushPolicy.{self._kind}({self._value})"


def _count(n: object, name: str) -> int:
    value = as_index(n, name)
    if value < 0:
        raise value_error(f"a flush policy count must not be negative, got {value}")
    return value


FlushPolicy.NEVER = FlushPolicy("never")
FlushPolicy.MANUAL = FlushPolicy("manual")
FlushPolicy.ALWAYS = FlushPolicy("always")
