"""The engine framework: detection, unsupported engines named, multi-document files, the loader hook, no write-back."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.apply.transaction import transact
from recipemut.cli import app
from recipemut.errors import RecipeInvalid, RecipemutError
from recipemut.recipe.engines import detect_engine, engine_name, unsupported_engine
from recipemut.recipe.loader import check_text
from recipemut.recipe.yamlpos import parse_yaml, parse_yaml_documents

runner = CliRunner()

ARGO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: hello-}
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - {name: a, template: say}
          - {name: b, template: say, dependencies: [a]}
    - name: say
      container: {image: alpine:3.19}
"""

GITLAB = """\
stages: [build, test]
build-job:
  stage: build
  script: [make]
"""

AIRFLOW = """\
example_dag:
  default_args: {owner: me}
  schedule_interval: "@daily"
  tasks:
    task_1: {operator: airflow.operators.bash.BashOperator, bash_command: "echo 1"}
"""


def test_multi_document_yaml_reads_each_document_with_its_own_lines() -> None:
    docs = parse_yaml_documents("a: 1\n---\nb:\n  - x\n---\n", file="f.yaml")
    assert [d for d, _, _ in docs] == [{"a": 1}, {"b": ["x"]}, None]
    assert docs[1][1][("b", 0)] == (4, 5)


def test_a_recipe_is_still_one_document() -> None:
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml("a: 1\n---\nb: 2\n", file="r.yaml")
    assert e.value.findings[0].code == "multiple-documents"
    _, findings = check_text("a: 1\n---\nb: 2\n", file="r.yaml")
    assert [f.code for f in findings] == ["multiple-documents"]


def test_multi_document_limits_hold_for_the_whole_file() -> None:
    bomb = "a: &x [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n" + "b: [" + ", ".join(["*x"] * 600) + "]\n"
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml_documents("k: v\n---\n" + bomb + "---\n" + bomb.replace("b:", "c:"), file="f.yaml")
    assert e.value.findings[0].code == "alias-bomb"


def test_anchors_do_not_leak_between_documents() -> None:
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml_documents("a: &x 1\n---\nb: *x\n", file="f.yaml")
    assert "names no anchor" in e.value.findings[0].message


def test_detect_engine_and_unsupported_names() -> None:
    assert detect_engine({"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "spec": {}}).KEY == "tekton"
    assert detect_engine({"apiVersion": "tekton.dev/v1", "kind": "Task", "spec": {}}) is None
    assert detect_engine({"apiVersion": "recipemut/v1", "kind": "Recipe"}) is None
    assert unsupported_engine({"version": 2.1, "jobs": {}, "workflows": {}}) == "CircleCI config"
    assert unsupported_engine({"pipelineInfo": {"name": "p"}, "root": {}}) == "Kubeflow Pipelines pipeline"
    assert unsupported_engine({"trigger": ["main"], "pool": {"vmImage": "x"}, "steps": []}) == "Azure Pipelines file"
    assert unsupported_engine({"name": "x", "operations": []}) is None


@pytest.mark.parametrize(("text", "name"), [(GITLAB, "a GitLab CI pipeline"), (AIRFLOW, "an Airflow DAG")])
def test_validate_names_an_unsupported_engine_in_one_line(tmp_path: Path, text: str, name: str) -> None:
    f = tmp_path / "ci.yml"
    f.write_text(text)
    res = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "200"})
    assert res.exit_code == 1
    line = next(x for x in res.output.splitlines() if "unsupported-engine" in x)
    assert f"ci.yml:1:1: this is {name}" in line and "Argo Workflows" in line and "Tekton" in line
    assert "missing required key" not in res.output  # no recipe schema errors about another tool's file


def test_a_recipe_with_other_tools_keys_is_still_checked_as_a_recipe() -> None:
    text = "apiVersion: recipemut/v1\nkind: Recipe\nname: x\nstages: [a]\noperations: []\n"
    _, findings = check_text(text, file="r.yaml")
    assert "unsupported-engine" not in [f.code for f in findings]
    assert "unknown-key" in [f.code for f in findings]


def test_an_engine_file_is_imported_then_checked_with_the_engine_files_lines() -> None:
    recipe, findings = check_text(ARGO, file="wf.yaml")
    assert recipe is not None and [op.id for op in recipe.operations] == ["a", "b"]
    assert recipe.imported is not None and recipe.imported.key == "argo" and recipe.source == "wf.yaml"
    assert recipe.position("operations", 1, "after") == (11, 38)  # b's `dependencies` in the Argo file
    assert {f.code for f in findings} == {"unknown-service"}


def test_findings_about_an_imported_recipe_point_at_the_engine_file(tmp_path: Path) -> None:
    bad = ARGO.replace(
        "dependencies: [a]", "dependencies: [a]}\n          - {name: c, template: say, dependencies: [c]"
    )
    _, findings = check_text(bad, file="wf.yaml")
    cycle = next(f for f in findings if f.code in ("self-after", "cycle"))
    assert cycle.file == "wf.yaml" and cycle.line == 12


def test_only_apply_and_rollback_write_into_an_engine_file(tmp_path: Path) -> None:
    f = tmp_path / "wf.yaml"
    f.write_text(ARGO)
    assert engine_name(ARGO) == "Argo Workflow" and engine_name("apiVersion: recipemut/v1\n") is None
    with pytest.raises(RecipemutError, match="canary into Argo Workflow files is not available"):
        transact(f, action="canary", build=lambda text, chain, last: (text + "# x\n", {}))
    res = runner.invoke(app, ["rollback", str(f)], env={"COLUMNS": "200"})  # write-back: tests/test_writeback_*.py
    assert res.exit_code == 1 and "no history beside the recipe" in res.output
    assert "Traceback" not in res.output and f.read_text() == ARGO


def test_read_document_of_an_engine_file_is_the_imported_recipe_document(tmp_path: Path) -> None:
    from recipemut.recipe.loader import read_document

    f = tmp_path / "p.yaml"
    f.write_text(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {results: [{name: r}]}\n---\n"
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\n"
        "spec:\n  tasks:\n    - {name: a, taskRef: {name: t}}\n    - {name: b, taskRef: {name: t}, runAfter: [a]}\n"
    )
    doc, positions, text = read_document(f)
    assert doc["apiVersion"] == "recipemut/v1" and [o["id"] for o in doc["operations"]] == ["a", "b"]
    assert doc["operations"][0]["produces"] == ["a.r"] and doc["operations"][1]["after"] == ["a"]
    assert positions[("operations", 1)] == (12, 7) and text == f.read_text()


DAMAGED = [  # (example, path of a value, the odd value put there): shapes a hand-edited file can have
    ("argo/conditionals.yaml", ("spec", "arguments"), 1.5),
    ("argo/steps.yaml", ("metadata",), "x"),
    ("argo/dag-nested.yaml", ("spec", "templates", 2, "dag"), 1),
    ("argo/dag-nested.yaml", ("spec", "templates", 1, "dag", "tasks", 0), "A"),
    ("argo/memoize-simple.yaml", ("spec", "templates", 0, "outputs"), [1, None]),
    ("argo/loops.yaml", ("spec", "templates", 0, "steps", 0, 0, "withItems"), {"a": None}),
    ("argo/retry-with-steps.yaml", ("spec", "templates", 1, "retryStrategy", "limit"), [1]),
    ("tekton/pipelinerun-with-matrix.yaml", ("spec", "pipelineSpec", "tasks", 0, "matrix", "params"), "x"),
    ("tekton/pipelinerun-results.yaml", ("spec", "tasks", 1, "runAfter"), {"a": None}),
    ("tekton/pipelinerun-with-when-expressions.yaml", ("spec", "pipelineSpec", "tasks", 0, "when"), [1, None]),
    ("tekton/pipelinerun.yaml", ("spec", "tasks", 0, "taskRef"), "git-clone"),
]


@pytest.mark.parametrize(("name", "where", "value"), DAMAGED, ids=[f"{n}:{w[-1]}" for n, w, _ in DAMAGED])
def test_damaged_engine_files_give_findings_never_exceptions(
    name: str, where: tuple[object, ...], value: object
) -> None:
    import yaml

    docs = list(yaml.safe_load_all((Path(__file__).parent / "realdata" / "engines" / name).read_text()))
    doc = next(d for d in docs if isinstance(d, dict) and d.get("kind") in ("Workflow", "Pipeline", "PipelineRun"))
    node = doc
    for k in where[:-1]:
        node = node[k]
    node[where[-1]] = value
    _, findings = check_text(yaml.safe_dump_all(docs), file="f.yaml")
    assert "import-failed" not in {f.code for f in findings}


def test_an_importer_that_fails_on_an_odd_shape_gives_one_finding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from recipemut.recipe.engines import argo

    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("name")

    monkeypatch.setattr(argo, "to_recipe", broken)
    f = tmp_path / "wf.yaml"
    f.write_text(ARGO)
    res = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "wf.yaml:1:1: could not read this Argo Workflow (KeyError: 'name')" in res.output


def test_a_file_of_several_workflows_imports_the_first_and_says_so() -> None:
    recipe, findings = check_text(ARGO + "---\n" + ARGO.replace("hello-", "other-"), file="two.yaml")
    assert recipe is not None and [op.id for op in recipe.operations] == ["a", "b"]
    w = next(f for f in findings if f.code == "import-several")
    assert w.line == 1 and "holds 2 documents of this engine" in w.message and "line 15" in w.message
    pipeline = (
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: NAME}\n"
        "spec: {tasks: [{name: t, taskRef: {name: x}}]}\n"
    )
    run = "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: r}\nspec: {pipelineRef: {name: one}}\n"
    text = pipeline.replace("NAME", "one") + "---\n" + run + "---\n" + pipeline.replace("NAME", "two")
    recipe, findings = check_text(text, file="p.yaml")
    assert recipe is not None and recipe.name == "one"
    (w,) = [f for f in findings if f.code == "import-several"]
    assert "holds 2 pipelines" in w.message and "line 11" in w.message
