"""How long reading engines' run histories takes: thousands of runs of tens of steps, per engine.

    .venv/bin/python benchmarks/bench_runs.py [--workflows 2000] [--steps 30] [--repeat 3]

For each engine, ``make_run_history.py --workflows N --steps K`` writes (once, into
``benchmarks/data/``) N runs of a chain of K steps (every fifth step retried now and then), in the
engine's format; then ``read_logs`` reads it ``--repeat`` times and the median wall time, the spans
and the spans per second are printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import make_run_history  # noqa: E402

from recipemut.logs.ingest import read_logs  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workflows", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    data = HERE / "data"
    data.mkdir(exist_ok=True)
    for engine in ("argo", "tekton", "stepfunctions", "github-actions"):
        path = data / f"runs-{engine}-{a.workflows}x{a.steps}.json"
        if not path.exists():
            make_run_history.main(["--engine", engine, "--workflows", str(a.workflows), "--steps", str(a.steps),
                                   "-o", str(path)])  # fmt: skip
        times = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            df, report = read_logs(path)
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        mb = path.stat().st_size / 1e6
        print(f"{engine:15s} {report.requests:6d} runs {len(df):8d} spans {mb:7.1f} MB  "
              f"median {med:6.2f} s  {len(df) / med:9.0f} spans/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
