"""`import mmap_io` stays light: optional dependencies and heavy stdlib modules wait.

`import anyio` alone costs as much as the whole library should (the budget is 1.5x of
it), so neither anyio nor the event loops load until the async layer first runs;
watching loads watchfiles when a watch starts; ctypes loads with the first syscall.
"""

from __future__ import annotations

import subprocess
import sys

# Each would cost milliseconds at every import, for users who may never need it.
HEAVY = {
    "anyio": "the async layer loads it when first used",
    "asyncio": "only an async caller's loop needs it",
    "trio": "an optional backend",
    "uvloop": "an optional backend",
    "sniffio": "anyio's, loaded with it",
    "typing_extensions": "anyio's, loaded with it",
    "watchfiles": "the watch extra, loaded when a watch starts",
    "numpy": "the numpy extra, loaded by as_array",
    "ctypes": "loaded with the first syscall",
    "dataclasses": "change events are a plain class",
    "inspect": "pulled in by dataclasses",
    "ast": "pulled in by inspect",
    "pathlib": "`path` builds one on first use",
    "shutil": "copy_mmap loads it",
    "subprocess": "never needed",
    "tempfile": "never needed",
}


def test_import_mmap_io_loads_nothing_heavy() -> None:
    code = "import sys; import mmap_io; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "mmap_io" in loaded
    assert {name: why for name, why in HEAVY.items() if name in loaded} == {}


def test_the_async_layer_loads_anyio_when_it_runs() -> None:
    code = (
        "import sys, mmap_io, anyio, tempfile, os\n"
        "path = os.path.join(tempfile.mkdtemp(), 'f')\n"
        "async def main():\n"
        "    async with mmap_io.aio.create_rw(path, 4096) as mm:\n"
        "        await mm.update_region_async(0, b'x')\n"
        "anyio.run(main)\n"
        "print('anyio.to_thread' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True"]
