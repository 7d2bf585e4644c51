"""The columnar reading of a Zipkin v2 JSON document: msgspec typed structs, then arrow columns.

:func:`parse_table` reads a file that is one JSON list of spans (or of traces, each a list of
spans): msgspec finds each span's JSON text (:func:`split`), then decodes :data:`PART_SPANS` spans
at a time into :class:`Span` structs, which declare only the members the raw span frame reads (the
rest, ``annotations`` and endpoint addresses among them, are checked as JSON and skipped), their
``tags`` a struct of the tags wanted (:func:`decoders`: no dictionary a span). Each column is then
taken from the structs a member at a time (``map(attrgetter)``) and typed with arrow and numpy; a
Python loop runs only over the values of a column arrow cannot type at once (a number where an id
is text, a time written as text).

It gives the table :func:`recipemut.logs.zipkin.parse_spans` gives, or ``None`` where it does not
take the file, which that per-span reader then reads (and whose errors name the span): a file that
is not one JSON document msgspec reads (several documents, ``NaN``, a lone surrogate, nesting too
deep, a number beyond a double or 64 bits, bytes that are not UTF-8), a document that is not a list
of span objects or of lists of them, and a span member of a shape the per-span reader refuses or
reads otherwise (an object or list where a name or id is text, an endpoint or tags that are not an
object or null).
"""

from __future__ import annotations

import codecs
import functools
import io
import re
from collections.abc import Iterable
from itertools import chain, compress, repeat
from operator import attrgetter, is_not
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.common import MAX_NS, micros_ns, no_cycle_collection, raw_table, strings, text
from recipemut.logs.otlp import lower_like_python, scatter

UNSET: Any = msgspec.UNSET
#: a JSON scalar: what a name or id may be (an object or a list is refused by the decoder)
Scalar = str | int | float | bool | None


class Endpoint(msgspec.Struct, rename="camel", gc=False):
    service_name: Scalar = None


class Span(msgspec.Struct, rename="camel", gc=False):
    """The members of a Zipkin span the raw frame reads, as JSON gave them; ``tags`` is added by
    :func:`decoders`, as a struct of the tags wanted."""

    trace_id: Scalar = None
    id: Scalar = None
    parent_id: Scalar = None
    name: Scalar = None
    kind: Any = None
    timestamp: Any = None
    duration: Any = None
    local_endpoint: Endpoint | None = None
    remote_endpoint: Endpoint | None = None
    shared: Any = None


class Decoders(NamedTuple):
    """The decoder of a list of spans that keep the tags wanted."""

    spans: msgspec.json.Decoder[Any]
    #: the member of the tags struct that holds each tag wanted (``error`` and ``peer.service`` among them)
    fields: dict[str, str]


@functools.lru_cache(maxsize=8)
def decoders(keys: tuple[str, ...]) -> Decoders:
    """Decoders for spans whose ``tags`` object is a struct of the tags in ``keys`` (with ``error``
    and ``peer.service``): the other tags are checked as JSON and skipped, no dictionary is built.
    A tag written twice is its last value, as ``json`` reads it; an absent tag is ``None``, but
    ``error`` is UNSET when absent (its presence, even as ``null``, marks the error)."""
    wanted = tuple(dict.fromkeys(("error", "peer.service", *keys)))
    fields = {k: f"t{i}" for i, k in enumerate(wanted)}
    members = [(f, Any, UNSET if k == "error" else None) for k, f in fields.items()]
    tags = msgspec.defstruct("Tags", members, rename={f: k for k, f in fields.items()}, gc=False)
    tagged = msgspec.defstruct("TaggedSpan", [("tags", tags | None, None)], bases=(Span,), gc=False)
    return Decoders(msgspec.json.Decoder(list[tagged]), fields)  # type: ignore[valid-type]


#: what msgspec refuses in a struct member's JSON name (a mapping may read a tag named so)
_NOT_A_FIELD = re.compile(r'[\\"\x00-\x1f]')
#: the first byte of the document's first member: ``[`` for a list of traces
_FIRST = re.compile(rb"[ \t\r\n]*\[[ \t\r\n]*(.)", re.DOTALL)
#: bytes checked as UTF-8 at a time (msgspec checks the strings it keeps, not those it skips)
_UTF8_BLOCK = 1 << 24
#: the largest time in microseconds the readers take (:data:`.common.MAX_NS` in nanoseconds)
_MAX_US = MAX_NS // 1000
#: spans decoded into structs and made columns at a time: a part's structs are let go before the
#: next part is decoded (1.01 M spans at once peaked at 1.86 GB, in parts at 0.96 GB, same CPU)
PART_SPANS = 1 << 17
_RAW_SPANS = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_TRACES = msgspec.json.Decoder(list[list[msgspec.Raw]])


def parse_table(data: bytes, path: Path, attributes: Iterable[str]) -> pa.Table | None:
    """The raw span table of a Zipkin file's bytes (see :data:`.common.RAW_COLUMNS`), or ``None``
    where the per-span reader must read it (see the module's text)."""
    keys = tuple(dict.fromkeys(attributes))
    if any(_NOT_A_FIELD.search(k) for k in keys):  # msgspec cannot name a struct member so: per span
        return None
    with no_cycle_collection():
        raws = split(data)
        if raws is None:
            return None
        decode = decoders(keys).spans
        tables = []
        buf = io.BytesIO()  # one buffer for every part's JSON list (a fresh join a part costs page faults)
        for at in range(0, max(len(raws), 1), PART_SPANS):
            buf.seek(0)
            buf.truncate()
            buf.write(b"[")
            buf.write(b",".join(raws[at : at + PART_SPANS]))
            buf.write(b"]")
            try:
                with buf.getbuffer() as view:
                    spans = decode.decode(view)
            except (msgspec.DecodeError, RecursionError):  # (a ValidationError is a DecodeError)
                return None
            tables.append(_table(spans, path, keys, at))
            del spans
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def split(data: bytes) -> list[msgspec.Raw] | None:
    """The JSON text of each span of one JSON list of spans (or of traces), in file order; ``None``
    where msgspec refuses the file (checked as JSON, the spans as UTF-8)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not body.isascii() and not _utf8(body):
        return None
    first = _FIRST.match(body)
    try:
        if first is not None and first.group(1) == b"[":
            return list(chain.from_iterable(_RAW_TRACES.decode(body)))
        return _RAW_SPANS.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None


def _utf8(body: bytes) -> bool:
    """Whether the bytes are UTF-8, checked a block at a time (no copy of the whole file as text)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    try:
        for at in range(0, len(body), _UTF8_BLOCK):
            decoder.decode(view[at : at + _UTF8_BLOCK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _field(items: list[Any], name: str) -> list[Any]:
    return list(map(attrgetter(name), items))


def _present(values: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Where ``values`` are not ``None``, and those values."""
    has = np.fromiter(map(is_not, values, repeat(None)), bool, len(values))
    return has, values if has.all() else list(compress(values, has))


def _texts(values: list[Any], path: Path, key: str) -> pa.Array:
    """Names and ids as :func:`.common.text` gives them (numbers and booleans as JSON writes them)."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([text(v, path, "span", key) for v in values], pa.string())


def _micros(values: list[Any]) -> np.ndarray:
    """Microseconds as nanoseconds, -1 where :func:`.common.micros_ns` says no usable time."""
    n = len(values)
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        arr = None
    if arr is not None and pa.types.is_null(arr.type):
        return np.full(n, -1, dtype=np.int64)
    if arr is not None and pa.types.is_float64(arr.type) and any(map(isinstance, values, repeat(bool))):
        arr = None  # (arrow reads a boolean among numbers as 0 or 1: no time, for the per-span reader)
    if arr is not None and (pa.types.is_int64(arr.type) or pa.types.is_float64(arr.type)):
        valid = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        v = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False))
        if v.dtype.kind == "f":  # a float's integer part (a JSON number with a fraction or exponent)
            with np.errstate(invalid="ignore"):
                finite = np.isfinite(v)
                v = np.trunc(np.where(finite, v, 0.0))
                valid &= finite
        ok = valid & (v >= -_MAX_US) & (v <= _MAX_US)
        return np.where(ok, np.where(ok, v, 0).astype(np.int64) * 1000, -1)
    return np.fromiter(map(micros_ns, values), np.int64, n)


def _kinds(values: list[Any]) -> pa.Array:
    """``kind`` lower-cased where it is text; anything else is no kind."""
    try:
        return lower_like_python(pa.array(values, pa.string()))
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([v.lower() if isinstance(v, str) else None for v in values], pa.string())


def _endpoint_names(endpoints: list[Endpoint | None], path: Path, key: str) -> pa.Array:
    """Each endpoint's ``serviceName`` as text; null where the span has no endpoint."""
    n = len(endpoints)
    has, present = _present(endpoints)
    names = _texts(_field(present, "service_name"), path, key)
    return names if len(present) == n else scatter(n, np.flatnonzero(has), names)


def _table(spans: list[Span], path: Path, keys: tuple[str, ...], first: int) -> pa.Table:
    """The raw span table of ``spans`` (``first``: the spans before them in the file)."""
    n = len(spans)
    parent = _field(spans, "parent_id")
    try:
        parents = pa.array(parent, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):  # a number or boolean: 0 and false are no parent, as "" is
        parents = pa.array([text(v or None, path, "span", "parentId") for v in parent], pa.string())
    parents = pc.if_else(pc.equal(parents, ""), pa.scalar(None, pa.string()), parents)

    fields = decoders(keys).fields
    has_tags, tags = _present(_field(spans, "tags"))
    tagged = np.flatnonzero(has_tags)
    errors = _field(tags, fields["error"])
    has_error = np.fromiter(map(is_not, errors, repeat(UNSET)), bool, len(tags))

    def tag(k: str) -> pa.Array:
        if k == "error":  # (UNSET where absent)
            return scatter(n, tagged[has_error], strings(list(compress(errors, has_error))))
        values = _field(tags, fields[k])
        if values.count(None) == len(values):  # (most of the tags asked for by default are on no span)
            return pa.nulls(n, pa.string())
        return scatter(n, tagged, strings(values))

    error = np.zeros(n, dtype=bool)
    error[tagged] = has_error
    peer = _endpoint_names(_field(spans, "remote_endpoint"), path, "remoteEndpoint.serviceName")
    peer_tag = tag("peer.service")
    columns: dict[str, Any] = {
        "trace_id": lower_like_python(pc.fill_null(_texts(_field(spans, "trace_id"), path, "traceId"), "")),
        "span_id": lower_like_python(pc.fill_null(_texts(_field(spans, "id"), path, "id"), "")),
        "parent_id": lower_like_python(parents),
        "parent_trace_id": pa.nulls(n, pa.string()),
        "name": pc.fill_null(_texts(_field(spans, "name"), path, "name"), ""),
        "service": _endpoint_names(_field(spans, "local_endpoint"), path, "localEndpoint.serviceName"),
        "peer_service": pc.if_else(pc.fill_null(pc.not_equal(peer, ""), False), peer, peer_tag),
        "kind": _kinds(_field(spans, "kind")),
        "start_ns": pa.array(_micros(_field(spans, "timestamp"))),
        "dur_ns": pa.array(_micros(_field(spans, "duration"))),
        "error": pa.array(error),
        "shared": pa.array(np.fromiter(map(bool, _field(spans, "shared")), bool, n)),
        "foreign_ref": pa.array(np.zeros(n, dtype=bool)),
        "index": pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64)),
    }
    return raw_table(columns, {k: tag(k) for k in keys})

