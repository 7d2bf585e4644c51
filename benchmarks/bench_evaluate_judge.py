"""Time of `evaluate`'s judge on a generated canary whose spans log no cost (priced from the recipe).

The judge prices every span (its logged ``cost_usd``, else its arm's recipe), sums the requests'
figures and tests the five metrics; this times :func:`recipemut.apply.canary.judge` alone, best of
``--repeat`` runs, on the checkout recipe's traffic with a fifth of the requests labelled canary.

Usage::

    .venv/bin/python benchmarks/bench_evaluate_judge.py [--requests 200000] [--repeat 3]

To compare with another version of the code, run it with ``PYTHONPATH`` set to that checkout.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from recipemut.apply import canary
from recipemut.loggen import generate_spans
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    recipe = load_recipe(ROOT / "recipes" / "checkout" / "recipe.yaml")
    spans = generate_spans(recipe, args.requests, seed=1, variants={"canary": 0.2}, duration_s=3600)
    spans = spans.drop(columns=["cost_usd"])  # priced from the recipe: the path that looks up operations
    prices = {op.id: float(op.cost_per_call_usd or 0.0) for op in recipe.operations}
    declared = {"control": prices, "canary": prices}
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        canary.judge(spans, variant="canary", declared=declared)
        times.append(time.perf_counter() - t)
    print(f"{canary.__file__}: {len(spans):,} spans, judge best {min(times):.2f} s of {args.repeat}")


if __name__ == "__main__":
    main()
