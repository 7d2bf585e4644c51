"""OTLP JSON traces (the protobuf JSON mapping, as the OpenTelemetry Collector's file exporter writes it).

Shape: ``{"resourceSpans": [{"resource": {"attributes": [...]}, "scopeSpans": [{"spans": [...]}]}]}``,
one document or one per line; ``instrumentationLibrarySpans`` (older exporters), Jaeger v2's
``{"result": {"resourceSpans": ...}}`` wrapper and Grafana Tempo's trace-by-id answer
``{"batches": [...]}`` (the same ResourceSpans under another key) are accepted too. Times are nanoseconds, written as
strings or as numbers; ids are hex (any case); ``status.code`` 2 (or ``STATUS_CODE_ERROR``) is an
error; ``kind`` is a number (1..5) or a ``SPAN_KIND_*`` name.

The reader of the default install (with the ``fast-otlp`` extra, :mod:`.otlpfast` reads large
files with a compiled scanner first and hands this reader what it declines). msgspec decodes each
export into the typed structs below (:class:`Export` down to :class:`AnyValue`), which declare only
the fields the raw span frame needs (events, links, scopes and the rest are checked as JSON and
skipped, not built; ``null`` is the default, as protobuf JSON says); the columns are then taken
from the structs a field at a time and typed with arrow. An export the structs refuse (a part of a
shape no exporter writes, a number msgspec does not take, JSON it does not read) is read with the
standard ``json`` module instead (logged at debug level: how many lines, the first one and why):
its malformed parts are one error naming the part, its odd values are cleaned the way this module
documents, and it then goes through the same structs and columns.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterable, Iterator
from itertools import chain, compress, repeat
from operator import attrgetter, is_not, itemgetter, length_hint
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.files.units import counted
from recipemut.logs.common import (
    attr_str,
    iter_documents,
    json_kind,
    no_cycle_collection,
    raw_table,
    read_bytes,
    shape_error,
    strings,
    to_int,
)
from recipemut.logs.common import text as as_text

log = logging.getLogger(__name__)

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
KIND_NAMES = {f"SPAN_KIND_{v.upper()}": v for v in KINDS.values()}
#: ``status.code`` values that say error (``2.0`` and ``True`` compare as ``2`` and ``1``, as in Python)
_ERROR_CODES = frozenset({2, "STATUS_CODE_ERROR", "2"})

UNSET: Any = msgspec.UNSET


# ---- the OTLP JSON shape, as far as the raw span frame reads it --------------------------------------


class AnyValue(msgspec.Struct, rename="camel", gc=False):
    """An ``AnyValue``: the member written decides the value (:func:`value_of`); absent ones are UNSET."""

    string_value: Any = UNSET
    int_value: Any = UNSET
    double_value: Any = UNSET
    bool_value: Any = UNSET
    array_value: Any = UNSET
    kvlist_value: Any = UNSET
    bytes_value: Any = UNSET


class KeyValue(msgspec.Struct, gc=False):
    """One attribute; a ``null`` or absent key never matches a wanted one; a ``null`` value is none."""

    key: str | None = None
    value: AnyValue | None = msgspec.field(default_factory=AnyValue)


class Status(msgspec.Struct, gc=False):
    code: Any = None


class Span(msgspec.Struct, rename="camel", gc=False):
    """The span fields of the raw frame; names, ids and times stay as JSON gave them (checked per column)."""

    trace_id: Any = None
    span_id: Any = None
    parent_span_id: Any = None
    name: Any = None
    kind: Any = None
    start_time_unix_nano: Any = None
    end_time_unix_nano: Any = None
    attributes: list[KeyValue] | None = msgspec.field(default_factory=list)
    status: Status | None = None
    trace_state: Any = None


class ScopeSpans(msgspec.Struct, gc=False):
    spans: list[Span] | None = None


class ResourceSpans(msgspec.Struct, rename="camel", gc=False):
    resource: Any = None  # a few per export: read as plain JSON (:func:`_resource_attributes`)
    scope_spans: list[ScopeSpans | None] | None = None
    instrumentation_library_spans: list[ScopeSpans | None] | None = None


class Export(msgspec.Struct, rename="camel", gc=False):
    """One ``ExportTraceServiceRequest``; ``result``: Jaeger v2's wrapper (read as plain JSON);
    ``batches``: Tempo's name for ``resourceSpans`` (moved there by :func:`_unwrap`)."""

    resource_spans: list[ResourceSpans] | msgspec.UnsetType = UNSET
    result: Any = UNSET
    batches: list[ResourceSpans] | msgspec.UnsetType = UNSET


_DECODER = msgspec.json.Decoder(Export)


def any_value(v: Any) -> Any:
    """The Python value of an OTLP ``AnyValue`` given as plain JSON (``{"stringValue": "x"}`` -> ``"x"``).

    >>> any_value({"intValue": "42"}), any_value({"boolValue": True}), any_value({"stringValue": "a"})
    (42, True, 'a')
    """
    if not isinstance(v, dict) or not v:
        return None
    return value_of(msgspec.convert(v, AnyValue))


def value_of(v: AnyValue) -> Any:
    """The Python value of a decoded ``AnyValue``: the first member written, in the order of the proto.

    A string, an integer (from text or a number), a double (text that is not a number: no value),
    a boolean (``null`` is false; text or a number is no value, never ``bool("false")``), a list, a
    mapping (entries that are not objects or have no string key are skipped), or bytes as base64 text.
    """
    if v.string_value is not UNSET:
        return v.string_value
    if v.int_value is not UNSET:
        return to_int(v.int_value)
    if v.double_value is not UNSET:
        d = v.double_value
        try:
            return float(d) if isinstance(d, (int, float, str)) else None
        except ValueError:
            return None
    if v.bool_value is not UNSET:
        b = v.bool_value
        return b is True if b is None or isinstance(b, bool) else None
    if v.array_value is not UNSET:
        values = _values_of(v.array_value)
        return None if values is None else [any_value(x) for x in values]
    if v.kvlist_value is not UNSET:
        values = _values_of(v.kvlist_value)
        if values is None:
            return None
        return {
            kv["key"]: any_value(kv.get("value"))
            for kv in values
            if isinstance(kv, dict) and isinstance(kv.get("key"), str)
        }
    if v.bytes_value is not UNSET:
        return v.bytes_value
    return None


def _values_of(v: Any) -> list[Any] | None:
    """The ``values`` of an ``arrayValue`` or ``kvlistValue`` (null or empty: none), or ``None`` (no
    value) when it is of another shape."""
    if not v:
        return []
    if not isinstance(v, dict):
        return None
    values = v.get("values")
    if values is None:
        return []
    return values if isinstance(values, list) else None


def _kind(k: Any) -> str | None:
    if isinstance(k, int):
        return KINDS.get(k)
    if isinstance(k, str):
        return KIND_NAMES.get(k) or (k.lower() or None)
    return None


# ---- decoding: the structs, or plain JSON shaped into them -------------------------------------------


def _documents(data: bytes, path: Path) -> Iterator[Export | _Plain]:
    """Every export in the file: decoded into :class:`Export`, or as plain JSON (:class:`_Plain`)
    where the structs refuse it.

    One document, or one per line (the Collector's file exporter). Anything else (several
    documents on a line or spread over lines, JSON msgspec does not read: a lone surrogate, a
    number beyond a double, nesting it will not follow) is read by :func:`.common.iter_documents`,
    which also names the line of malformed JSON.
    """
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        yield _unwrap(_DECODER.decode(body))
        return
    except (msgspec.DecodeError, RecursionError):  # (a ValidationError is a DecodeError)
        pass
    decoded: list[Export | _Plain] = []
    refused: list[tuple[int, str]] = []  # (line, why) of the lines the structs refused
    for number, line in enumerate(body.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            decoded.append(_unwrap(_DECODER.decode(line)))
            continue
        except msgspec.ValidationError as e:
            refused.append((number, str(e)))
        except (msgspec.DecodeError, RecursionError):
            break
        try:
            decoded.append(_Plain(json.loads(line)))
        except (ValueError, RecursionError):
            break
    else:
        if decoded:
            if refused:
                log.debug("%s: %s the structs refused read as plain JSON (first: line %d: %s)",
                          path, counted(len(refused), "line"), *refused[0])  # fmt: skip
            yield from decoded
            return
    # the standard library's reading of the JSON: its values, and its errors with line and column
    for doc in iter_documents(data, path):
        yield _Plain(doc)


_HEX_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")


def hex_id(v: Any) -> Any:
    """An id as OTLP's hex: Tempo writes trace and span ids in base64 (of 16 and 8 bytes); hex, and
    anything else, is kept as it is (a span of a Tempo answer: a few thousand at most).

    >>> hex_id("W47/95gDgQPSabYzgT/GDA=="), hex_id("7uGbfsPBsXQ="), hex_id("EEE19B7EC3C1B174"), hex_id(7)
    ('5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174', 'EEE19B7EC3C1B174', 7)
    """
    if not isinstance(v, str) or len(v) not in (12, 24) or _HEX_ID.fullmatch(v):
        return v
    try:
        raw = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return v
    return raw.hex() if len(raw) in (8, 16) else v


def _tempo(e: Export) -> Export:
    """A Tempo answer's ``batches`` moved to ``resourceSpans``, its ids in hex (:func:`hex_id`)."""
    batches = e.batches
    if e.resource_spans is UNSET and not isinstance(batches, msgspec.UnsetType):
        e.resource_spans, e.batches = batches, UNSET
        for sp in chain.from_iterable(sc.spans or () for rs in batches for sc in _scopes(rs)):
            sp.trace_id, sp.span_id = hex_id(sp.trace_id), hex_id(sp.span_id)
            sp.parent_span_id = hex_id(sp.parent_span_id)
    return e


class _Plain:
    """A document as plain JSON, to be shaped by :func:`_shaped`."""

    __slots__ = ("doc",)

    def __init__(self, doc: Any) -> None:
        self.doc = doc


def _unwrap(e: Export) -> Export | _Plain:
    """Jaeger's ``{"result": ...}`` wrapper as plain JSON (its inside is read like any document);
    Tempo's ``batches`` read as ``resourceSpans`` (:func:`_tempo`)."""
    e = _tempo(e)
    return _Plain({"result": e.result}) if e.result is not UNSET and e.resource_spans is UNSET else e


def _shaped(doc: Any, path: Path, first: int) -> Export:
    """A document read as plain JSON, shaped into :class:`Export`.

    A malformed part is a :class:`~recipemut.errors.LogError` naming it (``resourceSpans[0].scopeSpans``,
    ``span 12: attributes``: spans counted from 1 over the file, ``first`` before this document);
    parts the reader ignores are dropped: a resource that is not an object, attribute entries that
    are not objects or have no string key, a value or a status that is not an object.
    """
    if isinstance(doc, dict) and "result" in doc and "resourceSpans" not in doc:
        doc = doc["result"]
    top = "batches" if isinstance(doc, dict) and "resourceSpans" not in doc and "batches" in doc else "resourceSpans"
    if not isinstance(doc, dict) or not isinstance(doc.get(top, []), list):
        raise shape_error(path, f"expected an object with a '{top}' list", "OTLP document")
    out = []
    index = first
    for ri, rs in enumerate(doc.get(top) or []):
        if not isinstance(rs, dict):
            raise shape_error(path, "expected an object", f"{top}[{ri}]")
        scope_key = "scopeSpans" if rs.get("scopeSpans") else "instrumentationLibrarySpans"
        scopes = []
        for si, scope in enumerate(_list(rs.get(scope_key), path, f"{top}[{ri}].{scope_key}")):
            if scope is not None and not isinstance(scope, dict):
                raise shape_error(path, "expected an object", f"{top}[{ri}].{scope_key}[{si}]")
            spans = []
            for sp in _list((scope or {}).get("spans"), path, f"{top}[{ri}].{scope_key}[{si}].spans"):
                index += 1
                if not isinstance(sp, dict):
                    raise shape_error(path, "expected a span object", f"span {index}")
                attrs = _list(sp.get("attributes"), path, f"span {index}: attributes")
                shaped = {k: sp[k] for k in _SPAN_KEYS if k in sp}
                shaped["attributes"] = [
                    {"key": a["key"], "value": a["value"] if isinstance(a.get("value"), dict) else {}}
                    for a in attrs
                    if isinstance(a, dict) and isinstance(a.get("key"), str)
                ]
                if not isinstance(shaped.get("status"), dict):
                    shaped.pop("status", None)
                spans.append(shaped)
            scopes.append({"spans": spans})
        out.append({"resource": rs.get("resource"), "scopeSpans": scopes})
    return _tempo(msgspec.convert({top: out}, Export))


#: the span members :func:`_shaped` hands on as they are (checked per column)
_SPAN_KEYS: tuple[str, ...] = ("traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano")
_SPAN_KEYS += ("endTimeUnixNano", "status", "traceState")


def _list(v: Any, path: Path, where: str) -> list[Any]:
    """A list member (absent or null: empty), or a clear error naming where it is not one."""
    if v is None:
        return []
    if not isinstance(v, list):
        raise shape_error(path, f"expected a list, not a JSON {json_kind(v)}", where)
    return v


def _resource_attributes(resource: Any, wanted: frozenset[str]) -> dict[str, Any]:
    """A resource's wanted attributes (a key written twice: the last), from plain JSON."""
    listed = resource.get("attributes") if isinstance(resource, dict) else None
    return {
        a["key"]: any_value(a.get("value"))
        for a in (listed if isinstance(listed, list) else ())
        if isinstance(a, dict) and isinstance(a.get("key"), str) and a["key"] in wanted
    }


# ---- the columns ---------------------------------------------------------------------------------------


class _Part:
    """The spans of some exports, flattened, with what each column needs to know about them."""

    def __init__(self, exports: list[Export], res_wanted: frozenset[str]) -> None:
        lists: list[list[Span]] = []
        per_rs: list[int] = []
        self.resources: list[dict[str, Any]] = []
        for e in exports:
            for rs in e.resource_spans or ():
                self.resources.append(_resource_attributes(rs.resource, res_wanted))
                scopes = rs.scope_spans if rs.scope_spans else rs.instrumentation_library_spans
                got = [sc.spans for sc in scopes or () if sc is not None and sc.spans]
                lists.extend(got)
                per_rs.append(sum(map(len, got)))
        self.spans: list[Span] = list(chain.from_iterable(lists))
        self.rs = np.repeat(np.arange(len(per_rs), dtype=np.int64), per_rs)


def _field(spans: list[Any], name: str) -> list[Any]:
    return list(map(attrgetter(name), spans))


def _texts(values: list[Any], path: Path, first: int, key: str) -> pa.Array:
    """Names and ids as strings (numbers and booleans as JSON writes them); an object or a list is an
    error naming the span (``first`` spans before these)."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([as_text(v, path, f"span {first + i + 1}", key) for i, v in enumerate(values)], pa.string())


def lower_like_python(arr: Any) -> Any:
    """Strings lower-cased as Python's ``str.lower`` does it: ASCII text in arrow, other text (rare:
    ids are hex) in Python, since arrow's ``utf8_lower`` maps one code point at a time."""
    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return pc.ascii_lower(arr)
    return pa.array([None if s is None else s.lower() for s in arr.to_pylist()], arr.type)


def _times(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Integers as :func:`.common.to_int` reads them (int64 and whether set; beyond int64: not set)."""
    n = len(values)
    try:
        arr = pa.array(values)
        if pa.types.is_string(arr.type):
            arr = pc.cast(arr, pa.int64())
        if pa.types.is_null(arr.type):
            return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
        if pa.types.is_int64(arr.type):
            set_ = ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            return np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64), set_
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        pass
    ints = [to_int(v) for v in values]
    ok = np.fromiter((v is not None and -(1 << 63) <= v < 1 << 63 for v in ints), bool, n)
    return np.fromiter((v if o else 0 for v, o in zip(ints, ok, strict=True)), np.int64, n), ok


def _kinds(values: list[Any]) -> pa.Array:
    """``kind`` as a name: a number 1..5, a ``SPAN_KIND_*`` name, other text lower-cased."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        arr = None
    if arr is not None and pa.types.is_null(arr.type):
        return pa.nulls(len(values), pa.string())
    if arr is not None and pa.types.is_int64(arr.type):
        code = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        names = pa.array([None, *KINDS.values()], pa.string())
        return names.take(pa.array(np.where((code >= 1) & (code <= 5), code, 0)))
    return pa.array([_kind(v) for v in values], pa.string())


def _errors(statuses: list[Status | None]) -> np.ndarray:
    """``status.code`` says error: 2, ``"2"`` or ``STATUS_CODE_ERROR``."""
    codes = [None if s is None else s.code for s in statuses]
    try:
        return np.fromiter(map(_ERROR_CODES.__contains__, codes), bool, len(codes))
    except TypeError:  # a code that is an object or a list: never an error
        return np.fromiter((isinstance(c, (int, float, str)) and c in _ERROR_CODES for c in codes), bool, len(codes))


_MEMBERS = tuple(f"{m}_value" for m in ("string", "int", "double", "bool", "array", "kvlist", "bytes"))


def _values(values: list[AnyValue | None], as_float: bool) -> pa.Array:
    """Attribute values as the text :func:`.common.attr_str` gives :func:`value_of` (strings as they
    are, integers in decimal, doubles as arrow writes them, lists and mappings as JSON), or as
    float64 (that text read as a number; null where it is not one, or where written ``null``: None).

    Vectorised by member: each pass takes one ``AnyValue`` member of the values not yet decided.
    """
    typ = pa.float64() if as_float else pa.string()
    m = len(values)
    pieces: list[pa.Array] = []
    where = np.zeros(m, dtype=np.int64)
    base = 0
    left = np.arange(m)
    none = left[:0]
    rest: list[Any] = values
    for member in _MEMBERS:
        if not len(left):
            break
        try:
            got = list(map(attrgetter(member), rest))
        except AttributeError:  # (first pass only) values written null, set aside: no cost when there is none
            written = np.fromiter(map(is_not, rest, repeat(None)), bool, len(rest))
            none, left, rest = left[~written], left[written], list(compress(rest, written))
            got = list(map(attrgetter(member), rest))
        here = np.fromiter(map(is_not, got, repeat(UNSET)), bool, len(got))
        if not here.any():
            continue
        picked = [g for g, h in zip(got, here, strict=True) if h] if not here.all() else got
        arr = _member_values(member, picked, as_float)
        pieces.append(arr if arr.type == typ else arr.cast(typ))
        where[left[here]] = base + np.arange(len(picked))
        base += len(picked)
        if here.all():
            left = left[:0]
            break
        left = left[~here]
        rest = [r for r, h in zip(rest, here, strict=True) if not h]
    if len(left) or len(none):
        pieces.append(pa.nulls(1, typ))
        where[left] = where[none] = base
    if not pieces:
        return pa.array([], typ)
    if len(pieces) == 1 and len(pieces[0]) == m:
        return pieces[0]
    return pa.concat_arrays(pieces).take(pa.array(where))


def _member_values(member: str, picked: list[Any], as_float: bool) -> pa.Array:
    """The values of one ``AnyValue`` member: float64 where the text would be read as a number."""
    if member == "int_value":
        try:
            arr = pa.array(picked)
            if pa.types.is_string(arr.type):
                arr = pc.cast(arr, pa.int64())
            if pa.types.is_int64(arr.type):
                # (unsafe: an integer beyond 2**53 rounds to the nearest double, as its text read as a number does)
                return pc.cast(arr, pa.float64(), safe=False) if as_float else pc.cast(arr, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            pass
        text = strings([to_int(v) for v in picked])
    elif member == "double_value":
        try:
            arr = pa.array(picked)
            if pa.types.is_floating(arr.type) or pa.types.is_int64(arr.type):
                arr = pc.cast(arr, pa.float64())
                return arr if as_float else pc.cast(arr, pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            pass
        text = strings([_double(v) for v in picked])
    elif member == "bool_value":
        text = strings([b is True if b is None or isinstance(b, bool) else None for b in picked])
    elif member in ("array_value", "kvlist_value"):
        text = strings([value_of(AnyValue(**{member: v})) for v in picked])
    else:  # strings and bytes (base64 text) as they are
        text = strings(picked)
    return str_to_float(text) if as_float else text


def _double(d: Any) -> float | None:
    try:
        return float(d) if isinstance(d, (int, float, str)) else None
    except ValueError:  # text that is not a number: no value
        return None


def str_to_float(arr: Any) -> Any:
    """Strings to float64, null where not a number."""
    try:
        return pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(pd.to_numeric(arr.to_pandas(), errors="coerce"), pa.float64(), from_pandas=True)


def scatter(n: int, positions: np.ndarray, values: Any) -> Any:
    """A length-``n`` arrow array holding ``values[i]`` at ``positions[i]`` and null elsewhere
    (the last value where a position repeats, as a key written twice on a span)."""
    if len(positions) == n and (n == 0 or (positions[0] == 0 and bool((np.diff(positions) == 1).all()))):
        return values
    idx = np.full(n, -1, dtype=np.int64)
    idx[positions] = np.arange(len(positions), dtype=np.int64)
    return values.take(pa.array(idx, mask=idx < 0))


def _table(part: _Part, path: Path, keys: tuple[str, ...], numeric: frozenset[str], first: int) -> pa.Table:
    """The raw span table of ``part`` (``first``: spans before it in the file)."""
    spans = part.spans
    n = len(spans)
    start, start_set = _times(_field(spans, "start_time_unix_nano"))
    end, end_set = _times(_field(spans, "end_time_unix_nano"))
    with np.errstate(over="ignore"):
        d_ns = end - start  # wraps where the true difference is beyond int64: no duration there
    fits = ((end ^ start) & (end ^ d_ns)) >= 0
    parent = _texts(_field(spans, "parent_span_id"), path, first, "parentSpanId")
    parent = pc.if_else(pc.equal(parent, ""), pa.scalar(None, pa.string()), parent)

    # the wanted attributes of every span: one flat list, then each key's values in file order
    lists = _field(spans, "attributes")
    flat: list[KeyValue] = list(chain.from_iterable(filter(None, lists)))  # (None: written null, none)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(length_hint, lists, repeat(0)), np.int64, n))
    want = tuple(dict.fromkeys((*keys, "peer.service")))
    index = {k: j for j, k in enumerate(want)}
    code = np.fromiter(map(index.get, map(attrgetter("key"), flat), repeat(-1)), np.int64, len(flat))
    order = np.argsort(code, kind="stable")
    bounds = np.searchsorted(code[order], np.arange(-1, len(want) + 1))
    rs_of_span = pa.array(part.rs)

    def own(k: str, as_float: bool) -> tuple[Any, np.ndarray]:
        rows = order[bounds[index[k] + 1] : bounds[index[k] + 2]]
        has = np.zeros(n, dtype=bool)
        if not len(rows):
            return pa.nulls(n, pa.float64() if as_float else pa.string()), has
        has[owner[rows]] = True
        values = list(itemgetter(*rows)(flat)) if len(rows) > 1 else [flat[rows[0]]]
        return scatter(n, owner[rows], _values(_field(values, "value"), as_float)), has

    def resource(k: str, as_float: bool) -> Any:
        values = [r.get(k) for r in part.resources]
        text = strings([attr_str(v) for v in values])
        return str_to_float(text) if as_float else text

    peer, _ = own("peer.service", False)
    columns: dict[str, Any] = {
        "trace_id": lower_like_python(pc.fill_null(_texts(_field(spans, "trace_id"), path, first, "traceId"), "")),
        "span_id": lower_like_python(pc.fill_null(_texts(_field(spans, "span_id"), path, first, "spanId"), "")),
        "parent_id": lower_like_python(parent),
        "parent_trace_id": pa.nulls(n, pa.string()),
        "name": pc.fill_null(_texts(_field(spans, "name"), path, first, "name"), ""),
        "service": resource("service.name", False).take(rs_of_span),
        "peer_service": peer,
        "kind": _kinds(_field(spans, "kind")),
        "start_ns": pa.array(np.where(start_set, start, -1)),
        "dur_ns": pa.array(np.where(start_set & end_set & fits, d_ns, -1)),
        "error": pa.array(_errors(_field(spans, "status"))),
        "shared": pa.array(np.zeros(n, dtype=bool)),
        "foreign_ref": pa.array(np.zeros(n, dtype=bool)),
        "index": pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64)),
    }
    attributes: dict[str, Any] = {}
    for k in keys:
        as_float = k in numeric
        out, has = own(k, as_float)
        if k == "tracestate":  # the span's traceState where it has no such attribute
            states = _field(spans, "trace_state")
            at = [i for i, t in enumerate(states) if t and not has[i]]
            if at:
                where = [f"span {first + i + 1}" for i in at]
                ts = pa.array(
                    [as_text(states[i], path, w, "traceState") for i, w in zip(at, where, strict=True)], pa.string()
                )
                out = scatter_into(out, np.asarray(at), str_to_float(ts) if as_float else ts)
                has[at] = True
        res = resource(k, as_float)
        if res.null_count < len(res):
            out = pc.if_else(pa.array(~has), res.take(rs_of_span), out)
        attributes[k] = out
    return raw_table(columns, attributes)


def scatter_into(base: Any, positions: np.ndarray, values: Any) -> Any:
    """``base`` with ``values[i]`` at ``positions[i]``."""
    mask = np.zeros(len(base), dtype=bool)
    mask[positions] = True
    return pc.if_else(pa.array(mask), scatter(len(base), positions, values), base)


# ---- reading a file ------------------------------------------------------------------------------------

#: spans assembled into columns at a time (exports are gathered until they hold this many)
PART_SPANS = 1 << 17


def parse_table(data: bytes, path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pa.Table:
    """The raw span table of an OTLP JSON file's bytes (see :data:`.common.RAW_COLUMNS`).

    Attributes named in ``numeric`` come out as float64 columns (their text read as numbers, null
    where it is not one: what normalisation would make of them anyway); the others as text.
    """
    keys = tuple(dict.fromkeys(attributes))
    res_wanted = frozenset(("service.name", *keys))
    num = frozenset(numeric)
    with no_cycle_collection():
        return _parse_table(data, path, keys, res_wanted, num)


def _parse_table(
    data: bytes, path: Path, keys: tuple[str, ...], res_wanted: frozenset[str], num: frozenset[str]
) -> pa.Table:
    tables: list[pa.Table] = []
    pending: list[Export] = []
    size = 0
    first = 0

    def flush() -> None:
        nonlocal first, size
        part = _Part(pending, res_wanted)
        tables.append(_table(part, path, keys, num, first))
        first += len(part.spans)
        pending.clear()
        size = 0

    for doc in _documents(data, path):
        export = _shaped(doc.doc, path, first + size) if isinstance(doc, _Plain) else doc
        pending.append(export)
        size += sum(len(sc.spans or ()) for rs in export.resource_spans or () for sc in _scopes(rs))
        if size >= PART_SPANS:
            flush()
    if pending or not tables:
        flush()
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _scopes(rs: ResourceSpans) -> list[ScopeSpans]:
    return [sc for sc in (rs.scope_spans if rs.scope_spans else rs.instrumentation_library_spans) or () if sc]



def parse(data: bytes, path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pd.DataFrame:
    """:func:`parse_table` as the raw span frame."""
    return parse_table(data, path, attributes, numeric).to_pandas()


def read_raw(path: Path, attributes: Iterable[str], *, numeric: Iterable[str] = ()) -> pd.DataFrame:
    """The raw span frame of an OTLP file (gzip or plain); user errors as
    :class:`~recipemut.errors.InputFileError` or :class:`~recipemut.errors.LogError`."""
    return parse(read_bytes(path), path, attributes, numeric)
