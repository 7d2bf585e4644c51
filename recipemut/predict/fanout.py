"""Scheduling the calls of a fan-out operation: what one request waits for under a new shape.

The calls of one operation in one request come as a (requests × calls) matrix, NaN-padded, calls in
recorded start order (:meth:`recipemut.profile.build.Profile.call_durations`). The functions here
are vectorised over requests; the only Python loop is over the call index.

* :func:`makespan`: the time the calls take on ``k`` slots, greedy list scheduling (each call,
  in order, goes to the slot that frees first);
* :func:`first_of_key`: which calls a ``dedupe`` keeps (the first call of each key in a request);
* :func:`batch_calls`: how many calls of ``b`` items a request's items need.
"""

from __future__ import annotations

import numpy as np


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
