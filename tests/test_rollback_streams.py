"""rollback (and apply, which renders alike) keep stdout for the diff and the outcome: notes go to stderr."""

from __future__ import annotations

from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)  # plan.json, made from r.yaml as it is now
    return r


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
