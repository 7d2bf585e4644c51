"""--logs given recipemut's own other files by mistake: a plan or a recipe is said to be one, in one
line, before a thousand lines are rejected as "not a span log"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.ingest import read_logs

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
runner = CliRunner()
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    p = tmp_path / "plan.json"
    p.write_text(json.dumps({"planVersion": 1, "tool": "recipemut", "plan": [], "mutations": []}, indent=2))
    return p


@pytest.mark.parametrize("command", ["profile", "convert"])
def test_a_plan_is_named_as_one(plan: Path, tmp_path: Path, command: str) -> None:
    args = ["profile", str(RECIPE), "--logs", str(plan)] if command == "profile" else [
        "convert", str(plan), "-o", str(tmp_path / "x.parquet")]  # fmt: skip
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 1
    assert f"{plan}: is a plan (written by suggest --out), not a log: apply takes it with --plan" in res.output


@pytest.mark.parametrize("command", ["profile", "convert"])
def test_a_recipe_is_named_as_one(tmp_path: Path, command: str) -> None:
    r = shutil.copy(RECIPE, tmp_path / "recipe.yaml")
    args = ["profile", str(r), "--logs", str(r)] if command == "profile" else [
        "convert", str(r), "-o", str(tmp_path / "x.parquet")]  # fmt: skip
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 1
    assert "is a recipe (YAML), not a log: give it as the command's first argument" in res.output


def test_a_log_mentioning_operations_is_still_a_log(tmp_path: Path) -> None:
    """The recipe rule needs a first line that is not a JSON object: a JSONL log with a junk line
    'operations:' is read as ever, the line rejected."""
    log = tmp_path / "l.jsonl"
    line = {"request_id": "r1", "op": "a", "start_ms": 1.7e12, "latency_ms": 5.0, "status": "ok"}
    log.write_text(json.dumps(line) + "\noperations:\n")  # a span, then a junk line
    df, rep = read_logs(str(log))
    assert len(df) == 1 and rep.lines_read == 2 and sum(rep.rejected.values()) == 1


@pytest.mark.parametrize("extra", [{"planVersion": 1}, {"http.route": "planVersion"}], ids=["key", "value"])
def test_a_span_carrying_the_word_planversion_is_still_a_log(tmp_path: Path, extra: dict[str, object]) -> None:
    """Unknown keys are ignored (docs/log-format.md): the plan rule needs a plan's indented shape."""
    log = tmp_path / "l.jsonl"
    span = {"request_id": "r1", "op": "a", "start_ms": 1.7e12, "latency_ms": 5.0, "status": "ok"}
    log.write_text(json.dumps(span) + "\n" + json.dumps({**span, "request_id": "r2", **extra}) + "\n")
    df, rep = read_logs(str(log))
    assert len(df) == 2 and sum(rep.rejected.values()) == 0
