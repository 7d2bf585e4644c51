"""Plan values are bounded: size, nesting depth, integer digits, finite numbers; every refusal is one
line naming the plan file and the thing at fault, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.apply.history import history_path
from recipemut.cli import app
from recipemut.plan.planfile import MAX_PLAN_DEPTH, MAX_PLAN_INT_DIGITS, load_plan

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    return r


def _one_line_refusal(recipe: Path, plan: Path, named: Path | None = None) -> str:
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan)])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 1, res.output
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and str(named or plan) in err, err
    assert recipe.read_text() == RECIPE_TEXT and not history_path(recipe).exists()
    return err


def _plan_doc(recipe: Path) -> dict:
    return json.loads(make_plan(recipe).read_text())


def test_an_integer_of_thousands_of_digits_is_refused_naming_its_path(recipe: Path) -> None:
    doc = _plan_doc(recipe)
    text = json.dumps(doc).replace('"ttl_s": 600', '"ttl_s": ' + "9" * 5000)
    (plan := recipe.with_name("big.json")).write_text(text)
    err = _one_line_refusal(recipe, plan)
    assert "mutations[1].edits[0].value.ttl_s" in err and "5000 digits" in err
    assert f"at most {MAX_PLAN_INT_DIGITS}" in err


def test_a_plan_nested_100000_deep_is_refused_before_parsing(recipe: Path) -> None:
    (plan := recipe.with_name("deep.json")).write_text('{"planVersion": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    err = _one_line_refusal(recipe, plan)
    assert f"deeper than {MAX_PLAN_DEPTH}" in err and ":1:" in err


def test_brackets_inside_strings_do_not_count_as_nesting(recipe: Path) -> None:
    doc = _plan_doc(recipe)
    doc["mutations"][0]["description"] = "[{" * 5000 + '\\"'
    (plan := recipe.with_name("p.json")).write_text(json.dumps(doc))
    assert load_plan(plan).mutations[0].description.startswith("[{[{")


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_non_finite_prediction_is_refused_naming_its_path(recipe: Path, number: str) -> None:
    text = make_plan(recipe).read_text().replace('"delta": -41.0', f'"delta": {number}')
    (plan := recipe.with_name("nan.json")).write_text(text)
    err = _one_line_refusal(recipe, plan)
    assert "mutations[0].predicted.latency_p95_ms.delta" in err and "finite" in err


def test_a_lone_surrogate_in_a_plan_string_is_refused(recipe: Path) -> None:
    text = make_plan(recipe).read_text().replace('"Cache load_cart for 600 s."', '"bad \\ud800"')
    (plan := recipe.with_name("s.json")).write_text(text)
    err = _one_line_refusal(recipe, plan)
    assert "mutations[1].description" in err


def test_an_append_edit_on_an_operation_is_one_line(recipe: Path) -> None:
    doc = _plan_doc(recipe)
    doc["mutations"][1]["edits"] = [{"op": "append", "path": ["operations", "load_cart"], "value": 1}]
    (plan := recipe.with_name("a.json")).write_text(json.dumps(doc))
    assert "operations.load_cart" in _one_line_refusal(recipe, plan, named=recipe)


def test_the_apply_of_an_append_to_a_mapping_is_a_mutation_error() -> None:
    from recipemut.errors import MutationError
    from recipemut.recipe.edits import Edit, apply_edits

    doc = {"operations": [{"id": "a", "service": "s"}]}
    for e in (Edit("append", ("operations", "a"), 1), Edit("set", ("operations", "a", "service", "x"), 1),
              Edit("remove", ("operations", "a", "service", "s")), Edit("append", ("operations", "a", "service"), 1)):
        with pytest.raises(MutationError):
            apply_edits(doc, [e])
