"""A small checkout-like recipe with one obvious win per operator, and a generated profile for it."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from recipemut.loggen import generate_spans, params_from_dict
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.model import Recipe, recipe_from_dict
from recipes import SHOP_SCENARIO, shop_doc

SCENARIO = SHOP_SCENARIO  # shared: tests/recipes.py

LOGGEN: dict[str, Any] = {
    "operations": {
        "load_cart": {"latency_median_ms": 30},
        "score_fraud": {"latency_median_ms": 40},
        # bytes drive price's latency strongly: a datapipe win on `cart`
        "price": {"latency_median_ms": 10, "latency_sigma": 0.1, "throughput_bytes_per_ms": 2000, "tail_share": 0.0},
        # a heavy tail: a hedge win
        "check_stock": {
            "latency_median_ms": 15,
            "tail_share": 0.06,
            "tail_scale": 12,
            "tail_alpha": 1.5,
            "halt_prob": 0.2,
        },
    },
    "fields": {
        "order_id": {"universe": 300, "zipf": 1.2},
        "cart": {"bytes_mean": 60000, "bytes_sigma": 0.6},
    },
}


def scenario_doc() -> dict[str, Any]:
    return shop_doc()


def scenario() -> Recipe:
    return recipe_from_dict(scenario_doc())


@lru_cache(maxsize=1)
def scenario_profile() -> Profile:
    r = scenario()
    spans = generate_spans(r, 3000, seed=7, params=params_from_dict(LOGGEN), duration_s=2 * 86400)
    return build_profile(spans, r)


def mini(
    ops: list[dict[str, Any]],
    *,
    inputs: tuple[str, ...] = ("id",),
    outputs: tuple[str, ...] = (),
    types: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A small recipe document: fields are declared from what the operations use (type string
    unless ``types`` says otherwise); ``extra`` adds top-level sections (constraints, alternatives...)."""
    names = list(inputs)
    for o in [*ops, *extra.get("alternatives", [])]:
        for f in [*o.get("consumes", []), *o.get("produces", [])]:
            if f not in names:
                names.append(f)
    types = types or {}
    full_ops = [
        {"service": "s", "action": o["id"].title().replace("_", ""), "consumes": [], "produces": [], **o} for o in ops
    ]
    return {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": "mini",
        "version": 1,
        "fields": {f: {"type": types.get(f, "string")} for f in names},
        "inputs": list(inputs),
        "outputs": list(outputs),
        "operations": full_ops,
        **extra,
    }


def ids(ms: list[Any]) -> list[str]:
    return [m.id for m in ms]


def edits(m: Any) -> list[dict[str, Any]]:
    return [e.to_dict() for e in m.edits]


def make_profile(recipe: Recipe, n: int, **cols: Any) -> Profile:
    """A Profile built directly: every op ran ok in every request unless ``status`` says otherwise.

    ``cols`` maps a matrix name (latency_ms, bytes_in, bytes_out, cache_key, status, start_offset_ms)
    to a dict op -> (n,) array; the rest is filled with plain values.
    """
    import numpy as np
    import pandas as pd

    from recipemut.profile.build import ST_HALTED, ST_OK, OpStats

    ops = recipe.topo_order
    k = len(ops)

    def matrix(name: str, fill: float, dtype: Any = float) -> np.ndarray:
        m = np.full((n, k), fill, dtype=dtype)
        for op, v in cols.get(name, {}).items():
            m[:, ops.index(op)] = v
        return m

    lat = matrix("latency_ms", 10.0)
    status = matrix("status", ST_OK, np.int8)
    bin_, bout = matrix("bytes_in", 100.0), matrix("bytes_out", 100.0)
    start = np.asarray(cols.get("request_start_ms", np.arange(n) * 1000.0), dtype=float)
    stats = []
    for j, op in enumerate(ops):
        x = lat[status[:, j] == ST_OK, j]
        q = np.quantile(x, [0.5, 0.95, 0.99]) if x.size else np.full(3, np.nan)
        stats.append(
            OpStats(
                op,
                recipe.ops[op].service,
                int(x.size),
                *map(float, q),
                float(x.mean()) if x.size else float("nan"),
                0.0,
                0.0,
                float(bin_[:, j].mean()),
                float(bout[:, j].mean()),
                0.0,
                float((status[:, j] == ST_HALTED).mean()),
                0.0,
            )
        )
    return Profile(
        recipe=recipe.name,
        op_ids=ops,
        request_ids=np.array([f"r{i}" for i in range(n)]),
        request_start_ms=start,
        variant=np.array(["control"] * n),
        sample_rate=np.ones(n),
        latency_ms=lat,
        start_offset_ms=matrix("start_offset_ms", 0.0),
        cost_usd=np.zeros((n, k)),
        cpu_ms=np.zeros((n, k)),
        bytes_in=bin_,
        bytes_out=bout,
        status=status,
        cache_key=matrix("cache_key", -1, np.int64),
        e2e_latency_ms=lat.sum(axis=1),
        e2e_cost_usd=np.zeros(n),
        critical=np.zeros((n, k), dtype=bool),
        ops=tuple(stats),
        rate=pd.Series(dtype=float),
        rate_bin_s=60.0,
    )
