"""Span objects and ``{key, value}`` attributes read into the scanner's records (see :mod:`.layout`).

A span's fields go to one row of the span records; each wanted attribute, of a span or of a
resource, to one attribute record; their text is copied into the text buffer (:func:`.strings.keep_text`).
Each function returns (index after what it read or -reason, the attribute records' fill, the text
buffer's fill); -NEED_ROOM when the attribute records are full (the caller grows them and reads
the object again).
"""

from __future__ import annotations

import numpy as np

from recipemut.logs.otlpscan.layout import (
    AT_INT,
    AT_KEY,
    AT_KIND,
    AT_ON_RESOURCE,
    AT_OWNER,
    AT_TEXT,
    BAD_JSON,
    BAD_SHAPE,
    COMPLEX_VALUE,
    ESCAPED_KEY,
    NEED_ROOM,
    NOT_INTEGER,
    OK,
    SP_END,
    SP_END_SET,
    SP_ERROR,
    SP_KIND,
    SP_KIND_TEXT,
    SP_NAME,
    SP_PARENT,
    SP_RS,
    SP_SPAN,
    SP_START,
    SP_START_SET,
    SP_STATE,
    SP_TRACE,
    V_BYTES,
    V_DOUBLE,
    V_FALSE,
    V_INT,
    V_NULL,
    V_STRING,
    V_TRUE,
)
from recipemut.logs.otlpscan.lex import (
    is_word,
    literal_end,
    member_key,
    next_item,
    number_end,
    open_container,
    parse_int,
    plain_member_key,
    skip_value,
    string_end,
    value_end,
)
from recipemut.logs.otlpscan.memory import i64, jit
from recipemut.logs.otlpscan.strings import keep_text, wanted_key
from recipemut.logs.otlpscan.syntax import (
    DIGIT_0,
    DIGIT_9,
    FALSE_START,
    K_ARRAY,
    K_ATTRIBUTES,
    K_BOOL,
    K_BYTES,
    K_CODE,
    K_DOUBLE,
    K_END,
    K_ERROR_NAME,
    K_INT,
    K_KEY,
    K_KIND,
    K_KVLIST,
    K_NAME,
    K_PARENT,
    K_SPAN_ID,
    K_START,
    K_STATUS,
    K_STRING,
    K_TRACE_ID,
    K_TRACE_STATE,
    K_TWO,
    K_VALUE,
    LBRACE,
    LBRACKET,
    MINUS,
    NULL_START,
    QUOTE,
    RBRACE,
    RBRACKET,
    TRUE_START,
)

#: the OTLP error status code (``status.code``), as a number
STATUS_CODE_ERROR = 2


@jit
def any_value(buf: np.ndarray, i: int, n: int) -> tuple[int, int, int, int, int, int, int]:
    """An ``AnyValue`` at ``buf[i]``: (index after it or -reason, kind, text start, text end,
    escaped, integer, OK or a reason). The member that counts is the one the document reader's
    ``any_value`` takes: ``stringValue``, then ``intValue``, ``doubleValue``, ``boolValue``,
    ``arrayValue``, ``kvlistValue``, ``bytesValue``; a repeated member, its last value."""
    kind, ts, te, tesc, iv = V_NULL, 0, 0, 0, 0
    if buf[i] != LBRACE:  # null or not an object: no value
        end = value_end(buf, i, n)
        return end, kind, ts, te, tesc, iv, (OK if end >= 0 else -end)
    i, more = open_container(buf, i, n, LBRACE)
    best = 99  # the rank (the order above) of the member that counts so far; 99: none
    while more:
        s, e, j = plain_member_key(buf, i, n)
        if s < 0:
            return s, 0, 0, 0, 0, 0, -s
        rank = 99
        if is_word(buf, s, e, K_STRING):
            rank = 0
        elif is_word(buf, s, e, K_INT):
            rank = 1
        elif is_word(buf, s, e, K_DOUBLE):
            rank = 2
        elif is_word(buf, s, e, K_BOOL):
            rank = 3
        elif is_word(buf, s, e, K_ARRAY) or is_word(buf, s, e, K_KVLIST):
            return -1, 0, 0, 0, 0, 0, COMPLEX_VALUE  # (null too: the document reader makes it [] or {})
        elif is_word(buf, s, e, K_BYTES):
            rank = 6
        c = buf[j]
        sesc = 0
        if c == QUOTE:
            end, sesc = string_end(buf, j, n)
        else:
            end = value_end(buf, j, n)
        if end < 0:
            return end, 0, 0, 0, 0, 0, -end
        if rank <= best and rank < 99:
            best = rank
            kind, tesc = V_NULL, 0
            is_null = c == NULL_START
            why = OK
            if rank == 0 or rank == 6:
                if c == QUOTE:
                    kind, ts, te, tesc = (V_STRING if rank == 0 else V_BYTES), j + 1, end - 1, sesc
                elif not is_null:
                    why = BAD_SHAPE
            elif rank == 1:
                ok = 1
                if c == QUOTE:
                    iv, ok = parse_int(buf, j + 1, end - 1)
                    ok = ok and not sesc
                elif c == MINUS or DIGIT_0 <= c <= DIGIT_9:
                    iv, ok = parse_int(buf, j, end)
                elif not is_null:
                    why = BAD_SHAPE
                if not ok:
                    why = NOT_INTEGER
                elif c != NULL_START:
                    kind = V_INT
            elif rank == 2:
                if c == QUOTE and not sesc:
                    kind, ts, te = V_DOUBLE, j + 1, end - 1
                elif c == MINUS or DIGIT_0 <= c <= DIGIT_9:
                    kind, ts, te = V_DOUBLE, j, end
                elif not is_null:
                    why = BAD_SHAPE
            elif rank == 3:
                if c == TRUE_START:
                    kind = V_TRUE
                elif c == FALSE_START or is_null:  # bool(None) is False
                    kind = V_FALSE
                else:
                    why = BAD_SHAPE
            if why != OK:
                return -1, 0, 0, 0, 0, 0, why
        i, more = next_item(buf, end, n, RBRACE)
        if i < 0:
            return i, 0, 0, 0, 0, 0, -i
    return i, kind, ts, te, tesc, iv, OK


@jit
def add_record(
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
        end, kind, ts, te, tesc, iv, why = any_value(buf, vpos, n)
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
        off, ln, ne, why = keep_text(buf, ts, te, tesc, ebuf, ne)
        if why != OK:
            return -why, nat, ne
        at[AT_TEXT, nat] = off
        at[AT_TEXT + 1, nat] = ln
    return end, nat + 1, ne


@jit
def key_value(
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
    i, more = open_container(buf, i, n, LBRACE)
    if i < 0:
        return i, nat, ne
    # int64 from the start, not literal -1s: one compiled add_record instead of one per literal
    code, vpos, done = i64(-1), i64(-1), 0  # done: the value read into a record already
    nat0, ne0 = nat, ne
    while more:
        s, e, j = plain_member_key(buf, i, n)
        if s < 0:
            return s, nat, ne
        if is_word(buf, s, e, K_KEY):
            nat, ne, done, code = nat0, ne0, 0, -1  # a repeated key: the last one counts
            if buf[j] == QUOTE:
                end, kesc = string_end(buf, j, n)
                if end < 0:
                    return end, nat, ne
                code = wanted_key(buf, j + 1, end - 1, kesc, wk, wo, ebuf, ne)
                if code == -2:
                    return -BAD_JSON, nat, ne
            else:
                end = value_end(buf, j, n)
        elif is_word(buf, s, e, K_VALUE):
            vpos = j
            if code >= 0:
                nat, ne = nat0, ne0
                end, nat, ne = add_record(buf, j, n, code, owner, on_resource, at, nat, ebuf, ne)
                done = 1
            else:
                end = value_end(buf, j, n)
        else:
            end = value_end(buf, j, n)
        if end < 0:
            return end, nat, ne
        i, more = next_item(buf, end, n, RBRACE)
        if i < 0:
            return i, nat, ne
    if code >= 0 and not done:
        end, nat, ne = add_record(buf, vpos, n, code, owner, on_resource, at, nat, ebuf, ne)
        if end < 0:
            return end, nat, ne
    return i, nat, ne


@jit
def span_record(
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
    for c in range(SP_TRACE, SP_STATE + 2, 2):  # the (offset, length) pairs: absent
        sp[c, row] = 0
        sp[c + 1, row] = -1
    sp[SP_START, row] = 0
    sp[SP_START_SET, row] = 0
    sp[SP_END, row] = 0
    sp[SP_END_SET, row] = 0
    sp[SP_KIND, row] = -1
    sp[SP_ERROR, row] = 0
    sp[SP_RS, row] = rs
    i, more = open_container(buf, i, n, LBRACE)
    if i < 0:
        return i, nat, ne
    attributes_seen = 0  # written twice: see scan_part
    while more:
        s, e, j = plain_member_key(buf, i, n)
        if s < 0:
            return s, nat, ne
        c = buf[j]
        col = -1
        if is_word(buf, s, e, K_TRACE_ID):
            col = SP_TRACE
        elif is_word(buf, s, e, K_SPAN_ID):
            col = SP_SPAN
        elif is_word(buf, s, e, K_PARENT):
            col = SP_PARENT
        elif is_word(buf, s, e, K_NAME):
            col = SP_NAME
        elif is_word(buf, s, e, K_TRACE_STATE):
            col = SP_STATE
        if col >= 0:  # a string field
            if c == QUOTE:
                end, sesc = string_end(buf, j, n)
                if end < 0:
                    return end, nat, ne
                off, ln, ne, why = keep_text(buf, j + 1, end - 1, sesc, ebuf, ne)
                if why != OK:
                    return -why, nat, ne
                sp[col, row] = off
                sp[col + 1, row] = ln
            elif c == NULL_START:
                end = literal_end(buf, j, n)[0]
                sp[col + 1, row] = -1
            else:
                return -BAD_SHAPE, nat, ne
        elif is_word(buf, s, e, K_START) or is_word(buf, s, e, K_END):
            base = SP_START if e - s == len(K_START) else SP_END
            ok, v = -1, 0  # -1: not a time, absent (as the document reader's to_int says)
            if c == QUOTE:
                end, sesc = string_end(buf, j, n)
                if end >= 0:
                    v, ok = parse_int(buf, j + 1, end - 1)
                    ok = ok and not sesc
            elif c == MINUS or DIGIT_0 <= c <= DIGIT_9:
                end = number_end(buf, j, n)[0]
                if end >= 0:
                    v, ok = parse_int(buf, j, end)
            else:
                end = value_end(buf, j, n)
            if end < 0:
                return end, nat, ne
            if ok == 0:
                return -NOT_INTEGER, nat, ne
            sp[base, row] = v
            sp[base + 1, row] = 1 if ok == 1 else 0
        elif is_word(buf, s, e, K_KIND):
            end = value_end(buf, j, n)
            if end < 0:
                return end, nat, ne
            sp[SP_KIND, row] = -1
            if c == QUOTE:
                sesc = string_end(buf, j, n)[1]
                off, ln, ne, why = keep_text(buf, j + 1, end - 1, sesc, ebuf, ne)
                if why != OK:
                    return -why, nat, ne
                sp[SP_KIND, row] = -2
                sp[SP_KIND_TEXT, row] = off
                sp[SP_KIND_TEXT + 1, row] = ln
            elif c == MINUS or DIGIT_0 <= c <= DIGIT_9:
                v, ok = parse_int(buf, j, end)
                if ok and v >= 0:
                    sp[SP_KIND, row] = v
            elif c == TRUE_START:
                sp[SP_KIND, row] = 1  # True == 1 in Python: the document reader's KINDS.get(True)
            elif c == FALSE_START:
                sp[SP_KIND, row] = 0
        elif is_word(buf, s, e, K_STATUS):
            end = skip_value(buf, j, n)
            if end < 0:
                return end, nat, ne
            sp[SP_ERROR, row] = 0
            if c == LBRACE:
                q, smore = open_container(buf, j, n, LBRACE)
                while smore:
                    s2, e2, esc2, j2 = member_key(buf, q, n)
                    if esc2:
                        return -ESCAPED_KEY, nat, ne
                    q = skip_value(buf, j2, n)
                    if is_word(buf, s2, e2, K_CODE):
                        c2 = buf[j2]
                        err = 0
                        if c2 == QUOTE:
                            if string_end(buf, j2, n)[1]:
                                return -BAD_SHAPE, nat, ne
                            if is_word(buf, j2 + 1, q - 1, K_TWO) or is_word(buf, j2 + 1, q - 1, K_ERROR_NAME):
                                err = 1
                        elif c2 == MINUS or DIGIT_0 <= c2 <= DIGIT_9:
                            v, ok = parse_int(buf, j2, q)
                            if not ok:
                                return -NOT_INTEGER, nat, ne
                            err = 1 if v == STATUS_CODE_ERROR else 0
                        sp[SP_ERROR, row] = err
                    q, smore = next_item(buf, q, n, RBRACE)
        elif is_word(buf, s, e, K_ATTRIBUTES):
            attributes_seen += 1
            if attributes_seen > 1:
                return -BAD_SHAPE, nat, ne
            if c == NULL_START:
                end = literal_end(buf, j, n)[0]
            else:
                q, amore = open_container(buf, j, n, LBRACKET)
                if q < 0:
                    return q, nat, ne
                while amore:
                    if buf[q] != LBRACE:
                        return -BAD_SHAPE, nat, ne
                    q, nat, ne = key_value(buf, q, n, wk, wo, row, i64(0), at, nat, ebuf, ne)
                    if q < 0:
                        return q, nat, ne
                    q, amore = next_item(buf, q, n, RBRACKET)
                    if q < 0:
                        return q, nat, ne
                end = q
        else:
            end = skip_value(buf, j, n)
        if end < 0:
            return end, nat, ne
        i, more = next_item(buf, end, n, RBRACE)
        if i < 0:
            return i, nat, ne
    return i, nat, ne
