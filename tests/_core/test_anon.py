"""AnonymousMmap: the same reads, writes and views, without a file."""

from __future__ import annotations

import errno
import os
import sys

import pytest

from mmap_io import AnonymousMmap, MmapIoError, ResizeFailedError


def test_reads_writes_and_views() -> None:
    with AnonymousMmap(4096) as mm:
        assert len(mm) == 4096 and mm.read_bytes(0, 8) == bytes(8)
        mm.update_region(0, b"hello")
        buf = bytearray(5)
        mm.read_into(0, buf)
        assert buf == b"hello"
        with mm.as_slice_mut(0, 1) as view:
            view[0] = ord("H")
        assert mm.as_slice(0, 5) == b"Hello"
        assert mm.address > 0
        assert not hasattr(mm, "flush") and not hasattr(mm, "resize")
        assert not hasattr(mm, "path") and not hasattr(mm, "fileno")


@pytest.mark.parametrize("size", [0, -1, 2**64])
def test_bad_sizes(size: int) -> None:
    with pytest.raises(ResizeFailedError):
        AnonymousMmap(size)


def test_wrong_type_size() -> None:
    with pytest.raises(TypeError):
        AnonymousMmap(10.0)  # type: ignore[arg-type]


def test_use_after_close_raises_the_same_error_as_file_maps() -> None:
    mm = AnonymousMmap(100)
    mm.close()
    with pytest.raises(MmapIoError) as info:
        mm.update_region(0, b"x")
    assert isinstance(info.value, ValueError)
    assert mm.closed and "closed" in repr(mm)


def test_close_succeeds_beside_a_live_view_which_keeps_its_memory() -> None:
    mm = AnonymousMmap(100)
    mm.update_region(0, b"anon")
    view, cell = mm.as_slice(0, 4), mm.atomic_u64(8)
    mm.close()
    assert mm.closed and view == b"anon" and cell.fetch_add(2) == 0 and cell.load() == 2
    with pytest.raises(MmapIoError) as info:
        mm.read_bytes(0, 1)
    assert isinstance(info.value, ValueError)
    view.release()
    cell.release()


@pytest.mark.skipif(sys.platform == "win32", reason="needs fork")
def test_shared_with_a_forked_child() -> None:
    mm = AnonymousMmap(4096)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        mm.update_region(0, b"from child")
        os._exit(0)
    os.waitpid(pid, 0)
    assert mm.read_bytes(0, 10) == b"from child"
    mm.close()


def test_a_size_the_machine_cannot_map_is_a_resize_failed_error() -> None:
    with pytest.raises(ResizeFailedError) as info:
        AnonymousMmap(2**47)  # allowed by the size check; no address space holds it
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOMEM
