"""Shared fixtures for the forecast tests: a two-service recipe and traffic with a known shape."""

from __future__ import annotations

from typing import Any

import numpy as np

from recipemut import loggen
from recipemut.recipe.model import Recipe, recipe_from_dict

DAY_MS = 86_400_000.0


def two_service_doc(*, replicas: int = 4, per_replica: int = 8, target: float = 0.7) -> dict[str, Any]:
    """``load`` on ``cart`` (capacity declared), then ``price`` on ``pricing`` (none declared)."""
    return {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": "shop",
        "version": 3,
        "fields": {"order_id": {"type": "string"}, "cart": {"type": "object"}, "quote": {"type": "object"}},
        "inputs": ["order_id"],
        "outputs": ["quote"],
        "operations": [
            {"id": "load", "service": "cart", "action": "GetCart", "consumes": ["order_id"], "produces": ["cart"]},
            {"id": "price", "service": "pricing", "action": "Price", "consumes": ["cart"], "produces": ["quote"]},
        ],
        "services": {
            "cart": {"replicas": replicas, "concurrency_per_replica": per_replica, "target_utilization": target}
        },
    }


def two_service_recipe(**kw: Any) -> Recipe:
    return recipe_from_dict(two_service_doc(**kw))


def true_crossing_days(
    *,
    now_ms: float,
    n_requests: int,
    duration_s: float,
    growth_per_day: float,
    diurnal_amplitude: float,
    weight: float,
    busy_ms: float,
    capacity: int,
    target: float,
    horizon_days: float,
) -> float | None:
    """Days after ``now_ms`` when the generator's known rate function makes utilisation reach the target."""
    t = now_ms + np.arange(0.0, horizon_days * 86400.0, 60.0) * 1000.0
    lam = weight * loggen.rate_function(
        t,
        n_requests=n_requests,
        duration_s=duration_s,
        growth_per_day=growth_per_day,
        diurnal_amplitude=diurnal_amplitude,
    )
    hit = lam * busy_ms / 1000.0 / capacity >= target
    return float(np.argmax(hit)) / 1440.0 if hit.any() else None
