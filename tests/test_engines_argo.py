"""Argo Workflows files read as recipes: the public examples of argoproj/argo-workflows, and what each maps to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _engines_helpers import load_checked
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.engines import argo
from recipemut.recipe.loader import check_text, load_recipe

runner = CliRunner()
REAL = Path(__file__).parent / "realdata" / "engines" / "argo"

#: each public example -> the import-* warnings it must give (code and line), nothing else but unknown-service
EXPECTED_WARNINGS: dict[str, list[tuple[str, int]]] = {
    "dag-diamond.yaml": [],
    "steps.yaml": [],
    "loops.yaml": [],
    "loops-param-result.yaml": [],
    "conditionals.yaml": [("import-when", 31), ("import-when", 34), ("import-when", 37)],
    "retry-with-steps.yaml": [],
    "memoize-simple.yaml": [],
    "artifact-passing.yaml": [],
    "dag-enhanced-depends.yaml": [
        ("import-or-dependency", 20),
        ("import-or-dependency", 23),
        ("import-or-dependency", 29),
    ],
    "dag-nested.yaml": [("import-nested-template", 19)],
    "dag-coinflip.yaml": [("import-nested-template", 17)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED_WARNINGS))
def test_each_public_example_imports_and_validates_with_its_warnings(name: str) -> None:
    recipe, findings = load_checked(REAL / name)
    assert recipe.imported.key == "argo"
    assert [f for f in findings if f.severity == "error"] == []
    got = [(f.code, f.line) for f in findings if f.code.startswith("import-")]
    assert got == EXPECTED_WARNINGS[name]
    assert {f.code for f in findings} <= {"unknown-service", *(c for c, _ in EXPECTED_WARNINGS[name])}
    res = runner.invoke(app, ["validate", str(REAL / name)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "valid" in res.output and "read as an Argo Workflow" in res.output


def test_dag_diamond_dependencies_become_after_at_their_lines() -> None:
    r, _ = load_checked(REAL / "dag-diamond.yaml")
    assert [op.id for op in r.operations] == [
        "foo-bar-longname-A",
        "foo-bar-longname-B",
        "foo-bar-longname-C",
        "foo-bar-longname-D",
    ]
    d = r.ops["foo-bar-longname-D"]
    assert d.after == ("foo-bar-longname-B", "foo-bar-longname-C") and d.service == "alpine:3.7"
    assert r.position("operations", 3, "after", 1) == (33, 44)  # the entry in `dependencies: [B, C]`
    assert "states no data passed" in (d.description or "")
    assert r.imported.anchors["foo-bar-longname-D"].depends == (
        "spec",
        "templates",
        0,
        "dag",
        "tasks",
        3,
        "dependencies",
    )


def test_steps_groups_run_in_order_and_a_group_in_parallel() -> None:
    r, _ = load_checked(REAL / "steps.yaml")
    assert r.ops["hello2a"].after == ("hello1",) and r.ops["hello2b"].after == ("hello1",)
    assert r.ops["hello1"].after == ()
    assert r.imported.anchors["hello2a"].depends_style == "implicit"


def test_with_items_fans_out_over_an_input_list_all_at_once() -> None:
    r, _ = load_checked(REAL / "loops.yaml")
    op = r.ops["print-message-loop"]
    assert op.foreach == "print-message-loop.items" and op.concurrency == 2  # two items, no parallelism limit
    assert r.fields["print-message-loop.items"].type == "array" and "print-message-loop.items" in r.inputs


def test_with_param_on_a_step_result_is_a_data_edge_and_the_fan_out_list() -> None:
    r, _ = load_checked(REAL / "loops-param-result.yaml")
    assert r.ops["generate"].produces == ("generate.result",)
    sleep = r.ops["sleep"]
    assert sleep.foreach == "generate.result" and sleep.consumes == ("generate.result",)
    assert sleep.after == () and r.dag.edges["generate", "sleep"]["kind"] == "data"
    assert r.fields["generate.result"].type == "array"


def test_parallelism_bounds_the_fan_out_and_anchors_it() -> None:
    text = (
        (REAL / "loops.yaml")
        .read_text()
        .replace("  - name: loop-example\n", "  - name: loop-example\n    parallelism: 1\n")
    )
    r, _ = check_text(text, file="loops.yaml")
    assert r is not None and r.ops["print-message-loop"].concurrency == 1
    assert r.imported.anchors["print-message-loop"].concurrency == ("spec", "templates", 0)
    assert r.position("operations", 0, "concurrency") == (11, 5)


def test_when_retry_memoize_and_artifacts() -> None:
    r, _ = load_checked(REAL / "conditionals.yaml")
    assert r.ops["print-hello-govaluate"].when == "{{inputs.parameters.should-print}} == true"
    assert "should-print" in r.inputs
    r, _ = load_checked(REAL / "retry-with-steps.yaml")
    assert (
        r.ops["hello1"].retry is not None and r.ops["hello1"].retry.max_attempts == 11
    )  # limit "10" + the first attempt
    r, _ = load_checked(REAL / "memoize-simple.yaml")
    op = r.ops["whalesay"]
    assert op.cache is not None and op.cache.ttl_s == 10.0 and op.deterministic
    r, _ = load_checked(REAL / "artifact-passing.yaml")
    assert r.fields["generate-artifact.hello-art"].type == "bytes"
    assert r.ops["consume-artifact"].consumes == ("generate-artifact.hello-art",)


def test_or_dependency_is_warned_and_kept_as_after_on_every_named_task() -> None:
    r, findings = load_checked(REAL / "dag-enhanced-depends.yaml")
    assert r.ops["should-execute-2"].after == ("B", "C")
    w = next(f for f in findings if f.code == "import-or-dependency" and f.line == 23)
    assert "'B || C' holds an OR" in w.message and w.file.endswith("dag-enhanced-depends.yaml")
    assert r.imported.anchors["B"].depends_style == "argo-depends"


def test_a_nested_dag_is_one_operation_and_one_warning() -> None:
    r, findings = load_checked(REAL / "dag-nested.yaml")
    assert [op.id for op in r.operations] == ["A", "B", "C", "D"]
    assert r.ops["D"].service == "template:nested-diamond" and r.ops["D"].after == ("B", "C")
    (w,) = [f for f in findings if f.code == "import-nested-template"]
    assert w.message.startswith("A, B, C, D: call the DAG template 'nested-diamond' (4 steps)")


def test_cron_workflow_reads_its_workflow_spec() -> None:
    text = (REAL / "steps.yaml").read_text()
    spec = text[text.index("spec:\n") :].replace("\n", "\n  ").replace("spec:", "workflowSpec:", 1)
    cron = text[: text.index("spec:\n")].replace("kind: Workflow", "kind: CronWorkflow")
    cron += 'spec:\n  schedule: "* * * * *"\n  ' + spec
    r, findings = check_text(cron, file="cron.yaml")
    assert r is not None, [str(f) for f in findings]
    assert [op.id for op in r.operations] == ["hello1", "hello2a", "hello2b"]
    assert r.imported.anchors["hello1"].path[:2] == ("spec", "workflowSpec")


def test_unknown_dependency_and_missing_entrypoint_are_findings_at_their_lines() -> None:
    text = (
        (REAL / "dag-diamond.yaml")
        .read_text()
        .replace("dependencies: [foo-bar-longname-A]\n", "dependencies: [nope]\n", 1)
    )
    _, findings = check_text(text, file="wf.yaml")
    w = next(f for f in findings if f.code == "import-unknown-step")
    assert w.line == 23 and "'nope'" in w.message
    text = (REAL / "dag-diamond.yaml").read_text().replace("entrypoint: diamond", "entrypoint: gone")
    recipe, findings = check_text(text, file="wf.yaml")
    assert recipe is None
    assert any(f.code == "import-no-entrypoint" and f.line == 13 for f in findings)
    assert any(f.code == "no-operations" for f in findings)


def test_duration_reading() -> None:
    assert argo.duration_s("10s") == 10.0 and argo.duration_s("2m30s") == 150.0 and argo.duration_s("1d") is None


def test_profile_runs_on_an_imported_argo_file_with_a_native_log(tmp_path: Path) -> None:
    wf = REAL / "dag-diamond.yaml"
    recipe = load_recipe(wf)
    lines = []
    t0 = 1_763_942_652_000.0
    for r in range(40):
        start = t0 + r * 60_000
        for op, offset, latency in (
            ("foo-bar-longname-A", 0, 1000 + r),
            ("foo-bar-longname-B", 1100 + r, 3000),
            ("foo-bar-longname-C", 1100 + r, 2000),
            ("foo-bar-longname-D", 4200 + r, 500),
        ):
            lines.append(
                {
                    "request_id": f"r{r}",
                    "recipe": recipe.name,
                    "op": op,
                    "start_ms": start + offset,
                    "latency_ms": latency,
                    "status": "ok",
                }
            )
    log = tmp_path / "runs.jsonl"
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    res = runner.invoke(app, ["profile", str(wf), "--logs", str(log), "--format", "json"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["summary"]["requests"] == 40
    assert doc["critical_path"]["ops"] == ["foo-bar-longname-A", "foo-bar-longname-B", "foo-bar-longname-D"]
    b = next(o for o in doc["ops"] if o["op"] == "foo-bar-longname-B")
    assert b["p50_ms"] == pytest.approx(3000) and b["service"] == "alpine:3.7" and b["count"] == 40


def test_a_json_workflow_is_read_as_yaml_with_its_lines() -> None:
    import yaml

    data = yaml.safe_load((REAL / "dag-diamond.yaml").read_text())
    text = json.dumps(data, indent=2)
    r, _ = check_text(text, file="wf.json")
    assert r is not None and len(r.operations) == 4 and r.imported.key == "argo"
    line = text.splitlines()[r.position("operations", 3, "id")[0] - 1]
    assert '"name": "foo-bar-longname-D"' in line


def test_a_dag_task_reading_an_output_parameter_is_ordered_by_data_not_after() -> None:
    text = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: params-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: region, value: eu}]}
  templates:
    - name: main
      dag:
        tasks:
          - name: quote
            template: price
            arguments: {parameters: [{name: r, value: "{{workflow.parameters.region}}"}]}
          - name: charge
            dependencies: [quote]
            template: pay
            arguments: {parameters: [{name: amount, value: "{{tasks.quote.outputs.parameters.total}}"}]}
    - name: price
      container: {image: pricing:1}
      outputs: {parameters: [{name: total, valueFrom: {path: /tmp/t}}]}
    - name: pay
      container: {image: payments:2}
"""
    r, findings = check_text(text, file="wf.yaml")
    assert r is not None, [str(f) for f in findings]
    assert r.inputs == ("region",) and r.ops["quote"].consumes == ("region",)
    assert r.ops["quote"].produces == ("quote.total",) and r.ops["charge"].consumes == ("quote.total",)
    assert r.ops["charge"].after == () and r.dag.edges["quote", "charge"]["kind"] == "data"
    assert r.imported.anchors["charge"].depends == ("spec", "templates", 0, "dag", "tasks", 1, "dependencies")
    assert r.position("fields", "region") == (6, 28)  # the workflow argument that declares it
