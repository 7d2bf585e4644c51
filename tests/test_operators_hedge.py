"""hedge: the latency model, the choice of delay, and the operator's conditions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _operators_helpers import edits, ids, make_profile, mini, scenario, scenario_doc, scenario_profile
from _profile_helpers import line, write_lines

from recipemut.logs.ingest import read_logs
from recipemut.mutate.operators import OperatorContext, hedge
from recipemut.predict import hedgemodel
from recipemut.profile.build import build_profile
from recipemut.recipe.loader import load_recipe_text
from recipemut.recipe.model import recipe_from_dict


def test_hedged_latency_is_min_of_original_and_delayed_duplicate() -> None:
    lat = np.array([5.0, 150.0, 1000.0, np.nan])
    out, extra = hedgemodel.hedged_latency(lat, 100.0, np.random.default_rng(0), np.array([30.0, 30.0]))
    assert out[:3].tolist() == [5.0, 130.0, 130.0] and np.isnan(out[3])
    assert extra.tolist() == [0, 1, 1, 0]
    # a duplicate slower than the original does not make it worse
    out, _ = hedgemodel.hedged_latency(np.array([120.0]), 100.0, np.random.default_rng(0), np.array([500.0]))
    assert out.tolist() == [120.0]


def test_hedged_latency_several_extras() -> None:
    out, extra = hedgemodel.hedged_latency(
        np.array([1000.0, 150.0]), 100.0, np.random.default_rng(0), np.array([250.0]), max_extra=3
    )
    # extras sent at 100 (-> 350), 200 (-> 450), 300 (still unanswered at 300): min is 350
    assert out.tolist() == [350.0, 150.0]
    assert extra.tolist() == [3, 1]


def test_hedged_latency_needs_samples() -> None:
    with pytest.raises(ValueError):
        hedgemodel.hedged_latency(np.ones(2), 1.0, np.random.default_rng(0), np.array([np.nan]))


def test_choose_picks_the_lowest_p99_within_the_extra_budget() -> None:
    rng = np.random.default_rng(3)
    lat = np.where(rng.random(20_000) < 0.05, 1000.0, 20.0) + rng.random(20_000)
    c = hedgemodel.choose(lat, quantiles=(0.9, 0.99), max_extra_rate=0.1, seed=1)
    assert c is not None
    assert c.quantile == 0.9 and c.after_ms == pytest.approx(np.quantile(lat, 0.9))
    assert c.p99_before_ms > 999 and c.p99_after_ms < 100 and c.extra_rate == pytest.approx(0.1, abs=0.01)
    # deterministic for a seed
    assert hedgemodel.choose(lat, quantiles=(0.9, 0.99), seed=1) == hedgemodel.choose(
        lat, quantiles=(0.9, 0.99), seed=1
    )
    # light tail: nothing helps
    assert hedgemodel.choose(np.full(1000, 20.0)) is None


@pytest.mark.parametrize("n", [1000, 1002, 1009, 53_386])
def test_the_p90_delay_is_not_refused_for_one_call_over_the_cap(n: int) -> None:
    # The p90 of n distinct latencies is interpolated, so the calls above it are ceil(0.1 (n - 1)):
    # at n = 1002 that is 101 calls, 0.1008 per call, one call over a 10% cap. Refusing it for that
    # call made the choice flip between p90 and p95 with the sample size (a 27% sample of a log
    # refused p90 that the whole log kept: 5,339 of 53,386 calls against 19,632 of 196,348).
    rng = np.random.default_rng(7)
    lat = np.sort(np.where(rng.random(n) < 0.05, 1000.0, 20.0) + rng.random(n))
    above = int((lat > np.quantile(lat, 0.9)).sum())
    assert above <= 0.1 * n + 1
    c = hedgemodel.choose(lat, quantiles=(0.9, 0.95), max_extra_rate=0.1, seed=1)
    assert c is not None and c.quantile == 0.9
    # one call over what the cap allows is over it, and a cap of 0 allows no extra call at all
    assert hedgemodel.choose(lat, quantiles=(0.9,), max_extra_rate=(above - 1) / (n - 1), seed=1) is None
    assert hedgemodel.choose(lat, quantiles=(0.9,), max_extra_rate=0.0, seed=1) is None


def _ctx(doc: dict, lat: np.ndarray, **options: object) -> OperatorContext:
    r = recipe_from_dict(doc)
    return OperatorContext.build(
        r, doc=doc, profile=make_profile(r, lat.size, latency_ms={"slow": lat}), options=options
    )


OPS = [{"id": "slow", "consumes": ["id"], "produces": ["v"]}]
HEAVY = np.where(np.arange(2000) % 20 == 0, 800.0, 20.0) + np.arange(2000) % 7


def test_hedge_literal() -> None:
    (m,) = hedge.generate(_ctx(mini(OPS, outputs=("v",)), HEAVY))
    assert m.id == "hedge:slow"
    (e,) = edits(m)
    assert e["path"] == ["operations", "slow", "hedge"] and e["value"]["max_extra"] == 1
    # 5% of calls are slow: the p90 is in the fast body, and the tail is cut
    assert e["value"]["after_ms"] == round(float(np.quantile(HEAVY, 0.9)), 1)
    assert m.recipe.ops["slow"].hedge is not None
    assert "heavy tail" in m.description and "extra calls" in m.description


def test_hedge_refuses_light_tails_external_frozen_few_calls() -> None:
    assert hedge.generate(_ctx(mini(OPS, outputs=("v",)), np.full(2000, 20.0) + np.arange(2000) % 7)) == []
    assert hedge.generate(_ctx(mini([{**OPS[0], "side_effects": "external"}], outputs=("v",)), HEAVY)) == []
    assert hedge.generate(_ctx(mini(OPS, outputs=("v",), constraints={"frozen": ["slow"]}), HEAVY)) == []
    assert hedge.generate(_ctx(mini(OPS, outputs=("v",)), HEAVY[:50])) == []
    assert hedge.generate(_ctx(mini(OPS, outputs=("v",)), HEAVY, hedge_tail_ratio=100.0)) == []
    idem = mini([{**OPS[0], "side_effects": "idempotent"}], outputs=("v",))
    assert ids(hedge.generate(_ctx(idem, HEAVY))) == ["hedge:slow"]


def test_scenario_hedges_the_heavy_tailed_stock_check_only() -> None:
    ms = hedge.generate(OperatorContext.build(scenario(), doc=scenario_doc(), profile=scenario_profile()))
    assert ids(ms) == ["hedge:check_stock"]


FAN = """\
apiVersion: recipemut/v1
kind: Recipe
name: fan
version: 1
fields:
  item_ids: {type: array}
  items: {type: array}
inputs: [item_ids]
outputs: [items]
operations:
  - id: get_item
    service: catalog
    action: GetItem
    consumes: [item_ids]
    produces: [items]
    foreach: item_ids
"""


def test_a_fanout_is_hedged_on_the_tail_of_its_calls(tmp_path: Path) -> None:
    # 50 requests of 4 serial calls: 20 ms, one call in 50 takes 1000 ms. Per call, p99 / p50 is
    # 50; the request's window (80 ms, or 1060 ms) has the tail too, but a hedge acts on each call
    rows = []
    for i in range(50):
        for m in range(4):
            lat = 1000.0 if (4 * i + m) % 50 == 7 else 20.0
            d = {"request_id": f"r{i}", "op": "get_item", "span_id": f"r{i}-{m}", "start_ms": 1e12 + 2000 * i + 20 * m}
            rows.append(line(d | {"latency_ms": lat, "status": "ok"}))
    r = load_recipe_text(FAN, file="fan.yaml")
    df, _ = read_logs(write_lines(tmp_path / "fan.jsonl", rows), recipe=r)
    prof = build_profile(df, r)
    (m,) = hedge.generate(OperatorContext.build(r, profile=prof))
    # 4 of 200 calls are slow: the p99 of the calls is 1000 ms, the p95 20 ms (the delay chosen)
    assert edits(m)[0]["value"] == {"after_ms": 20.0, "max_extra": 1}
    assert "has a heavy tail per call (p99 1,000 ms is 50.0x its p50 20.0 ms)" in m.description
    assert "on each of its calls" in m.description
