"""A history that lost its last lines verifies on its own; the record in the lock file tells it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.write import lock_path

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """A recipe with a three-entry history: apply, rollback, rollback (undo of the rollback)."""
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)
    for args in (["apply", str(r), "--plan", str(r.with_name("plan.json"))], ["rollback", str(r)],
                 ["rollback", str(r)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    return r


def _history(recipe: Path) -> Path:
    return recipe.with_name(recipe.name + ".history.jsonl")


def _keep_lines(recipe: Path, n: int) -> None:
    lines = _history(recipe).read_text().splitlines(keepends=True)
    assert len(lines) == 3
    _history(recipe).write_text("".join(lines[:n]))


@pytest.mark.parametrize("keep", [0, 1, 2])
def test_history_reports_a_truncated_history_with_exit_1(recipe: Path, keep: int) -> None:
    _keep_lines(recipe, keep)
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 1, res.output
    assert "truncated" in res.output and "entry 3 was written" in res.output
    assert "chain verified" not in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["rollback"], ["rollback", "--force"], ["apply", "--force"]])
def test_writes_do_not_build_on_a_truncated_history(recipe: Path, command: list[str]) -> None:
    _keep_lines(recipe, 1)
    before_recipe, before_history = recipe.read_bytes(), _history(recipe).read_bytes()
    args = [command[0], str(recipe), *command[1:]]
    if command[0] == "apply":
        make_plan(recipe)
        args += ["--plan", str(recipe.with_name("plan.json"))]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "truncated" in res.output
    assert recipe.read_bytes() == before_recipe and _history(recipe).read_bytes() == before_history


def test_a_removed_history_is_reported_too(recipe: Path) -> None:
    _history(recipe).unlink()
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 1 and "history file is missing" in res.output, res.output


def test_a_replaced_chain_is_reported(recipe: Path, tmp_path: Path) -> None:
    # a different, valid one-entry chain of the same recipe, written elsewhere
    other = tmp_path / "other"
    other.mkdir()
    (other / "checkout.yaml").write_text(RECIPE_TEXT + "# another\n")
    make_plan(other / "checkout.yaml")
    for _ in range(3):
        assert runner.invoke(app, ["apply", str(other / "checkout.yaml"), "--plan",
                                   str(other / "plan.json"), "--force"]).exit_code in (0, 1)
    _history(recipe).write_bytes(_history(other / "checkout.yaml").read_bytes())
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 1 and ("replaced" in res.output or "truncated" in res.output), res.output


def test_removing_the_lock_accepts_the_history_as_it_is(recipe: Path) -> None:
    _keep_lines(recipe, 1)
    lock_path(recipe).unlink()
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 0, res.output
    assert "chain verified (1 entry)" in res.output


def test_a_lock_without_the_record_keeps_old_histories_valid(recipe: Path) -> None:
    lock_path(recipe).write_text("12345\n")  # as an earlier recipemut left it
    res = runner.invoke(app, ["history", str(recipe), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["state"] == "recorded"
    assert runner.invoke(app, ["rollback", str(recipe)]).exit_code == 0
    assert "history 4 " in lock_path(recipe).read_text()


def test_a_hand_edit_is_still_a_hand_edit(recipe: Path) -> None:
    recipe.write_text(recipe.read_text() + "# edited\n")
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 0, res.output
    assert "edited by hand" in res.output and "or the history lost entries after it" in res.output
