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

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .common import Columns, attr_str, iter_documents, shape_error, to_int

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
                            attrs[k].append(attr_str(any_value(span_attrs[k])))
                        elif k == "tracestate" and ts:
                            attrs[k].append(str(ts))
                        elif k in res_attrs:
                            attrs[k].append(attr_str(res_attrs[k]))
                        else:
                            attrs[k].append(None)
    return cols.frame()


# ---- the columnar path: pyarrow.json + list flattening --------------------------------------------


def parse_arrow(path: Path, attributes: Iterable[str]) -> pd.DataFrame | None:
    """The raw span frame read column-wise with ``pyarrow.json``, or ``None`` when this file's shape
    is outside what the columnar path handles (the caller then uses :func:`parse`).

    Handles line-delimited OTLP (one ``{"resourceSpans": [...]}`` per line, gzip or plain) whose
    values have one JSON type per field; anything else returns ``None``.
    """
    import pyarrow as pa
    import pyarrow.json as pj

    keys = tuple(dict.fromkeys(attributes))
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    table = None
    for block in (1 << 25, 1 << 30):  # lines (export batches) must fit in one block
        try:
            with pa.input_stream(str(path), compression="gzip" if gz else None) as stream:
                table = pj.read_json(stream, read_options=pj.ReadOptions(block_size=block))
            break
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as e:
            log.debug("columnar OTLP path not usable for %s (block %d): %s", path, block, e)
            if "straddling" not in str(e) and "block" not in str(e).lower():
                return None
    if table is None:
        return None
    if table.column_names != ["resourceSpans"]:
        return None
    try:
        return _flatten(table, keys)
    except (KeyError, pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as e:
        log.debug("columnar OTLP path gave up on %s: %s", path, e)
        return None


def _field(arr: Any, name: str) -> Any:
    import pyarrow as pa

    if not pa.types.is_struct(arr.type) or arr.type.get_field_index(name) < 0:
        return None
    return arr.field(name)


def _av_string(value: Any) -> Any:
    """An arrow struct array of OTLP ``AnyValue``s as strings (same text :func:`attr_str` gives)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pa.nulls(len(value), pa.string())
    for name in ("stringValue", "intValue", "doubleValue", "boolValue", "bytesValue"):
        f = _field(value, name)
        if f is None:
            continue
        if pa.types.is_boolean(f.type):
            s = pc.if_else(f, "true", "false")
        elif pa.types.is_floating(f.type):
            # repr() of a float; integers-valued doubles keep their ".0"
            s = pa.array([None if x is None else repr(float(x)) for x in f.to_pylist()], pa.string())
        elif pa.types.is_integer(f.type) or pa.types.is_string(f.type) or pa.types.is_large_string(f.type):
            s = pc.cast(f, pa.string())
        else:
            raise TypeError(f"unsupported AnyValue field {name}: {f.type}")
        out = pc.coalesce(out, s)
    return out


def _flatten(table: Any, keys: tuple[str, ...]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.compute as pc

    rs = table.column("resourceSpans").combine_chunks()
    rs_flat = pc.list_flatten(rs)  # struct per resourceSpans entry
    res = _field(rs_flat, "resource")
    res_attr = _field(res, "attributes") if res is not None else None
    # service.name per resourceSpans entry
    n_rs = len(rs_flat)
    service_rs = pa.nulls(n_rs, pa.string())
    res_values: dict[str, Any] = {}
    if res_attr is not None:
        ra_flat = pc.list_flatten(res_attr)
        ra_parent = pc.list_parent_indices(res_attr).to_numpy()
        ra_key = ra_flat.field("key").to_numpy(zero_copy_only=False)
        ra_val = _av_string(ra_flat.field("value")).to_numpy(zero_copy_only=False)
        for k in ("service.name", *keys):
            sel = ra_key == k
            per_rs = np.full(n_rs, None, dtype=object)
            per_rs[ra_parent[sel]] = ra_val[sel]
            res_values[k] = per_rs
        service_rs = pa.array(res_values["service.name"], pa.string())
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
    span_scope = pc.list_parent_indices(spans).to_numpy()
    span_rs = scope_parent[span_scope]
    n = len(span_flat)

    def col(name: str) -> Any:
        f = _field(span_flat, name)
        return f if f is not None else pa.nulls(n, pa.string())

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
    kind_raw = col("kind")
    if pa.types.is_integer(kind_raw.type):
        kind = pd.Series(kind_raw.to_numpy(zero_copy_only=False)).map(KINDS)
    else:
        kind = pd.Series(kind_raw.to_numpy(zero_copy_only=False), dtype=object).map(
            lambda k: _KIND_NAMES.get(k) or (k.lower() if isinstance(k, str) and k else None)
        )
    status = _field(span_flat, "status")
    code = _field(status, "code") if status is not None else None
    if code is None:
        error = np.zeros(n, dtype=bool)
    elif pa.types.is_integer(code.type):
        error = np.asarray(pc.equal(code, 2).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    else:
        error = np.asarray(
            pc.is_in(pc.cast(code, pa.string()), pa.array(["2", "STATUS_CODE_ERROR"]))
            .fill_null(False)
            .to_numpy(zero_copy_only=False),
            dtype=bool,
        )
    parent = col("parentSpanId")
    parent = pc.if_else(pc.equal(pc.cast(parent, pa.string()), ""), pa.scalar(None, pa.string()), parent)

    def lower(a: Any) -> np.ndarray:
        return np.asarray(pc.utf8_lower(pc.cast(a, pa.string())).to_numpy(zero_copy_only=False), dtype=object)

    df = pd.DataFrame(
        {
            "trace_id": lower(pc.fill_null(pc.cast(col("traceId"), pa.string()), "")),
            "span_id": lower(pc.fill_null(pc.cast(col("spanId"), pa.string()), "")),
            "parent_id": lower(parent),
            "parent_trace_id": np.full(n, None, dtype=object),
            "name": np.asarray(pc.fill_null(pc.cast(col("name"), pa.string()), "").to_numpy(zero_copy_only=False)),
            "service": np.asarray(service_rs.to_numpy(zero_copy_only=False), dtype=object)[span_rs],
            "peer_service": np.full(n, None, dtype=object),
            "kind": kind.to_numpy(dtype=object),
            "start_ns": start,
            "dur_ns": dur,
            "error": error,
            "shared": np.zeros(n, dtype=bool),
            "foreign_ref": np.zeros(n, dtype=bool),
            "index": np.arange(1, n + 1, dtype=np.int64),
        }
    )
    # span attributes: only the wanted keys, scattered into one column each
    attrs = _field(span_flat, "attributes")
    span_vals: dict[str, np.ndarray] = {}
    want = (*keys, "peer.service")
    if attrs is not None:
        a_flat = pc.list_flatten(attrs)
        a_parent = pc.list_parent_indices(attrs).to_numpy()
        a_key = a_flat.field("key")
        sel_any = pc.is_in(a_key, pa.array(list(dict.fromkeys(want)), pa.string()))
        idx = np.flatnonzero(np.asarray(sel_any.fill_null(False).to_numpy(zero_copy_only=False)))
        if len(idx):
            k_sel = a_key.take(pa.array(idx)).to_numpy(zero_copy_only=False)
            v_sel = _av_string(a_flat.field("value").take(pa.array(idx))).to_numpy(zero_copy_only=False)
            p_sel = a_parent[idx]
            for k in dict.fromkeys(want):
                m = k_sel == k
                if m.any():
                    out = np.full(n, None, dtype=object)
                    out[p_sel[m]] = v_sel[m]
                    span_vals[k] = out
    if "peer.service" in span_vals:
        df["peer_service"] = span_vals["peer.service"]
    ts_col = _field(span_flat, "traceState")
    for k in keys:
        got = span_vals.get(k)
        out = got if got is not None else np.full(n, None, dtype=object)
        if k == "tracestate" and ts_col is not None:
            ts = np.asarray(pc.cast(ts_col, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
            fill = pd.isna(out) & pd.notna(ts) & (ts != "")
            out[fill] = ts[fill]
        if k in res_values:
            rv = res_values[k][span_rs]
            fill = pd.isna(out)
            out[fill] = rv[fill]
        df["attr:" + k] = out
    return df


def read_raw(path: Path, attributes: Iterable[str], *, columnar: bool = True) -> tuple[pd.DataFrame, str]:
    """The raw frame and which reader made it (``"columnar"`` or ``"document"``).

    The columnar reader is tried first on compact files that start with ``{"resourceSpans"``
    (the Collector's file exporter writes those); anything else, or anything it declines, goes
    through :func:`parse`.
    """
    from .common import read_bytes, read_head

    if columnar and read_head(path).lstrip().startswith(b'{"resourceSpans"'):
        fast = parse_arrow(path, attributes)
        if fast is not None:
            return fast, "columnar"
    return parse(read_bytes(path), path, attributes), "document"
