"""A game-asset pack loaded read-only, with access advice and zero-copy views.

Run: python examples/asset_pack.py [path]

The pack is an index (name, offset, size per asset) followed by the asset bytes.
Loading maps it read-only, asks the kernel to read the index ahead, marks the
asset area as randomly accessed, and hands each asset out as a zero-copy view.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import tempfile
from pathlib import Path

from mmap_io import MemoryMappedFile, MmapAdvice, TouchHint, page_size

ENTRY = struct.Struct("<32sQQ")  # name, offset, size
COUNT = struct.Struct("<I")


def build_pack(path: Path, assets: dict[str, bytes]) -> None:
    index_size = COUNT.size + len(assets) * ENTRY.size
    offset = -(-index_size // page_size()) * page_size()  # assets start on a page
    entries, blobs = [], []
    for name, data in assets.items():
        entries.append(ENTRY.pack(name.encode(), offset, len(data)))
        blobs.append((offset, data))
        offset += -(-len(data) // 64) * 64
    with MemoryMappedFile.create_rw(path, offset) as mm:
        mm.update_region(0, COUNT.pack(len(assets)) + b"".join(entries))
        for at, data in blobs:
            mm.update_region(at, data)
        mm.flush()


class AssetPack:
    def __init__(self, path: Path) -> None:
        self.mm = MemoryMappedFile.open_ro(path, touch_hint=TouchHint.NEVER)
        (count,) = COUNT.unpack(self.mm.read_bytes(0, COUNT.size))
        index_size = COUNT.size + count * ENTRY.size
        self.mm.advise(0, index_size, MmapAdvice.WILL_NEED)
        self.mm.advise(index_size, len(self.mm) - index_size, MmapAdvice.RANDOM)
        self.index = {}
        for i in range(count):
            raw = self.mm.read_bytes(COUNT.size + i * ENTRY.size, ENTRY.size)
            name, offset, size = ENTRY.unpack(raw)
            self.index[name.rstrip(b"\0").decode()] = (offset, size)

    def view(self, name: str) -> memoryview:
        """The asset's bytes, straight from the page cache: no copy is made."""
        offset, size = self.index[name]
        return self.mm.as_slice(offset, size)

    def preload(self, *names: str) -> None:
        for name in names:
            offset, size = self.index[name]
            self.mm.prefetch_range(offset, size)

    def close(self) -> None:
        self.mm.close()


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "assets.pak"
    assets = {
        "textures/grass.rgba": os.urandom(256 * 256 * 4),
        "textures/stone.rgba": os.urandom(128 * 128 * 4),
        "sounds/step.pcm": os.urandom(44100),
        "levels/one.json": b'{"spawn": [1, 2, 3]}',
    }
    build_pack(path, assets)
    pack = AssetPack(path)
    pack.preload("textures/grass.rgba")
    for name, data in assets.items():
        with pack.view(name) as view:
            assert view == data
            print(f"{name:24} {len(view):8} bytes  sha256 {hashlib.sha256(view).hexdigest()[:16]}")
    pack.close()


if __name__ == "__main__":
    main()
