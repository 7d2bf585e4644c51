"""String bodies the scanner keeps: unescaped, copied into the text buffer, matched to wanted keys."""

from __future__ import annotations

import numpy as np

from recipemut.logs.otlpscan.layout import BAD_JSON, OK
from recipemut.logs.otlpscan.memory import jit
from recipemut.logs.otlpscan.syntax import (
    BACKSLASH,
    BACKSPACE,
    CR,
    DIGIT_0,
    DIGIT_9,
    ESCAPE_B,
    ESCAPE_F,
    ESCAPE_N,
    ESCAPE_R,
    ESCAPE_T,
    ESCAPE_U,
    FORM_FEED,
    HEX_A_LOWER,
    HEX_A_UPPER,
    HEX_F_LOWER,
    HEX_F_UPPER,
    LF,
    QUOTE,
    SLASH,
    TAB,
)


@jit
def hex4(buf: np.ndarray, i: int) -> int:
    """The four hex digits at ``buf[i:i + 4]`` as a number, or -1 when one is not a hex digit."""
    v = 0
    for j in range(i, i + 4):
        c = buf[j]
        if DIGIT_0 <= c <= DIGIT_9:
            d = c - DIGIT_0
        elif HEX_A_LOWER <= c <= HEX_F_LOWER:
            d = c - HEX_A_LOWER + 10
        elif HEX_A_UPPER <= c <= HEX_F_UPPER:
            d = c - HEX_A_UPPER + 10
        else:
            return -1
        v = v * 16 + d
    return v


@jit
def unescape(buf: np.ndarray, s: int, e: int, out: np.ndarray, o: int) -> int:
    """The JSON string body ``buf[s:e]`` unescaped into ``out`` from ``o`` (room for ``e - s`` bytes):
    the end in ``out``, or -BAD_JSON (a bad escape, or a lone surrogate that is not text)."""
    i = s
    while i < e:
        c = buf[i]
        if c != BACKSLASH:
            out[o] = c
            o += 1
            i += 1
            continue
        c = buf[i + 1]
        i += 2
        if c == ESCAPE_N:
            out[o] = LF
        elif c == ESCAPE_T:
            out[o] = TAB
        elif c == ESCAPE_R:
            out[o] = CR
        elif c == ESCAPE_B:
            out[o] = BACKSPACE
        elif c == ESCAPE_F:
            out[o] = FORM_FEED
        elif c == QUOTE or c == BACKSLASH or c == SLASH:  # noqa: SIM109 (compiled: no tuple)
            out[o] = c
        elif c == ESCAPE_U:
            if i + 4 > e:
                return -BAD_JSON
            cp = hex4(buf, i)
            if cp < 0:
                return -BAD_JSON
            i += 4
            if 0xD800 <= cp <= 0xDBFF:  # a high surrogate: its low half must follow
                if i + 6 > e or buf[i] != BACKSLASH or buf[i + 1] != ESCAPE_U:
                    return -BAD_JSON
                lo = hex4(buf, i + 2)
                if not 0xDC00 <= lo <= 0xDFFF:
                    return -BAD_JSON
                i += 6
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            elif 0xDC00 <= cp <= 0xDFFF:
                return -BAD_JSON
            # the code point as UTF-8: a lead byte, then six bits a continuation byte
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


@jit
def keep_text(buf: np.ndarray, s: int, e: int, esc: int, ebuf: np.ndarray, ne: int) -> tuple[int, int, int, int]:
    """The string body ``buf[s:e]`` copied (unescaped when it has escapes) into ``ebuf`` at ``ne``:
    (the record's offset, length, the new fill of ebuf, OK or a reason). The copy is made while
    the bytes are in cache: assembling a column then reads ``ebuf`` nearly in order instead of
    one cache miss per span across the file. ``ebuf`` is as long as the part: the kept strings
    are disjoint pieces of it, and unescaped text is never longer than its escaped form."""
    if not esc:
        for t in range(e - s):
            ebuf[ne + t] = buf[s + t]
        return -ne - 1, e - s, ne + e - s, OK
    end = unescape(buf, s, e, ebuf, ne)
    if end < 0:
        return 0, 0, ne, -end
    return -ne - 1, end - ne, end, OK


@jit
def wanted_key(
    buf: np.ndarray, s: int, e: int, esc: int, wk: np.ndarray, wo: np.ndarray, ebuf: np.ndarray, ne: int
) -> int:
    """Which wanted key the attribute key ``buf[s:e]`` is (-1: none, -2: a bad escape)."""
    src = buf
    if esc:  # compare the unescaped key, written past the fill of ebuf (not kept)
        end = unescape(buf, s, e, ebuf, ne)
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
