"""A new user's findings on apply, rollback and stats: a refused write leaves no lock file behind."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from _apply_helpers import PARALLELIZE, RECIPE_TEXT, make_plan
from recipes import ROOT
from typer.testing import CliRunner

from recipemut.apply.transaction import apply_plan
from recipemut.cli import app
from recipemut.files.write import lock_path, lock_records
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.plan.planfile import load_plan
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe

runner = CliRunner()


def _folder(d: Path) -> dict[str, bytes]:
    """Every entry of a folder (names, and the bytes of files), to compare before and after a command."""
    return {p.name: b"<folder>" if p.is_dir() else p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)  # plan.json, made from r.yaml as it is now
    return r


def _refused(args: list[str], folder: Path, *needles: str) -> None:
    before = _folder(folder)
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    for n in needles:
        assert n in res.output, res.output
    assert _folder(folder) == before  # no r.yaml.lock, nothing else made or changed


# ---- 1. a refused write leaves the folder as it was ---------------------------------------------------


def test_a_stale_plan_refused_leaves_no_lock_file(recipe: Path) -> None:
    r2 = recipe.with_name("r2.yaml")
    r2.write_text(RECIPE_TEXT + "# touched\n")
    _refused(["apply", str(r2), "--plan", str(recipe.with_name("plan.json"))], recipe.parent, "stale plan")


def test_a_plan_for_another_recipe_refused_leaves_no_lock_file(recipe: Path) -> None:
    media = recipe.with_name("media.yaml")
    shutil.copyfile(ROOT / "recipes" / "media" / "recipe.yaml", media)
    _refused(["apply", str(media), "--plan", str(recipe.with_name("plan.json"))], recipe.parent,
             "this plan was made for recipe 'checkout'")


@pytest.mark.parametrize("canary", [[], ["--canary", "0.2"]])
def test_a_read_only_recipe_refused_leaves_no_lock_file(recipe: Path, canary: list[str]) -> None:
    recipe.chmod(0o444)
    try:
        _refused(["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), *canary], recipe.parent,
                 "read-only")
    finally:
        recipe.chmod(0o644)


def test_a_plan_whose_edits_are_refused_leaves_no_lock_file(recipe: Path) -> None:
    # an edit its operator does not make (parallelize removing an operation): refused, nothing written
    bad = replace(PARALLELIZE, edits=(Edit("remove", ("operations", "load_cart")),))
    make_plan(recipe, (bad,))
    _refused(["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))], recipe.parent, "r.yaml")


@pytest.mark.parametrize("how", [[], ["--to", "3"], ["--entry", "1"]])
def test_rollback_of_a_recipe_without_history_leaves_no_lock_file(recipe: Path, how: list[str]) -> None:
    _refused(["rollback", str(recipe), *how], recipe.parent, "r.yaml")


def test_a_dry_run_leaves_no_lock_file(recipe: Path) -> None:
    before = _folder(recipe.parent)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--dry-run"])
    assert res.exit_code == 0 and "dry run" in res.output, res.output
    assert _folder(recipe.parent) == before


def test_a_write_still_takes_the_lock_and_records_its_entry(recipe: Path) -> None:
    assert not lock_path(recipe).exists()
    w = apply_plan(recipe, load_plan(recipe.with_name("plan.json")))
    assert w.written and lock_path(recipe).exists()
    assert lock_records(recipe)["history"].split()[0] == "1"  # the lock keeps the history's last entry


def test_a_refusal_after_the_lock_file_was_removed_by_hand_leaves_none(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    assert runner.invoke(app, ["apply", str(recipe), "--plan", plan]).exit_code == 0
    os.unlink(lock_path(recipe))  # "removing the lock file accepts the history as it is"
    _refused(["apply", str(recipe), "--plan", plan], recipe.parent, "already applied as history entry 1")
    recipe.write_text(recipe.read_text() + "# by hand\n")
    _refused(["rollback", str(recipe)], recipe.parent, "changed by hand")


def test_evaluate_refused_leaves_no_lock_file(recipe: Path, tmp_path: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--canary", "0.2"])
    assert res.exit_code == 0, res.output
    os.unlink(lock_path(recipe))
    logs = tmp_path / "logs" / "worse.jsonl"
    logs.parent.mkdir()
    spans = generate_spans(load_recipe(recipe), 3000, seed=7, variants={"canary": 0.2},
                           treatment={"canary": {"*": 2.0}}, duration_s=3600)
    write_jsonl(spans, logs)
    recipe.chmod(0o444)
    try:
        _refused(["evaluate", str(recipe), "--logs", str(logs)], recipe.parent, "read-only")
    finally:
        recipe.chmod(0o644)
