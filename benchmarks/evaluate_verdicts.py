"""How often `evaluate` gives each verdict on canaries whose true effect is known.

Each trial relabels a fifth of one set of generated requests (the primary's own) as the canary, at
random, then changes the canary's requests by a known amount and judges them as `evaluate` does
(:func:`recipemut.apply.canary.judge_requests`, default tolerances, Bonferroni-corrected intervals):

    aa        no change: every verdict but "hold" is false
    gain20    latency x 0.8 (a real 20% gain): "promote" is right
    gain20+err  latency x 0.8, and 1.5 points more errors (three times the +0.5 point allowance):
              "rollback" or "hold" is right, "promote" a wrong one

on the shipped checkout recipe's traffic, generated with the generator's defaults and with the
checkout's own parameters (``recipes/checkout/loggen.yaml``); each line gives the primary's rates
of errors and halts, which decide how noisy those metrics are. These figures are quoted in
``docs/commands/evaluate.md``.

Usage::

    .venv/bin/python benchmarks/evaluate_verdicts.py [--trials 100] [--requests 4000]
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import numpy as np
import pandas as pd

from recipemut.apply.canary import DEFAULT_TOLERANCES, judge_requests, request_metrics
from recipemut.loggen import generate_spans
from recipemut.loggen.params import load_params
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout"


def requests(n: int, params: Path | None) -> pd.DataFrame:
    spans = generate_spans(load_recipe(CHECKOUT / "recipe.yaml"), n, seed=3, duration_s=3600, variants={},
                           params=load_params(params) if params else None)  # fmt: skip
    return request_metrics(spans).assign(variant="control")


def trial(req: pd.DataFrame, seed: int, speedup: float, extra_errors: float) -> pd.DataFrame:
    """A fifth of ``req`` relabelled canary, its latency times ``speedup``, ``extra_errors`` of its
    requests made errors (drawn among those that were not)."""
    rng = np.random.default_rng(seed)
    canary = rng.random(len(req)) < 0.2
    out = req.copy()
    out.loc[canary, "variant"] = "canary"
    out.loc[canary, "latency_ms"] *= speedup
    if extra_errors:
        ok = canary & (out["error"].to_numpy() == 0)
        flip = ok & (rng.random(len(req)) < extra_errors / max(float(ok[canary].mean()), 1e-9))
        out.loc[flip, "error"] = 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--requests", type=int, default=4000)
    args = ap.parse_args()
    cases = {"aa": (1.0, 0.0), "gain20": (0.8, 0.0), "gain20+err": (0.8, 0.015)}
    print(f"{args.trials} trials of {args.requests:,} requests each, a fifth canary\n")
    print(f"{'traffic':<46} {'case':<12} {'promote':>8} {'hold':>6} {'rollback':>9}")
    for name, params in (("generator defaults", None), ("checkout/loggen.yaml", CHECKOUT / "loggen.yaml")):
        req = requests(args.requests, params)
        label = f"{name} ({req['error'].mean():.1%} errors, {req['halted'].mean():.1%} halts)"
        for case, (speedup, extra) in cases.items():
            got = collections.Counter(
                judge_requests(trial(req, s, speedup, extra), variant="canary", tolerances=DEFAULT_TOLERANCES,
                               seed=s).decision
                for s in range(args.trials)
            )  # fmt: skip
            print(f"{label:<46} {case:<12} {got['promote']:>8} {got['hold']:>6} {got['rollback']:>9}")


if __name__ == "__main__":
    main()
