"""The partitioned engines (recipemut/logs/distributed.py, partials.py, profile/whole.py): the Dask path on an
in-process LocalCluster against the local engine's figures, over partitioned JSONL and Parquet."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.distributed import as_url, compute_partials, plan_partitions, read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import parquet_bytes
from recipemut.logs.partials import ALPHA, hist_quantiles, latency_histogram, merge
from recipemut.profile.build import Profile, build_profile
from recipemut.profile.whole import with_log_figures
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
SMALL = 400 << 10  # bytes of JSONL a partition: the shipped log is 9 partitions


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe(RECIPE)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped log as plain JSONL, with bad lines spread through it (rejections in several partitions)."""
    lines = gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)
    for at in (5, 4000, 9000):
        lines.insert(at, b'{"request_id": "x", "op": "load_cart", "start_ms": 1, "latency_ms": -4, "status": "ok"}\n')
    lines.insert(7000, b"not json\n")
    path = tmp_path_factory.mktemp("dask") / "logs.jsonl"
    path.write_bytes(b"".join(lines))
    return path


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, recipe: Recipe) -> Path:
    """The shipped log as a partitioned Parquet folder: 3 files of row groups of 1,000 spans."""
    df, _ = read_logs(LOGS, memory_budget="off")
    table = pa.Table.from_pandas(df.drop(columns=["source_file", "source_line"]), preserve_index=False)
    folder = tmp_path_factory.mktemp("lake")
    third = table.num_rows // 3 + 1
    for i in range(3):
        day = folder / f"day={i}"
        day.mkdir()
        (day / "part-0.parquet").write_bytes(parquet_bytes(table.slice(i * third, third), row_group_rows=1000))
    return folder


def _local(paths: object, recipe: Recipe, **kw: object) -> tuple[Profile, object]:
    df, report = read_logs(paths, recipe=recipe, memory_budget="off", **kw)  # type: ignore[arg-type]
    return build_profile(df, recipe), report


def _dask(paths: list[Path], recipe: Recipe, scheduler: str, **kw: object) -> tuple[Profile, object, object]:
    df, report, figures = read_partitioned(paths, recipe=recipe, engine="dask", scheduler=scheduler,
                                           partition_bytes=SMALL, memory_budget="off", **kw)  # type: ignore[arg-type]  # fmt: skip
    return with_log_figures(build_profile(df, recipe), figures, recipe), report, figures


def _same_figures(a: Profile, b: Profile) -> None:
    assert [s.op for s in a.ops] == [s.op for s in b.ops]
    for x, y in zip(a.ops, b.ops, strict=True):
        assert x.count == y.count, x.op
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            assert getattr(y, q) == pytest.approx(getattr(x, q), rel=0.01), (x.op, q)
            assert getattr(y, q) == pytest.approx(getattr(x, q), rel=2 * ALPHA), (x.op, q)  # the histogram's own bound
        assert y.mean_ms == pytest.approx(x.mean_ms, rel=1e-9)
        assert y.cost_mean_usd == pytest.approx(x.cost_mean_usd, rel=1e-9, nan_ok=True)
        assert (y.error_rate, y.halt_rate, y.run_share) == pytest.approx((x.error_rate, x.halt_rate, x.run_share))
        assert y.cost_share == pytest.approx(x.cost_share, rel=1e-9)
    assert a.rate.equals(b.rate)


def test_dask_jsonl_profile_equals_local(plain: Path, recipe: Recipe, cluster: str) -> None:
    local, lrep = _local(plain, recipe)
    dask, drep, figures = _dask([plain], recipe, cluster)
    assert figures.partitions > 5  # type: ignore[attr-defined]
    _same_figures(local, dask)
    # the report: the same rejected lines, at the same file lines, though they fell in other partitions
    assert drep.rejected == lrep.rejected  # type: ignore[attr-defined]
    assert [(e.line, e.reason) for e in drep.examples] == [(e.line, e.reason) for e in lrep.examples]  # type: ignore[attr-defined]
    assert (drep.lines_read, drep.spans_kept, drep.requests) == (lrep.lines_read, lrep.spans_kept, lrep.requests)  # type: ignore[attr-defined]
    assert np.array_equal(local.request_ids, dask.request_ids)
    every = f"those of every span ({lrep.spans_kept:,})"  # type: ignore[attr-defined]
    assert any(n.startswith("read by the dask engine in ") and every in n for n in drep.notes), drep.notes  # type: ignore[attr-defined]


def test_dask_parquet_folder_profile_equals_local(lake: Path, recipe: Recipe, cluster: str) -> None:
    local, _ = _local(LOGS, recipe)
    dask, drep, figures = _dask([lake], recipe, cluster)
    assert figures.partitions > 3  # type: ignore[attr-defined]  # 3 files of several row groups
    _same_figures(local, dask)
    assert drep.formats == {str(p): "parquet" for p in sorted(lake.rglob("*.parquet"))}  # type: ignore[attr-defined]
    # the memory budget counts the Parquet files' rows: a budget of a tenth of them samples about a tenth
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in lake.rglob("*.parquet"))
    _, small, _ = read_partitioned([lake], recipe=recipe, engine="local", memory_budget=str(rows * 760 // 10))
    assert small.sample is not None and small.sample.automatic and 0.05 < small.sample.fraction < 0.15


def test_dask_sample_is_the_local_sample(plain: Path, lake: Path, recipe: Recipe, cluster: str) -> None:
    ldf, lrep = read_logs(plain, recipe=recipe, sample_requests=0.2)
    for paths in ([plain], [lake]):
        df, rep, figures = read_partitioned(paths, recipe=recipe, engine="dask", scheduler=cluster,
                                            partition_bytes=SMALL, sample_requests=0.2)  # fmt: skip
        assert sorted(set(df["request_id"])) == sorted(set(ldf["request_id"]))
        assert rep.sample is not None and lrep.sample is not None
        s, ls = rep.sample, lrep.sample
        assert (s.requests_total, s.requests_kept) == (ls.requests_total, ls.requests_kept)
        assert np.array_equal(np.sort(rep.sample.start_ms), np.sort(lrep.sample.start_ms))
        assert figures.requests_total == lrep.sample.requests_total
    # the spans of the sample are the local engine's, row for row (same lines, same sample rates)
    df, _, _ = read_partitioned([plain], recipe=recipe, engine="dask", scheduler=cluster, partition_bytes=SMALL,
                                sample_requests=0.2)  # fmt: skip
    assert df.equals(ldf)


def test_gzip_and_zstd_logs_are_one_partition_each(recipe: Recipe, tmp_path: Path, cluster: str) -> None:
    import pyarrow as pa

    zst = tmp_path / "logs.jsonl.zst"
    with pa.CompressedOutputStream(str(zst), "zstd") as out:
        out.write(gzip.decompress(LOGS.read_bytes()))
    assert [p.kind for p in plan_partitions([LOGS, zst])] == ["packed", "packed"]
    local, _ = _local(zst, recipe)
    dask, _, _ = _dask([zst], recipe, cluster)
    _same_figures(local, dask)
    xz = tmp_path / "logs.jsonl.xz"
    xz.write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 32)
    with pytest.raises(LogError, match=r"xz-compressed; decompress it first \(xz -dc\)"):
        plan_partitions([xz])


def test_partials_merge_in_any_grouping(plain: Path, recipe: Recipe) -> None:
    parts = plan_partitions([plain], SMALL)
    whole = compute_partials(parts, recipe.topo_order, recipe.name, 1.0)
    halves = merge([compute_partials(parts[: len(parts) // 2], recipe.topo_order, recipe.name, 1.0),
                    compute_partials(parts[len(parts) // 2 :], recipe.topo_order, recipe.name, 1.0)])  # fmt: skip
    assert np.array_equal(whole.hist, halves.hist) and np.array_equal(whole.count, halves.count)
    assert whole.requests.sort_by("h").equals(halves.requests.sort_by("h"))


def test_histogram_quantiles_within_alpha_of_numpy() -> None:
    rng = np.random.default_rng(7)
    for values in (rng.lognormal(3, 1.5, 50_001), rng.exponential(0.01, 1000), np.array([0.0, 0.0, 5.0])):
        hist = latency_histogram(np.zeros(values.size, np.int64), values, 1)[0]
        got = hist_quantiles(hist, (1, 50, 95, 99.9))
        want = np.percentile(values, (1, 50, 95, 99.9))
        assert np.allclose(got, want, rtol=2 * ALPHA, atol=1e-3)
    assert np.isnan(hist_quantiles(np.zeros(10, np.int64), (50,))[0])


def test_cli_profile_engine_dask(plain: Path, cluster: str) -> None:
    runner = CliRunner()
    args = ["profile", str(RECIPE), "--logs", str(plain), "--format", "json", "--memory-budget", "off"]
    local = runner.invoke(app, args)
    dask = runner.invoke(app, [*args, "--engine", "dask", "--scheduler", cluster])
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    a, b = json.loads(local.stdout), json.loads(dask.stdout)
    ops_a, ops_b = a["ops"], b["ops"]
    assert [o["count"] for o in ops_a] == [o["count"] for o in ops_b]
    for x, y in zip(ops_a, ops_b, strict=True):
        assert y["p95_ms"] == pytest.approx(x["p95_ms"], rel=0.01)


def test_cli_unreachable_scheduler_is_one_line(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recipemut.logs.distributed.CONNECT_TIMEOUT_S", 2.0)
    t = time.monotonic()
    r = CliRunner().invoke(app, ["forecast", str(RECIPE), "--logs", str(plain), "--engine", "dask",
                                 "--scheduler", "tcp://127.0.0.1:9"], env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 1
    assert time.monotonic() - t < 10
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 2s" in lines[0], r.output
    assert "Traceback" not in r.output


def test_cli_object_storage_without_its_filesystem_is_one_line() -> None:
    r = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", "s3://bucket/lake/part-0.parquet",
                                 "--engine", "dask"], env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "s3://bucket/lake/part-0.parquet" in lines[0] and "s3fs" in lines[0], r.output


def test_cli_scheduler_needs_engine_dask(plain: Path) -> None:
    r = CliRunner().invoke(app, ["suggest", str(RECIPE), "--logs", str(plain), "--scheduler", "tcp://x:1"])
    assert r.exit_code == 2 and "--engine dask" in r.output


def test_engine_dask_refuses_other_formats_and_stdin(recipe: Recipe) -> None:
    with pytest.raises(LogError, match="native JSONL and Parquet"):
        read_partitioned([LOGS], recipe=recipe, engine="local", log_format="otlp")
    with pytest.raises(LogError, match="standard input"):
        read_partitioned(["-"], recipe=recipe, engine="local")


def test_url_survives_path() -> None:
    assert as_url(Path("s3://bucket/a/b.parquet")) == "s3://bucket/a/b.parquet"
    assert as_url(Path("/data/a.jsonl")) is None
