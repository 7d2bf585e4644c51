"""Raw memory for the compiled scanner: how it compiles, and how it sees the bytes and records.

The scanning functions take the file's bytes (``buf``) and the text buffer (``ebuf``) as bare
pointers (:func:`byte_pointer`) and the record arrays as borrowed views (:func:`borrow`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import carray, njit, types
from numba.cpython.unsafe.numbers import trailing_zeros as _trailing_zeros
from numba.extending import intrinsic

#: the scanner's functions: compiled without bounds checks, run without the GIL (parts scan in
#: parallel). Not cached on their own: they are compiled into the two entry points, which are.
jit = njit(nogil=True, boundscheck=False)
#: the entry points (:mod:`.scan`): as :data:`jit`, and cached compiled beside their module
#: (``__pycache__``). numba keys that cache on the content of the entry point's own file alone,
#: though the code of every module the entry point calls is in it: :data:`.scan.SOURCES_DIGEST`
#: brings the other modules' content into that file, and the cache of a callee could not be
#: kept apart from it (a callee loaded from its own cache, stamped by its own file, brings
#: stale code of the modules it calls), hence only the entry points are cached.
entry = njit(cache=True, nogil=True, boundscheck=False)
#: np.int64 in compiled code: a value typed int64 rather than a literal, so that callees compile once
#: (typed Any: to mypy the values are plain ints)
i64: Any = np.int64


def _pointer_typed(typingctx: Any, address: Any, like: Any) -> Any:
    """``address`` (an integer) as a pointer to ``like``'s element type."""
    ptr = types.CPointer(like.dtype)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(ptr))

    return ptr(types.intp, like), codegen


def _load8_typed(typingctx: Any, pointer: Any, i: Any) -> Any:
    """The 8 bytes from ``pointer[i]`` as a little-endian uint64 (any alignment; the caller checks
    they are inside the buffer)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        at = builder.gep(args[0], [args[1]])
        word = builder.bitcast(at, context.get_value_type(types.uint64).as_pointer())
        return builder.load(word, align=1)

    return types.uint64(pointer, types.intp), codegen


pointer: Any = intrinsic(_pointer_typed)
load8: Any = intrinsic(_load8_typed)
trailing_zeros: Any = _trailing_zeros


@jit
def borrow(a: np.ndarray) -> np.ndarray:
    """``a`` seen through a plain pointer, without its reference count: passing an array to a
    compiled function increments and decrements that count atomically, which cost about 40% of
    the scan; a borrowed view skips it. The caller keeps ``a`` alive while the view is in use.
    (The bytes themselves go around as a bare pointer, :func:`byte_pointer`: no count to check at all.)"""
    return carray(pointer(a.ctypes.data, a), a.shape)


@jit
def byte_pointer(a: np.ndarray) -> np.ndarray:
    """A pointer to the first byte of ``a`` (indexable like the array, no bounds, no count)."""
    return pointer(a.ctypes.data, a)


@jit
def grow(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` (fields x records) with room for at least ``need`` records (doubling)."""
    if need <= a.shape[1]:
        return a
    b = np.empty((a.shape[0], max(need, 2 * a.shape[1])), dtype=a.dtype)
    b[:, : a.shape[1]] = a
    return b
