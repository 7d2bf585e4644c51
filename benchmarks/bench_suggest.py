"""Suggest benchmark: cost of one candidate evaluation, suggest end to end, peak memory, naive replay ratio.

Uses the ~2 million span log of ``bench_ingest.py`` (50,000 requests over the 40-operation synthetic
recipe, generated once into ``benchmarks/data/``, git-ignored) and measures:

* ``load``        ``read_logs`` + ``build_profile`` (what suggest does before searching);
* ``candidate``   for every first-round candidate of every operator: trace replay
  (:func:`recipemut.predict.simulate.replay`) and judging (:func:`recipemut.judge.abtest.evaluate`), timed
  separately; median and 90th percentile per candidate (target: < 50 ms for 50k requests);
* ``naive``       the same baseline replay done per request with networkx
  (``dag_longest_path_length`` on the DAG of the operations that ran, weighted by their latency)
  on a sample of requests, extrapolated to all, against the vectorised replay: the speed ratio;
* ``suggest``     ``python -m recipemut suggest RECIPE --logs LOG --format json`` in a subprocess,
  wall time and its peak RSS (targets: < 60 s, < 4 GB).

Usage::

    .venv/bin/python benchmarks/bench_suggest.py [--requests 50000] [--ops 40] [--naive-sample 2000]
        [--objective balanced|latency|p95|cost] [--skip-e2e]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parent


def _paths(n_requests: int, n_ops: int) -> tuple[Path, Path]:
    return DATA / f"spans_{n_ops}ops_{n_requests}req.jsonl", DATA / f"synthetic_{n_ops}ops.yaml"


def prepare(n_requests: int, n_ops: int) -> tuple[Path, Path]:
    """The log (shared with bench_ingest.py: same recipe, same seed) and the recipe as a YAML file."""
    import yaml

    from recipemut.loggen import generate_spans, synthetic_recipe, write_jsonl
    from recipemut.recipe.model import recipe_from_dict

    log_path, recipe_path = _paths(n_requests, n_ops)
    DATA.mkdir(exist_ok=True)
    doc = synthetic_recipe(n_ops=n_ops, seed=0)
    if not recipe_path.exists():
        recipe_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    if not log_path.exists():
        print(f"generating {log_path.name} ...", flush=True)
        write_jsonl(generate_spans(recipe_from_dict(doc), n_requests, seed=1), log_path)
    return log_path, recipe_path


def naive_replay(recipe: Any, prof: Any, sample: np.ndarray) -> np.ndarray:
    """Per-request longest path with networkx: the obvious implementation the vectorised one replaces."""
    import networkx as nx

    from recipemut.profile.build import ST_ABSENT

    dag = recipe.dag
    out = np.zeros(sample.size)
    for i, row in enumerate(sample):
        ran = [op for j, op in enumerate(prof.op_ids) if prof.status[row, j] != ST_ABSENT]
        g = nx.DiGraph()
        g.add_node("start")
        for op in ran:
            lat = float(prof.latency_ms[row, prof.col(op)])
            g.add_edge("start", op, w=lat)
            for p in dag.predecessors(op):
                if p in ran:
                    g.add_edge(p, op, w=lat)
        out[i] = nx.dag_longest_path_length(g, weight="w")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--ops", type=int, default=40)
    ap.add_argument("--naive-sample", type=int, default=2000)
    ap.add_argument("--objective", default="balanced", help="objective judged per candidate and by suggest")
    ap.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end suggest subprocess")
    args = ap.parse_args()
    log_path, recipe_path = prepare(args.requests, args.ops)
    size_mb = log_path.stat().st_size / 1e6

    from recipemut.judge.abtest import JudgeSettings, evaluate, treatment_mask
    from recipemut.logs.ingest import read_logs
    from recipemut.mutate.operators import OperatorContext, generate_all
    from recipemut.predict.simulate import replay, replay_base
    from recipemut.profile.build import build_profile
    from recipemut.recipe.constraints import check_structure
    from recipemut.recipe.loader import load_recipe

    recipe = load_recipe(recipe_path)
    t = time.perf_counter()
    spans, _ = read_logs(log_path, recipe=recipe)
    prof = build_profile(spans, recipe)
    load_s = time.perf_counter() - t
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times stretch with it)")
    print(
        f"log: {log_path.name}, {size_mb:.0f} MB, {len(spans):,} spans, {prof.n_requests:,} requests; "
        f"read_logs + build_profile {load_s:.1f} s"
    )
    del spans

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    rb = replay_base(prof, recipe)
    base = replay(recipe, prof, rng=rng, base=rb)
    first_replay_s = time.perf_counter() - t  # includes the one-off per-profile preparation
    t = time.perf_counter()
    base = replay(recipe, prof, rng=rng, base=rb)
    base_s = time.perf_counter() - t
    ctx = OperatorContext.build(recipe, profile=prof)
    t = time.perf_counter()
    cands = generate_all(ctx)
    gen_s = time.perf_counter() - t
    treat = treatment_mask(np.asarray(prof.request_ids)[base.rows], 0.1)  # hashed once, as search does
    rep_ms, judge_ms, cpu_ms = [], [], []
    for m in cands:
        if check_structure(recipe, m.recipe):
            continue
        c0, t0 = time.process_time(), time.perf_counter()
        rep = replay(m.recipe, prof, rng=rng, original=recipe, base=rb)
        t1 = time.perf_counter()
        evaluate(base, rep, prof.request_ids, JudgeSettings(objective=args.objective), rng=rng, treatment=treat)
        t2, c2 = time.perf_counter(), time.process_time()
        rep_ms.append(1000 * (t1 - t0))
        judge_ms.append(1000 * (t2 - t1))
        cpu_ms.append(1000 * (c2 - c0))
    total = [a + b for a, b in zip(rep_ms, judge_ms, strict=True)]

    def q(xs: list[float], p: float) -> float:
        return float(np.quantile(xs, p)) if xs else float("nan")

    print(
        f"baseline replay: first {1000 * first_replay_s:.0f} ms (with per-profile preparation), "
        f"then {1000 * base_s:.1f} ms; generating {len(cands)} candidates took {gen_s:.2f} s"
    )
    print(
        f"per candidate ({len(total)} valid): replay median {statistics.median(rep_ms):.1f} ms "
        f"(p90 {q(rep_ms, 0.9):.1f}), judge median {statistics.median(judge_ms):.1f} ms (p90 {q(judge_ms, 0.9):.1f}), "
        f"total median {statistics.median(total):.1f} ms (p90 {q(total, 0.9):.1f}, max {max(total):.1f}); "
        f"CPU time median {statistics.median(cpu_ms):.1f} ms (p90 {q(cpu_ms, 0.9):.1f}); target < 50 ms"
    )

    sample = np.random.default_rng(1).choice(
        prof.n_requests, size=min(args.naive_sample, prof.n_requests), replace=False
    )
    t = time.perf_counter()
    naive = naive_replay(recipe, prof, sample)
    naive_s = (time.perf_counter() - t) * prof.n_requests / sample.size
    gap_free = np.isclose(naive, base.latency_ms[sample], atol=1e-3).mean()
    print(
        f"naive networkx replay: {naive_s:.1f} s for all {prof.n_requests:,} requests (extrapolated from "
        f"{sample.size}); vectorised {1000 * base_s:.1f} ms: {naive_s / base_s:,.0f}x faster; "
        f"the two agree on {100 * gap_free:.1f}% of sampled requests"
    )

    if args.skip_e2e:
        return
    cmd = [
        sys.executable,
        "-m",
        "recipemut",
        "suggest",
        str(recipe_path),
        "--logs",
        str(log_path),
        "--format",
        "json",
        "--objective",
        args.objective,
    ]
    t = time.perf_counter()
    env = {**os.environ, "RECIPEMUT_STORE": "off"}  # measure suggest, not the store; write nothing in the checkout
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    if proc.returncode not in (0, 2):
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"suggest failed with exit code {proc.returncode}")
    rep = json.loads(proc.stdout)["report"]
    s = rep["search"]
    print(
        f"suggest end to end: {wall:.1f} s wall (search {s['elapsed_s']:.1f} s, {s['evaluated']} candidates, "
        f"{s['rounds']} rounds, budget exhausted: {s['budget_exhausted']}); peak RSS {peak_mb:,.0f} MB "
        f"({peak_mb / size_mb:.1f}x the log); plan of {len(json.loads(proc.stdout)['plan'])} steps; "
        f"targets < 60 s, < 4096 MB"
    )


if __name__ == "__main__":
    main()
