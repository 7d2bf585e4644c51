"""abtest.py: the stable split, objectives, and verdicts on replays with known effects."""

from __future__ import annotations

import numpy as np
import pytest

from recipemut.judge.abtest import JudgeSettings, evaluate, objective_values, treatment_mask
from recipemut.judge.stats import IMPROVES, NO_DIFFERENCE, REGRESSES
from recipemut.predict.simulate import Replay


def _rep(lat: np.ndarray, cost: np.ndarray, imputed: float = 0.0) -> Replay:
    n = lat.size
    imp = np.zeros((n, 1), dtype=bool)
    imp[: int(imputed * n), 0] = True
    return Replay(("a",), np.arange(n), lat, cost, np.ones((n, 1), dtype=bool), imp)


N = 20000
IDS = np.array([f"r-{i}" for i in range(N)], dtype=object)
LATENCY = JudgeSettings(objective="latency")


def _base(seed: int = 0) -> Replay:
    rng = np.random.default_rng(seed)
    return _rep(rng.lognormal(4.6, 0.4, N), rng.uniform(0.001, 0.002, N))


def test_split_is_stable_and_near_the_share() -> None:
    m = treatment_mask(IDS, 0.1)
    assert m.tolist() == treatment_mask(IDS.copy(), 0.1).tolist()
    assert m.mean() == pytest.approx(0.1, abs=0.01)
    # a larger share contains the smaller one (same hash, higher threshold)
    assert np.all(treatment_mask(IDS, 0.3)[m])
    with pytest.raises(ValueError):
        treatment_mask(IDS, 1.5)


def test_split_is_independent_of_a_canary_split_by_the_unkeyed_hash() -> None:
    from recipemut.loggen.keys import hash_share

    control = IDS[hash_share(IDS) >= 0.2]  # what a 20% canary leaves to the control variant
    assert control.size > 0.7 * N
    assert treatment_mask(control, 0.1).mean() == pytest.approx(0.1, abs=0.015)


def test_latency_improvement_is_found_with_intervals() -> None:
    b = _base()
    m = _rep(b.latency_ms * 0.8, b.cost_usd)
    ev = evaluate(b, m, IDS, LATENCY)
    assert ev.verdict == IMPROVES
    p50 = ev.predicted["latency_p50_ms"]
    assert p50.lo <= p50.estimate <= p50.hi < 0
    assert ev.score == pytest.approx(-0.2, abs=1e-9)
    assert ev.ab is not None and ev.ab.test == "mann-whitney-u" and ev.ab.p_value < 1e-6
    assert ev.ab.n_treatment == int(treatment_mask(IDS, 0.1).sum())
    assert ev.predicted["cost_mean_usd"].estimate == 0.0


def test_regression_and_no_difference() -> None:
    b = _base()
    assert evaluate(b, _rep(b.latency_ms * 1.3, b.cost_usd), IDS, LATENCY).verdict == REGRESSES
    same = evaluate(b, _rep(b.latency_ms * 1.0005, b.cost_usd), IDS, LATENCY)
    assert same.verdict == NO_DIFFERENCE
    assert same.ab is None  # below the minimum effect: the statistics are skipped


def test_small_true_effect_on_a_small_split_is_not_overclaimed() -> None:
    # 3% faster but with per-request noise far larger: a 10% split of 2000 requests cannot show it
    rng = np.random.default_rng(1)
    n = 2000
    b = _rep(rng.lognormal(4.6, 0.8, n), np.full(n, 0.001))
    m = _rep(b.latency_ms * np.exp(rng.normal(np.log(0.97), 0.8, n)), b.cost_usd)
    ev = evaluate(b, m, IDS[:n], JudgeSettings(objective="latency", share=0.1))
    assert ev.verdict == NO_DIFFERENCE
    assert ev.ab is not None


def test_p95_objective_sees_a_tail_cut_the_median_misses() -> None:
    b = _base()
    lat = b.latency_ms.copy()
    tail = lat > np.quantile(lat, 0.9)
    lat[tail] = np.quantile(lat, 0.9)  # hedging-like: cap the tail
    m = _rep(lat, b.cost_usd * 1.05)
    assert evaluate(b, m, IDS, JudgeSettings(objective="p95")).verdict == IMPROVES
    assert evaluate(b, m, IDS, LATENCY).verdict == NO_DIFFERENCE
    assert evaluate(b, m, IDS, JudgeSettings(objective="cost")).verdict == REGRESSES


def test_balanced_weighs_relative_changes() -> None:
    b = _base()
    # 10% slower, 40% cheaper: balanced at weight 0.5 improves, at weight 0.95 regresses
    m = _rep(b.latency_ms * 1.1, b.cost_usd * 0.6)
    assert evaluate(b, m, IDS, JudgeSettings(objective="balanced", weight=0.5)).verdict == IMPROVES
    assert evaluate(b, m, IDS, JudgeSettings(objective="balanced", weight=0.95)).verdict == REGRESSES
    v = objective_values(m, "balanced", weight=0.5, norm=(float(b.latency_ms.mean()), float(b.cost_usd.mean())))
    assert v.mean() == pytest.approx(0.5 * 1.1 + 0.5 * 0.6)


def test_imputed_share_is_carried_and_bad_input_rejected() -> None:
    b = _base()
    m = _rep(b.latency_ms * 0.5, b.cost_usd, imputed=0.25)
    assert evaluate(b, m, IDS, LATENCY).imputed_share == pytest.approx(0.25)
    with pytest.raises(ValueError, match="objective"):
        evaluate(b, m, IDS, JudgeSettings(objective="speed"))
    with pytest.raises(ValueError, match="same requests"):
        evaluate(b, _rep(b.latency_ms[:10], b.cost_usd[:10]), IDS, LATENCY)


def test_to_dict_has_plan_metric_names() -> None:
    b = _base()
    d = evaluate(b, _rep(b.latency_ms * 0.8, b.cost_usd), IDS, LATENCY).to_dict()
    assert {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "cost_mean_usd"} <= set(d)
    assert set(d["latency_p95_ms"]) == {"delta", "ci", "level"}  # type: ignore[arg-type]


def test_headroom_judges_the_bottleneck_services_busy_time() -> None:
    b = _base()
    rng = np.random.default_rng(3)
    busy_b = {"tax": rng.lognormal(4.0, 0.3, N), "cart": rng.lognormal(3.0, 0.3, N)}
    base = Replay(("a",), np.arange(N), b.latency_ms, b.cost_usd, b.ran, b.imputed, service_busy=busy_b)
    # a cache on the tax service: 30% of its calls become 1 ms; latency and cost unchanged otherwise
    hit = rng.random(N) < 0.3
    busy_m = {"tax": np.where(hit, 1.0, busy_b["tax"]), "cart": busy_b["cart"]}
    mut = Replay(("a",), np.arange(N), b.latency_ms, b.cost_usd, b.ran, b.imputed, service_busy=busy_m)
    ev = evaluate(base, mut, IDS, JudgeSettings(objective="headroom", service="tax"))
    assert ev.verdict == IMPROVES
    assert ev.score == pytest.approx((busy_m["tax"].mean() - busy_b["tax"].mean()) / busy_b["tax"].mean())
    # judged on a service it does not touch: nothing to see
    assert evaluate(base, mut, IDS, JudgeSettings(objective="headroom", service="cart")).verdict == NO_DIFFERENCE
    with pytest.raises(ValueError, match="bottleneck"):
        evaluate(base, mut, IDS, JudgeSettings(objective="headroom"))


def test_every_judged_candidate_reports_mann_whitney_hodges_lehmann_and_a_cost_bootstrap() -> None:
    b = _base()
    m = _rep(b.latency_ms * 0.9, b.cost_usd * 0.8)
    for objective in ("cost", "p95", "balanced", "latency"):
        ev = evaluate(b, m, IDS, JudgeSettings(objective=objective))
        assert ev.ab_latency is not None and ev.ab_latency.test == "mann-whitney-u", objective
        assert ev.ab_latency.p_value < 1e-3
        hl = ev.ab_latency.shift
        assert hl.lo <= hl.estimate <= hl.hi < 0
        assert ev.ab_cost is not None and ev.ab_cost.deltas["mean"].hi < 0
        d = ev.to_dict()["ab"]
        assert d["latency"]["test"] == "mann-whitney-u" and d["cost"]["deltas"]["mean"]["ci"][1] < 0  # type: ignore[index]


def test_an_underpowered_split_does_not_hide_what_the_paired_replay_shows() -> None:
    # the slowest 15% of 2000 requests 10% faster (a real p95 cut of ~7%): the 10% split's p95
    # bootstrap spans zero, the paired replay of every request does not
    rng = np.random.default_rng(5)
    n = 2000
    b = _rep(rng.lognormal(4.6, 0.6, n), np.full(n, 0.001))
    lat = b.latency_ms.copy()
    lat[lat > np.quantile(lat, 0.85)] *= 0.9
    m = _rep(lat, b.cost_usd)
    ev = evaluate(b, m, IDS[:n], JudgeSettings(objective="p95", share=0.1))
    assert ev.ab is not None and ev.ab.verdict == NO_DIFFERENCE  # the A/B alone cannot show it
    assert ev.paired is not None and ev.paired.verdict == IMPROVES
    assert ev.verdict == IMPROVES and ev.decided_by == "paired"
    assert ev.to_dict()["decided_by"] == "paired"


def test_a_split_result_the_full_replay_contradicts_is_no_difference() -> None:
    from recipemut.judge.abtest import decide

    assert decide(IMPROVES, REGRESSES) == (NO_DIFFERENCE, "conflict")
    assert decide(REGRESSES, NO_DIFFERENCE) == (NO_DIFFERENCE, "paired")


def _imputed_rep(lat: np.ndarray, cost: np.ndarray, imputed: float, busy: float) -> Replay:
    r = _rep(lat, cost, imputed)
    return Replay(r.op_ids, r.rows, r.latency_ms, r.cost_usd, r.ran, r.imputed, busy_ms={"a": busy})


def test_intervals_resting_on_a_prior_are_widened_by_its_uncertainty() -> None:
    b = _base()
    # 3% faster, but 90% of requests rest on 100 ms per request drawn from a prior (25% = +-22.5 ms)
    m = _imputed_rep(b.latency_ms * 0.97, b.cost_usd, 0.9, 100.0)
    ev = evaluate(b, m, IDS, LATENCY)
    assert ev.verdict == NO_DIFFERENCE and ev.decided_by == "imputed"
    assert "90% of requests rest on imputed samples" in ev.caveat
    p50 = ev.predicted["latency_p50_ms"]
    assert p50.lo < p50.estimate - 22.0 and p50.hi > 0  # widened by 0.25 x 0.9 x 100 ms each way
    assert (
        ev.predicted["cost_mean_usd"]
        == evaluate(b, _rep(m.latency_ms, b.cost_usd), IDS, LATENCY).predicted["cost_mean_usd"]
    )
    # without the prior's uncertainty the same numbers improve; a large effect survives it
    assert evaluate(b, m, IDS, JudgeSettings(objective="latency", prior_uncertainty=0.0)).verdict == IMPROVES
    big = evaluate(b, _imputed_rep(b.latency_ms * 0.7, b.cost_usd, 0.9, 100.0), IDS, LATENCY)
    assert big.verdict == IMPROVES and big.caveat == ""


@pytest.mark.parametrize("objective", ["latency", "p95", "cost", "balanced"])
def test_one_request_is_too_few_to_judge_never_a_verdict(objective: str) -> None:
    # one request replayed: its bootstrap is itself, a zero-width 'interval' around one difference
    import math

    from recipemut.judge.stats import TOO_FEW

    base, faster = _rep(np.array([99.4]), np.array([0.01])), _rep(np.array([34.4]), np.array([0.005]))
    ev = evaluate(base, faster, np.array(["r0"]), JudgeSettings(objective=objective))
    assert ev.verdict == TOO_FEW and ev.decided_by == "too-few"
    assert ev.caveat == "1 request replayed, an interval needs at least 2"
    p95 = ev.predicted["latency_p95_ms"]
    assert p95.estimate == pytest.approx(-65.0) and math.isnan(p95.lo) and math.isnan(p95.hi)
    assert ev.decision() == "no test: too few requests to judge (1 request replayed, an interval needs at least 2)"
    two = evaluate(_rep(np.array([99.4, 90.0]), np.array([0.01, 0.01])), _rep(np.array([34.4, 30.0]),
                   np.array([0.005, 0.005])), np.array(["r0", "r1"]), JudgeSettings(objective=objective))
    assert two.verdict != TOO_FEW
