"""Log ingest: execution logs in, the span table (:data:`recipemut.spans.SPAN_SCHEMA`) out.

:func:`read_logs` reads native JSONL spans (plain or gzip, detected by magic bytes), one file or
several, and hands other formats (OTLP, Jaeger, Zipkin) to :mod:`recipemut.formats` when that
package is present. It returns the span table and an :class:`IngestReport` that says what was kept,
what was rejected and why, with ``file:line`` examples.

How a native file is read
    The happy path is columnar: one ``pyarrow.json.read_json`` over the whole file with an explicit
    schema (unknown keys ignored). Line numbers come from a numpy scan of the bytes for newlines, so
    they stay right with blank lines and CRLF. The table is trusted row-for-line only when every
    non-blank line looks like one object (``{`` ... ``}``) and the row count equals the non-blank
    line count. Otherwise (a parse error, invalid UTF-8, two objects on one line, ...) the file is
    re-read in blocks of lines; a block that fails is bisected until the bad lines stand alone,
    and each bad line is classified (``json.loads`` on that line only). The cost is proportional
    to the number of bad lines times log(block size), not to the file.

What is rejected (reason codes, see :data:`REASONS`)
    malformed JSON, a value that is not an object, a key of the wrong type, a required key missing
    or empty, invalid UTF-8, a negative or non-finite latency or one over :data:`MAX_MS`, a start
    that is not finite or further than :data:`MAX_MS` from 1970 (not epoch milliseconds: a log in
    nanoseconds or microseconds), a negative or non-finite cost/cpu/mem/bytes, a status other than
    ok/error/halted, a sample_rate outside (0, 1]. Rejections are counted by reason; the first
    :data:`MAX_EXAMPLES` of each reason keep their ``file:line``. Nothing is fatal unless
    ``strict=True`` (then the first bad line, in file order, raises
    :class:`~recipemut.errors.LogError`). A file whose every line is bad, or whose first
    :data:`GIVE_UP_AFTER` non-blank lines are all bad, is not a span log: ``LogError``.

What is excluded (not an error, but reported)
    With a ``recipe``: spans of another recipe (``recipe`` key set to another name) and spans of
    operations the recipe does not define, counted per name.

Duplicates
    Two spans with the same ``(request_id, op)``: the one that *ended last* (start + latency) is kept
    (a retry's final attempt is what the request waited for); ties keep the later line. The
    number dropped is reported.

What cannot be read, and what is said about it
    A log compressed with zstd, xz, lz4 or bzip2 (found by its magic bytes, :func:`compressed_with`)
    is refused with the command that decompresses it. A file of no bytes "is empty"; one of blank
    lines only "has only blank lines" (whatever ``log_format`` says). JSON objects of no known
    format are read as native, so the first bad line and its missing keys are named; a JSON array
    of no known format is an unsupported format. JSON parse errors are worded by :func:`json_error`.

Standard input
    A path ``-`` (:data:`STDIN`) reads standard input: its bytes are copied, undecoded, to a file in
    a temporary directory (:func:`stdin_copy`), read like any other (format and gzip detected by
    content) and deleted afterwards, also on an error or Ctrl-C. Messages, notes, the report and
    the ``source_file`` column call it ``<stdin>`` (:data:`STDIN_NAME`). At most one ``-`` per call.

Defaults filled
    ``variant`` -> ``"control"``; ``sample_rate`` -> the ``sample_rate`` argument (1.0 when not
    given) on spans that carry none.

The frame's dtypes: strings are pandas' ``str`` dtype, floats ``float64`` (NaN where absent),
``recipe_version`` and ``source_line`` nullable ``Int64``; ``source_file`` (one value per file) is a
``category``. Rows keep the order of the files and lines.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import itertools
import json
import logging
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from .errors import InputFileError, LogError, RecipemutError
from .model import Recipe
from .spans import DEFAULT_VARIANT, REQUIRED, SPAN_SCHEMA, STATUSES

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
#: examples kept per rejection reason
MAX_EXAMPLES = 5
#: a file whose first this-many non-blank lines are all rejected is not a span log
GIVE_UP_AFTER = 1000
#: refuse a gzip log that inflates beyond this many bytes, whatever its compression ratio
MAX_DECOMPRESSED = 16 * 1024**3
#: a gzip log may always inflate to this many bytes ...
GZIP_FREE_BYTES = 64 * 1024**2
#: ... beyond that, at most this many times its own size (span logs gzip about 10x, gzip bombs about 1000x)
MAX_GZIP_RATIO = 100
#: bytes per block when re-reading a file that did not parse in one go
FALLBACK_BLOCK = 1 << 20
#: the largest ``|start_ms|`` and ``latency_ms`` taken: 2**62 ns (about 146 years), so that every span's
#: start and end are dates (pandas holds 1677..2262); a start in nanoseconds or microseconds is beyond it
MAX_MS = 2.0**62 / 1e6
_PARSE_BLOCK = 1 << 24  # bytes per block of the one-pass parse: fewer, larger chunks to post-process
_SCAN_CHUNK = 1 << 20  # bytes: a chunk and its mask stay in the CPU cache
_HEAD_BYTES = 1 << 16
#: how messages name the formats other readers take
_LABELS = {"otlp": "OTLP", "jaeger": "Jaeger", "zipkin": "Zipkin", "native": "native JSONL"}
#: the path that means standard input, and the name it goes by in messages, notes and ``source_file``
STDIN = "-"
STDIN_NAME = "<stdin>"
_COPY_CHUNK = 1 << 20  # bytes per read when copying standard input

#: reason code -> what it means
REASONS: Mapping[str, str] = MappingProxyType(
    {
        "malformed-json": "not valid JSON (or more than one value on the line)",
        "not-an-object": "a JSON value that is not an object",
        "bad-encoding": "invalid UTF-8",
        "wrong-type": "a key holding a value of the wrong type",
        "missing-key": "a required key (request_id, op, start_ms, latency_ms, status) missing or empty",
        "bad-latency": "latency_ms negative, not finite or over 146 years",
        "bad-start": "start_ms not finite or not epoch milliseconds (beyond 146 years of 1970)",
        "unknown-status": "status other than ok, error, halted",
        "bad-sample-rate": "sample_rate outside (0, 1]",
        "bad-value": "cost_usd, cpu_ms, mem_mb, bytes_in or bytes_out negative or not finite",
    }
)

_SOURCE_COLS = ("source_file", "source_line")
_ROW_HINT = re.compile(r" in row (\d+)")


def _parse_type(f: pa.Field) -> pa.DataType:
    if f.name == "recipe_version":
        return pa.float64()
    # large_string: what pandas' ``str`` dtype holds, so the conversion to the frame copies no offsets
    return pa.large_string() if pa.types.is_string(f.type) else f.type


#: what the JSON reader parses (everything nullable; recipe_version as a number, checked after)
PARSE_SCHEMA = pa.schema(
    [pa.field(f.name, _parse_type(f), nullable=True) for f in SPAN_SCHEMA if f.name not in _SOURCE_COLS]
)
_PARSE_OPTIONS = pj.ParseOptions(explicit_schema=PARSE_SCHEMA, unexpected_field_behavior="ignore")
_STRING_COLS = tuple(f.name for f in PARSE_SCHEMA if pa.types.is_large_string(f.type))
_VALUE_COLS = ("cost_usd", "cpu_ms", "mem_mb", "bytes_in", "bytes_out")


# ---- the report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """One rejected line: where, the reason code and a message naming the key or problem.

    >>> str(Rejection("a.jsonl", 7, "bad-latency", "latency_ms is -3.0"))
    'a.jsonl:7: latency_ms is -3.0 [bad-latency]'
    """

    file: str
    line: int
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message} [{self.reason}]"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason, "message": self.message}


def _iso(ms: float) -> str:
    return (
        datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def _frozen(d: Mapping[Any, int] | None = None) -> Mapping[Any, int]:
    return MappingProxyType(dict(d or {}))


def _count(n: int, noun: str) -> str:
    """``1 request``, ``3,964 requests``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class IngestReport:
    """What ingest read, kept, rejected and excluded. ``to_dict()`` is JSON-ready."""

    files: tuple[str, ...]
    formats: Mapping[str, str]  # file -> "native" | "otlp" | ...
    lines_read: int  # non-blank lines (native) or spans (other formats) read
    blank_lines: int
    spans_kept: int
    rejected: Mapping[str, int]  # reason -> count
    examples: tuple[Rejection, ...]  # first MAX_EXAMPLES per reason, in file order
    requests: int
    time_range_ms: tuple[float, float] | None  # first start, last end (epoch ms)
    variants: Mapping[str, int]  # variant -> requests
    recipe_versions: Mapping[int, int]  # recipe_version -> spans (spans without one not counted)
    unknown_ops: Mapping[str, int]  # excluded: op not in the recipe -> spans
    other_recipes: Mapping[str, int]  # excluded: other recipe name -> spans
    duplicates: int  # (request_id, op) spans dropped (the last-ending one is kept)
    sample_rate: float  # filled in where a span carries none
    sample_rates: Mapping[float, int]  # sample rate -> spans kept
    format_counts: Mapping[str, int] = field(default_factory=_frozen)  # counters from other-format readers
    notes: tuple[str, ...] = ()

    @property
    def rejected_total(self) -> int:
        return int(sum(self.rejected.values()))

    @property
    def excluded_total(self) -> int:
        return int(sum(self.unknown_ops.values()) + sum(self.other_recipes.values()))

    def summary(self) -> str:
        """One line: spans, requests, time range, rejected and excluded counts."""
        parts = [_count(self.spans_kept, "span"), _count(self.requests, "request")]
        if self.time_range_ms is not None:
            a, b = self.time_range_ms
            parts.append(f"{_iso(a)} .. {_iso(b)}")
        parts.append(f"{_count(self.rejected_total, 'rejected line')}")
        if self.excluded_total:
            parts.append(f"{_count(self.excluded_total, 'span')} excluded")
        if self.duplicates:
            parts.append(f"{_count(self.duplicates, 'duplicate')} dropped")
        n = len(self.files)
        return f"{n} file{'s' if n != 1 else ''}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        tr = None
        if self.time_range_ms is not None:
            a, b = self.time_range_ms
            tr = {"start_ms": a, "end_ms": b, "start": _iso(a), "end": _iso(b)}
        return {
            "files": list(self.files),
            "formats": dict(self.formats),
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "spans_kept": self.spans_kept,
            "rejected_total": self.rejected_total,
            "rejected": dict(self.rejected),
            "examples": [e.to_dict() for e in self.examples],
            "requests": self.requests,
            "time_range": tr,
            "variants": dict(self.variants),
            "recipe_versions": {str(k): v for k, v in self.recipe_versions.items()},
            "unknown_ops": dict(self.unknown_ops),
            "other_recipes": dict(self.other_recipes),
            "duplicates": self.duplicates,
            "sample_rate": self.sample_rate,
            "sample_rates": {repr(k): v for k, v in self.sample_rates.items()},
            "format_counts": dict(self.format_counts),
            "notes": list(self.notes),
        }


class _Rejects:
    """Mutable tally used while reading one file (internal)."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[Rejection]] = {}
        self.first: Rejection | None = None

    def add(self, line: int, reason: str, message: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        rej = Rejection(self.file, line, reason, message)
        if len(ex) < MAX_EXAMPLES or line < ex[-1].line:  # keep the first ones in file order
            ex.append(rej)
            ex.sort(key=lambda e: e.line)
            del ex[MAX_EXAMPLES:]
        if self.first is None or line < self.first.line:
            self.first = rej

    def count_more(self, reason: str, count: int) -> None:
        """Count rejections past the kept examples (they come after them in file order)."""
        self.counts[reason] = self.counts.get(reason, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())


# ---- what a JSON parser said, in words -----------------------------------------------------------


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


#: the first bytes of compressed streams recipemut does not read, and the tool that decompresses each
COMPRESSED_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x28\xb5\x2f\xfd", "zstd", "zstd -dc"),
    (b"\xfd7zXZ\x00", "xz", "xz -dc"),
    (b"\x04\x22\x4d\x18", "lz4", "lz4 -dc"),
    (b"BZh", "bzip2", "bzip2 -dc"),
)


def compressed_with(head: bytes) -> tuple[str, str] | None:
    """``(compression, command that decompresses it to stdout)`` for a zstd, xz, lz4 or bzip2 stream,
    from its first bytes; ``None`` for anything else (plain text, gzip).

    >>> compressed_with(b"\\x28\\xb5\\x2f\\xfd\\x00"), compressed_with(b"BZh91AY&SY"), compressed_with(b"BZh!")
    (('zstd', 'zstd -dc'), ('bzip2', 'bzip2 -dc'), None)
    """
    for magic, name, command in COMPRESSED_MAGIC:
        if head.startswith(magic) and (name != "bzip2" or (len(head) > 3 and 0x31 <= head[3] <= 0x39)):
            return name, command
    return None


def _refuse_compressed(head: bytes, name: str) -> None:
    """Raise :class:`LogError` when a file whose first bytes are ``head`` is compressed with
    something other than gzip."""
    got = compressed_with(head)
    if got is None:
        return
    kind, command = got
    how = f"... | {command}" if name == STDIN_NAME else f"{command} {shlex.quote(name)}"
    raise LogError(
        f"compressed with {kind}; recipemut reads plain or gzip logs: decompress it first "
        f"({how} | recipemut ... --logs -)",
        file=name,
        code="compressed",
    )


# ---- format detection and file access ------------------------------------------------------------


def _formats_module() -> Any | None:
    try:
        return importlib.import_module("recipemut.formats")
    except ModuleNotFoundError as e:
        if e.name in ("recipemut.formats",):
            return None
        raise


def _looks_native(head: bytes) -> bool:
    lines = head.split(b"\n")
    if len(lines) > 1 and len(head) >= _HEAD_BYTES:
        lines = lines[:-1]  # the last line may be cut
    seen = 0
    for raw in lines:
        s = raw.strip()
        if not s:
            continue
        seen += 1
        if seen > 20:
            break
        try:
            obj = json.loads(s)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and ("request_id" in obj or "op" in obj):
            return True
    return False


def detect_format(head: bytes) -> str:
    """The format of a log from its first bytes (already gunzipped).

    ``"native"`` for native JSONL spans; otherwise what ``recipemut.formats.detect(head)`` says when
    that package exists; ``"unknown"`` for a JSON array that is neither. JSON objects of no known
    format and text that is not JSON at all are ``"native"``, so that the native reader names the
    first bad line and its problem (a span's keys missing, not valid JSON, ...).

    >>> detect_format(b'{"request_id":"r1","op":"a","start_ms":0,"latency_ms":1,"status":"ok"}\\n')
    'native'
    >>> detect_format(b"hello world\\n"), detect_format(b'{"x": 1}\\n'), detect_format(b'[{"x": 1}]')
    ('native', 'native', 'unknown')
    """
    head = head.removeprefix(UTF8_BOM)
    if _looks_native(head):
        return "native"
    formats = _formats_module()
    if formats is not None and hasattr(formats, "detect"):
        fmt = formats.detect(head)
        if fmt:
            return str(fmt)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"[":
        return "unknown"
    return "native"  # JSON objects (whole, broken or of no known format) or text: the native reader names the line


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputFileError("no such file", file=str(path), code="missing-file")
    if path.is_dir():
        raise InputFileError("is a directory, not a log file", file=str(path), code="not-a-file")
    if not os.access(path, os.R_OK):
        raise InputFileError("permission denied", file=str(path), code="unreadable")


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == GZIP_MAGIC


def gzip_limit(compressed_size: int) -> int:
    """Bytes a gzip log of ``compressed_size`` bytes may inflate to before it is refused as a gzip bomb.

    At least :data:`GZIP_FREE_BYTES`, else :data:`MAX_GZIP_RATIO` times its size, never beyond
    :data:`MAX_DECOMPRESSED`.

    >>> gzip_limit(1_000) == GZIP_FREE_BYTES
    True
    >>> gzip_limit(10 * 1024**2) // 1024**2
    1000
    """
    return min(MAX_DECOMPRESSED, max(GZIP_FREE_BYTES, MAX_GZIP_RATIO * compressed_size))


def _mib(n: int) -> str:
    return f"{n / 1024**3:.0f} GiB" if n >= 1024**3 else f"{n / 1024**2:.0f} MiB"


def _gunzip(path: Path, name: str | None = None) -> bytearray:
    """The decompressed bytes of a gzip log, refused beyond :func:`gzip_limit` (wrap with ``pa.py_buffer``: no copy).

    ``name`` is what messages call the file (default ``str(path)``).
    """
    name = str(path) if name is None else name
    size = path.stat().st_size
    limit = gzip_limit(size)
    out = bytearray()
    try:
        with gzip.open(path, "rb") as f:
            while len(out) <= limit:
                chunk = f.read(min(1 << 24, limit + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
    except (OSError, EOFError, zlib.error) as e:
        if not out:
            raise LogError(f"not a readable gzip file ({e})", file=name, code="bad-gzip") from None
        log.warning("%s: gzip stream ends early (%s); reading the %d bytes recovered", name, e, len(out))
    if len(out) > limit:
        del out
        raise LogError(
            f"gzip log inflates beyond {_mib(limit)} (over {limit // max(size, 1)}x its {size} bytes); "
            "refusing it as a possible gzip bomb (gunzip it yourself to read it anyway)",
            file=name,
            code="too-large",
        )
    return out


def _head(path: Path, name: str | None = None) -> bytes:
    if _is_gzip(path):
        try:
            with gzip.open(path, "rb") as f:
                return f.read(_HEAD_BYTES)
        except (OSError, EOFError, zlib.error) as e:
            raise LogError(
                f"not a readable gzip file ({e})", file=str(path) if name is None else name, code="bad-gzip"
            ) from None
    with path.open("rb") as f:
        return f.read(_HEAD_BYTES)


# ---- native JSONL --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lines:
    """Byte layout of the lines of a buffer (numpy; one entry per line)."""

    starts: np.ndarray  # int64 first byte
    ends: np.ndarray  # int64 end of content (before "\r\n" / "\n")
    nexts: np.ndarray  # int64 first byte of the next line (or buffer end)
    blank: np.ndarray  # bool: empty (after one trailing \r)
    odd: np.ndarray  # bool: non-blank but not of the shape "{...}"

    def __len__(self) -> int:
        return int(self.starts.shape[0])


def _index_lines(a: np.ndarray) -> _Lines:
    """Lines of a uint8 buffer, found with a chunked numpy scan for ``\\n``.

    The chunks are small enough to stay in the CPU cache, and the bytes around each newline (the
    last one or two of a line, the first of the next) are picked up while their chunk is hot:
    gathering them afterwards would be a cache miss per line.

    A line holding a CR that does not end it is odd too: arrow's JSON reader ends lines at a lone
    CR as well, so to it that line is several (and one of them may open a parse block).

    >>> L = _index_lines(np.frombuffer(b'{"a":1}\\r\\n\\n x\\n{}', dtype=np.uint8))
    >>> L.starts.tolist(), L.ends.tolist(), L.blank.tolist(), L.odd.tolist()
    ([0, 9, 10, 13], [7, 9, 12, 15], [False, True, False, False], [False, False, True, False])
    """
    n = int(a.shape[0])
    if n == 0:
        z, zb = np.zeros(0, np.int64), np.zeros(0, bool)
        return _Lines(z, z, z, zb, zb)
    nls, before1, before2, after = [], [], [], []
    n_cr = 0
    for off in range(0, n, _SCAN_CHUNK):
        chunk = a[off : off + _SCAN_CHUNK]
        n_cr += int(np.count_nonzero(chunk == 13))
        g = np.flatnonzero(chunk == 10)
        if g.size:
            g += off
            nls.append(g)
            before1.append(a[np.maximum(g - 1, 0)])
            before2.append(a[np.maximum(g - 2, 0)])
            after.append(a[np.minimum(g + 1, n - 1)])
    nl = np.concatenate(nls).astype(np.int64, copy=False) if nls else np.empty(0, np.int64)
    b1 = np.concatenate((*before1, a[n - 1 : n]))  # the last line ends at the buffer's end
    b2 = np.concatenate((*before2, a[max(n - 2, 0) : max(n - 2, 0) + 1]))
    first = np.concatenate((a[:1], *after)) if after else a[:1].copy()
    starts = np.concatenate((np.zeros(1, np.int64), nl + 1))
    ends = np.concatenate((nl, np.array([n], np.int64)))
    if starts[-1] >= n:  # nothing after the final newline
        starts, ends, b1, b2, first = starts[:-1], ends[:-1], b1[:-1], b2[:-1], first[:-1]
    nexts = np.minimum(ends + 1, n)
    cr = (ends > starts) & (b1 == 13)
    ends = ends - cr
    last = np.where(cr, b2, b1)
    blank = ends <= starts
    odd = ~blank & ((first != 0x7B) | (last != 0x7D))
    if n_cr > int(cr.sum()):  # a CR inside a line (rare): find which lines hold one
        crs = np.flatnonzero(a == 13)
        lone = crs[~np.isin(crs, ends[cr])]
        odd[np.searchsorted(starts, lone, side="right") - 1] = True
    return _Lines(starts, ends, nexts, blank, odd)


def _parse(buf: pa.Buffer | str, block_size: int | None = None, *, infer: bool = False) -> pa.Table:
    """Parse JSONL from a buffer or a file path into :data:`PARSE_SCHEMA`; invalid UTF-8 raises too.

    ``infer``: let the parser infer the types, then convert them (the one-pass read of a whole
    file: about a tenth less CPU than parsing against the explicit schema); a column whose type
    cannot be converted (a key of the wrong type) raises ``ArrowInvalid`` like the explicit parse.
    """
    opts = pj.ReadOptions(block_size=block_size or _PARSE_BLOCK)
    # a path is opened here, not by read_json: that would pick a decompressor from the file's
    # extension (a plain log named x.jsonl.gz would fail to inflate); gzip is found by magic bytes
    src = pa.OSFile(buf) if isinstance(buf, str) else pa.BufferReader(buf)
    if infer:
        table = _conform_inferred(pj.read_json(src, read_options=opts))
    else:
        table = pj.read_json(src, read_options=opts, parse_options=_PARSE_OPTIONS)
    for name in _STRING_COLS:
        table.column(name).validate(full=True)  # invalid UTF-8 raises ArrowInvalid
    return table


def _conform_inferred(table: pa.Table) -> pa.Table:
    """An inferred table as :data:`PARSE_SCHEMA`: absent keys null, integers as floats, strings large.

    >>> t = _conform_inferred(pa.table({"op": ["a"], "latency_ms": [3], "extra": [True]}))
    >>> t.schema == PARSE_SCHEMA, t.column("latency_ms").to_pylist(), t.column("request_id").null_count
    (True, [3.0], 1)
    """
    n = table.num_rows
    cols: list[pa.ChunkedArray | pa.Array] = []
    for f in PARSE_SCHEMA:
        i = table.schema.get_field_index(f.name)
        if i < 0 or pa.types.is_null(table.schema.field(i).type):
            cols.append(pa.nulls(n, f.type))
            continue
        col, t = table.column(i), table.schema.field(i).type
        if t == f.type:
            cols.append(col)
        elif pa.types.is_string(t) and pa.types.is_large_string(f.type):
            cols.append(col.cast(f.type))
        elif (pa.types.is_integer(t) or pa.types.is_floating(t)) and pa.types.is_floating(f.type):
            cols.append(col.cast(f.type, safe=False))  # rounds past 2**53 as parsing into a double does
        else:
            raise pa.ArrowInvalid(f"column {f.name}: {t} where {f.type} is expected")
    return pa.table(cols, schema=PARSE_SCHEMA)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _json_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def classify_line(raw: bytes, parser_message: str = "") -> tuple[str, str]:
    """Why one line is not a span: ``(reason code, message)``. Used on lines the parser refused.

    >>> classify_line(b'{"request_id": 1}')
    ('wrong-type', 'request_id: expected string, got number (1)')
    >>> classify_line(b'{"op": "a"')[0]
    'malformed-json'
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return "bad-encoding", f"invalid UTF-8 at byte {e.start + 1} of the line"
    try:
        obj = json.loads(text, object_pairs_hook=_no_dupes)
    except _DuplicateKey as e:
        return "malformed-json", f"duplicate key {e.key!r}"
    except json.JSONDecodeError as e:
        what, _, col = json_error(e)
        what = "more than one JSON value on the line" if e.msg == "Extra data" else what.replace("the text", "the line")
        return "malformed-json", f"not valid JSON at column {col}: {what}"
    except RecursionError:
        return "malformed-json", "not valid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return "not-an-object", f"a JSON {_json_kind(obj)} where a span object was expected"
    for f in PARSE_SCHEMA:
        v = obj.get(f.name)
        if v is None:
            continue
        kind = _json_kind(v)
        want = "string" if f.name in _STRING_COLS else "number"
        if kind != want:
            shown = json.dumps(v)[:40]
            return "wrong-type", f"{f.name}: expected {want}, got {kind} ({shown})"
        if want == "number" and not math.isfinite(v):
            code = {"latency_ms": "bad-latency", "start_ms": "bad-start"}.get(f.name, "bad-value")
            return code, f"{f.name} is out of range ({v})"
    return "malformed-json", f"rejected by the JSON parser ({parser_message or 'unknown reason'})"


def _map(path: str) -> pa.Buffer:
    try:
        return pa.memory_map(path, "r").read_buffer()
    except OSError as e:
        raise InputFileError(f"cannot read ({e.strerror or e})", file=path, code="unreadable") from None


def _scan(source: pa.Buffer | str) -> _Lines:
    buf = source if isinstance(source, pa.Buffer) else _map(source)
    return _index_lines(np.frombuffer(buf, dtype=np.uint8))


def _read_native(source: pa.Buffer | str, name: str, rej: _Rejects) -> tuple[pa.Table, np.ndarray, int, int]:
    """Parse one native JSONL file: (table, 1-based line numbers, non-blank lines, blank lines).

    ``source`` is the gunzipped bytes, or the path of a plain file: that one is memory-mapped only
    while scanning for lines (and again if the slow path needs it), so that its pages are not
    resident while the parser builds the table.
    """
    # A plain file is memory-mapped only for the scan, so its pages are not held while the table
    # is built. The one-pass parse runs after the scan, and only when every non-blank line is shaped
    # {...}: a file with another line goes to the slow path whatever the parse gives, and arrow's
    # JSON reader crashes the process on a parse block that opens with `null` (a line `null`).
    lines = _scan(source)
    table: pa.Table | None = None
    if not lines.odd.any():
        try:
            table = _parse(source, infer=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            log.info("%s: one-pass parse failed (%s); re-reading in blocks", name, e)
    nonblank = ~lines.blank
    n_nonblank = int(nonblank.sum())
    n_blank = len(lines) - n_nonblank
    if n_nonblank == 0:
        return PARSE_SCHEMA.empty_table(), np.zeros(0, np.int64), 0, n_blank
    if table is not None:
        if not lines.odd.any() and table.num_rows == n_nonblank:
            return table, np.flatnonzero(nonblank).astype(np.int64) + 1, n_nonblank, n_blank
        log.info(
            "%s: %d rows for %d lines, some not shaped {...}; re-reading in blocks", name, table.num_rows, n_nonblank
        )
        del table
    buf = source if isinstance(source, pa.Buffer) else _map(source)
    table, nums, spaces = _read_slow(buf, lines, name, rej)
    return table, nums, n_nonblank - spaces, n_blank + spaces


def _join(buf: pa.Buffer, lines: _Lines, idx: np.ndarray) -> pa.Buffer:
    """The lines ``idx`` (sorted) of ``buf`` copied into one buffer, each with its line end."""
    if idx.size == 0:
        return pa.py_buffer(b"")
    breaks = np.flatnonzero(np.diff(idx) != 1)
    firsts = idx[np.concatenate(([0], breaks + 1))]
    lasts = idx[np.concatenate((breaks, [idx.size - 1]))]
    view = memoryview(buf)
    return pa.py_buffer(
        b"".join(view[int(a) : int(b)] for a, b in zip(lines.starts[firsts], lines.nexts[lasts], strict=True))
    )


def _read_slow(buf: pa.Buffer, lines: _Lines, name: str, rej: _Rejects) -> tuple[pa.Table, np.ndarray, int]:
    """Slow path, taken when the one-pass parse cannot be trusted row-for-line.

    First the file's first :data:`GIVE_UP_AFTER` non-blank lines alone: when none of them is a
    span, this is not a span log (``LogError``), and the rest is never read. Otherwise, lines not
    shaped ``{...}`` are looked at one by one in Python (a span must be an object, so most are
    rejected by :func:`classify_line` without a parse; ones with stray whitespace are stripped and
    parsed together); the other lines are joined into one buffer and parsed in blocks, a block
    that fails being bisected down to its bad lines. Returns the table in file order, its line
    numbers and the count of whitespace-only lines.
    """
    nonblank_idx = np.flatnonzero(~lines.blank)
    if nonblank_idx.size > GIVE_UP_AFTER:
        cut = int(nonblank_idx[GIVE_UP_AFTER - 1]) + 1
        head = _Lines(lines.starts[:cut], lines.ends[:cut], lines.nexts[:cut], lines.blank[:cut], lines.odd[:cut])
        probe = _Rejects(name)
        table, _, spaces = _read_lines(buf, head, probe)
        if table.num_rows == 0 and spaces == 0:
            raise _not_a_log(name, cut, probe)
    return _read_lines(buf, lines, rej)


def _not_a_log(name: str, through: int, rej: _Rejects) -> LogError:
    first = rej.first
    assert first is not None
    return LogError(
        f"not a span log: the first {GIVE_UP_AFTER} non-blank lines are all rejected "
        f"(through line {through}); first problem at line {first.line}: {first.message} [{first.reason}]",
        file=name,
        line=first.line,
        code="not-a-log",
    )


def _read_lines(buf: pa.Buffer, lines: _Lines, rej: _Rejects) -> tuple[pa.Table, np.ndarray, int]:
    """The slow path proper (see :func:`_read_slow`)."""
    odd_idx = np.flatnonzero(lines.odd)
    tables: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    if odd_idx.size == 0:
        clean_buf, clean_lines, clean_no = buf, lines, np.arange(1, len(lines) + 1, dtype=np.int64)
    else:
        keep = np.flatnonzero(~lines.odd)
        clean_buf = _join(buf, lines, keep)
        clean_lines = _index_lines(np.frombuffer(clean_buf, dtype=np.uint8))
        clean_no = keep.astype(np.int64) + 1
        if len(clean_lines) != keep.size:  # pragma: no cover - a bug, not a user error
            raise AssertionError("joined lines must keep their count")
    _bisect(clean_buf, clean_lines, clean_no, rej, tables, numbers)

    spaces = 0
    candidates: list[tuple[int, bytes]] = []
    view = memoryview(buf)
    for i in odd_idx.tolist():
        raw = bytes(view[int(lines.starts[i]) : int(lines.nexts[i])]).strip()
        if not raw:
            spaces += 1
        elif raw[:1] == b"{" and raw[-1:] == b"}":
            candidates.append((i + 1, raw))
        else:
            rej.add(i + 1, *classify_line(raw))
    if candidates:
        joined = pa.py_buffer(b"".join(raw + b"\n" for _, raw in candidates))
        cand_lines = _index_lines(np.frombuffer(joined, dtype=np.uint8))
        _bisect(joined, cand_lines, np.array([n for n, _ in candidates], np.int64), rej, tables, numbers)

    table = pa.concat_tables(tables) if tables else PARSE_SCHEMA.empty_table()
    nums = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
    if nums.size > 1 and not bool(np.all(nums[1:] > nums[:-1])):
        order = np.argsort(nums, kind="stable")
        table, nums = table.take(pa.array(order)), nums[order]
    return table, nums, spaces


def _bisect(
    buf: pa.Buffer,
    lines: _Lines,
    line_no: np.ndarray,
    rej: _Rejects,
    tables: list[pa.Table],
    numbers: list[np.ndarray],
) -> None:
    """Parse ``buf`` (lines shaped ``{...}`` or blank) in blocks, bisecting failed blocks to single lines.

    ``line_no[i]`` is the file line of ``buf``'s line ``i``. Accepted tables and their line numbers
    are appended to ``tables`` and ``numbers``; bad lines are added to ``rej``.
    """
    nonblank = ~lines.blank
    nonblank_cum = np.concatenate(([0], np.cumsum(nonblank)))
    cuts = np.searchsorted(lines.starts, np.arange(0, buf.size, FALLBACK_BLOCK))
    bounds = np.unique(np.concatenate((cuts, [len(lines)])))
    for b0, b1 in itertools.pairwise(bounds.tolist()):
        work = [(b0, b1)]
        while work:
            i, j = work.pop()
            nb = int(nonblank_cum[j] - nonblank_cum[i])
            if nb == 0:
                continue
            sl = buf.slice(int(lines.starts[i]), int(lines.nexts[j - 1] - lines.starts[i]))
            if j - i == 1:
                raw = sl.to_pybytes().strip()
                try:
                    t = _parse(sl, block_size=max(len(raw) + 2, 1 << 16))
                    if t.num_rows == 1:
                        tables.append(t)
                        numbers.append(line_no[i : i + 1])
                        continue
                    msg = f"{t.num_rows} values on one line"
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    msg = str(e)
                rej.add(int(line_no[i]), *classify_line(raw, msg))
                continue
            hint = -1
            try:
                t = _parse(sl, block_size=sl.size + 1)  # one block: the error's row is the range's row
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                m = _ROW_HINT.search(str(e))
                hint = int(m.group(1)) if m else -1
            else:
                if t.num_rows == nb:
                    tables.append(t)
                    numbers.append(line_no[i:j][nonblank[i:j]])
                    continue
            if 0 <= hint < nb:
                # the parser named the bad row: split around that line (verified, since a wrong
                # guess only makes smaller ranges that are parsed again)
                k = i + int(np.flatnonzero(nonblank[i:j])[hint])
                work.extend(((k + 1, j), (k, k + 1), (i, k)))
                continue
            mid = (i + j) // 2
            work.append((mid, j))
            work.append((i, mid))


# ---- checks on parsed spans (vectorised) ---------------------------------------------------------


def _np(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    return col.to_numpy() if col.null_count == 0 else col.fill_null(np.nan).to_numpy()


def _in_range(col: pa.ChunkedArray, lo: float, hi: float, *, lo_open: bool = False, nullable: bool = True) -> bool:
    """Every value finite and within [lo, hi] (or (lo, hi]), by aggregates only."""
    if col.null_count and not nullable:
        return False
    if col.null_count == len(col):
        return True
    # the sum is NaN or infinite when a value is (or when it overflows: then the per-row checks decide)
    if not math.isfinite(pc.sum(col).as_py()):
        return False
    # numpy's reductions are several times faster than arrow's min_max; nulls come out as NaN
    parts = [c.to_numpy(zero_copy_only=False) for c in col.chunks if c.null_count < len(c)]
    vmin = min(float(np.nanmin(x)) for x in parts)
    vmax = max(float(np.nanmax(x)) for x in parts)
    return bool((vmin > lo if lo_open else vmin >= lo) and vmax <= hi)


def _all_good(table: pa.Table) -> bool:
    """Cheap whole-table test (aggregates, no per-row masks): would :func:`_check` keep every row?"""
    for k in REQUIRED:
        col = table.column(k)
        if col.null_count:
            return False
        if k in _STRING_COLS and len(col) and pc.min(pc.binary_length(col)).as_py() == 0:
            return False
    inf = float("inf")
    if not (_in_range(table.column("latency_ms"), 0, MAX_MS) and _in_range(table.column("start_ms"), -MAX_MS, MAX_MS)):
        return False
    if not set(pc.unique(table.column("status")).to_pylist()) <= set(STATUSES):
        return False
    if not _in_range(table.column("sample_rate"), 0, 1, lo_open=True):
        return False
    if not all(_in_range(table.column(c), 0, inf) for c in _VALUE_COLS):
        return False
    versions = pc.unique(table.column("recipe_version")).drop_null().to_pylist()
    return all(math.isfinite(v) and v == round(v) and abs(v) <= 2.0**53 for v in versions)


def _check(table: pa.Table, lines: np.ndarray, rej: _Rejects) -> np.ndarray:
    """Validate parsed spans; record rejections; return the mask of rows to keep."""
    n = table.num_rows
    if _all_good(table):
        return np.ones(n, bool)
    checks: list[tuple[str, np.ndarray, Callable[[int], str]]] = []

    missing_by_key = {}
    for k in REQUIRED:
        col = table.column(k)
        m = pc.is_null(col)
        if k in _STRING_COLS:
            m = pc.or_(m, pc.equal(pc.utf8_length(pc.fill_null(col, "")), 0))
        missing_by_key[k] = m.to_numpy(zero_copy_only=False)
    missing = np.zeros(n, bool)
    for m in missing_by_key.values():
        missing |= m

    def missing_msg(r: int) -> str:
        keys = [k for k, m in missing_by_key.items() if m[r]]
        return "missing or empty required key" + ("s " if len(keys) > 1 else " ") + ", ".join(keys)

    checks.append(("missing-key", missing, missing_msg))

    ver = _np(table, "recipe_version")
    nan_ver = pc.fill_null(pc.is_nan(table.column("recipe_version")), False).to_numpy(zero_copy_only=False)
    bad_ver = nan_ver | (~np.isnan(ver) & ((ver != np.round(ver)) | (np.abs(ver) > 2.0**53)))  # NaN, not null
    checks.append(("wrong-type", bad_ver, lambda r: f"recipe_version: expected an integer, got {float(ver[r])!r}"))

    lat = _np(table, "latency_ms")
    bad_lat = ~missing & ~((lat >= 0) & (lat <= MAX_MS))  # NaN fails both

    def lat_msg(r: int) -> str:
        v = float(lat[r])
        return f"latency_ms is {v!r}" + (" (over 146 years)" if math.isfinite(v) and v > MAX_MS else "")

    checks.append(("bad-latency", bad_lat, lat_msg))

    start = _np(table, "start_ms")
    bad_start = ~missing & ~(np.abs(start) <= MAX_MS)

    def start_msg(r: int) -> str:
        v = float(start[r])
        if not math.isfinite(v):
            return f"start_ms is {v!r}"
        return f"start_ms is {v!r}: not epoch milliseconds (beyond 146 years of 1970; nanoseconds or microseconds?)"

    checks.append(("bad-start", bad_start, start_msg))

    status_col = table.column("status")
    known = pc.fill_null(pc.is_in(status_col, value_set=pa.array(STATUSES)), False).to_numpy(zero_copy_only=False)
    bad_status = ~missing & ~known
    checks.append(
        (
            "unknown-status",
            bad_status,
            lambda r: f"status {status_col[r].as_py()!r} is not one of {', '.join(STATUSES)}",
        )
    )

    sr = _np(table, "sample_rate")
    bad_sr = ~np.isnan(sr) & ~((sr > 0) & (sr <= 1))
    checks.append(("bad-sample-rate", bad_sr, lambda r: f"sample_rate {float(sr[r])!r} is outside (0, 1]"))

    values = {c: _np(table, c) for c in _VALUE_COLS}
    bad_value = np.zeros(n, bool)
    for v in values.values():
        bad_value |= ~np.isnan(v) & ~((v >= 0) & np.isfinite(v))

    def value_msg(r: int) -> str:
        c = next(c for c, v in values.items() if not np.isnan(v[r]) and not (v[r] >= 0 and math.isfinite(v[r])))
        return f"{c} is {float(values[c][r])!r}"

    checks.append(("bad-value", bad_value, value_msg))

    keep = np.ones(n, bool)
    for reason, mask, message in checks:
        mask = mask & keep  # one reason per line: the first that applies
        idx = np.flatnonzero(mask)
        if idx.size:
            for r in idx[:MAX_EXAMPLES]:
                rej.add(int(lines[r]), reason, message(int(r)))
            if idx.size > MAX_EXAMPLES:
                rej.count_more(reason, int(idx.size - MAX_EXAMPLES))
            keep &= ~mask
    return keep


# ---- one file ------------------------------------------------------------------------------------


@dataclass
class _FileResult:
    table: pa.Table  # PARSE_SCHEMA + source columns, rows that passed the checks
    fmt: str
    lines_read: int
    blank: int
    rej: _Rejects
    counts: dict[str, int]
    notes: list[str]
    nothing: str = ""  # why the file gave no span: "is empty", "has only blank lines", ...


def _with_source(table: pa.Table, name: str, lines: np.ndarray) -> pa.Table:
    # one value per file: dictionary-encoded, never materialised per row (it becomes a pandas category)
    src = pa.DictionaryArray.from_arrays(pa.array(np.zeros(table.num_rows, np.int32)), pa.array([name]))
    return table.append_column("source_file", src).append_column("source_line", pa.array(lines, pa.int64()))


def _conform_table(t: pa.Table, name: str) -> tuple[pa.Table, np.ndarray]:
    """A span table from another reader (arrow) as a PARSE_SCHEMA table plus its line/index numbers.

    The same table as :func:`_conform_frame` on its pandas form: NaN in a float column is null.
    """
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for f in PARSE_SCHEMA:
        if f.name not in t.column_names:
            cols[f.name] = pa.nulls(t.num_rows, f.type)
            continue
        try:
            col = t.column(f.name).cast(f.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise LogError(f"reader produced a bad {f.name!r} column ({e})", file=name) from None
        if pa.types.is_floating(f.type) and pc.any(pc.is_nan(col)).as_py():
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, f.type), col)
        cols[f.name] = col
    table = pa.table(cols, schema=PARSE_SCHEMA)
    if "source_line" in t.column_names:
        lines = np.asarray(pc.fill_null(t.column("source_line").cast(pa.int64()), 0).to_numpy(), dtype=np.int64)
    else:
        lines = np.arange(1, t.num_rows + 1, dtype=np.int64)
    return table, lines


def _conform_frame(df: pd.DataFrame, name: str) -> tuple[pa.Table, np.ndarray]:
    """A span frame from another reader as a PARSE_SCHEMA table plus its line/index numbers."""
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    n = len(df)
    for f in PARSE_SCHEMA:
        if f.name in df.columns:
            try:
                cols[f.name] = pa.array(df[f.name], type=f.type, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise LogError(f"reader produced a bad {f.name!r} column ({e})", file=name) from None
        else:
            cols[f.name] = pa.nulls(n, f.type)
    table = pa.table(cols, schema=PARSE_SCHEMA)
    if "source_line" in df.columns:
        lines = pd.to_numeric(df["source_line"], errors="coerce").fillna(0).to_numpy(np.int64)
    else:
        lines = np.arange(1, n + 1, dtype=np.int64)
    return table, lines


def _read_file(
    path: Path, log_format: str, recipe: Recipe | None, mapping: Any, strict: bool, name: str | None = None
) -> _FileResult:
    """One log file read and checked. ``name`` is what errors, notes and ``source_file`` call it
    (default ``str(path)``): ``<stdin>`` for the copy of standard input, whose path is then
    replaced by ``name`` in any error or note a reader of another format wrote with it."""
    real = str(path)
    if name is None or name == real:
        return _read_named(path, real, log_format, recipe, mapping, strict)
    try:
        got = _read_named(path, name, log_format, recipe, mapping, strict)
    except RecipemutError as e:
        raise _renamed(e, real, name) from None
    got.notes[:] = [n.replace(real, name) for n in got.notes]
    return got


def _renamed(e: RecipemutError, real: str, name: str) -> RecipemutError:
    """``e`` with the path ``real`` replaced by ``name`` in its file and message (in place)."""
    if e.file is not None:
        e.file = e.file.replace(real, name)
    e.message = e.message.replace(real, name)
    e.args = (e.message, *e.args[1:])
    return e


def _read_named(
    path: Path, name: str, log_format: str, recipe: Recipe | None, mapping: Any, strict: bool
) -> _FileResult:
    _check_file(path)
    head = _head(path, name)  # the first bytes, gunzipped
    _refuse_compressed(head, name)
    rej = _Rejects(name)
    fmt = log_format
    if fmt == "auto":
        fmt = detect_format(head)
    # a file of blank lines (or none) is read as native whatever --log-format says: it says so
    blank_file = len(head) < _HEAD_BYTES and not head.removeprefix(UTF8_BOM).strip(b" \t\r\n")
    if fmt == "unknown":
        raise LogError(
            "unsupported log format (not native JSONL spans, and no reader recognises it)",
            file=name,
            code="unsupported-format",
        )
    counts: dict[str, int] = {}
    notes: list[str] = []
    if fmt == "native" or blank_file:
        source: pa.Buffer | str = pa.py_buffer(_gunzip(path, name)) if _is_gzip(path) else str(path)
        if head.startswith(UTF8_BOM):  # written by some Windows tools: not part of line 1
            whole = source if isinstance(source, pa.Buffer) else pa.py_buffer(path.read_bytes())
            source = whole.slice(3)
        table, lines, n_read, n_blank = _read_native(source, name, rej)
        del source
    else:
        formats = _formats_module()
        if formats is None or not hasattr(formats, "read"):
            raise LogError(
                f"unsupported log format {fmt!r} (no reader installed)", file=name, code="unsupported-format"
            )
        if hasattr(formats, "read_table"):  # arrow in, arrow out: no round trip through pandas
            got, counts, fnotes = formats.read_table(path, fmt, recipe=recipe, mapping=mapping, strict=strict)
            table, lines = _conform_table(got, name)
        else:
            df, counts, fnotes = formats.read(path, fmt, recipe=recipe, mapping=mapping, strict=strict)
            table, lines = _conform_frame(df, name)
        notes = [f"{name}: {s}" for s in fnotes]
        n_read, n_blank = int(counts.get("spans_read", table.num_rows)), 0
    if table.num_rows:
        keep = _check(table, lines, rej)
        if fmt == "native" and not strict and keep.size >= GIVE_UP_AFTER and not keep[:GIVE_UP_AFTER].any():
            # rows are the file's non-blank lines in order (lines that did not parse never became rows)
            raise _not_a_log(name, int(lines[GIVE_UP_AFTER - 1]), rej)
        if not keep.all():
            table, lines = table.filter(pa.array(keep)), lines[keep]
    if strict and rej.first is not None:
        bad = rej.first
        raise LogError(f"{bad.message} [{bad.reason}] (--strict)", file=name, line=bad.line, code=bad.reason)
    if n_read and table.num_rows == 0 and rej.total:
        f = rej.first
        assert f is not None
        raise LogError(
            "not a span log: "
            + ("its one non-blank line is" if n_read == 1 else f"all {n_read} non-blank lines are")
            + f" rejected; first problem at line {f.line}: {f.message} [{f.reason}]",
            file=name,
            line=f.line,
            code="not-a-log",
        )
    nothing = ""
    if n_read == 0:
        if fmt == "native" or blank_file:
            nothing = "has only blank lines" if n_blank else "is empty"
        else:
            nothing = f"holds no {_LABELS.get(fmt, fmt)} spans"
        notes.append(f"{name}: {nothing} (no spans)")
    return _FileResult(_with_source(table, name, lines), fmt, n_read, n_blank, rej, dict(counts), notes, nothing)


# ---- putting files together ----------------------------------------------------------------------


def _value_counts(arr: pa.Array | pa.ChunkedArray) -> dict[Any, int]:
    vc = pc.value_counts(arr)
    if len(vc) == 0:
        return {}
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    pairs = sorted(zip(values, counts, strict=True), key=lambda p: (-p[1], str(p[0])))
    return {v: int(c) for v, c in pairs if v is not None}


def _types_mapper(t: pa.DataType) -> Any:
    return pd.Int64Dtype() if pa.types.is_integer(t) else None


def to_span_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table in :data:`SPAN_SCHEMA` -> the span DataFrame (dtypes as in the module doc)."""
    table = table.select(SPAN_SCHEMA.names)
    i = table.schema.get_field_index("source_file")
    if not pa.types.is_dictionary(table.schema.field(i).type):
        table = table.set_column(i, "source_file", pc.dictionary_encode(table.column(i)))
    return table.to_pandas(types_mapper=_types_mapper, split_blocks=True, self_destruct=True)


def factorize(values: pd.Series | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int64, first-appearance order) and uniques of a string column, via arrow's hash kernel.

    >>> codes, uniq = factorize(pd.Series(["b", "a", "b"], dtype="str"))
    >>> codes.tolist(), list(uniq)
    ([0, 1, 0], ['b', 'a'])
    """
    if not len(values):
        return np.zeros(0, np.int64), np.array([], dtype=object)
    arr = values if isinstance(values, pa.ChunkedArray) else pa.array(values.array, from_pandas=True)
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    enc = pc.dictionary_encode(arr)
    parts = [(c.indices.fill_null(-1) if c.null_count else c.indices).to_numpy() for c in enc.chunks]
    codes = np.concatenate(parts, dtype=np.int64)
    return codes, np.asarray(enc.chunks[-1].dictionary.to_pylist(), dtype=object)


def keep_last_ending(req_codes: np.ndarray, op_codes: np.ndarray, end_ms: np.ndarray, n_ops: int) -> np.ndarray:
    """Mask keeping, for each (request, op) pair, the span that ends last (ties: the later row).

    >>> keep_last_ending(np.array([0, 0, 1]), np.array([0, 0, 0]), np.array([5.0, 3.0, 1.0]), 1).tolist()
    [True, False, True]
    """
    n = int(req_codes.shape[0])
    key = req_codes.astype(np.int64) * max(n_ops, 1) + op_codes
    if n == 0:
        return np.ones(n, bool)
    span = int(key.max()) + 1
    has_dupes = (
        bool(np.bincount(key, minlength=span).max() > 1)
        if span <= 4 * n + 1024
        else bool(pd.Series(key).duplicated().any())
    )
    if not has_dupes:
        return np.ones(n, bool)
    order = np.lexsort((np.arange(n), np.nan_to_num(end_ms, nan=-np.inf), key))
    last = np.ones(n, bool)
    ks = key[order]
    last[:-1] = ks[:-1] != ks[1:]
    keep = np.zeros(n, bool)
    keep[order[last]] = True
    return keep


def _as_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


def is_stdin(path: str | os.PathLike[str]) -> bool:
    """Whether a log path means standard input (``-``).

    >>> is_stdin("-"), is_stdin(Path("-")), is_stdin("./logs.jsonl")
    (True, True, False)
    """
    return os.fspath(path) == STDIN


@contextlib.contextmanager
def stdin_copy() -> Iterator[Path]:
    """Standard input's bytes copied, undecoded and in chunks, to a file in a new temporary directory.

    The directory (``$TMPDIR``) and the file are deleted when the ``with`` block ends, however it
    ends (an error, Ctrl-C). A terminal is refused rather than waited on: :class:`InputFileError`.
    """
    stream = sys.stdin
    if stream is None:
        raise InputFileError("no standard input to read", file=STDIN_NAME, code="no-stdin")
    if stream.isatty():
        raise InputFileError("standard input is a terminal; pipe a log into it", file=STDIN_NAME, code="stdin-tty")
    source = getattr(stream, "buffer", stream)  # the bytes under the text layer
    with tempfile.TemporaryDirectory(prefix="recipemut-stdin-") as folder:
        copy = Path(folder) / "stdin"
        try:
            with copy.open("wb") as out:
                shutil.copyfileobj(source, out, _COPY_CHUNK)
        except OSError as e:
            raise InputFileError(
                f"cannot copy standard input to {folder} ({e.strerror or e})", file=STDIN_NAME, code="unreadable"
            ) from None
        yield copy


def _resolve_mapping(mapping: Any, recipe: Recipe | None) -> Any:
    """The mapping loaded and checked against the recipe before any log is read (a bad --map fails first)."""
    if mapping is None:
        return None
    formats = _formats_module()
    if formats is None or not hasattr(formats, "resolve"):
        return mapping
    resolved = formats.resolve(mapping)
    resolved.check(recipe)
    return resolved


def read_logs(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    recipe: Recipe | None = None,
    strict: bool = False,
    sample_rate: float | None = None,
    log_format: str = "auto",
    mapping: Any = None,
) -> tuple[pd.DataFrame, IngestReport]:
    """Read execution logs into the span table (:data:`SPAN_SCHEMA` columns) and an ingest report.

    Parameters
    ----------
    paths
        One log file or several (native JSONL, plain or gzip; other formats via ``recipemut.formats``);
        ``-`` (at most once) is standard input, called ``<stdin>`` in the report and messages.
    recipe
        When given, spans of another recipe or of operations it does not define are excluded
        and counted in the report.
    strict
        Raise on the first rejected line instead of counting it.
    sample_rate
        Sampling rate of spans that do not carry one (default 1.0: every request logged).
    log_format
        ``"auto"`` (detect per file), ``"native"``, or a format name ``recipemut.formats`` reads.
    mapping
        Span-to-operation mapping handed to the readers of other formats.

    Raises
    ------
    InputFileError
        A file is missing, a directory or unreadable; ``-`` when standard input is a terminal.
    LogError
        Not a span log (every line bad, or the first lines all bad), an unsupported format, a bad
        line under ``strict``, or no span left at all.
    """
    files = _as_paths(paths)
    if not files:
        raise LogError("no log file given", code="no-logs")
    if sum(map(is_stdin, files)) > 1:
        raise LogError("standard input ('-') given more than once; it can be read once", code="stdin-twice")
    names = [STDIN_NAME if is_stdin(p) else str(p) for p in files]
    if sample_rate is not None and not (0 < sample_rate <= 1):
        raise LogError(f"sample rate {sample_rate!r} is outside (0, 1]", code="bad-sample-rate")
    fill_rate = 1.0 if sample_rate is None else float(sample_rate)
    mapping = _resolve_mapping(mapping, recipe)

    with contextlib.ExitStack() as stack:  # the copy of standard input is deleted once read
        real = [stack.enter_context(stdin_copy()) if is_stdin(p) else p for p in files]
        results = [
            _read_file(p, log_format, recipe, mapping, strict, name=n) for p, n in zip(real, names, strict=True)
        ]
    notes = [n for r in results for n in r.notes]
    if mapping is not None and all(r.fmt == "native" for r in results):
        notes.append(
            f"mapping {getattr(mapping, 'source', None) or 'given'} not used: native spans name their operation"
        )
    table = pa.concat_tables([r.table for r in results]) if results else None
    assert table is not None

    other: dict[str, int] = {}
    unknown: dict[str, int] = {}
    if recipe is not None and table.num_rows:
        rcol = table.column("recipe")
        foreign = pc.fill_null(pc.not_equal(rcol, recipe.name), False)
        if pc.any(foreign).as_py():
            other = {str(k): v for k, v in _value_counts(rcol.filter(foreign)).items()}
            table = table.filter(pc.invert(foreign))
        known = pc.is_in(table.column("op"), value_set=pa.array(list(recipe.ops), pa.string()))
        if not pc.all(known).as_py():
            unknown = {str(k): v for k, v in _value_counts(table.column("op").filter(pc.invert(known))).items()}
            table = table.filter(known)
        if table.num_rows == 0:
            found = ", ".join(f"{k} ({v})" for k, v in list({**other, **unknown}.items())[:5])
            raise LogError(
                f"no span of recipe {recipe.name!r} in the logs (found other recipes/operations: {found})",
                file=names[0] if len(files) == 1 else None,
                code="no-spans",
            )
    unmapped = sum(r.counts.get("unmapped_spans", 0) + r.counts.get("ambiguous_spans", 0) for r in results)
    if table.num_rows == 0 and unmapped:  # traces read, but none of their spans is an operation of the recipe
        raise LogError(
            "no span of the traces maps to an operation of the recipe (write a mapping file, --map): "
            + "; ".join(notes),
            file=None,
            code="no-spans",
        )
    if table.num_rows == 0:
        why = ", ".join(f"{n} {r.nothing}" for n, r in zip(names, results, strict=True) if r.nothing)
        why = why or "; ".join(notes)  # every span read was dropped: say why (no start time, ...)
        raise LogError("no spans in the logs" + (f": {why}" if why else ""), file=None, code="no-spans")

    table = table.set_column(
        table.schema.get_field_index("variant"), "variant", pc.fill_null(table.column("variant"), DEFAULT_VARIANT)
    )
    table = table.set_column(
        table.schema.get_field_index("sample_rate"),
        "sample_rate",
        pc.fill_null(table.column("sample_rate"), fill_rate),
    )
    table = table.set_column(
        table.schema.get_field_index("recipe_version"),
        "recipe_version",
        pc.cast(table.column("recipe_version"), pa.int64()),
    )

    req_codes, req_uniques = factorize(table.column("request_id"))  # on arrow: no copy of the strings
    op_codes, op_uniques = factorize(table.column("op"))
    df = to_span_frame(table)
    del table
    # codes are in first-appearance order, so a request's first span is where the running max grows
    running_max = np.maximum.accumulate(req_codes)
    first_of_request = np.flatnonzero(np.concatenate(([True], running_max[1:] > running_max[:-1])))
    first_variant = df["variant"].iloc[first_of_request]
    vc_var = first_variant.value_counts()
    variants = dict(zip(vc_var.index.astype(str).tolist(), vc_var.astype(int).tolist(), strict=True))
    start = df["start_ms"].to_numpy()
    end = start + df["latency_ms"].to_numpy()
    keep = keep_last_ending(req_codes, op_codes, end, len(op_uniques))
    duplicates = int((~keep).sum())
    if duplicates:
        df = df.loc[keep].reset_index(drop=True)
        start, end = start[keep], end[keep]
        notes.append(f"{duplicates} duplicate (request_id, op) spans dropped; the last-ending one was kept")

    vc_ver = df["recipe_version"].value_counts()
    versions = dict(zip(vc_ver.index.astype(int).tolist(), vc_ver.astype(int).tolist(), strict=True))
    vc_rate = df["sample_rate"].value_counts()
    rates = dict(zip(vc_rate.index.astype(float).tolist(), vc_rate.astype(int).tolist(), strict=True))

    rejected: dict[str, int] = {}
    examples: list[Rejection] = []
    for r in results:
        for k, v in r.rej.counts.items():
            rejected[k] = rejected.get(k, 0) + v
    for reason in REASONS:
        ex = [e for r in results for e in r.rej.examples.get(reason, [])]
        examples.extend(ex[:MAX_EXAMPLES])
    examples.sort(key=lambda e: (names.index(e.file) if e.file in names else 0, e.line))
    format_counts: dict[str, int] = {}
    for r in results:
        for k, v in r.counts.items():
            format_counts[k] = format_counts.get(k, 0) + int(v)

    report = IngestReport(
        files=tuple(names),
        formats=MappingProxyType({n: r.fmt for n, r in zip(names, results, strict=True)}),
        lines_read=sum(r.lines_read for r in results),
        blank_lines=sum(r.blank for r in results),
        spans_kept=len(df),
        rejected=_frozen(rejected),
        examples=tuple(examples),
        requests=len(req_uniques),
        time_range_ms=(float(np.min(start)), float(np.max(end))),
        variants=_frozen(variants),
        recipe_versions=_frozen(versions),
        unknown_ops=_frozen(unknown),
        other_recipes=_frozen(other),
        duplicates=duplicates,
        sample_rate=fill_rate,
        sample_rates=_frozen(rates),
        format_counts=_frozen(format_counts),
        notes=tuple(notes),
    )
    log.info("%s", report.summary())
    return df, report
