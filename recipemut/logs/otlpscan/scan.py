"""A compiled scanner of OTLP JSON exports: the bytes straight to span records, nothing else built.

``pyarrow.json`` builds every nested list of an export in memory (each span's attribute list as a
list of ``{key, value}`` structs) before anything is kept; on Collector exports that costs twice
what the native JSONL parse costs per span. This scanner walks the bytes once (compiled with numba,
one thread per part of the file, the GIL released) and keeps only what the raw span frame needs:
the span fields, the resource's ``service.name`` and the attributes the mapping asks for, their
text copied (unescaped) into one buffer while it is in cache. Everything else (events, links,
unwanted attributes, scope) is validated as JSON and skipped.

It reads the shapes the Collector's file exporter and the proto JSON mapping write, in any key
order and any whitespace, one export per line or pretty-printed. Anything outside that (a value of
an unexpected JSON type, a number where an integer belongs, an array or kvlist value in a wanted
attribute, a key written with escapes, a list member written twice in one object, a ``result``
wrapper, malformed JSON or UTF-8) makes :func:`scan_part` give up with a reason; the caller then uses
the document reader, which handles every shape and names the line at fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import carray, njit, types
from numba.cpython.unsafe.numbers import trailing_zeros as _trailing_zeros
from numba.extending import intrinsic

# ---- the records the scanner fills -----------------------------------------------------------------

#: span record fields (rows of an int64 array, one column per span); a string is an (offset, length)
#: pair, length -1 when absent or null; an offset of 0 or more points into the file, one below 0 into
#: the text buffer at ``-offset - 1`` (the scanner copies every kept string there)
SP_TRACE, SP_SPAN, SP_PARENT, SP_NAME, SP_KIND_TEXT, SP_STATE = 0, 2, 4, 6, 8, 10  # (off, len) pairs
SP_START, SP_START_SET, SP_END, SP_END_SET = 12, 13, 14, 15
SP_KIND = 16  # -1 absent or not a kind, 0..: the number (booleans as 0/1), -2: a string in SP_KIND_TEXT
SP_ERROR = 17  # 1 when status.code says error
SP_RS = 18  # index of the span's resourceSpans entry
SP_WIDTH = 19

#: attribute record fields (rows of an int64 array, one column per record): the wanted attributes
#: of spans and resources, in file order
AT_OWNER, AT_ON_RESOURCE, AT_KEY, AT_KIND, AT_TEXT, AT_INT = 0, 1, 2, 3, 4, 6  # AT_TEXT: (off, len)
AT_WIDTH = 7
#: value kinds (AT_KIND); a text kind keeps its string at AT_TEXT (off, len)
V_NULL, V_STRING, V_INT, V_DOUBLE, V_TRUE, V_FALSE, V_BYTES = 0, 1, 2, 3, 4, 5, 6

#: why a scan gave up (the first element of :func:`scan_part`'s result when not OK)
OK = 0
BAD_JSON, BAD_UTF8, BAD_SHAPE, ESCAPED_KEY, NOT_INTEGER, COMPLEX_VALUE, TOO_DEEP, NEED_ROOM = 1, 2, 3, 4, 5, 6, 7, 8
REASONS = {
    BAD_JSON: "not well-formed JSON",
    BAD_UTF8: "not UTF-8",
    BAD_SHAPE: "a value of a type the OTLP mapping does not use there",
    ESCAPED_KEY: "a key written with escapes",
    NOT_INTEGER: "a time or integer value that is not an integer",
    COMPLEX_VALUE: "an array or kvlist value in an attribute the mapping reads",
    TOO_DEEP: "JSON nested more than 64 deep",
    NEED_ROOM: "(internal: the attribute records are full)",
}


def _k(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).copy()


K_RESOURCE_SPANS, K_RESULT, K_RESOURCE, K_ATTRIBUTES = (
    _k("resourceSpans"),
    _k("result"),
    _k("resource"),
    _k("attributes"),
)
K_SCOPE_SPANS, K_ILS, K_SPANS = _k("scopeSpans"), _k("instrumentationLibrarySpans"), _k("spans")
K_TRACE_ID, K_SPAN_ID, K_PARENT, K_NAME = _k("traceId"), _k("spanId"), _k("parentSpanId"), _k("name")
K_KIND, K_START, K_END, K_STATUS = _k("kind"), _k("startTimeUnixNano"), _k("endTimeUnixNano"), _k("status")
K_TRACE_STATE, K_CODE, K_KEY, K_VALUE = _k("traceState"), _k("code"), _k("key"), _k("value")
K_STRING, K_INT, K_DOUBLE, K_BOOL = _k("stringValue"), _k("intValue"), _k("doubleValue"), _k("boolValue")
K_ARRAY, K_KVLIST, K_BYTES = _k("arrayValue"), _k("kvlistValue"), _k("bytesValue")
K_ERROR_NAME, K_TWO = _k("STATUS_CODE_ERROR"), _k("2")

#: compiled once, cached beside the module (``__pycache__``), run without the GIL (parts scan in parallel)
_jit = njit(cache=True, nogil=True, boundscheck=False)
#: np.int64 in compiled code: a value typed int64 rather than a literal, so that callees compile once
#: (typed Any: to mypy the values are plain ints)
_i64: Any = np.int64

# ---- raw memory ----------------------------------------------------------------------------------
# The scanning functions take the file's bytes (``buf``) and the text buffer (``ebuf``) as
# bare pointers (:func:`_bytes`) and the record arrays as borrowed views (:func:`_borrow`).


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


_pointer: Any = intrinsic(_pointer_typed)
_load8: Any = intrinsic(_load8_typed)
_tz: Any = _trailing_zeros


@_jit
def _borrow(a: np.ndarray) -> np.ndarray:
    """``a`` seen through a plain pointer, without its reference count: passing an array to a
    compiled function increments and decrements that count atomically, which cost about 40% of
    the scan; a borrowed view skips it. The caller keeps ``a`` alive while the view is in use.
    (The bytes themselves go around as a bare pointer, :func:`_bytes`: no count to check at all.)"""
    return carray(_pointer(a.ctypes.data, a), a.shape)


@_jit
def _bytes(a: np.ndarray) -> np.ndarray:
    """A pointer to the first byte of ``a`` (indexable like the array, no bounds, no count)."""
    return _pointer(a.ctypes.data, a)


# ---- lexing ------------------------------------------------------------------------------------------


@_jit
def _ws(buf: np.ndarray, i: int, n: int) -> int:
    while i < n:
        c = buf[i]
        if c != 32 and c != 10 and c != 13 and c != 9:
            return i
        i += 1
    return i


#: eight-byte words for finding the first byte of a string that is not plain ASCII text (a quote, a
#: backslash, a control character or a UTF-8 byte): the "has a zero byte" bit trick
_ONES, _HIGHS = np.uint64(0x0101010101010101), np.uint64(0x8080808080808080)
_QUOTES, _SLASHES, _SPACES = np.uint64(0x2222222222222222), np.uint64(0x5C5C5C5C5C5C5C5C), np.uint64(0x2020202020202020)


@_jit
def _plain(buf: np.ndarray, i: int, n: int) -> int:
    """The index of the first byte from ``i`` that is a quote, a backslash, below 0x20 or above 0x7F
    (``n`` when none): eight bytes at a time where they fit."""
    while i + 8 <= n:
        w = _load8(buf, i)
        q = w ^ _QUOTES
        b = w ^ _SLASHES
        special = ((q - _ONES) & ~q) | ((b - _ONES) & ~b) | ((w - _SPACES) & ~w) | w
        special &= _HIGHS
        if special != np.uint64(0):
            return i + int(np.int64(_tz(special) >> np.uint64(3)))
        i += 8
    while i < n:
        c = buf[i]
        if c == 34 or c == 92 or c < 32 or c >= 128:
            return i
        i += 1
    return n


@_jit
def _string(buf: np.ndarray, i: int, n: int) -> tuple[int, int]:
    """``buf[i]`` is an opening quote: (index after the closing quote, 1 if escapes inside), or
    (-BAD_JSON / -BAD_UTF8, 0). UTF-8 is validated here, where it can appear."""
    i += 1
    esc = 0
    while i < n:
        i = _plain(buf, i, n)
        if i >= n:
            break
        c = buf[i]
        if c == 34:
            return i + 1, esc
        if c == 92:
            esc = 1
            if i + 1 >= n:
                return -BAD_JSON, 0
            c = buf[i + 1]
            if c == 117:  # \uXXXX
                if i + 6 > n or _hex4(buf, i + 2) < 0:
                    return -BAD_JSON, 0
                i += 6
                continue
            if c != 34 and c != 92 and c != 47 and c != 98 and c != 102 and c != 110 and c != 114 and c != 116:
                return -BAD_JSON, 0
            i += 2
            continue
        if c < 32:
            return -BAD_JSON, 0
        if c < 128:
            i += 1
            continue
        # a multi-byte UTF-8 sequence: lead byte, continuation bytes, no overlongs or surrogates
        if 0xC2 <= c <= 0xDF:
            m = 1
        elif 0xE0 <= c <= 0xEF:
            m = 2
        elif 0xF0 <= c <= 0xF4:
            m = 3
        else:
            return -BAD_UTF8, 0
        if i + m >= n:
            return -BAD_UTF8, 0
        c1 = buf[i + 1]
        if (c1 & 0xC0) != 0x80:
            return -BAD_UTF8, 0
        if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F) or (c == 0xF0 and c1 < 0x90):
            return -BAD_UTF8, 0
        if c == 0xF4 and c1 > 0x8F:
            return -BAD_UTF8, 0
        for j in range(2, m + 1):
            if (buf[i + j] & 0xC0) != 0x80:
                return -BAD_UTF8, 0
        i += m + 1
    return -BAD_JSON, 0


@_jit
def _number(buf: np.ndarray, i: int, n: int) -> tuple[int, int]:
    """A JSON number at ``buf[i]``: (index after it, 1 if an integer literal), or (-BAD_JSON, 0)."""
    if i < n and buf[i] == 45:
        i += 1
    if i >= n:
        return -BAD_JSON, 0
    if buf[i] == 48:
        i += 1
    elif 49 <= buf[i] <= 57:
        while i < n and 48 <= buf[i] <= 57:
            i += 1
    else:
        return -BAD_JSON, 0
    integer = 1
    if i < n and buf[i] == 46:
        integer = 0
        i += 1
        s = i
        while i < n and 48 <= buf[i] <= 57:
            i += 1
        if i == s:
            return -BAD_JSON, 0
    if i < n and (buf[i] == 101 or buf[i] == 69):
        integer = 0
        i += 1
        if i < n and (buf[i] == 43 or buf[i] == 45):
            i += 1
        s = i
        while i < n and 48 <= buf[i] <= 57:
            i += 1
        if i == s:
            return -BAD_JSON, 0
    return i, integer


@_jit
def _literal(buf: np.ndarray, i: int, n: int) -> tuple[int, int]:
    """``true`` / ``false`` / ``null`` at ``buf[i]``: (index after it, 1 / 0 / -1), or (-BAD_JSON, 0)."""
    if i + 4 <= n and buf[i] == 116 and buf[i + 1] == 114 and buf[i + 2] == 117 and buf[i + 3] == 101:
        return i + 4, 1
    if i + 4 <= n and buf[i] == 110 and buf[i + 1] == 117 and buf[i + 2] == 108 and buf[i + 3] == 108:
        return i + 4, -1
    if (
        i + 5 <= n
        and buf[i] == 102
        and buf[i + 1] == 97
        and buf[i + 2] == 108
        and buf[i + 3] == 115
        and buf[i + 4] == 101
    ):
        return i + 5, 0
    return -BAD_JSON, 0


@_jit
def _skip(buf: np.ndarray, i: int, n: int) -> int:
    """Past one JSON value at ``buf[i]``, checking it is well-formed; -reason when not."""
    c = buf[i]
    if c == 34:
        return _string(buf, i, n)[0]
    if c == 45 or 48 <= c <= 57:
        return _number(buf, i, n)[0]
    if c != 123 and c != 91:
        return _literal(buf, i, n)[0]
    objects = np.uint64(0)  # bit d set: the container at depth d is an object (else an array)
    depth = 0
    while True:
        # here buf[i] opens a container (c) or holds a scalar
        c = buf[i]
        if c == 123 or c == 91:
            if depth == 64:
                return -TOO_DEEP
            if c == 123:
                objects |= np.uint64(1) << np.uint64(depth)
            else:
                objects &= ~(np.uint64(1) << np.uint64(depth))
            depth += 1
            i = _ws(buf, i + 1, n)
            if i >= n:
                return -BAD_JSON
            if buf[i] == (125 if c == 123 else 93):  # empty
                i += 1
                depth -= 1
            elif c == 123:
                ks, _e, _esc, i = _key(buf, i, n)
                if ks < 0:
                    return ks
                continue  # the member's value
            else:
                continue  # the first element
        else:
            if c == 34:
                i = _string(buf, i, n)[0]
            elif c == 45 or 48 <= c <= 57:
                i = _number(buf, i, n)[0]
            else:
                i = _literal(buf, i, n)[0]
            if i < 0:
                return i
        # after a value: close containers or go on to the next member / element
        while True:
            if depth == 0:
                return i
            i = _ws(buf, i, n)
            if i >= n:
                return -BAD_JSON
            c = buf[i]
            obj = (objects >> np.uint64(depth - 1)) & np.uint64(1) == np.uint64(1)
            if c == 44:
                i = _ws(buf, i + 1, n)
                if i >= n:
                    return -BAD_JSON
                if obj:
                    ks, _e, _esc, i = _key(buf, i, n)
                    if ks < 0:
                        return ks
                break
            if (obj and c == 125) or (not obj and c == 93):
                i += 1
                depth -= 1
                continue
            return -BAD_JSON


@_jit
def _open(buf: np.ndarray, i: int, n: int, opener: int) -> tuple[int, int]:
    """``buf[i]`` must open an object (123) or array (91): (index of the first member / element, 1),
    (index after an empty one, 0), or (-reason, 0)."""
    if i >= n or buf[i] != opener:
        return -BAD_SHAPE, 0
    i = _ws(buf, i + 1, n)
    if i >= n:
        return -BAD_JSON, 0
    if buf[i] == opener + 2:
        return i + 1, 0
    return i, 1


@_jit
def _next(buf: np.ndarray, i: int, n: int, closer: int) -> tuple[int, int]:
    """After a member / element: (index of the next one, 1), (index after the closer, 0), (-reason, 0)."""
    i = _ws(buf, i, n)
    if i >= n:
        return -BAD_JSON, 0
    if buf[i] == 44:
        i = _ws(buf, i + 1, n)
        return (i, 1) if i < n else (-BAD_JSON, 0)
    if buf[i] == closer:
        return i + 1, 0
    return -BAD_JSON, 0


@_jit
def _key(buf: np.ndarray, i: int, n: int) -> tuple[int, int, int, int]:
    """A member's key at ``buf[i]``: (key start, key end, 1 if escaped, index of its value) or (-reason, ...)."""
    if buf[i] != 34:
        return -BAD_JSON, 0, 0, 0
    end, esc = _string(buf, i, n)
    if end < 0:
        return end, 0, 0, 0
    j = _ws(buf, end, n)
    if j >= n or buf[j] != 58:
        return -BAD_JSON, 0, 0, 0
    j = _ws(buf, j + 1, n)
    if j >= n:
        return -BAD_JSON, 0, 0, 0
    return i + 1, end - 1, esc, j


@_jit
def _plain_key(buf: np.ndarray, i: int, n: int) -> tuple[int, int, int]:
    """:func:`_key` for a member whose key must be written without escapes: (key start, key end,
    index of its value), or (-reason, 0, 0)."""
    s, e, esc, j = _key(buf, i, n)
    if s < 0:
        return s, 0, 0
    if esc:
        return -ESCAPED_KEY, 0, 0
    return s, e, j


@_jit
def _is(buf: np.ndarray, s: int, e: int, word: np.ndarray) -> bool:
    if e - s != len(word):
        return False
    for j in range(len(word)):  # noqa: SIM110 (numba compiles loops, not generators)
        if buf[s + j] != word[j]:
            return False
    return True


@_jit
def _int(buf: np.ndarray, s: int, e: int) -> tuple[int, int]:
    """Decimal digits (optional minus) in ``buf[s:e]`` as int64: (value, 1), or (0, 0) when not one."""
    neg = s < e and buf[s] == 45
    if neg:
        s += 1
    if s >= e or e - s > 19:
        return 0, 0
    v = 0
    for j in range(s, e):
        d = int(buf[j]) - 48  # signed: a byte below '0' gives a negative d
        if d < 0 or d > 9:
            return 0, 0
        if v > (9223372036854775807 - d) // 10:
            return 0, 0
        v = v * 10 + d
    return (-v if neg else v), 1


# ---- unescaping --------------------------------------------------------------------------------------


@_jit
def _hex4(buf: np.ndarray, i: int) -> int:
    v = 0
    for j in range(i, i + 4):
        c = buf[j]
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = v * 16 + d
    return v


@_jit
def _unescape(buf: np.ndarray, s: int, e: int, out: np.ndarray, o: int) -> int:
    """The JSON string body ``buf[s:e]`` unescaped into ``out`` from ``o`` (room for ``e - s`` bytes):
    the end in ``out``, or -BAD_JSON (a bad escape, or a lone surrogate that is not text)."""
    i = s
    while i < e:
        c = buf[i]
        if c != 92:
            out[o] = c
            o += 1
            i += 1
            continue
        c = buf[i + 1]
        i += 2
        if c == 110:
            out[o] = 10
        elif c == 116:
            out[o] = 9
        elif c == 114:
            out[o] = 13
        elif c == 98:
            out[o] = 8
        elif c == 102:
            out[o] = 12
        elif c == 34 or c == 92 or c == 47:
            out[o] = c
        elif c == 117:
            if i + 4 > e:
                return -BAD_JSON
            cp = _hex4(buf, i)
            if cp < 0:
                return -BAD_JSON
            i += 4
            if 0xD800 <= cp <= 0xDBFF:  # a high surrogate: its low half must follow
                if i + 6 > e or buf[i] != 92 or buf[i + 1] != 117:
                    return -BAD_JSON
                lo = _hex4(buf, i + 2)
                if not 0xDC00 <= lo <= 0xDFFF:
                    return -BAD_JSON
                i += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            elif 0xDC00 <= cp <= 0xDFFF:
                return -BAD_JSON
            if cp < 0x80:
                out[o] = cp
            elif cp < 0x800:
                out[o] = 0xC0 | (cp >> 6)
                o += 1
                out[o] = 0x80 | (cp & 0x3F)
            elif cp < 0x10000:
                out[o] = 0xE0 | (cp >> 12)
                out[o + 1] = 0x80 | ((cp >> 6) & 0x3F)
                o += 2
                out[o] = 0x80 | (cp & 0x3F)
            else:
                out[o] = 0xF0 | (cp >> 18)
                out[o + 1] = 0x80 | ((cp >> 12) & 0x3F)
                out[o + 2] = 0x80 | ((cp >> 6) & 0x3F)
                o += 3
                out[o] = 0x80 | (cp & 0x3F)
        else:
            return -BAD_JSON
        o += 1
    return o


@_jit
def _room2(a: np.ndarray, need: int) -> np.ndarray:
    """``a`` (fields x records) with room for at least ``need`` records (doubling)."""
    if need <= a.shape[1]:
        return a
    b = np.empty((a.shape[0], max(need, 2 * a.shape[1])), dtype=a.dtype)
    b[:, : a.shape[1]] = a
    return b


@_jit
def _text(buf: np.ndarray, s: int, e: int, esc: int, ebuf: np.ndarray, ne: int) -> tuple[int, int, int, int]:
    """The string body ``buf[s:e]`` copied (unescaped when it has escapes) into ``ebuf`` at ``ne``:
    (the record's offset, length, the new fill of ebuf, OK or a reason). The copy is made while
    the bytes are in cache: assembling a column then reads ``ebuf`` nearly in order instead of
    one cache miss per span across the file. ``ebuf`` is as long as the part: the kept strings
    are disjoint pieces of it, and unescaped text is never longer than its escaped form."""
    if not esc:
        for t in range(e - s):
            ebuf[ne + t] = buf[s + t]
        return -ne - 1, e - s, ne + e - s, OK
    end = _unescape(buf, s, e, ebuf, ne)
    if end < 0:
        return 0, 0, ne, -end
    return -ne - 1, end - ne, end, OK


@_jit
def _wanted(
    buf: np.ndarray, s: int, e: int, esc: int, wk: np.ndarray, wo: np.ndarray, ebuf: np.ndarray, ne: int
) -> int:
    """Which wanted key the attribute key ``buf[s:e]`` is (-1: none, -2: a bad escape)."""
    src = buf
    if esc:  # compare the unescaped key, written past the fill of ebuf (not kept)
        end = _unescape(buf, s, e, ebuf, ne)
        if end < 0:
            return -2
        src, s, e = ebuf, ne, end
    for j in range(len(wo) - 1):
        a, b = wo[j], wo[j + 1]
        if b - a != e - s:
            continue
        same = True
        for t in range(b - a):
            if src[s + t] != wk[a + t]:
                same = False
                break
        if same:
            return j
    return -1


@_jit
def _member(buf: np.ndarray, j: int, n: int) -> int:
    """Past the JSON value at ``buf[j]`` (scalars without the container walk); -reason when bad."""
    c = buf[j]
    if c == 34:
        return _string(buf, j, n)[0]
    if c == 45 or 48 <= c <= 57:
        return _number(buf, j, n)[0]
    if c == 123 or c == 91:
        return _skip(buf, j, n)
    return _literal(buf, j, n)[0]


@_jit
def _any_value(buf: np.ndarray, i: int, n: int) -> tuple[int, int, int, int, int, int, int]:
    """An ``AnyValue`` at ``buf[i]``: (index after it or -reason, kind, text start, text end,
    escaped, integer, OK or a reason). The member that counts is the one the document reader's
    ``any_value`` takes: ``stringValue``, then ``intValue``, ``doubleValue``, ``boolValue``,
    ``arrayValue``, ``kvlistValue``, ``bytesValue``; a repeated member, its last value."""
    kind, ts, te, tesc, iv = V_NULL, 0, 0, 0, 0
    if buf[i] != 123:  # null or not an object: no value
        end = _member(buf, i, n)
        return end, kind, ts, te, tesc, iv, (OK if end >= 0 else -end)
    i, more = _open(buf, i, n, 123)
    best = 99
    while more:
        s, e, j = _plain_key(buf, i, n)
        if s < 0:
            return s, 0, 0, 0, 0, 0, -s
        rank = 99
        if _is(buf, s, e, K_STRING):
            rank = 0
        elif _is(buf, s, e, K_INT):
            rank = 1
        elif _is(buf, s, e, K_DOUBLE):
            rank = 2
        elif _is(buf, s, e, K_BOOL):
            rank = 3
        elif _is(buf, s, e, K_ARRAY) or _is(buf, s, e, K_KVLIST):
            return -1, 0, 0, 0, 0, 0, COMPLEX_VALUE  # (null too: the document reader makes it [] or {})
        elif _is(buf, s, e, K_BYTES):
            rank = 6
        c = buf[j]
        sesc = 0
        if c == 34:
            end, sesc = _string(buf, j, n)
        else:
            end = _member(buf, j, n)
        if end < 0:
            return end, 0, 0, 0, 0, 0, -end
        if rank <= best and rank < 99:
            best = rank
            kind, tesc = V_NULL, 0
            is_null = c == 110
            why = OK
            if rank == 0 or rank == 6:
                if c == 34:
                    kind, ts, te, tesc = (V_STRING if rank == 0 else V_BYTES), j + 1, end - 1, sesc
                elif not is_null:
                    why = BAD_SHAPE
            elif rank == 1:
                ok = 1
                if c == 34:
                    iv, ok = _int(buf, j + 1, end - 1)
                    ok = ok and not sesc
                elif c == 45 or 48 <= c <= 57:
                    iv, ok = _int(buf, j, end)
                elif not is_null:
                    why = BAD_SHAPE
                if not ok:
                    why = NOT_INTEGER
                elif c != 110:
                    kind = V_INT
            elif rank == 2:
                if c == 34 and not sesc:
                    kind, ts, te = V_DOUBLE, j + 1, end - 1
                elif c == 45 or 48 <= c <= 57:
                    kind, ts, te = V_DOUBLE, j, end
                elif not is_null:
                    why = BAD_SHAPE
            elif rank == 3:
                if c == 116:
                    kind = V_TRUE
                elif c == 102 or is_null:  # bool(None) is False
                    kind = V_FALSE
                else:
                    why = BAD_SHAPE
            if why != OK:
                return -1, 0, 0, 0, 0, 0, why
        i, more = _next(buf, end, n, 125)
        if i < 0:
            return i, 0, 0, 0, 0, 0, -i
    return i, kind, ts, te, tesc, iv, OK


@_jit
def _record(
    buf: np.ndarray,
    vpos: int,
    n: int,
    code: int,
    owner: int,
    on_resource: int,
    at: np.ndarray,
    nat: int,
    ebuf: np.ndarray,
    ne: int,
) -> tuple[int, int, int]:
    """The value at ``vpos`` (-1: none) of wanted key ``code`` as attribute record ``nat``:
    (index after the value or -reason, nat, ne); -NEED_ROOM when ``at`` is full."""
    if nat >= at.shape[1]:
        return -NEED_ROOM, nat, ne
    end, kind, ts, te, tesc, iv = 0, V_NULL, 0, 0, 0, 0
    if vpos >= 0:
        end, kind, ts, te, tesc, iv, why = _any_value(buf, vpos, n)
        if why != OK:
            return -why, nat, ne
    at[AT_OWNER, nat] = owner
    at[AT_ON_RESOURCE, nat] = on_resource
    at[AT_KEY, nat] = code
    at[AT_KIND, nat] = kind
    at[AT_INT, nat] = iv
    at[AT_TEXT, nat] = 0
    at[AT_TEXT + 1, nat] = -1
    if kind == V_STRING or kind == V_BYTES or kind == V_DOUBLE:  # noqa: SIM109 (compiled: no tuple)
        off, ln, ne, why = _text(buf, ts, te, tesc, ebuf, ne)
        if why != OK:
            return -why, nat, ne
        at[AT_TEXT, nat] = off
        at[AT_TEXT + 1, nat] = ln
    return end, nat + 1, ne


@_jit
def _kv(
    buf: np.ndarray,
    i: int,
    n: int,
    wk: np.ndarray,
    wo: np.ndarray,
    owner: int,
    on_resource: int,
    at: np.ndarray,
    nat: int,
    ebuf: np.ndarray,
    ne: int,
) -> tuple[int, int, int]:
    """One ``{key, value}`` object at ``buf[i]``, recorded when its key is wanted:
    (index after it or -reason, nat, ne); -NEED_ROOM when ``at`` is full. The value is read once
    when the key comes first (as exporters write it), else skipped and read once the key is known."""
    i, more = _open(buf, i, n, 123)
    if i < 0:
        return i, nat, ne
    # int64 from the start, not literal -1s: one compiled _record instead of one per literal
    code, vpos, done = _i64(-1), _i64(-1), 0  # done: the value read into a record already
    nat0, ne0 = nat, ne
    while more:
        s, e, j = _plain_key(buf, i, n)
        if s < 0:
            return s, nat, ne
        if _is(buf, s, e, K_KEY):
            nat, ne, done, code = nat0, ne0, 0, -1  # a repeated key: the last one counts
            if buf[j] == 34:
                end, kesc = _string(buf, j, n)
                if end < 0:
                    return end, nat, ne
                code = _wanted(buf, j + 1, end - 1, kesc, wk, wo, ebuf, ne)
                if code == -2:
                    return -BAD_JSON, nat, ne
            else:
                end = _member(buf, j, n)
        elif _is(buf, s, e, K_VALUE):
            vpos = j
            if code >= 0:
                nat, ne = nat0, ne0
                end, nat, ne = _record(buf, j, n, code, owner, on_resource, at, nat, ebuf, ne)
                done = 1
            else:
                end = _member(buf, j, n)
        else:
            end = _member(buf, j, n)
        if end < 0:
            return end, nat, ne
        i, more = _next(buf, end, n, 125)
        if i < 0:
            return i, nat, ne
    if code >= 0 and not done:
        end, nat, ne = _record(buf, vpos, n, code, owner, on_resource, at, nat, ebuf, ne)
        if end < 0:
            return end, nat, ne
    return i, nat, ne


@_jit
def _span(
    buf: np.ndarray,
    i: int,
    n: int,
    wk: np.ndarray,
    wo: np.ndarray,
    rs: int,
    sp: np.ndarray,
    row: int,
    at: np.ndarray,
    nat: int,
    ebuf: np.ndarray,
    ne: int,
) -> tuple[int, int, int]:
    """One span object at ``buf[i]`` into row ``row`` of ``sp`` (its wanted attributes into ``at``):
    (index after it or -reason, nat, ne); -NEED_ROOM when ``at`` is full."""
    for c in range(0, 12, 2):
        sp[c, row] = 0
        sp[c + 1, row] = -1
    sp[SP_START, row] = 0
    sp[SP_START_SET, row] = 0
    sp[SP_END, row] = 0
    sp[SP_END_SET, row] = 0
    sp[SP_KIND, row] = -1
    sp[SP_ERROR, row] = 0
    sp[SP_RS, row] = rs
    i, more = _open(buf, i, n, 123)
    if i < 0:
        return i, nat, ne
    attributes_seen = 0  # written twice: see scan_part
    while more:
        s, e, j = _plain_key(buf, i, n)
        if s < 0:
            return s, nat, ne
        c = buf[j]
        col = -1
        if _is(buf, s, e, K_TRACE_ID):
            col = SP_TRACE
        elif _is(buf, s, e, K_SPAN_ID):
            col = SP_SPAN
        elif _is(buf, s, e, K_PARENT):
            col = SP_PARENT
        elif _is(buf, s, e, K_NAME):
            col = SP_NAME
        elif _is(buf, s, e, K_TRACE_STATE):
            col = SP_STATE
        if col >= 0:  # a string field
            if c == 34:
                end, sesc = _string(buf, j, n)
                if end < 0:
                    return end, nat, ne
                off, ln, ne, why = _text(buf, j + 1, end - 1, sesc, ebuf, ne)
                if why != OK:
                    return -why, nat, ne
                sp[col, row] = off
                sp[col + 1, row] = ln
            elif c == 110:
                end = _literal(buf, j, n)[0]
                sp[col + 1, row] = -1
            else:
                return -BAD_SHAPE, nat, ne
        elif _is(buf, s, e, K_START) or _is(buf, s, e, K_END):
            base = SP_START if e - s == len(K_START) else SP_END
            ok, v = -1, 0  # -1: not a time, absent (as the document reader's to_int says)
            if c == 34:
                end, sesc = _string(buf, j, n)
                if end >= 0:
                    v, ok = _int(buf, j + 1, end - 1)
                    ok = ok and not sesc
            elif c == 45 or 48 <= c <= 57:
                end = _number(buf, j, n)[0]
                if end >= 0:
                    v, ok = _int(buf, j, end)
            else:
                end = _member(buf, j, n)
            if end < 0:
                return end, nat, ne
            if ok == 0:
                return -NOT_INTEGER, nat, ne
            sp[base, row] = v
            sp[base + 1, row] = 1 if ok == 1 else 0
        elif _is(buf, s, e, K_KIND):
            end = _member(buf, j, n)
            if end < 0:
                return end, nat, ne
            sp[SP_KIND, row] = -1
            if c == 34:
                sesc = _string(buf, j, n)[1]
                off, ln, ne, why = _text(buf, j + 1, end - 1, sesc, ebuf, ne)
                if why != OK:
                    return -why, nat, ne
                sp[SP_KIND, row] = -2
                sp[SP_KIND_TEXT, row] = off
                sp[SP_KIND_TEXT + 1, row] = ln
            elif c == 45 or 48 <= c <= 57:
                v, ok = _int(buf, j, end)
                if ok and v >= 0:
                    sp[SP_KIND, row] = v
            elif c == 116:
                sp[SP_KIND, row] = 1  # True == 1 in Python: the document reader's KINDS.get(True)
            elif c == 102:
                sp[SP_KIND, row] = 0
        elif _is(buf, s, e, K_STATUS):
            end = _skip(buf, j, n)
            if end < 0:
                return end, nat, ne
            sp[SP_ERROR, row] = 0
            if c == 123:
                q, smore = _open(buf, j, n, 123)
                while smore:
                    s2, e2, esc2, j2 = _key(buf, q, n)
                    if esc2:
                        return -ESCAPED_KEY, nat, ne
                    q = _skip(buf, j2, n)
                    if _is(buf, s2, e2, K_CODE):
                        c2 = buf[j2]
                        err = 0
                        if c2 == 34:
                            if _string(buf, j2, n)[1]:
                                return -BAD_SHAPE, nat, ne
                            if _is(buf, j2 + 1, q - 1, K_TWO) or _is(buf, j2 + 1, q - 1, K_ERROR_NAME):
                                err = 1
                        elif c2 == 45 or 48 <= c2 <= 57:
                            v, ok = _int(buf, j2, q)
                            if not ok:
                                return -NOT_INTEGER, nat, ne
                            err = 1 if v == 2 else 0
                        sp[SP_ERROR, row] = err
                    q, smore = _next(buf, q, n, 125)
        elif _is(buf, s, e, K_ATTRIBUTES):
            attributes_seen += 1
            if attributes_seen > 1:
                return -BAD_SHAPE, nat, ne
            if c == 110:
                end = _literal(buf, j, n)[0]
            else:
                q, amore = _open(buf, j, n, 91)
                if q < 0:
                    return q, nat, ne
                while amore:
                    if buf[q] != 123:
                        return -BAD_SHAPE, nat, ne
                    q, nat, ne = _kv(buf, q, n, wk, wo, row, _i64(0), at, nat, ebuf, ne)
                    if q < 0:
                        return q, nat, ne
                    q, amore = _next(buf, q, n, 93)
                    if q < 0:
                        return q, nat, ne
                end = q
        else:
            end = _skip(buf, j, n)
        if end < 0:
            return end, nat, ne
        i, more = _next(buf, end, n, 125)
        if i < 0:
            return i, nat, ne
    return i, nat, ne


@_jit
def scan_part(
    data: np.ndarray, begin: int, n: int, wkeys: np.ndarray, woffsets: np.ndarray
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, int]:
    """Every export in ``data[begin:n]`` (whole top-level objects, whitespace between them).

    ``wkeys``/``woffsets``: the wanted attribute keys, concatenated, and their offsets. Returns
    (OK or a reason, ``n`` or the first byte of the export it gave up in, span records, attribute
    records, the text buffer, number of resourceSpans entries); records name spans and resources by
    their index in this part.
    """
    # room for the records of a typical export (pages are touched only where written); more when needed
    sp_own = np.empty((SP_WIDTH, (n - begin) // 128 + 4096), dtype=np.int64)  # one row per field
    at_own = np.empty((AT_WIDTH, (n - begin) // 32 + 4096), dtype=np.int64)
    ebuf_own = np.empty(n - begin + 8, dtype=np.uint8)  # pages are touched only where written
    buf, ebuf, wk, wo = _bytes(data), _bytes(ebuf_own), _borrow(wkeys), _borrow(woffsets)
    sp, at = _borrow(sp_own), _borrow(at_own)
    zero = _i64(0)  # counters typed int64 from the start: literal 0s would compile callees twice
    nsp, nat, ne, nrs = zero, zero, zero, zero
    i = begin
    if begin == 0 and n >= 3 and buf[0] == 0xEF and buf[1] == 0xBB and buf[2] == 0xBF:
        i = 3  # a byte-order mark
    while True:
        i = _ws(buf, i, n)
        if i >= n:
            break
        export = i
        i, more = _open(buf, i, n, 123)
        # *_seen: how many times a member was met in the object at hand; written twice, JSON readers
        # keep its last value only (the document reader too): the scan declines
        lists_seen = 0  # resourceSpans members of this export
        while i >= 0 and more:
            s, e, j = _plain_key(buf, i, n)
            if s < 0:
                i = s
                break
            if _is(buf, s, e, K_RESULT):
                i = -BAD_SHAPE  # Jaeger's wrapper: the document reader's
                break
            if not _is(buf, s, e, K_RESOURCE_SPANS):
                i = _skip(buf, j, n)
                if i >= 0:
                    i, more = _next(buf, i, n, 125)
                continue
            lists_seen += 1
            if lists_seen > 1:
                i = -BAD_SHAPE
                break
            i, rmore = _open(buf, j, n, 91)
            while i >= 0 and rmore:  # resourceSpans entries
                rs = nrs
                nrs += 1
                i, mmore = _open(buf, i, n, 123)
                scopes_seen, resources_seen = 0, 0
                while i >= 0 and mmore:
                    s, e, j = _plain_key(buf, i, n)
                    if s < 0:
                        i = s
                        break
                    c = buf[j]
                    resource = _is(buf, s, e, K_RESOURCE)
                    resources_seen += resource
                    if resources_seen > 1:
                        i = -BAD_SHAPE  # written twice (see above)
                        break
                    if resource and c == 123:
                        i, omore = _open(buf, j, n, 123)
                        attributes_seen = 0
                        while i >= 0 and omore:
                            s, e, j = _plain_key(buf, i, n)
                            if s < 0:
                                i = s
                                break
                            attributes = _is(buf, s, e, K_ATTRIBUTES)
                            attributes_seen += attributes
                            if attributes_seen > 1:
                                i = -BAD_SHAPE  # written twice (see above)
                                break
                            if attributes and buf[j] == 91:
                                i, amore = _open(buf, j, n, 91)
                                while i >= 0 and amore:
                                    if buf[i] == 123:
                                        q, nat2, ne2 = _kv(buf, i, n, wk, wo, rs, _i64(1), at, nat, ebuf, ne)
                                        while q == -NEED_ROOM:
                                            at_own = _room2(at_own, 2 * at_own.shape[1])
                                            at = _borrow(at_own)
                                            q, nat2, ne2 = _kv(buf, i, n, wk, wo, rs, _i64(1), at, nat, ebuf, ne)
                                        i, nat, ne = q, nat2, ne2
                                    else:  # the document reader skips what is not an object here
                                        i = _skip(buf, i, n)
                                    if i >= 0:
                                        i, amore = _next(buf, i, n, 93)
                            else:
                                i = _skip(buf, j, n)
                            if i >= 0:
                                i, omore = _next(buf, i, n, 125)
                    elif _is(buf, s, e, K_SCOPE_SPANS) or _is(buf, s, e, K_ILS):
                        scopes_seen += 1
                        if scopes_seen > 1:
                            i = -BAD_SHAPE  # both: the document reader picks by content
                            break
                        if c == 110:
                            i = _literal(buf, j, n)[0]
                        else:
                            i, cmore = _open(buf, j, n, 91)
                            while i >= 0 and cmore:  # scopes
                                if buf[i] == 110:
                                    i = _literal(buf, i, n)[0]
                                else:
                                    i, pmore = _open(buf, i, n, 123)
                                    spans_seen = 0
                                    while i >= 0 and pmore:
                                        s, e, j = _plain_key(buf, i, n)
                                        if s < 0:
                                            i = s
                                            break
                                        spans = _is(buf, s, e, K_SPANS)
                                        spans_seen += spans
                                        if spans_seen > 1:
                                            i = -BAD_SHAPE  # written twice (see above)
                                            break
                                        if spans and buf[j] != 110:
                                            i, smore = _open(buf, j, n, 91)
                                            while i >= 0 and smore:
                                                if nsp >= sp.shape[1]:
                                                    sp_own = _room2(sp_own, nsp + 1)
                                                    sp = _borrow(sp_own)
                                                q, nat2, ne2 = _span(buf, i, n, wk, wo, rs, sp, nsp, at, nat, ebuf, ne)
                                                while q == -NEED_ROOM:  # grow, then read the span again
                                                    at_own = _room2(at_own, 2 * at_own.shape[1])
                                                    at = _borrow(at_own)
                                                    q, nat2, ne2 = _span(
                                                        buf, i, n, wk, wo, rs, sp, nsp, at, nat, ebuf, ne
                                                    )
                                                i, nat, ne = q, nat2, ne2
                                                nsp += 1
                                                if i >= 0:
                                                    i, smore = _next(buf, i, n, 93)
                                        else:
                                            i = _skip(buf, j, n)
                                        if i >= 0:
                                            i, pmore = _next(buf, i, n, 125)
                                if i >= 0:
                                    i, cmore = _next(buf, i, n, 93)
                    else:
                        i = _skip(buf, j, n)
                    if i >= 0:
                        i, mmore = _next(buf, i, n, 125)
                if i >= 0:
                    i, rmore = _next(buf, i, n, 93)
            if i >= 0:
                i, more = _next(buf, i, n, 125)
        if i < 0:
            return -i, export, sp_own[:, :nsp], at_own[:, :nat], ebuf_own[:ne], nrs
    return OK, n, sp_own[:, :nsp], at_own[:, :nat], ebuf_own[:ne], nrs


@_jit
def gather(
    buf: np.ndarray, ebuf: np.ndarray, off: np.ndarray, ln: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strings given as (offset, length) records as arrow's buffers: (int64 offsets, bytes, valid)."""
    m = len(off)
    offsets = np.empty(m + 1, dtype=np.int64)
    valid = np.empty(m, dtype=np.bool_)
    total = 0
    offsets[0] = 0
    for r in range(m):
        k = ln[r]
        valid[r] = k >= 0
        if k > 0:
            total += k
        offsets[r + 1] = total
    data = np.empty(total, dtype=np.uint8)
    for r in range(m):
        k = ln[r]
        if k <= 0:
            continue
        o = offsets[r]
        s = off[r]
        if s >= 0:
            for t in range(k):
                data[o + t] = buf[s + t]
        else:
            s = -s - 1
            for t in range(k):
                data[o + t] = ebuf[s + t]
    return offsets, data, valid
