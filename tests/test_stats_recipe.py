"""stats --recipe: the counts are that recipe's, and a name the store does not hold is refused."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.learn.store import Store

runner = CliRunner()


def _store(tmp_path: Path) -> Path:
    p = tmp_path / "s.sqlite"
    with Store.open(p) as s:
        for name, n in (("shop", 2), ("blog", 1)):
            for v in range(1, n + 1):
                s.record_profile(recipe=name, version=v, sha256=f"{v:064x}", summary={"requests": 10 * v})
    return p


def test_an_unknown_recipe_is_refused_naming_the_ones_held(tmp_path: Path) -> None:
    store = _store(tmp_path)
    res = runner.invoke(app, ["stats", "--store", str(store), "--recipe", "shpo"])
    assert res.exit_code == 1
    assert "--recipe 'shpo': no such recipe in the store (its recipes: blog, shop)" in res.output
    assert "Traceback" not in res.output


def test_the_counts_are_the_recipes_own(tmp_path: Path) -> None:
    store = _store(tmp_path)
    whole = json.loads(runner.invoke(app, ["stats", "--store", str(store), "-f", "json"]).stdout)["counts"]
    shop = json.loads(runner.invoke(app, ["stats", "--store", str(store), "--recipe", "shop", "-f", "json"]).stdout)
    assert whole["recipe_versions"] == 3 and whole["profiles"] == 3
    assert shop["counts"]["recipe_versions"] == 2 and shop["counts"]["profiles"] == 2
    text = runner.invoke(app, ["stats", "--store", str(store), "--recipe", "blog"], env={"COLUMNS": "200"}).output
    assert "(recipe blog): 0 simulated mutations" in text and "1 recipe version" in text, text


def test_a_recipe_asked_of_a_store_not_made_yet_is_refused_too(tmp_path: Path) -> None:
    res = runner.invoke(app, ["stats", "--store", str(tmp_path / "none.sqlite"), "--recipe", "shop"])
    assert res.exit_code == 1 and "no such recipe in the store (there is no store here yet)" in res.output
    assert not (tmp_path / "none.sqlite").exists()


def test_a_very_long_name_is_cut_so_the_reason_is_read(tmp_path: Path) -> None:
    store = _store(tmp_path)
    res = runner.invoke(app, ["stats", "--store", str(store), "--recipe", "A" * 10_000])
    assert res.exit_code == 1 and "...': no such recipe in the store (its recipes: blog, shop)" in res.output
    assert len(res.output) < 400, len(res.output)
