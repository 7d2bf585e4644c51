"""Canary evaluation on logs from the project's generator: regression rolls back, improvement
promotes, too few requests holds; acting writes the recipe and the history."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT, history_lines

from recipemut.apply.canary import EvaluateError, evaluate, judge, request_metrics
from recipemut.apply.transaction import apply_plan
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe


def _spans(recipe: Path, n: int, factor: float, seed: int = 3) -> pd.DataFrame:
    return generate_spans(load_recipe(recipe), n, seed=seed, variants={"canary": 0.2},
                          treatment={"canary": {"*": factor}}, duration_s=3600)


NEUTRAL = PlannedMutation("datapipe:cart=json+none", "datapipe", ("cart",), "Send cart as it goes (json, none).",
                          (Edit("set", ("fields", "cart", "format"), "json"),
                           Edit("set", ("fields", "cart", "compression"), "none")))  # the defaults: no change


def _start_canary(r: Path, *muts: PlannedMutation) -> Path:
    r.write_text(RECIPE_TEXT)
    apply_plan(r, Plan(PlanRecipe(str(r), recipe_sha256(r)), muts, tuple(m.id for m in muts)), canary=0.2)
    return r


@pytest.fixture
def canary_recipe(tmp_path: Path) -> Path:
    """A canary of parallelize + cache: the generator runs the canary's own recipe, so it is really faster."""
    return _start_canary(tmp_path / "checkout.yaml", PARALLELIZE, CACHE)


@pytest.fixture
def neutral_recipe(tmp_path: Path) -> Path:
    """A canary whose change does not touch performance."""
    return _start_canary(tmp_path / "neutral.yaml", NEUTRAL)


def test_request_metrics_per_request() -> None:
    df = pd.DataFrame({
        "request_id": ["a", "a", "b", "b"], "variant": ["control", "control", "canary", "canary"],
        "start_ms": [0.0, 10.0, 100.0, 100.0], "latency_ms": [10.0, 30.0, 5.0, 8.0],
        "status": ["ok", "ok", "ok", "halted"], "cost_usd": [1.0, 2.0, 0.5, None],
    })
    m = request_metrics(df)
    assert m.loc["a", "latency_ms"] == 40.0 and m.loc["b", "latency_ms"] == 8.0
    assert m.loc["a", "cost_usd"] == 3.0 and m.loc["b", "cost_usd"] == 0.5
    assert (m.loc["b", "halted"], m.loc["a", "halted"], m.loc["a", "error"]) == (1, 0, 0)


def test_judge_regression_improvement_no_change_and_too_few(canary_recipe: Path, neutral_recipe: Path) -> None:
    worse = judge(_spans(canary_recipe, 4000, 2.0))  # every operation twice as slow in the canary
    assert worse.decision == "rollback" and "latency_p50" in worse.reason
    better = judge(_spans(canary_recipe, 4000, 1.0))  # the mutations' own gain
    assert better.decision == "promote"
    assert {m.name: m.status for m in better.metrics}["latency_p50"] == "improves"
    same = judge(_spans(neutral_recipe, 4000, 1.0))
    assert same.decision == "hold" and same.reason == "no significant improvement yet"
    few = judge(_spans(canary_recipe, 300, 1.0), min_requests=200)
    assert few.decision == "hold" and few.needed > 0 and "not enough data" in few.reason
    assert f"({few.needed} more)" in few.reason


def test_tolerance_decides_a_small_regression(neutral_recipe: Path) -> None:
    spans = _spans(neutral_recipe, 6000, 1.08)
    assert judge(spans, tolerances={"latency_p50": 0.01, "latency_p95": 0.01}).decision == "rollback"
    assert judge(spans, tolerances={"latency_p50": 0.5, "latency_p95": 0.5}).decision == "hold"
    with pytest.raises(EvaluateError, match="unknown tolerance metric 'latency'"):
        judge(spans, tolerances={"latency": 0.1})
    for endless in (math.inf, math.nan, -0.1):  # inf passed '>= 0': a canary that could never roll back
        with pytest.raises(EvaluateError, match="must be a finite number >= 0"):
            judge(spans, tolerances={"latency_p95": endless})


def test_evaluate_rolls_back_byte_for_byte(canary_recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "spans.jsonl"
    write_jsonl(_spans(canary_recipe, 4000, 2.0), logs)
    res = evaluate(canary_recipe, [logs])
    assert res.judgement.decision == "rollback" and res.exit_code == 3
    assert canary_recipe.read_text() == RECIPE_TEXT
    last = history_lines(canary_recipe)[-1]
    assert last["action"] == "rollback" and last["reason"].startswith("rollback: regression")
    assert last["observed"]["decision"] == "rollback"
    assert [m["id"] for m in last["mutations"]] == [PARALLELIZE.id, CACHE.id]


def test_evaluate_promotes_the_canary(canary_recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "spans.jsonl"
    write_jsonl(_spans(canary_recipe, 4000, 1.0), logs)
    res = evaluate(canary_recipe, [logs])
    assert res.judgement.decision == "promote" and res.exit_code == 0
    text = canary_recipe.read_text()
    doc = yaml.safe_load(text)
    assert "variants" not in doc and doc["version"] == 6
    ops = {o["id"]: o for o in doc["operations"]}
    assert ops["score_fraud"]["after"] == [] and ops["load_cart"]["cache"]["ttl_s"] == 600
    assert "# fraud scoring waits for the cart out of habit" in text and "# end of recipe" in text
    assert history_lines(canary_recipe)[-1]["action"] == "promote"


def test_evaluate_holds_on_too_few_requests_and_no_act_writes_nothing(canary_recipe: Path, tmp_path: Path) -> None:
    logs = tmp_path / "spans.jsonl"
    write_jsonl(_spans(canary_recipe, 200, 1.0), logs)
    before = canary_recipe.read_bytes()
    n_entries = len(history_lines(canary_recipe))
    res = evaluate(canary_recipe, [logs], act=False)
    assert res.judgement.decision == "hold" and res.exit_code == 4 and not res.acted
    assert len(history_lines(canary_recipe)) == n_entries
    res = evaluate(canary_recipe, [logs])
    assert canary_recipe.read_bytes() == before
    last = history_lines(canary_recipe)[-1]
    assert last["action"] == "evaluate" and last["sha256_before"] == last["sha256_after"]
    assert "not enough data" in last["reason"]


def test_evaluate_without_a_canary_is_a_clear_error(tmp_path: Path) -> None:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    with pytest.raises(EvaluateError, match="no canary is running"):
        evaluate(r, [tmp_path / "whatever.jsonl"])
