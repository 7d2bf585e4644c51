"""End to end: a definition and a multi-run history of it, through `recipemut suggest` and `profile`.

The histories are written by ``benchmarks/make_run_history.py`` (each engine's own format, step
durations varied from that engine's real history) for a definition: Argo's dag-diamond example
imported by ``recipemut import``, and hand-written recipes whose operation ids are what
``names.op_id`` makes of the step names the histories carry (``Check Stock`` -> ``Check_Stock``).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.engines.names import op_id

ROOT = Path(__file__).parents[1]
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
runner = CliRunner()


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_run_history", ROOT / "benchmarks" / "make_run_history.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def history(definition: Path, engine: str, out: Path, runs: int = 40) -> Path:
    assert generator().main([str(definition), "--engine", engine, "--runs", str(runs), "-o", str(out)]) == 0
    return out


def suggest(recipe: Path, logs: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs), "--format", "json"], env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def profile(recipe: Path, logs: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--format", "json"], env=ENV)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_argo_example_imported_then_suggested_on_its_runs(tmp_path: Path) -> None:
    definition = ROOT / "tests" / "realdata" / "engines" / "argo" / "dag-diamond.yaml"
    recipe = tmp_path / "recipe.yaml"
    result = runner.invoke(app, ["import", str(definition), "--out", str(recipe)], env=ENV)
    assert result.exit_code == 0, result.output
    logs = history(definition, "argo", tmp_path / "runs.json")
    data = profile(recipe, logs)
    assert data["summary"]["requests"] == 40 and data["ingest"]["formats"] == {str(logs): "argo"}
    assert {o["op"] for o in data["ops"]} == {f"foo-bar-longname-{x}" for x in "ABCD"}
    plan = suggest(recipe, logs)
    assert plan["recipe"]["name"] == "dag-diamond"


RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: {name}
fields:
  order: {{type: string}}
  items: {{type: array}}
  stock: {{type: object}}
  paid: {{type: object}}
  note: {{type: object}}
inputs: [order, items]
outputs: [paid, note]
services:
  {service}: {{replicas: 4, concurrency_per_replica: 8}}
operations:
  - {{id: {a}, service: {service}, action: {a_name}, consumes: [items], produces: [stock]{fan}}}
  - {{id: {b}, service: {service}, action: {b_name}, consumes: [order], produces: [paid], after: [{a}],
      retry: {{max_attempts: 3}}}}
  - {{id: {c}, service: {service}, action: {c_name}, consumes: [stock], produces: [note]}}
"""


@pytest.mark.parametrize(
    ("engine", "names", "fan"),
    [
        ("stepfunctions", ("Check Stock", "Charge Card", "Send Note"), ""),
        ("tekton", ("check-stock", "charge-card", "send-note"), ", foreach: items, concurrency: 4"),
        ("github-actions", ("Check stock", "Charge card", "Send note"), ", foreach: items, concurrency: 4"),
        ("argo", ("check-stock", "charge-card", "send-note"), ", foreach: items, concurrency: 4"),
    ],
)
def test_hand_written_recipe_profiled_and_suggested_on_engine_runs(
    tmp_path: Path, engine: str, names: tuple[str, str, str], fan: str
) -> None:
    ids = [op_id(n) for n in names]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(name=f"shop-{engine}", service="svc", a=ids[0], b=ids[1], c=ids[2],
                                    a_name=json.dumps(names[0]), b_name=json.dumps(names[1]),
                                    c_name=json.dumps(names[2]), fan=fan))  # fmt: skip
    logs = history(recipe, engine, tmp_path / "runs.json")
    data = profile(recipe, logs)
    assert data["summary"]["requests"] == 40
    assert data["ingest"]["formats"] == {str(logs): engine}
    assert [o["op"] for o in data["ops"]] == ids and all(o["count"] == 40 for o in data["ops"])
    assert data["ingest"]["unknown_ops"] == {}  # every step name landed on its operation
    plan = suggest(recipe, logs)
    # charge-card waits for check-stock without reading what it produces: the parallelize the recipe
    # invites is judged on the replayed runs (proposed, or rejected with its figures when it gains nothing)
    judged = [*plan["mutations"], *plan["report"]["rejected"]]
    assert f"parallelize:{ids[0]}->{ids[1]}" in [m["id"] for m in judged]
    assert plan["report"]["baseline"]["requests"] == 40  # every run replayed


REALDATA = ROOT / "tests" / "realdata" / "engines"
#: per real history: its operations (as names.py makes them) and, per operation, its duration in
#: the history worked out by hand from the raw timestamps (end - start of the step)
REAL_STEPS = {
    "stepfunctions/runs/sfn-local-hybridpath-history.json": {
        "LambdaState": 17.0,  # TaskStateEntered 14:06:50.143 .. TaskStateExited 14:06:50.160
        "SQSState": 919.0,  # TaskStateEntered 14:06:50.160 .. TaskFailed 14:06:51.079 (no exit: the run failed)
    },
    "tekton/runs/dashboard-demo-pipeline-run-6.json": {
        "skaffold-unit-tests": 13000.0,  # 13:50:58 .. 13:51:11
        "build-skaffold-app": 144000.0,  # 13:51:11 .. 13:53:35
        "build-skaffold-web": 159000.0,  # 13:51:11 .. 13:53:50
    },
    "github-actions/runs/rest-api-job-paginated.json": {"build": 119000.0},  # 17:42:40 .. 17:44:39
    "argo/runs/dag_retry_succeeded.yaml": {"step1": 25000.0},  # attempts 10:22:43 .. 10:23:08
}


@pytest.mark.parametrize("name", sorted(REAL_STEPS))
def test_real_history_profiles_to_its_step_durations(tmp_path: Path, name: str) -> None:
    steps = REAL_STEPS[name]
    ops = "\n".join(f"  - {{id: {op}, service: svc, action: {op}, after: [{prev}]}}"
                    for prev, op in zip(["", *steps][:-1], steps, strict=True))  # fmt: skip
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"apiVersion: recipemut/v1\nkind: Recipe\nname: real\noperations:\n{ops}\n")
    data = profile(recipe, REALDATA / name)
    assert {o["op"]: o["mean_ms"] for o in data["ops"]} == steps
    assert data["summary"]["requests"] == 1
