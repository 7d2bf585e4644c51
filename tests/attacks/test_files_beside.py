"""The history and temp files beside a recipe are never followed through links nor opened when odd;
the recipe itself reached through a link still is (its target is written, the files sit beside it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.apply.history import read_history
from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files.write import atomic_write

runner = CliRunner()


def _history(recipe: Path) -> Path:
    return recipe.with_name(recipe.name + ".history.jsonl")


def _apply(recipe: Path, *extra: str) -> object:
    return runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), *extra])


def test_a_dangling_history_link_creates_nothing_outside(recipe: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    _history(recipe).symlink_to(outside / "planted.jsonl")
    res = _apply(recipe)
    assert res.exit_code == 1, res.output
    assert "symbolic link" in res.output and "checkout.yaml.history.jsonl" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert not (outside / "planted.jsonl").exists()
    assert recipe.read_text() == RECIPE_TEXT


def test_a_history_link_to_another_file_does_not_overwrite_it(recipe: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text("")  # an empty history parses: the link would be written through
    _history(recipe).symlink_to(other)
    res = _apply(recipe)
    assert res.exit_code == 1, res.output
    assert other.read_text() == "" and recipe.read_text() == RECIPE_TEXT
    assert _history(recipe).is_symlink()
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 1 and "symbolic link" in res.output, res.output


def test_a_history_that_is_a_folder_is_refused(recipe: Path) -> None:
    _history(recipe).mkdir()
    res = _apply(recipe)
    assert res.exit_code == 1, res.output
    assert "a directory, not a regular file" in res.output and recipe.read_text() == RECIPE_TEXT


def test_a_history_that_is_a_fifo_is_refused_without_blocking(recipe: Path) -> None:
    os.mkfifo(_history(recipe))
    for args in (["history", str(recipe)], ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))]):
        proc = subprocess.run([sys.executable, "-m", "recipemut", *args], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "RECIPEMUT_STORE": "off"})
        assert proc.returncode == 1, proc.stderr
        assert "FIFO" in proc.stderr and "Traceback" not in proc.stderr
    assert recipe.read_text() == RECIPE_TEXT


def test_writing_the_history_never_follows_a_link_made_after_reading(recipe: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep\n")
    _history(recipe).symlink_to(victim)
    with pytest.raises(InputFileError, match="symbolic link"):
        atomic_write(_history(recipe), b"x\n", follow=False, what="history")
    assert victim.read_text() == "keep\n"


def test_a_recipe_that_is_a_link_is_still_written_through(recipe: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    target = real / "checkout.yaml"
    target.write_text(RECIPE_TEXT)
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    make_plan(link, out=tmp_path / "plan.json")
    res = runner.invoke(app, ["apply", str(link), "--plan", str(tmp_path / "plan.json")])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.read_text() != RECIPE_TEXT
    assert len(read_history(target)) == 1 and (real / "checkout.yaml.lock").is_file()
