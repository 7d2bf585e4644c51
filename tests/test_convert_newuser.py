"""What a new user met in ``convert`` (recipemut/usecases/partition.py, recipemut/usecases/convert.py,
recipemut/logs/parquet.py, recipemut/commands/convert.py): errors that name the real cause, in the
words ``profile`` gives; a folder that drops duplicates as one file does; an output inside a folder
of the logs refused; files a folder of logs skips said; the help read as written."""

from __future__ import annotations

import glob
import json
import logging
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _convert_helpers import RECIPE, lines
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe

WIDE = {"COLUMNS": "200"}
runner = CliRunner()


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("newuser") / "small.jsonl"
    write_jsonl(generate_spans(load_recipe(RECIPE), 150, seed=5, duration_s=3 * 86400.0), out)
    return out


def _errors(tmp_path: Path, logs: Path, *extra: str) -> tuple[list[str], list[str]]:
    """The output of ``convert`` and of ``profile`` on the same logs and options (both must fail)."""
    c = runner.invoke(app, ["convert", str(logs), "-o", str(tmp_path / "c.parquet"), *extra], env=WIDE)
    p = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(logs), *extra], env=WIDE)
    assert c.exit_code == 1 and p.exit_code == 1, (c.output, p.output)
    assert not (tmp_path / "c.parquet").exists()
    return lines(c.output), lines(p.output)


@pytest.mark.parametrize(("data", "what"), [(b"", "is empty"), (b"\n\n", "has only blank lines")])
def test_an_empty_log_is_named_as_profile_names_it(tmp_path: Path, data: bytes, what: str) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(data)
    converted, profiled = _errors(tmp_path, empty)
    assert converted == profiled == [f"error: no spans in the logs: {empty} {what}"]


def test_a_memory_budget_that_keeps_nothing_is_the_cause_given_not_a_bad_line(tmp_path: Path, log: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    bad.write_bytes(b"".join(lines[:10]) + b"not json\n" + b"".join(lines[10:]))  # a bad line 11
    converted, profiled = _errors(tmp_path, bad, "--memory-budget", "1K")
    assert converted == profiled
    assert "kept none of the 150 requests" in converted[0] and "give a larger --memory-budget" in converted[0]
    assert "first problem" not in converted[0] and len(converted) == 1
    converted, profiled = _errors(tmp_path, bad, "--sample-requests", "0.000001")
    assert converted == profiled
    assert converted[0].endswith("give a larger --sample-requests (1 reads every request)")


def test_a_folder_drops_duplicates_as_one_file_does(tmp_path: Path, log: Path) -> None:
    three = tmp_path / "three.jsonl"
    three.write_bytes(log.read_bytes() * 3)
    one = runner.invoke(app, ["convert", str(three), "-o", str(tmp_path / "one.parquet"), "-f", "json"], env=WIDE)
    days = runner.invoke(app, ["convert", str(three), "-o", f"{tmp_path}/days/", "-f", "json"], env=WIDE)
    assert one.exit_code == 0 and days.exit_code == 0, (one.output, days.output)
    a, b = json.loads(one.stdout), json.loads(days.stdout)
    spans = sum(1 for _ in log.open())
    assert a["rows"] == b["rows"] == spans
    assert a["ingest"]["duplicates"] == b["ingest"]["duplicates"] == 2 * spans
    assert sum(pq.read_metadata(f).num_rows for f in (tmp_path / "days").iterdir()) == spans
    assert "duplicate" in days.stderr  # said, as for one file


def test_an_output_inside_a_folder_of_the_logs_is_refused(tmp_path: Path, log: Path) -> None:
    days = tmp_path / "days"
    assert runner.invoke(app, ["convert", str(log), "-o", f"{days}/"], env=WIDE).exit_code == 0
    before = sorted(p.name for p in days.rglob("*"))
    for out in (f"{days}/x.parquet", f"{days}/sub/"):  # --logs days reads every Parquet file under it
        r = runner.invoke(app, ["convert", str(days), "-o", out], env=WIDE)
        assert r.exit_code == 1, r.output
        assert lines(r.output) == [
            f"error: --out {out}: is inside {days}, a folder of the logs (--logs {days} would then read every span "
            "twice); write elsewhere"
        ]
    assert sorted(p.name for p in days.rglob("*")) == before


def test_a_file_a_folder_of_parquet_logs_skips_is_said(
    tmp_path: Path, log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    days = tmp_path / "days"
    assert runner.invoke(app, ["convert", str(log), "-o", f"{days}/"], env=WIDE).exit_code == 0
    (days / "late.jsonl").write_bytes(log.read_bytes())
    with caplog.at_level(logging.WARNING):  # the CLI prints core warnings as "warning: ..." on stderr
        r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(days)], env=WIDE)
    assert r.exit_code == 0, r.output
    said = [rec.getMessage() for rec in caplog.records if "late.jsonl" in rec.getMessage()]
    assert said == [
        f"{days}: 1 file that is not Parquet was skipped (late.jsonl): a folder is read for its Parquet "
        "files; name the others on --logs too (or convert them)"
    ]


def test_the_hint_for_a_folder_of_jsonl_reads_the_compressed_ones_too(tmp_path: Path, log: Path) -> None:
    jdir = tmp_path / "jdir"
    jdir.mkdir()
    (jdir / "a.jsonl").write_bytes(log.read_bytes())
    write_jsonl(generate_spans(load_recipe(RECIPE), 20, seed=6), jdir / "b.jsonl.gz")
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(jdir)], env=WIDE)
    assert r.exit_code == 1
    pattern = shlex.split(r.output.split("--logs ", 1)[1].split(" reads them")[0])[0]
    assert sorted(Path(p).name for p in glob.glob(pattern)) == ["a.jsonl", "b.jsonl.gz"]
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", pattern, "-f", "json"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.stdout)["ingest"]["files"]) == 2


def test_the_help_reads_as_written() -> None:
    r = runner.invoke(app, ["convert", "-h"], env=WIDE)
    usage = next(line for line in r.output.splitlines() if "Usage:" in line)
    assert usage.split() == ["Usage:", "recipemut", "convert", "[OPTIONS]", "LOGS..."]
    flat = " ".join(r.output.split())
    sample = flat[flat.rindex("--sample-requests") :][:300]  # its row of the options
    assert "request rate" not in sample and "sample_rate is multiplied by it" in sample
