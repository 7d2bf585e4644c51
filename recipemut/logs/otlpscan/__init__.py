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

The modules, each using only those above it:

- :mod:`.syntax`: the bytes it compares against (JSON syntax, the OTLP keys), by name;
- :mod:`.layout`: the span and attribute records it fills, and the reasons it gives up;
- :mod:`.memory`: how it compiles and sees memory (bare pointers, borrowed arrays);
- :mod:`.strings`: string bodies unescaped, kept in the text buffer, matched to wanted keys;
- :mod:`.lex`: JSON tokens and whole values, checked and skipped;
- :mod:`.records`: a span object and a ``{key, value}`` attribute into records;
- :mod:`.scan`: the entry points, :func:`scan_part` (the exports of a part of a file) and
  :func:`gather` (kept strings into arrow's buffers).

numba caches the two entry points compiled, with all they call, keyed on :mod:`.scan`'s content
alone; :data:`.scan.SOURCES_DIGEST` carries the content of the other modules into it, so that an
edit to any of them compiles the scanner again.
"""

from recipemut.logs.otlpscan.layout import (
    AT_INT,
    AT_KEY,
    AT_KIND,
    AT_ON_RESOURCE,
    AT_OWNER,
    AT_TEXT,
    AT_WIDTH,
    BAD_JSON,
    BAD_SHAPE,
    BAD_UTF8,
    COMPLEX_VALUE,
    ESCAPED_KEY,
    NEED_ROOM,
    NOT_INTEGER,
    OK,
    REASONS,
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
    SP_WIDTH,
    TOO_DEEP,
    V_BYTES,
    V_DOUBLE,
    V_FALSE,
    V_INT,
    V_NULL,
    V_STRING,
    V_TRUE,
)
from recipemut.logs.otlpscan.scan import gather, scan_part

__all__ = [
    "AT_INT",
    "AT_KEY",
    "AT_KIND",
    "AT_ON_RESOURCE",
    "AT_OWNER",
    "AT_TEXT",
    "AT_WIDTH",
    "BAD_JSON",
    "BAD_SHAPE",
    "BAD_UTF8",
    "COMPLEX_VALUE",
    "ESCAPED_KEY",
    "NEED_ROOM",
    "NOT_INTEGER",
    "OK",
    "REASONS",
    "SP_END",
    "SP_END_SET",
    "SP_ERROR",
    "SP_KIND",
    "SP_KIND_TEXT",
    "SP_NAME",
    "SP_PARENT",
    "SP_RS",
    "SP_SPAN",
    "SP_START",
    "SP_START_SET",
    "SP_STATE",
    "SP_TRACE",
    "SP_WIDTH",
    "TOO_DEEP",
    "V_BYTES",
    "V_DOUBLE",
    "V_FALSE",
    "V_INT",
    "V_NULL",
    "V_STRING",
    "V_TRUE",
    "gather",
    "scan_part",
]
