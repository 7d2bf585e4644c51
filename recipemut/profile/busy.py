"""Busy time per request: how long each service is occupied by one request, on average.

The forecast turns it into capacity (Little's law), the simulator reports it for a replayed
recipe, and the store records it per profiled version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recipemut.recipe.model import Recipe


def busy_ms_per_request(
    latency_ms: np.ndarray,
    op_ids: Sequence[str],
    op_service: Mapping[str, str],
    weights: np.ndarray | None = None,
    call_ms: np.ndarray | None = None,
) -> dict[str, float]:
    """Mean busy time per request for each service, in ms.

    ``latency_ms`` is the (requests x operations) matrix with NaN where an operation did not run;
    an operation that ran on a share of requests contributes that share of its mean latency.

    ``call_ms`` (the same shape; :attr:`~recipemut.profile.build.Profile.call_ms`) is each cell's
    calls' times added up: where it is present it counts instead of the cell's latency, so an
    operation called several times in a request occupies its service for every call, not for the
    calls' window (several calls that overlap) nor for one call. For one call per cell the two
    are the same.

    >>> lat = np.array([[10.0, np.nan], [30.0, 40.0]])
    >>> busy_ms_per_request(lat, ("a", "b"), {"a": "s1", "b": "s1"})
    {'s1': 40.0}
    >>> busy_ms_per_request(np.array([[25.0]]), ("a",), {"a": "s1"}, call_ms=np.array([[45.0]]))
    {'s1': 45.0}
    """
    lat = np.asarray(latency_ms, dtype=np.float64)
    if call_ms is not None:
        summed = np.asarray(call_ms, dtype=np.float64)
        lat = np.where(np.isnan(summed), lat, summed)
    if lat.shape[0] == 0:
        return {}
    w = np.ones(lat.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    per_op = np.nansum(lat * w[:, None], axis=0) / w.sum()
    out: dict[str, float] = {}
    for op, value in zip(op_ids, per_op, strict=True):
        svc = op_service.get(op)
        if svc is not None:
            out[svc] = out.get(svc, 0.0) + float(value)
    return out


def busy_by_service(op_busy_ms: Mapping[str, float], recipe: Recipe) -> dict[str, float]:
    """Sum mean busy ms per request of each operation into its service *in* ``recipe``.

    Pass the mutated recipe: a substituted operation's load then lands on its new service.

    >>> from recipemut.recipe.model import Operation, Recipe
    >>> ops = (Operation("a", "s1", "A"), Operation("b", "s1", "B"), Operation("c", "s2", "C"))
    >>> r = Recipe("r", 1, {}, (), (), ops)
    >>> busy_by_service({"a": 10.0, "b": 5.0, "c": 1.0, "gone": 9.0}, r)
    {'s1': 15.0, 's2': 1.0}
    """
    out: dict[str, float] = {}
    for op_id, ms in op_busy_ms.items():
        op = recipe.ops.get(op_id)
        if op is not None:
            out[op.service] = out.get(op.service, 0.0) + float(ms)
    return out
