"""Jaeger JSON traces, in the shapes Jaeger's query API, UI and tools write.

* the query API: ``{"data": [trace, ...], "total": ..., "errors": ...}``;
* one trace: ``{"traceID": ..., "spans": [...], "processes": {"p1": {"serviceName": ...}}}``
  (UI downloads, the UI's and the model's fixtures), or a list of such traces;
* a list of spans, each carrying its ``process`` inline (the anonymizer's ``uiconv`` output).

Times are microseconds (one beyond 146 years makes the span invalid). The parent is the first
``CHILD_OF`` reference (else the first reference, else the legacy ``parentSpanID``); a reference
into another trace is kept in ``parent_trace_id`` so that normalisation can count it.
``error=true`` (bool or string) marks an error. Process tags (``sampler.type``/``sampler.param``,
...) apply to every span of the process unless the span carries the tag itself. Tags,
references or processes of another JSON type, and an object or list where an id, name or service
belongs, are a :class:`~recipemut.errors.LogError` naming the trace or span.

Two readers give the same raw span frame. :func:`parse` decodes the document with msgspec into the
typed structs below (:class:`Document` down to :class:`Tag`, declaring only the members the frame
needs, of the JSON types Jaeger writes) and builds each column from the structs a field at a time
(``map(attrgetter)``, numpy and arrow: no Python step per span); the query API's traces are decoded
:data:`PART_BYTES` of their JSON at a time. A file with a document the structs refuse (a member of
another JSON type, a tag or reference that is not an object, a number msgspec does not take, JSON
it does not read, several documents not one per line) is read by :func:`parse_per_span`, the
span-by-span reader on :mod:`json`, whose errors name the trace or span.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from itertools import chain, compress, pairwise, repeat
from operator import attrgetter, eq, is_, is_not
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.common import (
    MAX_NS,
    Columns,
    attr_str,
    iter_documents,
    json_kind,
    micros_ns,
    no_cycle_collection,
    raw_table,
    shape_error,
    strings,
    text,
)
from recipemut.logs.otlp import lower_like_python, scatter


def _tags(tags: Any, path: Path, where: str) -> dict[str, Any]:
    """A span's or process's tags as a dict; entries that are not objects are skipped."""
    if isinstance(tags, dict):  # some exporters write tags as an object
        return tags
    if tags is None:
        return {}
    if not isinstance(tags, list):
        raise shape_error(path, f"tags is a JSON {json_kind(tags)}, expected a list", where)
    return {str(t.get("key")): t.get("value") for t in tags if isinstance(t, dict)}


def _processes(trace: dict[str, Any], i: int, path: Path) -> dict[str, Any]:
    """A trace's ``processes`` (id -> process object); a part of another shape is a LogError."""
    processes = trace.get("processes") or {}
    if not isinstance(processes, dict):
        raise shape_error(path, f"processes is a JSON {json_kind(processes)}, expected an object", f"trace {i}")
    for pid, p in processes.items():
        if p is not None and not isinstance(p, dict):
            raise shape_error(path, f"process '{pid}' is a JSON {json_kind(p)}, expected an object", f"trace {i}")
    return processes


def _traces(doc: Any, path: Path) -> list[dict[str, Any]]:
    """Normalise every Jaeger shape to a list of ``{"spans": [...], "processes": {...}}``."""
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        traces = doc["data"]
    elif isinstance(doc, dict) and "spans" in doc:
        traces = [doc]
    elif isinstance(doc, list) and all(isinstance(t, dict) and "spans" in t for t in doc):
        traces = doc
    elif isinstance(doc, list):
        traces = [{"spans": doc, "processes": {}}]
    else:
        raise shape_error(
            path, "expected {'data': [...]}, a trace {'spans': [...]} or a list of spans", "Jaeger document"
        )
    for i, t in enumerate(traces):
        if not isinstance(t, dict) or not isinstance(t.get("spans"), list):
            raise shape_error(path, "expected a trace object with a 'spans' list", f"trace {i}")
    return traces


def parse_per_span(data: bytes, path: Path, attributes: Iterable[str]) -> pd.DataFrame:
    """The raw span frame of a Jaeger JSON file, read span by span from :mod:`json`'s objects: the
    reader of documents the typed structs refuse, and the one whose errors name the part at fault."""
    return per_span_table(data, path, attributes).to_pandas()


def per_span_table(data: bytes, path: Path, attributes: Iterable[str]) -> pa.Table:
    """:func:`parse_per_span` as an arrow table."""
    cols = Columns(attributes)
    c = cols.cols
    keys = cols.attr_keys
    attrs = cols.attrs
    index = 0
    for doc in iter_documents(data, path):
        for t_i, trace in enumerate(_traces(doc, path)):
            processes = _processes(trace, t_i, path)
            proc_cache: dict[str, tuple[Any, dict[str, Any]]] = {}
            for sp in trace["spans"]:
                index += 1
                if not isinstance(sp, dict):
                    raise shape_error(path, "expected a span object", f"span {index}")
                where = f"span {index}"
                proc = sp.get("process")
                if isinstance(proc, dict):
                    svc, ptags = proc.get("serviceName"), _tags(proc.get("tags"), path, f"{where}: process")
                else:
                    pid = str(sp.get("processID"))
                    if pid not in proc_cache:
                        p = processes.get(pid) or {}
                        proc_cache[pid] = (
                            p.get("serviceName"),
                            _tags(p.get("tags"), path, f"trace {t_i}: process '{pid}'"),
                        )
                    svc, ptags = proc_cache[pid]
                tags = _tags(sp.get("tags"), path, where)
                trace_id = (text(sp.get("traceID") or trace.get("traceID"), path, where, "traceID") or "").lower()
                parent, parent_trace, foreign = _parent(sp, trace_id, path, where)
                start = micros_ns(sp.get("startTime"))
                dur = micros_ns(sp.get("duration"))
                err = tags.get("error")
                c["trace_id"].append(trace_id)
                c["span_id"].append((text(sp.get("spanID"), path, where, "spanID") or "").lower())
                c["parent_id"].append(parent)
                c["parent_trace_id"].append(parent_trace)
                c["name"].append(text(sp.get("operationName"), path, where, "operationName") or "")
                c["service"].append(text(svc, path, where, "serviceName"))
                c["peer_service"].append(attr_str(tags.get("peer.service")))
                c["kind"].append(attr_str(tags.get("span.kind")))
                c["start_ns"].append(start)
                c["dur_ns"].append(dur)
                c["error"].append(err is True or (isinstance(err, str) and err.lower() == "true"))
                c["shared"].append(False)
                c["foreign_ref"].append(foreign)
                c["index"].append(index)
                for k in keys:
                    v = tags.get(k)
                    attrs[k].append(v if v is not None else ptags.get(k))
    try:
        return raw_table(c, {k: attrs[k] for k in keys})
    except UnicodeEncodeError:  # a lone surrogate (``"\\ud800"``): json reads it, no UTF-8 text holds it
        raise _surrogate_error(path, c, attrs) from None


#: the member of the file each column comes from, as messages name it
_MEMBERS = {"trace_id": "traceID", "span_id": "spanID", "parent_id": "parent reference", "name": "operationName"}
_MEMBERS |= {"parent_trace_id": "references' traceID", "service": "serviceName"}
_MEMBERS |= {"peer_service": "tag 'peer.service'", "kind": "tag 'span.kind'"}


def _surrogate_error(path: Path, cols: dict[str, list[Any]], attrs: dict[str, list[Any]]) -> Exception:
    """The error for text holding a lone UTF-16 surrogate, naming the first span that has one."""
    found: list[tuple[int, str]] = []
    for name, values in [*cols.items(), *((f"attr:{k}", v) for k, v in attrs.items())]:
        for row, v in enumerate(values):
            if isinstance(v, str) and not v.isascii():
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    found.append((row, _MEMBERS.get(name, f"tag '{name.removeprefix('attr:')}'")))
                    break
    if not found:  # (not expected: some text failed to encode)
        return shape_error(path, "text that UTF-8 cannot hold (a lone surrogate)", "Jaeger document")
    row, member = min(found)
    what = f"{member} holds a lone surrogate (a \\ud800-\\udfff escape not in a pair), which is not text"
    return shape_error(path, what, f"span {cols['index'][row]}")


def _parent(sp: dict[str, Any], trace_id: str, path: Path, where: str) -> tuple[str | None, str | None, bool]:
    """(parent span id, its trace when that is another trace, any reference into another trace)."""
    given = sp.get("references")
    if given is not None and not isinstance(given, list):
        raise shape_error(path, f"references is a JSON {json_kind(given)}, expected a list", where)
    refs = []  # (span id, trace id, ref type) of the references that name a span
    for i, r in enumerate(given or ()):
        if isinstance(r, dict) and r.get("spanID"):
            span_id = text(r["spanID"], path, where, f"references[{i}].spanID") or ""
            ref_trace = (text(r.get("traceID") or None, path, where, f"references[{i}].traceID") or trace_id).lower()
            refs.append((span_id.lower(), ref_trace, r.get("refType", "CHILD_OF")))
    if refs:
        same = [r for r in refs if r[1] == trace_id]
        child_of = [r for r in same if r[2] == "CHILD_OF"]
        span_id, ref_trace, _ = (child_of or same or refs)[0]
        return span_id, (ref_trace if ref_trace != trace_id else None), len(same) < len(refs)
    legacy = text(sp.get("parentSpanID") or None, path, where, "parentSpanID")
    if legacy and legacy.strip("0"):
        return legacy.lower(), None, False
    return None, None, False


# ---- the typed reader: msgspec structs, columns a field at a time ----------------------------------------

UNSET: Any = msgspec.UNSET
#: a start or duration the typed reader takes: an integer (the usual), a float or a decimal string
Micros = int | float | str | None
#: the largest time in microseconds (:func:`.common.micros_ns`)
_MAX_US = MAX_NS // 1000


class Tag(msgspec.Struct, gc=False):
    """One ``{"key", "type", "value"}`` tag; its value as JSON gives it (formatted by :func:`.common.strings`)."""

    key: str
    value: Any = None


#: a span's or process's tags: Jaeger's list, or an object of key -> value (some exporters)
Tags = list[Tag] | dict[str, Any] | None


class Process(msgspec.Struct, gc=False):
    serviceName: str | None = None
    tags: Tags = msgspec.field(default_factory=list)


class Ref(msgspec.Struct, gc=False):
    """A reference; ``refType`` is ``CHILD_OF`` only when absent (a ``null`` one is no type)."""

    refType: Any = "CHILD_OF"
    traceID: str | None = None
    spanID: str | None = None


class Span(msgspec.Struct, gc=False):
    traceID: str | None = None
    spanID: str | None = None
    operationName: str | None = None
    references: list[Ref] | None = msgspec.field(default_factory=list)
    parentSpanID: str | None = None
    startTime: Micros = None
    duration: Micros = None
    tags: Tags = msgspec.field(default_factory=list)
    processID: str | None = None
    process: Process | None = None  # inline (the anonymizer's uiconv output)


class Trace(msgspec.Struct, gc=False):
    spans: list[Span]
    traceID: str | None = None
    processes: dict[str, Process | None] | None = None


class Item(Span, gc=False):
    """A member of a top-level list: a trace (when every member has ``spans``) or a span."""

    spans: list[Span] | msgspec.UnsetType | None = UNSET
    processes: dict[str, Process | None] | None = None


class Document(msgspec.Struct, gc=False):
    """A top-level object: the query API's ``{"data": [...]}`` (its traces kept as JSON text, decoded
    a part at a time by :func:`trace_parts`), or one trace."""

    data: list[msgspec.Raw] | msgspec.UnsetType = UNSET
    traceID: str | None = None
    spans: list[Span] | msgspec.UnsetType | None = UNSET
    processes: dict[str, Process | None] | None = None


_DECODER = msgspec.json.Decoder(Document | list[Item])
_TRACES = msgspec.json.Decoder(list[Trace])
#: the JSON text of the traces decoded at a time: the structs of one part are let go before the next
#: is decoded (on 1 M spans, 568 MB of JSON, about a quarter of the peak memory of decoding them all)
PART_BYTES = 16 << 20
_NO_PROCESS = Process()
_BOM = b"\xef\xbb\xbf"


def parse(data: bytes, path: Path, attributes: Iterable[str]) -> pd.DataFrame:
    """The raw span frame of a Jaeger JSON file (see :data:`.common.RAW_COLUMNS`)."""
    return parse_table(data, path, attributes).to_pandas()


def parse_table(data: bytes, path: Path, attributes: Iterable[str]) -> pa.Table:
    """:func:`parse` as an arrow table: the typed reader's, or :func:`per_span_table`'s where the
    structs refuse a document."""
    keys = tuple(dict.fromkeys(attributes))
    with no_cycle_collection():
        tables = typed_tables(data, keys)
        if tables is None:
            return per_span_table(data, path, keys)
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def typed_tables(data: bytes, keys: tuple[str, ...]) -> list[pa.Table] | None:
    """The raw span table of each document in ``data`` (one, or one per line) from the typed
    structs, or ``None`` when the structs refuse one of them (the file is then read span by span)."""
    body = memoryview(data)[3:] if data.startswith(_BOM) else data
    try:
        docs = [_DECODER.decode(body)]
    except msgspec.ValidationError:
        return None
    except (msgspec.DecodeError, RecursionError):  # not one JSON value: perhaps one per line
        docs = []
        for line in bytes(body).split(b"\n"):
            if not line.strip(b" \t\r"):
                continue
            try:
                docs.append(_DECODER.decode(line))
            except (msgspec.DecodeError, RecursionError):
                return None
    tables = []
    first = 0
    for doc in docs:
        for traces in trace_parts(doc):
            if traces is None:
                return None
            tables.append(columns(traces, keys, first))
            first += tables[-1].num_rows
    return tables or None


def trace_parts(doc: Document | list[Item]) -> Iterator[list[Any] | None]:
    """The traces of a decoded document, a part at a time (see :func:`trace_list`); ``None`` where
    the structs refuse a part."""
    if isinstance(doc, Document) and not isinstance(doc.data, msgspec.UnsetType):
        raws = doc.data
        ends = np.cumsum(np.fromiter(map(len, raws), np.int64, len(raws)))
        cuts = [0, *(np.flatnonzero(np.diff(ends // PART_BYTES)) + 1).tolist(), len(raws)] if raws else [0, 0]
        text = io.BytesIO()  # one buffer for every part's JSON list (fresh memory for each was 1 s a GB)
        for a, b in pairwise(cuts):
            text.seek(0)
            text.write(b"[")
            text.writelines(raws[a : a + 1])
            text.writelines(chain.from_iterable(zip(repeat(b","), raws[a + 1 : b])))
            text.write(b"]")
            end = text.tell()
            try:
                with text.getbuffer() as view, view[:end] as part:
                    traces = _TRACES.decode(part)
            except (msgspec.DecodeError, RecursionError):
                yield None
                return
            yield traces
        return
    yield trace_list(doc)


def trace_list(doc: Document | list[Item]) -> list[Any] | None:
    """The traces of a decoded document that is not the query API's, each with ``traceID``, ``spans``
    and ``processes`` (the shapes of :func:`_traces`), or ``None`` where that reader would refuse it."""
    if isinstance(doc, Document):
        return None if doc.spans is UNSET or doc.spans is None else [doc]
    spans_of = list(map(attrgetter("spans"), doc))
    if any(map(is_, spans_of, repeat(UNSET))):  # a list of spans
        return [Trace(spans=doc)]  # type: ignore[arg-type]  # (an Item is a Span)
    return None if any(map(is_, spans_of, repeat(None))) else doc



def columns(traces: list[Any], keys: tuple[str, ...], first: int) -> pa.Table:
    """The raw span table of decoded traces (``first``: spans before them in the file), with the
    rules of :func:`per_span_table`."""
    spans_of = list(map(attrgetter("spans"), traces))
    per_trace = np.fromiter(map(len, spans_of), np.int64, len(spans_of))
    spans: list[Span] = list(chain.from_iterable(spans_of))
    n = len(spans)
    trace_of = pa.array(np.repeat(np.arange(len(traces), dtype=np.int64), per_trace))

    def field(name: str) -> list[Any]:
        return list(map(attrgetter(name), spans))

    # the span's traceID, else (null or empty) its trace's
    own = pa.array(field("traceID"), pa.string())
    of_trace = pa.array(list(map(attrgetter("traceID"), traces)), pa.string()).take(trace_of)
    trace_id = lower_like_python(pc.fill_null(pc.if_else(_nonempty(own), own, of_trace), ""))
    parent, parent_trace, foreign = _parents(spans, trace_id, field)

    tags = _picked(_tag_lists(field("tags")), (*keys, "error", "peer.service", "span.kind"))
    proc, procs = _processes_of(traces, spans, per_trace, field)
    proc_tags = _picked(_tag_lists(list(map(attrgetter("tags"), procs))), keys)
    proc_take = pa.array(proc, mask=proc < 0)

    def span_tag(k: str) -> pa.Array:
        got = tags.get(k)
        return pa.nulls(n, pa.string()) if got is None else scatter(n, got[0], _texts(got[1]))

    attributes: dict[str, Any] = {}
    for k in keys:
        got = proc_tags.get(k)
        ptag = None if got is None else scatter(len(procs), got[0], _texts(got[1])).take(proc_take)
        attributes[k] = span_tag(k) if ptag is None else pc.coalesce(span_tag(k), ptag)
    error = np.zeros(n, dtype=bool)
    if "error" in tags:
        error[tags["error"][0]] = _says_true(tags["error"][1])
    start = _micros(field("startTime"))
    dur = _micros(field("duration"))
    service = pa.array(list(map(attrgetter("serviceName"), procs)), pa.string()).take(proc_take)
    cols: dict[str, Any] = {
        "trace_id": trace_id,
        "span_id": lower_like_python(pc.fill_null(pa.array(field("spanID"), pa.string()), "")),
        "parent_id": parent,
        "parent_trace_id": parent_trace,
        "name": pc.fill_null(pa.array(field("operationName"), pa.string()), ""),
        "service": service,
        "peer_service": span_tag("peer.service"),
        "kind": span_tag("span.kind"),
        "start_ns": pa.array(start),
        "dur_ns": pa.array(dur),
        "error": pa.array(error),
        "shared": pa.array(np.zeros(n, dtype=bool)),
        "foreign_ref": pa.array(foreign),
        "index": pa.array(np.arange(first + 1, first + n + 1, dtype=np.int64)),
    }
    return raw_table(cols, attributes)


def _nonempty(arr: pa.Array) -> pa.Array:
    """Where a string is neither null nor empty (what ``or`` passes over)."""
    return pc.fill_null(pc.greater(pc.binary_length(arr), 0), False)


def _or_empty(lists: list[Any], empty: Any = ()) -> list[Any]:
    """Lists (or mappings) with ``None`` as ``empty`` (JSON ``null`` where a list or object belongs)."""
    return [empty if v is None else v for v in lists] if any(map(is_, lists, repeat(None))) else lists


def _tag_lists(lists: list[Any]) -> list[Any]:
    """Each owner's tags as a list of :class:`Tag` (``null``: none; an object: its entries)."""
    lists = _or_empty(lists)
    if dict in set(map(type, lists)):
        lists = [[Tag(k, v) for k, v in t.items()] if type(t) is dict else t for t in lists]
    return lists


def _picked(lists: list[list[Tag]], want: tuple[str, ...]) -> dict[str, tuple[np.ndarray, list[Any]]]:
    """For each key of ``want`` some owner has: the owners (ascending) and the value of that tag
    (of the last tag of that key where an owner has several, as a dict built from them keeps)."""
    n = len(lists)
    flat: list[Tag] = list(chain.from_iterable(lists))
    if not flat:
        return {}
    owner = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(len, lists), np.int64, n))
    index = {k: j for j, k in enumerate(dict.fromkeys(want))}
    code = np.fromiter(map(index.get, map(attrgetter("key"), flat), repeat(-1)), np.int64, len(flat))
    out: dict[str, tuple[np.ndarray, list[Any]]] = {}
    for k, j in index.items():
        rows = np.flatnonzero(code == j)  # in file order
        if not len(rows):
            continue
        owners = owner[rows]
        repeated = owners[1:] == owners[:-1]
        if repeated.any():
            keep = np.append(~repeated, True)
            rows, owners = rows[keep], owners[keep]
        out[k] = (owners, list(map(attrgetter("value"), _at(flat, rows))))
    return out


def _at(items: list[Any], rows: np.ndarray) -> list[Any]:
    """``items`` at the positions ``rows``."""
    return list(map(items.__getitem__, rows.tolist()))


def _texts(values: list[Any]) -> pa.Array:
    """Tag values as the text :func:`.common.strings` makes of them, converted by arrow a JSON type
    at a time (strings as they are, integers in decimal, floats as arrow writes them, booleans as
    ``true``/``false``); lists, objects and integers beyond int64 by :func:`.common.strings` itself."""
    kinds = list(map(type, values))
    code_of = {t: i for i, t in enumerate(dict.fromkeys(kinds))}
    code_of.pop(type(None), None)  # (nulls stay null in every group)
    if len(code_of) <= 1:
        return _texts_of(next(iter(code_of), str), values)
    code = np.fromiter(map(code_of.get, kinds, repeat(-1)), np.int64, len(kinds))
    pieces = [pa.nulls(1, pa.string())]
    where = np.zeros(len(values), dtype=np.int64)
    base = 1
    for t, i in code_of.items():
        rows = np.flatnonzero(code == i)
        pieces.append(_texts_of(t, _at(values, rows)))
        where[rows] = np.arange(base, base + len(rows))
        base += len(rows)
    return pa.concat_arrays(pieces).take(pa.array(where))


def _texts_of(kind: type, values: list[Any]) -> pa.Array:
    """:func:`_texts` of values of one Python type."""
    typ = {str: pa.string(), bool: pa.bool_(), int: pa.int64(), float: pa.float64()}.get(kind)
    if typ is not None:
        try:
            arr = pa.array(values, typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # an integer beyond int64
            return strings(values)
        return arr if kind is str else pc.cast(arr, pa.string())
    return strings(values)


def _says_true(values: list[Any]) -> np.ndarray:
    """``error`` tag values that mark an error: ``true``, or text that is ``true`` in any case."""
    kinds = set(map(type, values))
    if kinds <= {bool, type(None)}:
        return np.fromiter(map(is_, values, repeat(True)), bool, len(values))
    if kinds <= {str, type(None)}:
        arr = pa.array(values, pa.string()).dictionary_encode()
        words = [w.lower() == "true" for w in arr.dictionary.to_pylist()]
        flags = np.append(np.asarray(words, dtype=bool), False)
        codes = np.asarray(arr.indices.fill_null(len(words)).to_numpy(zero_copy_only=False), dtype=np.int64)
        return flags[codes]
    return np.fromiter((v is True or (isinstance(v, str) and v.lower() == "true") for v in values), bool, len(values))


def _micros(values: list[Any]) -> np.ndarray:
    """Times in microseconds as :func:`.common.micros_ns` reads them: nanoseconds, -1 where unusable."""
    if set(map(type, values)) <= {int, type(None)}:
        try:
            arr = pa.array(values, pa.int64())
        except (pa.ArrowInvalid, OverflowError):  # beyond int64: beyond 146 years too
            arr = None
        if arr is not None:
            us = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            ok = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool) & (np.abs(us) <= _MAX_US)
            ok &= us != np.iinfo(np.int64).min  # (whose abs is itself)
            return np.where(ok, np.where(ok, us, 0) * 1000, -1)
    return np.fromiter(map(micros_ns, values), np.int64, len(values))


def _processes_of(
    traces: list[Any], spans: list[Span], per_trace: np.ndarray, field: Any
) -> tuple[np.ndarray, list[Process]]:
    """Each span's process: its index in the returned list (-1: none), the trace's processes first,
    then the spans' inline ones. ``processID`` ``null`` names the process ``"None"``, as ``str`` does."""
    n = len(spans)
    listed = _or_empty(list(map(attrgetter("processes"), traces)), {})
    pids: list[str] = list(chain.from_iterable(listed))
    procs: list[Any] = list(chain.from_iterable(map(dict.values, listed)))
    if any(map(is_, procs, repeat(None))):
        procs = [_NO_PROCESS if p is None else p for p in procs]
    e = len(pids)
    entry = np.full(n, -1, dtype=np.int64)
    if e:
        of_trace = np.repeat(
            np.arange(len(listed), dtype=np.int64), np.fromiter(map(len, listed), np.int64, len(listed))
        )
        names = pa.concat_arrays(
            [pa.array(pids, pa.string()), pc.fill_null(pa.array(field("processID"), pa.string()), "None")]
        ).dictionary_encode()
        code = np.asarray(names.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        k = len(names.dictionary)
        have = of_trace * k + code[:e]
        want = np.repeat(np.arange(len(traces), dtype=np.int64), per_trace) * k + code[e:]
        order = np.argsort(have, kind="stable")
        at = np.minimum(np.searchsorted(have[order], want), e - 1)
        entry = np.where(have[order][at] == want, order[at], -1)
    inline = field("process")
    has_inline = np.fromiter(map(is_not, inline, repeat(None)), bool, n)
    if has_inline.any():
        entry = np.where(has_inline, e + np.cumsum(has_inline) - 1, entry)
        procs.extend(compress(inline, has_inline))
    return entry, procs


def _parents(spans: list[Span], trace_id: pa.Array, field: Any) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(parent span id, its trace when another, any reference into another trace) as :func:`_parent`
    says them: the first ``CHILD_OF`` reference in the span's trace, else the first in its trace,
    else the first; without references that name a span, ``parentSpanID`` unless all zeros."""
    n = len(spans)
    none = pa.scalar(None, pa.string())
    lists = _or_empty(field("references"))
    flat: list[Ref] = list(chain.from_iterable(lists))
    foreign = np.zeros(n, dtype=bool)
    has_ref = np.zeros(n, dtype=bool)
    parent = pa.nulls(n, pa.string())
    parent_trace = pa.nulls(n, pa.string())
    if flat:
        owner = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(len, lists), np.int64, n))
        ids = pa.array(list(map(attrgetter("spanID"), flat)), pa.string())
        rows = np.flatnonzero(np.asarray(_nonempty(ids)))
        if len(rows):
            take = pa.array(rows)
            o = owner[rows]
            span_trace = trace_id.take(pa.array(o))
            given = pa.array(list(map(attrgetter("traceID"), flat)), pa.string()).take(take)
            ref_trace = pc.if_else(_nonempty(given), lower_like_python(given), span_trace)
            same = np.asarray(pc.equal(ref_trace, span_trace))
            named = flat if len(rows) == len(flat) else _at(flat, rows)
            child = same & np.fromiter(map(eq, map(attrgetter("refType"), named), repeat("CHILD_OF")), bool, len(rows))
            if (o[1:] != o[:-1]).all():  # one reference a span (the usual): it is the parent
                pick = np.arange(len(rows))
            else:  # the first CHILD_OF in the trace, else the first in the trace, else the first
                rank = np.where(child, 0, np.where(same, 1, 2))
                order = np.argsort(o * 3 + rank, kind="stable")
                pick = order[np.append(True, o[order][1:] != o[order][:-1])]
            owners = o[pick]
            has_ref[owners] = True
            foreign[o[~same]] = True
            picked = pa.array(pick)
            parent = scatter(n, owners, lower_like_python(ids.take(take).take(picked)))
            elsewhere = pc.if_else(pa.array(same[pick]), none, ref_trace.take(picked))
            parent_trace = scatter(n, owners, elsewhere)
    rest = np.flatnonzero(~has_ref)  # (the roots, mostly): their legacy parentSpanID
    legacy = pa.array(list(map(attrgetter("parentSpanID"), _at(spans, rest))), pa.string())
    usable = np.asarray(pc.fill_null(pc.not_equal(pc.utf8_trim(legacy, "0"), ""), False))
    if usable.any():
        at = rest[usable]
        took = np.zeros(n, dtype=bool)
        took[at] = True
        parent = pc.if_else(pa.array(took), scatter(n, at, lower_like_python(legacy.filter(pa.array(usable)))), parent)
    return parent, parent_trace, foreign
