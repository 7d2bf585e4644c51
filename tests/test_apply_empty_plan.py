"""apply on a plan that chooses no mutation: nothing to apply is not a failure (exit 0, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.apply.history import history_path
from recipemut.cli import app
from recipemut.plan.planfile import load_plan, write_plan

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "recipe.yaml"
    r.write_text(RECIPE_TEXT)
    return r


def test_a_plan_of_no_mutation_applies_nothing_and_exits_0(recipe: Path) -> None:
    """What suggest writes when no mutation improves the recipe: a pipeline's apply must not fail."""
    plan = make_plan(recipe, mutations=())
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "nothing to apply" in res.output and "suggest found no mutation that improves the recipe" in res.output
    assert "--only" not in res.output  # there is no id to pick
    assert recipe.read_text() == RECIPE_TEXT and not history_path(recipe).exists()


def test_candidates_none_chosen_names_them_for_only(recipe: Path) -> None:
    plan = make_plan(recipe, mutations=(PARALLELIZE, CACHE))
    emptied = load_plan(plan)
    write_plan(type(emptied)(emptied.recipe, emptied.mutations, ()), plan)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan), "-f", "json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    assert got["written"] is False and got["mutations"] == []
    assert f"{PARALLELIZE.id}, {CACHE.id}; --only ID applies one" in got["reason"]
    assert got["sha256_before"] == got["sha256_after"] and got["history_entries"] == [] and got["diff"] == ""
    assert recipe.read_text() == RECIPE_TEXT and not history_path(recipe).exists()
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan), "--only", CACHE.id, "-f", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["mutations"] == [CACHE.id], res.output


def test_the_rest_of_a_partly_applied_plan_is_refused_saying_so(recipe: Path) -> None:
    """apply --only one mutation, then the whole plan: the recipe moved on; the refusal names the
    entry that applied part of this plan, instead of a bare stale-plan with two hashes."""
    plan = make_plan(recipe, mutations=(PARALLELIZE, CACHE))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan), "--only", CACHE.id])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan)], env={"COLUMNS": "200"})
    assert res.exit_code == 1
    assert f"this plan was partly applied as history entry 1 ({CACHE.id}); its other mutations" in res.output
    assert "run suggest again to plan the rest" in res.output


def test_a_plan_of_no_mutation_still_checks_the_recipe(recipe: Path, tmp_path: Path) -> None:
    """Nothing to apply is said of this recipe as the plan saw it: a missing recipe, or one changed
    since, is refused as for any plan (a reviewer found exit 0 for a recipe that did not exist)."""
    plan = make_plan(recipe, mutations=())
    res = runner.invoke(app, ["apply", str(tmp_path / "nope.yaml"), "--plan", str(plan)])
    assert res.exit_code == 1 and "no such file" in res.output, res.output
    recipe.write_text(RECIPE_TEXT.replace("version: 4", "version: 5"))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan)], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "stale plan" in res.output, res.output
