"""The scan of one part of a file: every export in it, down to its spans, into records; and the
gather of the kept strings into arrow's buffers.

These two are the scanner's entry points (the ones :mod:`recipemut.logs.otlpfast` calls and numba
caches); everything they call is compiled into them.
"""

from __future__ import annotations

import numpy as np

from recipemut.logs.otlpscan.layout import AT_WIDTH, BAD_SHAPE, NEED_ROOM, OK, SP_WIDTH
from recipemut.logs.otlpscan.lex import (
    is_word,
    literal_end,
    next_item,
    open_container,
    plain_member_key,
    skip_space,
    skip_value,
)
from recipemut.logs.otlpscan.memory import borrow, byte_pointer, entry, grow, i64
from recipemut.logs.otlpscan.records import key_value, span_record
from recipemut.logs.otlpscan.syntax import (
    BOM,
    K_ATTRIBUTES,
    K_ILS,
    K_RESOURCE,
    K_RESOURCE_SPANS,
    K_RESULT,
    K_SCOPE_SPANS,
    K_SPANS,
    LBRACE,
    LBRACKET,
    NULL_START,
    RBRACE,
    RBRACKET,
)

#: the modules compiled into the entry points, and the first 16 hex digits of the sha256 of their
#: sources in this order (line ends as ``\n``). numba keys its cache of an entry point on the content
#: of this file alone: an edit to one of these modules changes the digest here, hence this file,
#: and the entry points compile again instead of running the cached code of the old module
#: (``tests/test_otlpscan.py`` checks the digest and says the new one)
COMPILED_IN = ("syntax", "layout", "memory", "strings", "lex", "records")
SOURCES_DIGEST = "7db6381cac8cbeaa"


@entry
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
    buf, ebuf, wk, wo = byte_pointer(data), byte_pointer(ebuf_own), borrow(wkeys), borrow(woffsets)
    sp, at = borrow(sp_own), borrow(at_own)
    zero = i64(0)  # counters typed int64 from the start: literal 0s would compile callees twice
    nsp, nat, ne, nrs = zero, zero, zero, zero
    i = begin
    if begin == 0 and n >= len(BOM) and buf[0] == BOM[0] and buf[1] == BOM[1] and buf[2] == BOM[2]:
        i = len(BOM)  # a byte-order mark
    while True:
        i = skip_space(buf, i, n)
        if i >= n:
            break
        export = i
        i, more = open_container(buf, i, n, LBRACE)
        # *_seen: how many times a member was met in the object at hand; written twice, JSON readers
        # keep its last value only (the document reader too): the scan declines
        lists_seen = 0  # resourceSpans members of this export
        while i >= 0 and more:
            s, e, j = plain_member_key(buf, i, n)
            if s < 0:
                i = s
                break
            if is_word(buf, s, e, K_RESULT):
                i = -BAD_SHAPE  # Jaeger's wrapper: the document reader's
                break
            if not is_word(buf, s, e, K_RESOURCE_SPANS):
                i = skip_value(buf, j, n)
                if i >= 0:
                    i, more = next_item(buf, i, n, RBRACE)
                continue
            lists_seen += 1
            if lists_seen > 1:
                i = -BAD_SHAPE
                break
            i, rmore = open_container(buf, j, n, LBRACKET)
            while i >= 0 and rmore:  # resourceSpans entries
                rs = nrs
                nrs += 1
                i, mmore = open_container(buf, i, n, LBRACE)
                scopes_seen, resources_seen = 0, 0
                while i >= 0 and mmore:
                    s, e, j = plain_member_key(buf, i, n)
                    if s < 0:
                        i = s
                        break
                    c = buf[j]
                    resource = is_word(buf, s, e, K_RESOURCE)
                    resources_seen += resource
                    if resources_seen > 1:
                        i = -BAD_SHAPE  # written twice (see above)
                        break
                    if resource and c == LBRACE:
                        i, omore = open_container(buf, j, n, LBRACE)
                        attributes_seen = 0
                        while i >= 0 and omore:
                            s, e, j = plain_member_key(buf, i, n)
                            if s < 0:
                                i = s
                                break
                            attributes = is_word(buf, s, e, K_ATTRIBUTES)
                            attributes_seen += attributes
                            if attributes_seen > 1:
                                i = -BAD_SHAPE  # written twice (see above)
                                break
                            if attributes and buf[j] == LBRACKET:
                                i, amore = open_container(buf, j, n, LBRACKET)
                                while i >= 0 and amore:
                                    if buf[i] == LBRACE:
                                        q, nat2, ne2 = key_value(buf, i, n, wk, wo, rs, i64(1), at, nat, ebuf, ne)
                                        while q == -NEED_ROOM:
                                            at_own = grow(at_own, 2 * at_own.shape[1])
                                            at = borrow(at_own)
                                            q, nat2, ne2 = key_value(buf, i, n, wk, wo, rs, i64(1), at, nat, ebuf, ne)
                                        i, nat, ne = q, nat2, ne2
                                    else:  # the document reader skips what is not an object here
                                        i = skip_value(buf, i, n)
                                    if i >= 0:
                                        i, amore = next_item(buf, i, n, RBRACKET)
                            else:
                                i = skip_value(buf, j, n)
                            if i >= 0:
                                i, omore = next_item(buf, i, n, RBRACE)
                    elif is_word(buf, s, e, K_SCOPE_SPANS) or is_word(buf, s, e, K_ILS):
                        scopes_seen += 1
                        if scopes_seen > 1:
                            i = -BAD_SHAPE  # both: the document reader picks by content
                            break
                        if c == NULL_START:
                            i = literal_end(buf, j, n)[0]
                        else:
                            i, cmore = open_container(buf, j, n, LBRACKET)
                            while i >= 0 and cmore:  # scopes
                                if buf[i] == NULL_START:
                                    i = literal_end(buf, i, n)[0]
                                else:
                                    i, pmore = open_container(buf, i, n, LBRACE)
                                    spans_seen = 0
                                    while i >= 0 and pmore:
                                        s, e, j = plain_member_key(buf, i, n)
                                        if s < 0:
                                            i = s
                                            break
                                        spans = is_word(buf, s, e, K_SPANS)
                                        spans_seen += spans
                                        if spans_seen > 1:
                                            i = -BAD_SHAPE  # written twice (see above)
                                            break
                                        if spans and buf[j] != NULL_START:
                                            i, smore = open_container(buf, j, n, LBRACKET)
                                            while i >= 0 and smore:
                                                if nsp >= sp.shape[1]:
                                                    sp_own = grow(sp_own, nsp + 1)
                                                    sp = borrow(sp_own)
                                                q, nat2, ne2 = span_record(
                                                    buf, i, n, wk, wo, rs, sp, nsp, at, nat, ebuf, ne
                                                )
                                                while q == -NEED_ROOM:  # grow, then read the span again
                                                    at_own = grow(at_own, 2 * at_own.shape[1])
                                                    at = borrow(at_own)
                                                    q, nat2, ne2 = span_record(
                                                        buf, i, n, wk, wo, rs, sp, nsp, at, nat, ebuf, ne
                                                    )
                                                i, nat, ne = q, nat2, ne2
                                                nsp += 1
                                                if i >= 0:
                                                    i, smore = next_item(buf, i, n, RBRACKET)
                                        else:
                                            i = skip_value(buf, j, n)
                                        if i >= 0:
                                            i, pmore = next_item(buf, i, n, RBRACE)
                                if i >= 0:
                                    i, cmore = next_item(buf, i, n, RBRACKET)
                    else:
                        i = skip_value(buf, j, n)
                    if i >= 0:
                        i, mmore = next_item(buf, i, n, RBRACE)
                if i >= 0:
                    i, rmore = next_item(buf, i, n, RBRACKET)
            if i >= 0:
                i, more = next_item(buf, i, n, RBRACE)
        if i < 0:
            return -i, export, sp_own[:, :nsp], at_own[:, :nat], ebuf_own[:ne], nrs
    return OK, n, sp_own[:, :nsp], at_own[:, :nat], ebuf_own[:ne], nrs


@entry
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
