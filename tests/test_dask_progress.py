"""The partitioned engines count the partitions as they are read (recipemut/logs/distributed.py
compute_partials, through LogSource.read_by_engine to the CLI's bar): every partition once, ending at
the total, here one after another and on an in-process LocalCluster, with the figures unchanged."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import test_dask
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.progress import Progress
from recipemut.logs.distributed import (
    PARTITIONS,
    LogFigures,
    compute_partials,
    plan_partitions,
    read_partitioned,
    tasks,
)
from recipemut.recipe.model import Recipe

# test_dask's module-scoped fixtures (it skips the module when dask is absent): an in-process LocalCluster
# and the shipped checkout log as plain JSONL with bad lines (43 partitions of SMALL bytes)
cluster, recipe, plain = test_dask.cluster, test_dask.recipe, test_dask.plain
RECIPE, SMALL = test_dask.RECIPE, test_dask.SMALL


class Recorder(Progress):
    """Every stage started, and every advance made in the current stage."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float | None, str]] = []
        self.advances: list[list[float]] = []

    def task(self, name: str, total: float | None = None, *, unit: str = "") -> None:
        self.stages.append((name, total, unit))
        self.advances.append([])

    def advance(self, n: float = 1) -> None:
        self.advances[-1].append(n)


def _same_figures(a: LogFigures, b: LogFigures) -> None:
    for name in ("count", "p50", "p95", "p99", "error_rate", "halt_rate"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.requests_total == b.requests_total
    # the requests come in the order their partitions completed: the same (start, rate) pairs
    for x, y in ((a.start_ms, b.start_ms), (a.rates, b.rates)):
        np.testing.assert_array_equal(x[np.lexsort((a.rates, a.start_ms))], y[np.lexsort((b.rates, b.start_ms))])


def test_local_engine_counts_each_partition_once_and_ends_at_the_total(plain: Path, recipe: Recipe) -> None:
    rec = Recorder()
    kw = {"recipe": recipe, "engine": "local", "partition_bytes": SMALL, "memory_budget": "off"}
    df, report, figures = read_partitioned([plain], progress=rec, **kw)  # type: ignore[arg-type]
    n = len(plan_partitions([plain], SMALL))
    assert n == figures.partitions > 3
    assert rec.stages == [("reading logs (local)", n, PARTITIONS)]
    assert rec.advances == [[1] * n]  # one tick a partition, in order, ending at the total
    quiet_df, quiet_report, quiet_figures = read_partitioned([plain], **kw)  # type: ignore[arg-type]
    _same_figures(figures, quiet_figures)
    assert df.equals(quiet_df) and report.rejected == quiet_report.rejected


@pytest.mark.parametrize("task_bytes", [SMALL, 4 * SMALL])  # one partition a task; up to four a task
def test_dask_counts_each_task_as_it_completes_and_ends_at_the_total(
    plain: Path, recipe: Recipe, cluster: str, task_bytes: int
) -> None:
    parts = plan_partitions([plain], SMALL)
    groups = tasks(parts, task_bytes)
    rec = Recorder()
    got = compute_partials(parts, recipe.topo_order, recipe.name, 1.0, engine="dask", scheduler=cluster,
                           task_bytes=task_bytes, progress=rec)  # fmt: skip
    assert rec.stages == [(f"connecting to {cluster}", None, ""), ("reading logs (dask)", len(parts), PARTITIONS)]
    assert rec.advances[0] == []  # no count while connecting
    # one advance a task, by its partitions: every partition counted once, whatever the order they complete in
    assert Counter(rec.advances[1]) == Counter(len(g) for g in groups)
    assert sum(rec.advances[1]) == len(parts)
    if task_bytes > SMALL:
        assert len(groups) < len(parts)  # the grouped case is one
    here = compute_partials(parts, recipe.topo_order, recipe.name, 1.0)
    np.testing.assert_array_equal(got.count, here.count)
    np.testing.assert_array_equal(got.hist, here.hist)
    assert sorted(i for i, _ in got.rejects) == [p.index for p in parts]  # each partition read once


def test_dask_read_partitioned_figures_unchanged_by_progress(plain: Path, recipe: Recipe, cluster: str) -> None:
    rec = Recorder()
    kw = {"recipe": recipe, "engine": "dask", "scheduler": cluster, "partition_bytes": SMALL, "memory_budget": "off"}
    df, _, figures = read_partitioned([plain], progress=rec, **kw)  # type: ignore[arg-type]
    assert rec.stages[-1] == ("reading logs (dask)", figures.partitions, PARTITIONS)
    assert sum(rec.advances[-1]) == figures.partitions
    quiet_df, _, quiet_figures = read_partitioned([plain], **kw)  # type: ignore[arg-type]
    _same_figures(figures, quiet_figures)
    assert df.equals(quiet_df)


def test_the_cli_bar_counts_partitions(plain: Path, cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`profile --engine dask` on a terminal: the bar says how many partitions are read of how many."""
    import recipemut.logs.distributed as distributed

    monkeypatch.setattr(distributed, "PARTITION_BYTES", SMALL)
    args = ["profile", str(RECIPE), "--logs", str(plain), "--engine", "dask", "--scheduler", cluster]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "200", "TTY_COMPATIBLE": "1"})
    assert r.exit_code == 0, r.output
    n = len(plan_partitions([plain], SMALL))
    assert "reading logs (dask)" in r.stderr
    counts = [int(m) for m in re.findall(rf"(\d+)/{n} partitions", r.stderr)]
    assert counts and max(counts) <= n, r.stderr[-800:]
    assert "partitions" not in r.stdout
