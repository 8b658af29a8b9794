"""MmapReader: a real binary file object for json, gzip, tarfile and pickle."""

from __future__ import annotations

import array
import gzip
import io
import json
import pickle
import tarfile
from pathlib import Path
from typing import Any

import pytest

from mmap_io import MemoryMappedFile, MmapIoError


def _mapped(path: Path, data: bytes) -> MemoryMappedFile:
    path.write_bytes(data)
    return MemoryMappedFile.open_ro(path)


def test_json_load(path: Path) -> None:
    with _mapped(path, json.dumps({"a": [1, 2, 3]}).encode()) as mm:
        assert json.load(mm.reader()) == {"a": [1, 2, 3]}


def test_gzip_reads_through_the_reader(path: Path) -> None:
    payload = b"compressible " * 1000
    with _mapped(path, gzip.compress(payload)) as mm:
        assert gzip.GzipFile(fileobj=mm.reader()).read() == payload


def test_tarfile_reads_through_the_reader(path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    with _mapped(path, buffer.getvalue()) as mm, tarfile.open(fileobj=mm.reader()) as tar:
        member = tar.extractfile("hello.txt")
        assert member is not None and member.read() == b"hello"


def test_pickle_load(path: Path) -> None:
    obj = {"x": list(range(100)), "y": "text\nwith newline"}
    with _mapped(path, pickle.dumps(obj)) as mm:
        assert pickle.load(mm.reader()) == obj


def test_seek_tell_read_and_readline(path: Path) -> None:
    with _mapped(path, b"line one\nline two\nend") as mm:
        reader = mm.reader()
        assert reader.readline() == b"line one\n"
        assert reader.tell() == 9
        assert reader.read(4) == b"line"
        assert reader.seek(-3, io.SEEK_END) == 18
        assert reader.read() == b"end"
        assert reader.read() == b""
        assert list(mm.reader()) == [b"line one\n", b"line two\n", b"end"]
        buf = bytearray(4)
        reader.seek(0)
        assert reader.readinto(buf) == 4 and buf == b"line"


def test_seek_past_the_end_reads_empty(path: Path) -> None:
    with _mapped(path, b"abc") as mm:
        reader = mm.reader()
        assert reader.seek(100) == 100
        assert reader.read(5) == b"" and reader.readline() == b""


def test_negative_seek_is_refused_and_keeps_the_position(path: Path) -> None:
    with _mapped(path, b"abcdef") as mm:
        reader = mm.reader()
        reader.seek(2)
        with pytest.raises(ValueError):
            reader.seek(-1)
        with pytest.raises(ValueError):
            reader.seek(-10, io.SEEK_CUR)
        assert reader.tell() == 2


def test_each_reader_has_its_own_position(path: Path) -> None:
    with _mapped(path, b"abcdef") as mm:
        first, second = mm.reader(), mm.reader()
        first.read(3)
        assert second.read(2) == b"ab" and first.read(1) == b"d"


def test_readers_do_not_pin_the_mapping(path: Path) -> None:
    mm = _mapped(path, b"abcdef")
    reader = mm.reader()
    reader.read(1)
    mm.close()
    with pytest.raises(ValueError):
        reader.read(1)


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.readinto(b"xyz"),  # read-only buffer
        lambda r: r.readinto(memoryview(bytearray(3)).toreadonly()),
        lambda r: r.readinto("abc"),
        lambda r: r.read(float("nan")),
        lambda r: r.read(2.0),
        lambda r: r.read(True),
        lambda r: r.read("3"),
        lambda r: r.readline(float("inf")),
        lambda r: r.read1(1.5),
        lambda r: r.seek(1.0),
        lambda r: r.seek(0, 1.0),
        lambda r: r.seek(-10, io.SEEK_CUR),
        lambda r: r.seek(0, 7),
    ],
)
def test_a_refused_call_leaves_the_position_where_it_was(path: Path, call: Any) -> None:
    with _mapped(path, b"hello world\nsecond line\n") as mm:
        reader = mm.reader()
        assert reader.read(2) == b"he"
        with pytest.raises((TypeError, ValueError)) as info:
            call(reader)
        assert isinstance(info.value, MmapIoError)
        assert reader.tell() == 2 and reader.read(3) == b"llo"


def test_read_sizes_follow_bytesio(path: Path) -> None:
    data = b"hello world\nsecond line\n"
    with _mapped(path, data) as mm:
        for size in (None, -1, -5, 0, 3, 100):
            reader, expected = mm.reader(), io.BytesIO(data)
            assert reader.read(size) == expected.read(size)
            assert reader.readline(size) == expected.readline(size)
            assert reader.tell() == expected.tell()


def test_readinto_fills_any_writable_buffer(path: Path) -> None:
    with _mapped(path, b"abcdefgh") as mm:
        reader = mm.reader()
        words = array.array("H", [0, 0])
        assert reader.readinto(words) == 4 and words.tobytes() == b"abcd"
        tail = bytearray(10)
        assert reader.readinto(memoryview(tail)) == 4 and tail[:4] == b"efgh"
        assert reader.readinto(tail) == 0 and reader.tell() == 8
