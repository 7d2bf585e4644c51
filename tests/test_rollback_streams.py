"""rollback (and apply, which renders alike) keep stdout for the diff and the outcome: notes go to stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from _apply_helpers import CACHE, PARALLELIZE, make_plan, recipe_with_plan
from typer.testing import CliRunner

from recipemut.cli import app

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return recipe_with_plan(tmp_path)  # plan.json, made from r.yaml as it is now


def _ok(*args: str) -> tuple[str, str]:
    res = runner.invoke(app, list(args), env={"COLUMNS": "400"})  # a sentence on one line
    assert res.exit_code == 0, res.output
    return res.stdout, res.stderr


def test_a_rollback_note_is_on_stderr_and_stdout_keeps_the_diff_and_the_outcome(recipe: Path) -> None:
    _ok("apply", str(recipe), "--plan", str(recipe.with_name("plan.json")))
    _ok("rollback", str(recipe))
    out, err = _ok("rollback", str(recipe))  # a rollback of a rollback: noted
    assert "note: the last entry (2) was a rollback: this redoes entry 1" in err, err
    assert "note:" not in out, out
    assert out.startswith("--- a/r.yaml") and "wrote rollback" in out.splitlines()[-1], out


def test_a_dry_run_note_is_on_stderr(recipe: Path) -> None:
    _ok("apply", str(recipe), "--plan", str(recipe.with_name("plan.json")))
    recipe.chmod(0o444)
    try:
        out, err = _ok("rollback", str(recipe), "--dry-run")
    finally:
        recipe.chmod(0o644)
    assert "note: the recipe is read-only: a real run needs --force" in err, err
    assert "note:" not in out and "would write (dry run, nothing written) rollback" in out, out


# ---- a dry run says what the real run would do ---------------------------------------------------------


def test_a_dry_run_over_a_hand_edit_is_refused_as_the_real_run_is(recipe: Path) -> None:
    """Without --force the rollback is refused; its dry run said 'undo entry 2 (hand-edit)', an entry that
    only --force makes, and exited 0."""
    _ok("apply", str(recipe), "--plan", str(recipe.with_name("plan.json")))
    recipe.write_text(recipe.read_text() + "# by hand\n")
    edited = recipe.read_bytes()
    real = runner.invoke(app, ["rollback", str(recipe)], env={"COLUMNS": "400"})
    dry = runner.invoke(app, ["rollback", str(recipe), "--dry-run"], env={"COLUMNS": "400"})
    assert real.exit_code == dry.exit_code == 1, dry.output
    assert dry.stderr == real.stderr and "changed by hand since history entry 1" in dry.stderr, dry.stderr
    assert dry.stdout == "" and "entry 2" not in dry.output, dry.output
    assert recipe.read_bytes() == edited


def test_a_forced_dry_run_says_the_entry_it_undoes_is_made_first(recipe: Path) -> None:
    _ok("apply", str(recipe), "--plan", str(recipe.with_name("plan.json")))
    applied = recipe.read_text()
    recipe.write_text(applied + "# by hand\n")
    out, err = _ok("rollback", str(recipe), "--dry-run", "--force")
    assert "note: the recipe was edited by hand since the last recorded write: a real run saves it as history " \
           "entry 2 first" in err, err
    assert "would write (dry run, nothing written) rollback — undo entry 2 (hand-edit)" in out, out
    out, err = _ok("rollback", str(recipe), "--force")  # what the dry run said
    assert "recorded history entry 2 (hand-edit)" in out and "undo entry 2 (hand-edit)" in out, out
    assert recipe.read_text() == applied


def test_apply_still_previews_over_a_hand_edit(recipe: Path) -> None:
    """apply's write is the same with or without --force: its dry run shows it, noting that --force is needed."""
    plan = recipe.with_name("plan.json")
    make_plan(recipe, (PARALLELIZE,), out=plan)
    _ok("apply", str(recipe), "--plan", str(plan))
    recipe.write_text(recipe.read_text() + "# by hand\n")
    make_plan(recipe, (CACHE,), out=plan)
    out, err = _ok("apply", str(recipe), "--plan", str(plan), "--dry-run")
    assert "note: the recipe was edited by hand since the last recorded write: a real run needs --force" in err, err
    assert "would write (dry run, nothing written) apply cache:load_cart" in out, out
