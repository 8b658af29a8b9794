"""The address of a Python buffer, for syscalls that take a pointer."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _buffer_calls() -> tuple[Any, Any, Any]:
    """PyObject_GetBuffer and PyBuffer_Release, declared on first use (with ctypes)."""
    import ctypes

    class PyBuffer(ctypes.Structure):
        _fields_ = (
            ("buf", ctypes.c_void_p),
            ("obj", ctypes.py_object),
            ("len", ctypes.c_ssize_t),
            ("itemsize", ctypes.c_ssize_t),
            ("readonly", ctypes.c_int),
            ("ndim", ctypes.c_int),
            ("format", ctypes.c_char_p),
            ("shape", ctypes.c_void_p),
            ("strides", ctypes.c_void_p),
            ("suboffsets", ctypes.c_void_p),
            ("internal", ctypes.c_void_p),
        )

    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes = (ctypes.py_object, ctypes.POINTER(PyBuffer), ctypes.c_int)
    get.restype = ctypes.c_int
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes = (ctypes.POINTER(PyBuffer),)
    release.restype = None
    return PyBuffer, get, release


def buffer_address(obj: object) -> int:
    """Return the start address of `obj`'s buffer (read-only buffers included).

    ctypes' `from_buffer` would need a writable buffer and keeps an export alive; this
    borrows the buffer for the duration of the call only. The address stays valid only
    while the owner keeps the memory where it is (for a mapping: until resize or close).
    """
    import ctypes

    buffer_type, get, release = _buffer_calls()
    view = buffer_type()
    if get(obj, ctypes.byref(view), 0) != 0:  # raises through pythonapi on failure
        raise TypeError(f"{type(obj).__name__} does not expose a buffer")
    try:
        return view.buf or 0
    finally:
        release(ctypes.byref(view))
