"""Scheduling the calls of a fan-out operation: what one request waits for under a new shape.

The calls of one operation in one request come as a (requests × calls) matrix, NaN-padded, calls in
recorded start order (:meth:`recipemut.profile.build.Profile.call_durations`). The functions here
are vectorised over requests; the only Python loop is over the call index.

* :func:`makespan`: the time the calls take on ``k`` slots, greedy list scheduling (each call,
  in order, goes to the slot that frees first);
* :func:`first_of_key`: which calls a ``dedupe`` keeps (the first call of each key in a request);
* :func:`batch_calls`: how many calls of ``b`` items a request's items need;
* :func:`reshaped`: the cell of an operation whose fan-out fields (``concurrency``, ``dedupe``,
  ``batch_size`` on a substituted batched alternative) differ from the recorded recipe's, rebuilt
  from its recorded calls (see docs/internals.md, "Fan-out replay").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recipemut.files.units import counted, ms_short
from recipemut.profile.build import Profile
from recipemut.recipe.model import Operation

_Z95 = 1.6448536269514722


def makespan(durations: np.ndarray, k: int) -> np.ndarray:
    """Per request (row), the time its calls take on ``k`` slots: each call, in column order, runs on
    the slot that frees earliest (ties: the lowest slot). NaN cells are no call; a row without
    calls gives NaN.

    >>> d = np.array([[10.0, 10.0, 10.0, 10.0], [5.0, 30.0, np.nan, np.nan], [np.nan] * 4])
    >>> makespan(d, 1).tolist(), makespan(d, 2).tolist(), makespan(d, 4).tolist()
    ([40.0, 35.0, nan], [20.0, 30.0, nan], [10.0, 30.0, nan])
    >>> makespan(np.array([[4.0, 3.0, 3.0]]), 2).tolist()  # 4 | 3 then 3 on the slot free at 3
    [6.0]
    """
    d = np.asarray(durations, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"durations must be a (requests, calls) matrix, not of shape {d.shape}")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    n, m = d.shape
    has = ~np.isnan(d)
    ran = has.any(axis=1)
    if n == 0 or m == 0:
        return np.full(n, np.nan)
    most = int(has.sum(axis=1).max())
    if k >= most:  # a slot per call: the longest call
        with np.errstate(all="ignore"):
            return np.where(ran, np.nanmax(np.where(has, d, -np.inf), axis=1), np.nan)
    dz = np.where(has, d, 0.0)
    if k == 1:
        return np.where(ran, dz.sum(axis=1), np.nan)
    free = np.zeros((n, k))
    rows = np.arange(n)
    for j in range(m):
        slot = free.argmin(axis=1)
        free[rows, slot] += dz[:, j]
    return np.where(ran, free.max(axis=1), np.nan)


def first_of_key(keys: np.ndarray) -> np.ndarray:
    """Per call, whether ``dedupe`` keeps it: the first call (in column order) of each key in its row.

    ``keys`` is (requests × calls) int, -1 where a call has no key (always kept) or no call.

    >>> first_of_key(np.array([[3, 5, 3, -1, -1, 5], [1, 1, 1, 2, -1, -1]])).astype(int).tolist()
    [[1, 1, 0, 1, 1, 0], [1, 0, 0, 1, 1, 1]]
    """
    keys = np.asarray(keys, dtype=np.int64)
    n, m = keys.shape if keys.ndim == 2 else (0, 0)
    if n == 0 or m == 0:
        return np.ones(keys.shape, dtype=bool)
    order = np.argsort(keys, axis=1, kind="stable")  # equal keys stay in column order
    sk = np.take_along_axis(keys, order, axis=1)
    repeat = np.zeros((n, m), dtype=bool)
    repeat[:, 1:] = (sk[:, 1:] == sk[:, :-1]) & (sk[:, 1:] >= 0)
    keep = np.ones((n, m), dtype=bool)
    np.put_along_axis(keep, order, ~repeat, axis=1)
    return keep


def batch_calls(items: np.ndarray, b: int) -> np.ndarray:
    """Calls needed for ``items`` items (per request) at ``b`` items per call: ``ceil(items / b)``.

    >>> batch_calls(np.array([13.0, 5.0, 0.0, 1.0]), 5).tolist()
    [3, 1, 0, 1]
    """
    if b < 1:
        raise ValueError(f"batch size must be at least 1, not {b}")
    it = np.nan_to_num(np.asarray(items, dtype=float), nan=0.0)
    return np.ceil(np.maximum(it, 0.0) / b).astype(np.int64)


# ---- replaying an operation whose fan-out changed ------------------------------------------------


@dataclass(frozen=True, eq=False)
class OpCalls:
    """The recorded calls of one operation in the replayed requests: (rows, most calls) matrices in
    recorded start order, NaN (keys: -1) where a request has fewer calls."""

    ms: np.ndarray  # each call's time, its retried attempts included
    cost: np.ndarray  # each call's cost (NaN: not logged nor declared)
    items: np.ndarray  # items per call (1 where not logged)
    keys: np.ndarray  # cache-key codes (-1: none)

    @property
    def recorded(self) -> np.ndarray:
        """(rows,) bool: the request has recorded calls."""
        return (~np.isnan(self.ms)).any(axis=1)


def op_calls(profile: Profile, op_id: str, rows: np.ndarray) -> OpCalls:
    """The calls of ``op_id`` in the profile rows ``rows`` (see :meth:`Profile.call_durations`)."""
    return OpCalls(
        ms=profile.call_durations(op_id)[rows],
        cost=profile.call_costs(op_id)[rows],
        items=profile.call_items(op_id)[rows],
        keys=profile.call_keys(op_id)[rows],
    )


def fanout_changed(op: Operation, orig: Operation | None, substituted: bool, calls_per_cell: int) -> bool:
    """Whether ``op``'s cell must be rebuilt from its calls: ``concurrency``, ``dedupe`` or
    ``batch_size`` differ from the recorded ``orig``, or a substitute serves calls recorded several
    to a request (each call is then timed from the substitute)."""
    if orig is None:
        return False
    if (op.concurrency, op.dedupe, op.batch_size) != (orig.concurrency, orig.dedupe, orig.batch_size):
        return True
    return substituted and calls_per_cell > 1


@dataclass(frozen=True, eq=False)
class Reshaped:
    """An operation's cell rebuilt from its calls, for the requests with recorded calls (``where``)."""

    where: np.ndarray  # (rows,) bool: rebuilt here (elsewhere the caller keeps its samples)
    latency: np.ndarray  # (rows,) ms (meaningful where ``where``)
    cost: np.ndarray  # (rows,)
    imputed: np.ndarray  # (rows,) bool: timed from a prior, not from recorded calls
    calls: np.ndarray  # (rows,) calls that run
    cost_changed: bool  # calls were dropped or repriced (else the recorded cell's cost stands)
    note: str


def reshaped(
    op: Operation,
    orig: Operation,
    calls: OpCalls,
    *,
    substituted: bool,
    prior: tuple[float, float] | None,
    prior_cost: float,
    rng: np.random.Generator,
) -> Reshaped:
    """The cell of ``op`` rebuilt from the recorded ``calls`` of ``orig`` (vectorised over requests).

    * ``dedupe`` (newly on): a call whose key repeats an earlier call's in the request is dropped,
      with its cost;
    * a substitute (``substituted``): the items of the calls that remain are served
      ``op.batch_size`` to a call, ``ceil(items / batch_size)`` calls each timed from the
      substitute's prior ``(mu, sigma)`` and priced ``prior_cost`` (imputed);
    * the calls that remain then run ``op.concurrency`` at a time: :func:`makespan` (recorded calls
      keep their time, retries included, and their cost).

    Raises ``ValueError`` when a substitute has no prior (the caller says which operation).
    """
    ms, cost = calls.ms, calls.cost
    where = calls.recorded
    parts: list[str] = []
    n_recorded = (~np.isnan(ms)).sum(axis=1)
    if op.dedupe and not orig.dedupe:
        keep = first_of_key(calls.keys) & ~np.isnan(ms)
        ms = np.where(keep, ms, np.nan)
        cost = np.where(keep, cost, np.nan)
        dropped = int(n_recorded.sum() - keep.sum())
        share = dropped / max(int(n_recorded.sum()), 1)
        parts.append(f"dedupe drops {counted(dropped, 'repeated call')} ({share:.0%})")
    imputed = np.zeros(where.shape, dtype=bool)
    if substituted:
        if prior is None:
            raise ValueError("no expected latency prior for the substitute")
        b = max(op.batch_size, 1)
        items = np.where(np.isnan(ms), 0.0, calls.items).sum(axis=1)
        n_new = batch_calls(items, b)
        width = int(n_new.max()) if n_new.size else 0
        draws = rng.lognormal(prior[0], prior[1], (n_new.size, width))
        live = np.arange(width)[None, :] < n_new[:, None]
        ms = np.where(live, draws, np.nan)
        cost = np.where(live, prior_cost, np.nan)
        where = where & (n_new > 0)
        imputed = where.copy()
        p50, p95 = math.exp(prior[0]), math.exp(prior[0] + _Z95 * prior[1])
        mean_calls = float(n_new[where].mean()) if where.any() else 0.0
        parts.append(
            f"{op.action} serves {counted(b, 'item')} a call: {mean_calls:.1f} calls per request, timed from its prior "
            f"(lognormal, p50 {ms_short(p50)}, p95 {ms_short(p95)})"
        )
    k = max(op.concurrency, 1)
    latency = makespan(ms, k) if ms.shape[1] else np.full(ms.shape[0], np.nan)
    n_run = (~np.isnan(ms)).sum(axis=1)
    parts.append(f"{counted(k, 'call')} in flight: the calls rescheduled on {counted(k, 'slot')}")
    return Reshaped(
        where=where,
        latency=np.where(where, np.nan_to_num(latency), 0.0),
        cost=np.where(np.isnan(cost), 0.0, cost).sum(axis=1),
        imputed=imputed,
        calls=n_run,
        cost_changed=substituted or (op.dedupe and not orig.dedupe),
        note="fan-out: " + "; ".join(parts),
    )
