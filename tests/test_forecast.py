"""Forecast core: rate series, the rate forecast, Little's law per service, backtest, headroom."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _forecast_helpers import DAY_MS, true_crossing_days, two_service_doc, two_service_recipe
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut import loggen
from recipemut.forecast import capacity as C
from recipemut.forecast import demand as D
from recipemut.forecast import rates as R
from recipemut.forecast.headroom import Headroom
from recipemut.predict.simulate import Replay, replay
from recipemut.profile import busy as B
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.model import Recipe, recipe_from_dict

N = 40_000
DURATION_S = 14 * 86400.0
GROWTH = 0.05
DIURNAL = 0.5
WEIGHT = 1000.0  # the logs stand for 1000x the traffic: a realistic load on a small fixture


@pytest.fixture(scope="module")
def growing() -> dict[int, pd.DataFrame]:
    r = two_service_recipe()
    return {
        seed: loggen.generate_spans(
            r, N, seed=seed, duration_s=DURATION_S, growth_per_day=GROWTH, diurnal_amplitude=DIURNAL
        )
        for seed in (0, 1, 2)
    }


def _demand(spans: pd.DataFrame, r: Recipe) -> D.DemandInputs:
    return D.demand_from_profile(build_profile(spans, r), r)


# ---- the rate series -------------------------------------------------------------------------


def test_rate_series_weights_requests_and_keeps_only_full_bins() -> None:
    t = np.array([30_000.0, 60_000.0, 61_000.0, 119_000.0, 125_000.0, 179_000.0, 185_000.0])
    s = R.rate_series(t, np.array([1, 1, 10, 1, 1, 1, 1.0]), bin_s=60)
    # bins [60s,120s) and [120s,180s); the first half-covered minute and the last few seconds are dropped
    assert s.index[0] == pd.Timestamp(60_000, unit="ms", tz="UTC")
    np.testing.assert_allclose(s.rps, [12 / 60, 2 / 60])
    assert s.end == pd.Timestamp(180_000, unit="ms", tz="UTC").to_pydatetime()


def test_rate_series_resolution_follows_the_span() -> None:
    assert R.rate_series(np.linspace(0, 3 * DAY_MS, 100_000)).bin_s == 3600.0
    assert R.rate_series(np.linspace(0, 0.5 * DAY_MS, 100_000)).bin_s == 300.0
    assert R.rate_series(np.linspace(0, 3_600_000, 100_000)).bin_s == 60.0
    short = R.rate_series(np.array([0.0, 1000.0, 2000.0]), bin_s=60)  # under two bins: one bin
    assert len(short.rps) == 1 and short.rps[0] == pytest.approx(1.5)


def test_rate_series_bins_hold_enough_logged_requests() -> None:
    # 1000 logged requests over 20 h: 5-minute bins would hold 4 each; the bin widens until 30 fit
    s = R.rate_series(np.linspace(0, 20 * 3_600_000, 1000), 1000.0)
    assert s.bin_s == 3600.0 and s.sampled is not None and s.sampled.min() >= R.MIN_SAMPLED_PER_BIN
    assert s.rps.mean() == pytest.approx(1000 * 1000 / (20 * 3600), rel=0.05)  # still weighted
    # 14 days with 2000 logged requests: 6 per hour -> 6-hour bins, still dated (four bins a day)
    sparse = R.rate_series(np.sort(np.random.default_rng(1).uniform(0, 14 * DAY_MS, 2000)))
    assert sparse.bin_s == 21600.0 and R.forecast_rate(sparse, horizon_days=5).dated
    # too few for even 6-hour bins: no date, and the reason is the sampling, not the history
    rare = R.forecast_rate(R.rate_series(np.linspace(0, 14 * DAY_MS, 300)), horizon_days=5)
    assert not rare.dated and rare.refused is not None and "too few logged requests" in rare.refused


def test_heavily_sampled_short_logs_raise_no_false_alarm() -> None:
    # 20 h at sample rate 0.001: about 1000 logged requests; the true peak is about 45% of capacity,
    # the target 70%. With 5-minute bins of ~4 requests the busiest bin read 80-103% ("over now").
    r = two_service_recipe(replicas=1, per_replica=1)
    duration = 20 * 3600.0
    for seed in range(4):
        spans = loggen.generate_spans(r, 1_000_000, seed=seed, duration_s=duration, sample_rate=0.001,
                                      diurnal_amplitude=DIURNAL)  # fmt: skip
        d = _demand(spans, r)
        rep = C.capacity_report(r, d.start_ms, d.weights, d.busy_ms)
        cart = next(o for o in rep.services if o.service == "cart")
        t = np.arange(d.start_ms.min(), d.start_ms.max(), 60_000.0)
        lam = loggen.rate_function(t, n_requests=1_000_000, duration_s=duration, diurnal_amplitude=DIURNAL)
        true_peak = float(lam[-1440:].max()) * d.busy_ms["cart"] / 1000.0
        assert 0.35 < true_peak < 0.55
        assert rep.forecast.history.bin_s >= 1800.0
        assert cart.status == "undated" and cart.replicas_needed_now == 1, (seed, cart)
        assert cart.current_peak_util is not None and cart.current_peak_util < 0.7
        lo, hi = cart.peak_util_interval() or (0.0, 0.0)
        assert lo <= true_peak * 1.1 and hi >= true_peak and cart.current_peak_sampled is not None


def test_a_real_overload_in_sampled_logs_still_alarms() -> None:
    r = two_service_recipe(replicas=1, per_replica=1)
    spans = loggen.generate_spans(r, 2_600_000, seed=0, duration_s=20 * 3600.0, sample_rate=0.001,
                                  diurnal_amplitude=DIURNAL)  # fmt: skip
    d = _demand(spans, r)
    cart = next(o for o in C.capacity_report(r, d.start_ms, d.weights, d.busy_ms).services if o.service == "cart")
    assert cart.status == "over-now" and (cart.peak_util_interval() or [0.0])[0] >= 0.7
    assert cart.replicas_needed_now is not None and cart.replicas_needed_now >= 2


def test_rate_series_of_nothing_is_empty() -> None:
    assert len(R.rate_series(np.zeros(0)).rps) == 0


# ---- crossing date on traffic with a known growth and daily cycle -----------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crossing_date_within_ten_percent_of_the_true_one(growing: dict[int, pd.DataFrame], seed: int) -> None:
    r = two_service_recipe(replicas=2, per_replica=8)
    d = _demand(growing[seed], r)
    rep = C.capacity_report(r, d.start_ms, WEIGHT, d.busy_ms, horizon_days=60)
    cart = next(o for o in rep.services if o.service == "cart")
    assert rep.forecast.dated and cart.status == "crosses", cart
    true = true_crossing_days(
        now_ms=rep.forecast.now.timestamp() * 1000,
        n_requests=N,
        duration_s=DURATION_S,
        growth_per_day=GROWTH,
        diurnal_amplitude=DIURNAL,
        weight=WEIGHT,
        busy_ms=d.busy_ms["cart"],
        capacity=16,
        target=0.7,
        horizon_days=60,
    )
    assert true is not None and 10 < true < 50  # the fixture puts the true date well inside the horizon
    got = cart.days_to(cart.crossing, rep.forecast.now)
    assert got is not None and abs(got - true) <= 0.1 * true, (got, true)
    # the interval's bounds bracket the point date: earliest (upper bound) <= point <= latest (lower bound)
    assert cart.crossing_earliest is not None and cart.crossing is not None
    assert cart.crossing_earliest <= cart.crossing
    assert cart.crossing_latest is None or cart.crossing <= cart.crossing_latest
    # replicas for the forecast peak: Little's law at the target, from the forecast's own peak
    need = math.ceil(cart.forecast_peak_rps * d.busy_ms["cart"] / 1000 / (8 * 0.7))
    assert cart.replicas_needed == need and need > 2


def test_forecast_recovers_the_growth_rate(growing: dict[int, pd.DataFrame]) -> None:
    r = two_service_recipe()
    d = _demand(growing[0], r)
    fc = R.forecast_rate(R.rate_series(d.start_ms, WEIGHT), horizon_days=14)
    per_day = fc.point.reshape(-1, 24).mean(axis=1)
    growth = (per_day[-1] / per_day[0]) ** (1 / 13) - 1
    assert growth == pytest.approx(GROWTH, abs=0.01)
    assert fc.seasonal_periods == (24,) and "STL (daily)" in fc.model
    assert np.all(fc.lower <= fc.point) and np.all(fc.point <= fc.upper)
    # the interval widens with the horizon (growth-rate uncertainty)
    width = np.log(fc.upper + 1) - np.log(fc.lower + 1)
    assert width[-24:].mean() > width[:24].mean()


def test_flat_traffic_is_not_within_the_horizon() -> None:
    r = two_service_recipe(replicas=2, per_replica=8)
    spans = loggen.generate_spans(r, 30_000, seed=5, duration_s=DURATION_S, diurnal_amplitude=DIURNAL)
    d = _demand(spans, r)
    rep = C.capacity_report(r, d.start_ms, WEIGHT, d.busy_ms, horizon_days=30)
    cart = next(o for o in rep.services if o.service == "cart")
    assert cart.status == "clear" and cart.crossing is None
    assert cart.current_peak_util is not None and cart.current_peak_util < 0.7
    assert cart.replicas_needed is not None and cart.replicas_needed <= 2


def test_under_a_day_of_history_refuses_to_date() -> None:
    r = two_service_recipe(replicas=1, per_replica=1)
    spans = loggen.generate_spans(r, 5_000, seed=2, duration_s=20 * 3600, growth_per_day=0.5)
    d = _demand(spans, r)
    rep = C.capacity_report(r, d.start_ms, WEIGHT, d.busy_ms, horizon_days=30)
    assert not rep.forecast.dated
    assert rep.forecast.refused is not None and "no date is given" in rep.forecast.refused
    for o in rep.services:
        assert o.crossing is None and o.crossing_earliest is None and o.replicas_needed is None
    cart = next(o for o in rep.services if o.service == "cart")
    # what was observed is still reported: the current peak, which is over the target here
    assert cart.status == "over-now" and cart.current_peak_util is not None and cart.current_peak_util > 0.7
    assert cart.replicas_needed_now is not None and cart.replicas_needed_now > 1


def test_weekly_cycle_is_modelled_from_three_weeks() -> None:
    t = np.sort(np.random.default_rng(0).uniform(0, 22 * DAY_MS, 40_000))
    fc = R.forecast_rate(R.rate_series(t), horizon_days=7)
    assert fc.seasonal_periods == (24, 168) and "MSTL (daily + weekly)" in fc.model


# ---- Little's law ---------------------------------------------------------------------------


def test_busy_time_counts_an_operation_by_the_share_of_requests_it_runs_on() -> None:
    lat = np.array([[10.0, np.nan, 5.0], [30.0, 40.0, np.nan], [20.0, np.nan, np.nan], [20.0, 0.0, 1.0]])
    busy = B.busy_ms_per_request(lat, ("a", "b", "c"), {"a": "s1", "b": "s2", "c": "s2"})
    assert busy == {"s1": pytest.approx(20.0), "s2": pytest.approx(46 / 4)}


def test_demand_weights_sampled_requests() -> None:
    spans = loggen.generate_spans(two_service_recipe(), 2, seed=0).sort_values(["request_id", "start_ms"])
    spans = spans.assign(
        start_ms=[1000.0, 1010.0, 5000.0, 5020.0], latency_ms=[10.0, 30.0, 20.0, 50.0], sample_rate=[1, 1, 0.25, 0.25]
    )
    assert spans["op"].tolist() == ["load", "price", "load", "price"]
    d = _demand(spans, two_service_recipe())
    np.testing.assert_allclose(np.sort(d.start_ms), [1000.0, 5000.0])
    np.testing.assert_allclose(np.sort(d.weights), [1.0, 4.0])
    # r2 stands for four requests: busy = (1*10 + 4*20) / 5 for cart
    assert d.busy_ms == {"cart": pytest.approx(18.0), "pricing": pytest.approx((30 + 200) / 5)}


def test_sampled_logs_give_the_unsampled_rate() -> None:
    r = two_service_recipe()
    full = loggen.generate_spans(r, 20_000, seed=3, duration_s=3 * 86400.0)
    sampled = loggen.generate_spans(r, 20_000, seed=3, duration_s=3 * 86400.0, sample_rate=0.2)
    a, b = _demand(full, r), _demand(sampled, r)
    ra, rb = R.rate_series(a.start_ms, a.weights), R.rate_series(b.start_ms, b.weights)
    assert rb.rps.mean() == pytest.approx(ra.rps.mean(), rel=0.05)
    assert b.busy_ms["cart"] == pytest.approx(a.busy_ms["cart"], rel=0.05)
    assert "1/0.2" in D.sampling_note(b.sample_rates, None)


def test_outlook_literal_little_law() -> None:
    t = np.arange(0, 3 * DAY_MS, 100.0)  # 10 requests a second for 3 days
    fc = R.forecast_rate(R.rate_series(t), horizon_days=5)
    o = C.outlook(fc, "cart", 250.0, replicas=2, concurrency_per_replica=4, target=0.5)
    # concurrency = 10/s * 0.25 s = 2.5; capacity 8 -> 31.25%; replicas at 50%: ceil(2.5 / 2) = 2
    assert o.current_peak_util == pytest.approx(2.5 / 8)
    assert o.status == "clear" and o.replicas_needed == 2 and o.replicas_needed_now == 2
    hot = C.outlook(fc, "cart", 500.0, replicas=2, concurrency_per_replica=4, target=0.5)
    assert hot.status == "over-now" and hot.replicas_needed_now == 3
    none = C.outlook(fc, "db", 500.0, replicas=None, concurrency_per_replica=None, target=None)
    assert (
        none.status == "no-capacity" and none.current_peak_util is None and none.current_peak_rps == pytest.approx(10)
    )


# ---- backtest -------------------------------------------------------------------------------


def test_backtest_scores_the_held_out_days(growing: dict[int, pd.DataFrame]) -> None:
    d = _demand(growing[1], two_service_recipe())
    bt = R.backtest(R.rate_series(d.start_ms, WEIGHT))
    assert bt.refused is None and bt.holdout_days == 3 and bt.train_days == pytest.approx(11, abs=0.1)
    # hourly bins of ~120 sampled requests: Poisson noise alone is ~9%
    assert bt.mape is not None and 3 < bt.mape < 25
    assert bt.peak_error is not None and abs(bt.peak_error) < 25
    assert bt.coverage is not None and bt.coverage > 0.7


def test_backtest_refuses_without_enough_history() -> None:
    t = np.sort(np.random.default_rng(0).uniform(0, 2.5 * DAY_MS, 10_000))
    bt = R.backtest(R.rate_series(t))
    assert bt.refused is not None and bt.mape is None


def test_a_backtest_of_sparse_traffic_blames_the_bins_not_the_days() -> None:
    """Two requests three days apart (and two days of traffic 40 days apart) were refused for '3.0 days of
    history: a backtest needs 2 days to train', which they have."""
    bt = R.backtest(R.rate_series(np.array([0.0, 3 * DAY_MS])))
    assert bt.refused is not None and bt.refused.startswith("too few logged requests: "), bt.refused
    assert "days of history" not in bt.refused
    # bins at their widest, a day: not 'a bin would need 24 h to hold 30' beside 'its 24-hour bin holds 3'
    assert "even a day's bin holds fewer than 30 of them" in bt.refused, bt.refused
    sparse = R.rate_series(np.linspace(0.0, 2 * DAY_MS, 200))  # 100 a day: hours-wide bins, not a day's
    assert sparse.bin_s < R.DAY_S and "a bin would need" in R.forecast_rate(sparse, horizon_days=1).refused


# ---- headroom for suggest -------------------------------------------------------------------


def test_headroom_sentences_read_as_english() -> None:
    now = pd.Timestamp("2025-12-07", tz="UTC").to_pydatetime()
    base = C.ServiceOutlook("cart", 20.0, 2, 8, 0.7, 10.0, 0.5, "crosses", crossing=now + timedelta(days=9),
                            replicas_needed=8)  # fmt: skip
    clear = C.ServiceOutlook("cart", 10.0, 2, 8, 0.7, 10.0, 0.3, "clear", replicas_needed=5)
    over = C.ServiceOutlook("cart", 40.0, 2, 8, 0.7, 10.0, 0.9, "over-now", replicas_needed_now=3)
    undated = C.ServiceOutlook("cart", 10.0, 2, 8, 0.7, 10.0, 0.3, "undated", replicas_needed_now=1)
    assert C.HeadroomDelta(base, clear, 60.0).sentence(now) == (
        "cart: scaling needed in 9.0 days -> not within the 60-day horizon; peak replicas 8 -> 5")
    assert C.HeadroomDelta(over, base, 60.0).sentence(now).startswith(
        "cart: scaling needed now (already above target) -> in 9.0 days; ")
    assert C.HeadroomDelta(over, undated, None).sentence(now) == (
        "cart: scaling needed now (already above target) -> undated (no forecast); "
        "replicas for the current peak 3 -> 1")
    for bad in ("in not", "in now", "in undated", "beyond"):
        assert bad not in C.HeadroomDelta(clear, over, 30.0).sentence(now)


def test_headroom_sentence_says_an_unchanged_outlook_once() -> None:
    """Not 'scaling needed not within the 30-day horizon -> not within the 30-day horizon' (make demo)."""
    now = pd.Timestamp("2025-12-07", tz="UTC").to_pydatetime()
    clear = C.ServiceOutlook("pricing", 10.0, 2, 8, 0.7, 10.0, 0.3, "clear", replicas_needed=2)
    over = C.ServiceOutlook("pricing", 40.0, 2, 8, 0.7, 10.0, 0.9, "over-now", replicas_needed_now=3)
    undated = C.ServiceOutlook("pricing", 10.0, 2, 8, 0.7, 10.0, 0.3, "undated", replicas_needed_now=1)
    assert C.HeadroomDelta(clear, replace(clear, replicas_needed=1), 30.0).sentence(now) == (
        "pricing: no scaling needed within the 30-day horizon (nor after this change); peak replicas 2 -> 1")
    assert C.HeadroomDelta(clear, clear, None).sentence(now) == (
        "pricing: no scaling needed within the horizon (nor after this change); peak replicas 2 -> 2")
    assert C.HeadroomDelta(over, replace(over, replicas_needed_now=2), 30.0).sentence(now) == (
        "pricing: scaling needed now (already above target), and still after this change; "
        "replicas for the current peak 3 -> 2")
    assert C.HeadroomDelta(undated, undated, 30.0).sentence(now) == (
        "pricing: scaling undated (no forecast), before and after this change; replicas for the current peak 1 -> 1")
    for before, after in [(clear, clear), (over, over), (undated, undated)]:
        line = C.HeadroomDelta(before, after, 30.0).sentence(now)
        assert line.count("horizon") <= 1 and " -> " not in line.split(";")[0], line


def test_headroom_change_moves_crossing_and_replicas(growing: dict[int, pd.DataFrame]) -> None:
    r = two_service_recipe(replicas=2, per_replica=8)
    d = _demand(growing[0], r)
    fc = R.forecast_rate(R.rate_series(d.start_ms, WEIGHT), horizon_days=60)
    after = dict(d.busy_ms, cart=d.busy_ms["cart"] * 0.5)
    ch = C.headroom_change(fc, r, d.busy_ms, after)
    cart = next(x for x in ch.deltas if x.service == "cart")
    assert cart.before.crossing is not None
    # half the busy time: utilisation halves, so the crossing moves out by log(2)/log(1.05) ~ 14 days
    assert cart.after.crossing is None or cart.after.crossing - cart.before.crossing > timedelta(days=12)
    assert cart.after.replicas_needed is not None and cart.before.replicas_needed is not None
    assert cart.after.replicas_needed < cart.before.replicas_needed
    assert ch.score == pytest.approx(0.5)  # the bottleneck's peak utilisation halves
    lines = ch.lines()
    assert len(lines) == 1 and lines[0].startswith("cart: scaling needed in ") and " -> " in lines[0]
    assert f"peak replicas {cart.before.replicas_needed} -> {cart.after.replicas_needed}" in lines[0]
    if cart.after.crossing is None:
        assert " -> not within the 60-day horizon; " in lines[0]
    else:
        assert re.match(r"cart: scaling needed in \d+\.\d days -> \d+\.\d days; ", lines[0])
    same = C.headroom_change(fc, r, d.busy_ms, d.busy_ms)
    assert same.score == 0 and same.lines() == []
    worse = C.headroom_change(fc, r, d.busy_ms, dict(d.busy_ms, cart=d.busy_ms["cart"] * 2))
    assert worse.score == pytest.approx(-1.0)


# ---- the bottleneck: the service that crosses its target first -------------------------------


@pytest.fixture(scope="module")
def sampled_growth() -> pd.DataFrame:
    """14 days growing 5%/day, logged at 1 in 10 000 (about 20 000 requests, 1400-1700 rps now)."""
    return loggen.generate_spans(two_service_recipe(), 200_000_000, seed=4, duration_s=DURATION_S,
                                 growth_per_day=GROWTH, diurnal_amplitude=DIURNAL, sample_rate=0.0001)  # fmt: skip


def _headroom(spans: pd.DataFrame, cart_cpr: int | None, pricing_cpr: int | None) -> tuple[Recipe, Headroom]:
    """The two-service shop, ``cart`` and ``pricing`` declared at 1 replica of that concurrency (None: not)."""
    doc = two_service_doc()
    doc["services"] = {
        name: {"replicas": 1, "concurrency_per_replica": cpr, "target_utilization": 0.7}
        for name, cpr in (("cart", cart_cpr), ("pricing", pricing_cpr))
        if cpr is not None
    }
    r = recipe_from_dict(doc)
    prof = build_profile(spans, r)
    return r, Headroom(r, replay(r, prof, rng=np.random.default_rng(0)), prof)


def _replay(load_ms: float, price_ms: float) -> Replay:
    """A one-request replay with that busy time per operation (``load`` on cart, ``price`` on pricing)."""
    one = np.ones((1, 1), dtype=bool)
    busy = {"load": load_ms, "price": price_ms}
    return Replay(("load",), np.arange(1), np.ones(1), np.ones(1), one, ~one, busy_ms=busy)


@pytest.mark.parametrize(("cart_cpr", "pricing_cpr"), [(20, 40), (40, 20), (20, 21), (20, 20)])
def test_the_bottleneck_is_the_first_service_to_cross(
    sampled_growth: pd.DataFrame, cart_cpr: int, pricing_cpr: int
) -> None:
    r, hr = _headroom(sampled_growth, cart_cpr, pricing_cpr)
    outs = {o.service: o for o in C.service_outlooks(hr.forecast, r, hr.before) if o.capacity}
    assert set(outs) == {"cart", "pricing"}
    crossings = {s: o.crossing for s, o in outs.items() if o.crossing is not None}
    assert len(crossings) == 2
    svc, load = hr.pressure(r, _replay(hr.before["cart"], hr.before["pricing"]))
    assert svc == hr.bottleneck()
    assert crossings[svc] == min(crossings.values())
    # its load, utilisation over target at the forecast peak, is the highest: services cross in that order
    peak = {s: o.forecast_peak_util for s, o in outs.items()}
    assert load == pytest.approx(peak[svc] / 0.7) and peak[svc] == max(peak.values())  # type: ignore[type-var]


def test_the_bottleneck_moves_when_a_replay_relieves_it(sampled_growth: pd.DataFrame) -> None:
    r, hr = _headroom(sampled_growth, 20, 40)
    cart, pricing = hr.before["cart"], hr.before["pricing"]
    first = hr.pressure(r, _replay(cart, pricing))
    assert first[0] == "cart" == hr.bottleneck()
    svc, load = hr.pressure(r, _replay(1.0, pricing))  # cart's operation relieved: pricing crosses first now
    assert svc == "pricing" and load < first[1]
    # loads compare across services: busy time over capacity (same target, same rate forecast)
    assert load == pytest.approx(first[1] * (pricing / 40) / (cart / 20), rel=1e-9)


def test_no_bottleneck_without_declared_capacity(sampled_growth: pd.DataFrame) -> None:
    from recipemut.errors import RecipemutError

    r, hr = _headroom(sampled_growth, None, None)
    with pytest.raises(RecipemutError) as e:
        hr.pressure(r, _replay(hr.before["cart"], hr.before["pricing"]))
    assert e.value.code == "no-capacity"
    assert "--objective headroom needs services with declared capacity" in str(e.value)


# ---- every call counts ----------------------------------------------------------------------


def fanout_lines(
    n_requests: int, calls: int, call_ms: float, *, in_flight: int = 1, gap: float = 1.0, t0: float = 1e12
) -> list[dict[str, object]]:
    """Native lines with span ids: per request one ``load`` (10 ms, cart), then ``calls`` calls of
    ``price`` (pricing) of ``call_ms`` each, ``in_flight`` at once, ``gap`` ms between waves."""
    out: list[dict[str, object]] = []
    for i in range(n_requests):
        rid, t = f"r{i}", t0 + 60_000.0 * i
        out.append({"request_id": rid, "op": "load", "span_id": f"{rid}-l", "start_ms": t, "latency_ms": 10.0})
        for j in range(calls):
            start = t + 10.0 + gap + (j // in_flight) * (call_ms + gap)
            out.append({"request_id": rid, "op": "price", "span_id": f"{rid}-p{j}", "start_ms": start,
                        "latency_ms": call_ms})  # fmt: skip
    return [{"recipe": "shop", "status": "ok", **d} for d in out]


def fanout_profile(lines: list[dict[str, object]], tmp: Path) -> Profile:
    """The profile of ``lines`` written as a native log and read back as ``recipemut`` reads it."""
    from recipemut.logs.ingest import read_logs

    log = tmp / "fanout.jsonl"
    log.write_text("".join(json.dumps(d) + "\n" for d in lines))
    spans, _ = read_logs([log], recipe=two_service_recipe())
    return build_profile(spans, two_service_recipe())


@pytest.mark.parametrize("in_flight", [1, 4, 13])
def test_busy_time_is_the_sum_over_calls_not_their_window_nor_one_call(tmp_path: Path, in_flight: int) -> None:
    prof = fanout_profile(fanout_lines(3, 13, 15.0, in_flight=in_flight), tmp_path)
    window = float(np.nanmean(prof.latency_ms[:, prof.op_ids.index("price")]))
    waves = -(-13 // in_flight)
    assert window == pytest.approx(waves * 15.0 + (waves - 1) * 1.0)  # the window: what the request waited for
    d = D.demand_from_profile(prof, two_service_recipe())
    assert d.busy_ms == {"cart": pytest.approx(10.0), "pricing": pytest.approx(195.0)}  # 13 x 15 ms


def test_one_call_per_operation_gives_the_same_busy_time_with_or_without_span_ids(tmp_path: Path) -> None:
    lines = fanout_lines(5, 1, 15.0)
    with_ids = D.demand_from_profile(fanout_profile(lines, tmp_path), two_service_recipe()).busy_ms
    bare = [{k: v for k, v in d.items() if k != "span_id"} for d in lines]
    without = D.demand_from_profile(fanout_profile(bare, tmp_path), two_service_recipe()).busy_ms
    assert with_ids == without == {"cart": pytest.approx(10.0), "pricing": pytest.approx(15.0)}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.integers(1, 3), st.floats(1.0, 50.0), st.sampled_from([1.0, 2.0, 4.0, 10.0])),
        min_size=1,
        max_size=6,
    )
)
def test_busy_time_is_the_calls_times_added_up_per_request(shapes: list[tuple[int, int, float, float]]) -> None:
    import tempfile

    lines: list[dict[str, object]] = []
    for i, (calls, in_flight, ms, weight) in enumerate(shapes):
        for d in fanout_lines(1, calls, ms, in_flight=in_flight, t0=1e12 + 60_000.0 * i):
            lines.append({**d, "request_id": f"q{i}", "span_id": f"q{i}-{d['span_id']}", "sample_rate": 1 / weight})
    with tempfile.TemporaryDirectory() as tmp:
        d = D.demand_from_profile(fanout_profile(lines, Path(tmp)), two_service_recipe())
    w = np.array([s[3] for s in shapes])
    expected = float(np.sum(w * np.array([s[0] * s[2] for s in shapes])) / w.sum())
    assert d.busy_ms["pricing"] == pytest.approx(expected, rel=1e-9)
