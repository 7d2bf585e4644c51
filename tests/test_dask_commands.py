"""``--engine dask`` on every command that reads ``--logs`` (evaluate and report beside profile, suggest and
forecast), the same refusals in each, and logs read through an fsspec URL (``file://``: fsspec's local
filesystem, the code path an ``s3://`` URL takes) on the in-process LocalCluster of ``tests/test_dask.py``."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest
import test_dask
from _apply_helpers import with_canary
from typer.testing import CliRunner

from recipemut.apply.transaction import apply_plan
from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.logs.spans import DEFAULT_VARIANT
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.profile.build import Profile, build_profile
from recipemut.profile.whole import with_log_figures
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe
from recipemut.usecases.inputs import LogSource

# test_dask's module-scoped fixtures (it skips the module when dask is absent): one in-process LocalCluster
# per module, the shipped checkout log as plain JSONL with bad lines, and as a partitioned Parquet folder
cluster, recipe, plain, lake = test_dask.cluster, test_dask.recipe, test_dask.plain, test_dask.lake
RECIPE, LOGS, ROOT = test_dask.RECIPE, test_dask.LOGS, test_dask.ROOT
ZIPKIN = ROOT / "recipes" / "zipkin_simple_db" / "trace.json"
PARTITION = 256 << 10  # bytes of JSONL a partition in the CLI runs: several per log, a request's spans across two
runner = CliRunner()

PARALLELIZE = PlannedMutation(
    "parallelize:price_items->score_fraud", "parallelize", ("price_items", "score_fraud"),
    "Run score_fraud beside price_items: it does not read what price_items writes.",
    (Edit("set", ("operations", "score_fraud", "after"), []),),
)


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The shipped checkout recipe running a canary (20% of requests), and a log of both variants in which
    the canary is 1.5 times slower: (recipe, log)."""
    folder = tmp_path_factory.mktemp("canary")
    path = folder / "recipe.yaml"
    shutil.copy(RECIPE, path)
    apply_plan(path, Plan(PlanRecipe(str(path), recipe_sha256(path)), (PARALLELIZE,), (PARALLELIZE.id,)), canary=0.2)
    spans = generate_spans(load_recipe(path), 1500, seed=5, duration_s=3600, treatment={"canary": {"*": 1.5}})
    write_jsonl(spans, folder / "canary.jsonl")
    return path, folder / "canary.jsonl"


def _small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recipemut.logs.distributed.PARTITION_BYTES", PARTITION)


def _evaluate(recipe_path: Path, logs: str, *extra: str) -> tuple[int, dict[str, object]]:
    r = runner.invoke(app, ["evaluate", str(recipe_path), "--logs", logs, "--no-act", "--format", "json",
                            "--memory-budget", "off", *extra])  # fmt: skip
    assert r.exit_code in (0, 3, 4), r.output
    return r.exit_code, json.loads(r.stdout)


# ---- evaluate ------------------------------------------------------------------------------------------


def test_evaluate_engine_dask_gives_the_local_judgement(
    canary: tuple[Path, Path], cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, logs = canary
    _small_partitions(monkeypatch)
    code, local = _evaluate(path, str(logs))
    dcode, dask = _evaluate(path, str(logs), "--engine", "dask", "--scheduler", cluster)
    assert (code, local["decision"]) == (3, "rollback")  # the slowed canary
    assert dcode == code and dask == local  # every figure, interval and p-value: the same spans judged


def test_evaluate_engine_dask_samples_both_variants_alike(
    canary: tuple[Path, Path], recipe: Recipe, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sample by request_id keeps whole requests of both variants, the local engine's, in the log's shares."""
    path, logs = canary
    _small_partitions(monkeypatch)
    whole = read_logs(logs, recipe=load_recipe(path))[1].variants
    src = LogSource.of([logs], sample_requests=0.5, memory_budget="off")
    lspans, lrep, _ = src.read_by_engine(load_recipe(path))
    dask_src = LogSource.of([logs], sample_requests=0.5, memory_budget="off", engine="dask", scheduler=cluster)
    dspans, drep, figures = dask_src.read_by_engine(load_recipe(path))
    assert figures is not None and figures.partitions > 3
    assert set(drep.variants) == {DEFAULT_VARIANT, "canary"} and drep.variants == lrep.variants
    pairs = dspans[["request_id", "variant"]].drop_duplicates()
    assert not pairs["request_id"].duplicated().any()  # each request's spans carry one variant
    assert set(map(tuple, pairs.to_numpy())) == set(map(tuple, lspans[["request_id", "variant"]].to_numpy()))
    share, kept = whole["canary"] / sum(whole.values()), drep.variants["canary"] / sum(drep.variants.values())
    assert abs(kept - share) < 0.07, (kept, share)
    assert drep.sample is not None and drep.sample.requests_total == sum(whole.values())
    # the command: the same requests in each arm, the same decision
    _, local = _evaluate(path, str(logs), "--sample-requests", "0.5")
    _, dask = _evaluate(path, str(logs), "--sample-requests", "0.5", "--engine", "dask", "--scheduler", cluster)
    assert (dask["n_primary"], dask["n_canary"]) == (local["n_primary"], local["n_canary"])
    assert dask["n_canary"] == lrep.variants["canary"]
    assert dask["decision"] == local["decision"] and dask["metrics"] == local["metrics"]


# ---- report --------------------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def test_report_engine_dask_gives_the_local_page(
    plain: Path, cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same plan, verdicts, ranked mutations and forecast; per-operation percentiles within 1% (the
    merged histograms')."""
    _small_partitions(monkeypatch)
    pages = []
    for name, extra in (("local", []), ("dask", ["--engine", "dask", "--scheduler", cluster])):
        out = tmp_path / f"{name}.html"
        r = runner.invoke(app, ["report", str(RECIPE), "--logs", str(plain), "-o", str(out), "--budget", "30",
                                "--memory-budget", "off", *extra], env={"COLUMNS": "200"})  # fmt: skip
        assert r.exit_code == 0, r.output
        assert ("read by the dask engine in" in r.output) == (name == "dask"), r.output
        pages.append(out.read_text(encoding="utf-8"))
    local, dask = pages
    assert _NUMBER.sub("#", local) == _NUMBER.sub("#", dask)  # every word, name and verdict
    a, b = [float(x) for x in _NUMBER.findall(local)], [float(x) for x in _NUMBER.findall(dask)]
    assert len(a) == len(b)
    assert b == pytest.approx(a, rel=0.01, abs=0.1)  # the merged histograms' percentiles: within 1%


# ---- the same options and refusals as profile, suggest and forecast ---------------------------------------


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_scheduler_without_engine_dask_is_a_usage_error(command: str, tmp_path: Path) -> None:
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    r = runner.invoke(app, [command, str(RECIPE), "--logs", str(LOGS), *out, "--scheduler", "tcp://x:1"],
                      env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 2 and "--scheduler" in r.output and "--scheduler needs --engine dask" in r.output, r.output
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("command", ["profile", "evaluate", "report"])
def test_map_with_engine_dask_is_a_usage_error(command: str, tmp_path: Path) -> None:
    """--map reads traces, which the Dask path does not: refused, not silently dropped."""
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    mapping = ROOT / "recipes" / "zipkin_simple_db" / "mapping.yaml"
    r = runner.invoke(app, [command, str(RECIPE), "--logs", str(LOGS), *out, "--map", str(mapping),
                            "--engine", "dask"], env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 2 and "convert TRACES --recipe RECIPE --map FILE" in r.output, r.output


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_traces_on_engine_dask_are_refused_in_one_line(
    command: str, canary: tuple[Path, Path], tmp_path: Path
) -> None:
    """A format the Dask path cannot cut into partitions is told by its content, in one line, before any
    cluster starts (none is given here)."""
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    r = runner.invoke(app, [command, str(canary[0]), "--logs", str(ZIPKIN), *out, "--engine", "dask"],
                      env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and str(ZIPKIN) in lines[0] and "zipkin JSON" in lines[0], r.output
    assert "native JSONL and Parquet" in lines[0] and "recipemut convert" in lines[0]
    assert "Traceback" not in r.output


def test_gzipped_traces_are_told_by_their_content(recipe: Recipe, tmp_path: Path) -> None:
    packed = tmp_path / "trace.json.gz"
    packed.write_bytes(gzip.compress(ZIPKIN.read_bytes()))
    with pytest.raises(LogError, match="zipkin JSON") as e:
        read_partitioned([packed], recipe=recipe, engine="local")
    assert e.value.code == "engine-format"


# ---- object-storage URLs, read for real: fsspec's local filesystem --------------------------------------


def _profile(paths: list[object], recipe: Recipe, scheduler: str) -> Profile:
    df, _, figures = read_partitioned(paths, recipe=recipe, engine="dask", scheduler=scheduler,  # type: ignore[arg-type]
                                      memory_budget="off", partition_bytes=PARTITION)  # fmt: skip
    return with_log_figures(build_profile(df, recipe), figures, recipe)


def _same(local: Profile, other: Profile) -> None:
    assert [s.op for s in other.ops] == [s.op for s in local.ops]
    for x, y in zip(local.ops, other.ops, strict=True):
        assert y.count == x.count, x.op
        assert (y.p50_ms, y.p95_ms) == pytest.approx((x.p50_ms, x.p95_ms), rel=0.01), x.op


def test_parquet_lake_by_file_url_profiles_as_the_local_engine(lake: Path, recipe: Recipe, cluster: str) -> None:
    df, _ = read_logs(LOGS, recipe=recipe, memory_budget="off")
    local = build_profile(df, recipe)
    for url in (f"file://{lake}/*/*.parquet", f"file://{lake}"):  # a glob, a folder
        _same(local, _profile([url], recipe, cluster))
    _, report, figures = read_partitioned([f"file://{lake}/*/*.parquet"], recipe=recipe, engine="dask",
                                          scheduler=cluster, memory_budget="off")  # fmt: skip
    assert figures.partitions > 3
    assert sorted(report.files) == [f"file://{p}" for p in sorted(lake.rglob("*.parquet"))]


def test_jsonl_by_file_url_profiles_as_the_local_engine(
    plain: Path, recipe: Recipe, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    df, lrep = read_logs(plain, recipe=recipe, memory_budget="off")
    _same(build_profile(df, recipe), _profile([f"file://{plain}"], recipe, cluster))
    # the command, as a user types it (Path() makes file:///x file:/x on the way in)
    _small_partitions(monkeypatch)
    args = ["profile", str(RECIPE), "--format", "json", "--memory-budget", "off"]
    local = runner.invoke(app, [*args, "--logs", str(plain)])
    dask = runner.invoke(app, [*args, "--logs", f"file://{plain}", "--engine", "dask", "--scheduler", cluster])
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    a, b = json.loads(local.stdout), json.loads(dask.stdout)
    assert b["summary"]["spans"] == a["summary"]["spans"] == lrep.spans_kept
    assert b["summary"]["rejected_lines"] == a["summary"]["rejected_lines"] > 0
    assert [o["count"] for o in b["ops"]] == [o["count"] for o in a["ops"]]
    for x, y in zip(a["ops"], b["ops"], strict=True):
        assert (y["p50_ms"], y["p95_ms"]) == pytest.approx((x["p50_ms"], x["p95_ms"]), rel=0.01)


def test_file_url_to_nothing_is_one_line(cluster: str, tmp_path: Path) -> None:
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", f"file://{tmp_path}/none/*.parquet", "--engine", "dask",
                            "--scheduler", cluster], env={"COLUMNS": "200"})  # fmt: skip
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    url = f"file://{tmp_path}/none/*.parquet"
    assert len(lines) == 1 and url in lines[0] and "matches no file" in lines[0], r.output


def test_memory_budget_counts_logs_read_by_url(plain: Path, recipe: Recipe) -> None:
    """A log read by URL is sampled to fit the memory budget as the same file read by path: a file:// URL as
    the local file, plain JSONL in object storage by its partitions' bytes (fsspec's in-memory filesystem)."""
    import fsspec

    budget = str(plain.stat().st_size * 27 // 100)  # about a tenth of the estimate (2.7 times the content)
    _, by_path, _ = read_partitioned([plain], recipe=recipe, engine="local", memory_budget=budget)
    assert by_path.sample is not None and by_path.sample.automatic and 0.05 < by_path.sample.fraction < 0.15
    fs = fsspec.filesystem("memory")
    fs.pipe("/dask-commands/logs.jsonl", plain.read_bytes())
    try:
        for url in (f"file://{plain}", "memory://dask-commands/logs.jsonl"):
            _, rep, _ = read_partitioned([url], recipe=recipe, engine="local", memory_budget=budget,
                                         partition_bytes=PARTITION)  # fmt: skip
            assert rep.sample is not None, url
            assert (rep.sample.fraction, rep.sample.requests_kept) == (by_path.sample.fraction,
                                                                        by_path.sample.requests_kept), url  # fmt: skip
    finally:
        fs.rm("/dask-commands", recursive=True)


@pytest.mark.parametrize("command", ["profile", "evaluate", "report"])
def test_url_on_the_local_engine_names_the_engine_that_reads_it(command: str, plain: Path, tmp_path: Path) -> None:
    """Not 'file:/x: no such file' (the path Path() makes of the URL): the URL, and the option that reads it."""
    out = ["-o", str(tmp_path / "r.html")] if command == "report" else []
    recipe = with_canary(RECIPE, tmp_path / "canary.yaml") if command == "evaluate" else RECIPE  # else no logs read
    for url in (f"file://{plain}", "s3://bucket/lake/part-0.parquet"):
        r = runner.invoke(app, [command, str(recipe), "--logs", url, *out], env={"COLUMNS": "200"})
        assert r.exit_code == 1, r.output
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: {url}: ") and "--engine dask" in lines[0], r.output


# ---- a canary's spans stay out of the recipe's own profile -----------------------------------------------


def test_the_profile_suggest_and_report_build_leaves_the_canary_out_on_dask_too(
    canary: tuple[Path, Path], cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """suggest and report replay the recipe's own ('control') requests only; on the Dask engine the whole
    log's per-operation figures count the canary's (1.5 times slower) spans too, so they must not replace
    the control requests' figures (they did: the control profile's p95 took the canary's tail)."""
    from recipemut.usecases.inputs import load_inputs

    path, logs = canary
    _small_partitions(monkeypatch)
    local = load_inputs(path, LogSource.of([logs], memory_budget="off"), primary_only=True).profile
    dask = load_inputs(
        path, LogSource.of([logs], memory_budget="off", engine="dask", scheduler=cluster), primary_only=True
    ).profile
    assert local is not None and dask is not None
    for a, b in zip(local.ops, dask.ops, strict=True):
        assert (a.op, a.count) == (b.op, b.count)
        assert (b.p50_ms, b.p95_ms) == pytest.approx((a.p50_ms, a.p95_ms), rel=0.01, nan_ok=True), a.op
    assert dask.rate_bin_s == local.rate_bin_s
