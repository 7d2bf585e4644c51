"""Tekton Pipelines and PipelineRuns read as recipes: the public examples of tektoncd/pipeline, what each maps to."""

from __future__ import annotations

from pathlib import Path

import pytest
from _engines_helpers import load_checked
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.loader import check_text

runner = CliRunner()
REAL = Path(__file__).parent / "realdata" / "engines" / "tekton"

#: each public example -> (operations, the import-* warning codes it gives)
EXPECTED: dict[str, tuple[int, list[str]]] = {
    "pipelinerun.yaml": (2, []),
    "pipelinerun-results.yaml": (2, []),
    "pipelinerun-with-final-tasks.yaml": (3, []),
    "pipelinerun-with-when-expressions.yaml": (14, ["import-when"] * 13),
    "pipelinerun-with-matrix.yaml": (7, []),
    "using-retries-and-retry-count-variables.yaml": (2, []),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_public_example_imports_and_validates_with_its_warnings(name: str) -> None:
    recipe, findings = load_checked(REAL / name)
    n_ops, codes = EXPECTED[name]
    assert recipe.imported.key == "tekton" and len(recipe.operations) == n_ops
    assert [f for f in findings if f.severity == "error"] == []
    assert [f.code for f in findings if f.code.startswith("import-")] == codes
    assert {f.code for f in findings} <= {"unknown-service", *codes}
    res = runner.invoke(app, ["validate", str(REAL / name)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "read as a Tekton Pipeline" in res.output


def test_a_multi_document_file_imports_its_pipeline_with_the_tasks_beside_it() -> None:
    r, _ = load_checked(REAL / "pipelinerun.yaml")  # ClusterRoleBinding, Task, Task, Pipeline, PipelineRun
    assert r.imported.doc_index == 3 and r.name == "demo.pipeline"
    assert r.ops["fetch-from-git"].service == "git-clone" and r.ops["build-image"].service == "kaniko"
    # the git-clone Task's result, and the workspace both tasks bind: build-image reads the clone by a data edge
    assert r.ops["fetch-from-git"].produces == ("fetch-from-git.commit", "workspace.git-source.1")
    assert "workspace.git-source.1" in r.ops["build-image"].consumes and r.ops["build-image"].after == ()
    assert r.dag.edges["fetch-from-git", "build-image"]["kind"] == "data"
    assert r.position("fields", "workspace.git-source.1") == (192, 7)  # fetch-from-git's `workspaces:` binding
    assert "image-registry" in r.inputs
    anchor = r.imported.anchors["build-image"]
    assert anchor.depends == ("spec", "tasks", 1, "runAfter") and anchor.depends_style == "list"


def test_results_are_data_edges_and_pipeline_results_are_outputs() -> None:
    r, _ = load_checked(REAL / "pipelinerun-results.yaml")
    assert r.ops["second-add"].consumes == ("first-add.sum", "third")
    assert r.ops["second-add"].after == () and r.dag.edges["first-add", "second-add"]["kind"] == "data"
    assert r.inputs == ("first", "second", "third")
    assert r.outputs == ("second-add.sum", "first-add.sum")


def test_finally_tasks_run_after_every_other_task() -> None:
    r, _ = load_checked(REAL / "pipelinerun-with-final-tasks.yaml")
    # cleanup runs after every task; it binds the workspace clone-app-repo cloned into: a data edge
    assert r.ops["cleanup"].consumes == ("workspace.git-source.1",) and r.ops["cleanup"].after == ()
    check = r.ops["check-git-commit"]
    assert check.consumes == ("clone-app-repo.commit",) and check.after == ()  # the result already orders it
    assert r.imported.anchors["cleanup"].depends_style == "implicit"


def test_when_expressions_are_kept_as_text_and_their_results_read() -> None:
    r, findings = load_checked(REAL / "pipelinerun-with-when-expressions.yaml")
    op = r.ops["echo-file-exists"]
    assert op.when == "$(tasks.check-file.results.exists) in [yes]" and op.consumes == ("check-file.exists",)
    w = next(f for f in findings if f.code == "import-when" and "echo-file-exists" in f.message)
    assert w.line == 65
    last = r.ops["finally-task-should-be-executed"]
    # after every task but check-file, whose result it reads (a data edge orders them already)
    assert len(last.after) == 7 and "check-file" not in last.after and "check-file.exists" in last.consumes


def test_matrix_fans_out_every_combination_at_once_and_retries() -> None:
    r, _ = load_checked(REAL / "pipelinerun-with-matrix.yaml")
    op = r.ops["platforms-and-browsers"]
    assert op.foreach == "platforms-and-browsers.matrix" and op.concurrency == 9  # 3 platforms x 3 browsers
    assert r.fields["platforms-and-browsers.matrix"].type == "array"
    assert r.ops["matrix-and-params-include"].consumes == ("matrix-and-params-include.matrix",)  # not its label
    assert r.ops["matrix-with-task-retries"].retry is not None
    assert r.ops["matrix-with-task-retries"].retry.max_attempts == 2
    r, _ = load_checked(REAL / "using-retries-and-retry-count-variables.yaml")
    assert r.ops["retry-me"].retry is not None and r.ops["retry-me"].retry.max_attempts == 6


def test_matrix_over_a_result_list_is_a_data_edge() -> None:
    text = """\
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: fan}
spec:
  tasks:
    - name: list
      taskSpec: {results: [{name: names, type: array}], steps: [{image: alpine}]}
    - name: each
      taskRef: {name: greet}
      matrix:
        params:
          - {name: who, value: "$(tasks.list.results.names[*])"}
"""
    r, findings = check_text(text, file="p.yaml")
    assert r is not None, [str(f) for f in findings]
    each = r.ops["each"]
    assert each.foreach == "list.names" and each.consumes == ("list.names",) and r.fields["list.names"].type == "array"


def test_pipeline_ref_to_a_pipeline_not_in_the_file_is_named() -> None:
    text = (
        "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata: {name: run}\nspec:\n  pipelineRef: {name: elsewhere}\n"
    )
    recipe, findings = check_text(text, file="run.yaml")
    assert recipe is None
    w = next(f for f in findings if f.code == "import-pipeline-ref")
    assert w.line == 5 and "'elsewhere', which is not in this file" in w.message


def test_pipeline_run_with_a_pipeline_ref_in_the_same_file_reads_that_pipeline() -> None:
    text = (REAL / "pipelinerun-results.yaml").read_text()
    first, *rest = text.split("---\n")
    swapped = "---\n".join([first, rest[1], rest[0]])  # the PipelineRun before the Pipeline it names
    r, _ = check_text(swapped, file="p.yaml")
    assert r is not None and r.name == "sum-three-pipeline" and r.imported.doc_index == 2
    assert r.position("operations", 1, "id")[0] == swapped.splitlines().index("    - name: second-add") + 1


def test_a_task_alone_is_named_not_imported(tmp_path: Path) -> None:
    f = tmp_path / "task.yaml"
    f.write_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: []}\n")
    res = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "this is a Tekton Task (not a Pipeline)" in res.output
