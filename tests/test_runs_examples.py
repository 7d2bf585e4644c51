"""The shipped engine examples with their run histories (recipes/<engine>-*/runs.*), end to end.

Each history is the engine's own format, written by ``benchmarks/make_run_history.py`` for the
example (see the file's header or docs/engines.md, "Run histories"): ``profile`` reads the engine
file and its history as they are, and ``suggest`` runs on the example's recipe (``recipemut import
-o``) with that history.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

RECIPES = Path(__file__).parents[1] / "recipes"
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
EXAMPLES = {  # definition, its history, the history's format, runs in it
    "argo-ci": ("workflow.yaml", "runs.yaml", "argo", 30),
    "tekton-skaffold-demo": ("pipeline.yaml", "runs.yaml", "tekton", 30),
    "sfn-checkout": ("definition.asl.json", "runs.jsonl", "stepfunctions", 28),
    "gha-flask-publish": ("workflow.yml", "runs.jsonl", "github-actions", 30),
}
runner = CliRunner()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_profile_of_the_engine_file_with_its_history(name: str) -> None:
    definition, runs, fmt, n = EXAMPLES[name]
    logs = RECIPES / name / runs
    args = ["profile", str(RECIPES / name / definition), "--logs", str(logs), "--format", "json"]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ingest"]["formats"] == {str(logs): fmt}
    assert data["summary"]["requests"] == n == data["ingest"]["format_counts"]["runs"]
    assert data["ingest"]["unknown_ops"] == {}  # every step of the history is an operation of the example
    assert all(o["count"] > 0 for o in data["ops"])  # and every operation ran in some run


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_suggest_on_the_imported_example_with_its_history(tmp_path: Path, name: str) -> None:
    definition, runs, _, n = EXAMPLES[name]
    recipe = tmp_path / "recipe.yaml"
    result = runner.invoke(app, ["import", str(RECIPES / name / definition), "-o", str(recipe)], env=ENV)
    assert result.exit_code == 0, result.output
    args = ["suggest", str(recipe), "--logs", str(RECIPES / name / runs), "--format", "json"]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["report"]["baseline"]["requests"] == n


def test_the_tekton_example_with_its_real_run_from_the_dashboard() -> None:
    """tektoncd/dashboard's demo-pipeline-run-6 is a run of the skaffold demo pipeline shipped here."""
    real = Path(__file__).parent / "realdata" / "engines" / "tekton" / "runs" / "dashboard-demo-pipeline-run-6.json"
    args = ["profile", str(RECIPES / "tekton-skaffold-demo" / "pipeline.yaml"), "--logs", str(real), "--format", "json"]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    ops = {o["op"]: o for o in json.loads(result.stdout)["ops"]}
    # each TaskRun's startTime .. completionTime; the deploys never ran (the builds failed)
    assert {k: o["mean_ms"] for k, o in ops.items() if o["count"]} == {
        "skaffold-unit-tests": 13000.0,
        "build-skaffold-web": 159000.0,
        "build-skaffold-app": 144000.0,
    }
    assert ops["deploy-app"]["count"] == ops["deploy-web"]["count"] == 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_suggest_on_the_engine_file_itself_never_drops_a_step(name: str) -> None:
    """The engine's own file is the recipe: the plan's diff is on the recipe read from it, and a step
    (run for what it does: test, publish, deploy) is never eliminated for having no outputs."""
    definition, runs, _, n = EXAMPLES[name]
    args = ["suggest", str(RECIPES / name / definition), "--logs", str(RECIPES / name / runs), "--format", "json"]
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["report"]["baseline"]["requests"] == n
    assert not [m for m in plan["plan"] if m.startswith("eliminate:")]
    assert "operations: []" not in plan["report"]["diff"]["unified"]
