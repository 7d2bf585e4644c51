"""What the trace readers share: reading a (gzipped) document, the raw span columns, attribute values.

Each reader (``otlp``, ``jaeger``, ``zipkin``) turns its document into one *raw span frame*: a
``pandas.DataFrame`` with the columns of :data:`RAW_COLUMNS` plus one ``attr:<key>`` column per
attribute the mapping asked for (strings, ``None`` where absent). :mod:`.normalise` then fixes the
warts of real traces and maps spans to recipe operations. The readers collect plain lists and build
the frame once; per span they do only the dictionary look-ups the format forces on them.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import InputFileError, LogError
from recipemut.files.compressed import MAX_DECOMPRESSED, STREAM_ERRORS, inflate
from recipemut.files.compressed import read_head as read_decompressed_head
from recipemut.logs.jsonerrors import json_error, parse_int

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

#: refuse documents larger than this (decompressed): the one cap of :mod:`recipemut.files.compressed`
MAX_BYTES = MAX_DECOMPRESSED
#: the largest start or duration the Jaeger and Zipkin readers take, in nanoseconds: 2**62 (about 146
#: years, as native ingest), so that a start plus a duration is still an int64 and a date
MAX_NS = 2**62


def attr_str(v: Any) -> str | None:
    """One attribute value as the string the mapping compares against (floats as arrow writes them).

    >>> attr_str(True), attr_str(3), attr_str(2.5), attr_str(1.0), attr_str("x"), attr_str(None)
    ('true', '3', '2.5', '1', 'x', None)
    """
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(pc.cast(pa.scalar(v, pa.float64()), pa.string()).as_py())
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def text(v: Any, path: Path, where: str, key: str) -> str | None:
    """A value that names something (an id, a name, a service) as a string: a string as it is, a
    number or a boolean as JSON writes it, null as ``None``; an object or a list is a
    :class:`~recipemut.errors.LogError` naming the part.

    >>> [text(v, Path("t.json"), "span 1", "id") for v in ("a", 12, True, None)]
    ['a', '12', 'true', None]
    >>> text({"x": 1}, Path("t.json"), "span 3", "localEndpoint.serviceName")
    Traceback (most recent call last):
    recipemut.errors.LogError: t.json: span 3: localEndpoint.serviceName is a JSON object, expected a string
    """
    if v is None or type(v) is str:
        return v
    if isinstance(v, (dict, list)):
        raise shape_error(path, f"{key} is a JSON {json_kind(v)}, expected a string", where)
    return attr_str(v)


def json_kind(v: Any) -> str:
    """What a parsed JSON value is, as messages say it.

    >>> [json_kind(v) for v in ({}, [], "", 1, 1.5, True, None)]
    ['object', 'list', 'string', 'number', 'number', 'boolean', 'null']
    """
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "list"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "boolean"
    return "null" if v is None else "number"


def strings(values: list[Any]) -> pa.Array:
    """Attribute values (any JSON scalar) as an arrow string array, formatted like :func:`attr_str`.

    >>> strings(["a", None, 2, 0.5, True]).to_pylist()
    ['a', None, '2', '0.5', 'true']
    """
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    floats = [i for i, v in enumerate(values) if type(v) is float]
    out = [None if type(v) is float else attr_str(v) for v in values]
    if floats:
        cast = pc.cast(pa.array([values[i] for i in floats], pa.float64()), pa.string()).to_pylist()
        for i, text in zip(floats, cast, strict=True):
            out[i] = text
    return pa.array(out, pa.string())


#: Arrow type of each raw column.
RAW_TYPES = {
    "trace_id": pa.string(),
    "span_id": pa.string(),
    "parent_id": pa.string(),
    "parent_trace_id": pa.string(),
    "name": pa.string(),
    "service": pa.string(),
    "peer_service": pa.string(),
    "kind": pa.string(),
    "start_ns": pa.int64(),
    "dur_ns": pa.int64(),
    "error": pa.bool_(),
    "shared": pa.bool_(),
    "foreign_ref": pa.bool_(),
    "index": pa.int64(),
}


def raw_table(columns: dict[str, Any], attributes: dict[str, Any]) -> pa.Table:
    """The raw span table from arrow arrays (or lists): :data:`RAW_COLUMNS` typed as :data:`RAW_TYPES`,
    then one ``attr:<key>`` column per attribute."""
    arrays: dict[str, Any] = {}
    for name in RAW_COLUMNS:
        v = columns[name]
        arrays[name] = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, RAW_TYPES[name])
    for k, v in attributes.items():
        arrays["attr:" + k] = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else strings(v)
    return pa.table(arrays)


def raw_frame(columns: dict[str, Any], attributes: dict[str, Any]) -> pd.DataFrame:
    """The raw span frame from arrow arrays (or lists): strings stay arrow-backed, no Python objects."""
    return raw_table(columns, attributes).to_pandas()


def read_bytes(
    path: Path, *, limit: int | None = None, what: str = "trace file", too_large: str | None = None
) -> bytes:
    """The whole file, gunzipped when it is gzip, at most ``limit`` bytes of it (default
    :data:`MAX_BYTES`); user errors as :class:`InputFileError` (``what`` the file should be;
    ``too_large`` the message past the limit)."""
    limit = MAX_BYTES if limit is None else limit
    try:
        if path.is_dir():
            raise InputFileError(f"is a directory, not a {what}", file=str(path), code="not-a-file")
        data, cut = inflate(path, limit)
    except FileNotFoundError:
        raise InputFileError("no such file", file=str(path), code="missing-file") from None
    except STREAM_ERRORS as e:
        raise InputFileError(f"cannot read: {e}", file=str(path), code="unreadable") from None
    if cut is not None:
        raise InputFileError(f"cannot read: {cut}", file=str(path), code="unreadable")
    if len(data) > limit:
        message = too_large or f"larger than {limit} bytes decompressed"
        raise InputFileError(message, file=str(path), code="too-large")
    return bytes(data) if isinstance(data, bytearray) else data


def read_head(path: Path, size: int = 65536) -> bytes:
    """The first ``size`` bytes of the file, gunzipped when it is gzip (for format detection)."""
    try:
        return read_decompressed_head(path, size)
    except FileNotFoundError:
        raise InputFileError("no such file", file=str(path), code="missing-file") from None
    except IsADirectoryError:
        raise InputFileError("is a directory, not a trace file", file=str(path), code="not-a-file") from None
    except STREAM_ERRORS as e:
        raise InputFileError(f"cannot read: {e}", file=str(path), code="unreadable") from None


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
        start = e.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # utf-8-sig counts after the BOM
        line = data.count(b"\n", 0, start) + 1
        col = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise LogError(
            f"not UTF-8 text (byte {col} of the line is 0x{data[start]:02x})",
            file=str(path),
            line=line,
            column=col,
            code="not-utf8",
        ) from None
    decoder = json.JSONDecoder()
    # a decoder that reads an integer of more than 4,300 digits (a ValueError of Python's) as infinite,
    # out of range for every field; used only on a value the fast one failed on
    careful = json.JSONDecoder(parse_int=parse_int)
    pos, n = 0, len(text)
    ws = " \t\r\n"
    found = False
    one_per_line = True  # every value so far sits on one line (JSON lines, as the Collector writes them)
    while True:
        while pos < n and text[pos] in ws:
            pos += 1
        if pos >= n:
            break
        try:
            try:
                doc, end = decoder.raw_decode(text, pos)
            except ValueError as e:
                if isinstance(e, json.JSONDecodeError):
                    raise
                doc, end = careful.raw_decode(text, pos)
        except RecursionError:
            first = text.count("\n", 0, pos) + 1
            raise LogError(
                f"the JSON value that starts on line {first} is nested too deeply to read",
                file=str(path),
                line=first,
                code="bad-json",
            ) from None
        except json.JSONDecodeError as e:
            what, line, col = json_error(e)
            first = text.count("\n", 0, pos) + 1
            if line != first and found and one_per_line:
                # JSON lines (every value so far on its own line) whose value runs past its line: that
                # line is where the fault is, most likely cut short; say where the parser stopped too
                end = text.find("\n", pos)
                what = (
                    f"the JSON value on line {first} does not end on its line (cut short?); read on, it fails at "
                    f"line {line} column {col}: {what.removesuffix(' (cut short?)')}"
                )
                line, col = first, len(text[text.rfind("\n", 0, pos) + 1 : end].rstrip())
            elif line != first and found:  # several values: say which one
                what += f" (in the JSON value that starts on line {first})"
            raise LogError(f"not valid JSON: {what}", file=str(path), line=line, column=col, code="bad-json") from None
        one_per_line = one_per_line and "\n" not in text[pos:end].strip()
        pos = end
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
        self.attrs: dict[str, list[Any]] = {k: [] for k in self.attr_keys}

    def __len__(self) -> int:
        return len(self.cols["trace_id"])

    def frame(self) -> pd.DataFrame:
        """The raw span frame (see :data:`RAW_COLUMNS`)."""
        return raw_frame(self.cols, {k: self.attrs[k] for k in self.attr_keys})


def to_float(s: pd.Series | None, n: int) -> np.ndarray:
    """A string column as float64 (NaN where null or not a number), cast by arrow when it can.

    >>> to_float(pd.Series(["1.5", None, "x"]), 3).tolist()
    [1.5, nan, nan]
    """
    if s is None:
        return np.full(n, np.nan)
    arr = pa.array(s, from_pandas=True)
    if arr.null_count == len(arr):
        return np.full(n, np.nan)
    try:
        return np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return np.asarray(pd.to_numeric(s, errors="coerce"), dtype=float)


def micros_ns(v: Any) -> int:
    """Microseconds (a JSON number or a decimal string) as nanoseconds; -1 (no usable time: the
    span is counted invalid) when missing, not a number, or beyond :data:`MAX_NS`.

    >>> micros_ns(1500), micros_ns("2"), micros_ns(-3), micros_ns(10**30), micros_ns("x"), micros_ns(None)
    (1500000, 2000, -3000, -1, -1, -1)
    """
    us = to_int(v)
    if us is None or abs(us) > MAX_NS // 1000:
        return -1
    return us * 1000


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
        return int(v) if math.isfinite(v) else None
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                f = float(v)
            except ValueError:
                return None
            return int(f) if math.isfinite(f) else None
    return None


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused while a trace reader decodes: decoding makes millions of
    objects without cycles, and each collection would walk every one of them (a third of the OTLP
    read's time, measured)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
