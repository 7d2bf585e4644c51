"""Files a command is told to write (--out, --plot, --store) are never one of its inputs, the files
kept beside the recipe, a link, a FIFO or a folder; a store is never made in a folder that is not there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files.write import check_output_path, lock_path
from recipemut.learn.store import Store, StoreError

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """A recipe with a one-entry history (and so a lock file)."""
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)
    assert runner.invoke(app, ["apply", str(r), "--plan", str(r.with_name("plan.json"))]).exit_code == 0
    return r


def _history(recipe: Path) -> Path:
    return recipe.with_name(recipe.name + ".history.jsonl")


def _snapshot(folder: Path) -> dict[str, bytes | str]:
    return {p.name: (os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "dir")
            for p in sorted(folder.iterdir())}


def _refused(res: object, *words: str) -> None:
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 1, out  # type: ignore[attr-defined]
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    for w in words:
        assert w in out, out


@pytest.mark.parametrize("which", ["recipe", "history", "lock"])
def test_graph_out_never_overwrites_the_recipe_or_what_lies_beside_it(recipe: Path, which: str) -> None:
    target = {"recipe": recipe, "history": _history(recipe), "lock": lock_path(recipe)}[which]
    before = _snapshot(recipe.parent)
    _refused(runner.invoke(app, ["graph", str(recipe), "--out", str(target)]), "--out", "the recipe")
    assert _snapshot(recipe.parent) == before


def test_graph_out_refuses_a_link_even_to_a_harmless_file(recipe: Path, tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("keep\n")
    (tmp_path / "g.mmd").symlink_to(tmp_path / "other.txt")
    _refused(runner.invoke(app, ["graph", str(recipe), "--out", str(tmp_path / "g.mmd")]), "symbolic link")
    assert (tmp_path / "other.txt").read_text() == "keep\n"


def test_graph_out_refuses_another_name_for_the_recipe(recipe: Path, tmp_path: Path) -> None:
    os.link(recipe, tmp_path / "alias.yaml")
    before = recipe.read_bytes()
    _refused(runner.invoke(app, ["graph", str(recipe), "--out", str(tmp_path / "alias.yaml")]), "the recipe")
    assert recipe.read_bytes() == before


def test_graph_out_refuses_a_fifo(recipe: Path, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "g.mmd")
    _refused(runner.invoke(app, ["graph", str(recipe), "--out", str(tmp_path / "g.mmd")]), "FIFO")


def test_graph_out_still_writes_a_new_file(recipe: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["graph", str(recipe), "--out", str(tmp_path / "g.mmd")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g.mmd").read_text().startswith("flowchart")


def test_forecast_plot_and_generate_out_never_overwrite_the_recipe(recipe: Path, tmp_path: Path) -> None:
    before = _snapshot(recipe.parent)
    res = runner.invoke(app, ["generate", str(recipe), "-n", "10", "--out", str(recipe)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output  # not a log's name: a usage error
    _refused(runner.invoke(app, ["generate", str(recipe), "-n", "10", "--out", str(_history(recipe))]),
             "the recipe's history")
    svg = tmp_path / "h.svg"
    svg.symlink_to(_history(recipe))
    log = tmp_path / "l.jsonl"
    log.write_text("")
    _refused(runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--plot", str(svg)]),
             "--plot", "the recipe's history")
    _refused(runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--plot", str(tmp_path / "l.svg"),
                                 "--logs", str(tmp_path / "l.svg")]), "--plot", "one of the logs")
    svg.unlink()
    log.unlink()
    assert _snapshot(recipe.parent) == before


def test_suggest_out_refuses_the_lock(recipe: Path) -> None:
    before = _snapshot(recipe.parent)
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(recipe.with_name("nolog.jsonl")),
                              "--out", str(lock_path(recipe))])
    _refused(res, "--out", "lock file")
    assert _snapshot(recipe.parent) == before


def test_check_output_path_names_what_the_file_is(recipe: Path, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is the plan"):
        check_output_path(tmp_path / "plan.json", inputs={tmp_path / "plan.json": "the plan"})
    with pytest.raises(InputFileError, match="a directory"):
        check_output_path(tmp_path)
    with pytest.raises(InputFileError, match="does not exist"):
        check_output_path(tmp_path / "no" / "x.json")
    assert check_output_path(tmp_path / "fine.json", recipes=[recipe]) == tmp_path / "fine.json"


# ---- --store ----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["recipe", "history", "lock", "plan"])
def test_store_never_turns_an_input_into_sqlite(recipe: Path, which: str) -> None:
    target = {"recipe": recipe, "history": _history(recipe), "lock": lock_path(recipe),
              "plan": recipe.with_name("plan.json")}[which]
    before = _snapshot(recipe.parent)
    with pytest.raises(StoreError, match="not a usable recipemut store"):
        Store.open(target)
    res = runner.invoke(app, ["stats", "--store", str(target)])
    _refused(res, "--store")
    assert _snapshot(recipe.parent) == before
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 0, res.output


def test_store_refuses_the_history_even_when_empty(tmp_path: Path) -> None:
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE_TEXT)
    _history(r).write_text("")
    res = runner.invoke(app, ["suggest", str(r), "--logs", str(tmp_path / "l.jsonl"), "--store", str(_history(r))])
    _refused(res, "--store", "the recipe's history")
    assert _history(r).read_text() == ""


def test_store_in_a_missing_folder_is_refused_not_created(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nonexistent" / "dir" / "s.db")
    assert not (tmp_path / "nonexistent").exists()
    res = runner.invoke(app, ["stats", "--store", str(tmp_path / "nonexistent" / "s.db")])
    assert not (tmp_path / "nonexistent").exists()
    assert res.exit_code in (0, 1)


def test_the_default_store_folder_is_still_made(tmp_path: Path) -> None:
    with Store.open(tmp_path / ".recipemut" / "store.sqlite") as s:
        assert s.schema_version > 0
    assert (tmp_path / ".recipemut" / "store.sqlite").is_file()


@pytest.mark.parametrize("uri", ["file:s.db", "file:///tmp/x/s.db", "file:s.db?mode=rwc"])
def test_a_file_uri_as_store_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="URI"):
        Store.open(uri)
    res = runner.invoke(app, ["stats", "--store", uri])
    _refused(res, "URI")
    assert list(tmp_path.iterdir()) == []


def test_a_store_that_is_a_fifo_or_folder_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "s.db")
    with pytest.raises(StoreError, match="FIFO"):
        Store.open(tmp_path / "s.db")
    with pytest.raises(StoreError, match="directory"):
        Store.open(tmp_path)
