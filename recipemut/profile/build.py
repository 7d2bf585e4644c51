"""The performance profile: what the logs say about a recipe, as a value.

Built from the span table (:mod:`recipemut.logs.spans`) and a recipe by ``build_profile``. Everything
downstream (suggest, simulation, forecast) consumes a :class:`Profile`, never raw logs.

The *request matrix* has one row per request and one column per operation (columns in the
recipe's topological order, ``op_ids``). Cells of operations that did not run in that request
are ``NaN`` (float matrices), ``0`` (``status``) or ``-1`` (``cache_key`` codes).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recipemut.errors import LogError
from recipemut.logs.spans import elapsed_ms
from recipemut.profile.calls import CallStats, CallTable, call_stats, call_table, fold_calls, one_call_each
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)

#: codes of the ``status`` matrix
ST_ABSENT, ST_OK, ST_ERROR, ST_HALTED = 0, 1, 2, 3
_STATUS_CODE = {"ok": ST_OK, "error": ST_ERROR, "halted": ST_HALTED}

#: request-rate bin (seconds) by the time the logs span: (span below, bin)
RATE_BINS: tuple[tuple[float, float], ...] = (
    (3600.0, 10.0),  # under an hour: 10 s
    (86400.0, 60.0),  # under a day: 1 min
    (7 * 86400.0, 300.0),  # under a week: 5 min
    (30 * 86400.0, 900.0),  # under 30 days: 15 min
)
RATE_BIN_MAX = 3600.0  # beyond: 1 h


def _json_num(v: object) -> object:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@dataclass(frozen=True)
class OpStats:
    """Per-operation summary."""

    op: str
    service: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    cost_mean_usd: float
    cpu_mean_ms: float
    bytes_in_mean: float
    bytes_out_mean: float
    error_rate: float
    halt_rate: float
    critical_share: float  # share of requests on which it lies on the critical path
    run_share: float = 1.0  # share of requests in which it ran
    mem_mean_mb: float = float("nan")
    cost_share: float = 0.0  # its share of the total cost of all requests
    tail_ms: float = 0.0  # mean ms it spends on the critical path of tail requests (e2e >= p95)
    tail_share: float = 0.0  # tail_ms / mean e2e latency of those tail requests

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (NaN -> None)."""
        return {k: _json_num(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True, eq=False)
class Profile:
    """Per-operation distributions plus the per-request matrix trace replay uses."""

    recipe: str
    op_ids: tuple[str, ...]  # matrix columns, topological order
    request_ids: np.ndarray  # (n,) str
    request_start_ms: np.ndarray  # (n,) float, epoch ms of the first span
    variant: np.ndarray  # (n,) str
    sample_rate: np.ndarray  # (n,) float, 1.0 when unknown
    latency_ms: np.ndarray  # (n, k) float, NaN where absent
    start_offset_ms: np.ndarray  # (n, k) float, start relative to request start, NaN where absent
    cost_usd: np.ndarray  # (n, k) float, NaN where absent
    cpu_ms: np.ndarray  # (n, k) float
    bytes_in: np.ndarray  # (n, k) float
    bytes_out: np.ndarray  # (n, k) float
    status: np.ndarray  # (n, k) int8 codes ST_*
    cache_key: np.ndarray  # (n, k) int64 codes per column, -1 where absent
    e2e_latency_ms: np.ndarray  # (n,) recorded end-to-end latency (max end - min start)
    e2e_cost_usd: np.ndarray  # (n,) summed cost
    critical: np.ndarray  # (n, k) bool: on the request's critical path
    ops: tuple[OpStats, ...]
    rate: pd.Series  # requests per second, indexed by UTC bin start (scaled by 1/sample_rate)
    rate_bin_s: float
    critical_path: tuple[str, ...] = ()  # the most frequent critical path, in topological order
    critical_path_share: float = 0.0  # share of requests whose critical path is exactly that one
    calls: tuple[CallStats, ...] = ()  # per operation (op_ids order), what its calls show
    n_calls: np.ndarray | None = None  # (n, k) int, calls per cell (0 where absent)
    call_ms: np.ndarray | None = None  # (n, k) float, the calls' times added up (NaN where absent)
    call_table: CallTable | None = None  # every call (None: one call per cell, the matrices say it all)
    #: the share of the traffic's requests these are, when ingest sampled them by request_id (1.0: all);
    #: what a replay of repeats across requests (the cache's, :mod:`recipemut.predict.cachesim`) corrects for
    request_fraction: float = 1.0
    #: requests left out of ``rate`` as far off (:func:`far_off_starts`), already warned about
    rate_left_out: int = 0

    @property
    def n_requests(self) -> int:
        return int(self.request_ids.shape[0])

    @property
    def cost_known(self) -> bool:
        """Whether any operation has a cost: a span's ``cost_usd`` or the recipe's ``cost_per_call_usd``.
        Without one, a cost per request is unknown, not $0 (every command says ``unknown``, JSON ``null``)."""
        return any(math.isfinite(s.cost_mean_usd) for s in self.ops)

    def col(self, op_id: str) -> int:
        """Matrix column of an operation."""
        return self.op_ids.index(op_id)

    def call_stats(self, op_id: str) -> CallStats | None:
        """What the calls of an operation show (``None`` for a profile built without them)."""
        return next((c for c in self.calls if c.op == op_id), None)

    def call_durations(self, op_id: str) -> np.ndarray:
        """(requests, most calls) ms of each call of ``op_id`` (its attempts added up), in recorded
        start order, NaN-padded (a row of NaN where it did not run)."""
        j = self.col(op_id)
        if self.call_table is None:
            return self.latency_ms[:, j : j + 1].copy()
        return self.call_table.matrix(j, self.n_requests, self.call_table.ms)

    def call_costs(self, op_id: str) -> np.ndarray:
        """Like :meth:`call_durations`, each call's cost (its attempts'; NaN where no call)."""
        j = self.col(op_id)
        if self.call_table is None:
            return self.cost_usd[:, j : j + 1].copy()
        return self.call_table.matrix(j, self.n_requests, self.call_table.cost)

    def call_items(self, op_id: str) -> np.ndarray:
        """Like :meth:`call_durations`, the items each call handled (1 where a call logs none)."""
        j = self.col(op_id)
        if self.call_table is None:
            return np.where(np.isnan(self.latency_ms[:, j : j + 1]), np.nan, 1.0)
        t = self.call_table
        return t.matrix(j, self.n_requests, np.where(np.isnan(t.items), 1.0, t.items))

    def call_keys(self, op_id: str) -> np.ndarray:
        """Like :meth:`call_durations`, each call's cache-key code (-1: no key, or no call)."""
        j = self.col(op_id)
        if self.call_table is None:
            return self.cache_key[:, j : j + 1].copy()
        return self.call_table.matrix(j, self.n_requests, self.call_table.key, -1)

    def stats(self, op_id: str) -> OpStats:
        for s in self.ops:
            if s.op == op_id:
                return s
        raise KeyError(op_id)

    def e2e_percentiles(self, qs: tuple[float, ...] = (50, 95, 99)) -> dict[str, float]:
        """End-to-end latency percentiles (ms) and mean, keyed ``p50``, ``p95``, ..., ``mean``."""
        out = {f"p{q:g}": float(v) for q, v in zip(qs, np.percentile(self.e2e_latency_ms, qs), strict=True)}
        out["mean"] = float(np.mean(self.e2e_latency_ms))
        return out


# ---- building a profile -------------------------------------------------------------------------


def rate_bin_for(span_s: float) -> float:
    """The request-rate bin (seconds) for logs spanning ``span_s`` seconds (see :data:`RATE_BINS`).

    >>> rate_bin_for(600), rate_bin_for(3 * 3600), rate_bin_for(2 * 86400), rate_bin_for(90 * 86400)
    (10.0, 60.0, 300.0, 3600.0)
    """
    for below, bin_s in RATE_BINS:
        if span_s < below:
            return bin_s
    return RATE_BIN_MAX


def rate_series(start_ms: np.ndarray, weights: np.ndarray, bin_s: float) -> pd.Series:
    """Requests per second in bins of ``bin_s`` aligned to the epoch, empty bins included as 0.

    ``weights`` is each request's 1/sample_rate. The first and last bins may be partly covered by
    the logs, so they can read low.

    >>> s = rate_series(np.array([0.0, 500.0, 25_000.0]), np.ones(3), 10.0)
    >>> s.tolist(), str(s.index[0])
    ([0.2, 0.0, 0.1], '1970-01-01 00:00:00+00:00')
    """
    if start_ms.size == 0:
        return pd.Series([], index=pd.DatetimeIndex([], tz="UTC"), dtype=float, name="requests_per_s")
    bin_ms = bin_s * 1000.0
    t0 = math.floor(float(start_ms.min()) / bin_ms) * bin_ms
    idx = ((start_ms - t0) // bin_ms).astype(np.int64)
    counts = np.bincount(idx, weights=weights, minlength=int(idx.max()) + 1)
    index = pd.date_range(
        pd.Timestamp(int(t0), unit="ms", tz="UTC"), periods=counts.size, freq=pd.Timedelta(seconds=bin_s)
    )
    return pd.Series(counts / bin_s, index=index, name="requests_per_s")


#: the bulk of a log's request starts runs from this quantile of them to its complement (a few far-off
#: starts, up to 5% of the requests at either end, cannot stretch it)
FAR_OFF_QUANTILE = 0.05
#: the least empty gap that sets starts apart from the bulk: a day (the bulk's width when that is wider)
FAR_OFF_GAP_MS = 86_400_000.0


def far_off_starts(start_ms: np.ndarray) -> np.ndarray:
    """Which requests start far outside the bulk of the log's time range (a clock off by years, a
    stray test request): a boolean mask, True for the requests the rate series leave out.

    The bulk is ``[q, 1 - q]`` of the starts (:data:`FAR_OFF_QUANTILE`, by rank: for ``n`` requests
    the ``floor(q (n - 1))``-th from either end). Going outward from it, starts are kept as long as no
    empty gap between neighbours is wider than ``max(bulk width, 1 day)``
    (:data:`FAR_OFF_GAP_MS`); past the first wider gap every start is far off. A continuous log
    (any length, any growth) has no such gap and keeps every request; fewer than 21 requests are
    never cut.

    >>> day = 86_400_000.0
    >>> t = np.r_[np.linspace(0, 14 * day, 1000), 4.6e12, -1e12]
    >>> np.flatnonzero(far_off_starts(t)).tolist()
    [1000, 1001]
    >>> bool(far_off_starts(np.r_[np.linspace(0, 14 * day, 1000), 15 * day]).any())  # a day after: kept
    False
    """
    t = np.asarray(start_ms, dtype=np.float64)
    far = np.zeros(t.size, dtype=bool)
    i_lo = math.floor(FAR_OFF_QUANTILE * (t.size - 1)) if t.size else 0
    if i_lo == 0:
        return far
    i_hi = t.size - 1 - i_lo
    part = np.partition(t, (i_lo, i_hi))  # linear time: sorting 10 M starts took 5.5 s
    lo, hi = float(part[i_lo]), float(part[i_hi])
    gap = max(hi - lo, FAR_OFF_GAP_MS)
    if lo - float(t.min()) <= gap and float(t.max()) - hi <= gap:  # no gap that wide can fit outside the bulk
        return far
    below = np.r_[np.sort(t[t < lo]), lo]  # the tails only (5% of the starts each), sorted
    wide = np.flatnonzero(np.diff(below) > gap)
    if wide.size:
        far |= t < below[wide[-1] + 1]
    above = np.r_[hi, np.sort(t[t > hi])]
    wide = np.flatnonzero(np.diff(above) > gap)
    if wide.size:
        far |= t > above[wide[0]]
    return far


def _utc(ms: float) -> str:
    return str(np.datetime64(int(ms), "ms").astype("datetime64[s]")).replace("T", " ") + " UTC"


def far_off_note(start_ms: np.ndarray, far: np.ndarray, where: str | None = None) -> str:
    """The one warning line on the requests :func:`far_off_starts` left out: how many, where the first
    is (``file:line``, when known), their times and the bulk's.

    >>> day = 86_400_000.0
    >>> t = np.r_[np.linspace(1.76e12, 1.76e12 + 14 * day, 100), 4.6e12]
    >>> far_off_note(t, far_off_starts(t), "logs.jsonl:101")  # doctest: +NORMALIZE_WHITESPACE
    'logs.jsonl:101: 1 request left out of the request-rate series: it starts 2115-10-08 17:46:40 UTC,
    far outside the rest of the logs (2025-10-09 08:53:20 UTC .. 2025-10-23 08:53:20 UTC)'
    """
    t = np.asarray(start_ms, dtype=np.float64)
    out = np.sort(t[far])
    rest = t[~far]
    shown = ", ".join(_utc(x) for x in out[:3]) + (f" ... {_utc(out[-1])}" if out.size > 3 else "")
    what = "1 request" if out.size == 1 else f"{out.size:,} requests"
    starts = "it starts" if out.size == 1 else "they start"
    span = f" ({_utc(rest.min())} .. {_utc(rest.max())})" if rest.size else ""
    line = f"{what} left out of the request-rate series: {starts} {shown}, far outside the rest of the logs{span}"
    return f"{where}: {line}" if where else line


def _first_far_line(spans: pd.DataFrame, req_codes: np.ndarray, far: np.ndarray) -> str | None:
    """``file:line`` of the first span (in table order) of a far-off request, when the span table has it."""
    if "source_file" not in spans.columns or not far.any():
        return None
    row = int(np.argmax(far[req_codes]))
    file = spans["source_file"].iloc[row]
    line = spans["source_line"].iloc[row] if "source_line" in spans.columns else None
    if pd.isna(file):
        return None
    return f"{file}:{line}" if line is not None and not pd.isna(line) else str(file)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Row of each code's first appearance, for codes numbered in first-appearance order."""
    running = np.maximum.accumulate(codes)
    return np.flatnonzero(np.concatenate(([True], running[1:] > running[:-1])))


def _matrix(n: int, k: int, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> np.ndarray:
    m = np.full((n, k), np.nan)
    m[rows, cols] = values
    return m


def _column(spans: pd.DataFrame, name: str) -> np.ndarray:
    if name not in spans.columns:
        return np.full(len(spans), np.nan)
    return pd.to_numeric(spans[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def critical_paths(end_ms: np.ndarray, preds: list[list[int]]) -> np.ndarray:
    """Which operations lie on each request's critical path: (n, k) bool.

    ``end_ms`` is the (n, k) end-time matrix (NaN where the operation did not run), columns in
    topological order; ``preds[j]`` lists the columns of ``j``'s DAG predecessors. An operation's
    critical predecessor is the predecessor that ran and finished last; the path is walked back
    from the operation that finished last. Vectorised over requests, loops over operations.

    >>> end = np.array([[10.0, 30.0, 20.0, 35.0], [10.0, 15.0, 20.0, 25.0]])
    >>> critical_paths(end, [[], [0], [0], [1, 2]]).astype(int).tolist()
    [[1, 1, 0, 1], [1, 0, 1, 1]]
    """
    n, k = end_ms.shape
    ez = np.where(np.isnan(end_ms), -np.inf, end_ms)
    crit_pred = np.full((n, k), -1, dtype=np.int64)
    rows = np.arange(n)
    for j, pj in enumerate(preds):
        if not pj:
            continue
        sub = ez[:, pj]
        arg = sub.argmax(axis=1)
        best = sub[rows, arg]
        crit_pred[:, j] = np.where(np.isfinite(best), np.asarray(pj)[arg], -1)
    critical = np.zeros((n, k), dtype=bool)
    if n == 0 or k == 0:
        return critical
    cur = np.where(np.isfinite(ez.max(axis=1)), ez.argmax(axis=1), -1)
    for _ in range(k):
        on = cur >= 0
        if not on.any():
            break
        critical[rows[on], cur[on]] = True
        cur = np.where(on, crit_pred[rows, np.maximum(cur, 0)], -1)
    return critical


def _mode_row(critical: np.ndarray) -> tuple[np.ndarray, float]:
    """The most frequent row of a bool matrix and the share of rows equal to it."""
    n, k = critical.shape
    if n == 0:
        return np.zeros(k, bool), 0.0
    packed = np.ascontiguousarray(np.packbits(critical, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    best = int(counts.argmax())
    row = int(np.flatnonzero(inverse.ravel() == best)[0])
    return critical[row].copy(), float(counts[best]) / n


def _nanstat(fn: object, m: np.ndarray, *args: object) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(fn(m, *args, axis=0))  # type: ignore[operator]


def build_profile(
    spans: pd.DataFrame, recipe: Recipe, *, rate_bin_s: float | None = None, request_fraction: float = 1.0
) -> Profile:
    """The performance profile of ``recipe`` from its span table (:func:`recipemut.logs.ingest.read_logs`).

    Requests are ``request_id`` values; matrix columns follow ``recipe.topo_order``. Spans of
    operations the recipe does not define are ignored (ingest reports them). When a
    ``(request, op)`` pair has several spans without ``span_id``, the one that ended last is used;
    spans with span ids are calls, folded into the cell by :func:`recipemut.profile.calls.fold_calls`
    (the calls' window, costs and bytes summed, an error only when a last attempt failed; a span nested
    in a span of its own operation is part of that call, not another call). A cell's
    cost is the logged ``cost_usd``, else the recipe's ``cost_per_call_usd`` per call. End-to-end latency is the
    last end minus the first start; cost is the sum over the operations that ran. A span holding spans
    of other operations (``parent_span_id``) is charged its own time and the spans it holds start
    after it (:func:`recipemut.logs.nesting.replay_starts`), so that replaying the unchanged recipe
    gives the recorded end to end. ``rate_bin_s``
    defaults to :func:`rate_bin_for` of the time the requests span. ``request_fraction``: the share
    of requests ingest kept (:class:`recipemut.logs.sample.RequestSample`), carried as is.

    Raises
    ------
    LogError
        No span of an operation of this recipe.
    """
    from recipemut.logs.nesting import charge_frame, frame_parents, outermost_same
    from recipemut.logs.spans import factorize, keep_calls

    topo = recipe.topo_order
    k = len(topo)
    col_of = {op: j for j, op in enumerate(topo)}
    op_codes_raw, op_uniques = factorize(spans["op"]) if len(spans) else (np.zeros(0, np.int64), np.array([]))
    lookup = np.array([col_of.get(str(u), -1) for u in op_uniques] + [-1], dtype=np.int64)
    op_col = lookup[op_codes_raw]
    known = op_col >= 0
    if not known.all():
        dropped = int((~known).sum())
        log.warning("%d spans of operations recipe %r does not define are ignored", dropped, recipe.name)
        spans = spans.loc[known].reset_index(drop=True)
        op_col = op_col[known]
    if len(spans) == 0:
        raise LogError(f"no span of an operation of recipe {recipe.name!r} to profile", code="no-spans")

    req_codes, request_ids = factorize(spans["request_id"])
    start = _column(spans, "start_ms")
    lat = _column(spans, "latency_ms")
    span_codes = factorize(spans["span_id"])[0] if "span_id" in spans.columns else None
    keep = keep_calls(req_codes, op_col, span_codes, start + lat, k)
    if not keep.all():
        log.info("%d duplicate spans ignored (the last-ending one is used)", int((~keep).sum()))
        spans = spans.loc[keep].reset_index(drop=True)
        op_col, start, lat = op_col[keep], start[keep], lat[keep]
        req_codes, request_ids = factorize(spans["request_id"])
        span_codes = None if span_codes is None else span_codes[keep]
    n = int(request_ids.shape[0])
    span_start, span_end = start, start + lat  # the recorded spans: end-to-end latency is measured on them
    parent = frame_parents(spans, req_codes)
    own, moved, nested = charge_frame(spans, req_codes, op_col, start, lat, parent)
    if nested:  # a span holding spans of other operations is charged its own time, the spans it holds after it
        log.info("%d spans charged their own time (what their spans of other operations cover taken off)", nested)
        lat, start = own, moved

    st_codes, st_uniques = factorize(spans["status"])
    unknown_status = [str(u) for u in st_uniques if str(u) not in _STATUS_CODE]
    if unknown_status:
        log.warning("unknown status values %s counted as errors", unknown_status)
    st_lookup = np.array([_STATUS_CODE.get(str(u), ST_ERROR) for u in st_uniques] + [ST_ERROR], dtype=np.int8)
    row_status = st_lookup[st_codes]
    attempt = _column(spans, "attempt") if "attempt" in spans.columns else None
    failed = row_status == ST_ERROR
    if span_codes is None or not bool((span_codes >= 0).any()):  # one call per cell: the rows are the cells
        cells = one_call_each(req_codes, op_col, lat, start, failed)
    else:
        outer = None if parent is None else outermost_same(parent, op_col)  # recursion: inside its call
        cells = fold_calls(req_codes, op_col, k, start, lat, failed, attempt, outer)
    r, c = cells.req, cells.col

    def per_cell(name: str, *, most: bool = False) -> np.ndarray:
        values = _column(spans, name)
        if cells.single:  # one call per cell, but the cells are in (request, operation) order, not the rows'
            return values[cells.last]
        return cells.most(values) if most else cells.total(values)

    latency = _matrix(n, k, r, c, cells.latency)
    start_abs = _matrix(n, k, r, c, cells.start)
    request_start = np.nanmin(start_abs, axis=1)  # every request has a span, so no all-NaN row
    start_offset = elapsed_ms(start_abs, request_start[:, None])
    end_abs = start_abs + latency
    if nested:  # own times end early: the request ended when its last span did
        first_start, last_end = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(first_start, req_codes, span_start)
        np.maximum.at(last_end, req_codes, span_end)
        e2e = elapsed_ms(last_end, first_start)
    else:
        e2e = elapsed_ms(np.nanmax(end_abs, axis=1), request_start)

    cost = _matrix(n, k, r, c, per_cell("cost_usd"))
    n_calls = np.zeros((n, k), dtype=np.int64)
    n_calls[r, c] = cells.n_calls
    declared = np.array([recipe.ops[op].cost_per_call_usd or np.nan for op in topo], dtype=float)
    fill = np.isnan(cost) & ~np.isnan(latency) & ~np.isnan(declared)[None, :]
    cost = np.where(fill, declared[None, :] * n_calls, cost)
    cpu = _matrix(n, k, r, c, per_cell("cpu_ms"))
    mem = _matrix(n, k, r, c, per_cell("mem_mb", most=True))
    bytes_in = _matrix(n, k, r, c, per_cell("bytes_in"))
    bytes_out = _matrix(n, k, r, c, per_cell("bytes_out"))

    status = np.zeros((n, k), dtype=np.int8)
    if cells.single:
        status[r, c] = row_status[cells.last]
    else:  # halted as the last call says; an error only when the last attempt of some call failed
        base = row_status[cells.last]
        status[r, c] = np.where(base == ST_HALTED, ST_HALTED, np.where(cells.final_errors > 0, ST_ERROR, ST_OK))

    cache_key = np.full((n, k), -1, dtype=np.int64)
    ck_codes = factorize(spans["cache_key"])[0] if "cache_key" in spans.columns else None
    if ck_codes is not None:
        cache_key[r, c] = ck_codes[cells.last] if cells.single else cells.same(ck_codes)
    items = _column(spans, "items") if "items" in spans.columns else None
    calls_kept = None
    if not cells.single or items is not None:  # the calls, for replaying the operation under another shape
        calls_kept = call_table(
            cells,
            req_codes,
            op_col,
            start,
            lat,
            cost=_column(spans, "cost_usd"),
            attempt=attempt,
            items=items,
            key=ck_codes,
        )
        unpriced = np.isnan(calls_kept.cost)
        if unpriced.any():
            priced = declared[calls_kept.col] * calls_kept.attempts
            calls_kept = dataclasses.replace(calls_kept, cost=np.where(unpriced, priced, calls_kept.cost))

    first = _first_rows(req_codes)
    if "variant" in spans.columns:
        v = spans["variant"].iloc[first].to_numpy(dtype=object)
        variant = np.where(pd.isna(v), "control", v).astype(str)
    else:
        variant = np.full(n, "control")
    sample_rate = _column(spans, "sample_rate")[first]
    sample_rate = np.where(np.isfinite(sample_rate) & (sample_rate > 0), sample_rate, 1.0)

    preds = [[col_of[p] for p in recipe.dag.predecessors(op) if p in col_of] for op in topo]
    critical = critical_paths(end_abs, preds)
    mode, mode_share = _mode_row(critical)

    far = far_off_starts(request_start)  # a clock years off would stretch the series over years of empty bins
    if far.any():
        log.warning("%s", far_off_note(request_start, far, _first_far_line(spans, req_codes, far)))
    in_rate = request_start[~far]
    if rate_bin_s is None:
        rate_bin_s = rate_bin_for((float(in_rate.max()) - float(in_rate.min())) / 1000.0)
    rate = rate_series(in_rate, 1.0 / sample_rate[~far], float(rate_bin_s))

    ran = ~np.isnan(latency)
    count = ran.sum(axis=0)
    pct = _nanstat(np.nanpercentile, latency, [50, 95, 99])
    mean = {
        name: _nanstat(np.nanmean, m)
        for name, m in (
            ("lat", latency),
            ("cost", cost),
            ("cpu", cpu),
            ("in", bytes_in),
            ("out", bytes_out),
            ("mem", mem),
        )
    }
    p95_e2e = float(np.percentile(e2e, 95))
    tail = e2e >= p95_e2e
    tail_ms = np.where(critical[tail], np.nan_to_num(latency[tail]), 0.0).mean(axis=0)
    tail_mean = float(e2e[tail].mean())
    total_cost = float(np.nansum(cost))
    safe = np.maximum(count, 1)

    stats = tuple(
        OpStats(
            op=op,
            service=recipe.ops[op].service,
            count=int(count[j]),
            p50_ms=float(pct[0, j]),
            p95_ms=float(pct[1, j]),
            p99_ms=float(pct[2, j]),
            mean_ms=float(mean["lat"][j]),
            cost_mean_usd=float(mean["cost"][j]),
            cpu_mean_ms=float(mean["cpu"][j]),
            bytes_in_mean=float(mean["in"][j]),
            bytes_out_mean=float(mean["out"][j]),
            error_rate=float((status[:, j] == ST_ERROR).sum() / safe[j]),
            halt_rate=float((status[:, j] == ST_HALTED).sum() / safe[j]),
            critical_share=float(critical[:, j].mean()),
            run_share=float(count[j] / n),
            mem_mean_mb=float(mean["mem"][j]),
            cost_share=float(np.nansum(cost[:, j]) / total_cost) if total_cost > 0 else 0.0,
            tail_ms=float(tail_ms[j]),
            tail_share=float(tail_ms[j] / tail_mean) if tail_mean > 0 else 0.0,
        )
        for j, op in enumerate(topo)
    )
    return Profile(
        recipe=recipe.name,
        op_ids=topo,
        request_ids=request_ids,
        request_start_ms=request_start,
        variant=variant,
        sample_rate=sample_rate,
        latency_ms=latency,
        start_offset_ms=start_offset,
        cost_usd=cost,
        cpu_ms=cpu,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        status=status,
        cache_key=cache_key,
        e2e_latency_ms=e2e,
        e2e_cost_usd=np.nansum(cost, axis=1),
        critical=critical,
        ops=stats,
        rate=rate,
        rate_bin_s=float(rate_bin_s),
        critical_path=tuple(op for op, on in zip(topo, mode, strict=True) if on),
        critical_path_share=mode_share,
        calls=call_stats(
            cells,
            topo,
            op_col,
            e2e,
            attempt,
            items,
        ),
        n_calls=n_calls,
        call_ms=_matrix(n, k, r, c, cells.call_ms),
        call_table=calls_kept,
        request_fraction=float(request_fraction),
        rate_left_out=int(far.sum()),
    )


def latency_contributors(profile: Profile, n: int = 3) -> list[OpStats]:
    """The operations that add most time to the critical path of tail requests (e2e >= p95)."""
    ranked = sorted((s for s in profile.ops if s.tail_ms > 0), key=lambda s: (-s.tail_ms, s.op))
    return ranked[:n]


def outside_operations(profile: Profile) -> tuple[float, float]:
    """Of the mean latency of tail requests (e2e >= p95): the time, in ms, and the share that no operation's
    span on their critical path covers (the gaps between operations, the spans that map to none, such as a
    server span holding the calls); ``(0.0, 0.0)`` when the operations cover it all (or overlap past it).

    It is the tail's mean latency less the operations' ``tail_ms`` summed (when no operation is on their
    critical path, all of it): the shared Zipkin ``simple-db`` example's four database calls cover 10.8% of
    its 107.6 ms, and 89.2% is in its server span, which maps to no operation.
    """
    e2e = profile.e2e_latency_ms
    if not e2e.size:
        return 0.0, 0.0
    tail_mean = float(e2e[e2e >= np.percentile(e2e, 95)].mean())  # the tail as the operations' tail_ms took it
    outside = tail_mean - sum(s.tail_ms for s in profile.ops)
    if tail_mean <= 0 or outside <= 1e-9 * tail_mean:  # covered, to the last float
        return 0.0, 0.0
    return outside, outside / tail_mean


def cost_contributors(profile: Profile, n: int = 3) -> list[OpStats]:
    """The operations with the largest share of total cost."""
    ranked = sorted((s for s in profile.ops if s.cost_share > 0), key=lambda s: (-s.cost_share, s.op))
    return ranked[:n]
