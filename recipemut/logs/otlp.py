"""OTLP JSON traces (the protobuf JSON mapping, as the OpenTelemetry Collector's file exporter writes it).

Shape: ``{"resourceSpans": [{"resource": {"attributes": [...]}, "scopeSpans": [{"spans": [...]}]}]}``,
one document or one per line; ``instrumentationLibrarySpans`` (older exporters) and Jaeger v2's
``{"result": {"resourceSpans": ...}}`` wrapper are accepted too. Times are nanoseconds, written as
strings or as numbers; ids are hex (any case); ``status.code`` 2 (or ``STATUS_CODE_ERROR``) is an
error; ``kind`` is a number (1..5) or a ``SPAN_KIND_*`` name.

Two readers give the same raw frame: :func:`parse` walks the parsed JSON (every shape above), and
:func:`parse_arrow` scans the bytes with the compiled scanner of :mod:`.otlpscan` and builds the
columns with numpy and arrow (no Python work per span); :func:`read_raw` uses the second on files
of :data:`SCAN_BYTES` or more when it can and falls back to the first.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.common import (
    MAX_BYTES,
    Columns,
    attr_str,
    iter_documents,
    json_kind,
    raw_table,
    shape_error,
    to_int,
)
from recipemut.logs.common import text as as_text

log = logging.getLogger(__name__)

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_KIND_NAMES = {f"SPAN_KIND_{v.upper()}": v for v in KINDS.values()}


def any_value(v: Any) -> Any:
    """The Python value of an OTLP ``AnyValue`` (``{"stringValue": "x"}`` -> ``"x"``).

    >>> any_value({"intValue": "42"}), any_value({"boolValue": True}), any_value({"stringValue": "a"})
    (42, True, 'a')
    """
    if not isinstance(v, dict) or not v:
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return to_int(v["intValue"])
    if "doubleValue" in v:
        d = v["doubleValue"]
        try:
            return float(d) if isinstance(d, (int, float, str)) else None
        except ValueError:  # text that is not a number: no value, as the columnar reader gives
            return None
    if "boolValue" in v:
        b = v["boolValue"]
        # null is false (as the scanner reads it); text or a number is no value, never bool("false")
        return b is True if b is None or isinstance(b, bool) else None
    if "arrayValue" in v:
        values = _values_of(v["arrayValue"])
        return None if values is None else [any_value(x) for x in values]
    if "kvlistValue" in v:
        values = _values_of(v["kvlistValue"])
        if values is None:
            return None
        # entries that are not objects, or whose key is not a string, are skipped (as attribute lists')
        return {
            kv["key"]: any_value(kv.get("value"))
            for kv in values
            if isinstance(kv, dict) and isinstance(kv.get("key"), str)
        }
    if "bytesValue" in v:
        return v["bytesValue"]
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
        return _KIND_NAMES.get(k) or (k.lower() or None)
    return None


def _is_error(status: Any) -> bool:
    if not isinstance(status, dict):
        return False
    code = status.get("code")
    return code == 2 or code == "STATUS_CODE_ERROR" or code == "2"


def _resource_spans(doc: Any, path: Path) -> list[Any]:
    if isinstance(doc, dict) and "result" in doc and "resourceSpans" not in doc:
        doc = doc["result"]
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        raise shape_error(path, "expected an object with a 'resourceSpans' list", "OTLP document")
    return doc.get("resourceSpans") or []


def _int64(v: int | None) -> int | None:
    """``v`` when an int64 holds it (the scanner's range for times and durations), else ``None``."""
    return v if v is not None and -(1 << 63) <= v < 1 << 63 else None


def _list(v: Any, path: Path, where: str) -> list[Any]:
    """A list member (absent or null: empty), or a clear error naming where it is not one."""
    if v is None:
        return []
    if not isinstance(v, list):
        raise shape_error(path, f"expected a list, not a JSON {json_kind(v)}", where)
    return v


def parse(data: bytes, path: Path, attributes: Iterable[str]) -> pd.DataFrame:
    """The raw span frame of an OTLP JSON file (every shape; one Python step per span)."""
    cols = Columns(attributes)
    c = cols.cols
    keys = cols.attr_keys
    wanted = {*keys, "peer.service"}
    attrs = cols.attrs
    index = 0
    for doc in iter_documents(data, path):
        for ri, rs in enumerate(_resource_spans(doc, path)):
            if not isinstance(rs, dict):
                raise shape_error(path, "expected an object", f"resourceSpans[{ri}]")
            resource = rs.get("resource")
            listed = resource.get("attributes") if isinstance(resource, dict) else None
            res_attrs = {
                a["key"]: any_value(a.get("value"))
                for a in (listed if isinstance(listed, list) else ())
                if isinstance(a, dict) and isinstance(a.get("key"), str)  # (the scanner skips other keys too)
            }
            service = attr_str(res_attrs.get("service.name"))
            scope_key = "scopeSpans" if rs.get("scopeSpans") else "instrumentationLibrarySpans"
            scopes = _list(rs.get(scope_key), path, f"resourceSpans[{ri}].{scope_key}")
            for si, scope in enumerate(scopes):
                if scope is not None and not isinstance(scope, dict):
                    raise shape_error(path, "expected an object", f"resourceSpans[{ri}].{scope_key}[{si}]")
                for sp in _list((scope or {}).get("spans"), path, f"resourceSpans[{ri}].{scope_key}[{si}].spans"):
                    index += 1
                    if not isinstance(sp, dict):
                        raise shape_error(path, "expected a span object", f"span {index}")
                    span_attrs = {
                        a["key"]: a.get("value")
                        for a in _list(sp.get("attributes"), path, f"span {index}: attributes")
                        if isinstance(a, dict) and isinstance(a.get("key"), str) and a["key"] in wanted
                    }
                    start = _int64(to_int(sp.get("startTimeUnixNano")))
                    end = _int64(to_int(sp.get("endTimeUnixNano")))
                    where = f"span {index}"
                    c["trace_id"].append((as_text(sp.get("traceId"), path, where, "traceId") or "").lower())
                    c["span_id"].append((as_text(sp.get("spanId"), path, where, "spanId") or "").lower())
                    parent = as_text(sp.get("parentSpanId"), path, where, "parentSpanId")
                    c["parent_id"].append(parent.lower() if parent else None)
                    c["parent_trace_id"].append(None)
                    c["name"].append(as_text(sp.get("name"), path, where, "name") or "")
                    c["service"].append(service)
                    peer = span_attrs.get("peer.service")
                    c["peer_service"].append(attr_str(any_value(peer)) if peer is not None else None)
                    c["kind"].append(_kind(sp.get("kind")))
                    c["start_ns"].append(start if start is not None else -1)
                    dur = _int64(end - start) if start is not None and end is not None else None
                    c["dur_ns"].append(dur if dur is not None else -1)
                    c["error"].append(_is_error(sp.get("status")))
                    c["shared"].append(False)
                    c["foreign_ref"].append(False)
                    c["index"].append(index)
                    ts = sp.get("traceState")
                    for k in keys:
                        if k in span_attrs:
                            attrs[k].append(any_value(span_attrs[k]))
                        elif k == "tracestate" and ts:
                            attrs[k].append(as_text(ts, path, where, "traceState"))
                        elif k in res_attrs:
                            attrs[k].append(res_attrs[k])
                        else:
                            attrs[k].append(None)
    return cols.frame()


# ---- the columnar path: a compiled scan of the bytes, then column-wise assembly -------------------


#: a file at least this large is cut into parts scanned in parallel
PARALLEL_BYTES = 1 << 24
#: bounds of the size of one part (about four parts per CPU in between)
PART_BYTES = (1 << 23, 1 << 26)


def parse_arrow(path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pd.DataFrame | None:
    """The raw span frame read column-wise, or ``None`` when this file's shape is outside what the
    columnar path handles (the caller then uses :func:`parse`).

    Handles OTLP exports (one ``{"resourceSpans": [...]}`` per line or pretty-printed, gzip or
    plain) in any key order; see :mod:`.otlpscan` for what makes it decline. Attributes named in
    ``numeric`` come out as float64 columns (what normalisation would parse them into anyway).
    """
    table = parse_arrow_table(path, attributes, numeric)
    return None if table is None else table.to_pandas()


def parse_arrow_table(path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pa.Table | None:
    """:func:`parse_arrow` as an arrow table (the raw columns, then ``attr:*``).

    :mod:`.otlpscan` walks the bytes once and keeps span fields and wanted attributes as records,
    their text copied into a buffer of its own; the columns are then assembled with numpy and arrow
    compute. A large file is cut at line ends into parts (see :data:`PART_BYTES`) scanned on as many
    threads as there are CPUs (the scan releases the GIL). When a cut falls inside a document
    (pretty-printed JSON), that part does not scan and the file is scanned in one piece.
    """
    keys = tuple(dict.fromkeys(attributes))
    try:
        data = _load(path)
    except (OSError, pa.ArrowInvalid) as e:
        log.debug("columnar OTLP read of %s: %s", path, e)
        return None
    if data is None:
        return None
    want = tuple(dict.fromkeys(("service.name", *keys, "peer.service")))
    buf = np.frombuffer(data, dtype=np.uint8)
    # read-only like a mapped file's bytes (gunzipped ones are writable): to numba another array
    # type, which would compile a second scanner beside the one _load_scanner loads
    buf.flags.writeable = False
    workers = os.cpu_count() or 1
    bounds = [(0, buf.size)]
    if buf.size >= PARALLEL_BYTES and workers > 1:
        bounds = _cut(data, min(max(buf.size // (4 * workers), PART_BYTES[0]), PART_BYTES[1]))
    spec = _Wanted(buf, want, keys, frozenset(numeric))
    _load_scanner()
    for attempt in (bounds, [(0, buf.size)]):
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(attempt))) as pool:
            tables = list(pool.map(lambda b: _scan(spec, b[0], b[1]), attempt))
        failed = [t for t in tables if isinstance(t, str)]
        if not failed:
            return _renumber(pa.concat_tables(tables)) if len(tables) > 1 else tables[0]
        log.debug("columnar OTLP read of %s: %s", path, failed[0])
        if len(attempt) == 1:
            return None
    return None


@functools.cache
def _load_scanner() -> None:
    """Load the compiled scanner (from numba's cache; compiled on first use) once per process, on
    this thread: when the first parts' threads load it, each waits for the other's load (0.7 s
    lost per thread against 0.4 s for loading it here). The argument types are those of the real
    calls, so nothing else is compiled."""
    from recipemut.logs import otlpscan

    # the first use after installing compiles it: say so when loading takes a while
    slow = threading.Timer(SLOW_LOAD_S, log.warning, (SLOW_LOAD_NOTE,))
    slow.daemon = True
    slow.start()
    try:
        data = np.frombuffer(b'{"resourceSpans":[]}', dtype=np.uint8)
        wk = np.frombuffer(b"k", dtype=np.uint8)
        otlpscan.scan_part(data, 0, data.size, wk, np.array([0, 1], dtype=np.int64))
        none = np.zeros(1, dtype=np.int64)
        otlpscan.gather(data, np.zeros(1, dtype=np.uint8), none, none)
    finally:
        slow.cancel()


#: after this many seconds of loading the compiled scanner, :data:`SLOW_LOAD_NOTE` is logged
SLOW_LOAD_S = 3.0
SLOW_LOAD_NOTE = (
    "loading the compiled OTLP JSON scanner: the first use after installing or upgrading recipemut "
    "compiles it (20-30 s, once); later runs load it in under a second"
)


class _Wanted(NamedTuple):
    buf: np.ndarray  # the whole file's bytes
    want: tuple[str, ...]  # the keys the scan records: service.name, the attributes, peer.service
    keys: tuple[str, ...]  # the attribute columns
    numeric: frozenset[str]  # ... of them read as float64


def _scan(spec: _Wanted, begin: int, end: int) -> pa.Table | str:
    """``buf[begin:end]`` scanned and assembled into the raw span table, or why it could not be."""
    from recipemut.logs import otlpscan

    wk = np.frombuffer("".join(spec.want).encode("utf-8"), dtype=np.uint8)
    wo = np.cumsum([0, *(len(k.encode("utf-8")) for k in spec.want)], dtype=np.int64)
    code, pos, sp, at, ebuf, n_rs = otlpscan.scan_part(spec.buf, begin, end, wk, wo)
    if code != otlpscan.OK:
        return f"{otlpscan.REASONS[code]} in the export at byte {pos}"
    return _assemble(spec, sp, at, ebuf, n_rs)


def _renumber(table: pa.Table) -> pa.Table:
    """The ``index`` column as the 1-based position of each span in the whole file."""
    i = table.schema.get_field_index("index")
    return table.set_column(i, "index", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


def _load(path: Path) -> pa.Buffer | None:
    """The file's bytes: memory-mapped when plain, decompressed when gzip (``None`` beyond
    :data:`.common.MAX_BYTES`: the document reader then says the file is too large)."""
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if gz:
        with pa.input_stream(str(path), compression="gzip") as stream:
            data = stream.read_buffer(MAX_BYTES + 1)
        return data if data.size <= MAX_BYTES else None
    return pa.memory_map(str(path), "r").read_buffer()


def _cut(data: pa.Buffer, size: int) -> list[tuple[int, int]]:
    """``data`` cut after a newline about every ``size`` bytes: (begin, end) of each part."""
    n = data.size
    view = memoryview(data)
    parts: list[tuple[int, int]] = []
    begin = 0
    while n - begin > size + size // 2:
        probe = begin + size
        cut = -1
        while probe < n and cut < 0:
            chunk = bytes(view[probe : probe + (1 << 20)])
            i = chunk.find(b"\n")
            cut = probe + i + 1 if i >= 0 else -1
            probe += len(chunk)
        if cut < 0 or cut >= n:
            break
        parts.append((begin, cut))
        begin = cut
    parts.append((begin, n))
    return parts


def _strings(buf: np.ndarray, ebuf: np.ndarray, off: np.ndarray, ln: np.ndarray) -> pa.Array:
    """Strings given as offsets and lengths (see :mod:`.otlpscan`) as an arrow string array."""
    from recipemut.logs.otlpscan import gather

    offsets, data, valid = gather(buf, ebuf, off, ln)
    n = len(off)
    nulls = n - int(np.count_nonzero(valid))
    mask = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    if offsets[-1] < 1 << 31:
        return pa.Array.from_buffers(
            pa.string(), n, [mask, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)], null_count=nulls
        )
    big = pa.Array.from_buffers(
        pa.large_string(), n, [mask, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=nulls
    )
    return big


def _lower(arr: Any) -> Any:
    """Strings lower-cased as the document reader's ``str.lower`` does it: ASCII text in arrow, other
    text (rare: ids are hex) in Python, since arrow's ``utf8_lower`` maps one code point at a time
    (no final sigma, a dotted capital I without its dot)."""
    if pc.all(pc.string_is_ascii(arr)).as_py() is not False:
        return pc.ascii_lower(arr)
    return pa.array([None if s is None else s.lower() for s in arr.to_pylist()], arr.type)


def _str_to_float(arr: Any) -> Any:
    """Strings to float64, null where not a number."""
    try:
        return pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(pd.to_numeric(arr.to_pandas(), errors="coerce"), pa.float64(), from_pandas=True)


def _scatter(n: int, positions: np.ndarray, values: Any) -> Any:
    """A length-``n`` arrow array holding ``values[i]`` at ``positions[i]`` and null elsewhere
    (the last value where a position repeats)."""
    if len(positions) == n and (n == 0 or (positions[0] == 0 and bool((np.diff(positions) == 1).all()))):
        return values  # one value per position, in order
    idx = np.full(n, -1, dtype=np.int64)
    idx[positions] = np.arange(len(positions), dtype=np.int64)
    return values.take(pa.array(idx, mask=idx < 0))


def _values(buf: np.ndarray, ebuf: np.ndarray, at: np.ndarray, rows: np.ndarray, as_float: bool) -> pa.Array:
    """The values of attribute records ``rows`` (of fields x records, see :mod:`.otlpscan`): as the text
    :func:`.common.attr_str` gives the document reader's value (strings as they are, integers in
    decimal, doubles as arrow writes them), or as float64 (null where not a number)."""
    from recipemut.logs import otlpscan as sc

    kind = at[sc.AT_KIND, rows]
    pieces: list[pa.Array] = []
    where = np.zeros(len(kind), dtype=np.int64)
    base = 0

    def text(r: np.ndarray) -> pa.Array:
        return _strings(buf, ebuf, at[sc.AT_TEXT, rows[r]], at[sc.AT_TEXT + 1, rows[r]])

    typ = pa.float64() if as_float else pa.string()
    groups: list[tuple[np.ndarray, Any]] = [
        # (unsafe: an integer beyond 2**53 rounds to the nearest double, as its text read as a number does)
        (np.flatnonzero(kind == sc.V_INT), lambda r: pc.cast(pa.array(at[sc.AT_INT, rows[r]]), typ, safe=False)),
        (
            np.flatnonzero(kind == sc.V_DOUBLE),
            lambda r: _str_to_float(text(r)) if as_float else pc.cast(_str_to_float(text(r)), typ),
        ),
        (
            np.flatnonzero((kind == sc.V_STRING) | (kind == sc.V_BYTES)),
            lambda r: _str_to_float(text(r)) if as_float else text(r),
        ),
    ]
    for picked, make in groups:
        if len(picked):
            arr = make(picked)
            pieces.append(arr if arr.type == typ else arr.cast(typ))
            where[picked] = base + np.arange(len(picked))
            base += len(picked)
    for k, word in ((sc.V_TRUE, "true"), (sc.V_FALSE, "false"), (sc.V_NULL, None)):
        picked = np.flatnonzero(kind == k)
        if len(picked):
            pieces.append(pa.array([None if as_float else word], typ))
            where[picked] = base
            base += 1
    if not pieces:
        return pa.array([], typ)
    if len(pieces) == 1 and base == len(kind):
        return pieces[0]  # one kind of value: already in record order
    return pa.concat_arrays(pieces).take(pa.array(where))


def _assemble(spec: _Wanted, sp: np.ndarray, at: np.ndarray, ebuf: np.ndarray, n_rs: int) -> pa.Table:
    """The raw span table of one part from its span and attribute records (see :mod:`.otlpscan`)."""
    from recipemut.logs import otlpscan as sc

    buf, want, keys, numeric = spec
    n = sp.shape[1]

    def text(field: int) -> pa.Array:
        return _strings(buf, ebuf, sp[field], sp[field + 1])

    start_set = sp[sc.SP_START_SET] == 1
    start = np.where(start_set, sp[sc.SP_START], -1)
    s_ns, e_ns = sp[sc.SP_START], sp[sc.SP_END]
    with np.errstate(over="ignore"):
        d_ns = e_ns - s_ns  # wraps where the true difference is beyond int64: no duration there
    fits = ((e_ns ^ s_ns) & (e_ns ^ d_ns)) >= 0
    dur = np.where(start_set & (sp[sc.SP_END_SET] == 1) & fits, d_ns, -1)
    code = sp[sc.SP_KIND]
    names = pa.array([None, *KINDS.values()], pa.string())
    kind = names.take(pa.array(np.where((code >= 1) & (code <= 5), code, 0)))
    if (code == -2).any():  # kinds written as names: SPAN_KIND_SERVER -> server, others lower-cased
        k = text(sc.SP_KIND_TEXT)
        named = pa.array([None, *_KIND_NAMES.values()], pa.string()).take(
            pc.fill_null(pc.add(pc.index_in(k, value_set=pa.array(list(_KIND_NAMES), pa.string())), 1), 0)
        )
        lower = _lower(k)
        by_name = pc.coalesce(named, pc.if_else(pc.equal(lower, ""), pa.scalar(None, pa.string()), lower))
        kind = pc.if_else(pa.array(code == -2), by_name, kind)
    parent = text(sc.SP_PARENT)
    parent = pc.if_else(pc.equal(parent, ""), pa.scalar(None, pa.string()), parent)

    # attribute records grouped by (key, on a resource): a few groups, each found once
    group = at[sc.AT_KEY] * 2 + at[sc.AT_ON_RESOURCE]
    if 2 * len(want) < 1 << 15:
        group = group.astype(np.int16)  # a stable sort of 16-bit integers is a radix sort
    order = np.argsort(group, kind="stable")  # file order inside a group: the last value wins
    bounds = np.searchsorted(group[order], np.arange(2 * len(want) + 1))
    owner = at[sc.AT_OWNER]

    def last_values(j: int, resource: bool, size: int, as_float: bool) -> tuple[Any, np.ndarray]:
        g = 2 * j + int(resource)
        rows = order[bounds[g] : bounds[g + 1]]
        if not len(rows):
            return pa.nulls(size, pa.float64() if as_float else pa.string()), np.zeros(size, dtype=bool)
        has = np.zeros(size, dtype=bool)
        has[owner[rows]] = True
        return _scatter(size, owner[rows], _values(buf, ebuf, at, rows, as_float)), has

    rs_of_span = pa.array(sp[sc.SP_RS])
    service, _ = last_values(0, True, n_rs, False)
    peer, _ = last_values(want.index("peer.service"), False, n, False)
    columns: dict[str, Any] = {
        "trace_id": _lower(pc.fill_null(text(sc.SP_TRACE), "")),
        "span_id": _lower(pc.fill_null(text(sc.SP_SPAN), "")),
        "parent_id": _lower(parent),
        "parent_trace_id": pa.nulls(n, pa.string()),
        "name": pc.fill_null(text(sc.SP_NAME), ""),
        "service": service.take(rs_of_span),
        "peer_service": peer,
        "kind": kind,
        "start_ns": pa.array(start),
        "dur_ns": pa.array(dur),
        "error": pa.array(sp[sc.SP_ERROR] == 1),
        "shared": pa.array(np.zeros(n, dtype=bool)),
        "foreign_ref": pa.array(np.zeros(n, dtype=bool)),
        "index": pa.array(np.arange(1, n + 1, dtype=np.int64)),
    }
    attributes: dict[str, Any] = {}
    for k in keys:
        j = want.index(k)
        as_float = k in numeric
        out, has = last_values(j, False, n, as_float)  # the span's own value, even a null one
        if k == "tracestate":
            ts = text(sc.SP_STATE)
            ts_ok = pc.fill_null(pc.not_equal(ts, ""), False).to_numpy(zero_copy_only=False)
            out = pc.if_else(pa.array(~has & ts_ok), _str_to_float(ts) if as_float else ts, out)
            has = has | ts_ok
        res, res_has = last_values(j, True, n_rs, as_float)
        if res_has.any():
            out = pc.if_else(pa.array(~has & res_has[sp[sc.SP_RS]]), res.take(rs_of_span), out)
        attributes[k] = out
    return raw_table(columns, attributes)


#: files smaller than this (gzip: about 8x their size) are read by the document reader: below it,
#: loading the compiled scanner (about half a second; a one-time compile of 20-30 s on first use)
#: costs more than it saves (at 23.5 MB: 0.66-0.82 s with the scanner, 0.94-1.00 s without, in a new
#: process)
SCAN_BYTES = 16 << 20


def read_raw(
    path: Path, attributes: Iterable[str], *, numeric: Iterable[str] = (), columnar: bool = True
) -> tuple[pd.DataFrame, str]:
    """The raw frame and which reader made it (``"columnar"`` or ``"document"``).

    The columnar reader is tried first on files of at least :data:`SCAN_BYTES` that hold JSON
    objects (the Collector's file exporter writes one per line; pretty-printed documents work
    too); anything it declines (a time that is not an integer, Jaeger's ``result`` wrapper, ...)
    goes through :func:`parse`.
    """
    from recipemut.logs.common import read_bytes, read_head

    head = read_head(path, 4096)
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    size = path.stat().st_size * (8 if gz else 1)
    if columnar and size >= SCAN_BYTES and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        fast = parse_arrow(path, attributes, numeric)
        if fast is not None:
            return fast, "columnar"
    return parse(read_bytes(path), path, attributes), "document"
