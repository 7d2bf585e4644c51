"""From a raw span frame to the span table: the warts of real traces, then spans to operations.

Every step is vectorised over spans (numpy / pandas / arrow); loops run over tree depth, rules, or
blocks of whole traces (span ids are hashed a cache-sized block at a time) only.
Each wart is counted (the keys of :data:`COUNT_KEYS`) and explained in a note:

* spans without trace/span id, start or duration, or with a negative duration: dropped (``invalid_spans``);
* byte-identical duplicates (same id, name, service, times): dropped (``duplicate_spans``);
* the client and server halves of one RPC (same id, Zipkin's ``shared``): merged into one span
  (``shared_merged``); its latency comes from the client half by default (the caller's view,
  network included; ``merge.latency: server`` in the mapping flips it), its service is the
  server's; when the server half does not fit inside the client half, the server's clock is off
  and its subtree is shifted to centre it (counted in ``clock_skew_corrected``);
* other spans sharing an id with a different content: kept, parent look-ups use the first
  (``duplicate_span_ids``);
* a parent in another trace (``parent_in_other_trace``) or absent from the file (``parent_missing``):
  the span is treated as a root of its trace;
* parent cycles: every span on a cycle becomes a root (``parent_cycle``);
* a child starting before its parent (clock skew between hosts): the child and its subtree are
  shifted to start with the parent (``clock_skew_corrected``);
* a child ending after its parent (async work, or skew): flagged only (``child_outlives_parent``);
* sampling: the trace's rate from ``sampling.probability``, ``sampler.type``/``sampler.param``,
  ``SampleRate``, OTel's ``tracestate`` threshold (``ot=th:``) or ``sampling.priority`` >= 1
  (forced, rate 1); else the caller's rate (``sample_rate_from_trace`` counts spans with a carried rate);
* spans that map to no operation (``unmapped_spans``, top names in the notes) or to several
  (``ambiguous_spans``): not in the table, never silently;
* nesting: a span of an operation holding spans of other operations is charged its own time by the
  profile (:mod:`recipemut.logs.nesting`); they are counted here (``own_time_charged``), and a span
  whose parent maps to no operation names its nearest enclosing span of an operation as its
  ``parent_span_id``, so that the table alone says what ran inside what.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import LogError
from recipemut.files.units import counted
from recipemut.logs.common import to_float
from recipemut.logs.mapping import STATUS_NAMES, SpanMapping, assign_operations, status_codes
from recipemut.logs.nesting import nearest_mapped, own_time
from recipemut.logs.spans import CALL_SCHEMA, DEFAULT_VARIANT, SPAN_SCHEMA, factorize
from recipemut.logs.unmatched import MatchTally, ambiguous_note
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)

COUNT_KEYS = (
    "spans_read",
    "spans_mapped",
    "traces",
    "invalid_spans",
    "duplicate_spans",
    "shared_merged",
    "duplicate_span_ids",
    "parent_missing",
    "parent_in_other_trace",
    "parent_cycle",
    "clock_skew_corrected",
    "child_outlives_parent",
    "sample_rate_from_trace",
    "unmapped_spans",
    "ambiguous_spans",
    "own_time_charged",
)
TOP_UNMAPPED = 5
#: the call columns a trace gives every span (attempts and items are not in traces)
TRACE_CALL_COLS = ("span_id", "parent_span_id")


def _spans(n: int, one: str, many: str) -> str:
    """``1 span ends``, ``3 spans end``: a note's count with its verb in the number it needs."""
    return f"{counted(n, 'span')} {one if n == 1 else many}"


def normalise(
    raw: pd.DataFrame,
    *,
    path: Path,
    fmt: str,
    recipe: Recipe | None,
    mapping: SpanMapping,
    sample_rate: float | None = None,
    strict: bool = False,
) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """The span table (``spans.SPAN_SCHEMA``), the counts of every wart, and notes for people.

    With ``strict``, a span that cannot be used (no id, start or duration) raises
    :class:`~recipemut.errors.LogError` naming its position in the file instead of being dropped.
    """
    table, counts, notes = normalise_table(
        raw, path=path, fmt=fmt, recipe=recipe, mapping=mapping, sample_rate=sample_rate, strict=strict
    )
    return table.select(SPAN_SCHEMA.names).to_pandas(), counts, notes


def normalise_table(
    raw: pd.DataFrame,
    *,
    path: Path,
    fmt: str,
    recipe: Recipe | None,
    mapping: SpanMapping,
    sample_rate: float | None = None,
    strict: bool = False,
    tally: MatchTally | None = None,
) -> tuple[pa.Table, dict[str, int], list[str]]:
    """:func:`normalise` with the span table as an arrow table in ``spans.SPAN_SCHEMA``, followed by the
    ``span_id`` and ``parent_span_id`` columns (:data:`~recipemut.logs.spans.CALL_SCHEMA`): every span
    mapped to an operation is a call of it, repeats included. ``tally`` is told what each mapping rule took."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    notes: list[str] = []
    counts["spans_read"] = len(raw)
    raw = raw.reset_index(drop=True)
    # hashing the ids is the longest step: it runs on arrow's arrays in a thread (arrow releases the
    # GIL) while this one matches spans to operations and builds every column that needs no ids,
    # kept unless spans are dropped or merged below
    ids = tuple(_arrow_strings(raw[c]) for c in ("trace_id", "span_id", "parent_id"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(_arrow_codes, *ids)
        no_id = pool.submit(_empty_either, ids[0], ids[1])  # after the codes, in the same thread
        cols = _span_columns(raw, path=path, recipe=recipe, mapping=mapping, sample_rate=sample_rate)
        codes = hashing.result()
        empty_ids = no_id.result()
    del ids
    changed = False
    unique = _ids_unique(codes)
    if not unique and pd.Series(codes[0] * codes[3] + codes[1]).duplicated().any():  # halves or copies
        raw = _merge_shared(raw, mapping.merge_latency, counts, notes)
        ident = ["trace_id", "span_id", "name", "service", "kind", "start_ns", "dur_ns"]
        dup = raw.duplicated(ident)
        if dup.any():
            counts["duplicate_spans"] = int(dup.sum())
            notes.append(f"{counted(counts['duplicate_spans'], 'duplicate span')} (same id, name and times) dropped")
            raw = raw.loc[~dup].reset_index(drop=True)
        changed = True

    start = raw["start_ns"].to_numpy(dtype=np.int64)
    dur = raw["dur_ns"].to_numpy(dtype=np.int64)
    if changed:
        empty_ids = _empty(raw["trace_id"]) | _empty(raw["span_id"])
    bad = empty_ids | (start < 0) | (dur < 0)
    if bad.any() and strict:
        i = int(raw.loc[bad, "index"].min())
        raise LogError(f"span #{i} has no trace/span id, start or duration (--strict)", file=str(path), code="bad-span")
    if bad.any():
        counts["invalid_spans"] = int(bad.sum())
        first = ", ".join(str(i) for i in raw.loc[bad, "index"].head(5))
        notes.append(f"{counted(counts['invalid_spans'], 'span')} without id, start or duration (or with one negative "
                     f"or out of range) dropped (span #{first}...)")
        raw = raw.loc[~bad].reset_index(drop=True)
        start, dur = start[~bad], dur[~bad]
        changed = True
    if changed:
        codes = _codes(raw)
        unique = _ids_unique(codes)
    n = len(raw)
    counts["traces"] = int(codes[0].max()) + 1 if n else 0

    parent, skew0 = _parents(raw, codes, unique, counts, notes)
    start = _correct_skew(start, parent, skew0, counts, notes)
    end = start + dur
    outl = end > end[np.maximum(parent, 0)]
    outl &= parent >= 0
    if outl.any():
        counts["child_outlives_parent"] = int(outl.sum())
        ends = _spans(counts["child_outlives_parent"], "ends after its parent", "end after their parent")
        notes.append(f"{ends} (async work or skew; kept)")

    if changed:
        cols = _span_columns(raw, path=path, recipe=recipe, mapping=mapping, sample_rate=sample_rate)
    counts["sample_rate_from_trace"] = cols.rates_carried
    cols = _nest(raw, cols, parent, start, dur, counts, notes)
    unmapped = _report_unmapped(raw, cols.mapped, cols.ambiguous, recipe, mapping, counts, notes)
    if tally is not None and recipe is not None:
        tally.add(raw, cols.rule_spans, unmapped)
    keep = None if cols.every else np.flatnonzero(cols.mapped)
    start_ms = pa.array((start if keep is None else start[keep]) / 1e6, pa.float64())
    arrays = {**cols.arrays, "start_ms": start_ms}
    schema = pa.schema([*SPAN_SCHEMA, *(CALL_SCHEMA.field(c) for c in TRACE_CALL_COLS)])
    table = pa.table({name: arrays[name] for name in schema.names}, schema=schema)
    counts["spans_mapped"] = table.num_rows
    order = raw["index"].to_numpy(dtype=np.int64)
    order = order if keep is None else order[keep]
    if len(order) > 1 and not (order[1:] > order[:-1]).all():  # merged halves were appended: file order back
        table = table.take(pa.array(np.argsort(order, kind="stable")))
    log.debug("%s (%s): %s", path, fmt, counts)
    return table, counts, notes


@dataclass(frozen=True)
class _SpanColumns:
    """The span table's columns that need nothing but the raw frame (all but ``start_ms``)."""

    arrays: dict[str, pa.Array | pa.ChunkedArray]  # the kept spans' columns
    mapped: np.ndarray  # per raw span: kept (maps to an operation, or no recipe)
    ambiguous: np.ndarray  # per raw span: matches several operations
    every: bool  # every span kept
    rates_carried: int  # spans whose trace carries a sampling rate
    op: np.ndarray  # per raw span: its operation's code (-1: none)
    rule_spans: tuple[int, ...] = ()  # the spans each mapping rule took


def _span_columns(
    raw: pd.DataFrame, *, path: Path, recipe: Recipe | None, mapping: SpanMapping, sample_rate: float | None
) -> _SpanColumns:
    """Operations, status, sampling rates, attributes and provenance of the spans (see :class:`_SpanColumns`)."""
    n = len(raw)
    carried = dict.fromkeys(("sample_rate_from_trace",), 0)
    rate = _sample_rates(raw, mapping, carried)
    rule_spans: list[int] = []
    if recipe is not None:
        op, ambiguous = assign_operations(raw, recipe, mapping, rule_spans=rule_spans)
        mapped = op >= 0
    else:
        mapped = np.ones(n, dtype=bool)
        ambiguous = np.zeros(n, dtype=bool)
    status = status_codes(raw, mapping)
    every = bool(mapped.all())
    keep = np.zeros(0, dtype=np.int64) if every else np.flatnonzero(mapped)

    def rows(a: np.ndarray) -> np.ndarray:
        return a if every else a[keep]

    sub = raw if every else raw.iloc[keep]
    if recipe is not None:
        codes_k = pa.array(rows(op))
        op_k = pa.array([o.id for o in recipe.operations], pa.string()).take(codes_k)
        service = pa.array([o.service for o in recipe.operations], pa.string()).take(codes_k)
    else:
        opattr = sub.get("attr:" + mapping.operation_attribute)
        op_k = pa.array(sub["name"] if opattr is None else opattr.where(opattr.notna(), sub["name"]), pa.string())
        service = _arrow_strings(sub["service"]).cast(pa.string())

    def attr_num(key: str | None) -> pa.Array:
        c = sub.get("attr:" + key) if key else None
        if c is None or not _has_values(c):
            return pa.nulls(len(sub), pa.float64())
        values = c.to_numpy() if c.dtype == np.float64 else to_float(c, len(sub))  # numeric columns as they are
        nan = np.isnan(values)
        return pa.array(values, pa.float64(), mask=nan if nan.any() else None)  # NaN: null

    def attr_text(key: str | None, default: str | None = None) -> pa.Array | pa.ChunkedArray:
        c = sub.get("attr:" + key) if key else None
        if c is None or not _has_values(c):
            return pa.repeat(pa.scalar(default, pa.string()), len(sub))
        text = _arrow_strings(c).cast(pa.string())
        return text if default is None else pc.fill_null(text, default)

    if sample_rate is not None:
        rate = np.where(np.isnan(rate), float(sample_rate), rate)
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {
        "request_id": _arrow_strings(sub["trace_id"]).cast(pa.string()),
        "recipe": pa.repeat(pa.scalar(recipe.name if recipe is not None else None, pa.string()), len(sub)),
        "recipe_version": attr_num(mapping.recipe_version).cast(pa.int64(), safe=False),
        "variant": attr_text(mapping.variant, DEFAULT_VARIANT),
        "op": op_k,
        "service": service,
        "latency_ms": pa.array(rows(raw["dur_ns"].to_numpy(dtype=np.int64)) / 1e6, pa.float64()),
        "status": pa.array(STATUS_NAMES, pa.string()).take(pa.array(rows(status))),
        "cost_usd": attr_num(mapping.cost_usd),
        "cpu_ms": attr_num(mapping.cpu_ms),
        "mem_mb": attr_num(mapping.mem_mb),
        "bytes_in": attr_num(mapping.bytes_in),
        "bytes_out": attr_num(mapping.bytes_out),
        "cache_key": attr_text(mapping.cache_key),
        "sample_rate": pa.array(rows(rate), pa.float64(), from_pandas=True),
        "source_file": pa.repeat(pa.scalar(str(path), pa.string()), len(sub)),
        "source_line": pa.array(sub["index"].to_numpy(dtype=np.int64), pa.int64()),
        "span_id": _arrow_strings(sub["span_id"]).cast(pa.string()),
        "parent_span_id": _arrow_strings(sub["parent_id"]).cast(pa.string()),
    }
    if recipe is None:
        op = factorize(pa.chunked_array([op_k]) if isinstance(op_k, pa.Array) else op_k)[0]
    op_codes = op
    rates = carried["sample_rate_from_trace"]
    return _SpanColumns(arrays, mapped, ambiguous, every, rates, op_codes, tuple(rule_spans))


def _nest(
    raw: pd.DataFrame,
    cols: _SpanColumns,
    parent: np.ndarray,
    start: np.ndarray,
    dur: np.ndarray,
    counts: dict[str, int],
    notes: list[str],
) -> _SpanColumns:
    """Count the spans the profile will charge their own time; point the parent ids of the kept spans
    whose parent maps to no operation at their nearest enclosing span of an operation."""
    if not bool((parent >= 0).any()):
        return cols
    op = np.where(cols.mapped, cols.op, -1)
    _, charged = own_time(start / 1e6, dur / 1e6, parent=parent, op=op)
    if charged.any():
        counts["own_time_charged"] = int(charged.sum())
        notes.append(
            _spans(counts["own_time_charged"], "holds", "hold") + " spans of other operations: each is charged its own "
            "time (its span minus the time those cover)"
        )
    if cols.every:
        return cols
    anc = nearest_mapped(parent, cols.mapped)
    fix = cols.mapped & (parent >= 0) & ~cols.mapped[np.maximum(parent, 0)] & (anc >= 0)
    if not fix.any():
        return cols
    keep = np.flatnonzero(cols.mapped)
    ids = _arrow_strings(raw["span_id"]).cast(pa.string())
    enclosing = ids.take(pa.array(np.maximum(anc[keep], 0)))
    arrays = {**cols.arrays}
    arrays["parent_span_id"] = pc.if_else(pa.array(fix[keep]), enclosing, arrays["parent_span_id"])
    return dataclasses.replace(cols, arrays=arrays)


def _empty(s: pd.Series) -> np.ndarray:
    """Where a string column holds the empty string (not null).

    >>> _empty(pd.Series(["a", "", None], dtype="str")).tolist()
    [False, True, False]
    """
    return _empty_ids(_arrow_strings(s))


def _empty_either(trace: pa.ChunkedArray, span: pa.ChunkedArray) -> np.ndarray:
    """Spans whose trace id or span id is the empty string (safe off the main thread)."""
    return _empty_ids(trace) | _empty_ids(span)


def _empty_ids(arr: pa.ChunkedArray) -> np.ndarray:
    """:func:`_empty` on an arrow string array (safe off the main thread)."""
    empty = pc.fill_null(pc.equal(pc.binary_length(arr), 0), False)
    return np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)


def _merge_shared(raw: pd.DataFrame, prefer: str, counts: dict[str, int], notes: list[str]) -> pd.DataFrame:
    """Merge client and server halves that share a span id (Zipkin's RPC model) into one span."""
    key = ["trace_id", "span_id"]
    multi = raw.duplicated(key, keep=False).to_numpy()
    if not multi.any():
        return raw
    cand = raw.loc[multi]
    client = cand[(cand["kind"] == "client").to_numpy()].drop_duplicates(key)
    server = cand[((cand["kind"] == "server") | cand["shared"]).to_numpy() & (cand["kind"] != "client").to_numpy()]
    server = server.drop_duplicates(key)
    pairs = client.assign(_row=client.index).merge(server.assign(_row=server.index), on=key, suffixes=("_c", "_s"))
    if pairs.empty:
        return raw
    c_ok = (pairs["dur_ns_c"] >= 0) & (pairs["start_ns_c"] >= 0)
    s_ok = (pairs["dur_ns_s"] >= 0) & (pairs["start_ns_s"] >= 0)
    use_client = ((c_ok & ~s_ok) if prefer == "server" else c_ok).to_numpy(dtype=bool)
    merged = raw.loc[pairs["_row_s"].to_numpy()].copy().reset_index(drop=True)
    src = np.where(use_client, "client", "server")
    for col in ("start_ns", "dur_ns"):
        merged[col] = np.where(use_client, pairs[col + "_c"], pairs[col + "_s"])
    merged["parent_id"] = pairs["parent_id_c"].where(pairs["parent_id_c"].notna(), pairs["parent_id_s"]).to_numpy()
    merged["name"] = pairs["name_s"].where(pairs["name_s"] != "", pairs["name_c"]).to_numpy()
    merged["service"] = pairs["service_s"].where(pairs["service_s"].notna(), pairs["peer_service_c"]).to_numpy()
    merged["peer_service"] = pairs["service_s"].to_numpy()
    merged["error"] = (pairs["error_c"] | pairs["error_s"]).to_numpy()
    merged["index"] = np.minimum(pairs["index_c"].to_numpy(), pairs["index_s"].to_numpy())
    for col in raw.columns:
        if col.startswith("attr:"):
            merged[col] = pairs[col + "_s"].where(pairs[col + "_s"].notna(), pairs[col + "_c"]).to_numpy()
    # the server's clock against the client's: centre the server half inside the client half
    cs, cd = pairs["start_ns_c"].to_numpy(), pairs["dur_ns_c"].to_numpy()
    ss, sd = pairs["start_ns_s"].to_numpy(), pairs["dur_ns_s"].to_numpy()
    outside = c_ok.to_numpy(dtype=bool) & s_ok.to_numpy(dtype=bool) & ((ss < cs) | (ss + sd > cs + cd)) & (sd <= cd)
    skew = np.where(outside & use_client, cs + (cd - sd) // 2 - ss, 0)
    merged["_skew_ns"] = skew.astype(np.int64)
    merged["kind"] = "server"
    drop = np.concatenate([pairs["_row_c"].to_numpy(), pairs["_row_s"].to_numpy()])
    out: pd.DataFrame = pd.concat([raw.drop(index=list(drop)), merged], ignore_index=True)
    counts["shared_merged"] = len(pairs)
    n_client = int((src == "client").sum())
    notes.append(
        f"{counted(len(pairs), 'client/server span pair')} sharing an id merged; latency from the client half for "
        f"{n_client}, from the server half for {len(pairs) - n_client}"
    )
    return out.sort_values("index", kind="stable").reset_index(drop=True)


#: Trace codes (first appearance order), span-id codes, parent-id codes (-1: none) and the number of
#: span-id codes. Span and parent codes are consistent within a trace: two spans of one trace have the
#: same code exactly when their ids are equal (ids in different traces may share a code or not).
Codes = tuple[np.ndarray, np.ndarray, np.ndarray, int]

#: Rows of whole traces whose span ids are encoded together (a hash table this size stays in cache).
ID_BLOCK = 4096


def _codes(raw: pd.DataFrame) -> Codes:
    """Integer codes of trace ids, span ids and parent ids (-1 for none), and the span-id base."""
    n = len(raw)
    tcode, _ = pd.factorize(raw["trace_id"])
    ids = pd.concat([raw["span_id"], raw["parent_id"]], ignore_index=True)
    scode_all, uniq = pd.factorize(ids, use_na_sentinel=True)
    return tcode.astype(np.int64), scode_all[:n].astype(np.int64), scode_all[n:].astype(np.int64), max(len(uniq), 1)


def _arrow_strings(s: pd.Series) -> pa.ChunkedArray:
    """A string column as an arrow chunked array: arrow-backed strings as they are (no copy), others cast."""
    arr: pa.Array | pa.ChunkedArray | None = None
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        arr = pa.array(s.array)
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pa.array(s.array, type=pa.string(), from_pandas=True)
    if not isinstance(arr, pa.ChunkedArray):
        arr = pa.chunked_array([arr], type=arr.type)
    return arr if pa.types.is_large_string(arr.type) else arr.cast(pa.large_string())


def _arrow_codes(trace: pa.ChunkedArray, span: pa.ChunkedArray, parent: pa.ChunkedArray) -> Codes:
    """:data:`Codes` from arrow arrays only (safe off the main thread: touches no pandas object).

    Hashing a million distinct span ids in one table is slow (every look-up misses the cache). But
    parents and duplicate ids are looked up within a trace only, and files keep a trace's spans close
    together (one export batch), so span and parent ids are encoded in blocks of whole traces
    (:func:`_trace_blocks`), each block's table small. A file whose traces all interleave is one block.
    """
    (tcode,), _ = _dictionary_codes([trace])
    bounds = _trace_blocks(tcode, ID_BLOCK)
    s_parts: list[np.ndarray] = []
    p_parts: list[np.ndarray] = []
    m = 0
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        (sc, p_c), k = _dictionary_codes([span.slice(a, b - a), parent.slice(a, b - a)])
        s_parts.append(sc + m if m else sc)
        p_parts.append(np.where(p_c >= 0, p_c + m, -1) if m else p_c)
        m += k
    if len(s_parts) == 1:
        return tcode, s_parts[0], p_parts[0], max(m, 1)
    empty = np.zeros(0, dtype=np.int64)
    return tcode, np.concatenate([empty, *s_parts]), np.concatenate([empty, *p_parts]), max(m, 1)


def _dictionary_codes(arrays: list[pa.ChunkedArray]) -> tuple[list[np.ndarray], int]:
    """Codes of the values of several string arrays in one code space (first appearance order, -1 for
    null) and the number of distinct values.

    >>> [c.tolist() for c in _dictionary_codes([pa.chunked_array([["b", "a"]]), pa.chunked_array([[None, "b"]])])[0]]
    [[0, 1], [-1, 0]]
    """
    chunks = [c for a in arrays for c in (a if a.type == pa.large_string() else a.cast(pa.large_string())).chunks]
    if not chunks:
        return [np.zeros(len(a), dtype=np.int64) for a in arrays], 0
    enc = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.large_string()))
    parts = [
        (c.indices.fill_null(-1) if c.null_count else c.indices).to_numpy(zero_copy_only=False) for c in enc.chunks
    ]
    both = np.concatenate(parts).astype(np.int64, copy=False)
    return np.split(both, np.cumsum([len(a) for a in arrays])[:-1]), len(enc.chunks[-1].dictionary)


def _trace_blocks(tcode: np.ndarray, block: int) -> np.ndarray:
    """Bounds of consecutive row blocks, about ``block`` rows or more each, that no trace straddles.

    A cut before row ``c`` is allowed when every trace seen before ``c`` has its last row before ``c``.

    >>> _trace_blocks(np.array([0, 0, 1, 0, 2, 2, 3, 3]), 2).tolist()  # trace 0 ends at row 3
    [0, 4, 6, 8]
    >>> _trace_blocks(np.array([0, 1, 0, 1]), 1).tolist()  # interleaved throughout: one block
    [0, 4]
    """
    n = len(tcode)
    if n <= block or int(tcode.min()) < 0:  # small, or a span without trace id: one block
        return np.array([0, n], dtype=np.int64)
    last = np.empty(int(tcode.max()) + 1, dtype=np.int64)
    last[tcode] = np.arange(n, dtype=np.int64)  # each trace's last row
    reach = np.maximum.accumulate(last[tcode])  # the last row of any trace begun so far
    ok = np.flatnonzero(reach[:-1] < np.arange(1, n)) + 1
    at = np.searchsorted(ok, np.arange(block, n, block))  # the first allowed cut at or after each target
    cuts = ok[at[at < len(ok)]]
    return np.unique(np.concatenate([[0], cuts, [n]])).astype(np.int64)


def _ids_unique(codes: Codes) -> bool:
    """Every span has a span id and no two spans share one, in any trace (the common case: a cheap test)."""
    scode, m = codes[1], codes[3]
    return not len(scode) or (int(scode.min()) >= 0 and int(np.bincount(scode, minlength=m).max()) <= 1)


def _parents(
    raw: pd.DataFrame, codes: Codes, unique: bool, counts: dict[str, int], notes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Row of each span's parent (-1 for roots and broken links) and the per-span subtree shift.

    ``unique``: :func:`_ids_unique` of ``codes``.
    """
    n = len(raw)
    skew0 = raw["_skew_ns"].fillna(0).to_numpy(dtype=np.int64) if "_skew_ns" in raw else np.zeros(n, dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64), skew0
    tcode, scode, pcode, m = codes
    parent_trace = raw["parent_trace_id"]
    elsewhere = parent_trace.notna().to_numpy() if _has_values(parent_trace) else None  # parent in another trace
    other_trace = raw["foreign_ref"].to_numpy(dtype=bool)
    has = pcode >= 0
    if elsewhere is not None:
        other_trace = other_trace | elsewhere
        has &= ~elsewhere
    if unique:  # a span id names one row: look it up by code, then check the trace
        row_of = np.full(m + 1, -1, dtype=np.int64)  # the last slot answers code -1 (no parent)
        row_of[scode] = np.arange(n, dtype=np.int64)
        parent = row_of[pcode]
        if elsewhere is not None:
            parent[elsewhere] = -1
        parent[tcode[np.maximum(parent, 0)] != tcode] = -1
        missing = int(has.sum()) - int((parent >= 0).sum())
    else:
        parent = np.full(n, -1, dtype=np.int64)
        pos = np.flatnonzero(has)
        own_key = tcode * m + scode
        dup_id = pd.Series(own_key).duplicated().to_numpy()
        if dup_id.any():
            counts["duplicate_span_ids"] = int(dup_id.sum())
            notes.append(
                _spans(counts["duplicate_span_ids"], "reuses", "reuse") + " another span's id with different content "
                "(kept)"
            )
        first = pd.Series(np.arange(n), index=own_key)[~dup_id]
        look = first.reindex(tcode[has] * m + pcode[has])
        found = look.notna().to_numpy()
        parent[pos[found]] = look.to_numpy()[found].astype(np.int64)
        missing = int((~found).sum())
    if missing:
        counts["parent_missing"] = missing
        notes.append(_spans(missing, "names", "name") + " a parent absent from the file (treated as roots)")
    if other_trace.any():
        counts["parent_in_other_trace"] = int(other_trace.sum())
        notes.append(_spans(counts["parent_in_other_trace"], "references", "reference") + " a span of another trace")
    on_cycle = _cycles(parent)
    if len(on_cycle):
        counts["parent_cycle"] = len(on_cycle)
        notes.append(_spans(len(on_cycle), "forms", "form") + " parent cycles (cycle broken: treated as roots)")
        parent[on_cycle] = -1
    return parent, skew0


def _has_values(s: pd.Series) -> bool:
    """Whether a column holds any non-null value (free for arrow-backed strings)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        arr = pa.array(s.array)
        return bool(arr.null_count < len(arr))
    return bool(s.notna().any())


def _cycles(parent: np.ndarray) -> np.ndarray:
    """The rows on a parent cycle (sorted).

    Pointer doubling: after >= n jumps, a row whose ancestor is not -1 is on or above a cycle, and
    the ancestors reached are exactly the rows on cycles. Rows whose chain has ended drop out, and a
    file whose parents all come before their children (or all after) has no cycle to look for.

    >>> _cycles(np.array([-1, 0, 3, 2, 2])).tolist(), _cycles(np.array([1, 2, -1])).tolist()
    ([2, 3], [])
    """
    n = len(parent)
    anc = np.where(parent >= 0, parent[np.maximum(parent, 0)], -1)  # the first jump over all rows at once
    active = np.flatnonzero(anc >= 0)
    if not len(active):  # no grandparents: no cycle
        return np.zeros(0, dtype=np.int64)
    rows = np.arange(n, dtype=np.int64)
    if bool((parent < rows).all()) or bool(((parent > rows) | (parent < 0)).all()):
        return np.zeros(0, dtype=np.int64)
    for _ in range(int(np.ceil(np.log2(n + 1)))):
        if not len(active):
            break
        nxt = anc[anc[active]]
        anc[active] = nxt
        active = active[nxt >= 0]
    return np.unique(anc[active])


def _correct_skew(
    start: np.ndarray, parent: np.ndarray, skew0: np.ndarray, counts: dict[str, int], notes: list[str]
) -> np.ndarray:
    """Shift spans that start before their parent (and their subtrees), level by level."""
    n = len(start)
    if n == 0:
        return start
    has_p = parent >= 0
    safe_p = np.maximum(parent, 0)
    if not skew0.any() and not (has_p & (start < start[safe_p])).any():  # nothing starts before its parent
        return start
    self_shift = np.zeros(n, dtype=np.int64)
    pass_shift = skew0.astype(np.int64).copy()
    in_level = ~has_p
    done = in_level.copy()
    skewed = 0
    while True:  # one pass per tree level, vectorised over the level's spans
        kids = np.flatnonzero(has_p & ~done & in_level[safe_p])
        if not len(kids):
            break
        p = parent[kids]
        own = np.maximum(0, (start[p] + self_shift[p]) - (start[kids] + pass_shift[p]))
        skewed += int((own > 0).sum())
        self_shift[kids] = pass_shift[p] + own
        pass_shift[kids] = self_shift[kids] + skew0[kids]
        done[kids] = True
        in_level = np.zeros(n, dtype=bool)
        in_level[kids] = True
    skewed += int((skew0 != 0).sum())
    if skewed:
        counts["clock_skew_corrected"] = skewed
        notes.append(
            f"clock skew: {counted(skewed, 'span')} corrected (a child starting before its parent, or a server half "
            "outside its client half); shifted with their subtree"
        )
    return start + self_shift


def _sample_rates(raw: pd.DataFrame, mapping: SpanMapping, counts: dict[str, int]) -> np.ndarray:
    """Per span, the sampling rate its trace carries (NaN where none does)."""
    n = len(raw)

    def col(k: str) -> pd.Series:
        c = raw.get("attr:" + k)
        return c if c is not None else pd.Series([None] * n, index=raw.index, dtype="str")

    def num(k: str) -> np.ndarray | None:  # None: no span carries the attribute
        c = raw.get("attr:" + k)
        return to_float(c, n) if c is not None and _has_values(c) else None

    rate = np.full(n, np.nan)

    def take(values: np.ndarray | None) -> None:
        if values is None:
            return
        ok = np.isnan(rate) & np.isfinite(values) & (values > 0) & (values <= 1)
        rate[ok] = values[ok]

    if mapping.sampling_attribute:
        v = num(mapping.sampling_attribute)
        take(1.0 / v if mapping.sampling_as == "one_in_n" and v is not None else v)
    take(num("sampling.probability"))
    stype_col = raw.get("attr:sampler.type")
    if stype_col is not None and _has_values(stype_col):
        stype = stype_col.fillna("").str.lower().to_numpy(dtype=object)
        sparam = col("sampler.param").fillna("").str.lower()
        param = to_float(sparam.replace({"true": "1", "false": "0"}), n)
        take(np.where(stype == "probabilistic", param, np.nan))
        take(np.where((stype == "const") & (param > 0), 1.0, np.nan))
    one_in = num("SampleRate")
    if one_in is not None:
        with np.errstate(divide="ignore"):
            take(1.0 / one_in)
    ts_col = raw.get("attr:tracestate")
    if ts_col is not None and _has_values(ts_col):
        ts = ts_col.dropna()
        th = ts.str.extract(r"(?:^|,)\s*ot=(?:[^,]*;)?th:([0-9a-fA-F]{1,14})", expand=False).dropna()
        if len(th):
            uniq = {t: 1.0 - int(t.ljust(14, "0"), 16) / float(1 << 56) for t in th.unique()}
            vals = np.full(n, np.nan)
            vals[raw.index.get_indexer(th.index)] = th.map(uniq).to_numpy(dtype=float)
            take(vals)
    priority = num("sampling.priority")
    if priority is not None:
        take(np.where(priority >= 1, 1.0, np.nan))
    counts["sample_rate_from_trace"] = int(np.isfinite(rate).sum())
    if not np.isfinite(rate).any():
        return rate
    # one rate per trace: the first carried value in file order
    per_trace = pd.Series(rate).groupby(raw["trace_id"].to_numpy()).transform("first").to_numpy(dtype=float)
    return per_trace


def _report_unmapped(
    raw: pd.DataFrame,
    mapped: np.ndarray,
    ambiguous: np.ndarray,
    recipe: Recipe | None,
    mapping: SpanMapping,
    counts: dict[str, int],
    notes: list[str],
) -> pd.Series | None:
    """Count and note the spans that map to no operation or to several; the former's (name, service) counts."""
    if ambiguous.any():
        counts["ambiguous_spans"] = int(ambiguous.sum())
        names = raw.loc[ambiguous, "name"].value_counts().head(TOP_UNMAPPED)
        notes.append(ambiguous_note(counts["ambiguous_spans"], [str(k) for k in names.index], recipe, mapping))
    plain = ~mapped & ~ambiguous
    if not plain.any():
        return None
    counts["unmapped_spans"] = int(plain.sum())
    sub = raw.loc[plain, ["name", "service"]].fillna({"service": "?"})
    top = sub.groupby(["name", "service"], sort=False).size().sort_values(ascending=False, kind="stable")
    shown = ", ".join(f"{name!r} ({svc}) x{k}" for (name, svc), k in top.head(TOP_UNMAPPED).items())
    more = f" and {len(top) - TOP_UNMAPPED} more" if len(top) > TOP_UNMAPPED else ""
    who = f"recipe '{recipe.name}'" if recipe is not None else "the recipe"
    notes.append(_spans(counts["unmapped_spans"], "maps", "map") + f" to no operation of {who}: {shown}{more}")
    return top
