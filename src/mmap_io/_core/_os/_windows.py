"""Windows: the stdlib mmap (FlushViewOfFile) plus fsync; advice and residency as in _stub."""

from __future__ import annotations

import mmap
import os
import sys

from ._common import MAX_MAP_SIZE as MAX_MAP_SIZE
from ._common import map_anonymous as map_anonymous
from ._common import map_file as map_file

# As on any other platform: no mremap (the stub's resize closes the view first, since a
# mapped file cannot be truncated on Windows), no advice or residency queries, no
# directory handle to flush (NTFS journals directory entries itself), no page locking
# (VirtualLock is per process and capped by the working set; not wired up) and no
# huge-page hint (large pages need SeLockMemoryPrivilege), and no block reservation
# (SetFileValidData needs SeManageVolumePrivilege): files grow as NTFS extends them.
from ._stub import advise as advise
from ._stub import advise_hugepages as advise_hugepages
from ._stub import allocate as allocate
from ._stub import evict_file as evict_file
from ._stub import hugepage_backed as hugepage_backed
from ._stub import lock_pages as lock_pages
from ._stub import mapped_pages as mapped_pages
from ._stub import mincore_honest as mincore_honest
from ._stub import populate_many as populate_many
from ._stub import populate_read as populate_read
from ._stub import prefetch_file as prefetch_file
from ._stub import resident_pages as resident_pages
from ._stub import resize as resize
from ._stub import sync_directory as sync_directory
from ._stub import unlock_pages as unlock_pages
from ._stub import will_need_many as will_need_many

assert sys.platform == "win32"

PLATFORM = "windows"


def sync_range(mm: mmap.mmap, fileno: int, address: int, offset: int, length: int) -> None:
    """FlushViewOfFile only queues the writes; fsync waits for them to reach the disk."""
    mm.flush(offset, length)
    os.fsync(fileno)


def sync_file(fileno: int) -> None:
    os.fsync(fileno)
