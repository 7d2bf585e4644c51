"""profile says the tail's time that no operation covers: the gaps, and spans that map to none (a server span)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.ingest import read_logs
from recipemut.profile.build import build_profile, outside_operations
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
DB = ROOT / "recipes" / "zipkin_simple_db"
CHECKOUT = ROOT / "recipes" / "checkout"
runner = CliRunner()


def _profile(*args: str) -> tuple[str, dict]:
    text = runner.invoke(app, ["profile", *args, "--store", "off"], env={"COLUMNS": "400"})
    data = runner.invoke(app, ["profile", *args, "--store", "off", "-f", "json"])
    assert text.exit_code == data.exit_code == 0, text.output
    return " ".join(text.stdout.split()), json.loads(data.stdout)


def test_the_server_span_around_the_calls_is_said_as_time_in_no_operation() -> None:
    r = load_recipe(DB / "recipe.yaml")
    spans, _ = read_logs(DB / "trace.json", recipe=r, mapping=DB / "mapping.yaml")
    ms, share = outside_operations(build_profile(spans, r))
    # the request took 107.613 ms; its four calls, one after another, 6.051 + 2.414 + 2.033 + 1.118 ms
    assert ms == pytest.approx(107.613 - 11.616, abs=0.01)
    assert share == pytest.approx(1 - 11.616 / 107.613, abs=1e-3)
    args = (str(DB / "recipe.yaml"), "--logs", str(DB / "trace.json"), "--map", str(DB / "mapping.yaml"))
    text, data = _profile(*args)
    said = "; in no operation: 96.0 ms (89% of their latency: gaps between operations, or spans that map to none"
    assert said in text
    assert data["contributors"]["outside_operations"]["share"] == pytest.approx(share)


def test_operations_that_cover_the_request_say_nothing_of_it() -> None:
    text, data = _profile(str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"))
    assert "in no operation" not in text
    assert data["contributors"]["outside_operations"] == {"tail_ms": 0.0, "share": 0.0}
