"""A disk that fills up (or a permission refused) mid-write is one line naming the file, never a
traceback, and leaves no temporary file and no half-written file behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app

runner = CliRunner()


def _history(recipe: Path) -> Path:
    return recipe.with_name(recipe.name + ".history.jsonl")


def _no_temps(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def _failing(real: Callable[..., Any], err: int, when: Callable[..., bool] = lambda *a: True) -> Callable[..., Any]:
    def fail(*args: Any) -> Any:
        if when(*args):
            raise OSError(err, os.strerror(err))
        return real(*args)

    return fail


def _one_line(output: str) -> str:
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.parametrize("call", ["fsync", "replace"])
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EACCES])
def test_apply_on_a_full_disk_is_one_line_and_writes_nothing(recipe: Path, monkeypatch: pytest.MonkeyPatch,
                                                              call: str, err: int) -> None:
    monkeypatch.setattr(os, call, _failing(getattr(os, call), err))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))])
    monkeypatch.undo()
    assert res.exit_code == 1, res.output
    line = _one_line(res.output)
    assert os.strerror(err) in line and "checkout.yaml.history.jsonl" in line
    assert recipe.read_text() == RECIPE_TEXT and not _history(recipe).exists()
    _no_temps(recipe.parent)


def test_a_recipe_that_cannot_be_replaced_after_its_history_says_what_happened(
    recipe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "replace", _failing(os.replace, errno.ENOSPC, lambda src, dst: str(dst) == str(recipe)))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))])
    monkeypatch.undo()
    assert res.exit_code == 1, res.output
    line = _one_line(res.output)
    assert "No space left on device" in line and "entry 1" in line
    assert recipe.read_text() == RECIPE_TEXT
    _no_temps(recipe.parent)
    res = runner.invoke(app, ["history", str(recipe)])  # the next look says the write was interrupted
    assert res.exit_code == 0 and "interrupted" in res.output, res.output


def test_rollback_on_a_full_disk_is_one_line(recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))]).exit_code == 0
    applied, history = recipe.read_bytes(), _history(recipe).read_bytes()
    monkeypatch.setattr(os, "fsync", _failing(os.fsync, errno.ENOSPC))
    res = runner.invoke(app, ["rollback", str(recipe)])
    monkeypatch.undo()
    assert res.exit_code == 1, res.output
    assert "No space left on device" in _one_line(res.output)
    assert recipe.read_bytes() == applied and _history(recipe).read_bytes() == history
    _no_temps(recipe.parent)


def test_graph_out_on_a_full_disk_is_one_line(recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "g.mmd"
    out.write_text("old\n")
    monkeypatch.setattr(os, "fsync", _failing(os.fsync, errno.ENOSPC))
    res = runner.invoke(app, ["graph", str(recipe), "--out", str(out)])
    monkeypatch.undo()
    assert res.exit_code == 1, res.output
    assert "g.mmd" in _one_line(res.output) and out.read_text() == "old\n"
    _no_temps(tmp_path)


def test_writing_a_plan_on_a_full_disk_is_one_error(recipe: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from recipemut.errors import InputFileError

    monkeypatch.setattr(os, "replace", _failing(os.replace, errno.ENOSPC))
    with pytest.raises(InputFileError, match="No space left on device") as e:
        make_plan(recipe, out=tmp_path / "p2.json")
    monkeypatch.undo()
    assert str(tmp_path / "p2.json") in str(e.value) and not (tmp_path / "p2.json").exists()
    _no_temps(tmp_path)
