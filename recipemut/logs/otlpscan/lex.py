"""JSON tokens for the compiled scanner: whitespace, strings, numbers, literals, keys, whole values.

Every function takes the bytes (``buf``, a bare pointer: :func:`.memory.byte_pointer`), an index
and the end ``n`` of the part, and returns the index after what it read, or a reason from
:mod:`.layout` negated when the bytes are not what it reads.
"""

from __future__ import annotations

import numpy as np

from recipemut.logs.otlpscan.layout import BAD_JSON, BAD_SHAPE, BAD_UTF8, ESCAPED_KEY, TOO_DEEP
from recipemut.logs.otlpscan.memory import jit, load8, trailing_zeros
from recipemut.logs.otlpscan.strings import hex4
from recipemut.logs.otlpscan.syntax import (
    ASCII_END,
    BACKSLASH,
    COLON,
    COMMA,
    CONTROL_END,
    CR,
    DIGIT_0,
    DIGIT_1,
    DIGIT_9,
    DOT,
    ESCAPE_B,
    ESCAPE_F,
    ESCAPE_N,
    ESCAPE_R,
    ESCAPE_T,
    ESCAPE_U,
    EXP_LOWER,
    EXP_UPPER,
    FALSE,
    LBRACE,
    LBRACKET,
    LF,
    MAX_DEPTH,
    MINUS,
    NULL,
    PLUS,
    QUOTE,
    RBRACE,
    RBRACKET,
    SLASH,
    SPACE,
    TAB,
    TRUE,
)


@jit
def skip_space(buf: np.ndarray, i: int, n: int) -> int:
    """The index of the first byte from ``i`` that is not JSON whitespace (``n`` when none)."""
    while i < n:
        c = buf[i]
        if c != SPACE and c != LF and c != CR and c != TAB:
            return i
        i += 1
    return i


#: eight-byte words for finding the first byte of a string that is not plain ASCII text (a quote, a
#: backslash, a control character or a UTF-8 byte): the "has a zero byte" bit trick
_ONES = np.uint64(0x0101010101010101)  # 0x01 in every byte: times a byte, that byte in every byte
_HIGHS = _ONES * np.uint64(ASCII_END)
_QUOTES, _SLASHES = _ONES * np.uint64(QUOTE), _ONES * np.uint64(BACKSLASH)
_CONTROLS = _ONES * np.uint64(CONTROL_END)


@jit
def plain_end(buf: np.ndarray, i: int, n: int) -> int:
    """The index of the first byte from ``i`` that is a quote, a backslash, below 0x20 or above 0x7F
    (``n`` when none): eight bytes at a time where they fit."""
    while i + 8 <= n:
        w = load8(buf, i)
        q = w ^ _QUOTES
        b = w ^ _SLASHES
        special = ((q - _ONES) & ~q) | ((b - _ONES) & ~b) | ((w - _CONTROLS) & ~w) | w
        special &= _HIGHS
        if special != np.uint64(0):
            return i + int(np.int64(trailing_zeros(special) >> np.uint64(3)))
        i += 8
    while i < n:
        c = buf[i]
        if c == QUOTE or c == BACKSLASH or c < CONTROL_END or c >= ASCII_END:  # noqa: SIM109 (compiled: no tuple)
            return i
        i += 1
    return n


@jit
def string_end(buf: np.ndarray, i: int, n: int) -> tuple[int, int]:
    """``buf[i]`` is an opening quote: (index after the closing quote, 1 if escapes inside), or
    (-BAD_JSON / -BAD_UTF8, 0). UTF-8 is validated here, where it can appear."""
    i += 1
    esc = 0
    while i < n:
        i = plain_end(buf, i, n)
        if i >= n:
            break
        c = buf[i]
        if c == QUOTE:
            return i + 1, esc
        if c == BACKSLASH:
            esc = 1
            if i + 1 >= n:
                return -BAD_JSON, 0
            c = buf[i + 1]
            if c == ESCAPE_U:  # \uXXXX
                if i + 6 > n or hex4(buf, i + 2) < 0:
                    return -BAD_JSON, 0
                i += 6
                continue
            if (
                c != QUOTE
                and c != BACKSLASH
                and c != SLASH
                and c != ESCAPE_B
                and c != ESCAPE_F
                and c != ESCAPE_N
                and c != ESCAPE_R
                and c != ESCAPE_T
            ):
                return -BAD_JSON, 0
            i += 2
            continue
        if c < CONTROL_END:
            return -BAD_JSON, 0
        if c < ASCII_END:
            i += 1
            continue
        # a multi-byte UTF-8 sequence (lead byte ranges and second-byte bounds as in Unicode's
        # table of well-formed sequences): no overlongs, no surrogates, nothing past U+10FFFF
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


@jit
def number_end(buf: np.ndarray, i: int, n: int) -> tuple[int, int]:
    """A JSON number at ``buf[i]``: (index after it, 1 if an integer literal), or (-BAD_JSON, 0)."""
    if i < n and buf[i] == MINUS:
        i += 1
    if i >= n:
        return -BAD_JSON, 0
    if buf[i] == DIGIT_0:
        i += 1
    elif DIGIT_1 <= buf[i] <= DIGIT_9:
        while i < n and DIGIT_0 <= buf[i] <= DIGIT_9:
            i += 1
    else:
        return -BAD_JSON, 0
    integer = 1
    if i < n and buf[i] == DOT:
        integer = 0
        i += 1
        s = i
        while i < n and DIGIT_0 <= buf[i] <= DIGIT_9:
            i += 1
        if i == s:
            return -BAD_JSON, 0
    if i < n and (buf[i] == EXP_LOWER or buf[i] == EXP_UPPER):
        integer = 0
        i += 1
        if i < n and (buf[i] == PLUS or buf[i] == MINUS):
            i += 1
        s = i
        while i < n and DIGIT_0 <= buf[i] <= DIGIT_9:
            i += 1
        if i == s:
            return -BAD_JSON, 0
    return i, integer


@jit
def literal_end(buf: np.ndarray, i: int, n: int) -> tuple[int, int]:
    """``true`` / ``false`` / ``null`` at ``buf[i]``: (index after it, 1 / 0 / -1), or (-BAD_JSON, 0)."""
    if i + 4 <= n and buf[i] == TRUE[0] and buf[i + 1] == TRUE[1] and buf[i + 2] == TRUE[2] and buf[i + 3] == TRUE[3]:
        return i + 4, 1
    if i + 4 <= n and buf[i] == NULL[0] and buf[i + 1] == NULL[1] and buf[i + 2] == NULL[2] and buf[i + 3] == NULL[3]:
        return i + 4, -1
    if (
        i + 5 <= n
        and buf[i] == FALSE[0]
        and buf[i + 1] == FALSE[1]
        and buf[i + 2] == FALSE[2]
        and buf[i + 3] == FALSE[3]
        and buf[i + 4] == FALSE[4]
    ):
        return i + 5, 0
    return -BAD_JSON, 0


@jit
def skip_value(buf: np.ndarray, i: int, n: int) -> int:
    """Past one JSON value at ``buf[i]``, checking it is well-formed; -reason when not."""
    c = buf[i]
    if c == QUOTE:
        return string_end(buf, i, n)[0]
    if c == MINUS or DIGIT_0 <= c <= DIGIT_9:
        return number_end(buf, i, n)[0]
    if c != LBRACE and c != LBRACKET:
        return literal_end(buf, i, n)[0]
    objects = np.uint64(0)  # bit d set: the container at depth d is an object (else an array)
    depth = 0
    while True:
        # here buf[i] opens a container (c) or holds a scalar
        c = buf[i]
        if c == LBRACE or c == LBRACKET:  # noqa: SIM109 (compiled: no tuple)
            if depth == MAX_DEPTH:
                return -TOO_DEEP
            if c == LBRACE:
                objects |= np.uint64(1) << np.uint64(depth)
            else:
                objects &= ~(np.uint64(1) << np.uint64(depth))
            depth += 1
            i = skip_space(buf, i + 1, n)
            if i >= n:
                return -BAD_JSON
            if buf[i] == (RBRACE if c == LBRACE else RBRACKET):  # empty
                i += 1
                depth -= 1
            elif c == LBRACE:
                ks, _e, _esc, i = member_key(buf, i, n)
                if ks < 0:
                    return ks
                continue  # the member's value
            else:
                continue  # the first element
        else:
            if c == QUOTE:
                i = string_end(buf, i, n)[0]
            elif c == MINUS or DIGIT_0 <= c <= DIGIT_9:
                i = number_end(buf, i, n)[0]
            else:
                i = literal_end(buf, i, n)[0]
            if i < 0:
                return i
        # after a value: close containers or go on to the next member / element
        while True:
            if depth == 0:
                return i
            i = skip_space(buf, i, n)
            if i >= n:
                return -BAD_JSON
            c = buf[i]
            obj = (objects >> np.uint64(depth - 1)) & np.uint64(1) == np.uint64(1)
            if c == COMMA:
                i = skip_space(buf, i + 1, n)
                if i >= n:
                    return -BAD_JSON
                if obj:
                    ks, _e, _esc, i = member_key(buf, i, n)
                    if ks < 0:
                        return ks
                break
            if (obj and c == RBRACE) or (not obj and c == RBRACKET):
                i += 1
                depth -= 1
                continue
            return -BAD_JSON


@jit
def value_end(buf: np.ndarray, j: int, n: int) -> int:
    """Past the JSON value at ``buf[j]`` (scalars without the container walk); -reason when bad."""
    c = buf[j]
    if c == QUOTE:
        return string_end(buf, j, n)[0]
    if c == MINUS or DIGIT_0 <= c <= DIGIT_9:
        return number_end(buf, j, n)[0]
    if c == LBRACE or c == LBRACKET:  # noqa: SIM109 (compiled: no tuple)
        return skip_value(buf, j, n)
    return literal_end(buf, j, n)[0]


@jit
def open_container(buf: np.ndarray, i: int, n: int, opener: int) -> tuple[int, int]:
    """``buf[i]`` must open an object (LBRACE) or array (LBRACKET): (index of the first member /
    element, 1), (index after an empty one, 0), or (-reason, 0)."""
    if i >= n or buf[i] != opener:
        return -BAD_SHAPE, 0
    i = skip_space(buf, i + 1, n)
    if i >= n:
        return -BAD_JSON, 0
    if buf[i] == (RBRACE if opener == LBRACE else RBRACKET):
        return i + 1, 0
    return i, 1


@jit
def next_item(buf: np.ndarray, i: int, n: int, closer: int) -> tuple[int, int]:
    """After a member / element: (index of the next one, 1), (index after the closer, 0), (-reason, 0)."""
    i = skip_space(buf, i, n)
    if i >= n:
        return -BAD_JSON, 0
    if buf[i] == COMMA:
        i = skip_space(buf, i + 1, n)
        return (i, 1) if i < n else (-BAD_JSON, 0)
    if buf[i] == closer:
        return i + 1, 0
    return -BAD_JSON, 0


@jit
def member_key(buf: np.ndarray, i: int, n: int) -> tuple[int, int, int, int]:
    """A member's key at ``buf[i]``: (key start, key end, 1 if escaped, index of its value) or (-reason, ...)."""
    if buf[i] != QUOTE:
        return -BAD_JSON, 0, 0, 0
    end, esc = string_end(buf, i, n)
    if end < 0:
        return end, 0, 0, 0
    j = skip_space(buf, end, n)
    if j >= n or buf[j] != COLON:
        return -BAD_JSON, 0, 0, 0
    j = skip_space(buf, j + 1, n)
    if j >= n:
        return -BAD_JSON, 0, 0, 0
    return i + 1, end - 1, esc, j


@jit
def plain_member_key(buf: np.ndarray, i: int, n: int) -> tuple[int, int, int]:
    """:func:`member_key` for a member whose key must be written without escapes: (key start, key
    end, index of its value), or (-reason, 0, 0)."""
    s, e, esc, j = member_key(buf, i, n)
    if s < 0:
        return s, 0, 0
    if esc:
        return -ESCAPED_KEY, 0, 0
    return s, e, j


@jit
def is_word(buf: np.ndarray, s: int, e: int, word: np.ndarray) -> bool:
    """Whether ``buf[s:e]`` is ``word`` (one of the keys of :mod:`.syntax`)."""
    if e - s != len(word):
        return False
    for j in range(len(word)):  # noqa: SIM110 (numba compiles loops, not generators)
        if buf[s + j] != word[j]:
            return False
    return True


_INT64_MAX = int(np.iinfo(np.int64).max)


@jit
def parse_int(buf: np.ndarray, s: int, e: int) -> tuple[int, int]:
    """Decimal digits (optional minus) in ``buf[s:e]`` as int64: (value, 1), or (0, 0) when not one."""
    neg = s < e and buf[s] == MINUS
    if neg:
        s += 1
    if s >= e or e - s > 19:  # int64 holds up to 19 digits
        return 0, 0
    v = 0
    for j in range(s, e):
        d = int(buf[j]) - DIGIT_0  # signed: a byte below '0' gives a negative d
        if d < 0 or d > 9:
            return 0, 0
        if v > (_INT64_MAX - d) // 10:
            return 0, 0
        v = v * 10 + d
    return (-v if neg else v), 1
