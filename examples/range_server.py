"""An asyncio server that serves byte ranges of a mapped file, never blocking its loop.

Run: python examples/range_server.py          (serves, queries itself, exits)
     python examples/range_server.py --serve  (keeps serving on 127.0.0.1:8765)

Protocol: the client sends "offset length\\n"; the server answers with a 4-byte
length and the bytes. Reads go through `read_bytes_async`, which copies inline when
the pages are in memory and pages cold ranges in from a worker thread. Writes use
`update_region_async`, which returns once the bytes are durable; concurrent writers
share the syncs.
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import tempfile
from pathlib import Path

from mmap_io import MemoryMappedFile, OutOfBoundsError, aio


async def handle(
    mm: MemoryMappedFile, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while line := await reader.readline():
            command, *args = line.split()
            if command == b"GET":
                offset, length = int(args[0]), int(args[1])
                try:
                    data = await mm.read_bytes_async(offset, length)
                except OutOfBoundsError:
                    data = b""
                writer.write(struct.pack("<I", len(data)) + data)
            elif command == b"PUT":
                offset, payload = int(args[0]), bytes.fromhex(args[1].decode())
                await mm.update_region_async(offset, payload)
                writer.write(struct.pack("<I", 0))
            await writer.drain()
    finally:
        writer.close()


async def fetch(port: int, offset: int, length: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {offset} {length}\n".encode())
    (size,) = struct.unpack("<I", await reader.readexactly(4))
    data = await reader.readexactly(size)
    writer.close()
    return data


async def put(port: int, offset: int, payload: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"PUT {offset} {payload.hex()}\n".encode())
    await reader.readexactly(4)
    writer.close()


async def main(serve_forever: bool) -> None:
    path = Path(tempfile.mkdtemp()) / "served.bin"
    content = os.urandom(4 << 20)
    path.write_bytes(content)
    async with aio.open_rw(path) as mm:
        server = await asyncio.start_server(
            lambda r, w: handle(mm, r, w), "127.0.0.1", 8765 if serve_forever else 0
        )
        port = server.sockets[0].getsockname()[1]
        print(f"serving {path} ({len(mm)} bytes) on 127.0.0.1:{port}")
        async with server:
            if serve_forever:
                await server.serve_forever()
            ranges = [(i * 65536 + 17, 4096 + i) for i in range(32)]
            answers = await asyncio.gather(*(fetch(port, o, n) for o, n in ranges))
            assert all(a == content[o : o + n] for a, (o, n) in zip(answers, ranges, strict=True))
            await asyncio.gather(*(put(port, i * 4096, b"client %02d" % i) for i in range(16)))
            assert await fetch(port, 3 * 4096, 9) == b"client 03"
            assert await fetch(port, len(content) - 2, 10) == b""  # out of range: empty
            print(f"served {len(ranges)} ranges and 16 durable writes; pending {mm.pending_bytes}")
    with MemoryMappedFile.open_ro(path) as fresh:
        assert fresh.read_bytes(15 * 4096, 9) == b"client 15"


if __name__ == "__main__":
    asyncio.run(main("--serve" in sys.argv))
