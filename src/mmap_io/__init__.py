"""mmap_io: zero-copy memory-mapped files, bounds-checked, durable on request, async-ready.

The sync API lives here; every call that can wait for the disk also has an `_async`
method, and `mmap_io.aio` holds the async constructors and file helpers.
"""

from . import aio as aio
from . import sync as sync
from ._core._anon import AnonymousMmap as AnonymousMmap
from ._core._atomic import AtomicSliceView as AtomicSliceView
from ._core._atomic import AtomicView as AtomicView
from ._core._builder import MmapBuilder as MmapBuilder
from ._core._changes import ChangeEvent as ChangeEvent
from ._core._enums import ChangeKind as ChangeKind
from ._core._enums import MmapAdvice as MmapAdvice
from ._core._enums import MmapMode as MmapMode
from ._core._enums import Ordering as Ordering
from ._core._enums import TouchHint as TouchHint
from ._core._errors import AdviceFailedError as AdviceFailedError
from ._core._errors import FlushFailedError as FlushFailedError
from ._core._errors import InvalidModeError as InvalidModeError
from ._core._errors import LockFailedError as LockFailedError
from ._core._errors import MisalignedError as MisalignedError
from ._core._errors import MmapIoError as MmapIoError
from ._core._errors import OutOfBoundsError as OutOfBoundsError
from ._core._errors import ResizeFailedError as ResizeFailedError
from ._core._errors import UnlockFailedError as UnlockFailedError
from ._core._errors import WatchFailedError as WatchFailedError
from ._core._policy import FlushPolicy as FlushPolicy
from ._core._reader import MmapReader as MmapReader
from ._core._segment import Segment as Segment
from ._core._segment import SegmentMut as SegmentMut
from ._core._utils import align_up as align_up
from ._core._utils import page_size as page_size
from ._core._watch import WatchHandle as WatchHandle
from ._file import MemoryMappedFile as MemoryMappedFile
from ._file import update_region as update_region
from .aio._watch import WatchStream as WatchStream
from .sync import copy_mmap as copy_mmap
from .sync import create_mmap as create_mmap
from .sync import delete_mmap as delete_mmap
from .sync import flush as flush
from .sync import load_mmap as load_mmap

__version__ = "0.1.0"

__all__ = (
    "AdviceFailedError",
    "AnonymousMmap",
    "AtomicSliceView",
    "AtomicView",
    "ChangeEvent",
    "ChangeKind",
    "FlushFailedError",
    "FlushPolicy",
    "InvalidModeError",
    "LockFailedError",
    "MemoryMappedFile",
    "MisalignedError",
    "MmapAdvice",
    "MmapBuilder",
    "MmapIoError",
    "MmapMode",
    "MmapReader",
    "Ordering",
    "OutOfBoundsError",
    "ResizeFailedError",
    "Segment",
    "SegmentMut",
    "TouchHint",
    "UnlockFailedError",
    "WatchFailedError",
    "WatchHandle",
    "WatchStream",
    "aio",
    "align_up",
    "copy_mmap",
    "create_mmap",
    "delete_mmap",
    "flush",
    "load_mmap",
    "page_size",
    "sync",
    "update_region",
)

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("mmap_io."):
        _obj.__module__ = "mmap_io"
del _name, _obj
