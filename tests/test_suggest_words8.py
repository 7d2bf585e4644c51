"""suggest's words, as a new user found them: the limit a cut search names, the verdict's "agree",
units, logs too few to judge, and wrapped Plan and Structural diff lines keeping their indent."""

from __future__ import annotations

from pathlib import Path

from _wide_helpers import write_wide as wide
from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT, CHECKOUT_LOGS = ROOT / "recipes" / "checkout" / "recipe.yaml", ROOT / "recipes" / "checkout" / "logs.jsonl.gz"


def flat(text: str) -> str:
    return " ".join(text.split())


# ---- the limit that stopped the search --------------------------------------------------------------------


def test_a_search_stopped_by_the_time_budget_names_only_the_time_budget(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 10)
    args = ["suggest", str(recipe_path), "--logs", str(logs), "-q", "--time-budget", "0", "--budget", "400"]
    got = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    text = flat(got.output)
    assert "within the 0 s time budget" in text
    assert "raise --time-budget)" in text
    assert "--budget " not in text and "--budget)" not in text and "--budget or" not in text


def test_a_search_stopped_by_the_candidate_budget_names_only_the_budget(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 30)
    args = ["suggest", str(recipe_path), "--logs", str(logs), "-q", "--budget", "4"]
    got = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    text = flat(got.output)
    assert "the budget of 4 evaluated candidates ran out; raise --budget)" in text
    assert "--time-budget" not in text
