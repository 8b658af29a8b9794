"""A time series kept in a file, used as a numpy array without copying it.

Run: python examples/numpy_arrays.py [path]   (needs numpy: pip install 'mmap-io[numpy]')

The file holds a small header (how many samples are in) and then float64 samples.
`as_array` gives a numpy view of the samples: numpy reads and writes the mapped
pages directly. The array is a view like any other, so it survives what happens to
the mapping: the file grows to make room while the array is in use, and the mapping
is closed while an array still points into it; the array keeps its memory (and its
bytes) until it is dropped.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from mmap_io import MemoryMappedFile

HEADER = 64  # bytes before the samples: the sample count, as a little-endian u64
CHUNK = 1000  # samples written per round


def main() -> None:
    folder = tempfile.mkdtemp()
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(folder) / "series.bin"
    mm = MemoryMappedFile.create_rw(path, HEADER + CHUNK * 8)
    count = mm.as_array("<u8", 1, writable=True)  # the header cell, as a 1-item array

    # Round one: fill the first chunk through a writable array.
    first = mm.as_array("<f8", CHUNK, offset=HEADER, writable=True)
    first[:] = np.sin(np.linspace(0.0, np.pi, CHUNK))
    count[0] = CHUNK
    print(f"wrote {CHUNK} samples, mean {first.mean():.4f}")

    # Round two: grow the file while `first` is alive. Growth never waits for views:
    # `first` keeps the memory it points into, which shows the same page cache.
    mm.resize(HEADER + 2 * CHUNK * 8)
    second = mm.as_array("<f8", CHUNK, offset=HEADER + CHUNK * 8, writable=True)
    second[:] = np.cos(np.linspace(0.0, np.pi, CHUNK))
    count[0] = 2 * CHUNK
    first[0] = 42.0  # written through the old memory, seen through the new
    everything = mm.as_array("<f8", offset=HEADER)
    assert everything.shape == (2 * CHUNK,) and everything[0] == 42.0
    print(f"grew to {len(mm)} bytes beside a live array; {everything.size} samples in view")

    # Close with arrays still alive: close never waits for them, and they keep
    # their bytes until they are dropped.
    mm.flush()
    mm.close()
    total = float(everything.sum())
    print(f"closed; the arrays still read their bytes: sum of samples {total:.4f}")
    del first, second, everything, count

    with MemoryMappedFile.open_ro(path) as again:
        samples = again.as_array("<f8", offset=HEADER)
        assert int(again.as_array("<u8", 1)[0]) == 2 * CHUNK
        assert samples[0] == 42.0 and abs(float(samples.sum()) - total) < 1e-9
        print(f"reopened: {samples.size} samples, first {samples[0]}, as written")
        del samples  # drop views before the mapping goes, as with any view


if __name__ == "__main__":
    main()
