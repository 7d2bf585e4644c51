"""`recipemut apply` and `rollback` on a workflow engine's file: the diff, the advice, the bytes restored."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256, write_plan
from recipemut.recipe.edits import Edit

runner = CliRunner()

TEKTON = """\
# A pipeline: fetch, then lint and test (which need not wait for lint).
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: ci
spec:
  tasks:
    - name: fetch
      taskRef: {name: git-clone}
    - name: lint
      runAfter: [fetch]
      taskRef: {name: linter}
    - name: test
      runAfter:
        - fetch
        - lint   # habit, not need
      taskRef: {name: pytest}
"""

PARALLELIZE = PlannedMutation(
    "parallelize:lint->test", "parallelize", ("lint", "test"), "Run test beside lint.",
    (Edit("remove", ("operations", "test", "after", "lint")), Edit("prune", ("operations", "test", "after"))),
)
HEDGE = PlannedMutation(
    "hedge:fetch", "hedge", ("fetch",), "Hedge fetch.",
    (Edit("set", ("operations", "fetch", "hedge"), {"after_ms": 500}),),
)


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(TEKTON)
    plan = tmp_path / "plan.json"
    muts = (HEDGE, PARALLELIZE)
    write_plan(Plan(PlanRecipe(str(pipeline), recipe_sha256(pipeline), "ci"), muts, tuple(m.id for m in muts)), plan)
    return pipeline, plan


def test_apply_prints_the_diff_and_the_advice_then_rollback_restores_the_bytes(tmp_path: Path) -> None:
    pipeline, plan = _setup(tmp_path)
    res = runner.invoke(app, ["apply", str(pipeline), "--plan", str(plan)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "-        - lint   # habit, not need" in res.output
    assert "advice: hedge:fetch: it sets fetch's hedge, which a Tekton Pipeline file cannot say; left out of the " \
           "write" in res.output
    assert "wrote apply parallelize:lint->test: version none -> 1" in res.output  # an engine file holds none
    assert "# habit" not in pipeline.read_text() and "# A pipeline" in pipeline.read_text()
    back = runner.invoke(app, ["rollback", str(pipeline)], env={"COLUMNS": "200"})
    assert back.exit_code == 0, back.output
    assert pipeline.read_bytes() == TEKTON.encode()


def test_apply_json_lists_the_advice(tmp_path: Path) -> None:
    pipeline, plan = _setup(tmp_path)
    res = runner.invoke(app, ["apply", str(pipeline), "--plan", str(plan), "--dry-run", "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["written"] is False and out["mutations"] == ["parallelize:lint->test"]
    assert [a.split(":")[0] for a in out["advice"]] == ["hedge"]
    assert pipeline.read_text() == TEKTON


def test_a_stale_plan_on_an_engine_file_is_one_line(tmp_path: Path) -> None:
    pipeline, plan = _setup(tmp_path)
    pipeline.write_text(TEKTON.replace("pytest", "pytest-xdist"))
    res = runner.invoke(app, ["apply", str(pipeline), "--plan", str(plan)], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "stale plan" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
