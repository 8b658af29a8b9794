"""A fixed-size record store: a header, random-access records, durable appends.

Run: python examples/record_store.py [path]

The file starts with a 64-byte header (magic, version, record size, record count)
followed by 64-byte records. Appends grow the file in steps so the mapping is
resized rarely; every append is durable before it returns.
"""

from __future__ import annotations

import struct
import sys
import tempfile
import time
from pathlib import Path

from mmap_io import MemoryMappedFile, Segment, SegmentMut

HEADER = struct.Struct("<4sIIQ")  # magic, version, record size, record count
RECORD = struct.Struct("<Qd48s")  # id, timestamp, name
HEADER_SIZE = 64
MAGIC = b"MMRS"


class RecordStore:
    def __init__(self, path: Path, initial_records: int = 16) -> None:
        size = HEADER_SIZE + initial_records * RECORD.size
        self.mm = MemoryMappedFile.open_or_create(path, size)
        self.header = SegmentMut(self.mm, 0, HEADER_SIZE)
        if self.mm.created:
            self.header.write(HEADER.pack(MAGIC, 1, RECORD.size, 0))
            self.mm.sync_all()  # the new file, its size and its header survive a crash
        magic, version, record_size, _ = HEADER.unpack(self.header.read_bytes()[: HEADER.size])
        if (magic, version, record_size) != (MAGIC, 1, RECORD.size):
            raise ValueError(f"{path} is not a record store")

    def __len__(self) -> int:
        return HEADER.unpack(self.mm.read_bytes(0, HEADER.size))[3]

    def _offset(self, index: int) -> int:
        return HEADER_SIZE + index * RECORD.size

    def append(self, record_id: int, name: str) -> int:
        index = len(self)
        end = self._offset(index + 1)
        if end > len(self.mm):
            self.mm.resize(max(end, 2 * len(self.mm)))
        record = RECORD.pack(record_id, time.time(), name.encode()[:48])
        self.mm.update_region(self._offset(index), record)
        self.mm.flush()  # the record is on disk before the count says it exists
        self.mm.update_region(HEADER.size - 8, struct.pack("<Q", index + 1))
        self.mm.flush()
        return index

    def get(self, index: int) -> tuple[int, float, str]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        record_id, stamp, name = RECORD.unpack(self.mm.read_bytes(self._offset(index), RECORD.size))
        return record_id, stamp, name.rstrip(b"\0").decode()

    def rename(self, index: int, name: str) -> None:
        if not 0 <= index < len(self):
            raise IndexError(index)
        # Patch the name field in place through a writable view of just that record.
        with self.mm.as_slice_mut(self._offset(index), RECORD.size) as view:
            struct.pack_into("<48s", view, 16, name.encode()[:48])
        self.mm.flush_range(self._offset(index), RECORD.size)

    def close(self) -> None:
        self.mm.close()


def main() -> None:
    folder = tempfile.mkdtemp()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(folder) / "records.db"
    store = RecordStore(path)
    for i in range(40):
        store.append(1000 + i, f"record-{i}")
    store.rename(7, "renamed in place")
    print(f"{len(store)} records, file {path.stat().st_size} bytes")
    store.close()

    reopened = RecordStore(path)  # a fresh mapping sees everything
    assert len(reopened) == 40
    assert reopened.get(7)[2] == "renamed in place"
    assert reopened.get(39)[:1] == (1039,)
    header = Segment(reopened.mm, 0, HEADER.size)
    print("header:", HEADER.unpack(bytes(header.as_slice())))
    print("record 7:", reopened.get(7))
    reopened.close()


if __name__ == "__main__":
    main()
