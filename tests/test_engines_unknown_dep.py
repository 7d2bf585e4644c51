"""A dependency on a step that does not exist is a mistake the engine itself rejects: an error
finding at its line, with the closest step name offered, and validate fails (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

GHA = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps: [{run: make}]
  test:
    runs-on: ubuntu-latest
    needs: [biuld]
    steps: [{run: make test}]
"""

ARGO = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: typo-}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: fetch, template: echo}
      - {name: train, template: echo, dependencies: [fecth]}
  - name: echo
    container: {image: alpine, command: [echo, hi]}
"""

TEKTON = """\
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: typo}
spec:
  tasks:
  - {name: clone, taskRef: {name: git-clone}}
  - {name: build, taskRef: {name: kaniko}, runAfter: [clnoe]}
"""


@pytest.mark.parametrize(
    ("name", "text", "line", "wrong", "right"),
    [
        ("workflow.yml", GHA, 8, "biuld", "build"),
        ("workflow.yaml", ARGO, 11, "fecth", "fetch"),
        ("pipeline.yaml", TEKTON, 7, "clnoe", "clone"),
    ],
    ids=["github-actions", "argo", "tekton"],
)
def test_a_dependency_on_a_missing_step_is_an_error_with_the_likely_name(
    tmp_path: Path, name: str, text: str, line: int, wrong: str, right: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path), "-f", "json"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    (report,) = json.loads(result.stdout)["files"]
    assert report["valid"] is False
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    (f,) = [f for f in errors if wrong in f["message"]]
    assert f["line"] == line and f"did you mean '{right}'?" in f["message"]
