# GENERATED from src/mmap_io/aio/__init__.py by scripts/unasync.py: do not edit.
"""Module-level constructors and file helpers, one flavour of them.

`mmap_io.aio` holds the async flavour, for asyncio, uvloop and trio alike, and
`mmap_io.sync` the same functions as plain calls; the second is generated from the
first. The constructors return a MemoryMappedFile, and blocking work runs off the
caller's thread only where the flavour needs it (see the README's Async section).
"""

from ._manager import copy_mmap as copy_mmap
from ._manager import create_mmap as create_mmap
from ._manager import create_rw as create_rw
from ._manager import delete_mmap as delete_mmap
from ._manager import flush as flush
from ._manager import load_mmap as load_mmap
from ._manager import open_cow as open_cow
from ._manager import open_or_create as open_or_create
from ._manager import open_ro as open_ro
from ._manager import open_rw as open_rw
from ._manager import update_region_durable as update_region_durable

__all__: tuple[str, ...] = (
    "copy_mmap",
    "create_mmap",
    "create_rw",
    "delete_mmap",
    "flush",
    "load_mmap",
    "open_cow",
    "open_or_create",
    "open_ro",
    "open_rw",
    "update_region_durable",
)
