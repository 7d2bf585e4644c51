"""Log ingest: execution logs in, the span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`) out.

:func:`read_logs` reads native JSONL spans (plain or gzip, detected by magic bytes), one file or
several, and hands other formats (OTLP, Jaeger, Zipkin) to :mod:`recipemut.logs.traces` when that
package is present. It returns the span table and an :class:`IngestReport` that says what was kept,
what was rejected and why, with ``file:line`` examples.

How a native file is read
    The happy path is columnar: one ``pyarrow.json.read_json`` over the whole file with an explicit
    schema (unknown keys ignored). Line numbers come from a numpy scan of the bytes for newlines, so
    they stay right with blank lines and CRLF. The table is trusted row-for-line only when every
    non-blank line looks like one object (``{`` ... ``}``) and the row count equals the non-blank
    line count. Otherwise (a parse error, invalid UTF-8, two objects on one line, ...) the file is
    re-read in blocks of lines: lines of invalid UTF-8 are found first in one linear pass and
    rejected; a block that fails is bisected until the bad lines stand alone, and each bad line is
    classified (``json.loads`` on that line only); a block with many bad lines has the rest of its
    lines read by ``json`` one by one instead, so the time stays linear in the file. Before any of
    this, lines nested deeper than :data:`MAX_JSON_DEPTH` are found by a numpy scan and rejected
    unread (JSON parsers recurse: pyarrow's crashed the process on a line 20,000 deep).

What is not read at all
    A device or a FIFO (only regular files, and standard input through its copy); binary data (a
    NUL byte, or a quarter of the first 64 KiB not text: :func:`binary_at`).

What is rejected (reason codes, see :data:`REASONS`)
    malformed JSON, a value that is not an object, a key of the wrong type, a required key missing
    or empty, invalid UTF-8, nesting deeper than :data:`MAX_JSON_DEPTH` (found by a numpy scan before
    any parser sees the line), a negative or non-finite latency or one over :data:`MAX_LATENCY_MS`, a
    start that is not finite, further than :data:`MAX_MS` from 1970 (not epoch milliseconds: a log in
    nanoseconds or microseconds) or in :data:`SECONDS_BAND` (seconds), a negative, non-finite or
    implausibly large cost/cpu/mem/bytes (:data:`MAX_VALUES`), a status other than ok/error/halted, a
    sample_rate that is not a number in (0, 1] (NaN included). Rejections are counted by reason; the first
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

import codecs
import contextlib
import dataclasses
import gzip
import importlib
import itertools
import json
import logging
import math
import os
import re
import shlex
import stat
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

from recipemut.errors import InputFileError, LogError, RecipemutError
from recipemut.files.read import _kind as file_kind
from recipemut.logs.spans import DEFAULT_VARIANT, REQUIRED, SPAN_SCHEMA, STATUSES
from recipemut.recipe.model import Recipe

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
#: the longest latency taken: 30 days (a span longer than that is not a latency measurement)
MAX_LATENCY_MS = 30 * 86_400_000.0
#: ``start_ms`` values this far from 1970, and no further, are seconds written where milliseconds belong
#: (as milliseconds they fall between 1970-01-02 and 1973-03-03; as seconds between 1973 and 5138)
SECONDS_BAND = (1e8, 1e11)
#: the largest value taken per call of each optional number (beyond it, sums over millions of spans
#: could overflow): a million dollars, a trillion CPU milliseconds (31 CPU-years), a petabyte
MAX_VALUES: Mapping[str, float] = MappingProxyType(
    {"cost_usd": 1e6, "cpu_ms": 1e12, "mem_mb": 1e9, "bytes_in": 1e15, "bytes_out": 1e15}
)
#: a native line nested deeper than this (objects and arrays) is rejected unread: JSON parsers recurse
MAX_JSON_DEPTH = 512
_DEPTH_WINDOW = 1 << 22  # bytes per step of the nesting scan
#: the most standard input may hold (it is copied to a temporary file first)
MAX_STDIN = 16 * 1024**3
#: a first block with this share of bytes that no text log holds (controls, invalid UTF-8) is binary
BINARY_SHARE = 0.25
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
        "bad-latency": "latency_ms negative, not finite or over 30 days",
        "bad-start": "start_ms not finite or not epoch milliseconds (beyond 146 years of 1970, or seconds)",
        "unknown-status": "status other than ok, error, halted",
        "bad-sample-rate": "sample_rate not a number in (0, 1]",
        "bad-value": "cost_usd, cpu_ms, mem_mb, bytes_in or bytes_out negative, not finite or implausibly large",
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
        return importlib.import_module("recipemut.logs.traces")
    except ModuleNotFoundError as e:
        if e.name in ("recipemut.logs.traces",):
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

    ``"native"`` for native JSONL spans; otherwise what ``recipemut.logs.traces.detect(head)`` says when
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


def _check_file(path: Path, name: str | None = None) -> None:
    """A log must be a readable regular file: a device (``/dev/zero``, ``/dev/urandom``) or a FIFO
    would be read without end or wait for a writer, so it is refused before it is opened; standard
    input (``-``) is copied to a regular file first."""
    name = str(path) if name is None else name
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError("no such file", file=name, code="missing-file") from None
    except OSError as e:
        raise InputFileError(f"cannot read ({e.strerror or e})", file=name, code="unreadable") from None
    if stat.S_ISDIR(mode):
        raise InputFileError("is a directory, not a log file", file=name, code="not-a-file")
    if not stat.S_ISREG(mode):
        raise InputFileError(
            f"is {file_kind(mode)}, not a log file; to read a stream, pipe it into --logs - "
            "(... | recipemut ... --logs -)",
            file=name,
            code="not-a-file",
        )
    if not os.access(path, os.R_OK):
        raise InputFileError("permission denied", file=name, code="unreadable")


def binary_at(head: bytes) -> int | None:
    """The offset of the first byte that shows ``head`` (a file's first bytes, gunzipped) is not text:
    a NUL byte anywhere, or the first control or invalid UTF-8 byte when such bytes make up
    :data:`BINARY_SHARE` or more of it; ``None`` for text (a few stray bytes are left to the lines'
    own checks).

    >>> binary_at(b'{"op": "a"}\\n'), binary_at('{"op": "é"}'.encode("latin-1")), binary_at(b"ab\\0")
    (None, None, 2)
    >>> binary_at(bytes(range(128, 256)))
    0
    """
    nul = head.find(b"\0")
    if nul >= 0:
        return nul
    if not head:
        return None
    text = head.decode("utf-8", "surrogateescape")  # an invalid byte becomes one of U+DC80..U+DCFF
    bad = [m.start() for m in _NOT_TEXT.finditer(text)]
    if len(bad) < BINARY_SHARE * len(head):
        return None
    return len(text[: bad[0]].encode("utf-8", "surrogateescape"))


_NOT_TEXT = re.compile("[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f\udc80-\udcff]")


def _refuse_binary(head: bytes, name: str) -> None:
    """Raise :class:`InputFileError` when a log's first bytes are binary data, not text."""
    at = binary_at(head)
    if at is None:
        return
    hint = ""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = "; it is UTF-16: convert it to UTF-8 first (iconv -f UTF-16 -t UTF-8)"
    raise InputFileError(
        f"is not a text log (binary data at byte {at}: 0x{head[at]:02x}){hint}", file=name, code="binary"
    )


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


def _after_first_line(path: Path, name: str) -> bytes:
    """The :data:`_HEAD_BYTES` after the first line of a file whose first line is longer than that
    (gunzipped; the first line is looked through for up to :data:`GZIP_FREE_BYTES`): what a file's
    format is told from when its first line is one long bad line."""
    gz = _is_gzip(path)
    try:
        with path.open("rb") as raw:
            f: Any = gzip.GzipFile(fileobj=raw) if gz else raw
            seen = 0
            while seen < GZIP_FREE_BYTES:
                chunk = f.read(_HEAD_BYTES)
                if not chunk:
                    return b""
                nl = chunk.find(b"\n")
                if nl >= 0:
                    return bytes(chunk[nl + 1 :] + f.read(nl + 1))
                seen += len(chunk)
    except (OSError, EOFError, zlib.error):
        return b""
    return b""


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
    deep: np.ndarray | None = None  # bool: nested deeper than MAX_JSON_DEPTH (odd too; never parsed)

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


_DepthState = tuple[int, bool, int, int, int]


def _window_depths(w: np.ndarray, firsts: np.ndarray, state: _DepthState) -> tuple[np.ndarray, _DepthState]:
    """Deepest nesting in window ``w`` of each line starting at ``firsts`` (relative, sorted; the first is 0).

    Line 0 carries ``state`` = (backslashes just before the window, inside a string, depth, lowest
    depth, deepest rise) from the previous window; the others start afresh. Returns the deepest rise
    of each line and the state at the window's end (for its last line)."""
    bs_in, inq_in, d_in, low_in, top_in = state
    n = int(w.shape[0])
    nl = int(firsts.shape[0])
    # quotes not escaped: an odd run of backslashes before one escapes it
    q = np.flatnonzero(w == 34)
    b = np.flatnonzero(w == 92)
    if b.size:
        new = np.empty(b.size, bool)
        new[0] = True
        new[1:] = np.diff(b) != 1
        run0 = np.maximum.accumulate(np.where(new, b, 0))
        run_len = b - run0 + 1 + np.where(run0 == 0, bs_in, 0)
        if q.size:
            k = np.searchsorted(b, q) - 1
            prev = (k >= 0) & (b[np.maximum(k, 0)] == q - 1)
            esc = np.zeros(q.size, bool)
            esc[prev] = (run_len[k[prev]] % 2) == 1
            if bs_in % 2 and q[0] == 0:
                esc[0] = True
            q = q[~esc]
        bs_out = int(run_len[-1]) if b[-1] == n - 1 else 0
    else:
        if bs_in % 2 and q.size and q[0] == 0:
            q = q[1:]
        bs_out = 0
    # a string cannot span a line end, nor a CR (JSON readers end lines there too, or refuse it)
    cr = np.flatnonzero(w == 13) + 1
    segs = np.union1d(firsts, cr) if cr.size else firsts  # sorted, segs[0] == 0
    carried = 1 if inq_in else 0
    low7 = w | 0x20  # '[' -> '{', ']' -> '}'
    pos = np.flatnonzero((low7 == 123) | (low7 == 125))
    val = np.where(low7[pos] == 123, 1, -1)
    if q.size or carried:  # drop the brackets inside strings
        seg0 = segs[np.searchsorted(segs, pos, side="right") - 1]
        before = np.searchsorted(q, pos) - np.searchsorted(q, seg0) + np.where(seg0 == 0, carried, 0)
        outside = (before & 1) == 0
        pos, val = pos[outside], val[outside]
    # string state at the window's end (of its last segment)
    last = int(segs[-1])
    inq_out = bool((q.size - int(np.searchsorted(q, last)) + (carried if last == 0 else 0)) % 2)
    top = np.zeros(nl, np.int64)
    top[0] = top_in
    if pos.size == 0:
        if nl == 1:
            return top, (bs_out, inq_out, d_in, low_in, top_in)
        return top, (bs_out, inq_out, 0, 0, 0)
    if nl == 1:  # one line (or the middle of one): no resets
        rel = np.cumsum(val) + d_in
        low = np.minimum(np.minimum.accumulate(rel), low_in)
        top[0] = max(top_in, int((rel - low).max()))
        return top, (bs_out, inq_out, int(rel[-1]), int(low[-1]), int(top[0]))
    line = np.searchsorted(firsts, pos, side="right") - 1
    cum = np.cumsum(val)
    change = np.flatnonzero(np.concatenate(([True], line[1:] != line[:-1])))
    base = cum[change] - val[change]
    ln = line[change]
    init_d = np.where(ln == 0, d_in, 0)
    rel = cum - np.repeat(base - init_d, np.diff(np.append(change, pos.size)))
    big = 2 * (abs(d_in) + abs(low_in) + pos.size + 1)
    x = rel - line * big
    low = np.minimum.accumulate(x) + line * big
    low = np.minimum(low, np.where(line == 0, low_in, 0))
    rise = rel - low
    per = np.maximum.reduceat(rise, change)
    top[ln] = np.maximum(top[ln], per)  # each line once: its events are contiguous
    if int(line[-1]) == nl - 1:
        state = (bs_out, inq_out, int(rel[-1]), int(low[-1]), int(top[nl - 1]))
    else:
        state = (bs_out, inq_out, 0, 0, 0)
    return top, state


def line_depths(buf: np.ndarray, firsts: np.ndarray, window: int | None = None) -> np.ndarray:
    """Deepest bracket nesting of each line of ``buf`` (lines start at ``firsts``; the bytes between
    lines are line ends), scanned with numpy in windows of ``window`` bytes (memory stays bounded
    however long a line is), brackets inside strings skipped.

    "Deepest" is the largest rise of the bracket count over the line, so a line that closes more than
    it opened cannot hide a deep part after it; a string ends at a CR too (a JSON reader ends lines
    there, or refuses the CR). For valid JSON it is the nesting depth.

    >>> line_depths(np.frombuffer(b'{"a": [[1]], "b": "[[[["}\\n["\\\\"{"]', np.uint8), np.array([0, 26]))
    array([3, 1])
    """
    window = window or _DEPTH_WINDOW
    n = int(buf.shape[0])
    out = np.zeros(firsts.shape[0], np.int64)
    state: _DepthState = (0, False, 0, 0, 0)
    for w0 in range(0, n, window):
        w1 = min(w0 + window, n)
        k0 = int(np.searchsorted(firsts, w0, side="right")) - 1
        k1 = int(np.searchsorted(firsts, w1, side="left"))
        if firsts[k0] == w0:
            state = (0, False, 0, 0, 0)
        rel = firsts[k0:k1] - w0
        rel[0] = 0
        top, state = _window_depths(buf[w0:w1], rel, state)
        np.maximum(out[k0:k1], top, out=out[k0:k1])
    return out


def _too_deep(a: np.ndarray, lines: _Lines) -> np.ndarray:
    """Mask of the lines nested deeper than :data:`MAX_JSON_DEPTH`, found before any parser sees them
    (pyarrow's JSON reader crashes the process on a line nested some 20,000 deep).

    Only a line longer than the limit can be that deep, and only one with more opening brackets than
    the limit: a span log's lines are short, so the usual cost is one comparison per line; when there
    are long lines, their opening brackets are counted with a chunked numpy scan. Only the lines
    over the limit are scanned for their nesting (:func:`line_depths`), in batches of about
    :data:`_DEPTH_WINDOW` bytes (a longer line alone, not copied).
    """
    deep = np.zeros(len(lines), bool)
    cand = np.flatnonzero((lines.ends - lines.starts) > MAX_JSON_DEPTH)
    if cand.size == 0:
        return deep
    lo, hi = int(lines.starts[cand[0]]), int(lines.ends[cand[-1]])
    found = []
    for off in range(lo, hi, _SCAN_CHUNK):
        chunk = a[off : min(off + _SCAN_CHUNK, hi)]
        pos = np.flatnonzero((chunk | 0x20) == 0x7B)  # '{' or '[' ('[' | 0x20 is '{')
        if pos.size:
            found.append(pos + off)
    opens = np.concatenate(found) if found else np.zeros(0, np.int64)
    counts = np.searchsorted(opens, lines.ends[cand]) - np.searchsorted(opens, lines.starts[cand])
    cand = cand[counts > MAX_JSON_DEPTH]
    if cand.size == 0:
        return deep
    lengths = (lines.ends - lines.starts)[cand]
    huge = lengths > _DEPTH_WINDOW
    for i in cand[huge].tolist():
        s, e = int(lines.starts[i]), int(lines.ends[i])
        deep[i] = bool(line_depths(a[s:e], np.zeros(1, np.int64))[0] > MAX_JSON_DEPTH)
    rest, lens = cand[~huge], lengths[~huge]
    if rest.size == 0:
        return deep
    cum = np.cumsum(lens)
    cuts = np.unique(np.searchsorted(cum, np.arange(_DEPTH_WINDOW, int(cum[-1]), _DEPTH_WINDOW), side="right"))
    for b0, b1 in itertools.pairwise([0, *cuts.tolist(), rest.size]):
        if b1 <= b0:
            continue
        idx, ln = rest[b0:b1], lens[b0:b1]
        firsts = np.concatenate(([0], np.cumsum(ln + 1)[:-1]))
        joined = np.full(int(ln.sum() + ln.size), 10, np.uint8)  # the lines, each ended by a newline
        before = np.concatenate(([0], np.cumsum(ln)[:-1]))
        k = np.arange(int(ln.sum()), dtype=np.int64)
        joined[k + np.repeat(firsts - before, ln)] = a[k + np.repeat(lines.starts[idx] - before, ln)]
        deep[idx] = line_depths(joined, firsts) > MAX_JSON_DEPTH
    return deep


def _bad_utf8(buf: pa.Buffer, lines: _Lines, among: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of the lines ``among`` (indices) hold invalid UTF-8, and the 1-based byte of the first bad
    one in each: time linear in the bytes, with Python work per bad line only.

    Blocks of whole lines that are plain ASCII are passed over by a numpy test; the others are
    decoded, and each error resumes the decoding at the next line.
    """
    a = np.frombuffer(buf, dtype=np.uint8)
    view = memoryview(buf)
    starts, nexts = lines.starts, lines.nexts
    bad: list[int] = []
    at: list[int] = []
    if among.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cuts = np.searchsorted(starts[among], np.arange(0, int(nexts[among[-1]]), FALLBACK_BLOCK))
    for b0, b1 in itertools.pairwise([*np.unique(cuts).tolist(), among.size]):
        if b1 <= b0:
            continue
        first, last = int(among[b0]), int(among[b1 - 1])
        lo, hi = int(starts[first]), int(nexts[last])
        if hi <= lo or int(a[lo:hi].max()) < 0x80:
            continue
        pos = lo
        while pos < hi:
            try:
                codecs.utf_8_decode(view[pos:hi], "strict", True)
                break
            except UnicodeDecodeError as e:
                p = pos + e.start
                i = int(np.searchsorted(starts, p, side="right")) - 1
                bad.append(i)
                at.append(p - int(starts[i]) + 1)
                pos = int(nexts[i])
    if not bad:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    got, where = np.array(bad, np.int64), np.array(at, np.int64)
    keep = np.isin(got, among)  # a bad line between two of ``among`` counts only if it is one of them
    return got[keep], where[keep]


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


def classify_line(raw: bytes, parser_message: str = "") -> tuple[str, str]:
    """Why one line is not a span: ``(reason code, message)``. Used on lines the parser refused.

    >>> classify_line(b'{"request_id": 1}')
    ('wrong-type', 'request_id: expected string, got number (1)')
    >>> classify_line(b'{"op": "a"')[0]
    'malformed-json'
    """
    return line_problem(raw) or (
        "malformed-json",
        f"rejected by the JSON parser ({parser_message or 'unknown reason'})",
    )


def line_problem(raw: bytes) -> tuple[str, str] | None:
    """What :func:`classify_line` finds wrong with a line with ``json``, or ``None`` when ``json`` reads
    it as an object whose keys have the types the span columns take.

    >>> line_problem(b'{"op": "a", "latency_ms": 2}') is None, line_problem(b"[1]")[0]
    (True, 'not-an-object')
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return "bad-encoding", f"invalid UTF-8 at byte {e.start + 1} of the line"
    try:
        obj = json.loads(text, object_pairs_hook=_no_dupes, parse_int=parse_int)
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
    return None


def _map(path: str) -> pa.Buffer:
    try:
        return pa.memory_map(path, "r").read_buffer()
    except OSError as e:
        raise InputFileError(f"cannot read ({e.strerror or e})", file=path, code="unreadable") from None


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
    buf = source if isinstance(source, pa.Buffer) else _map(source)
    a = np.frombuffer(buf, dtype=np.uint8)
    lines = _index_lines(a)
    deep = _too_deep(a, lines)
    del a, buf
    if deep.any():  # never handed to a parser: the slow path rejects them unread
        lines = dataclasses.replace(lines, odd=lines.odd | deep, deep=deep)
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
        head = _Lines(
            lines.starts[:cut],
            lines.ends[:cut],
            lines.nexts[:cut],
            lines.blank[:cut],
            lines.odd[:cut],
            None if lines.deep is None else lines.deep[:cut],
        )
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
    odd = lines.odd
    # lines of invalid UTF-8 are found in one linear pass and rejected unparsed (bisecting a block
    # for each of them cost time quadratic in their number)
    bad, at = _bad_utf8(buf, lines, np.flatnonzero(~odd & ~lines.blank))
    if bad.size:
        for i, col in zip(bad.tolist(), at.tolist(), strict=True):
            rej.add(i + 1, "bad-encoding", f"invalid UTF-8 at byte {col} of the line")
        odd = odd.copy()
        odd[bad] = True
        skip = np.zeros(len(lines), bool)
        skip[bad] = True
    odd_idx = np.flatnonzero(odd & ~skip) if bad.size else np.flatnonzero(odd)
    deep = lines.deep
    tables: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    if not odd.any():
        clean_buf, clean_lines, clean_no = buf, lines, np.arange(1, len(lines) + 1, dtype=np.int64)
    else:
        keep = np.flatnonzero(~odd)
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
        if deep is not None and deep[i]:
            rej.add(i + 1, "malformed-json", f"nested more than {MAX_JSON_DEPTH} levels deep (not read)")
            continue
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
    limit: int | None = 16,
) -> None:
    """Parse ``buf`` (lines shaped ``{...}`` or blank) in blocks, bisecting failed blocks to single lines.

    ``line_no[i]`` is the file line of ``buf``'s line ``i``. Accepted tables and their line numbers
    are appended to ``tables`` and ``numbers``; bad lines are added to ``rej``.

    Each failed parse costs a parser call, so a block in which more than ``limit`` parses failed
    (many bad lines: bisecting them all took time quadratic in their number) has its remaining
    lines sifted with ``json`` one by one instead (:func:`_sift`): a cost per line, not per bad line.
    """
    nonblank = ~lines.blank
    nonblank_cum = np.concatenate(([0], np.cumsum(nonblank)))
    cuts = np.searchsorted(lines.starts, np.arange(0, buf.size, FALLBACK_BLOCK))
    bounds = np.unique(np.concatenate((cuts, [len(lines)])))
    for b0, b1 in itertools.pairwise(bounds.tolist()):
        work = [(b0, b1)]
        failed = 0
        while work:
            i, j = work.pop()
            nb = int(nonblank_cum[j] - nonblank_cum[i])
            if nb == 0:
                continue
            if limit is not None and failed > limit and j - i > 1:
                rest = np.concatenate([np.arange(a, b) for a, b in ((i, j), *work)])
                work.clear()
                _sift(buf, lines, np.sort(rest[nonblank[rest]]), line_no, rej, tables, numbers)
                break
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
            failed += 1
            if 0 <= hint < nb:
                # the parser named the bad row: split around that line (verified, since a wrong
                # guess only makes smaller ranges that are parsed again)
                k = i + int(np.flatnonzero(nonblank[i:j])[hint])
                work.extend(((k + 1, j), (k, k + 1), (i, k)))
                continue
            mid = (i + j) // 2
            work.append((mid, j))
            work.append((i, mid))


def _sift(
    buf: pa.Buffer,
    lines: _Lines,
    idx: np.ndarray,
    line_no: np.ndarray,
    rej: _Rejects,
    tables: list[pa.Table],
    numbers: list[np.ndarray],
) -> None:
    """The lines ``idx`` (sorted, non-blank) of a block with many bad lines: each is read by ``json``
    (:func:`line_problem`), the bad ones rejected with their reason, the others parsed together (and
    bisected, without a limit, in the rare case the parser still refuses one)."""
    view = memoryview(buf)
    good: list[int] = []
    for i in idx.tolist():
        problem = line_problem(bytes(view[int(lines.starts[i]) : int(lines.ends[i])]))
        if problem is None:
            good.append(i)
        else:
            rej.add(int(line_no[i]), *problem)
    if not good:
        return
    keep = np.array(good, np.int64)
    joined = _join(buf, lines, keep)
    _bisect(joined, _index_lines(np.frombuffer(joined, dtype=np.uint8)), line_no[keep], rej, tables, numbers, None)


# ---- checks on parsed spans (vectorised) ---------------------------------------------------------


def _present(table: pa.Table, name: str) -> np.ndarray:
    """Rows where column ``name`` is not null (NaN is present)."""
    col = table.column(name)
    if col.null_count == 0:
        return np.ones(table.num_rows, bool)
    return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)


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
    if not _in_range(table.column("latency_ms"), 0, MAX_LATENCY_MS):
        return False
    start = table.column("start_ms")
    if not _in_range(start, -MAX_MS, MAX_MS):
        return False
    lo, hi = SECONDS_BAND  # a start in seconds (rare): the per-row check names it
    if pc.any(pc.and_(pc.greater_equal(pc.abs(start), lo), pc.less(pc.abs(start), hi))).as_py():
        return False
    if not set(pc.unique(table.column("status")).to_pylist()) <= set(STATUSES):
        return False
    if not _in_range(table.column("sample_rate"), 0, 1, lo_open=True):
        return False
    if not all(_in_range(table.column(c), 0, MAX_VALUES[c]) for c in _VALUE_COLS):
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
    bad_lat = ~missing & ~((lat >= 0) & (lat <= MAX_LATENCY_MS))  # NaN fails both

    def lat_msg(r: int) -> str:
        v = float(lat[r])
        return f"latency_ms is {v!r}" + (" (over 30 days)" if math.isfinite(v) and v > MAX_LATENCY_MS else "")

    checks.append(("bad-latency", bad_lat, lat_msg))

    start = _np(table, "start_ms")
    abs_start = np.abs(start)
    seconds = (abs_start >= SECONDS_BAND[0]) & (abs_start < SECONDS_BAND[1])
    bad_start = ~missing & (~(abs_start <= MAX_MS) | seconds)

    def start_msg(r: int) -> str:
        v = float(start[r])
        if not math.isfinite(v):
            return f"start_ms is {v!r}"
        if seconds[r]:
            return (
                f"start_ms is {v!r}: seconds, not epoch milliseconds ({_iso(v)} as milliseconds, "
                f"{_iso(v * 1000.0)} as seconds; write start_ms = seconds * 1000)"
            )
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

    # a key written NaN (the parser takes the literal) is a value, and a bad one: only null is absent
    sr = _np(table, "sample_rate")
    bad_sr = _present(table, "sample_rate") & ~((sr > 0) & (sr <= 1))
    checks.append(("bad-sample-rate", bad_sr, lambda r: f"sample_rate {float(sr[r])!r} is not a number in (0, 1]"))

    values = {c: _np(table, c) for c in _VALUE_COLS}
    bad_by_col = {c: _present(table, c) & ~((v >= 0) & (v <= MAX_VALUES[c])) for c, v in values.items()}
    bad_value = np.zeros(n, bool)
    for m in bad_by_col.values():
        bad_value |= m

    def value_msg(r: int) -> str:
        c = next(c for c, m in bad_by_col.items() if m[r])
        v = float(values[c][r])
        big = math.isfinite(v) and v > MAX_VALUES[c]
        return f"{c} is {v!r}" + (f" (over {MAX_VALUES[c]:g}, the most one call is taken to have)" if big else "")

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
    _check_file(path, name)
    head = _head(path, name)  # the first bytes, gunzipped
    _refuse_compressed(head, name)
    _refuse_binary(head, name)
    rej = _Rejects(name)
    fmt = log_format
    if fmt == "auto":
        fmt = detect_format(head)
        if fmt != "native" and len(head) >= _HEAD_BYTES and b"\n" not in head:
            # one first line longer than the head: the format is told from what follows it, so that
            # one bad line (200 KB of '[') is a rejected line, not a file of an unknown format
            after = _after_first_line(path, name)
            if after.strip() and detect_format(after) != "unknown":
                fmt = detect_format(after)
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
    So is binary input, on its first chunk (``< /dev/zero`` would otherwise be copied without end:
    a gzip stream is let through and its content checked once read), and input beyond
    :data:`MAX_STDIN` bytes.
    """
    stream = sys.stdin
    if stream is None:
        raise InputFileError("no standard input to read", file=STDIN_NAME, code="no-stdin")
    if stream.isatty():
        raise InputFileError("standard input is a terminal; pipe a log into it", file=STDIN_NAME, code="stdin-tty")
    source: Any = getattr(stream, "buffer", stream)  # the bytes under the text layer
    with tempfile.TemporaryDirectory(prefix="recipemut-stdin-") as folder:
        copy = Path(folder) / "stdin"
        try:
            with copy.open("wb") as out:
                first = source.read(_HEAD_BYTES)
                if compressed_with(first) is None and first[:2] != GZIP_MAGIC:
                    _refuse_binary(first, STDIN_NAME)
                out.write(first)
                total = len(first)
                while chunk := source.read(_COPY_CHUNK):
                    total += len(chunk)
                    if total > MAX_STDIN:
                        raise InputFileError(
                            f"standard input holds more than {_mib(MAX_STDIN)}; give the log as a file",
                            file=STDIN_NAME,
                            code="too-large",
                        )
                    out.write(chunk)
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
        One log file or several (native JSONL, plain or gzip; other formats via ``recipemut.logs.traces``);
        ``-`` (at most once) is standard input, called ``<stdin>`` in the report and messages.
    recipe
        When given, spans of another recipe or of operations it does not define are excluded
        and counted in the report.
    strict
        Raise on the first rejected line instead of counting it.
    sample_rate
        Sampling rate of spans that do not carry one (default 1.0: every request logged).
    log_format
        ``"auto"`` (detect per file), ``"native"``, or a format name ``recipemut.logs.traces`` reads.
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
