"""A small checkout-like recipe with one obvious win per operator, and a generated profile for it."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from recipemut.ingest import to_span_frame  # noqa: F401  (ensures the ingest dtypes exist)
from recipemut.loggen import generate_spans, params_from_dict
from recipemut.model import Recipe, recipe_from_dict
from recipemut.profile import Profile, build_profile

SCENARIO: dict[str, Any] = {
    "apiVersion": "recipemut/v1",
    "kind": "Recipe",
    "name": "shop",
    "version": 3,
    "fields": {
        "order_id": {"type": "string"},
        "user_id": {"type": "string"},
        "cart": {"type": "object", "format": "json"},
        "risk": {"type": "number"},
        "stock_ok": {"type": "boolean"},
        "quote": {"type": "object"},
        "trace": {"type": "object"},
        "receipt": {"type": "object"},
    },
    "inputs": ["order_id", "user_id"],
    "outputs": ["receipt"],
    "operations": [
        {"id": "load_cart", "service": "cart", "action": "GetCart", "consumes": ["order_id"],
         "produces": ["cart"], "equivalence": "cart.read", "deterministic": True, "cost_per_call_usd": 0.0001},
        {"id": "score_fraud", "service": "fraud", "action": "Score", "consumes": ["user_id"],
         "produces": ["risk"], "after": ["load_cart"], "side_effects": "none"},
        {"id": "price", "service": "pricing", "action": "Price", "consumes": ["cart"], "produces": ["quote", "trace"]},
        {"id": "check_stock", "service": "stock", "action": "Check", "consumes": ["order_id"],
         "produces": ["stock_ok"], "may_halt": True, "after": ["price"]},
        {"id": "audit", "service": "audit", "action": "Log", "consumes": ["quote"], "produces": []},
        {"id": "charge", "service": "payments", "action": "Charge", "consumes": ["quote", "risk", "stock_ok"],
         "produces": ["receipt"], "side_effects": "external"},
    ],
    "services": {s: {"replicas": 2, "concurrency_per_replica": 16, "target_utilization": 0.7}
                 for s in ("cart", "cart-edge", "fraud", "pricing", "stock", "audit", "payments")},
    "alternatives": [
        {"id": "load_cart_edge", "service": "cart-edge", "action": "GetCartV2", "consumes": ["order_id"],
         "produces": ["cart"], "equivalence": "cart.read", "deterministic": True,
         "expected": {"latency_ms": {"p50": 5, "p95": 12}, "cost_per_call_usd": 0.00012}},
    ],
    "constraints": {"slo": {"latency_p95_ms": 800}, "frozen": ["charge"]},
}

LOGGEN: dict[str, Any] = {
    "operations": {
        "load_cart": {"latency_median_ms": 30},
        "score_fraud": {"latency_median_ms": 40},
        # bytes drive price's latency strongly: a datapipe win on `cart`
        "price": {"latency_median_ms": 10, "latency_sigma": 0.1, "throughput_bytes_per_ms": 2000,
                  "tail_share": 0.0},
        # a heavy tail: a hedge win
        "check_stock": {"latency_median_ms": 15, "tail_share": 0.06, "tail_scale": 12, "tail_alpha": 1.5,
                        "halt_prob": 0.2},
    },
    "fields": {
        "order_id": {"universe": 300, "zipf": 1.2},
        "cart": {"bytes_mean": 60000, "bytes_sigma": 0.6},
    },
}


def scenario_doc() -> dict[str, Any]:
    return copy.deepcopy(SCENARIO)


def scenario() -> Recipe:
    return recipe_from_dict(scenario_doc())


@lru_cache(maxsize=1)
def scenario_profile() -> Profile:
    r = scenario()
    spans = generate_spans(r, 3000, seed=7, params=params_from_dict(LOGGEN), duration_s=2 * 86400)
    return build_profile(spans, r)
