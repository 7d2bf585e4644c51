"""Helpers for the simulate/abtest/search/suggest tests: small recipes and profiles with known numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recipemut.profile.build import ST_ABSENT, ST_ERROR, ST_HALTED, ST_OK, OpStats, Profile
from recipemut.recipe.model import Recipe, recipe_from_dict

_STATUS = {"ok": ST_OK, "error": ST_ERROR, "halted": ST_HALTED}


def recipe(
    ops: list[dict[str, Any]], *, inputs: tuple[str, ...] = ("x",), outputs: tuple[str, ...] = (), **extra: Any
) -> Recipe:
    """A recipe from operation dicts; every consumed/produced field is declared as a string."""
    names = set(inputs)
    for o in ops:
        names |= set(o.get("consumes", ())) | set(o.get("produces", ()))
        o.setdefault("service", "svc")
        o.setdefault("action", o["id"].title())
    doc = {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": "t",
        "version": 1,
        "fields": {n: {"type": "string"} for n in sorted(names)},
        "inputs": list(inputs),
        "outputs": list(outputs),
        "operations": ops,
        **extra,
    }
    return recipe_from_dict(doc)


def profile_from_matrices(
    r: Recipe,
    latency: dict[str, np.ndarray],
    *,
    start_offset: dict[str, np.ndarray] | None = None,
    status: dict[str, np.ndarray] | None = None,
    cost: dict[str, np.ndarray] | None = None,
    cache_key: dict[str, np.ndarray] | None = None,
    request_start_ms: np.ndarray | None = None,
) -> Profile:
    """A Profile with the given per-op columns (NaN latency = absent). Start offsets default to the
    recipe's semantics (start when all predecessors finished)."""
    order = r.topo_order
    n = len(next(iter(latency.values())))
    k = len(order)
    lat = np.full((n, k), np.nan)
    for op, v in latency.items():
        lat[:, order.index(op)] = v
    st = np.where(np.isnan(lat), ST_ABSENT, ST_OK).astype(np.int8)
    for op, v in (status or {}).items():
        st[:, order.index(op)] = np.array([_STATUS.get(s, ST_ABSENT) if isinstance(s, str) else s for s in v])
    so = np.full((n, k), np.nan)
    if start_offset is not None:
        for op, v in start_offset.items():
            so[:, order.index(op)] = v
    else:
        fin = np.full((n, k), np.nan)
        for j, op in enumerate(order):
            preds = [order.index(p) for p in r.dag.predecessors(op)]
            s = np.fmax.reduce(fin[:, preds], axis=1) if preds else np.zeros(n)
            s = np.where(np.isnan(s), 0.0, s)
            so[:, j] = np.where(np.isnan(lat[:, j]), np.nan, s)
            fin[:, j] = so[:, j] + lat[:, j]
    c = np.full((n, k), np.nan)
    for op, v in (cost or {}).items():
        c[:, order.index(op)] = v
    ck = np.full((n, k), -1, dtype=np.int64)
    for op, v in (cache_key or {}).items():
        ck[:, order.index(op)] = v
    end = so + lat
    e2e = np.fmax.reduce(end, axis=1) - np.fmin.reduce(so, axis=1)
    rs = request_start_ms if request_start_ms is not None else np.arange(n, dtype=float) * 1000.0
    ops = tuple(
        OpStats(
            op,
            "svc",
            int((~np.isnan(lat[:, j])).sum()),
            *(4 * [float(np.nanmean(lat[:, j]))]),
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        )
        for j, op in enumerate(order)
    )
    return Profile(
        recipe=r.name,
        op_ids=order,
        request_ids=np.array([f"r-{i}" for i in range(n)], dtype=object),
        request_start_ms=rs,
        variant=np.array(["control"] * n, dtype=object),
        sample_rate=np.ones(n),
        latency_ms=lat,
        start_offset_ms=so,
        cost_usd=c,
        cpu_ms=np.full((n, k), np.nan),
        bytes_in=np.full((n, k), np.nan),
        bytes_out=np.full((n, k), np.nan),
        status=st,
        cache_key=ck,
        e2e_latency_ms=e2e,
        e2e_cost_usd=np.nansum(c, axis=1),
        critical=np.zeros((n, k), dtype=bool),
        ops=ops,
        rate=pd.Series(dtype=float),
        rate_bin_s=60.0,
    )


def profile_of_spans(r: Recipe, spans: pd.DataFrame) -> Profile:
    """The project's profile of a span table."""
    from recipemut.profile.build import build_profile

    return build_profile(spans, r)
