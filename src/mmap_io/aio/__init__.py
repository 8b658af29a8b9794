"""Module-level constructors and file helpers, one flavour of them.

`mmap_io.aio` holds the async flavour, for asyncio, uvloop and trio alike, and
`mmap_io.sync` the same functions as plain calls; the second is generated from the
first. The constructors return a MemoryMappedFile, and blocking work runs off the
caller's thread only where the flavour needs it (see the README's Async section).
"""

from .._pairs import DEFAULT_OFFLOAD_THREADS as DEFAULT_OFFLOAD_THREADS  # async-only
from .._pairs import offload_limiter as offload_limiter  # async-only
from ._manager import copy_mmap_async as copy_mmap_async
from ._manager import create_mmap_async as create_mmap_async
from ._manager import create_rw as create_rw
from ._manager import delete_mmap_async as delete_mmap_async
from ._manager import flush_async as flush_async
from ._manager import load_mmap_async as load_mmap_async
from ._manager import open_cow as open_cow
from ._manager import open_or_create as open_or_create
from ._manager import open_ro as open_ro
from ._manager import open_rw as open_rw
from ._manager import update_region_async as update_region_async

__all__: tuple[str, ...] = (
    "copy_mmap_async",
    "create_mmap_async",
    "create_rw",
    "delete_mmap_async",
    "flush_async",
    "load_mmap_async",
    "open_cow",
    "open_or_create",
    "open_ro",
    "open_rw",
    "update_region_async",
)
__all__ += ("DEFAULT_OFFLOAD_THREADS", "offload_limiter")  # async-only
