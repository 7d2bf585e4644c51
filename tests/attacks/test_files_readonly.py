"""A read-only recipe is not replaced (a writable folder would let a rename do it) unless --force."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT
from typer.testing import CliRunner

from recipemut.apply.transaction import rollback
from recipemut.cli import app
from recipemut.errors import RecipemutError

runner = CliRunner()


def _history(recipe: Path) -> Path:
    return recipe.with_name(recipe.name + ".history.jsonl")


def test_apply_refuses_a_read_only_recipe_and_writes_nothing(recipe: Path) -> None:
    os.chmod(recipe, 0o444)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))])
    assert res.exit_code == 1, res.output
    assert "read-only" in res.output and "--force" in res.output and "checkout.yaml" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert recipe.read_text() == RECIPE_TEXT and not _history(recipe).exists()


def test_apply_force_writes_a_read_only_recipe_and_keeps_its_mode(recipe: Path) -> None:
    os.chmod(recipe, 0o444)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--force"])
    assert res.exit_code == 0, res.output
    assert recipe.read_text() != RECIPE_TEXT
    assert stat.S_IMODE(recipe.stat().st_mode) == 0o444


def test_rollback_refuses_a_read_only_recipe_unless_force(recipe: Path) -> None:
    assert runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))]).exit_code == 0
    applied = recipe.read_text()
    os.chmod(recipe, 0o400)
    res = runner.invoke(app, ["rollback", str(recipe)])
    assert res.exit_code == 1 and "read-only" in res.output, res.output
    assert recipe.read_text() == applied
    with pytest.raises(RecipemutError, match="read-only"):
        rollback(recipe)
    assert rollback(recipe, force=True).written and recipe.read_text() == RECIPE_TEXT


def test_a_dry_run_of_a_read_only_recipe_says_a_real_run_needs_force(recipe: Path) -> None:
    os.chmod(recipe, 0o444)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "read-only" in res.output


@pytest.mark.parametrize("command", ["apply", "rollback", "evaluate"])
def test_force_is_documented_in_help(command: str) -> None:
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "read-only" in " ".join(res.output.split())
