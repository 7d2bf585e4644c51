"""Synthetic layered recipes of any size, for benchmarks and property tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from recipemut.errors import RecipemutError


def synthetic_recipe(n_ops: int = 40, seed: int = 0) -> dict[str, Any]:
    """A valid layered recipe document with ``n_ops`` operations, for benchmarks and tests.

    Operations sit in layers of about five; each consumes one or two fields of earlier layers
    (or the inputs) and produces one; a few carry ``after`` edges the data does not need, one in
    the middle is a guard (``may_halt``), about a third are deterministic, the last is an external
    side effect; six services share the work.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> d = synthetic_recipe(12, seed=2)
    >>> r = recipe_from_dict(d)
    >>> len(r.operations), len(r.topo_order), r.outputs[0] in r.producers
    (12, 12, True)
    """
    if n_ops < 1:
        raise RecipemutError(f"n_ops must be >= 1, got {n_ops}")
    rng = np.random.default_rng(seed)
    n_services = 6
    services = [f"svc{i}" for i in range(n_services)]
    fields_doc: dict[str, Any] = {"request_id": {"type": "string"}, "user_id": {"type": "string"}}
    available: list[str] = ["request_id", "user_id"]
    ops: list[dict[str, Any]] = []
    layer_size = 5
    guard_at = n_ops // 2
    prev_layer: list[str] = []
    producer_of: dict[str, str] = {}
    layer: list[str] = []
    for i in range(n_ops):
        if i and i % layer_size == 0:
            prev_layer, layer = layer, []
        oid = f"op{i:03d}"
        k = int(rng.integers(1, 3))
        pool = available[-12:]
        consumes = sorted({str(x) for x in rng.choice(pool, size=min(k, len(pool)), replace=False)})
        out = f"f{i:03d}"
        big = rng.random() < 0.15
        fields_doc[out] = {"type": "object", "format": "json"} if big else {"type": "string"}
        op: dict[str, Any] = {
            "id": oid,
            "service": services[int(rng.integers(n_services))],
            "action": f"Do{i:03d}",
            "consumes": consumes,
            "produces": [out],
            "cost_per_call_usd": round(float(rng.uniform(0.00001, 0.0005)), 6),
        }
        feeders = {producer_of.get(f) for f in consumes}
        after = [q for q in prev_layer if rng.random() < 0.2 and q not in feeders]
        if after:
            op["after"] = after[:2]
        if rng.random() < 0.33:
            op["deterministic"] = True
        if i == guard_at:
            op["may_halt"] = True
        if i == n_ops - 1 and n_ops > 1:
            op["side_effects"] = "external"
        ops.append(op)
        layer.append(oid)
        available.append(out)
        producer_of[out] = oid
    final = f"f{n_ops - 1:03d}"
    return {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": f"synthetic{n_ops}",
        "version": 1,
        "fields": fields_doc,
        "inputs": ["request_id", "user_id"],
        "outputs": [final],
        "operations": ops,
        "services": {s: {"replicas": 4, "concurrency_per_replica": 16, "target_utilization": 0.7} for s in services},
        "constraints": {
            "slo": {"latency_p95_ms": 2000},
            "max_cost_per_request_usd": 0.05,
            "frozen": [ops[-1]["id"]] if n_ops > 1 else [],
        },
    }
