"""The local engine (read_logs) and the partitioned ones (read_partitioned: dask, local) make their
span table and report tail through one function, recipemut.logs.partreport.span_tail: on a log with
rejected lines, duplicates, spans without a variant or a sample rate, excluded spans and a sample,
their reports agree wherever they mean the same thing, and a rule changed there reaches both."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recipemut.logs import partreport
from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.logs.report import MAX_EXAMPLES, IngestReport
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
PART = 64 << 10  # bytes a partition: each file is several, so duplicates and rejects fall in different ones


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe(RECIPE)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two files cut from the shipped log: a third of the requests without a variant, a third
    'treatment'; a quarter without a sample rate, some without a recipe version; a span of every 97th
    line logged twice (later-ending copy), bad latencies and malformed lines in both files (more of
    one reason than the report keeps examples of), spans of an unknown operation and of another recipe."""
    lines = gzip.decompress(LOGS.read_bytes()).decode().splitlines()[:8000]
    out: list[str] = []
    for i, line in enumerate(lines):
        span = json.loads(line)
        h = sum(map(ord, span["request_id"]))
        if h % 3 == 0:
            del span["variant"]
        elif h % 3 == 1:
            span["variant"] = "treatment"
        if h % 4 == 0:
            del span["sample_rate"]
        if h % 5 == 0:
            del span["recipe_version"]
        out.append(json.dumps(span))
        if i % 97 == 0:
            out.append(json.dumps({**span, "latency_ms": span["latency_ms"] + 1}))
        if i % 900 == 5:
            out.append(json.dumps({**span, "latency_ms": -3}))
        if i % 2000 == 11:
            out.append("not json")
        if i % 1000 == 17:
            out.append(json.dumps({**span, "op": "mystery_op"}))
            out.append(json.dumps({**span, "recipe": "refunds"}))
    folder = tmp_path_factory.mktemp("tail")
    half = len(out) // 2
    paths = [folder / "a.jsonl", folder / "b.jsonl"]
    paths[0].write_text("\n".join(out[:half]) + "\n")
    paths[1].write_text("\n".join(out[half:]) + "\n")
    return paths


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as c:
        yield c.scheduler_address


def _shared(report: IngestReport) -> dict[str, Any]:
    """The report's JSON but what the engines say differently by design: the notes (the partitioned
    engine's own note of what its figures are) and the whole log's counts."""
    d = report.to_dict()
    del d["notes"]
    d.pop("whole_log", None)
    return d


def _duplicates_notes(report: IngestReport) -> list[str]:
    return [n for n in report.notes if "duplicate" in n]


@pytest.mark.parametrize("sample", [None, 0.3])
def test_the_engines_reports_and_frames_do_not_drift(
    logs: list[Path], recipe: Recipe, cluster: str, sample: float | None
) -> None:
    ldf, local = read_logs(logs, recipe=recipe, memory_budget="off", sample_rate=0.5, sample_requests=sample)
    # what the log is meant to exercise is there
    assert local.rejected == {"bad-latency": 9, "malformed-json": 4}
    assert local.duplicates > 0 and len(_duplicates_notes(local)) == 1
    assert local.variants["control"] > 0 and local.variants["treatment"] > 0
    assert 0.5 * (sample or 1) in local.sample_rates  # spans without a sample rate: the filled one
    assert local.unknown_ops == {"mystery_op": 8} and local.other_recipes == {"refunds": 8}
    bad_latency = [e.file for e in local.examples if e.reason == "bad-latency"]
    assert bad_latency == [str(logs[0])] * 5 and len(bad_latency) == MAX_EXAMPLES  # a's 5 of its 5 and b's 4
    assert (local.sample is None) == (sample is None)
    for engine, scheduler in (("dask", cluster), ("local", None)):
        df, report, _ = read_partitioned(logs, recipe=recipe, engine=engine, scheduler=scheduler, partition_bytes=PART,
                                         memory_budget="off", sample_rate=0.5, sample_requests=sample)  # fmt: skip
        assert _shared(report) == _shared(local), engine
        assert df.equals(ldf) and list(df.dtypes) == list(ldf.dtypes), engine
        assert _duplicates_notes(report) == _duplicates_notes(local), engine
        if sample is None:
            assert report.summary() == local.summary(), engine


def test_a_rule_of_the_tail_changed_once_reaches_both_engines(
    logs: list[Path], recipe: Recipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partreport, "DEFAULT_VARIANT", "baseline")
    monkeypatch.setattr(partreport, "duplicates_note", lambda n, by_span_id: f"{n} twins")
    ldf, local = read_logs(logs, recipe=recipe, memory_budget="off")
    df, part, _ = read_partitioned(logs, recipe=recipe, engine="local", partition_bytes=PART, memory_budget="off")
    for frame, report in ((ldf, local), (df, part)):
        assert set(report.variants) == {"baseline", "control", "treatment"}  # the log's own control is kept
        assert set(frame["variant"]) == {"baseline", "control", "treatment"}
        assert f"{report.duplicates} twins" in report.notes
