"""End to end through the CLI on trace files shaped like real requests: an N+1 of 13 serial redis
lookups with 3 retried timeouts, its negative control of 10 route calls that already overlap, and
a Zipkin trace of nested spans. The Jaeger files under tests/data/traces/ are synthetic (see its
README); the Zipkin one is real test data (tests/realdata/SOURCES.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from _telemetry_helpers import skew_recipe
from typer.testing import CliRunner

from recipemut.cli import app

DATA = Path(__file__).parent / "data" / "traces"
REAL = Path(__file__).parent / "realdata"
N_PLUS_ONE = DATA / "hotrod_n_plus_one.jaeger.json"
OVERLAP = DATA / "hotrod_routes_overlap.jaeger.json"

#: the driver's FindNearest span, first start to last end of the request's mapped spans
RECORDED_MS = 212.0
#: the route calls: first start to last end, and their times added up
WINDOW_MS, CALLS_MS = 189.0, 506.0

SERIAL_WORDS = re.compile(r"one after another|\bserial\b", re.IGNORECASE)


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPEMUT_STORE", "off")


def run(*args: str | Path) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    return res.stdout


def as_json(*args: str | Path) -> Any:
    return json.loads(run(*args, "--format", "json"))


def drivers(recipe: str, command: str, *extra: str) -> tuple[str | Path, ...]:
    return (command, DATA / recipe, "--logs", N_PLUS_ONE, "--map", DATA / "hotrod_drivers.mapping.yaml", *extra)


def routes(recipe: Path, command: str, *extra: str) -> tuple[str | Path, ...]:
    return (command, recipe, "--logs", OVERLAP, "--map", DATA / "hotrod_routes.mapping.yaml", *extra)


def by_op(rows: list[dict[str, Any]], op: str) -> dict[str, Any]:
    return next(r for r in rows if r["op"] == op)


# ---- N+1: 13 GetDriver calls in a row, 3 timed out and retried -----------------------------------


def test_n_plus_one_profile_counts_every_call_and_the_retried_errors() -> None:
    doc = as_json(*drivers("hotrod_drivers.yaml", "profile"))
    assert doc["summary"]["spans"] == 15 and doc["summary"]["duplicates"] == 0  # 13 lookups kept, not 1
    calls = by_op(doc["calls"], "get_driver")
    assert (calls["calls"], calls["calls_max"], calls["several"]) == (13, 13, 1)
    assert calls["retried_errors"] == 3 and calls["serial"] is True and calls["concurrency_max"] == 1
    # the FindNearest span holds the lookups: it is charged its own 2.8 ms, the calls their 194.0 ms
    assert doc["ingest"]["format_counts"]["own_time_charged"] == 1
    assert calls["window_ms_mean"] == pytest.approx(194.0, abs=1e-3)
    assert calls["sum_ms_mean"] == pytest.approx(194.0, abs=1e-3)
    assert by_op(doc["ops"], "get_driver")["error_rate"] == 0.0  # every failed call was retried
    assert doc["e2e"]["latency_p50_ms"] == pytest.approx(RECORDED_MS, abs=1e-3)


def test_n_plus_one_finding_names_the_line_to_add_when_the_recipe_has_no_foreach() -> None:
    (finding,) = as_json(*drivers("hotrod_drivers.yaml", "profile"))["findings"]["n_plus_one"]
    assert (finding["op"], finding["line"], finding["field"]) == ("get_driver", 29, "driver_ids")
    assert finding["add"] == ["foreach: driver_ids", "concurrency: 1"]
    assert finding["message"].startswith("get_driver is called 13.0 times per request (up to 13; several times in 1 "
                                         "of 1 requests), one after another: 194.0 ms from first call to last")
    assert "3 failed calls were retried; the recipe has it as one call (no foreach)" in finding["message"]
    text = run(*drivers("hotrod_drivers.yaml", "profile"))
    assert "hotrod_drivers.yaml:29): `foreach: driver_ids`, `concurrency: 1`" in text
    # once the recipe says foreach, the calls are described: no finding
    assert as_json(*drivers("hotrod_drivers_foreach.yaml", "profile"))["findings"]["n_plus_one"] == []


@pytest.mark.parametrize("recipe", ["hotrod_drivers.yaml", "hotrod_drivers_foreach.yaml"])
def test_unchanged_replay_gives_the_recorded_212_ms(recipe: str) -> None:
    baseline = as_json(*drivers(recipe, "suggest", "--seed", "1"))["report"]["baseline"]
    assert baseline["requests"] == 1
    assert baseline["latency_p50_ms"] == pytest.approx(RECORDED_MS, rel=0.03)
    assert baseline["imputed_share"] == 0.0


def test_suggest_predicts_a_batch_and_more_concurrency_but_judges_no_one_request() -> None:
    plan = as_json(*drivers("hotrod_drivers_foreach.yaml", "suggest", "--seed", "1"))
    report = plan["report"]
    singles = {c["id"]: c for c in report["singles"]} | {c["id"]: c for c in report.get("rejected", [])}
    assert {"batch:get_driver->get_drivers_batch", "fanout:get_driver"} <= set(singles)
    # one recorded request: the gains are predicted, but no interval exists, so nothing is judged or planned
    assert {c["verdict"] for c in singles.values()} == {"too few requests to judge"}
    fan = singles["fanout:get_driver"]
    assert fan["edits"] == [{"op": "set", "path": ["operations", "get_driver", "concurrency"], "value": 6}]
    # 13 recorded calls on 6 slots of a redis of capacity 8: the description's gain is the replay's
    assert fan["predicted"]["latency_p50_ms"]["delta"] == pytest.approx(-152.6, abs=0.05)
    assert fan["predicted"]["latency_p50_ms"]["ci"] == [None, None]
    assert "which take 41.4 ms per request instead of 194 ms (152.6 ms less)" in fan["description"]
    assert "calls in flight at once can slow each other down on `redis`" in fan["description"]
    bat = singles["batch:get_driver->get_drivers_batch"]
    assert bat["predicted"]["latency_p50_ms"]["delta"] < -150.0
    assert {"op": "set", "path": ["operations", "get_driver", "batch_size"], "value": 13} in bat["edits"]
    assert plan["plan"] == []


def test_explain_says_why_the_other_fanout_operators_were_not_proposed() -> None:
    report = as_json(*drivers("hotrod_drivers_foreach.yaml", "suggest", "--seed", "1"))["report"]
    assert report["not_proposed"] == [
        {"operator": "dedupe", "target": "get_driver", "reason": "not deterministic: identical items may get "
         "different answers"}
    ]
    text = run(*drivers("hotrod_drivers_foreach.yaml", "suggest", "--seed", "1", "--explain"))
    assert "get_driver: dedupe: not deterministic: identical items may get different answers" in text
    text = run(*drivers("hotrod_drivers.yaml", "suggest", "--seed", "1", "--explain"))
    assert "N+1: get_driver is called 13.0 times per request" in text
    assert "get_driver: fanout: no foreach (its logs show 13.0 calls per request, up to 13: add `foreach: " \
           "driver_ids` first)" in text


# ---- negative control: 10 route calls that already overlap ----------------------------------------


def _with_foreach(tmp_path: Path, extra: str = "", capacity: int = 3) -> Path:
    text = (DATA / "hotrod_routes.yaml").read_text(encoding="utf-8")
    text = text.replace("    produces: [routes]\n", f"    produces: [routes]\n    foreach: drivers\n{extra}")
    text = text.replace("concurrency_per_replica: 3", f"concurrency_per_replica: {capacity}")
    p = tmp_path / "routes.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_overlapping_calls_report_their_concurrency_and_never_claim_serial() -> None:
    doc = as_json(*routes(DATA / "hotrod_routes.yaml", "profile"))
    calls = by_op(doc["calls"], "get_route")
    assert (calls["calls"], calls["serial"], calls["concurrency_max"]) == (10, False, 3)
    assert calls["concurrency_mean"] == pytest.approx(CALLS_MS / WINDOW_MS, abs=1e-3)
    assert calls["window_ms_mean"] == pytest.approx(WINDOW_MS, abs=1e-3)
    assert calls["sum_ms_mean"] == pytest.approx(CALLS_MS, abs=1e-3)
    (finding,) = doc["findings"]["n_plus_one"]
    assert finding["add"] == ["foreach: drivers", "concurrency: 3"]
    assert "up to 3 at once (2.7 in flight on average): 189.0 ms from first call to last, 506.0 ms of calls" in (
        finding["message"]
    )
    text = run(*routes(DATA / "hotrod_routes.yaml", "profile"))
    assert "overlapping: up to 3 in flight, 2.7 on average; window 189.0 ms for 506.0 ms of calls" in text
    for out in (json.dumps(doc), text, run(*routes(DATA / "hotrod_routes.yaml", "suggest", "--explain"))):
        assert not SERIAL_WORDS.search(out.replace('"serial": false', ""))


@pytest.mark.parametrize(("extra", "capacity"), [("", 3), ("    concurrency: 3\n", 3), ("", 8)])
def test_overlapping_calls_replay_unchanged_within_5_percent_of_their_window(
    tmp_path: Path, extra: str, capacity: int
) -> None:
    for recipe in (DATA / "hotrod_routes.yaml", _with_foreach(tmp_path, extra, capacity)):
        baseline = as_json(*routes(recipe, "suggest", "--seed", "1"))["report"]["baseline"]
        assert baseline["latency_p50_ms"] == pytest.approx(WINDOW_MS, rel=0.05)


def test_more_concurrency_on_overlapping_calls_is_measured_from_their_window(tmp_path: Path) -> None:
    # the recipe says concurrency 1 (the default), the logs 3 in flight: the calls take 189 ms now, not 506
    at_capacity = as_json(*routes(_with_foreach(tmp_path), "suggest", "--seed", "1"))["report"]
    assert at_capacity["singles"] == [] and at_capacity["rejected"] == []
    assert at_capacity["not_proposed"][0] == {
        "operator": "fanout", "target": "get_route", "reason": "no gain: scheduling its recorded calls on up to 3 "
        "slots (the declared capacity of `route` (1 replicas × 3)) saves 0.6 ms per request at most"}
    wider = as_json(*routes(_with_foreach(tmp_path, capacity=8), "suggest", "--seed", "1"))["report"]
    fan = next(c for c in wider["singles"] if c["id"] == "fanout:get_route")
    assert "which take 101 ms per request instead of 189 ms (88.1 ms less)" in fan["description"]
    assert fan["predicted"]["latency_p50_ms"]["delta"] == pytest.approx(-88.1, abs=0.05)
    assert not SERIAL_WORDS.search(json.dumps(wider))


# ---- nested spans: a caller's span holds its callees' ---------------------------------------------

SKEW_RECIPE = skew_recipe("async")


def test_nested_spans_replay_unchanged_within_5_percent_of_the_recorded_end_to_end(tmp_path: Path) -> None:
    recipe = tmp_path / "skew.yaml"
    recipe.write_text(SKEW_RECIPE, encoding="utf-8")
    args = ("--logs", REAL / "zipkin_lens_skew.json")
    profile = as_json("profile", recipe, *args)
    recorded = profile["e2e"]["latency_p50_ms"]
    assert recorded == pytest.approx(99.411, abs=1e-3)
    assert profile["ingest"]["format_counts"]["own_time_charged"] == 2
    baseline = as_json("suggest", recipe, *args, "--seed", "1")["report"]["baseline"]
    assert baseline["latency_p50_ms"] == pytest.approx(recorded, rel=0.05)  # whole spans added up: 259.0 ms
