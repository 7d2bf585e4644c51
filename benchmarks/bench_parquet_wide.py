"""Peak RSS of ``recipemut profile`` on Parquet logs of wide rows under a memory budget (the attacker's
third-pass finding: 8,000 rows of 40 KB request ids, 320 MB, took 1.5 GB under ``--memory-budget 100M``).

Writes (once, under ``--work``, default ``benchmarks/data/parquet_wide/``, git-ignored) the attacker's
file twice: with plain pages (``use_dictionary=False``, no compression, as the repro wrote it) and as
pyarrow's default writer does (a dictionary page of 1 MiB, then plain pages, snappy). Then runs
``recipemut profile recipes/checkout/recipe.yaml --logs FILE -q`` with each ``--memory-budget`` (and
``--sample-requests 0.1``) in a fresh process, and prints its peak RSS (``wait4``'s ``ru_maxrss``),
CPU (user + system) and wall time. ``--also FILE`` adds another log (the 2 M-span checkout log
converted to Parquet, say, to check that ordinary logs do not get slower); ``--engine dask`` runs
the dask engine. ``--python`` and ``PYTHONPATH`` choose the code measured (a ``git archive`` of an
older commit for the figures before a change).

Usage: ``.venv/bin/python benchmarks/bench_parquet_wide.py [--rows 8000] [--id-bytes 40000]
[--budgets 500M 100M] [--also /tmp/pq/x.parquet] [--engine local|dask]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"


def write_files(work: Path, rows: int, id_bytes: int) -> list[Path]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    plain, default = work / f"wide_{rows}x{id_bytes}_plain.parquet", work / f"wide_{rows}x{id_bytes}_default.parquet"
    if plain.exists() and default.exists():
        return [plain, default]
    work.mkdir(parents=True, exist_ok=True)
    ids = [os.urandom(id_bytes // 2).hex() for _ in range(rows)]
    t = pa.table({"request_id": ids, "op": ["load_cart"] * rows,
                  "start_ms": np.arange(rows, dtype="float64") * 1000 + 1763942652129,
                  "latency_ms": np.full(rows, 5.0), "status": ["ok"] * rows})  # fmt: skip
    pq.write_table(t, plain, compression="none", use_dictionary=False)
    pq.write_table(t, default)
    return [plain, default]


def run(python: str, log: Path, extra: list[str]) -> tuple[float, float, float]:
    """Peak RSS (MB), CPU s and wall s of one ``profile`` in a fresh process."""
    cmd = [python, "-m", "recipemut", "profile", str(RECIPE), "--logs", str(log), "-q", *extra]
    t0 = time.perf_counter()
    # run outside the repository: ``-m`` puts the working folder first on sys.path, ahead of PYTHONPATH
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=log.resolve().parent)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {os.waitstatus_to_exitcode(status)}")
    return ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=8000)
    ap.add_argument("--id-bytes", type=int, default=40_000)
    ap.add_argument("--budgets", nargs="+", default=["500M", "100M"])
    ap.add_argument("--also", nargs="*", default=[], type=Path)
    ap.add_argument("--engine", default="local", choices=["local", "dask"])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "data" / "parquet_wide")
    ap.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.write_only:
        write_files(args.work, args.rows, args.id_bytes)
        return
    # written by a child: a process started from one that held the 320 MB of ids reports that peak
    # (Linux keeps a process's peak RSS across exec)
    sizes = ["--rows", str(args.rows), "--id-bytes", str(args.id_bytes), "--work", str(args.work)]
    subprocess.run([sys.executable, __file__, "--write-only", *sizes], check=True)
    engine = ["--engine", "dask"] if args.engine == "dask" else []
    logs = [*write_files(args.work, args.rows, args.id_bytes), *args.also]
    print(f"{'log':44} {'options':40} {'peak RSS MB':>12} {'CPU s':>7} {'wall s':>7}")
    for log in logs:
        runs = [["--memory-budget", b] for b in args.budgets] + [["--memory-budget", args.budgets[0],
                                                                  "--sample-requests", "0.1"]]  # fmt: skip
        for extra in runs:
            rss, cpu, wall = run(args.python, log, [*extra, *engine])
            print(f"{log.name:44} {' '.join(extra + engine):40} {rss:12,.0f} {cpu:7.2f} {wall:7.2f}")


if __name__ == "__main__":
    main()
