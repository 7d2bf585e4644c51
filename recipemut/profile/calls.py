"""Several calls of one operation in one request: the one cell they make, and what they tell.

The request matrix keeps one cell per (request, operation). When the logs hold several calls of
an operation in a request (a fan-out over a list, retries), :func:`fold_calls` folds them into
that cell: it starts at the first call's start and lasts until the last call's end (the calls'
*window*, what the request waited for, so replaying the unchanged recipe reproduces the recorded
time); costs and the like are summed over the calls. A span nested in a span of its own operation
(recursion, :func:`recipemut.logs.nesting.outermost_same`) is part of that call, not a call of its
own: its time lies inside the call's, its cost and the like are added to the cell's. A call that
failed and was tried again is a *retried error*, not a failure of the request: the cell is an error
only when the last attempt of some call failed.

:func:`call_stats` gives, per operation, the figures of its calls (calls per request, attempts,
retried errors, items per call, calls in flight at once, the window against the sum of the calls'
times), and :func:`n_plus_one` names the operations called several times per request that the
recipe describes as one call (no ``foreach``): the N+1 pattern, with the lines to add.

Everything is vectorised over calls (sorts, ``bincount``, one sweep over start/end events).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recipemut.files.units import counted, ms_text
from recipemut.logs.spans import elapsed_ms
from recipemut.recipe.model import Recipe


@dataclass(frozen=True, eq=False)
class Cells:
    """Calls folded into (request, operation) cells. Row arrays are per call, cell arrays per cell."""

    cell: np.ndarray  # (rows,) the cell of each call
    req: np.ndarray  # (cells,) request code
    col: np.ndarray  # (cells,) operation column
    start: np.ndarray  # (cells,) first start
    latency: np.ndarray  # (cells,) the calls' window: last end - first start (the one call's latency)
    last: np.ndarray  # (cells,) row of the call that ended last
    n_calls: np.ndarray  # (cells,) calls
    call_ms: np.ndarray  # (cells,) sum of the calls' latencies
    in_flight_max: np.ndarray  # (cells,) most calls in flight at once
    retried: np.ndarray  # (cells,) error calls that were tried again
    final_errors: np.ndarray  # (cells,) calls whose last attempt failed
    n_logical: np.ndarray  # (cells,) calls not counting lines logged as a retry (attempt > 1)
    outer: np.ndarray | None = None  # (rows,) the row of the call each row is part of (None: its own)

    @property
    def single(self) -> bool:
        """Every cell is one call (the logs are shaped like the one-call model)."""
        return int(self.req.shape[0]) == int(self.cell.shape[0])

    def total(self, values: np.ndarray) -> np.ndarray:
        """Per cell, the sum of ``values`` (per call) over the calls that carry one; NaN where none does.

        >>> c = fold_calls(np.array([0, 0, 1]), np.zeros(3, int), 1, np.zeros(3), np.ones(3), np.zeros(3, bool))
        >>> c.total(np.array([1.0, np.nan, np.nan])).tolist()
        [1.0, nan]
        """
        m = int(self.req.shape[0])
        has = ~np.isnan(values)
        s = np.bincount(self.cell, weights=np.where(has, values, 0.0), minlength=m)
        return np.where(np.bincount(self.cell, weights=has, minlength=m) > 0, s, np.nan)

    def most(self, values: np.ndarray) -> np.ndarray:
        """Per cell, the largest of ``values`` (NaN ignored; NaN where none)."""
        out = np.full(int(self.req.shape[0]), -np.inf)
        has = ~np.isnan(values)
        np.maximum.at(out, self.cell[has], values[has])
        return np.where(np.isfinite(out), out, np.nan)

    def same(self, codes: np.ndarray) -> np.ndarray:
        """Per cell, the code all its calls share, else -1 (``codes`` per call, -1 for none)."""
        m = int(self.req.shape[0])
        lo = np.full(m, np.iinfo(np.int64).max)
        hi = np.full(m, -1, dtype=np.int64)
        np.minimum.at(lo, self.cell, codes)
        np.maximum.at(hi, self.cell, codes)
        return np.where(lo == hi, hi, -1)


def one_call_each(req: np.ndarray, col: np.ndarray, latency: np.ndarray, start: np.ndarray, error: np.ndarray) -> Cells:
    """The cells of calls that are one per (request, operation) already: each row its own cell."""
    n = int(req.shape[0])
    rows = np.arange(n, dtype=np.int64)
    ones = np.ones(n, np.int64)
    return Cells(
        cell=rows,
        req=req.astype(np.int64),
        col=col.astype(np.int64),
        start=start,
        latency=latency,
        last=rows,
        n_calls=ones,
        call_ms=latency,
        in_flight_max=ones,
        retried=np.zeros(n, np.int64),
        final_errors=error.astype(np.int64),
        n_logical=ones,
    )


def fold_calls(
    req: np.ndarray,
    col: np.ndarray,
    k: int,
    start: np.ndarray,
    latency: np.ndarray,
    error: np.ndarray,
    attempt: np.ndarray | None = None,
    outer: np.ndarray | None = None,
) -> Cells:
    """Fold calls (one row each: request code, operation column, start, latency, failed?) into cells.

    ``outer`` is, per row, the row of the call it is part of: itself, or for a span nested in a span
    of its own operation the outermost such span (:func:`recipemut.logs.nesting.outermost_same`).
    A nested row is no call: the calls counted, in flight, their summed time, errors and retries are
    the outer rows'; the window spans every row, and :meth:`Cells.total` adds up every row's values.

    ``attempt`` (float, NaN where a line has none) pairs an error at attempt *a* with a call at
    attempt *a + 1* of the same cell: that error was retried. Without attempts, an error call
    after which the operation was called again in the request counts as retried (the request went
    on); an error on the last-ending call is the cell's failure.

    >>> c = fold_calls(np.zeros(3, int), np.zeros(3, int), 1, np.array([0.0, 10.0, 20.0]),
    ...                np.array([10.0, 10.0, 5.0]), np.array([False, True, False]))
    >>> c.latency.tolist(), c.n_calls.tolist(), c.call_ms.tolist(), c.in_flight_max.tolist()
    ([25.0], [3], [25.0], [1])
    >>> c.retried.tolist(), c.final_errors.tolist()
    ([1], [0])
    >>> c = fold_calls(np.zeros(2, int), np.zeros(2, int), 1, np.array([0.0, 2.0]), np.array([9.0, 4.0]),
    ...                np.array([True, False]), outer=np.array([0, 0]))  # the second inside the first
    >>> c.n_calls.tolist(), c.latency.tolist(), c.call_ms.tolist(), c.final_errors.tolist()
    ([1], [9.0], [9.0], [1])
    """
    n = int(req.shape[0])
    key = req.astype(np.int64) * max(k, 1) + col.astype(np.int64)
    uniq, cell = np.unique(key, return_inverse=True)
    cell = cell.astype(np.int64).ravel()
    m = int(uniq.shape[0])
    end = start + latency
    rows_in = np.bincount(cell, minlength=m)
    first_start = np.full(m, np.inf)
    np.minimum.at(first_start, cell, start)
    last_end = np.full(m, -np.inf)
    np.maximum.at(last_end, cell, end)
    is_call = np.ones(n, bool) if outer is None else outer == np.arange(n)  # a nested row is no call
    n_calls = np.bincount(cell[is_call], minlength=m)
    # the last-ending call of each cell (ties: the later row), as the one-call rule picks it
    order = np.lexsort((np.arange(n), end, is_call, cell))  # a cell's calls after its nested rows
    is_last = np.ones(n, bool)
    is_last[order[:-1]] = cell[order[:-1]] != cell[order[1:]]
    last = np.zeros(m, np.int64)
    last[cell[is_last]] = np.flatnonzero(is_last)
    window = np.where(rows_in == 1, latency[last], elapsed_ms(last_end, first_start))
    call_ms = np.bincount(cell[is_call], weights=latency[is_call], minlength=m)

    # calls in flight: a sweep over start (+1) and end (-1) events sorted by cell and time, ends
    # first at a tie (a call starting as another ends does not overlap it); every cell's events sum
    # to zero, so one running sum serves all cells
    calls = np.flatnonzero(is_call)
    ev_cell = np.concatenate((cell[calls], cell[calls]))
    ev_time = np.concatenate((start[calls], end[calls]))
    ev_delta = np.concatenate((np.ones(len(calls), np.int64), -np.ones(len(calls), np.int64)))
    ev = np.lexsort((ev_delta, ev_time, ev_cell))
    running = np.cumsum(ev_delta[ev])
    bounds = np.searchsorted(ev_cell[ev], np.arange(m))
    in_flight = np.maximum(np.maximum.reduceat(running, bounds) if n else np.zeros(m, np.int64), 1)

    error = error & is_call  # a nested call's error is the outer call's to handle
    errors = np.bincount(cell, weights=error, minlength=m).astype(np.int64)
    retried = np.zeros(m, np.int64)
    known = np.zeros(n, bool) if attempt is None else ~np.isnan(attempt) & is_call
    if known.any():
        assert attempt is not None
        g = pd.DataFrame({"cell": cell[known], "att": attempt[known], "err": error[known].astype(np.int64)})
        per = g.groupby(["cell", "att"], sort=False)["err"].agg(["size", "sum"])
        cells_i = per.index.get_level_values(0).to_numpy()
        nxt = per["size"].reindex(pd.MultiIndex.from_arrays([cells_i, per.index.get_level_values(1) + 1]))
        took = np.minimum(per["sum"].to_numpy(), np.nan_to_num(nxt.to_numpy(dtype=float)).astype(np.int64))
        retried += np.bincount(cells_i, weights=took, minlength=m).astype(np.int64)
    unknown = error & ~known & ~is_last  # no attempt: an error the request went on after
    retried += np.bincount(cell[unknown], minlength=m)
    repeats = np.zeros(n, bool) if attempt is None else (np.nan_to_num(attempt, nan=1.0) > 1) & is_call
    return Cells(
        cell=cell,
        req=(uniq // max(k, 1)).astype(np.int64),
        col=(uniq % max(k, 1)).astype(np.int64),
        start=first_start,
        latency=window,
        last=last,
        n_calls=n_calls,
        call_ms=call_ms,
        in_flight_max=in_flight.astype(np.int64),
        retried=retried,
        final_errors=errors - retried,
        n_logical=n_calls - np.bincount(cell[repeats], minlength=m),
        outer=None if outer is None or bool(is_call.all()) else outer,
    )


def _json_num(v: object) -> object:
    return None if isinstance(v, float) and not math.isfinite(v) else v


@dataclass(frozen=True)
class CallStats:
    """What the calls of one operation show, over the requests in which it ran.

    Window, sum and concurrency figures are over the requests in which it was called more than
    once (NaN when there are none).
    """

    op: str
    requests: int  # requests in which it ran
    calls: int  # calls in all
    calls_mean: float  # calls per request in which it ran
    calls_max: int
    several: int  # requests with more than one call (a call's retries, lines at attempt > 1, not counted)
    attempts_max: int  # the highest attempt logged (1 when no line logs one)
    retried_errors: int  # failed calls that were tried again (not request errors)
    items_per_call: float  # mean items per call (NaN when no line logs items)
    concurrency_max: int  # most calls in flight at once within a request
    concurrency_mean: float  # mean calls in flight over the window (sum of call times / window)
    window_ms_mean: float  # first start to last end of the calls
    sum_ms_mean: float  # the calls' times added up
    e2e_ms_mean: float  # end-to-end latency of those requests

    @property
    def serial(self) -> bool:
        """The calls ran one after another (no two overlapped; window ≈ sum of their times)."""
        return self.concurrency_max <= 1

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (NaN -> None), with ``serial``."""
        return {**{k: _json_num(v) for k, v in self.__dict__.items()}, "serial": self.serial}


def call_stats(
    cells: Cells,
    op_ids: tuple[str, ...],
    row_col: np.ndarray,
    e2e: np.ndarray,
    attempt: np.ndarray | None = None,
    items: np.ndarray | None = None,
) -> tuple[CallStats, ...]:
    """Per operation (``op_ids``, the matrix columns), the figures of its calls.

    ``row_col`` is each call's column; ``e2e`` each request's end-to-end latency.
    """
    k = len(op_ids)
    col = cells.col
    ran = np.bincount(col, minlength=k)
    calls = np.bincount(col, weights=cells.n_calls, minlength=k)
    calls_max = np.zeros(k, np.int64)
    np.maximum.at(calls_max, col, cells.n_calls)
    multi = cells.n_logical > 1  # a call tried again is still one call
    several = np.bincount(col[multi], minlength=k)

    def mean_over_multi(values: np.ndarray) -> np.ndarray:
        s = np.bincount(col[multi], weights=values[multi], minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(several > 0, s / np.maximum(several, 1), np.nan)

    conc_max = np.ones(k, np.int64)
    np.maximum.at(conc_max, col, cells.in_flight_max)
    with np.errstate(invalid="ignore", divide="ignore"):
        in_flight_mean = np.where(cells.latency > 0, cells.call_ms / cells.latency, cells.n_calls.astype(float))
    attempts_max = np.ones(k, np.int64)
    if attempt is not None and (~np.isnan(attempt)).any():
        has = ~np.isnan(attempt)
        np.maximum.at(attempts_max, row_col[has], attempt[has].astype(np.int64))
    items_per_call = np.full(k, np.nan)
    if items is not None and (~np.isnan(items)).any():
        has = ~np.isnan(items)
        got = np.bincount(row_col[has], minlength=k)
        total = np.bincount(row_col[has], weights=items[has], minlength=k)
        items_per_call = np.where(got > 0, total / np.maximum(got, 1), np.nan)
    retried = np.bincount(col, weights=cells.retried, minlength=k)
    window = mean_over_multi(cells.latency)
    summed = mean_over_multi(cells.call_ms)
    conc_mean = mean_over_multi(in_flight_mean)
    e2e_mean = mean_over_multi(e2e[cells.req])
    return tuple(
        CallStats(
            op=op,
            requests=int(ran[j]),
            calls=int(calls[j]),
            calls_mean=float(calls[j] / ran[j]) if ran[j] else float("nan"),
            calls_max=int(calls_max[j]),
            several=int(several[j]),
            attempts_max=int(attempts_max[j]),
            retried_errors=int(retried[j]),
            items_per_call=float(items_per_call[j]),
            concurrency_max=int(conc_max[j]) if several[j] else 1,
            concurrency_mean=float(conc_mean[j]),
            window_ms_mean=float(window[j]),
            sum_ms_mean=float(summed[j]),
            e2e_ms_mean=float(e2e_mean[j]),
        )
        for j, op in enumerate(op_ids)
    )


@dataclass(frozen=True)
class NPlusOne:
    """An operation called several times per request that the recipe describes as one call."""

    op: str
    service: str
    line: int | None  # the operation's line in the recipe
    calls: CallStats
    field: str | None  # the consumed list field it most likely iterates over (None: none is a list)
    add: tuple[str, ...]  # the recipe lines to add to the operation

    @property
    def share_of_e2e(self) -> float:
        """The calls' window as a share of the end-to-end latency of the requests that made them."""
        e2e = self.calls.e2e_ms_mean
        return self.calls.window_ms_mean / e2e if e2e > 0 else float("nan")

    def sentence(self) -> str:
        """One sentence a reviewer can check against the logs."""
        c = self.calls
        how = (
            "one after another"
            if c.serial
            else f"up to {c.concurrency_max} at once ({c.concurrency_mean:.1f} in flight on average)"
        )
        were = "was" if c.retried_errors == 1 else "were"
        retried = f"; {counted(c.retried_errors, 'failed call')} {were} retried" if c.retried_errors else ""
        return (
            f"{self.op} is called {c.calls_mean:.1f} times per request (up to {c.calls_max}; several times in "
            f"{c.several} of {c.requests} requests), {how}: {ms_text(c.window_ms_mean)} from first call to last, "
            f"{ms_text(c.sum_ms_mean)} of calls, {100 * self.share_of_e2e:.0f}% of those requests' latency{retried}; "
            "the recipe has it as one call (no foreach)"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "op": self.op,
            "service": self.service,
            "line": self.line,
            "field": self.field,
            "add": list(self.add),
            "share_of_e2e": _json_num(self.share_of_e2e),
            "message": self.sentence(),
            "calls": self.calls.to_dict(),
        }


def n_plus_one(recipe: Recipe, calls: tuple[CallStats, ...]) -> list[NPlusOne]:
    """The operations called more than once per request whose recipe entry has no ``foreach``.

    The line to add names the consumed field of type ``array`` the calls most likely iterate over
    (a placeholder when none is), and the concurrency the logs show (1 when the calls ran one
    after another).
    """
    out: list[NPlusOne] = []
    for c in calls:
        op = recipe.ops.get(c.op)
        if op is None or c.several == 0 or getattr(op, "foreach", None) is not None:
            continue
        lists = [f for f in op.consumes if (spec := recipe.fields.get(f)) is not None and spec.type == "array"]
        field = lists[0] if lists else None
        add = (f"foreach: {field or '<the list field it consumes>'}", f"concurrency: {c.concurrency_max}")
        line = recipe.position("operations", recipe.op_index(op.id))[0]
        out.append(NPlusOne(op.id, op.service, line, c, field, add))
    return out


__all__ = [
    "CallStats",
    "CallTable",
    "Cells",
    "NPlusOne",
    "call_stats",
    "call_table",
    "fold_calls",
    "n_plus_one",
    "one_call_each",
]


# ---- the calls themselves, for replaying a fan-out under another shape --------------------------


@dataclass(frozen=True, eq=False)
class CallTable:
    """Every call of every cell, attempts of one call folded into it: per call arrays, sorted by cell
    (request, then operation) and, within a cell, by the start of the call's first attempt.

    A line at attempt > 1 belongs to the call started before it in the same cell (retries follow
    the attempt they repeat); a line without ``attempt`` is a call of its own; a span nested in a
    span of its own operation (``Cells.outer``) belongs to that call, adding its cost, not its time.
    """

    req: np.ndarray  # request code
    col: np.ndarray  # operation column
    index: np.ndarray  # position of the call in its cell (0 = started first)
    ms: np.ndarray  # the call's time: its attempts' latencies added up (retries included)
    cost: np.ndarray  # its attempts' costs added up (NaN when none is logged)
    items: np.ndarray  # items the call handled (NaN when not logged)
    key: np.ndarray  # cache-key code of its first attempt (-1: none)
    attempts: np.ndarray  # attempts it took

    def matrix(self, col: int, n: int, values: np.ndarray, fill: float | int = np.nan) -> np.ndarray:
        """(n, most calls) matrix of ``values`` (per call) of column ``col``'s calls, in start order,
        ``fill`` where a request has fewer calls (or none).

        >>> t = call_table(fold_calls(np.array([0, 0, 1]), np.zeros(3, int), 1, np.array([5.0, 0.0, 0.0]),
        ...                np.array([1.0, 2.0, 3.0]), np.zeros(3, bool)), np.array([0, 0, 1]), np.zeros(3, int),
        ...                np.array([5.0, 0.0, 0.0]), np.array([1.0, 2.0, 3.0]))
        >>> t.matrix(0, 2, t.ms).tolist()
        [[2.0, 1.0], [3.0, nan]]
        """
        sel = self.col == col
        width = int(self.index[sel].max()) + 1 if sel.any() else 0
        out = np.full((n, width), fill, dtype=np.result_type(np.asarray(values).dtype, np.asarray(fill).dtype))
        out[self.req[sel], self.index[sel]] = values[sel]
        return out


def call_table(
    cells: Cells,
    req: np.ndarray,
    col: np.ndarray,
    start: np.ndarray,
    latency: np.ndarray,
    *,
    cost: np.ndarray | None = None,
    attempt: np.ndarray | None = None,
    items: np.ndarray | None = None,
    key: np.ndarray | None = None,
) -> CallTable:
    """The calls of ``cells`` (rows = attempts: request code, column, start, latency, and optional
    per-row cost, attempt, items and cache-key code), vectorised (one sort, ``bincount``)."""
    n = int(req.shape[0])
    rows = np.arange(n)
    outer = rows if cells.outer is None else cells.outer
    nested = outer != rows
    # by cell, then each call's outer row (at its start) followed by the rows nested in it
    order = np.lexsort((rows, start, nested, outer, start[outer], cells.cell))
    sc = cells.cell[order]
    new = np.ones(n, dtype=bool)
    if attempt is not None:  # a retry (attempt > 1) joins the call before it in its cell
        new[1:] = (sc[1:] != sc[:-1]) | ~(attempt[order][1:] > 1)
    new &= ~nested[order]
    call = np.cumsum(new) - 1
    m = int(new.sum())
    call_cell = sc[new]
    index = np.arange(m) - np.searchsorted(call_cell, call_cell, side="left")
    firsts = order[new]

    def summed(values: np.ndarray) -> np.ndarray:
        v = values[order]
        has = ~np.isnan(v)
        s = np.bincount(call, weights=np.where(has, v, 0.0), minlength=m)
        return np.where(np.bincount(call, weights=has, minlength=m) > 0, s, np.nan)

    return CallTable(
        req=req[firsts].astype(np.int64),
        col=col[firsts].astype(np.int64),
        index=index.astype(np.int64),
        ms=np.bincount(call, weights=np.where(nested, 0.0, latency)[order], minlength=m),
        cost=summed(cost) if cost is not None else np.full(m, np.nan),
        items=items[firsts].astype(float) if items is not None else np.full(m, np.nan),
        key=key[firsts].astype(np.int64) if key is not None else np.full(m, -1, np.int64),
        attempts=np.bincount(call, weights=~nested[order], minlength=m).astype(np.int64),
    )
