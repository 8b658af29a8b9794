"""The OS layer: the only code that knows which platform it runs on.

Every platform module exports the same names as `_stub` (a test checks it), raises
plain `OSError` with an errno, and leaves bounds, alignment and mode checks to the core.
"""

import sys

if sys.platform.startswith("linux"):
    from . import _linux as _platform
elif sys.platform == "darwin":
    from . import _darwin as _platform
elif sys.platform == "win32":
    from . import _windows as _platform
else:
    from . import _stub as _platform

PLATFORM = _platform.PLATFORM
MAX_MAP_SIZE = _platform.MAX_MAP_SIZE
map_file = _platform.map_file
map_anonymous = _platform.map_anonymous
resize = _platform.resize
sync_range = _platform.sync_range
sync_file = _platform.sync_file
sync_directory = _platform.sync_directory
advise = _platform.advise
populate_many = _platform.populate_many
populate_read = _platform.populate_read
will_need_many = _platform.will_need_many
prefetch_file = _platform.prefetch_file
evict_file = _platform.evict_file
resident_pages = _platform.resident_pages
mincore_honest = _platform.mincore_honest
mapped_pages = _platform.mapped_pages
lock_pages = _platform.lock_pages
unlock_pages = _platform.unlock_pages
advise_hugepages = _platform.advise_hugepages
allocate = _platform.allocate
hugepage_backed = _platform.hugepage_backed

__all__ = (
    "MAX_MAP_SIZE",
    "PLATFORM",
    "advise",
    "advise_hugepages",
    "allocate",
    "evict_file",
    "hugepage_backed",
    "lock_pages",
    "map_anonymous",
    "map_file",
    "mapped_pages",
    "mincore_honest",
    "populate_many",
    "populate_read",
    "prefetch_file",
    "resident_pages",
    "resize",
    "sync_directory",
    "sync_file",
    "sync_range",
    "unlock_pages",
    "will_need_many",
)
