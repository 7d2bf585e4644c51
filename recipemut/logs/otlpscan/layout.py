"""What the scanner hands back: the layout of its span and attribute records, and why it gave up.

:mod:`.scan` fills these records; :mod:`recipemut.logs.otlpfast` assembles the columns from them.
"""

from __future__ import annotations

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

# ---- why a scan gave up ------------------------------------------------------------------------------

#: the first element of :func:`.scan.scan_part`'s result; compiled functions return a reason
#: negated where they return an index otherwise
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
