"""The Dask engine against the local engine: the profile of a generated 2 M-span log, time and agreement.

Generates (once) the checkout log of ``benchmarks/bench_bigscale.py`` (``recipemut generate``, about
14.4 spans a request) into ``--dir`` (default ``/tmp/recipemut-big``), and writes it once more as a
folder of Parquet files (4 files of row groups of 250,000 spans). Then, in this process:

    local            ``read_logs`` + ``build_profile`` (every request; the reference figures)
    partials         the partitioned path run here, one partition after another (``engine="local"``)
    dask             the same partitions on a ``LocalCluster`` of 2 worker processes (1 thread each),
                     JSONL cut in 64 MiB ranges, every request's spans brought back for replay
    dask 10%         the same, only the spans of a 10% sample brought back (the figures are the whole log's)
    dask parquet     the Parquet folder on the same cluster, 10% sample

For each: wall seconds, and against ``local``: counts equal or not, and the largest relative
difference of any operation's p50 and p95. The cluster's start-up is timed on its own line.

Usage::

    .venv/bin/python benchmarks/bench_dask.py [--spans 2000000] [--dir /tmp/recipemut-big]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bigscale import RECIPE, generate

from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import parquet_bytes
from recipemut.profile.build import Profile, build_profile
from recipemut.profile.whole import with_log_figures
from recipemut.recipe.loader import load_recipe


def lake_of(path: Path, recipe: object) -> Path:
    """The log as a folder of 4 Parquet files (row groups of 250,000 spans), written once."""
    import pyarrow as pa

    folder = path.with_suffix(".lake")
    if folder.exists():
        return folder
    df, _ = read_logs(path, memory_budget="off")
    table = pa.Table.from_pandas(df.drop(columns=["source_file", "source_line"]), preserve_index=False)
    folder.mkdir()
    quarter = table.num_rows // 4 + 1
    for i in range(4):
        part = table.slice(i * quarter, quarter)
        (folder / f"part-{i}.parquet").write_bytes(parquet_bytes(part, row_group_rows=250_000))
    return folder


def compare(ref: Profile, got: Profile) -> tuple[bool, float, float]:
    counts = all(a.count == b.count for a, b in zip(ref.ops, got.ops, strict=True))
    d50 = max(abs(b.p50_ms - a.p50_ms) / a.p50_ms for a, b in zip(ref.ops, got.ops, strict=True))
    d95 = max(abs(b.p95_ms - a.p95_ms) / a.p95_ms for a, b in zip(ref.ops, got.ops, strict=True))
    return counts, d50, d95


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spans", type=int, default=2_000_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/recipemut-big"))
    args = ap.parse_args()
    path = generate(args.spans, args.dir)
    recipe = load_recipe(RECIPE)
    lake = lake_of(path, recipe)
    print(f"log: {path} ({path.stat().st_size / 1e6:.0f} MB); Parquet folder: {lake}")

    t = time.perf_counter()
    df, _ = read_logs(path, recipe=recipe, memory_budget="off")
    ref = build_profile(df, recipe)
    del df
    rows = [("local", time.perf_counter() - t, ref)]

    def partitioned(paths: list[Path], engine: str, scheduler: str | None, fraction: float | None) -> Profile:
        df, _, figures = read_partitioned(paths, recipe=recipe, engine=engine, scheduler=scheduler,
                                          sample_requests=fraction, memory_budget="off")  # fmt: skip
        return with_log_figures(build_profile(df, recipe), figures, recipe)

    t = time.perf_counter()
    prof = partitioned([path], "local", None, None)
    rows.append(("partials (here)", time.perf_counter() - t, prof))

    from distributed import LocalCluster

    t = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        print(f"LocalCluster of 2 worker processes started in {time.perf_counter() - t:.1f} s")
        for label, paths, fraction in (
            ("dask", [path], None),
            ("dask 10%", [path], 0.1),
            ("dask parquet 10%", [lake], 0.1),
        ):
            t = time.perf_counter()
            prof = partitioned(paths, "dask", cluster.scheduler_address, fraction)
            rows.append((label, time.perf_counter() - t, prof))

    print(f"{'engine':<18} {'wall s':>7} {'counts':>7} {'max p50 diff':>13} {'max p95 diff':>13} {'rate':>5}")
    for label, wall, prof in rows:
        counts, d50, d95 = compare(ref, prof)
        same_rate = ref.rate.equals(prof.rate)
        print(f"{label:<18} {wall:>7.1f} {'equal' if counts else 'DIFFER':>7} {100 * d50:>12.3f}% {100 * d95:>12.3f}% "
              f"{'same' if same_rate else 'DIFF':>5}")  # fmt: skip
    assert np.isfinite([s.p95_ms for s in ref.ops]).all()


if __name__ == "__main__":
    main()
