"""Small handcrafted recipe and span lines for the ingest, profile and `profile` command tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import yaml

from recipemut.recipe.model import Recipe, recipe_from_dict

#: load -> (left, right) -> join; topological order load, left, right, join
DIAMOND: dict[str, Any] = {
    "apiVersion": "recipemut/v1",
    "kind": "Recipe",
    "name": "demo",
    "version": 3,
    "fields": {n: {"type": "string"} for n in ("x", "a", "b", "c", "d")},
    "inputs": ["x"],
    "outputs": ["d"],
    "operations": [
        {
            "id": "load",
            "service": "s1",
            "action": "Load",
            "consumes": ["x"],
            "produces": ["a"],
            "cost_per_call_usd": 0.001,
        },
        {"id": "left", "service": "s2", "action": "Left", "consumes": ["a"], "produces": ["b"]},
        {"id": "right", "service": "s3", "action": "Right", "consumes": ["a"], "produces": ["c"]},
        {"id": "join", "service": "s1", "action": "Join", "consumes": ["b", "c"], "produces": ["d"]},
    ],
}


def diamond() -> Recipe:
    return recipe_from_dict(DIAMOND)


def span(rid: str, op: str, start: float, lat: float, status: str = "ok", **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"request_id": rid, "recipe": "demo", "op": op, "start_ms": start, "latency_ms": lat}
    d["status"] = status
    d.update(extra)
    return d


def line(d: dict[str, Any]) -> str:
    return json.dumps(d, separators=(",", ":"))


#: Four requests of the diamond with known timings (epoch ms), see test_profile.py for what they mean.
REQUESTS: list[dict[str, Any]] = [
    # r1: right is slower than left -> critical path load, right, join; e2e 65
    span("r1", "load", 1000, 10, cost_usd=0.002, cpu_ms=4, bytes_in=100, bytes_out=1000, cache_key="k1"),
    span("r1", "left", 1010, 30, cost_usd=0.01),
    span("r1", "right", 1010, 50, cost_usd=0.2),
    span("r1", "join", 1060, 5, cost_usd=0.0),
    # r2: left is slower -> load, left, join; e2e 70
    span("r2", "load", 2000, 20, cpu_ms=6, bytes_in=300, bytes_out=3000, cache_key="k1"),
    span("r2", "left", 2020, 40, cost_usd=0.01),
    span("r2", "right", 2020, 10, cost_usd=0.2),
    span("r2", "join", 2060, 10, cost_usd=0.0),
    # r3: the load halts the request; e2e 5
    span("r3", "load", 3000, 5, status="halted", cache_key="k2"),
    # r4: left errors, join does not run; right ends last -> load, right; e2e 30
    span("r4", "load", 4000, 10),
    span("r4", "left", 4010, 10, status="error", cost_usd=0.01),
    span("r4", "right", 4010, 20, cost_usd=0.2),
    # r5: same shape as r1, sampled at 0.5; e2e 65
    span("r5", "load", 5000, 10, sample_rate=0.5),
    span("r5", "left", 5010, 30, cost_usd=0.01, sample_rate=0.5),
    span("r5", "right", 5010, 50, cost_usd=0.2, sample_rate=0.5),
    span("r5", "join", 5060, 5, cost_usd=0.0, sample_rate=0.5),
]


def write_lines(path: Path, lines: list[str], *, gz: bool = False, newline: str = "\n") -> Path:
    data = "".join(s + newline for s in lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_spans(path: Path, spans: list[dict[str, Any]], **kw: Any) -> Path:
    return write_lines(path, [line(s) for s in spans], **kw)


def write_recipe(path: Path, doc: dict[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(doc or DIAMOND, sort_keys=False))
    return path
