"""The public surface: __all__ matches the definitions, classes are final, names match API.md."""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing

import mmap_io
from mmap_io import aio, sync

CONTRACT_NAMES = {
    "MemoryMappedFile", "AnonymousMmap", "Segment", "SegmentMut", "MmapBuilder", "MmapMode",
    "FlushPolicy", "TouchHint", "MmapAdvice", "MmapIoError", "OutOfBoundsError",
    "InvalidModeError", "FlushFailedError", "ResizeFailedError", "AdviceFailedError",
    "LockFailedError", "UnlockFailedError", "MisalignedError", "WatchFailedError",
    "create_mmap", "load_mmap", "update_region", "flush", "copy_mmap", "delete_mmap",
    "page_size", "align_up", "aio", "ChangeEvent", "ChangeKind", "WatchHandle", "Ordering",
}  # fmt: skip

MAPPING_METHODS = {
    "create_rw", "open_ro", "open_rw", "open_cow", "open_or_create", "from_file", "builder",
    "close", "closed", "__enter__", "__exit__", "__aenter__", "__aexit__", "unmap",
    "__len__", "path", "mode", "flush_policy", "pending_bytes", "address", "fileno",
    "as_slice", "as_slice_mut", "read_into", "update_region", "read_bytes", "reader",
    "flush", "flush_range", "resize", "touch_pages", "touch_pages_range", "prefetch_range",
    "advise", "chunks", "pages", "chunks_owned", "pages_owned", "chunks_mut",
    "update_region_async", "flush_async", "flush_range_async", "resize_async",
    "touch_pages_async", "read_into_async", "watch", "watch_async",
    "is_hugepage_backed", "lock", "unlock", "lock_all",
    "unlock_all", "lock_async", "unlock_async", "atomic_u64", "atomic_u32", "atomic_u64_slice",
    "atomic_u32_slice",
}  # fmt: skip

AIO_NAMES = {
    "create_mmap_async", "load_mmap_async", "copy_mmap_async", "delete_mmap_async",
    "update_region_async", "flush_async", "open_ro", "open_rw", "open_cow", "create_rw",
    "open_or_create",
}  # fmt: skip


def test_all_lists_exactly_the_public_definitions() -> None:
    public = {n for n in vars(mmap_io) if not n.startswith("_")}
    assert set(mmap_io.__all__) == public
    assert len(mmap_io.__all__) == len(set(mmap_io.__all__))


def test_the_contract_names_exist() -> None:
    assert set(mmap_io.__all__) >= CONTRACT_NAMES
    assert set(dir(mmap_io.MemoryMappedFile)) >= MAPPING_METHODS
    assert set(aio.__all__) >= AIO_NAMES
    assert set(aio.__all__) == {n for n in vars(aio) if not n.startswith("_")}


def test_sync_facade_mirrors_aio() -> None:
    expected = {n.removesuffix("_async") for n in aio.__all__} - {
        "DEFAULT_OFFLOAD_THREADS",
        "offload_limiter",
        "update_region",
    } | {"update_region_durable"}
    assert set(sync.__all__) == expected


def test_public_classes_are_final_and_live_in_mmap_io() -> None:
    for name in mmap_io.__all__:
        obj = getattr(mmap_io, name)
        if inspect.isclass(obj):
            assert obj.__module__ == "mmap_io", name
            if not issubclass(obj, BaseException):
                assert getattr(obj, "__final__", False) or name == "MmapIoError", name


def test_every_public_callable_has_a_docstring() -> None:
    for name in mmap_io.__all__:
        obj = getattr(mmap_io, name)
        if callable(obj):
            assert inspect.getdoc(obj), name
    for name in MAPPING_METHODS:
        assert inspect.getdoc(getattr(mmap_io.MemoryMappedFile, name)), name


def test_import_does_not_load_optional_dependencies() -> None:
    # asyncio too: it takes 25-40 ms to import here, and sync users never need it.
    code = (
        "import sys, mmap_io; "
        "print(sorted(m for m in ('watchfiles', 'trio', 'uvloop', 'asyncio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


ATOMIC_VIEW_METHODS = {
    "load", "store", "swap", "compare_exchange", "fetch_add", "fetch_sub", "fetch_and",
    "fetch_or", "fetch_xor", "release", "__enter__", "__exit__",
}  # fmt: skip


def test_atomic_views_have_the_contract_operations() -> None:
    assert set(dir(mmap_io.AtomicView)) >= ATOMIC_VIEW_METHODS
    for name in ("atomic_u64", "atomic_u32", "atomic_u64_slice", "atomic_u32_slice"):
        assert inspect.getdoc(getattr(mmap_io.AnonymousMmap, name)), name
    for name in ATOMIC_VIEW_METHODS - {"__enter__", "__exit__", "release"}:
        assert "order" in inspect.signature(getattr(mmap_io.AtomicView, name)).parameters, name


def test_package_is_typed() -> None:
    assert typing.get_type_hints(mmap_io.MemoryMappedFile.update_region)
