"""What the trace readers share: reading a (gzipped) document, the raw span columns, attribute values.

Each reader (``otlp``, ``jaeger``, ``zipkin``) turns its document into one *raw span frame*: a
``pandas.DataFrame`` with the columns of :data:`RAW_COLUMNS` plus one ``attr:<key>`` column per
attribute the mapping asked for (strings, ``None`` where absent). :mod:`.normalise` then fixes the
warts of real traces and maps spans to recipe operations. The readers collect plain lists and build
the frame once; per span they do only the dictionary look-ups the format forces on them.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputFileError, LogError

#: Columns every reader produces, in this order (then the ``attr:*`` columns).
RAW_COLUMNS = (
    "trace_id",  # str, lower-case
    "span_id",  # str, lower-case
    "parent_id",  # str | None: the parent span inside ``parent_trace_id``
    "parent_trace_id",  # str | None: the parent's trace when the format says (Jaeger refs)
    "name",  # str: span / operation name
    "service",  # str | None: the emitting service (OTLP resource, Jaeger process, Zipkin localEndpoint)
    "peer_service",  # str | None: the called service when known (Zipkin remoteEndpoint, peer.service)
    "kind",  # str | None: client | server | producer | consumer | internal
    "start_ns",  # int64: epoch nanoseconds
    "dur_ns",  # int64: nanoseconds (-1 when missing)
    "error",  # bool: the format's own error marker
    "shared",  # bool: Zipkin's "shared" server half of an RPC span
    "foreign_ref",  # bool: the span references a span of another trace (Jaeger references)
    "index",  # int64: 1-based position of the span in the file
)

#: Attributes (tags) always extracted: operation naming, recipe identity, sampling, status.
DEFAULT_ATTRIBUTES = (
    "recipe.operation",
    "recipe.version",
    "recipe.variant",
    "sampling.priority",
    "sampler.type",
    "sampler.param",
    "sampling.probability",
    "SampleRate",
    "tracestate",
    "otel.status_code",
    "peer.service",
)

MAX_BYTES = 4 * 1024**3  # refuse documents larger than this (decompressed)


def attr_str(v: Any) -> str | None:
    """One attribute value as the string the mapping compares against.

    >>> attr_str(True), attr_str(3), attr_str(2.5), attr_str("x"), attr_str(None)
    ('true', '3', '2.5', 'x', None)
    """
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def read_bytes(path: Path) -> bytes:
    """The whole file, gunzipped when it is gzip; user errors as :class:`InputFileError`."""
    try:
        if path.is_dir():
            raise InputFileError("is a directory, not a trace file", file=str(path), code="not-a-file")
        with path.open("rb") as fh:
            magic = fh.read(2)
            fh.seek(0)
            if magic == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    data = gz.read(MAX_BYTES + 1)
            else:
                data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputFileError("no such file", file=str(path), code="missing-file") from None
    except (OSError, EOFError, zlib.error) as e:
        raise InputFileError(f"cannot read: {e}", file=str(path), code="unreadable") from None
    if len(data) > MAX_BYTES:
        raise InputFileError(f"larger than {MAX_BYTES} bytes decompressed", file=str(path), code="too-large")
    return data


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first ``size`` bytes of the file, gunzipped when it is gzip (for format detection)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(size)
        if head[:2] == b"\x1f\x8b":
            return gunzip_head(head, size)
        return head
    except FileNotFoundError:
        raise InputFileError("no such file", file=str(path), code="missing-file") from None
    except IsADirectoryError:
        raise InputFileError("is a directory, not a trace file", file=str(path), code="not-a-file") from None
    except OSError as e:
        raise InputFileError(f"cannot read: {e}", file=str(path), code="unreadable") from None


def gunzip_head(head: bytes, size: int = 65536) -> bytes:
    """As much of a gzip stream's start as ``head`` holds, decompressed (at most ``size`` bytes).

    >>> gunzip_head(gzip.compress(b'{"resourceSpans": []}'))
    b'{"resourceSpans": []}'
    """
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, size)
    except zlib.error:
        return b""


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def iter_documents(data: bytes, path: Path) -> Iterator[Any]:
    """Every top-level JSON value in the file: one document, or several (JSON lines, concatenated).

    The OpenTelemetry Collector's file exporter writes one ``ExportTraceServiceRequest`` per line;
    exports from Jaeger and Zipkin are one document. Both are read here.

    >>> list(iter_documents(b'{"a": 1}\\n{"a": 2}\\n', Path("x.json")))
    [{'a': 1}, {'a': 2}]
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line, col = _line_col(data[: e.start].decode("utf-8", "replace"), e.start)
        raise LogError("not UTF-8 text", file=str(path), line=line, column=col, code="not-utf8") from None
    decoder = json.JSONDecoder()
    pos, n = 0, len(text)
    ws = " \t\r\n"
    found = False
    while True:
        while pos < n and text[pos] in ws:
            pos += 1
        if pos >= n:
            break
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            line, col = _line_col(text, e.pos)
            raise LogError(f"not valid JSON: {e.msg}", file=str(path), line=line, column=col, code="bad-json") from None
        found = True
        yield doc
    if not found:
        raise LogError("empty trace file", file=str(path), code="empty")


def shape_error(path: Path, what: str, where: str) -> LogError:
    """A document of the right format with a part of the wrong shape."""
    return LogError(f"{where}: {what}", file=str(path), code="bad-shape")


class Columns:
    """Column lists filled span by span, turned into the raw frame once at the end."""

    def __init__(self, attributes: Iterable[str]) -> None:
        self.cols: dict[str, list[Any]] = {c: [] for c in RAW_COLUMNS}
        self.attr_keys = tuple(dict.fromkeys(attributes))
        self.attrs: dict[str, list[str | None]] = {k: [] for k in self.attr_keys}

    def __len__(self) -> int:
        return len(self.cols["trace_id"])

    def frame(self) -> pd.DataFrame:
        """The raw span frame (see :data:`RAW_COLUMNS`)."""
        c = self.cols
        df = pd.DataFrame(
            {
                "trace_id": pd.array(c["trace_id"], dtype=object),
                "span_id": pd.array(c["span_id"], dtype=object),
                "parent_id": pd.array(c["parent_id"], dtype=object),
                "parent_trace_id": pd.array(c["parent_trace_id"], dtype=object),
                "name": pd.array(c["name"], dtype=object),
                "service": pd.array(c["service"], dtype=object),
                "peer_service": pd.array(c["peer_service"], dtype=object),
                "kind": pd.array(c["kind"], dtype=object),
                "start_ns": np.asarray(c["start_ns"], dtype=np.int64),
                "dur_ns": np.asarray(c["dur_ns"], dtype=np.int64),
                "error": np.asarray(c["error"], dtype=bool),
                "shared": np.asarray(c["shared"], dtype=bool),
                "foreign_ref": np.asarray(c["foreign_ref"], dtype=bool),
                "index": np.asarray(c["index"], dtype=np.int64),
            }
        )
        for k in self.attr_keys:
            df["attr:" + k] = pd.array(self.attrs[k], dtype=object)
        return df


def empty_raw(attributes: Iterable[str]) -> pd.DataFrame:
    """A raw frame with no rows."""
    return Columns(attributes).frame()


def to_int(v: Any) -> int | None:
    """An integer from a JSON number or a decimal string (OTLP writes int64 as strings).

    >>> to_int("1706678909209712000"), to_int(12.0), to_int("x"), to_int(None)
    (1706678909209712000, 12, None, None)
    """
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v) if v == v else None
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                return None
            return int(f) if f == f else None
    return None
