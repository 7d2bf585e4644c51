"""What a JSON parser said, in words a person reads: shared by the native reader and the trace readers.

:func:`json_error` turns ``json``'s ``JSONDecodeError`` into a sentence with a line and a column on
a character of that line; :func:`parse_int` reads an integer too long for Python's conversion as
infinite, so that it is refused as out of range rather than crashing the reader.
"""

from __future__ import annotations

import json


def _string_start(doc: str, pos: int) -> int:
    """Where the string that is open at ``pos`` starts: the last unescaped ``"`` before it on its line."""
    line_start = doc.rfind("\n", 0, pos) + 1
    i = pos - 1
    while i >= line_start:
        if doc[i] == '"':
            j = i - 1
            while j >= line_start and doc[j] == "\\":
                j -= 1
            if (i - j) % 2 == 1:  # an even number of backslashes before it: a real quote
                return i
        i -= 1
    return pos


def json_error(e: json.JSONDecodeError) -> tuple[str, int, int]:
    """A JSON parse error as ``(what went wrong, line, column)``: the words end a sentence (Python's
    "Unterminated string starting at" and "Invalid control character at" dangle on their own) and the
    1-based column is within its line, on a character of it, never past its end.

    >>> json_error(_decode_error('{"op": "lo'))
    ('unterminated string: the text ends inside it (cut short?)', 1, 8)
    >>> json_error(_decode_error('{"op": "lo\\n{"op": 1}'))
    ('unterminated string: line 1 ends inside it (cut short?)', 1, 8)
    >>> json_error(_decode_error('{"op": 1'))
    ("Expecting ',' delimiter: the text ends first (cut short?)", 1, 8)
    >>> json_error(_decode_error('{"op": 1}}'))
    ('more than one JSON value (text after the first one)', 1, 10)
    """
    doc, pos, msg = e.doc, e.pos, e.msg
    if msg.startswith("Invalid control character") and pos < len(doc) and doc[pos] in "\r\n":
        pos = _string_start(doc, pos)
        line = doc.count("\n", 0, pos) + 1
        what = f"unterminated string: line {line} ends inside it (cut short?)"
    elif msg.startswith("Invalid control character"):
        what = f"control character U+{ord(doc[pos]):04X} inside a string (it must be escaped)"
    elif msg.startswith("Unterminated string"):
        what = "unterminated string: the text ends inside it (cut short?)"
    elif msg == "Extra data":
        what = "more than one JSON value (text after the first one)"
    elif not doc[pos:].strip():
        what = f"{msg}: the text ends first (cut short?)"
        if pos > 0 and (pos >= len(doc) or doc[pos] in "\r\n"):  # point at the last character, not past it
            pos -= 1
            while pos > 0 and doc[pos] in " \t\r\n":
                pos -= 1
    else:
        what = msg.removesuffix(" at")
    line = doc.count("\n", 0, pos) + 1
    col = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return what, line, col


def _decode_error(text: str) -> json.JSONDecodeError:
    """The error ``json.loads`` raises on ``text`` (for the examples above)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        return e
    raise ValueError("valid JSON")


def parse_int(digits: str) -> int | float:
    """A JSON integer as ``json`` reads it, but one too long for Python's int conversion (over 4,300
    digits, a ``ValueError``) is infinite: out of range for every key, so refused as a value is.

    >>> parse_int("12"), parse_int("-" + "9" * 5000)
    (12, -inf)
    """
    try:
        return int(digits)
    except ValueError:
        return float("-inf") if digits.startswith("-") else float("inf")


__all__ = ["json_error", "parse_int"]
