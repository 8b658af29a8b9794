"""Page size and alignment arithmetic."""

from __future__ import annotations

import mmap

from ._args import as_index
from ._errors import value_error

_PAGE_SIZE = mmap.PAGESIZE


def page_size() -> int:
    """Return the size of a virtual-memory page in bytes.

    Example:
        >>> page_size() in (4096, 16384, 65536)
        True
    """
    return _PAGE_SIZE


def align_up(value: int, alignment: int) -> int:
    """Round `value` up to the next multiple of `alignment`.

    Args:
        value: A non-negative int.
        alignment: A positive int; it need not be a power of two.

    Returns:
        The smallest multiple of `alignment` that is >= `value`.

    Raises:
        TypeError: A non-int argument (bool and float included).
        ValueError: A negative value or an alignment below 1.

    Example:
        >>> align_up(10, 3), align_up(1001, 1024), align_up(2048, 1024)
        (12, 1024, 2048)
    """
    value = as_index(value, "value")
    alignment = as_index(alignment, "alignment")
    if alignment < 1:
        raise value_error(f"alignment must be at least 1, got {alignment}")
    if value < 0:
        raise value_error(f"value must not be negative, got {value}")
    return -(-value // alignment) * alignment


def page_span(offset: int, length: int) -> tuple[int, int]:
    """The page-aligned (start, length) covering `length` bytes at `offset`."""
    start = offset - offset % _PAGE_SIZE
    return start, offset + length - start
