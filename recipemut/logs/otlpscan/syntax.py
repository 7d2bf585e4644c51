"""What the scanner looks for in the bytes: JSON's syntax bytes and the OTLP keys it reads.

Every byte the scanner compares against is named here, once. numba compiles module-level integers
(and tuples of them) that a compiled function reads as constants, so ``c == QUOTE`` costs what
``c == 0x22`` costs. The OTLP keys are uint8 arrays compared byte by byte with
:func:`.lex.is_word`.
"""

from __future__ import annotations

import numpy as np

# ---- structure -----------------------------------------------------------------------------------
LBRACE, RBRACE = ord("{"), ord("}")
LBRACKET, RBRACKET = ord("["), ord("]")
COLON, COMMA = ord(":"), ord(",")
QUOTE, BACKSLASH, SLASH = ord('"'), ord("\\"), ord("/")

# ---- whitespace (the four bytes JSON allows between tokens) ----------------------------------------
SPACE, TAB, LF, CR = ord(" "), ord("\t"), ord("\n"), ord("\r")

# ---- numbers -------------------------------------------------------------------------------------
MINUS, PLUS, DOT = ord("-"), ord("+"), ord(".")
DIGIT_0, DIGIT_1, DIGIT_9 = ord("0"), ord("1"), ord("9")
EXP_LOWER, EXP_UPPER = ord("e"), ord("E")
#: hex digits of a ``\uXXXX`` escape besides 0-9
HEX_A_LOWER, HEX_F_LOWER, HEX_A_UPPER, HEX_F_UPPER = ord("a"), ord("f"), ord("A"), ord("F")

# ---- literals --------------------------------------------------------------------------------------
#: the three literals, spelled out (compared one byte at a time: the tuples compile as constants)
TRUE, FALSE, NULL = tuple(b"true"), tuple(b"false"), tuple(b"null")
#: the first byte of each: enough to tell which one a value must be
TRUE_START, FALSE_START, NULL_START = TRUE[0], FALSE[0], NULL[0]

# ---- string escapes: the byte after a backslash --------------------------------------------------
ESCAPE_B, ESCAPE_F, ESCAPE_N, ESCAPE_R, ESCAPE_T = ord("b"), ord("f"), ord("n"), ord("r"), ord("t")
ESCAPE_U = ord("u")  # \uXXXX
#: what each one-letter escape stands for
BACKSPACE, FORM_FEED = ord("\b"), ord("\f")

# ---- byte classes inside a string ---------------------------------------------------------------------
#: bytes below this are control characters, which a JSON string must escape
CONTROL_END = 0x20
#: bytes from this on belong to multi-byte UTF-8 sequences
ASCII_END = 0x80
#: the UTF-8 byte-order mark, skipped at the start of a file
BOM = tuple("\ufeff".encode("utf-8"))
#: the deepest nesting of containers the scanner follows (a bit per level in one uint64)
MAX_DEPTH = 64

# ---- OTLP keys -------------------------------------------------------------------------------------


def _word(text: str) -> np.ndarray:
    """``text`` as a uint8 array (compared byte by byte in compiled code)."""
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).copy()


K_RESOURCE_SPANS, K_RESULT, K_RESOURCE, K_ATTRIBUTES = (
    _word("resourceSpans"),
    _word("result"),
    _word("resource"),
    _word("attributes"),
)
K_SCOPE_SPANS, K_ILS, K_SPANS = _word("scopeSpans"), _word("instrumentationLibrarySpans"), _word("spans")
K_TRACE_ID, K_SPAN_ID, K_PARENT, K_NAME = _word("traceId"), _word("spanId"), _word("parentSpanId"), _word("name")
K_KIND, K_START, K_END, K_STATUS = _word("kind"), _word("startTimeUnixNano"), _word("endTimeUnixNano"), _word("status")
K_TRACE_STATE, K_CODE, K_KEY, K_VALUE = _word("traceState"), _word("code"), _word("key"), _word("value")
K_STRING, K_INT, K_DOUBLE, K_BOOL = _word("stringValue"), _word("intValue"), _word("doubleValue"), _word("boolValue")
K_ARRAY, K_KVLIST, K_BYTES = _word("arrayValue"), _word("kvlistValue"), _word("bytesValue")
K_ERROR_NAME, K_TWO = _word("STATUS_CODE_ERROR"), _word("2")
