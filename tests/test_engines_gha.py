"""GitHub Actions workflows read as recipes (recipemut.recipe.engines.githubactions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from _engines_helpers import file_ops, import_warnings, imported_with, ops, validated
from typer.testing import CliRunner

from recipemut.recipe.engines import githubactions as gha
from recipemut.recipe.engines.base import Imported

REAL = Path(__file__).parent / "realdata" / "engines" / "github-actions"
runner = CliRunner()


def imported(text: str, file: str = ".github/workflows/ci.yml") -> Imported:
    return imported_with(gha, text, file=file, what="workflow")


def warning(imp: Imported, code: str) -> Any:
    return next(w for w in imp.warnings if w.code == code)


def line_of(text: str, needle: str) -> int:
    return next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)


# ---- detect ----------------------------------------------------------------------------------


def test_detect_takes_on_as_text_or_as_yaml_1_1_true() -> None:
    jobs = {"build": {"runs-on": "ubuntu-latest", "steps": [{"run": "make"}]}}
    assert gha.detect({"on": ["push"], "jobs": jobs})
    assert gha.detect({True: ["push"], "jobs": jobs})


@pytest.mark.parametrize(
    "doc",
    [
        {"jobs": {"build": {"runs-on": "x"}}},  # no trigger
        {"on": "push", "jobs": {}},  # no job
        {"on": "push", "jobs": {"build": {"script": ["make"]}}},  # not a runner job (GitLab-like)
        {"version": 2.1, "jobs": {"build": {"docker": []}}, "workflows": {}},  # CircleCI
        ["on", "jobs"],
    ],
)
def test_detect_refuses_other_documents(doc: object) -> None:
    assert not gha.detect(doc)


def test_key_and_name() -> None:
    assert (gha.KEY, gha.NAME) == ("github-actions", "GitHub Actions workflow")


# ---- jobs ------------------------------------------------------------------------------------

WORKFLOW = """\
name: CI
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps: [{run: make lint}, {run: make check}]
  test:
    name: Unit tests
    needs: lint
    runs-on: [self-hosted, linux]
    timeout-minutes: 30
    services:
      postgres: {image: postgres:16}
    steps: [{run: make test}]
  deploy:
    needs: [lint, test]
    if: github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    steps: [{run: make deploy}]
"""


def test_one_job_is_one_operation_named_by_the_shared_rule() -> None:
    imp = imported(WORKFLOW)
    o = ops(imp)
    assert list(o) == ["lint", "Unit_tests", "deploy"]  # a plain name: op_id(name); else the job key
    assert (o["Unit_tests"]["action"], o["Unit_tests"]["service"]) == ("Unit tests", "self-hosted,linux")
    assert imp.document["name"] == "CI"
    assert imp.positions[("operations", 1)] == (7, 3)


def test_needs_are_after_edges_and_the_description_says_no_data_passes() -> None:
    o = ops(imported(WORKFLOW))
    assert o["Unit_tests"]["after"] == ["lint"]
    assert o["deploy"]["after"] == ["lint", "Unit_tests"]
    assert "states no data passed" in o["deploy"]["description"]


def test_if_is_when_with_a_warning_at_its_line() -> None:
    imp = imported(WORKFLOW)
    assert ops(imp)["deploy"]["when"] == "github.ref == 'refs/heads/main'"
    assert warning(imp, "import-when").line == line_of(WORKFLOW, "if: github.ref")


@pytest.mark.parametrize(("cond", "warns"), [("always()", True), ("${{ !cancelled() }}", True), ("success()", False)])
def test_status_only_conditions_are_no_branch(cond: str, warns: bool) -> None:
    text = WORKFLOW.replace("if: github.ref == 'refs/heads/main'", f"if: {cond}")
    imp = imported(text)
    assert "when" not in ops(imp)["deploy"]
    assert any(w.code == "import-status-condition" for w in imp.warnings) == warns


def test_timeout_and_service_containers_are_described() -> None:
    desc = ops(imported(WORKFLOW))["Unit_tests"]["description"]
    assert "timeout-minutes 30" in desc and "service containers: postgres" in desc


def test_anchors_point_at_the_needs_list_for_write_back() -> None:
    imp = imported(WORKFLOW)
    assert imp.anchors["deploy"].depends == ("jobs", "deploy", "needs")
    assert imp.anchors["lint"].depends is None and imp.anchors["lint"].path == ("jobs", "lint")


def test_on_read_by_pyyaml_as_true_is_a_workflow_too() -> None:
    data = yaml.safe_load(WORKFLOW)
    assert True in data and gha.detect(data)
    imp = gha.to_recipe(data, {}, file="ci.yml")
    assert [o["id"] for o in imp.document["operations"]] == ["lint", "Unit_tests", "deploy"]


def test_job_outputs_read_by_another_job_are_a_data_edge() -> None:
    text = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      hash: ${{ steps.h.outputs.hash }}
      version: ${{ steps.v.outputs.version }}
    steps: [{id: h, run: make}]
  sign:
    needs: [build]
    runs-on: ubuntu-latest
    env:
      HASH: ${{ needs.build.outputs.hash }}
    steps: [{run: sign}]
  tag:
    needs: build
    if: needs.build.outputs.version != ''
    runs-on: ubuntu-latest
    steps: [{run: "git tag ${{ needs.build.outputs.missing }}"}]
"""
    imp = imported(text)
    o = ops(imp)
    assert o["build"]["produces"] == ["build.hash", "build.version"]
    assert o["sign"]["consumes"] == ["build.hash"] and "after" not in o["sign"]
    assert o["tag"]["consumes"] == ["build.version"]
    assert "missing" in warning(imp, "import-unknown-output").message


def test_artifacts_uploaded_and_downloaded_are_data() -> None:
    text = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/upload-artifact@v4
        with: {name: wheels, path: dist}
      - uses: actions/upload-artifact@v4
        with: {name: "docs-${{ github.sha }}", path: site}
  lint:
    runs-on: ubuntu-latest
    steps: [{uses: actions/upload-artifact@v4, with: {path: report}}]
  test:
    needs: [build, lint]
    runs-on: ubuntu-latest
    steps: [{uses: actions/download-artifact@v4, with: {name: wheels}}]
  publish:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4
      - uses: actions/download-artifact@v4
        with: {name: old, run-id: 42}
"""
    o = ops(imported(text))
    assert o["build"]["produces"] == ["build.artifact.wheels", "build.artifacts"]
    assert o["lint"]["produces"] == ["lint.artifact.artifact"]  # upload-artifact's default name
    assert o["test"]["consumes"] == ["build.artifact.wheels", "build.artifacts"]  # a run-time name may be it
    assert o["test"]["after"] == ["lint"]  # nothing of lint's is read: ordering
    assert o["publish"]["consumes"] == ["build.artifact.wheels", "build.artifacts", "lint.artifact.artifact"]
    assert o["publish"]["after"] == ["test"]


def test_workflow_inputs_are_recipe_inputs() -> None:
    text = """\
on:
  workflow_dispatch:
    inputs:
      env: {type: string}
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps: [{run: "deploy ${{ inputs.env }} ${{ github.event.inputs.env }}"}]
"""
    imp = imported(text)
    assert imp.document["inputs"] == ["inputs.env"]
    assert ops(imp)["deploy"]["consumes"] == ["inputs.env"]


# ---- matrix ----------------------------------------------------------------------------------

MATRIX = """\
on: push
jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      max-parallel: 4
      matrix:
        os: [ubuntu-latest, windows-latest]
        python: ['3.10', '3.11', '3.12']
        exclude:
          - {os: windows-latest, python: '3.10'}
        include:
          - {os: macos-latest, python: '3.12'}
    steps: [{run: pytest}]
"""


def test_a_matrix_is_a_fan_out_and_max_parallel_its_concurrency() -> None:
    imp = imported(MATRIX)
    (op,) = imp.document["operations"]
    assert (op["foreach"], op["concurrency"], op["consumes"]) == ("test.matrix", 4, ["test.matrix"])
    assert imp.document["fields"]["test.matrix"] == {"type": "array"}
    assert "matrix of 6 jobs (2 os x 3 python, 1 include, 1 exclude)" in op["description"]
    assert imp.anchors["test"].concurrency == ("jobs", "test", "strategy")
    assert imp.positions[("operations", 0, "concurrency")] == (line_of(MATRIX, "max-parallel"), 7)


def test_a_matrix_without_max_parallel_runs_all_its_jobs_at_once() -> None:
    (op,) = imported(MATRIX.replace("      max-parallel: 4\n", "")).document["operations"]
    assert op["concurrency"] == 6


def test_max_parallel_one_is_the_default_and_not_written() -> None:
    (op,) = imported(MATRIX.replace("max-parallel: 4", "max-parallel: 1")).document["operations"]
    assert "concurrency" not in op and op["foreach"] == "test.matrix"


def test_a_matrix_from_a_job_output_fans_out_over_that_field() -> None:
    text = """\
on: push
jobs:
  plan:
    runs-on: ubuntu-latest
    outputs: {shards: "${{ steps.s.outputs.shards }}"}
    steps: [{id: s, run: plan}]
  run:
    needs: plan
    strategy:
      matrix:
        shard: ${{ fromJson(needs.plan.outputs.shards) }}
    runs-on: ubuntu-latest
    steps: [{run: "run ${{ matrix.shard }}"}]
"""
    imp = imported(text)
    assert ops(imp)["run"]["foreach"] == "plan.shards"
    assert ops(imp)["run"]["concurrency"] == 10_000  # unknown size, no max-parallel: not limited
    assert imp.document["fields"]["plan.shards"] == {"type": "array"}


@pytest.mark.parametrize(
    ("matrix", "size"),
    [
        ({"a": [1, 2, 3]}, 3),
        ({"a": [1, 2], "b": ["x", "y"], "exclude": [{"a": 1}]}, 2),
        ({"a": [1, 2], "include": [{"a": 1, "extra": True}, {"a": 3}]}, 3),
        ({"include": [{"n": 1}, {"n": 2}]}, 2),
        ({"a": "${{ fromJson(x) }}"}, None),
    ],
)
def test_matrix_size_counts_include_and_exclude(matrix: dict[str, Any], size: int | None) -> None:
    assert gha.matrix_size(matrix) == size


# ---- what is not carried over ----------------------------------------------------------------


def test_a_reusable_workflow_is_one_operation_with_a_warning() -> None:
    text = "on: push\njobs:\n  call:\n    uses: org/repo/.github/workflows/build.yml@v1\n    with: {x: 1}\n"
    imp = imported(text)
    assert ops(imp)["call"]["service"] == "org/repo/.github/workflows/build.yml@v1"
    assert warning(imp, "import-reusable-workflow").line == 4


def test_continue_on_error_is_a_warning() -> None:
    text = "on: push\njobs:\n  flaky:\n    runs-on: x\n    continue-on-error: true\n    steps: [{run: t}]\n"
    assert warning(imported(text), "import-continue-on-error").line == 5


# ---- real examples, end to end -----------------------------------------------------------------

EXPECTED = {
    "flask-publish.yaml": {("import-reusable-workflow", 36)},
    "flask-tests.yaml": set(),
    "transformers-doctests.yml": {("import-reusable-workflow", 59), ("import-status-condition", 68)},
    "transformers-doctest_job.yml": set(),
    "botocore-run-tests.yml": set(),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_public_workflows_validate_with_the_expected_warnings(name: str) -> None:
    report = validated(REAL / name)
    assert report["engine"] == gha.NAME
    assert import_warnings(report) == EXPECTED[name]


def load(name: str) -> dict[str, dict[str, Any]]:
    return file_ops(gha, REAL / name, what="workflow")


def test_public_workflows_carry_outputs_matrix_and_max_parallel() -> None:
    publish = load("flask-publish.yaml")
    assert publish["provenance"]["consumes"] == ["build.hash"] and "after" not in publish["provenance"]
    # the release jobs download every artifact: build's and what the provenance workflow uploads
    assert publish["create-release"]["consumes"] == ["build.artifact.artifact", "provenance.artifacts"]
    assert "after" not in publish["create-release"]
    doctests = load("transformers-doctests.yml")
    assert doctests["Call_doctest_jobs"]["foreach"] == "Setup.split_keys"  # max-parallel: 1, one split at a time
    assert "concurrency" not in doctests["Call_doctest_jobs"]
    job = load("transformers-doctest_job.yml")["run_doctests"]
    assert (job["foreach"], job["concurrency"]) == ("inputs.split_keys", 8)
    assert load("botocore-run-tests.yml")["build"]["concurrency"] == 15  # 5 Pythons x 3 OSes
    assert load("flask-tests.yaml")["tests"]["concurrency"] == 11  # 11 include entries


SHIPPED = sorted((Path(__file__).parents[1] / "recipes").glob("gha-*/workflow.yml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_github_actions_examples_validate(path: Path) -> None:
    assert validated(path)["engine"] == gha.NAME
    assert "Provenance:" in path.read_text().split("\nname:")[0]
