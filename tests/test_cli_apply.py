"""CLI: apply, rollback, history and evaluate through typer's runner, and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.history import history_path
from recipemut.loader import load_recipe
from recipemut.loggen import generate_spans, write_jsonl

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)
    return r


def test_apply_dry_run_then_apply_then_history_then_rollback(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "+    after: []" in res.output and "dry run, nothing written" in res.output
    assert recipe.read_text() == RECIPE_TEXT

    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["written"] and out["version"] == 5 and out["history_entries"] == [1]

    res = runner.invoke(app, ["history", str(recipe), "--format", "json"])
    assert res.exit_code == 0, res.output
    h = json.loads(res.output)
    assert h["state"] == "recorded" and h["entries"][0]["action"] == "apply" and "text" not in h["entries"][0]

    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 0, res.output
    assert "chain verified (1 entries)" in res.output

    res = runner.invoke(app, ["rollback", str(recipe)])
    assert res.exit_code == 0, res.output
    assert recipe.read_text() == RECIPE_TEXT


def test_stale_plan_is_one_line_exit_1(recipe: Path) -> None:
    recipe.write_text(RECIPE_TEXT + "# touched\n")
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))])
    assert res.exit_code == 1, res.output
    assert "stale plan" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_bad_plan_file_and_corrupt_history_are_one_line_errors(recipe: Path) -> None:
    bad = recipe.with_name("bad.json")
    bad.write_text('{"planVersion": 2}\n')
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(bad)])
    assert res.exit_code == 1 and f"{bad}:1:" in res.output, res.output
    history_path(recipe).write_text("{torn")
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 1 and "truncated" in res.output and "Traceback" not in res.output, res.output


def test_evaluate_exit_codes(recipe: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--canary", "0.2"])
    assert res.exit_code == 0, res.output
    rec = load_recipe(recipe)
    logs = {}
    for name, n, factor in (("worse", 3000, 2.0), ("better", 5000, 1.0), ("few", 150, 1.0)):
        logs[name] = tmp_path / f"{name}.jsonl"
        spans = generate_spans(rec, n, seed=7, variants={"canary": 0.2}, treatment={"canary": {"*": factor}},
                               duration_s=3600)
        write_jsonl(spans, logs[name])
    for name, code in (("worse", 3), ("better", 0), ("few", 4)):
        res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs[name]), "--no-act", "--format", "json"])
        assert res.exit_code == code, res.output
        assert json.loads(res.output)["decision"] == {3: "rollback", 0: "promote", 4: "hold"}[code]
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs["worse"])])
    assert res.exit_code == 3, res.output
    assert "ROLLBACK" in res.output and recipe.read_text() == RECIPE_TEXT
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs["worse"]), "-t", "latency=3"])
    assert res.exit_code == 1, res.output  # no canary any more


def test_real_subprocess_refuses_a_stale_plan_in_one_line(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    assert runner.invoke(app, ["apply", str(recipe), "--plan", plan]).exit_code == 0
    applied = recipe.read_bytes()
    p = subprocess.run([sys.executable, "-m", "recipemut", "apply", str(recipe), "--plan", plan],
                       capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    assert p.stderr.startswith("error: ") and "stale plan" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert p.stdout == "" and recipe.read_bytes() == applied
