"""Do two `recipemut suggest -f json` reports predict the same per-mutation deltas, within their intervals?

Issue 18's done-when: the deltas `suggest` predicts on a sampled run (20 M spans under the memory
budget) agree with those of a full run (2 M spans of the same traffic). Compares, for every
mutation judged in both reports (``report.singles[]``, by ``id``), the figures of its
``predicted`` block (``latency_p50_ms``, ``latency_p95_ms``, ``cost_mean_usd`` by default; each
``{"delta", "ci": [lo, hi], "level"}``), and prints both points and intervals and whether they
agree under three criteria:

    (a) both ways   each point lies inside the other's interval
    (b) overlap     the two intervals overlap
    (c) combined    |a - b| <= sqrt(h_a^2 + h_b^2), h the half-width of each interval on the side
                    facing the other point: the usual test that two independent estimates, each
                    with its ~95% interval, do not differ (at about the 95% level; (a) is
                    stricter than (c), which is stricter than (b))

A figure whose interval has zero width on either side (a model that gives no interval: fitted
datapipes, replays with one outcome) cannot agree "within its interval"; it is listed apart with
the relative difference of the points, |a - b| / max(|a|, |b|). Both tables also give the
difference as a share of the baseline figure (B's ``predicted.baseline``: the p50, p95 or mean
cost of a request), which keeps deltas near zero (a datapipe's Δcost of 1e-10 $) in proportion.
Then the counts per criterion.

Usage::

    .venv/bin/python benchmarks/compare_sampled.py A.json B.json [--labels "20 M sampled" "2 M full"]
        [--figures latency_p50_ms latency_p95_ms cost_mean_usd latency_p99_ms latency_mean_ms]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

SHORT = {
    "latency_p50_ms": "dp50 ms",
    "latency_p95_ms": "dp95 ms",
    "latency_p99_ms": "dp99 ms",
    "latency_mean_ms": "dmean ms",
    "cost_mean_usd": "dcost $",
}


def singles(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each judged single mutation's ``predicted`` block, by mutation id."""
    return {s["id"]: s["predicted"] for s in report["report"]["singles"] if s.get("predicted")}


def half_widths(a: float, lo_a: float, hi_a: float, b: float, lo_b: float, hi_b: float) -> tuple[float, float]:
    """Each interval's half-width on the side facing the other point."""
    if b >= a:
        return hi_a - a, b - lo_b
    return a - lo_a, hi_b - b


def judge(a: float, ca: list[float], b: float, cb: list[float]) -> dict[str, bool]:
    (lo_a, hi_a), (lo_b, hi_b) = ca, cb
    h_a, h_b = half_widths(a, lo_a, hi_a, b, lo_b, hi_b)
    return {
        "a": lo_b <= a <= hi_b and lo_a <= b <= hi_a,
        "b": max(lo_a, lo_b) <= min(hi_a, hi_b),
        "c": abs(a - b) <= math.sqrt(max(h_a, 0.0) ** 2 + max(h_b, 0.0) ** 2),
    }


def g(v: float) -> str:
    return f"{v:.4g}"


def of_base(fig: str, x: dict[str, Any], y: dict[str, Any], pred: dict[str, Any]) -> str:
    """|a - b| as a share of the baseline figure (``predicted.baseline``), or '-' without one."""
    base = (pred.get("baseline") or {}).get(fig)
    return f"{abs(x['delta'] - y['delta']) / abs(base):.2%}" if base else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--labels", nargs=2, metavar=("A", "B"))
    ap.add_argument("--figures", nargs="+", default=["latency_p50_ms", "latency_p95_ms", "cost_mean_usd"])
    args = ap.parse_args()
    la, lb = args.labels or (args.a.name, args.b.name)
    sa, sb = singles(json.loads(args.a.read_text())), singles(json.loads(args.b.read_text()))
    both = sorted(set(sa) & set(sb))
    print(f"mutations judged: {la} {len(sa)}, {lb} {len(sb)}, in both {len(both)}")
    for name, only in ((la, sorted(set(sa) - set(sb))), (lb, sorted(set(sb) - set(sa)))):
        if only:
            print(f"  only in {name}: {', '.join(only)}")

    with_ci: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, bool]]] = []
    without: list[tuple[str, str, dict[str, Any], dict[str, Any], float]] = []
    for m in both:
        for fig in args.figures:
            x, y = sa[m].get(fig), sb[m].get(fig)
            if not x or not y or None in (x.get("delta"), y.get("delta")) or None in (*x["ci"], *y["ci"]):
                continue
            if x["ci"][0] == x["ci"][1] or y["ci"][0] == y["ci"][1]:
                scale = max(abs(x["delta"]), abs(y["delta"]))
                without.append((m, fig, x, y, abs(x["delta"] - y["delta"]) / scale if scale else 0.0))
            else:
                with_ci.append((m, fig, x, y, judge(x["delta"], x["ci"], y["delta"], y["ci"])))

    def yn(v: bool) -> str:
        return "yes" if v else "**no**"

    print()
    print(f"Figures with an interval on both sides ({len(with_ci)}):")
    print()
    print(f"| mutation | figure | {la} | {lb} | diff | of baseline | (a) both ways | (b) overlap | (c) combined |")
    print("|---|---|---|---|---:|---:|---|---|---|")
    for m, fig, x, y, ok in with_ci:
        scale = max(abs(x["delta"]), abs(y["delta"]))
        rel = abs(x["delta"] - y["delta"]) / scale if scale else 0.0
        print(
            f"| {m} | {SHORT.get(fig, fig)} | {g(x['delta'])} [{g(x['ci'][0])}, {g(x['ci'][1])}] | "
            f"{g(y['delta'])} [{g(y['ci'][0])}, {g(y['ci'][1])}] | {rel:.1%} | {of_base(fig, x, y, sb[m])} | "
            f"{yn(ok['a'])} | {yn(ok['b'])} | "
            f"{yn(ok['c'])} |"
        )
    print()
    print(f"Figures from models that give no interval on one side or both ({len(without)}):")
    print()
    print(f"| mutation | figure | {la} | {lb} | relative difference | of baseline |")
    print("|---|---|---|---|---:|---:|")
    for m, fig, x, y, rel in without:
        print(
            f"| {m} | {SHORT.get(fig, fig)} | {g(x['delta'])} [{g(x['ci'][0])}, {g(x['ci'][1])}] | "
            f"{g(y['delta'])} [{g(y['ci'][0])}, {g(y['ci'][1])}] | {rel:.1%} | {of_base(fig, x, y, sb[m])} |"
        )
    print()
    n = len(with_ci)
    for key, name in (
        ("a", "(a) each point inside the other's interval"),
        ("b", "(b) the intervals overlap"),
        ("c", "(c) the difference within the combined interval"),
    ):
        print(f"{name}: {sum(r[4][key] for r in with_ci)} of {n}")
    rels = sorted(r[4] for r in without)
    if rels:
        print(
            f"no interval: {len(rels)} figures, relative difference median {rels[len(rels) // 2]:.1%}, "
            f"largest {rels[-1]:.1%}"
        )


if __name__ == "__main__":
    main()
