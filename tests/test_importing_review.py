"""`recipemut import -o`: cases found in review (recipemut/usecases/importing.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[1]
DIAMOND = ROOT / "tests" / "realdata" / "engines" / "argo" / "dag-diamond.yaml"
runner = CliRunner()


def test_import_refuses_to_replace_a_recipe_that_has_a_history(tmp_path: Path) -> None:
    # -o over a tracked recipe replaced it outside apply/rollback: its history then no longer
    # matched, and the next apply refused the recipe as edited by hand
    recipe = tmp_path / "recipe.yaml"
    shutil.copy(ROOT / "recipes" / "checkout" / "recipe.yaml", recipe)
    history = tmp_path / "recipe.yaml.history.jsonl"
    history.write_text("")  # its presence is what marks the recipe as tracked
    before = recipe.read_bytes()
    res = runner.invoke(app, ["import", str(DIAMOND), "-o", str(recipe)], env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert f"--out {recipe}: is a recipe with a history (recipe.yaml.history.jsonl)" in res.output
    assert recipe.read_bytes() == before


def test_import_writes_again_over_what_it_wrote_but_never_over_a_users_recipe(tmp_path: Path) -> None:
    out = tmp_path / "recipe.yaml"
    for _ in range(2):  # an untracked recipe import wrote: written again
        res = runner.invoke(app, ["import", str(DIAMOND), "-o", str(out)], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert out.read_text().startswith("# Imported by `recipemut import`")
    mine = "name: old\noperations:\n  a: {service: s, action: a}\n"  # a recipe someone wrote: it would be lost
    out.write_text(mine)
    res = runner.invoke(app, ["import", str(DIAMOND), "-o", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "already exists (" in res.output and "give --force to replace it" in res.output
    assert out.read_text() == mine
    res = runner.invoke(app, ["import", str(DIAMOND), "-o", str(out), "--force"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and out.read_text().startswith("# Imported by `recipemut import`")


def test_import_of_a_run_history_says_it_is_a_log(tmp_path: Path) -> None:
    """It was the schema's first complaint (`apiVersion: expected 'recipemut/v1', got text ('v1')`), where
    validate and profile said what the file is."""
    for name, words in (("argo-ci/runs.yaml", "an Argo run history"),
                        ("sfn-checkout/runs.jsonl", "a Step Functions execution history")):  # fmt: skip
        out = tmp_path / "r.yaml"
        res = runner.invoke(app, ["import", str(ROOT / "recipes" / name), "-o", str(out)], env={"COLUMNS": "300"})
        assert res.exit_code == 1 and f"this file holds {words}, not a recipe: it is a log" in res.output, res.output
        assert "apiVersion" not in res.output and not out.exists()
