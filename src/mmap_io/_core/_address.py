"""The address of a Python buffer, for syscalls that take a pointer."""

from __future__ import annotations

import ctypes


class _PyBuffer(ctypes.Structure):
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


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = (ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int)
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = (ctypes.POINTER(_PyBuffer),)
_release_buffer.restype = None


def buffer_address(obj: object) -> int:
    """Return the start address of `obj`'s buffer (read-only buffers included).

    ctypes' `from_buffer` would need a writable buffer and keeps an export alive; this
    borrows the buffer for the duration of the call only. The address stays valid only
    while the owner keeps the memory where it is (for a mapping: until resize or close).
    """
    view = _PyBuffer()
    if _get_buffer(obj, ctypes.byref(view), 0) != 0:  # raises through pythonapi on failure
        raise TypeError(f"{type(obj).__name__} does not expose a buffer")
    try:
        return view.buf or 0
    finally:
        _release_buffer(ctypes.byref(view))
