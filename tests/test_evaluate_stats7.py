"""evaluate's statistics (attack pass 7): a canary's unlogged cost priced from the recipe, not $0;
false verdicts on A/A splits near the stated level; intervals that are never NaN in JSON and rate
intervals that stay in range."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _apply_helpers import RECIPE_TEXT
from typer.testing import CliRunner

from recipemut.apply.canary import (
    DEFAULT_TOLERANCES,
    declared_costs,
    judge,
    judge_requests,
    request_metrics,
    span_costs,
)
from recipemut.apply.transaction import apply_plan, plain_doc
from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe

NEUTRAL = PlannedMutation("datapipe:cart=json+none", "datapipe", ("cart",), "Send cart as it goes (json, none).",
                          (Edit("set", ("fields", "cart", "format"), "json"),
                           Edit("set", ("fields", "cart", "compression"), "none")))  # the defaults: no change
WIDE = {"COLUMNS": "200"}


def _canary(path: Path, text: str = RECIPE_TEXT) -> Path:
    path.write_text(text)
    apply_plan(path, Plan(PlanRecipe(str(path), recipe_sha256(path)), (NEUTRAL,), (NEUTRAL.id,)), canary=0.2)
    return path


def _spans(recipe: Path, n: int = 3000, seed: int = 3) -> pd.DataFrame:
    """Both arms run the primary recipe: the same traffic, a fifth of it labelled canary."""
    spans = generate_spans(load_recipe(recipe), n, seed=seed, variants={"canary": 0.2}, duration_s=3600)
    return spans.assign(cost_usd=spans["cost_usd"].to_numpy(dtype=float, copy=True))  # writable


def _declared(recipe: Path) -> dict[str, dict[str, float]]:
    doc = plain_doc(recipe.read_text())
    costs = declared_costs(doc)
    return {"control": costs, "canary": declared_costs(doc["variants"][0]["recipe"], costs)}


# ---- 1. a canary's cost not logged ---------------------------------------------------------------


def test_unlogged_canary_cost_is_priced_from_the_recipe_not_zero(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    spans = _spans(r)
    spans.loc[spans["variant"] == "canary", "cost_usd"] = np.nan  # the canary's new version logs no cost
    priced = judge(spans, declared=_declared(r))
    cost = {m.name: m for m in priced.metrics}["cost"]
    assert cost.status == "within tolerance" and cost.canary == pytest.approx(cost.primary, rel=0.05)
    assert "cost" not in priced.reason
    # without the recipe's prices the canary's cost is unknown, never $0, and left out of the decision
    bare = judge(spans)
    cost = {m.name: m for m in bare.metrics}["cost"]
    assert cost.status == "unknown" and "cost -100" not in bare.reason
    assert cost.note is not None and "log no cost_usd" in cost.note and "cost unknown" in bare.reason
    d = cost.to_dict()
    assert d["status"] == "unknown" and d["primary"] is None and d["ci"] == [None, None] and d["note"] == cost.note
    json.dumps(bare.to_dict(), allow_nan=False)


def test_span_costs_take_each_arms_recipe_price() -> None:
    spans = pd.DataFrame({
        "request_id": ["a", "a", "b", "b"], "variant": ["control", "control", "canary", "canary"],
        "op": ["x", "y", "x", "y"], "start_ms": [0.0, 1.0, 0.0, 1.0], "latency_ms": [1.0] * 4,
        "status": ["ok"] * 4, "cost_usd": [0.5, None, None, 0.25],
    })
    declared = {"control": {"x": 1.0, "y": 2.0}, "canary": {"x": 3.0}}
    assert span_costs(spans, declared).tolist() == [0.5, 2.0, 3.0, 0.25]
    assert request_metrics(spans, declared)["cost_usd"].to_dict() == {"a": 2.5, "b": 3.25}


def test_a_cost_interval_never_goes_below_minus_100_percent(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    spans = _spans(r)
    spans.loc[spans["variant"] == "canary", "cost_usd"] = 0.0  # a free canary: -100%, and not less
    cost = {m.name: m for m in judge(spans).metrics}["cost"]
    assert cost.delta == pytest.approx(-cost.primary) and cost.lo >= -cost.primary


def test_cli_cost_unknown_in_both_arms_is_said_not_printed_as_a_rate(tmp_path: Path) -> None:
    text = re.sub(r"(?m)^\s*cost_per_call_usd:.*\n", "", RECIPE_TEXT)
    r = _canary(tmp_path / "free.yaml", text)
    spans = _spans(r).drop(columns=["cost_usd"])
    logs = tmp_path / "spans.jsonl"
    write_jsonl(spans, logs)
    res = CliRunner().invoke(app, ["evaluate", str(r), "--logs", str(logs), "--no-act", "-q"], env=WIDE)
    row = next(line for line in res.output.splitlines() if "│ cost" in line)
    assert "unknown" in row and "%" not in row.replace("+2.0%", ""), row
    assert "cost unknown (no cost in the logs or the recipe)" in res.output
    assert "-0.00%" not in res.output  # no halts in either arm: the interval starts at +0.00%
    res = CliRunner().invoke(app, ["evaluate", str(r), "--logs", str(logs), "--no-act", "-q", "-f", "json"])
    doc = json.loads(res.stdout)
    cost = next(m for m in doc["metrics"] if m["metric"] == "cost")
    assert cost["status"] == "unknown" and cost["note"] == "no cost in the logs or the recipe"


def test_cli_prices_the_canarys_unlogged_cost_from_its_recipe(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    spans = _spans(r)
    spans.loc[spans["variant"] == "canary", "cost_usd"] = np.nan
    logs = tmp_path / "spans.jsonl"
    write_jsonl(spans, logs)
    res = CliRunner().invoke(app, ["evaluate", str(r), "--logs", str(logs), "--no-act", "-q", "-f", "json"])
    doc = json.loads(res.stdout)
    cost = next(m for m in doc["metrics"] if m["metric"] == "cost")
    assert cost["status"] == "within tolerance" and cost["canary"] == pytest.approx(cost["primary"], rel=0.05)
    assert "cost" not in doc["reason"]


# ---- 3. intervals of one or two canary requests ------------------------------------------------


def _few_canary(spans: pd.DataFrame, k: int, *, halted: bool = False) -> pd.DataFrame:
    """The primary's spans and the first ``k`` canary requests' (their last span halted when ``halted``)."""
    canary = spans["variant"] == "canary"
    keep = spans["request_id"].isin(pd.unique(spans.loc[canary, "request_id"])[:k])
    out = spans[~canary | keep].copy()
    if halted:
        first = out.index[(out["variant"] == "canary") & (out["request_id"] == out.loc[keep, "request_id"].iloc[0])]
        out.loc[first[-1], "status"] = "halted"
    return out


def _rates_in_range(j: object) -> None:
    for m in j.metrics:  # type: ignore[attr-defined]
        if m.name in ("error_rate", "halt_rate"):  # a change of a rate: the canary's rate stays in [0, 1]
            assert -m.primary <= m.lo <= m.delta <= m.hi <= 1 - m.primary, m


def test_one_canary_request_gives_no_nan_intervals(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    j = judge(_few_canary(_spans(r), 1), min_requests=1)
    assert j.n_canary == 1
    ms = {m["metric"]: m for m in j.to_dict()["metrics"]}
    json.dumps(j.to_dict(), allow_nan=False)  # strict JSON
    assert ms["latency_p95"]["ci"] == [None, None] and ms["cost"]["ci"] == [None, None]
    assert ms["latency_p95"]["delta"] is not None  # the estimate stands, only its interval is unknown
    assert all(None not in ms[k]["ci"] for k in ("error_rate", "halt_rate"))
    _rates_in_range(j)


def test_a_rate_interval_stays_a_rate(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    j = judge(_few_canary(_spans(r), 2, halted=True), min_requests=1)  # 1 of 2 canary requests halted
    halt = {m.name: m for m in j.metrics}["halt_rate"]
    assert halt.canary == 0.5 and halt.hi <= 1 - halt.primary  # was -50%..+134% by a bootstrap of 2 values
    _rates_in_range(j)


def test_cli_one_canary_request_json_is_strict_and_text_says_na(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    logs = tmp_path / "spans.jsonl"
    write_jsonl(_few_canary(_spans(r), 1), logs)
    args = ["evaluate", str(r), "--logs", str(logs), "--no-act", "-q", "--min-requests", "1"]
    res = CliRunner().invoke(app, [*args, "-f", "json"])

    def refuse(c: str) -> None:
        raise AssertionError(f"{c} in the JSON")

    doc = json.loads(res.stdout, parse_constant=refuse)
    assert {m["metric"]: m["ci"] for m in doc["metrics"]}["latency_p95"] == [None, None]
    res = CliRunner().invoke(app, args, env=WIDE)
    assert "nan" not in res.output.lower()
    row = next(line for line in res.output.splitlines() if "│ latency_p95" in line)
    assert "(n/a)" in row, row


# ---- 2. false verdicts on A/A splits ----------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def _requests(recipe: Path, n: int, params: Path | None = None) -> pd.DataFrame:
    """The figures of ``n`` generated requests of ``recipe``, every one the primary's."""
    from recipemut.loggen.params import load_params

    spans = generate_spans(load_recipe(recipe), n, seed=3, duration_s=3600, variants={},
                           params=load_params(params) if params else None)  # fmt: skip
    return request_metrics(spans).assign(variant="control")


def _split(req: pd.DataFrame, seed: int, speedup: float = 1.0) -> pd.DataFrame:
    """A fifth of the requests, at random, relabelled canary (their latency times ``speedup``)."""
    canary = np.random.default_rng(seed).random(len(req)) < 0.2
    out = req.copy()
    out.loc[canary, "variant"] = "canary"
    out.loc[canary, "latency_ms"] *= speedup
    return out


def test_false_verdicts_on_aa_splits_stay_near_the_stated_level() -> None:
    """The shipped checkout's parameters (3.6% errors, 7.6% halts): 200 A/A splits of 4,000 requests.
    Five metrics each tested at 95% gave a verdict on 21 of them (10.5%); Bonferroni, 6 (3%)."""
    req = _requests(ROOT / "recipes/checkout/recipe.yaml", 4000, ROOT / "recipes/checkout/loggen.yaml")
    assert 0.02 < req["error"].mean() < 0.06 and 0.04 < req["halted"].mean() < 0.12  # rates that can mislead
    decisions = [judge_requests(_split(req, seed), variant="canary", tolerances=DEFAULT_TOLERANCES, seed=seed)
                 for seed in range(200)]  # fmt: skip
    false = sum(j.decision != "hold" for j in decisions)
    assert false <= 16, f"{false} of 200 A/A splits promoted or rolled back"
    j = decisions[0]
    assert {m.level for m in j.metrics} == {1 - 0.05 / 5} and j.to_dict()["metrics_tested"] == 5
    assert j.to_dict()["correction"] == "bonferroni" and j.to_dict()["metrics"][0]["ci_level"] == 0.99


def test_a_real_20_percent_latency_gain_is_still_promoted(tmp_path: Path) -> None:
    req = _requests(_canary(tmp_path / "checkout.yaml"), 4000)
    decisions = [judge_requests(_split(req, seed, 0.8), variant="canary", tolerances=DEFAULT_TOLERANCES, seed=seed)
                 for seed in range(200)]  # fmt: skip
    promoted = sum(j.decision == "promote" for j in decisions)
    assert promoted >= 190, f"only {promoted} of 200 splits with a 20% latency gain promoted"


def test_the_table_and_reason_name_the_corrected_level(tmp_path: Path) -> None:
    r = _canary(tmp_path / "checkout.yaml")
    logs = tmp_path / "spans.jsonl"
    write_jsonl(_spans(r), logs)
    res = CliRunner().invoke(app, ["evaluate", str(r), "--logs", str(logs), "--no-act", "-q"], env=WIDE)
    assert "change (99% CI)" in res.output and "95% CI" not in res.output
    spans = _spans(r)
    spans.loc[spans["variant"] == "canary", "cost_usd"] = np.nan  # cost unknown: 4 metrics tested
    j = judge(spans)
    assert {m.level for m in j.metrics} == {1 - 0.05 / 4} and j.to_dict()["metrics_tested"] == 4


def test_an_unknown_cost_is_stored_as_null_so_the_next_evaluation_records_too(tmp_path: Path) -> None:
    """The held row's detail kept the unknown cost as NaN: SQLite's JSON refused it ("malformed JSON") when
    the next evaluation of the same canary replaced that row, and the evaluation went unrecorded."""
    import sqlite3

    r = _canary(tmp_path / "free.yaml", re.sub(r"(?m)^\s*cost_per_call_usd:.*\n", "", RECIPE_TEXT))
    logs, store = tmp_path / "spans.jsonl", tmp_path / "store.sqlite"
    write_jsonl(_spans(r, seed=4).drop(columns=["cost_usd"]), logs)
    args = ["evaluate", str(r), "--logs", str(logs), "-q", "--store", str(store), "-f", "json"]
    for _ in range(2):
        res = CliRunner().invoke(app, args)
        doc = json.loads(res.stdout)
        assert doc["decision"] == "hold" and doc["store"]["recorded"] == 1, doc["store"]
    db = sqlite3.connect(store)
    try:
        details = [row[0] for row in db.execute("SELECT detail_json FROM observations")]
    finally:
        db.close()
    assert len(details) == 1 and "NaN" not in details[0]
    json.loads(details[0], parse_constant=lambda c: pytest.fail(f"{c} in the stored detail"))
