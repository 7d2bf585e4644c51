"""The whole loop on generated fan-out logs: a plan's predicted p95 change is the change a log
generated from the mutated recipe shows.

Each case generates a log of a recipe with a ``foreach`` operation, runs ``suggest --out``,
``apply --plan``, generates a log of the mutated recipe with the same seed (lists are drawn by a hash
of the request id, so both logs hold the same requests with the same lists; every call's latency is
a fresh draw) and compares the plan's predicted relative change against the one measured between
the two logs' end-to-end latencies (``profile --format json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.loader import load_recipe

runner = CliRunner(env={"RECIPEMUT_STORE": "off"})

# find_driver_ids (one call) -> get_driver (over driver_ids) -> compute_eta (one call)
RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: drivers
version: 1
fields:
  location: {{type: string}}
  driver_ids: {{type: array}}
  drivers: {{type: array}}
  eta: {{type: string}}
inputs: [location]
outputs: [eta]
services:
  db: {{replicas: 1, concurrency_per_replica: 4}}
  redis: {{replicas: {redis_replicas}, concurrency_per_replica: 4}}
  route: {{replicas: 4, concurrency_per_replica: 8}}
operations:
  - id: find_driver_ids
    service: db
    action: FindDriverIDs
    consumes: [location]
    produces: [driver_ids]
    cost_per_call_usd: 0.0002
  - id: get_driver
    service: redis
    action: GetDriver
    consumes: [driver_ids]
    produces: [drivers]
    cost_per_call_usd: 0.00001
    deterministic: true
    foreach: driver_ids
{get_driver_extra}\
  - id: compute_eta
    service: route
    action: ComputeETA
    consumes: [drivers]
    produces: [eta]
    cost_per_call_usd: 0.0001
{alternatives}"""

# A batched form of GetDriver. The generator draws a batched call from get_driver's own latency
# parameters (median 15 ms, sigma 0.2, no per-item time): p50 15 ms, p95 15·e^(0.2·1.645) = 20.8 ms,
# so this catalogue prior states what the generated batched calls take.
BATCH_ALTERNATIVE = """\
alternatives:
  - id: get_drivers_batch
    service: redis
    action: MGetDrivers
    consumes: [driver_ids]
    produces: [drivers]
    equivalence: redis.get_driver
    deterministic: true
    max_batch: 50
    cost_per_call_usd: 0.00002
    expected: {latency_ms: {p50: 15, p95: 20.8}}
"""

SERIAL_PARAMS = """\
defaults: {error_prob: 0.0, tail_share: 0.0}
operations:
  find_driver_ids: {latency_median_ms: 20, latency_sigma: 0.2}
  get_driver: {latency_median_ms: 15, latency_sigma: 0.2}
  compute_eta: {latency_median_ms: 30, latency_sigma: 0.2}
fields:
  driver_ids: {items_mean: 10, universe: 40, zipf: 1.1}
"""

# Retried errors, a heavy tail, time per item and geometric list sizes (many short lists, a few long).
RETRY_PARAMS = """\
defaults: {error_prob: 0.0}
operations:
  find_driver_ids: {latency_median_ms: 20, latency_sigma: 0.3}
  get_driver: {latency_median_ms: 15, latency_sigma: 0.4, error_prob: 0.1, tail_share: 0.03, tail_alpha: 1.8,
               per_item_ms: 2}
  compute_eta: {latency_median_ms: 30, latency_sigma: 0.2}
fields:
  driver_ids: {items_mean: 12, items_dist: geometric, items_max: 40, universe: 200, zipf: 1.1}
"""

CASES: dict[str, dict[str, Any]] = {
    # serial calls of 15 ms, ~10 items from a universe of 40: more calls in flight, and repeated
    # items fetched once (the search restricted to these two: a cache per item would answer the
    # repeats too, and does in the next case)
    "serial-dedupe": {
        "recipe": {"redis_replicas": 2, "get_driver_extra": "", "alternatives": ""},
        "params": SERIAL_PARAMS,
        "only": ["fanout", "dedupe"],
        "operators": {"fanout", "dedupe"},
        "written": {"concurrency": 8, "dedupe": True},
    },
    # two calls in flight already, retries kept as recorded, a bigger redis; items repeat across
    # requests too (a universe of 200), so a cache per item may join the plan
    "retries-tail": {
        "recipe": {
            "redis_replicas": 4,
            "get_driver_extra": "    concurrency: 2\n    retry: {max_attempts: 3}\n",
            "alternatives": "",
        },
        "params": RETRY_PARAMS,
        "operators": {"fanout"},
        "written": {},
    },
    # a batched alternative: one call per batch, its time from the catalogue's prior
    "batch": {
        "recipe": {
            "redis_replicas": 2,
            "get_driver_extra": "    equivalence: redis.get_driver\n",
            "alternatives": BATCH_ALTERNATIVE,
        },
        "params": SERIAL_PARAMS,
        "operators": {"batch"},
        "written": {"action": "MGetDrivers"},
    },
}

REQUESTS = 2500
SEED = 3
METRICS = ("latency_p50_ms", "latency_p95_ms", "cost_mean_usd")


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res.stdout


def _generate(recipe: Path, out: Path) -> pd.DataFrame:
    _ok(["generate", str(recipe), "-n", str(REQUESTS), "--days", "1", "--seed", str(SEED), "--out", str(out)])
    return pd.read_json(out, lines=True, dtype={"request_id": str, "cache_key": str})


def _e2e(recipe: Path, logs: Path) -> dict[str, float]:
    return dict(json.loads(_ok(["profile", str(recipe), "--logs", str(logs), "--format", "json"]))["e2e"])


def _loop(tmp_path: Path, case: dict[str, Any]) -> dict[str, Any]:
    """Generate, suggest, apply, generate again; the plan, the mutated recipe, both logs, and the
    predicted and measured relative change (%) of each metric."""
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(**case["recipe"]))
    (tmp_path / "loggen.yaml").write_text(case["params"])
    before_log, after_log = tmp_path / "before.jsonl", tmp_path / "after.jsonl"
    before = _generate(recipe, before_log)
    before_e2e = _e2e(recipe, before_log)
    plan_file = tmp_path / "plan.json"
    only = [a for op in case.get("only", []) for a in ("--operators", op)]
    _ok(["suggest", str(recipe), "--logs", str(before_log), "--out", str(plan_file), "--seed", "1", *only])
    _ok(["apply", str(recipe), "--plan", str(plan_file)])
    after = _generate(recipe, after_log)
    after_e2e = _e2e(recipe, after_log)
    plan = json.loads(plan_file.read_text())
    predicted = plan["report"]["plan_predicted"]
    return {
        "plan": plan,
        "recipe": load_recipe(recipe),
        "before": before,
        "after": after,
        "predicted": {m: 100 * predicted[m]["delta"] / predicted["baseline"][m] for m in METRICS},
        "measured": {m: 100 * (after_e2e[m] - before_e2e[m]) / before_e2e[m] for m in METRICS},
        "baseline": {m: (predicted["baseline"][m], before_e2e[m]) for m in METRICS},
    }


@pytest.fixture(scope="module", params=sorted(CASES))
def loop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    name = request.param
    return name, _loop(tmp_path_factory.mktemp(name), CASES[name])


def test_the_plan_applies_the_fanout_operators(loop: tuple[str, dict[str, Any]]) -> None:
    name, got = loop
    case = CASES[name]
    assert case["operators"] <= {m.split(":")[0] for m in got["plan"]["plan"]}
    op = got["recipe"].ops["get_driver"]
    for key, value in case["written"].items():
        assert getattr(op, key) == value, (key, getattr(op, key))
    if "fanout" in case["operators"]:
        assert op.concurrency > (2 if "concurrency: 2" in case["recipe"]["get_driver_extra"] else 1)
    if "batch" in case["operators"]:
        assert op.batch_size >= 2


def test_both_logs_hold_the_same_requests_and_lists(loop: tuple[str, dict[str, Any]]) -> None:
    """The premise of the comparison: the same requests, each with the same list, and the operations
    the plan left alone drawn alike."""
    _, got = loop
    before, after = got["before"], got["after"]
    assert set(before["request_id"]) == set(after["request_id"])
    first = ["request_id", "latency_ms"]
    one = before[before["op"] == "find_driver_ids"][first].merge(
        after[after["op"] == "find_driver_ids"][first], on="request_id", suffixes=("_before", "_after")
    )
    assert len(one) == REQUESTS
    assert (one["latency_ms_before"] == one["latency_ms_after"]).all()
    # each request's list: one item per call before (first attempts); after, the same items, or
    # (dedupe) each distinct item once — a call's cache_key is a hash of its items
    calls_before = before[(before["op"] == "get_driver") & (before["attempt"] == 1)].groupby("request_id")
    items_after = after[(after["op"] == "get_driver") & (after["attempt"] == 1)].groupby("request_id")["items"].sum()
    want = calls_before["cache_key"].nunique() if got["recipe"].ops["get_driver"].dedupe else calls_before.size()
    assert (items_after.sort_index() == want.sort_index()).all()
    assert want.max() > want.min()  # lists of many sizes


def test_the_replayed_baseline_is_the_logged_one(loop: tuple[str, dict[str, Any]]) -> None:
    """The replay of the unchanged recipe gives the profile's figures, so both changes are relative
    to the same baseline."""
    _, got = loop
    for m, (replayed, logged) in got["baseline"].items():
        assert replayed == pytest.approx(logged, rel=1e-6), m


def test_predicted_p95_change_is_the_measured_one_within_5_points(loop: tuple[str, dict[str, Any]]) -> None:
    name, got = loop
    pred, meas = got["predicted"], got["measured"]
    assert meas["latency_p95_ms"] < -30, meas  # a real change, not two unchanged logs agreeing
    for m in METRICS:
        assert abs(pred[m] - meas[m]) <= 5.0, (name, m, pred[m], meas[m])
