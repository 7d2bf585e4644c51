"""OTLP JSON traces (the protobuf JSON mapping, as the OpenTelemetry Collector's file exporter writes it).

Shape: ``{"resourceSpans": [{"resource": {"attributes": [...]}, "scopeSpans": [{"spans": [...]}]}]}``,
one document or one per line; ``instrumentationLibrarySpans`` (older exporters) and Jaeger v2's
``{"result": {"resourceSpans": ...}}`` wrapper are accepted too. Times are nanoseconds, written as
strings or as numbers; ids are hex (any case); ``status.code`` 2 (or ``STATUS_CODE_ERROR``) is an
error; ``kind`` is a number (1..5) or a ``SPAN_KIND_*`` name.

Two readers give the same raw frame: :func:`parse` walks the parsed JSON (every shape above), and
:func:`parse_arrow` reads line-delimited files with ``pyarrow.json`` and flattens the nested lists
column-wise (no Python work per span); :func:`read_raw` uses the second when it can and falls back
to the first.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .common import MAX_BYTES, Columns, attr_str, iter_documents, raw_table, shape_error, to_int

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
        return float(d) if isinstance(d, (int, float, str)) else None
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values") or ()]
    if "kvlistValue" in v:
        return {kv.get("key"): any_value(kv.get("value")) for kv in (v["kvlistValue"] or {}).get("values") or ()}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


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
            res_attrs = {
                a.get("key"): any_value(a.get("value"))
                for a in ((rs.get("resource") or {}).get("attributes") or ())
                if isinstance(a, dict)
            }
            service = attr_str(res_attrs.get("service.name"))
            scopes = rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ()
            for scope in scopes:
                for sp in (scope or {}).get("spans") or ():
                    index += 1
                    if not isinstance(sp, dict):
                        raise shape_error(path, "expected a span object", f"span {index}")
                    span_attrs = {
                        a["key"]: a.get("value") for a in sp.get("attributes") or () if a.get("key") in wanted
                    }
                    start = to_int(sp.get("startTimeUnixNano"))
                    end = to_int(sp.get("endTimeUnixNano"))
                    c["trace_id"].append(str(sp.get("traceId") or "").lower())
                    c["span_id"].append(str(sp.get("spanId") or "").lower())
                    c["parent_id"].append(str(sp.get("parentSpanId")).lower() if sp.get("parentSpanId") else None)
                    c["parent_trace_id"].append(None)
                    c["name"].append(str(sp.get("name") or ""))
                    c["service"].append(service)
                    peer = span_attrs.get("peer.service")
                    c["peer_service"].append(attr_str(any_value(peer)) if peer is not None else None)
                    c["kind"].append(_kind(sp.get("kind")))
                    c["start_ns"].append(start if start is not None else -1)
                    c["dur_ns"].append(end - start if start is not None and end is not None else -1)
                    c["error"].append(_is_error(sp.get("status")))
                    c["shared"].append(False)
                    c["foreign_ref"].append(False)
                    c["index"].append(index)
                    ts = sp.get("traceState")
                    for k in keys:
                        if k in span_attrs:
                            attrs[k].append(any_value(span_attrs[k]))
                        elif k == "tracestate" and ts:
                            attrs[k].append(str(ts))
                        elif k in res_attrs:
                            attrs[k].append(res_attrs[k])
                        else:
                            attrs[k].append(None)
    return cols.frame()


# ---- the columnar path: pyarrow.json + list flattening --------------------------------------------


#: a file at least this large is cut into parts parsed and flattened in parallel
PARALLEL_BYTES = 1 << 24
#: bounds of the size of one part (about four parts per CPU in between)
PART_BYTES = (1 << 23, 1 << 26)


def parse_arrow(path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pd.DataFrame | None:
    """The raw span frame read column-wise with ``pyarrow.json``, or ``None`` when this file's shape
    is outside what the columnar path handles (the caller then uses :func:`parse`).

    Handles line-delimited OTLP (one ``{"resourceSpans": [...]}`` per line, gzip or plain) whose
    values have one JSON type per field; anything else returns ``None``. Attributes named in
    ``numeric`` come out as float64 columns (what normalisation would parse them into anyway).
    """
    table = parse_arrow_table(path, attributes, numeric)
    return None if table is None else table.to_pandas()


def parse_arrow_table(path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pa.Table | None:
    """:func:`parse_arrow` as an arrow table (the raw columns, then ``attr:*``).

    A large file is cut at line ends into parts (see :data:`PART_BYTES`), and each part is parsed
    *and* flattened by its own task, on as many threads as there are CPUs (arrow releases the GIL),
    so that flattening runs beside parsing rather than after it. When a cut falls inside a
    document (pretty-printed JSON), that part does not parse and the file is read in one piece.
    """
    keys = tuple(dict.fromkeys(attributes))
    num = frozenset(numeric)
    try:
        data = _load(path)
    except (OSError, pa.ArrowInvalid) as e:
        log.debug("columnar OTLP read of %s: %s", path, e)
        return None
    if data is None:
        return None
    workers = os.cpu_count() or 1
    parts = [data]
    if data.size >= PARALLEL_BYTES and workers > 1:
        parts = _cut(data, min(max(data.size // (4 * workers), PART_BYTES[0]), PART_BYTES[1]))
    if len(parts) > 1 and max(part.size for part in parts) < 1 << 30:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(parts))) as pool:
            tables = list(pool.map(lambda part: _read_part(part, path, keys, num, None), parts))
        if all(t is not None for t in tables):
            try:
                return _renumber(pa.concat_tables(tables))
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                log.debug("columnar OTLP read of %s: parts differ (%s)", path, e)
        log.debug("columnar OTLP read of %s: reading it in one piece", path)
        del tables
    for block in (1 << 25, 1 << 30):  # an export (a line) must fit in one block; 1 GiB for pretty documents
        try:
            table = _read_part(data, path, keys, num, block)
        except _Straddling:
            continue
        return None if table is None else _renumber(table)
    return None


class _Straddling(Exception):
    """A JSON value larger than the parse block."""


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


def _cut(data: pa.Buffer, size: int) -> list[pa.Buffer]:
    """``data`` cut after a newline about every ``size`` bytes (zero-copy slices)."""
    n = data.size
    view = memoryview(data)
    parts: list[pa.Buffer] = []
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
        parts.append(data.slice(begin, cut - begin))
        begin = cut
    parts.append(data.slice(begin, n - begin))
    return parts


def _read_part(
    part: pa.Buffer, path: Path, keys: tuple[str, ...], numeric: frozenset[str], block: int | None
) -> pa.Table | None:
    """Bytes parsed and flattened; ``None`` when outside the columnar path's reach.

    ``block`` ``None``: the bytes are one block parsed on this thread (a part among others);
    else blocks of that size on arrow's threads, and :class:`_Straddling` when a value is larger.
    """
    import pyarrow.json as pj

    if block is None:
        opts = pj.ReadOptions(block_size=max(part.size + 1, 1 << 16), use_threads=False)
    else:
        opts = pj.ReadOptions(block_size=block)
    try:
        table = pj.read_json(pa.BufferReader(part), read_options=opts)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as e:
        log.debug("columnar OTLP read of %s (block %s): %s", path, block, e)
        if block is not None and ("straddling" in str(e) or "block" in str(e).lower()):
            raise _Straddling from None
        return None
    if table.column_names != ["resourceSpans"]:
        return None
    try:
        return _flatten(table, keys, numeric)
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
        log.debug("columnar OTLP path gave up on %s: %s", path, e)
        return None


def _renumber(table: pa.Table) -> pa.Table:
    """The ``index`` column as the 1-based position of each span in the whole file."""
    i = table.schema.get_field_index("index")
    return table.set_column(i, "index", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


def _field(arr: Any, name: str) -> Any:
    if not pa.types.is_struct(arr.type) or arr.type.get_field_index(name) < 0:
        return None
    return arr.field(name)


def _av_string(value: Any) -> Any:
    """An arrow struct array of OTLP ``AnyValue``s as strings (the text :func:`.common.attr_str` gives)."""
    out = pa.nulls(len(value), pa.string())
    for name in ("stringValue", "intValue", "doubleValue", "boolValue", "bytesValue"):
        f = _field(value, name)
        if f is None or pa.types.is_null(f.type):
            continue
        if pa.types.is_boolean(f.type):
            s = pc.if_else(f, "true", "false")
        elif pa.types.is_floating(f.type) or pa.types.is_integer(f.type) or pa.types.is_string(f.type):
            s = f if pa.types.is_string(f.type) else pc.cast(f, pa.string())
        else:
            raise TypeError(f"unsupported AnyValue field {name}: {f.type}")
        out = pc.coalesce(out, s)
    return out


def _scatter(n: int, positions: np.ndarray, values: Any) -> Any:
    """A length-``n`` arrow array holding ``values[i]`` at ``positions[i]`` and null elsewhere
    (the last value where a position repeats)."""
    if len(positions) == n and (n == 0 or (positions[0] == 0 and bool((np.diff(positions) == 1).all()))):
        return values  # one value per position, in order
    idx = np.full(n, -1, dtype=np.int64)
    idx[positions] = np.arange(len(positions), dtype=np.int64)
    return values.take(pa.array(idx, mask=idx < 0))


def _is_kv_list(arr: Any) -> bool:
    """A list of ``{key, value}`` structs (an empty list everywhere is inferred as ``list<null>``)."""
    if not pa.types.is_list(arr.type) or not pa.types.is_struct(arr.type.value_type):
        return False
    st = arr.type.value_type
    return st.get_field_index("key") >= 0 and st.get_field_index("value") >= 0


def _str_to_float(arr: Any) -> Any:
    """Strings to float64, null where not a number."""
    try:
        return pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(pd.to_numeric(arr.to_pandas(), errors="coerce"), pa.float64(), from_pandas=True)


def _as_floats(member: Any) -> np.ndarray:
    """An ``AnyValue`` member (number or numeric text) as float64, NaN where null or not a number."""
    f = _str_to_float(member) if pa.types.is_string(member.type) else pc.cast(member, pa.float64())
    return np.asarray(f.to_numpy(zero_copy_only=False), dtype=np.float64)


class _Floats:
    """An attribute value array (OTLP ``AnyValue`` structs) as numbers, one span column per key.

    The first member present counts, in the order ``doubleValue``, ``intValue``, ``stringValue``.
    The number-typed members are made one float64 array once for the whole value array, so a
    key's column is a gather and a scatter of 8-byte values rather than a take of the value
    structs with their strings; ``stringValue`` (mostly text that is not a number) is converted
    per key, only where the key has some.
    """

    def __init__(self, value: Any) -> None:
        num = None
        for name in ("doubleValue", "intValue"):
            f = _field(value, name)
            if f is not None and not pa.types.is_null(f.type):
                x = _as_floats(f)
                num = x if num is None else np.where(np.isnan(num), x, num)
        self.num = num if num is not None else np.full(len(value), np.nan)
        strings = _field(value, "stringValue")
        usable = strings is not None and not pa.types.is_null(strings.type) and strings.null_count < len(strings)
        self.strings = strings
        self.has_string = strings.is_valid().to_numpy(zero_copy_only=False) if usable else None

    def column(self, idx: np.ndarray, span: np.ndarray, n: int) -> pa.Array:
        """The key whose attributes are ``idx`` (ascending), held by spans ``span``, as ``n`` spans' floats."""
        v = self.num[idx]
        if self.has_string is not None and self.has_string[idx].any():
            v = np.where(np.isnan(v), _as_floats(self.strings.take(pa.array(idx))), v)
        last = np.ones(len(span), dtype=bool)  # a key repeated on one span: the last value, as _scatter gives
        last[:-1] = span[1:] != span[:-1]
        out = np.full(n, np.nan)
        out[span[last]] = v[last]
        return pa.array(out, from_pandas=True)  # NaN -> null: absent


def _flatten(table: Any, keys: tuple[str, ...], numeric: frozenset[str] = frozenset()) -> pa.Table:
    col = table.column("resourceSpans")
    rs = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()  # combining one chunk would copy it
    rs_flat = pc.list_flatten(rs)  # one struct per resourceSpans entry
    n_rs = len(rs_flat)
    res = _field(rs_flat, "resource")
    res_attr = _field(res, "attributes") if res is not None else None
    res_values: dict[str, Any] = {}
    if res_attr is not None and _is_kv_list(res_attr):
        ra_flat = pc.list_flatten(res_attr)
        ra_parent = pc.list_parent_indices(res_attr).to_numpy()
        ra_key = ra_flat.field("key")
        ra_val = _av_string(ra_flat.field("value"))
        for k in ("service.name", *keys):
            sel = np.flatnonzero(pc.fill_null(pc.equal(ra_key, k), False).to_numpy(zero_copy_only=False))
            if len(sel):
                res_values[k] = _scatter(n_rs, ra_parent[sel], ra_val.take(pa.array(sel)))
    scopes_name = "scopeSpans" if _field(rs_flat, "scopeSpans") is not None else "instrumentationLibrarySpans"
    scopes = _field(rs_flat, scopes_name)
    if scopes is None:
        raise KeyError(scopes_name)
    scope_flat = pc.list_flatten(scopes)
    scope_parent = pc.list_parent_indices(scopes).to_numpy()
    spans = _field(scope_flat, "spans")
    if spans is None:
        raise KeyError("spans")
    span_flat = pc.list_flatten(spans)
    span_rs = pa.array(scope_parent[pc.list_parent_indices(spans).to_numpy()])
    n = len(span_flat)

    def text(name: str) -> Any:
        f = _field(span_flat, name)
        return pa.nulls(n, pa.string()) if f is None else (f if pa.types.is_string(f.type) else pc.cast(f, pa.string()))

    def ns(name: str) -> np.ndarray:
        f = _field(span_flat, name)
        if f is None:
            return np.full(n, -1, dtype=np.int64)
        if not pa.types.is_integer(f.type):
            f = pc.cast(f, pa.int64())  # decimal strings; raises on anything else
        return np.asarray(f.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)

    start = ns("startTimeUnixNano")
    end = ns("endTimeUnixNano")
    dur = np.where((start >= 0) & (end >= 0), end - start, -1)
    kind_raw = _field(span_flat, "kind")
    if kind_raw is None or pa.types.is_null(kind_raw.type):
        kind = pa.nulls(n, pa.string())
    elif pa.types.is_integer(kind_raw.type):
        names = pa.array([None, *KINDS.values()], pa.string())
        code = pc.if_else(pc.and_(pc.greater_equal(kind_raw, 1), pc.less_equal(kind_raw, 5)), kind_raw, 0)
        kind = names.take(pc.fill_null(code, 0))
    else:
        k = pc.cast(kind_raw, pa.string())
        kind = pc.utf8_lower(pc.replace_substring_regex(k, "^SPAN_KIND_", ""))
        kind = pc.if_else(pc.equal(kind, ""), pa.scalar(None, pa.string()), kind)
    status = _field(span_flat, "status")
    code = _field(status, "code") if status is not None else None
    if code is None or pa.types.is_null(code.type):
        error = pa.array(np.zeros(n, dtype=bool))
    else:
        error = pc.fill_null(pc.is_in(pc.cast(code, pa.string()), pa.array(["2", "STATUS_CODE_ERROR"])), False)
    parent = text("parentSpanId")
    parent = pc.if_else(pc.equal(parent, ""), pa.scalar(None, pa.string()), parent)
    service = res_values.get("service.name", pa.nulls(n_rs, pa.string())).take(span_rs)
    columns: dict[str, Any] = {
        "trace_id": pc.ascii_lower(pc.fill_null(text("traceId"), "")),
        "span_id": pc.ascii_lower(pc.fill_null(text("spanId"), "")),
        "parent_id": pc.ascii_lower(parent),
        "parent_trace_id": pa.nulls(n, pa.string()),
        "name": pc.fill_null(text("name"), ""),
        "service": service,
        "peer_service": pa.nulls(n, pa.string()),
        "kind": kind,
        "start_ns": pa.array(start),
        "dur_ns": pa.array(dur),
        "error": error,
        "shared": pa.array(np.zeros(n, dtype=bool)),
        "foreign_ref": pa.array(np.zeros(n, dtype=bool)),
        "index": pa.array(np.arange(1, n + 1, dtype=np.int64)),
    }
    # span attributes: only the wanted keys, each scattered into one column
    want = tuple(dict.fromkeys((*keys, "peer.service")))
    span_vals: dict[str, Any] = {}
    attrs = _field(span_flat, "attributes")
    if attrs is not None and _is_kv_list(attrs):
        a_flat = pc.list_flatten(attrs)
        a_parent = pc.list_parent_indices(attrs).to_numpy()
        codes = pc.index_in(a_flat.field("key"), value_set=pa.array(want, pa.string()))
        codes_np = np.asarray(codes.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        values = a_flat.field("value")
        present = np.bincount(codes_np + 1, minlength=len(want) + 1)[1:]
        floats: _Floats | None = None
        for j, k in enumerate(want):
            if not present[j]:
                continue
            idx = np.flatnonzero(codes_np == j)  # a few compares per wanted key: cheaper than sorting by key
            if k in numeric:
                floats = floats or _Floats(values)
                span_vals[k] = floats.column(idx, a_parent[idx], n)
            else:
                span_vals[k] = _scatter(n, a_parent[idx], _av_string(values.take(pa.array(idx))))
    if "peer.service" in span_vals:
        columns["peer_service"] = span_vals["peer.service"]
    ts_col = _field(span_flat, "traceState")
    attributes: dict[str, Any] = {}
    for k in keys:
        out = span_vals.get(k, pa.nulls(n, pa.float64() if k in numeric else pa.string()))
        if k in numeric:
            if k in res_values:
                out = pc.coalesce(out, _str_to_float(res_values[k].take(span_rs)))
            attributes[k] = out
            continue
        if k == "tracestate" and ts_col is not None and not pa.types.is_null(ts_col.type):
            ts = pc.cast(ts_col, pa.string())
            out = pc.coalesce(out, pc.if_else(pc.equal(ts, ""), pa.scalar(None, pa.string()), ts))
        if k in res_values:
            out = pc.coalesce(out, res_values[k].take(span_rs))
        attributes[k] = out
    return raw_table(columns, attributes)


def read_raw(
    path: Path, attributes: Iterable[str], *, numeric: Iterable[str] = (), columnar: bool = True
) -> tuple[pd.DataFrame, str]:
    """The raw frame and which reader made it (``"columnar"`` or ``"document"``).

    The columnar reader is tried first on files that hold JSON objects (the Collector's file
    exporter writes one per line; pretty-printed documents up to 1 GiB work too); anything it
    declines (mixed value types, Jaeger's ``result`` wrapper, ...) goes through :func:`parse`.
    """
    from .common import read_bytes, read_head

    if columnar and read_head(path, 4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        fast = parse_arrow(path, attributes, numeric)
        if fast is not None:
            return fast, "columnar"
    return parse(read_bytes(path), path, attributes), "document"
