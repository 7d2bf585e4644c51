"""What ``generate -o x.parquet`` costs: the table built from the generated frame (now) against the
JSONL written to a scratch folder beside the output and converted back (before).

    .venv/bin/python benchmarks/bench_generate_parquet.py [--requests 100000] [--repeat 3] [--recipe PATH]

Each run is a fresh subprocess, so that its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) and CPU
time (user + system, all threads: steadier than wall time on a shared machine) are its own. Both
generate the same spans (``generate_spans``, the recipe's ``loggen.yaml``, 14 days, seed 0), then:

- ``direct``: ``recipemut.usecases.generate.write_parquet`` (what ``generate -o x.parquet`` runs);
- ``jsonl+convert``: what it ran before: ``write_jsonl`` into a temporary folder beside the output,
  then ``partition.write_file`` of it, the JSONL named ``OUT (generated)`` so that ``source_file`` is
  the same (the scratch's size is printed).

The two kinds alternate ``--repeat`` times and the medians are printed, with whether the two files
are the same bytes. Generating alone (``generate`` row) is the floor. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
from recipemut.loggen import generate_spans, load_params, write_jsonl
from recipemut.recipe.loader import load_recipe

kind, recipe_path, n, out = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
params = recipe_path.parent / "loggen.yaml"
df = generate_spans(load_recipe(recipe_path), n, seed=0, params=load_params(params) if params.is_file() else None,
                    duration_s=14 * 86400.0)
scratch = 0
t0 = time.perf_counter()
if kind == "direct":
    from recipemut.usecases.generate import write_parquet
    write_parquet(df, out)
elif kind == "jsonl+convert":
    from recipemut.usecases.inputs import LogSource
    from recipemut.usecases.partition import write_file
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", suffix=".generate", dir=out.parent) as tmp:
        lines = Path(tmp) / f"{out.name} (generated)"
        write_jsonl(df, lines)
        scratch = lines.stat().st_size
        named = out.with_name(f"{out.name} (generated)")  # source_file as the direct path names it
        lines.rename(named)
        try:
            write_file(LogSource(paths=(named,), memory_budget="off"), out)
        finally:
            named.unlink()
write_s = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": len(df), "write_s": write_s, "cpu_s": ru.ru_utime + ru.ru_stime,
                  "peak_mb": ru.ru_maxrss / 1024, "scratch": scratch}))
"""


def run(kind: str, recipe: Path, n: int, out: Path) -> dict[str, float]:
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", CHILD, kind, str(recipe), str(n), str(out)], cwd=ROOT,
                         capture_output=True, text=True, check=True)  # fmt: skip
    got: dict[str, float] = json.loads(res.stdout.strip().splitlines()[-1])
    got["wall_s"] = time.perf_counter() - t0
    got["size"] = out.stat().st_size if out.exists() else 0
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "checkout" / "recipe.yaml")
    args = ap.parse_args()
    folder = HERE / "data" / "generate_parquet"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "g.parquet"
    runs: dict[str, list[dict[str, float]]] = {"generate": [], "direct": [], "jsonl+convert": []}
    same = []
    for _ in range(args.repeat):
        for kind in runs:
            runs[kind].append(run(kind, args.recipe, args.requests, out))
            if kind == "direct":
                direct = out.read_bytes()
            elif kind == "jsonl+convert":
                same.append(out.read_bytes() == direct)
    out.unlink(missing_ok=True)
    load = os.getloadavg()[0]
    rows = runs["direct"][0]["rows"]
    name = args.recipe.parent.name
    print(f"{name}: {args.requests:,} requests, {rows:,.0f} spans; {os.cpu_count()} cpus, load {load:.2f}")
    print(f"{'path':<15}{'wall s':>8}{'cpu s':>8}{'write s':>9}{'peak MB':>9}{'file MB':>9}{'scratch MB':>12}")
    for kind, got in runs.items():
        med = {k: statistics.median(r[k] for r in got) for k in got[0]}
        print(f"{kind:<15}{med['wall_s']:>8.2f}{med['cpu_s']:>8.2f}{med['write_s']:>9.2f}{med['peak_mb']:>9.0f}"
              f"{med['size'] / 1e6:>9.1f}{med['scratch'] / 1e6:>12.1f}")  # fmt: skip
    print(f"same bytes: {all(same)} ({len(same)} pairs)")


if __name__ == "__main__":
    main()
