"""What `profile` keeps in the store: each profile under the recipe version that logged its spans."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from _forecast_helpers import two_service_doc
from typer.testing import CliRunner

from recipemut import loggen
from recipemut.apply.history import new_entry, write_history
from recipemut.cli import app
from recipemut.learn.records import versions_of_requests
from recipemut.recipe.model import recipe_from_dict

runner = CliRunner()


def _write_recipe(path: Path, version: int) -> str:
    text = yaml.safe_dump({**two_service_doc(), "version": version}, sort_keys=False)
    path.write_text(text)
    return text


def _log(path: Path, version: int, n: int, seed: int, *, logged: bool = True) -> Path:
    """``n`` requests of the two-service recipe at ``version`` (spans saying so unless not ``logged``)."""
    spans = loggen.generate_spans(recipe_from_dict({**two_service_doc(), "version": version}), n_requests=n,
                                  seed=seed, duration_s=3600.0)  # fmt: skip
    assert set(spans["recipe_version"]) == {version}  # the generator logs the version it ran
    if not logged:
        spans = spans.assign(recipe_version=pd.array([None] * len(spans), dtype="Int64"))
    spans = spans.assign(request_id=[f"v{version}-{r}" for r in spans["request_id"]])
    loggen.write_jsonl(spans, path)
    return path


def _profile(recipe: Path, store: Path, *logs: Path) -> None:
    res = runner.invoke(app, ["profile", str(recipe), *(a for log in logs for a in ("--logs", str(log))),
                              "--store", str(store)])
    assert res.exit_code == 0, res.output


def _profiled(store: Path) -> list[dict[str, Any]]:
    res = runner.invoke(app, ["stats", "--store", str(store), "--format", "json"])
    assert res.exit_code == 0, res.output
    rows: list[dict[str, Any]] = json.loads(res.stdout)["profiled_versions"]
    return rows


def test_logs_of_an_older_version_are_kept_under_it(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    _write_recipe(recipe, 4)  # the recipe moved on; its logs are still version 3's, and no history says its text
    _profile(recipe, tmp_path / "s.sqlite", _log(tmp_path / "old.jsonl", 3, 120, 1))
    (row,) = _profiled(tmp_path / "s.sqlite")
    assert (row["recipe"], row["version"], row["sha256"]) == ("shop", 3, None)  # not version 4's file
    assert row["last_summary"]["requests"] == 120
    res = runner.invoke(app, ["stats", "--store", str(tmp_path / "s.sqlite")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert [line.split()[:3] for line in res.output.splitlines() if line.startswith("shop ")] == [["shop", "3", "-"]]


def test_a_log_of_two_versions_is_kept_per_version_as_each_alone(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    old_text = _write_recipe(recipe, 3)
    new_text = _write_recipe(recipe, 4)
    write_history(recipe, [new_entry(None, action="hand-edit", previous_text=old_text, text=new_text,
                                     version_before=3, version=4)])  # fmt: skip
    old, new = _log(tmp_path / "old.jsonl", 3, 150, 1), _log(tmp_path / "new.jsonl", 4, 90, 2)
    _profile(recipe, tmp_path / "both.sqlite", old, new)
    both = _profiled(tmp_path / "both.sqlite")
    assert [(r["version"], r["last_summary"]["requests"]) for r in both] == [(3, 150), (4, 90)]
    assert both[0]["sha256"] == hashlib.sha256(old_text.encode()).hexdigest()  # version 3's text, from the history
    assert both[1]["sha256"] == hashlib.sha256(recipe.read_bytes()).hexdigest()  # the file as it is
    for log, row in ((old, both[0]), (new, both[1])):  # each version's summary is that of its log profiled alone
        _profile(recipe, tmp_path / f"{log.stem}.sqlite", log)
        (alone,) = _profiled(tmp_path / f"{log.stem}.sqlite")
        assert (alone["version"], alone["sha256"], alone["last_summary"]) == (
            row["version"], row["sha256"], row["last_summary"])  # fmt: skip


def test_spans_without_a_version_are_the_current_one(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    _write_recipe(recipe, 4)
    _profile(recipe, tmp_path / "s.sqlite", _log(tmp_path / "bare.jsonl", 3, 60, 3, logged=False))
    (row,) = _profiled(tmp_path / "s.sqlite")
    assert (row["version"], row["sha256"]) == (4, hashlib.sha256(recipe.read_bytes()).hexdigest())


def test_a_request_is_of_the_version_its_spans_logged() -> None:
    spans = pd.DataFrame({"request_id": ["a", "a", "b", "b", "c"],
                          "recipe_version": pd.array([None, 4, 5, 5, None], dtype="Int64")})  # fmt: skip
    assert versions_of_requests(spans, 6).tolist() == [4, 4, 5, 5, 6]
    assert versions_of_requests(spans.iloc[2:4], 6).tolist() == [5, 5]
    assert versions_of_requests(spans.drop(columns="recipe_version"), 6).tolist() == [6] * 5
