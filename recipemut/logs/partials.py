"""Mergeable partials of a log: what each partition of the logs says, added up on the client.

A partition (a row group of a Parquet file, a byte range of whole lines of a JSONL file, a gzip
file) is read, checked and reduced to a :class:`Partial`: per operation of the recipe, the span
count, error and halt counts, sums and non-null counts of latency, cost, CPU, memory and bytes,
and a log-bucket latency histogram (:data:`ALPHA` relative accuracy) of the spans the local profile
keeps (a duplicate of a (request, operation) span, or of a span id, gives way to the last-ending one,
as in ingest; a duplicate in another partition is not seen); every request's first start
and sample rate (:class:`~recipemut.logs.sample.RequestCounts`: the rate series counts every
request); and the spans of the sampled requests (the hash rule of :mod:`recipemut.logs.sample`).
Partials merge by addition (:func:`merge`), in any grouping, so the local engine and the Dask
engine (:mod:`recipemut.logs.distributed`) share this one code path: Dask only distributes
:func:`partial_of`.

Why a histogram and not a library sketch: with ``ALPHA = 5e-4`` a bucket's representative is
within 0.05% of every value in it (DDSketch's log mapping, dense), which is far inside the 1%
asked of p50/p95; 1e-3 ms .. 3e9 ms is 28,700 buckets per operation (224 KiB), merged by one numpy
addition. A quantile interpolates between the representatives of the two order statistics around
its rank, as ``numpy.percentile`` (linear) does between the values themselves.

>>> v = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
>>> h = latency_histogram(np.zeros(5, np.int64), v, 1)
>>> q = hist_quantiles(h[0], (50, 95))
>>> bool(abs(q[0] - 3.0) < 3.0 * ALPHA * 2), bool(abs(q[1] - np.percentile(v, 95)) / np.percentile(v, 95) < 2 * ALPHA)
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.report import Rejects
from recipemut.logs.sample import RequestCounts, keep_mask, row_hashes
from recipemut.logs.spans import factorize, keep_calls

#: relative accuracy of a histogram bucket's representative value
ALPHA = 5e-4
_GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(_GAMMA)
#: latencies below this (ms) fall in bucket 0, read as 0
MIN_MS = 1e-3
#: the largest latency a check lets through is 30 days (2.6e9 ms)
MAX_MS = 3e9
N_BUCKETS = math.ceil(math.log(MAX_MS / MIN_MS) / _LOG_GAMMA) + 2
#: the per-operation sums kept (means are sums over non-null counts)
SUMMED = ("latency_ms", "cost_usd", "cpu_ms", "mem_mb", "bytes_in", "bytes_out")


def bucket_of(values: np.ndarray) -> np.ndarray:
    """The histogram bucket of each latency (ms): 0 below :data:`MIN_MS`, else ``ceil(log_gamma(v / MIN_MS)) + 1``."""
    v = np.asarray(values, dtype=np.float64)
    out = np.zeros(v.shape, np.int64)
    pos = v >= MIN_MS
    out[pos] = np.ceil(np.log(v[pos] / MIN_MS) / _LOG_GAMMA).astype(np.int64) + 1
    return np.minimum(out, N_BUCKETS - 1)


def bucket_values() -> np.ndarray:
    """Each bucket's representative (ms): within :data:`ALPHA` of every value in it (bucket 0: 0)."""
    i = np.arange(N_BUCKETS, dtype=np.float64)
    v = MIN_MS * 2.0 * _GAMMA ** (i - 1) / (_GAMMA + 1.0)
    v[0] = 0.0
    return v


_VALUES = bucket_values()


def latency_histogram(cols: np.ndarray, latency: np.ndarray, k: int) -> np.ndarray:
    """(k, :data:`N_BUCKETS`) counts of the latencies of each operation column."""
    key = cols.astype(np.int64) * N_BUCKETS + bucket_of(latency)
    return np.bincount(key, minlength=k * N_BUCKETS).reshape(k, N_BUCKETS)


def hist_quantiles(counts: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Percentiles (0-100) of one operation's histogram, interpolated as ``numpy.percentile`` does
    (linear, between the order statistics around rank ``(n - 1) q``); NaN when it is empty."""
    n = int(counts.sum())
    if n == 0:
        return [float("nan")] * len(qs)
    cum = np.cumsum(counts)
    out = []
    for q in qs:
        h = (n - 1) * q / 100.0
        lo, hi = math.floor(h), math.ceil(h)
        v_lo = _VALUES[int(np.searchsorted(cum, lo, side="right"))]
        v_hi = _VALUES[int(np.searchsorted(cum, hi, side="right"))]
        out.append(float(v_lo + (h - lo) * (v_hi - v_lo)))
    return out


@dataclass
class Partial:
    """What one partition (or several merged) says. Arrays are per operation column (``ops`` order)."""

    ops: tuple[str, ...]
    count: np.ndarray
    errors: np.ndarray
    halts: np.ndarray
    sums: dict[str, np.ndarray]
    nonnull: dict[str, np.ndarray]
    hist: np.ndarray  # (k, N_BUCKETS)
    requests: pa.Table  # h, start, rate: one row per request (RequestCounts' partial)
    calls: int = 0  # spans carrying a span_id or a parent_span_id (calls folded per request locally)
    rows: list[tuple[int, pa.Table, np.ndarray]] = field(default_factory=list)  # (partition, sampled spans, lines)
    rejects: list[tuple[int, Rejects]] = field(default_factory=list)  # (partition, its rejections)
    lines_in: dict[int, int] = field(default_factory=dict)  # partition -> lines it holds (to shift line numbers)
    read_in: dict[int, tuple[int, int]] = field(default_factory=dict)  # partition -> (non-blank, blank) lines read
    gave_up: dict[int, int] = field(default_factory=dict)  # a file's first partition -> the line through which
    # its first GIVE_UP_AFTER rows were all rejected (not a span log, said on the client after --strict's check)
    first_ms: float = math.inf  # the first start and the last end of the spans counted (the whole log's range)
    last_ms: float = -math.inf
    lines_read: int = 0
    blank: int = 0
    other: dict[str, int] = field(default_factory=dict)
    unknown: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, ops: Sequence[str]) -> Partial:
        k = len(ops)
        z = np.zeros(k, np.int64)
        return cls(
            ops=tuple(ops), count=z.copy(), errors=z.copy(), halts=z.copy(),
            sums={s: np.zeros(k) for s in SUMMED}, nonnull={s: z.copy() for s in SUMMED},
            hist=np.zeros((k, N_BUCKETS), np.int64), requests=RequestCounts().merged(),
        )  # fmt: skip


def _add_counts(into: dict[str, int], values: pa.ChunkedArray | pa.Array) -> None:
    vc = pc.value_counts(values)
    for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
        if v is not None:
            into[str(v)] = into.get(str(v), 0) + int(c)


def partial_of(
    index: int,
    table: pa.Table,
    lines: np.ndarray,
    ops: Sequence[str],
    recipe_name: str | None,
    fraction: float,
    fill_rate: float = 1.0,
) -> Partial:
    """The partial of one partition's checked spans (:data:`~recipemut.logs.spans.PARSE_SCHEMA`
    rows that passed :func:`~recipemut.logs.checks.check_spans`), ``lines`` their line numbers
    within the partition. Spans of other recipes and unknown operations are counted and dropped."""
    part = Partial.empty(ops)
    k = len(ops)
    if table.num_rows == 0:
        return part
    op_arr = pa.array(list(ops), pa.large_string())
    if recipe_name is not None:
        rcol = table.column("recipe")
        foreign = pc.fill_null(pc.not_equal(rcol, recipe_name), False)
        known = pc.and_(pc.invert(foreign), pc.is_in(table.column("op"), value_set=op_arr))
        if not pc.all(known).as_py():
            _add_counts(part.other, rcol.filter(foreign))
            _add_counts(part.unknown, table.column("op").filter(pc.and_(pc.invert(foreign), pc.invert(known))))
            mask = np.asarray(known.to_numpy(zero_copy_only=False), dtype=bool)
            table, lines = table.filter(known), lines[mask]
    else:
        known = pc.is_in(table.column("op"), value_set=op_arr)
        mask = np.asarray(known.to_numpy(zero_copy_only=False), dtype=bool)
        table, lines = table.filter(known), lines[mask]
    if table.num_rows == 0:
        return part
    col = np.asarray(pc.index_in(table.column("op"), value_set=op_arr).to_numpy(zero_copy_only=False), np.int64)
    h = row_hashes(table.column("request_id"))
    start = np.asarray(table.column("start_ms").to_numpy(zero_copy_only=False), dtype=np.float64)
    latency = np.asarray(table.column("latency_ms").to_numpy(zero_copy_only=False), dtype=np.float64)
    # the figures count the spans the local profile keeps: a duplicate (request, operation) span, or
    # the same span_id twice, gives way to the last-ending one (keep_calls), as it does in ingest
    span_codes = factorize(table.column("span_id"))[0] if table.column("span_id").null_count < table.num_rows else None
    first = np.unique(h, return_inverse=True)[1].reshape(-1)
    one = keep_calls(first, col, span_codes, start + latency, k)
    fig = None if one.all() else pa.array(one)
    part.count = np.bincount(col[one], minlength=k)
    status = table.column("status") if fig is None else table.column("status").filter(fig)
    for name, into in (("error", "errors"), ("halted", "halts")):
        m = np.asarray(pc.fill_null(pc.equal(status, name), False).to_numpy(zero_copy_only=False), bool)
        setattr(part, into, np.bincount(col[one][m], minlength=k))
    for s in SUMMED:
        v = np.asarray(table.column(s).to_numpy(zero_copy_only=False), dtype=np.float64)[one]
        ok = ~np.isnan(v)
        part.sums[s] = np.bincount(col[one][ok], weights=v[ok], minlength=k)
        part.nonnull[s] = np.bincount(col[one][ok], minlength=k)
    part.hist = latency_histogram(col[one], latency[one], k)
    part.first_ms, part.last_ms = float(start[one].min()), float((start + latency)[one].max())
    part.calls = table.num_rows * 2 - table.column("span_id").null_count - table.column("parent_span_id").null_count
    rate = np.asarray(pc.fill_null(table.column("sample_rate"), fill_rate).to_numpy(zero_copy_only=False), np.float64)
    part.requests = RequestCounts.partial(h, start, rate)
    keep = keep_mask(h, fraction)
    if not keep.all():
        table, lines = table.filter(pa.array(keep)), lines[keep]
    part.rows = [(index, table, lines)]
    return part


def merge(parts: Sequence[Partial]) -> Partial:
    """The partials added up (requests reduced to one row each; rows and rejections kept per partition)."""
    if not parts:
        raise ValueError("no partial to merge")
    out = Partial.empty(parts[0].ops)
    counts = RequestCounts()
    for p in parts:
        out.count = out.count + p.count
        out.errors = out.errors + p.errors
        out.halts = out.halts + p.halts
        for s in SUMMED:
            out.sums[s] = out.sums[s] + p.sums[s]
            out.nonnull[s] = out.nonnull[s] + p.nonnull[s]
        out.hist = out.hist + p.hist
        counts.merge(p.requests)
        out.calls += p.calls
        out.rows.extend(p.rows)
        out.rejects.extend(p.rejects)
        out.lines_in.update(p.lines_in)
        out.read_in.update(p.read_in)
        out.gave_up.update(p.gave_up)
        out.first_ms, out.last_ms = min(out.first_ms, p.first_ms), max(out.last_ms, p.last_ms)
        out.lines_read += p.lines_read
        out.blank += p.blank
        for src, into in ((p.other, out.other), (p.unknown, out.unknown)):
            for key, v in src.items():
                into[key] = into.get(key, 0) + v
    out.requests = counts.merged()
    out.rows.sort(key=lambda r: r[0])
    out.rejects.sort(key=lambda r: r[0])
    return out


__all__ = [
    "ALPHA",
    "N_BUCKETS",
    "SUMMED",
    "Partial",
    "bucket_of",
    "bucket_values",
    "hist_quantiles",
    "latency_histogram",
    "merge",
    "partial_of",
]
