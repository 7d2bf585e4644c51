"""The cost of the recipe-mismatch check (:func:`recipemut.logs.mismatch.find_mismatches`) beside the
read it follows: the shipped checkout logs (57,102 spans) repeated to ``--spans`` spans, as the span
table :func:`~recipemut.logs.ingest.read_logs` returns, checked against the shipped recipe (no
mismatch) and against it at version 6 with price_items on pricing-edge (every span a version
mismatch, price_items' a service one). Best of ``--repeat`` runs, seconds.

Usage::

    .venv/bin/python benchmarks/bench_mismatch.py --spans 3000000
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import pandas as pd
import yaml

from recipemut.logs.ingest import read_logs
from recipemut.logs.mismatch import find_mismatches
from recipemut.recipe.loader import load_recipe_text

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=3_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    text = (ROOT / "recipes/checkout/recipe.yaml").read_text()
    same = load_recipe_text(text)
    doc = yaml.safe_load(text)
    moved = copy.deepcopy(doc)
    moved["version"] = 6
    next(o for o in moved["operations"] if o["id"] == "price_items")["service"] = "pricing-edge"
    changed = load_recipe_text(yaml.safe_dump(moved, sort_keys=False))
    t = time.perf_counter()
    base, _ = read_logs([ROOT / "recipes/checkout/logs.jsonl.gz"], recipe=same)
    read_s = time.perf_counter() - t
    k = max(1, -(-args.spans // len(base)))
    spans = pd.concat([base] * k, ignore_index=True).iloc[: args.spans]
    spans["source_file"] = spans["source_file"].astype("category")
    print(f"read_logs of {len(base):,} spans: {read_s:.3f} s ({len(base) / read_s:,.0f} spans/s)")
    for name, recipe in (("matching recipe", same), ("version 6, service moved", changed)):
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            found = find_mismatches(spans, recipe)
            best = min(best, time.perf_counter() - t)
        print(f"find_mismatches, {len(spans):,} spans, {name}: {best:.3f} s, {len(found)} mismatches")


if __name__ == "__main__":
    main()
