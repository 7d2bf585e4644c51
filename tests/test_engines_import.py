"""`recipemut import FILE`: the recipe read from an engine's file, shown or written, warnings on stderr."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.loader import load_recipe

runner = CliRunner()
REAL = Path(__file__).parent / "realdata" / "engines"
ENV = {"COLUMNS": "200"}


def test_import_shows_the_recipe_with_a_header_naming_source_and_engine() -> None:
    src = REAL / "argo" / "loops-param-result.yaml"
    res = runner.invoke(app, ["import", str(src)], env=ENV)
    assert res.exit_code == 0, res.output
    first = res.stdout.splitlines()[0]
    assert first.startswith("# Imported by `recipemut import` from ") and "(an Argo Workflow)" in first
    doc = yaml.safe_load(res.stdout)
    assert doc["apiVersion"] == "recipemut/v1" and [o["id"] for o in doc["operations"]] == ["generate", "sleep"]
    assert "warning:" not in res.stdout  # warnings go to stderr
    said = "loops-param-result.yaml:26:7: 2 services are not declared: 'python:alpine3.6'"
    assert any(line.startswith("warning: ") and said in line for line in res.stderr.splitlines()), res.stderr


def test_import_words_a_warning_as_profile_does(tmp_path: Path) -> None:
    """import said 'FILE:20:13: warning: ...' where profile, reading the same file, said 'warning: FILE:20:13: ...'."""
    src = tmp_path / "wf.yaml"
    shutil.copy(REAL / "argo" / "dag-enhanced-depends.yaml", src)
    imported = runner.invoke(app, ["import", str(src)], env=ENV)
    assert imported.exit_code == 0, imported.output
    runs = Path(__file__).parents[1] / "recipes" / "argo-ci" / "runs.yaml"  # another workflow's: no span of this one
    profiled = subprocess.run([sys.executable, "-m", "recipemut", "profile", str(src), "--logs", str(runs)],
                              capture_output=True, text=True, env={**os.environ, **ENV}, timeout=120)  # fmt: skip
    line = f"warning: {src}:20:13: should-execute-1: depends 'A && (C.Succeeded || C.Failed)' holds an OR"
    assert line in imported.stderr.splitlines()[0], imported.stderr
    assert line in profiled.stderr, profiled.stderr


def test_import_writes_a_recipe_that_validates_and_loads_the_same(tmp_path: Path) -> None:
    src = tmp_path / "wf.yaml"
    shutil.copy(REAL / "argo" / "dag-enhanced-depends.yaml", src)
    out = tmp_path / "recipe.yaml"
    res = runner.invoke(app, ["import", str(src), "-o", str(out)], env=ENV)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert "wf.yaml:23:13: should-execute-2: depends 'B || C' holds an OR" in res.stderr
    assert "read as Argo Workflow (7 operations), recipe written to" in res.stderr
    written, original = load_recipe(out), load_recipe(src)
    assert written.imported is None and written.operations == original.operations
    res = runner.invoke(app, ["validate", str(out)], env=ENV)
    assert res.exit_code == 0, res.output


def test_import_refuses_to_overwrite_its_source(tmp_path: Path) -> None:
    src = tmp_path / "pipeline.yaml"
    shutil.copy(REAL / "tekton" / "pipelinerun-results.yaml", src)
    before = src.read_bytes()
    res = runner.invoke(app, ["import", str(src), "--out", str(src)], env=ENV)
    assert res.exit_code == 1 and "is the file to import" in res.output
    assert src.read_bytes() == before and "Traceback" not in res.output


def test_import_json(tmp_path: Path) -> None:
    res = runner.invoke(app, ["import", str(REAL / "tekton" / "pipelinerun-results.yaml"), "-f", "json"], env=ENV)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["engine"] == "Tekton Pipeline" and doc["key"] == "tekton" and doc["written"] is None
    assert doc["recipe"]["outputs"] == ["second-add.sum", "first-add.sum"]
    assert [w["code"] for w in doc["warnings"]] == ["unknown-service"]


def test_import_fails_in_one_line_on_other_files(tmp_path: Path) -> None:
    recipe = Path(__file__).parents[1] / "recipes" / "checkout" / "recipe.yaml"
    res = runner.invoke(app, ["import", str(recipe)], env=ENV)
    assert res.exit_code == 1 and "is a recipe already" in res.output
    other = tmp_path / "notes.yaml"
    other.write_text("title: shopping\nitems: [milk]\n")
    res = runner.invoke(app, ["import", str(other)], env=ENV)
    assert res.exit_code == 1 and "is not a workflow file recipemut reads" in res.output
    gitlab = tmp_path / ".gitlab-ci.yml"
    gitlab.write_text("stages: [test]\nunit:\n  stage: test\n  script: [pytest]\n")
    res = runner.invoke(app, ["import", str(gitlab)], env=ENV)
    assert res.exit_code == 1 and "this is a GitLab CI pipeline" in res.output
    assert len(res.output.strip().splitlines()) == 1


def _broken_argo(tmp_path: Path) -> Path:
    """``wf.yaml``: Argo's dag-diamond with task D depending on itself (line 33)."""
    src = tmp_path / "wf.yaml"
    text = (REAL / "argo" / "dag-diamond.yaml").read_text()
    src.write_text(
        text.replace("dependencies: [foo-bar-longname-B, foo-bar-longname-C]", "dependencies: [foo-bar-longname-D]")
    )
    return src


def test_import_of_a_broken_engine_file_names_the_engine_files_line(tmp_path: Path) -> None:
    src = _broken_argo(tmp_path)
    res = runner.invoke(app, ["import", str(src)], env=ENV)
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "wf.yaml:33:" in res.output and "foo-bar-longname-D" in res.output


def test_the_shipped_engine_examples_validate_and_import(tmp_path: Path) -> None:
    root = Path(__file__).parents[1] / "recipes"
    argo_ci = root / "argo-ci" / "workflow.yaml"
    res = runner.invoke(app, ["validate", str(argo_ci), str(root / "tekton-skaffold-demo" / "pipeline.yaml")], env=ENV)
    assert res.exit_code == 0, res.output
    assert "workflow.yaml: valid (5 operations, read as an Argo Workflow)" in res.output
    assert "pipeline.yaml: valid (5 operations, read as a Tekton Pipeline)" in res.output
    assert "workflow.yaml:26:3: warning: spec.onExit has no recipe equivalent" in res.output
    r = load_recipe(argo_ci)
    # clone, deps, build and test share the `work` volume's src and Go caches: data edges (issue 17 follow-up);
    # cache-restore mounts other sub-paths of it, so deps waits for it by an ordering edge only
    assert r.ops["deps"].after == ("cache-restore",) and r.ops["test"].after == ()
    assert r.dag.edges["build", "test"]["kind"] == "data" and r.dag.edges["clone", "deps"]["kind"] == "data"
    demo = load_recipe(root / "tekton-skaffold-demo" / "pipeline.yaml")
    # v1alpha1 PipelineResources: `from: [build-skaffold-app]` is a data edge, runAfter an ordering one
    assert demo.ops["deploy-app"].consumes == ("build-skaffold-app.app-image",) and demo.ops["deploy-app"].after == ()
    assert demo.ops["build-skaffold-app"].after == ("skaffold-unit-tests",)
    assert demo.dag.edges["build-skaffold-web", "deploy-web"]["kind"] == "data"


def test_names_with_control_or_bidi_characters_cannot_drive_the_terminal(tmp_path: Path) -> None:
    src = tmp_path / "evil\u202e.yaml"
    text = (REAL / "argo" / "steps.yaml").read_text().replace("name: hello1", 'name: "hello1\\x1b[2J\\u202e"')
    src.write_text(text)
    res = runner.invoke(app, ["import", str(src)], env=ENV)
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "\u202e" not in res.output
    doc = yaml.safe_load(res.stdout)
    assert doc["operations"][0]["action"] == "hello1\x1b[2J\u202e"  # the YAML keeps the name, escaped
    assert res.stdout.splitlines()[0].count("\n") == 0 and "evil\\u202e.yaml" in res.stdout.splitlines()[0]


def test_validate_names_the_engine_of_an_invalid_engine_file(tmp_path: Path) -> None:
    src = _broken_argo(tmp_path)
    res = runner.invoke(app, ["validate", str(src)], env=ENV)
    assert res.exit_code == 1
    assert "wf.yaml:33:24: operations[3] (foo-bar-longname-D): lists itself in after [self-after]" in res.output
    assert "wf.yaml: invalid (4 operations, read as an Argo Workflow)" in res.output
    res = runner.invoke(app, ["validate", str(src), "-f", "json"], env=ENV)
    assert json.loads(res.stdout)["files"][0]["engine"] == "Argo Workflow"


def test_import_of_a_file_with_a_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """Not "no engine's file": the file could not be read at all, and the error says where."""
    bad = tmp_path / "workflow.yml"
    bad.write_text("on: push\njobs:\n  a: {runs-on: x, steps: [\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(bad)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert f"{bad}:4:1: YAML syntax error" in result.output and "not a workflow file" not in result.output
