"""Times `history` and `stats` show say their zone, one way in both commands and in their JSON."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.apply.history import new_entry, write_history
from recipemut.cli import app
from recipemut.files.text import utc_iso, utc_text
from recipemut.learn.store import Store

runner = CliRunner()
WHEN = datetime(2026, 12, 6, 19, 40, 12, tzinfo=timezone.utc)


def _history(tmp_path: Path) -> Path:
    recipe = tmp_path / "r.yaml"
    before, after = "version: 1\n", "version: 2\n"
    recipe.write_text(after)
    write_history(recipe, [new_entry(None, action="apply", previous_text=before, text=after, version_before=1,
                                     version=2, time="2026-12-06T19:40:12Z")])  # fmt: skip
    return recipe


def _store(tmp_path: Path, recorded_at: str) -> Path:
    store = tmp_path / "s.sqlite"
    with Store.open(store) as s:
        s.record_profile(recipe="shop", version=3, sha256="a" * 64, summary={"requests": 10})
        s.db.execute("UPDATE profiles SET recorded_at = ?", (recorded_at,))  # as recorded, to the millisecond
    return store


def _out(args: list[str], columns: int) -> str:
    res = runner.invoke(app, args, env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return " ".join(res.stdout.split())


@pytest.mark.parametrize("columns", [200, 60])  # a table, or each row a block
def test_history_and_stats_say_utc_alike(tmp_path: Path, columns: int) -> None:
    recipe, store = _history(tmp_path), _store(tmp_path, "2026-12-06T19:40:12.345Z")
    assert "2026-12-06 19:40:12 UTC" in _out(["history", str(recipe)], columns)
    assert "2026-12-06 19:40:12 UTC" in _out(["stats", "--store", str(store)], columns)


def test_their_json_gives_the_same_iso_time_with_its_zone(tmp_path: Path) -> None:
    recipe, store = _history(tmp_path), _store(tmp_path, "2026-12-06T19:40:12.345Z")
    (entry,) = json.loads(_out(["history", str(recipe), "--format", "json"], 200))["entries"]
    (version,) = json.loads(_out(["stats", "--store", str(store), "--format", "json"], 200))["profiled_versions"]
    assert entry["time"] == version["last_recorded_at"] == "2026-12-06T19:40:12Z"
    for stamp in (entry["time"], version["last_recorded_at"]):
        assert datetime.fromisoformat(stamp.replace("Z", "+00:00")) == WHEN  # a zone, and the right instant


def test_a_time_of_another_zone_is_said_in_utc_and_one_without_a_zone_as_it_is(tmp_path: Path) -> None:
    out = _out(["stats", "--store", str(_store(tmp_path, "2026-12-06T21:40:12+02:00"))], 200)
    assert "2026-12-06 19:40:12 UTC" in out
    naive = tmp_path / "naive"
    naive.mkdir()
    store = _store(naive, "2026-12-06T19:40:12")  # no zone recorded: no zone claimed
    assert "2026-12-06T19:40:12" in _out(["stats", "--store", str(store)], 200)
    doc = json.loads(_out(["stats", "--store", str(store), "--format", "json"], 200))
    assert doc["profiled_versions"][0]["last_recorded_at"] == "2026-12-06T19:40:12"
    assert (utc_text("not a time"), utc_iso("")) == ("not a time", "")
