"""A file given in the wrong place is named in both directions (a new user's finding, review 8).

``--logs`` named a recipe, plan, mapping or parameters file given to it, but the other way round a plain
JSONL log given as the recipe was a YAML syntax error, a Parquet log "binary data, not a YAML recipe", a
plan twelve schema lines, a recipe given to ``generate --params`` "unknown key 'alternatives'", and an
empty plan "not valid JSON: Expecting value". Each is now one line naming what the file is and where it
goes, exit 1, told by the one detector ``--logs`` asks (:func:`recipemut.files.kinds.input_kind`).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError, PlanError
from recipemut.files.kinds import input_kind
from recipemut.loggen.params import load_params
from recipemut.plan.planfile import load_plan
from recipemut.recipe.loader import check_recipe, load_recipe, read_text

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGGEN = ROOT / "recipes" / "checkout" / "loggen.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
MAPPING = ROOT / "recipes" / "zipkin_simple_db" / "mapping.yaml"
runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def _lines(n: int = 200) -> list[str]:
    return gzip.decompress(LOGS.read_bytes()).decode().splitlines()[:n]


@pytest.fixture
def small(tmp_path: Path) -> Path:
    p = tmp_path / "small.jsonl"
    p.write_text("\n".join(_lines()) + "\n")
    return p


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    p = tmp_path / "l.parquet"
    pd.DataFrame([json.loads(ln) for ln in _lines()]).to_parquet(p)
    return p


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    """A plan as suggest --out writes it (indented, ``planVersion`` first); its content is not read."""
    p = tmp_path / "plan.json"
    doc = {"planVersion": 1, "tool": "recipemut 0.1.0", "recipe": {"path": str(RECIPE), "sha256": "0" * 64},
           "objective": "balanced", "mutations": [], "plan": []}  # fmt: skip
    p.write_text(json.dumps(doc, indent=2) + "\n")
    return p


def _out(args: list[str]) -> tuple[int, list[str]]:
    r = runner.invoke(app, args, env=WIDE)
    assert "Traceback" not in r.output
    return r.exit_code, [ln for ln in r.output.splitlines() if ln.strip()]


# ---- the user's five cases ----------------------------------------------------------------------------


def test_a_jsonl_log_given_as_the_recipe_is_named_a_span_log(small: Path) -> None:
    code, lines = _out(["profile", str(small), "--logs", str(LOGS)])
    drafts = f" (no recipe yet? recipemut import {small} -o recipe.yaml drafts one)"  # a log with no recipe yet
    assert (code, lines) == (1, [f"error: {small}: is a span log (JSONL), not a recipe: give it to --logs{drafts}"])


def test_a_parquet_log_given_as_the_recipe_is_named_a_parquet_log(parquet: Path) -> None:
    code, lines = _out(["profile", str(parquet), "--logs", str(LOGS)])
    drafts = f" (no recipe yet? recipemut import {parquet} -o recipe.yaml drafts one)"
    assert (code, lines) == (1, [f"error: {parquet}: is a Parquet log, not a recipe: give it to --logs{drafts}"])


def test_a_plan_validated_as_a_recipe_is_one_line_not_its_schema_errors(plan: Path) -> None:
    code, lines = _out(["validate", str(plan)])
    assert code == 1
    assert lines[:-1] == [f"{plan}: is a plan (written by suggest --out), not a recipe: give it to apply --plan "
                          "[wrong-kind]"]  # fmt: skip
    recipe, findings = check_recipe(plan)
    assert recipe is None and [f.code for f in findings] == ["wrong-kind"]


def test_a_recipe_given_as_the_generation_parameters_is_named_a_recipe(tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    code, lines = _out(["generate", str(RECIPE), "-n", "100", "--params", str(RECIPE), "-o", str(out)])
    assert (code, lines) == (1, [f"error: {RECIPE}: is a recipe (YAML), not generation parameters: give it as the "
                                 "command's first argument"])  # fmt: skip
    assert not out.exists()


def test_an_empty_plan_is_said_to_be_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("\n  \n")
    with pytest.raises(PlanError, match=r"is empty; expected a plan \(written by suggest --out\)") as e:
        load_plan(empty)
    assert e.value.code == "empty-file"
    code, lines = _out(["apply", str(RECIPE), "--plan", str(empty), "--dry-run"])
    assert (code, lines) == (1, [f"error: {empty}: is empty; expected a plan (written by suggest --out)"])


# ---- every direction, one detector --------------------------------------------------------------------


def test_other_files_given_as_the_recipe(tmp_path: Path) -> None:
    for path, said in [
        (MAPPING, "is a span mapping (YAML), not a recipe: give it to --map"),
        (LOGGEN, "holds generation parameters (YAML: defaults, operations, fields), not a recipe: give it to "
                 "recipemut generate --params"),
    ]:  # fmt: skip
        with pytest.raises(InputFileError) as e:
            load_recipe(path)
        assert (e.value.message, e.value.code) == (said, "wrong-kind")


def test_a_log_larger_than_a_recipe_is_named_before_it_is_refused_as_too_large(small: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"is a span log \(JSONL\), not a recipe: give it to --logs"):
        read_text(small, max_bytes=1000)
    notes = tmp_path / "notes.txt"
    notes.write_text("meeting notes\n" * 200)
    with pytest.raises(InputFileError, match="over the 1000 bytes limit for a recipe") as e:
        read_text(notes, max_bytes=1000)  # nothing to name: refused as too large, as before
    assert e.value.code == "file-too-large"


def test_a_log_or_a_recipe_given_as_the_plan(small: Path, parquet: Path, tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"is a span log \(JSONL\), not a plan: give it to --logs"):
        load_plan(small)
    with pytest.raises(PlanError, match=r"is a Parquet log, not a plan: give it to --logs"):
        load_plan(parquet)  # it was "binary data, not a JSON plan"
    as_json = tmp_path / "recipe.json"
    as_json.write_text(json.dumps(yaml.safe_load(RECIPE.read_text()), indent=2))
    with pytest.raises(PlanError, match=r"this looks like a recipe \(JSON\), not a plan: make a plan with") as e:
        load_plan(as_json)  # it was the schema's first complaint ("'planVersion' is a required property")
    assert e.value.code == "not-a-plan"


def test_a_log_or_a_plan_given_as_the_generation_parameters(small: Path, plan: Path) -> None:
    with pytest.raises(InputFileError, match=r"is a span log \(JSONL\), not generation parameters: give it to --logs"):
        load_params(small)
    with pytest.raises(InputFileError, match=r"is a plan \(written by suggest --out\), not generation parameters"):
        load_params(plan)
    assert load_params(LOGGEN).defaults.error_prob == 0.002  # its own kind is read


def test_both_directions_ask_the_same_detector(plan: Path, small: Path) -> None:
    """What --logs says of a plan and what the recipe reader says of a log come from input_kind."""
    assert input_kind(plan.read_bytes()).kind == "plan"  # type: ignore[union-attr]
    assert input_kind(small.read_bytes()[:65536]).kind == "spans"  # type: ignore[union-attr]
    code, lines = _out(["profile", str(RECIPE), "--logs", str(plan)])
    assert (code, lines) == (1, [f"error: {plan}: is a plan (written by suggest --out), not a log: apply takes it "
                                 "with --plan"])  # fmt: skip


# ---- nothing of the recipe's own kind is refused ------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["checkout/recipe.yaml", "argo-ci/workflow.yaml", "sfn-checkout/definition.asl.json",
     "tekton-skaffold-demo/pipeline.yaml", "gha-flask-publish/workflow.yml", "sw-ev-charging/workflow.yaml"],
)  # fmt: skip
def test_recipes_and_engine_files_are_still_read(name: str) -> None:
    recipe, findings = check_recipe(ROOT / "recipes" / name)
    assert recipe is not None and not [f for f in findings if f.severity == "error"], findings


def test_a_recipe_without_its_header_keeps_its_schema_findings(tmp_path: Path) -> None:
    """Top-level ``fields:`` and ``operations:`` only, as the parameters have: its operations are a list, so
    it is a recipe missing its header (the schema says what is missing), not generation parameters."""
    doc = yaml.safe_load(RECIPE.read_text())
    for form, text in [("YAML", yaml.safe_dump({"fields": doc["fields"], "operations": doc["operations"]})),
                       ("JSON", json.dumps({"fields": doc["fields"], "operations": doc["operations"]}))]:  # fmt: skip
        p = tmp_path / f"draft.{form.lower()}"
        p.write_text(text)
        recipe, findings = check_recipe(p)
        assert recipe is None and "wrong-kind" not in {f.code for f in findings}
        assert any("apiVersion" in f.message for f in findings), findings
        assert input_kind(text.encode()).kind == "Recipe"  # type: ignore[union-attr]
        code, lines = _out(["profile", str(RECIPE), "--logs", str(p)])
        assert code == 1 and lines == [f"error: {p}: is a recipe ({form}), not a log: give it as the command's "
                                       "first argument, and the spans or traces to --logs"], lines  # fmt: skip
