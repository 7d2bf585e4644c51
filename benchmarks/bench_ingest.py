"""Ingest and profile benchmark: native JSONL read vs a bare ``pyarrow.json.read_json``, and peak memory.

Generates (once) a log of ~2 million spans — 50,000 requests over a 40-operation synthetic recipe —
with :mod:`recipemut.loggen` into ``benchmarks/data/`` (git-ignored), then in one run, each phase
in a fresh subprocess so that its peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its
own:

* ``imports``  python + numpy/pandas/pyarrow/recipemut imported, nothing read (the floor);
* ``bare``     ``pyarrow.json.read_json(path)`` with default options;
* ``ingest``   ``recipemut.logs.ingest.read_logs(path, recipe=...)`` -> span DataFrame + report;
* ``profile``  ``read_logs`` then ``build_profile``.

``bare`` and ``ingest`` alternate ``--repeat`` times; the medians are compared, and so is each
back-to-back pair (the machine is shared, so single runs are noisy). Targets (issue 2): ingest
throughput >= 0.70 x bare; peak memory of ingest+profile < 3 x the file size.

Usage::

    .venv/bin/python benchmarks/bench_ingest.py [--requests 50000] [--ops 40] [--repeat 3] [--regen]
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

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def _recipe(n_ops: int) -> Any:
    from recipemut.loggen import synthetic_recipe
    from recipemut.recipe.model import recipe_from_dict

    return recipe_from_dict(synthetic_recipe(n_ops=n_ops, seed=0))


def generate(path: Path, n_requests: int, n_ops: int) -> int:
    from recipemut.loggen import generate_spans, write_jsonl

    df = generate_spans(_recipe(n_ops), n_requests, seed=1)
    return write_jsonl(df, path)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def phase(name: str, path: Path, n_ops: int) -> dict[str, Any]:
    """Run one phase in this process; return its timings and peak RSS."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.json as pj

    from recipemut.logs.ingest import read_logs
    from recipemut.profile.build import build_profile

    recipe = _recipe(n_ops)
    out: dict[str, Any] = {"phase": name}
    t0, c0 = time.perf_counter(), time.process_time()
    if name == "bare":
        table = pj.read_json(str(path))
        out["rows"] = table.num_rows
    elif name in ("ingest", "profile"):
        spans, report = read_logs(path, recipe=recipe)
        out["rows"] = len(spans)
        out["requests"] = report.requests
        out["rejected"] = report.rejected_total
        if name == "profile":
            t1 = time.perf_counter()
            prof = build_profile(spans, recipe)
            out["profile_s"] = time.perf_counter() - t1
            out["ops"] = len(prof.ops)
    out["seconds"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0  # all threads: steadier than wall time on a busy machine
    out["peak_mb"] = _peak_mb()
    return out


def _run_phase(name: str, path: Path, n_ops: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", name, "--file", str(path), "--ops", str(n_ops)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=50_000)
    ap.add_argument("--ops", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--regen", action="store_true", help="regenerate the data file")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--file", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.phase == "generate":
        n = generate(Path(args.file), args.requests, args.ops)
        print(json.dumps({"phase": "generate", "spans": n}))
        return
    if args.phase:
        print(json.dumps(phase(args.phase, Path(args.file), args.ops)))
        return

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"spans_{args.ops}ops_{args.requests}req.jsonl"
    if args.regen or not path.exists():
        # in a subprocess too: a child inherits its parent's peak RSS at fork, so the parent stays small
        t = time.perf_counter()
        cmd = [sys.executable, __file__, "--phase", "generate", "--file", str(path)]
        cmd += ["--requests", str(args.requests), "--ops", str(args.ops)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        n = json.loads(out.strip().splitlines()[-1])["spans"]
        print(f"generated {n:,} spans into {path} in {time.perf_counter() - t:.1f} s")
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name}, {size_mb:.1f} MB; machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")

    floor = _run_phase("imports", path, args.ops)
    runs: dict[str, list[dict[str, Any]]] = {"bare": [], "ingest": []}
    for _ in range(args.repeat):
        for name in ("bare", "ingest"):
            runs[name].append(_run_phase(name, path, args.ops))
    prof = _run_phase("profile", path, args.ops)

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    bare_s, ingest_s = med("bare", "seconds"), med("ingest", "seconds")
    rows = runs["ingest"][0]["rows"]
    print(f"spans kept: {rows:,}, requests: {runs['ingest'][0]['requests']:,}")
    print(f"{'phase':<22}{'wall s':>8}{'cpu s':>8}{'MB/s':>8}{'Mspans/s':>10}{'peak MB':>9}{'x file':>8}")
    for label, s, cpu, peak in (
        ("imports only", 0.0, 0.0, floor["peak_mb"]),
        ("bare read_json", bare_s, med("bare", "cpu_s"), med("bare", "peak_mb")),
        ("read_logs", ingest_s, med("ingest", "cpu_s"), med("ingest", "peak_mb")),
        ("read_logs+profile", prof["seconds"], prof["cpu_s"], prof["peak_mb"]),
    ):
        rate = f"{size_mb / s:8.1f}{rows / s / 1e6:10.2f}" if s else f"{'':8}{'':10}"
        print(f"{label:<22}{s:8.2f}{cpu:8.2f}{rate}{peak:9.0f}{peak / size_mb:8.2f}")
    print(f"build_profile alone: {prof['profile_s']:.2f} s")
    for name in ("bare", "ingest"):
        print(f"{name} runs: " + ", ".join(f"{r['seconds']:.2f}" for r in runs[name]) + " s")
    ratio = bare_s / ingest_s
    cpu_ratio = med("bare", "cpu_s") / med("ingest", "cpu_s")
    print(f"throughput ratio read_logs / bare read_json: {ratio:.2f} wall, {cpu_ratio:.2f} cpu (target >= 0.70)")
    # each pair ran back to back, under about the same load: the steadier figure on a shared machine
    pairs = [b["seconds"] / i["seconds"] for b, i in zip(runs["bare"], runs["ingest"], strict=True)]
    print(f"                     median of the back-to-back pairs: {statistics.median(pairs):.2f} wall")
    print(f"peak memory ingest+profile: {prof['peak_mb'] / size_mb:.2f} x file size (target < 3)")


if __name__ == "__main__":
    main()
