"""The recipe of a wide search: a chain of deterministic operations ordered only by ``after``, with its logs.

It is the shape of an attacker's finding (``suggest --time-budget 5`` ran 53.6 s on 250 operations):
every operation proposes a cache, and all but an end a parallelize and an eliminate, so the
candidates grow with the recipe (``3 * n_ops - 2``). ``tests/test_suggest_budget7.py`` and
``benchmarks/bench_suggest_wide.py`` write it.
"""

from __future__ import annotations

import json
from pathlib import Path


def write_wide(folder: Path, n_ops: int = 60, n_requests: int = 20) -> tuple[Path, Path]:
    """Write ``wide.yaml`` (``n_ops`` operations, each consuming the input and producing a field
    nobody reads, ``op{i}`` after ``op{i-1}``) and ``wide.jsonl`` (``n_requests`` requests, one span
    per operation, latency 5 to 11 ms, five cache keys) into ``folder``; their paths."""
    lines = ["apiVersion: recipemut/v1", "kind: Recipe", "name: wide", "version: 1", "fields:"]
    lines += [f"  f{i}: {{type: string}}" for i in range(n_ops + 1)]
    lines += ["inputs: [f0]", f"outputs: [f{n_ops}]", "services:", "  s: {replicas: 2, concurrency_per_replica: 8}"]
    lines.append("operations:")
    for i in range(1, n_ops + 1):
        lines += [f"  - id: op{i}", "    service: s", f"    action: A{i}", "    consumes: [f0]"]
        lines += [f"    produces: [f{i}]", *[f"    after: [op{i - 1}]"] * (i > 1)]
        lines += ["    deterministic: true", "    cost_per_call_usd: 0.001"]
    recipe_path, logs = folder / "wide.yaml", folder / "wide.jsonl"
    recipe_path.write_text("\n".join(lines) + "\n")
    with logs.open("w") as out:
        for r in range(n_requests):
            for i in range(1, n_ops + 1):
                span = {"request_id": f"r{r}", "op": f"op{i}", "start_ms": 1763942652129 + r * 100000 + i * 10,
                        "latency_ms": 5 + (r % 7), "status": "ok", "cache_key": f"k{r % 5}"}  # fmt: skip
                out.write(json.dumps(span) + "\n")
    return recipe_path, logs
