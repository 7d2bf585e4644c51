"""`recipemut convert`: logs to one Parquet file; profiling it gives the figures the logs give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from _profile_helpers import line, span, write_lines
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.spans import CALL_SCHEMA, SPAN_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
ENV = {"COLUMNS": "200"}


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=ENV)


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    """A profile's JSON without what names the files read."""
    ingest = dict(data["ingest"])
    for k in ("files", "formats"):
        ingest.pop(k)
    return {**data, "ingest": ingest}


def test_convert_then_profile_gives_the_same_figures(tmp_path: Path) -> None:
    for name in ("checkout", "media"):
        recipe, logs = ROOT / "recipes" / name / "recipe.yaml", ROOT / "recipes" / name / "logs.jsonl.gz"
        out = tmp_path / f"{name}.parquet"
        res = _run("convert", str(logs), "-o", str(out))
        assert res.exit_code == 0, res.output
        assert "wrote" in res.stderr and out.read_bytes()[:4] == b"PAR1"
        a = _run("profile", str(recipe), "--logs", str(logs), "-f", "json")
        b = _run("profile", str(recipe), "--logs", str(out), "-f", "json")
        assert a.exit_code == b.exit_code == 0, b.output
        fa, fb = _figures(json.loads(a.stdout)), _figures(json.loads(b.stdout))
        assert fa == fb
        assert json.loads(b.stdout)["ingest"]["formats"] == {str(out): "parquet"}


def test_convert_keeps_every_column_of_the_span_table(tmp_path: Path) -> None:
    spans = [
        span("r1", "load", 1000, 10, span_id="s1", cost_usd=0.1, cache_key="k"),
        span("r1", "left", 1010, 30, span_id="s2", parent_span_id="s1", attempt=1, items=3),
        span("r1", "left", 1045, 20, span_id="s3", parent_span_id="s1", attempt=2, items=3),
    ]
    logs = write_lines(tmp_path / "calls.jsonl", [line(s) for s in spans])
    out = tmp_path / "calls.parquet"
    res = _run("convert", str(logs), "--out", str(out), "-f", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["rows"] == 3 and data["out"] == str(out)
    names = pq.read_schema(out).names
    assert names == SPAN_SCHEMA.names + CALL_SCHEMA.names == data["columns"]
    t = pq.read_table(out)
    assert t.column("attempt").to_pylist() == [None, 1, 2]
    assert t.column("parent_span_id").to_pylist() == [None, "s1", "s1"]


def test_convert_with_sampling_writes_the_sample(tmp_path: Path) -> None:
    logs = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
    out = tmp_path / "s.parquet"
    res = _run("convert", str(logs), "-o", str(out), "--sample-requests", "0.1", "-f", "json")
    assert res.exit_code == 0, res.output
    sampling = json.loads(res.stdout)["ingest"]["sampling"]
    t = pq.read_table(out, columns=["request_id"])
    assert len(set(t.column("request_id").to_pylist())) == sampling["requests_kept"] < 3964 * 0.15


def test_convert_refuses_to_overwrite_a_log_and_names_bad_input(tmp_path: Path) -> None:
    logs = write_lines(tmp_path / "a.jsonl", [line(span("r1", "load", 1000, 1))])
    before = logs.read_bytes()
    res = _run("convert", str(logs), "-o", str(logs))
    assert res.exit_code == 2 and logs.read_bytes() == before  # not a Parquet name: a usage error
    assert "Traceback" not in res.output
    lake = tmp_path / "a.parquet"
    assert _run("convert", str(logs), "-o", str(lake)).exit_code == 0
    kept = lake.read_bytes()
    res = _run("convert", str(lake), "-o", str(lake), "--force")  # a Parquet log is never its own output
    assert res.exit_code == 1 and lake.read_bytes() == kept and "Traceback" not in res.output
    assert str(lake) in res.stderr, res.stderr
    missing = _run("convert", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x.parquet"))
    assert missing.exit_code == 1 and "nope.jsonl" in missing.stderr
    assert not (tmp_path / "x.parquet").exists()
