"""`forecast` on degenerate and damaged logs: clockwork traffic (SARIMAX's interval came back NaN and
crashed `_replicas`), and a few spans with a start years away (they stretched the series over a
century of empty bins and advised scaling down, silently)."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from _forecast_helpers import two_service_doc, two_service_recipe
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recipemut import loggen
from recipemut.cli import app
from recipemut.forecast import capacity as C
from recipemut.forecast import rates as R
from recipemut.profile.build import FAR_OFF_GAP_MS, far_off_starts

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
T0 = 1763942652129.0  # the attacker's start: 2025-11-24
DAY_MS = 86_400_000.0


def _recipe(tmp: Path) -> Path:
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(two_service_doc(replicas=2, per_replica=8), sort_keys=False))
    return path


def _flat_log(tmp: Path, n: int, **extra: object) -> Path:
    """``n`` spans of ``load``, one a minute, 5 ms each: traffic with no noise at all."""
    path = tmp / f"flat{n}.jsonl"
    rows = (
        {"request_id": f"r{i}", "op": "load", "start_ms": T0 + i * 60_000, "latency_ms": 5, "status": "ok", **extra}
        for i in range(n)
    )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _forecast_json(recipe: Path, log: Path, *args: str) -> dict:
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "-f", "json", *args], env=WIDE)
    assert res.exit_code == 0, res.output + repr(res.exception)
    return json.loads(res.stdout)


# ---- 1. clockwork traffic ------------------------------------------------------------------


@pytest.mark.parametrize("n", [4600, 4800, 5000])
def test_a_flat_series_gets_a_finite_interval_around_its_rate(n: int) -> None:
    # SARIMAX's interval was NaN (4,600, 5,000) or a fraction of a percent wide (4,800) on these
    fc = R.forecast_rate(R.rate_series(T0 + np.arange(n) * 60_000.0))
    assert fc.dated
    assert np.isfinite(fc.lower).all() and np.isfinite(fc.upper).all()
    np.testing.assert_allclose(fc.point, 1 / 60, rtol=1e-6)
    # 60 requests an hour: Poisson noise of about 1/sqrt(60) = 13% a bin, so the next day's 95% interval
    # is about -24% .. +30%, whatever the length; it widens further out (the growth rate is uncertain)
    lo, hi, p = fc.lower[:24], fc.upper[:24], fc.point[:24]
    assert (lo < p * 0.8).all() and (lo > p * 0.7).all() and (hi > p * 1.2).all() and (hi < p * 1.4).all()
    assert (np.diff(fc.upper - fc.lower) > 0).all() and (fc.lower > 0).all()
    assert "least squares" in fc.model


def test_a_noisy_series_keeps_the_sarimax_model() -> None:
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(0, 5 * DAY_MS, 20_000)) + T0
    fc = R.forecast_rate(R.rate_series(t))
    assert "SARIMAX" in fc.model and "least squares" not in fc.model


def test_replicas_of_an_unknown_peak_are_unknown_not_a_crash() -> None:
    series = R.rate_series(T0 + np.arange(5000) * 60_000.0)
    fc = R.forecast_rate(series)
    broken = R.RateForecast(
        series, fc.index, fc.point, np.full_like(fc.lower, np.nan), np.full_like(fc.upper, np.nan), fc.level,
        fc.seasonal_periods, fc.model,
    )  # fmt: skip
    o = C.outlook(broken, "cart", 5.0, replicas=2, concurrency_per_replica=8, target=0.7)
    assert o.replicas_needed == 1 and o.replicas_needed_upper is None and o.crossing_earliest is None
    from recipemut.commands.forecast import _replicas_cell

    assert _replicas_cell(o) == "2 -> 1 (?)"  # the bound unknown, never "(None)"


@pytest.mark.parametrize(("n", "extra", "args"), [(4600, {}, ()), (5000, {"sample_rate": 0.5}, ("--plot", "c.svg"))])
def test_forecast_command_on_flat_traffic(tmp_path: Path, n: int, extra: dict, args: tuple[str, ...]) -> None:
    recipe = _recipe(tmp_path)
    log = _flat_log(tmp_path, n, **extra)
    args = tuple(str(tmp_path / a) if a.endswith(".svg") else a for a in args)
    data = _forecast_json(recipe, log, *args)
    cart = next(s for s in data["services"] if s["service"] == "cart")
    rate = (1 / 60) / extra.get("sample_rate", 1.0)  # type: ignore[operator]
    assert [d["point"] for d in data["daily_peak_rps"]] == pytest.approx([rate] * 31, rel=1e-4)
    assert cart["replicas_needed"] == 1 and cart["replicas_needed_upper"] == 1 and cart["status"] == "clear"
    for day in data["daily_peak_rps"]:
        assert day["lower"] < day["point"] < day["upper"]
    text = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log)], env=WIDE)
    assert text.exit_code == 0 and "least squares" in text.stdout


# ---- 2. far-off starts -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fortnight(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """Two weeks of growing, daily-cycling sampled traffic, as JSONL lines."""
    tmp = tmp_path_factory.mktemp("fortnight")
    spans = loggen.generate_spans(
        two_service_recipe(), 4_000_000, seed=7, duration_s=14 * 86400.0, growth_per_day=0.04, sample_rate=0.005
    )
    log = tmp / "base.jsonl.gz"
    loggen.write_jsonl(spans, log)
    return _recipe(tmp), log, gzip.decompress(log.read_bytes()).decode().splitlines()


def _with_stray(tmp: Path, lines: list[str], starts: list[float]) -> Path:
    extra = [
        json.dumps({"request_id": f"zz{i}", "op": "load", "start_ms": s, "latency_ms": 5, "status": "ok",
                    "sample_rate": 0.001})
        for i, s in enumerate(starts)
    ]  # fmt: skip
    path = tmp / "stray.jsonl"
    path.write_text("\n".join(lines + extra) + "\n")
    return path


def _figures(data: dict) -> dict:
    hist = {k: v for k, v in data["history"].items() if not k.startswith("left_out")}
    return {"history": hist, "services": data["services"], "daily": data["daily_peak_rps"], "now": data["now"]}


@pytest.mark.parametrize("stray", [4.6e12, -1e12])
def test_one_far_off_start_leaves_the_forecast_as_it_was_and_is_named_once(
    tmp_path: Path, fortnight: tuple[Path, Path, list[str]], stray: float, caplog: pytest.LogCaptureFixture
) -> None:
    recipe, base, lines = fortnight
    before = _forecast_json(recipe, base)
    log = _with_stray(tmp_path, lines, [stray])
    with caplog.at_level(logging.WARNING):
        after = _forecast_json(recipe, log)
    assert _figures(after) == _figures(before)
    assert after["history"]["left_out_requests"] == 1
    assert after["history"]["left_out_starts"] == [str(np.datetime64(int(stray), "ms")) + "Z"]
    said = [r.getMessage() for r in caplog.records if "request-rate series" in r.getMessage()]
    year = "2115" if stray > 0 else "1938"
    assert len(said) == 1
    assert said[0].startswith(f"{log}:{len(lines) + 1}: 1 request left out") and year in said[0]


def test_profile_rates_leave_the_far_off_start_out(tmp_path: Path, fortnight: tuple[Path, Path, list[str]]) -> None:
    recipe, base, lines = fortnight
    log = _with_stray(tmp_path, lines, [4.6e12])
    rates = []
    for f in (base, log):
        res = runner.invoke(app, ["profile", str(recipe), "--logs", str(f), "-f", "json"], env=WIDE)
        assert res.exit_code == 0, res.output
        rates.append({k: v for k, v in json.loads(res.stdout)["rate"].items() if k != "sample_rates"})  # spans'
    assert rates[1] == rates[0]  # the year-2115 span made 787,000 hourly bins: mean_rps fell to 0.003


def test_weeks_of_real_traffic_lose_no_request() -> None:
    # a quiet start (5% of requests over the first week), a two-day outage, 100x growth: all kept
    rng = np.random.default_rng(5)
    quiet = rng.uniform(0, 7 * DAY_MS, 500)
    busy = np.r_[rng.uniform(7 * DAY_MS, 12 * DAY_MS, 4000), rng.uniform(14 * DAY_MS, 21 * DAY_MS, 5500)]
    growth = DAY_MS * np.log1p(rng.uniform(0, 99, 10_000)) / np.log(100) * 28
    for t in (np.r_[quiet, busy], growth, np.linspace(0, 90 * DAY_MS, 50_000)):
        assert not far_off_starts(T0 + t).any()


base_starts = st.builds(
    lambda n, days, seed: T0 + np.sort(np.random.default_rng(seed).uniform(0, days * DAY_MS, n)),
    st.integers(200, 3000), st.floats(0.5, 30), st.integers(0, 2**31),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=base_starts,
    offsets=st.lists(st.floats(0.0, 100 * 365.0), min_size=1, max_size=5),
    sides=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_far_off_spans_never_change_the_rate_series(base: np.ndarray, offsets: list[float], sides: list[bool]) -> None:
    """Starts farther than the documented gap, max(bulk width, 1 day), beyond the log's ends are left
    out and the series is exactly the one without them; nothing of the log itself is ever left out."""
    width = float(base[-1] - base[0])
    gap = max(width, FAR_OFF_GAP_MS)
    stray = np.array(
        [base[-1] + gap * 1.001 + d * DAY_MS if up else base[0] - gap * 1.001 - d * DAY_MS
         for d, up in zip(offsets, sides, strict=False)]
    )  # fmt: skip
    t = np.r_[base, stray]
    far = far_off_starts(t)
    assert far.tolist() == [False] * base.size + [True] * stray.size
    clean, dirty = R.rate_series(base), R.rate_series(t)
    assert dirty.bin_s == clean.bin_s and dirty.index.equals(clean.index)
    np.testing.assert_array_equal(dirty.rps, clean.rps)
    np.testing.assert_array_equal(dirty.left_out_ms, np.sort(stray))


@settings(max_examples=60, deadline=None)
@given(base=base_starts, at=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5))
def test_starts_within_the_gap_are_kept(base: np.ndarray, at: list[float]) -> None:
    """Starts within a day of the log's last one are never far off (the gap is at least a day)."""
    extra = base[-1] + np.asarray(at) * FAR_OFF_GAP_MS * 0.999
    assert not far_off_starts(np.r_[base, extra]).any()


def test_the_note_lists_a_few_and_the_last() -> None:
    from recipemut.profile.build import far_off_note

    t = np.r_[np.linspace(T0, T0 + 14 * DAY_MS, 1000), 4.6e12 + np.arange(5) * DAY_MS]
    note = far_off_note(t, far_off_starts(t))
    assert note.startswith("5 requests left out") and note.count("2115-") == 4 and " ... " in note


@pytest.mark.parametrize(
    "args", [("--sample-requests", "0.3"), ("--engine", "dask"), ("--engine", "dask", "--sample-requests", "0.3")]
)
def test_sampled_and_partitioned_reads_leave_it_out_too(
    tmp_path: Path, fortnight: tuple[Path, Path, list[str]], args: tuple[str, ...], caplog: pytest.LogCaptureFixture
) -> None:
    """The request sample may miss the far-off request (the profile then has nothing to warn about) while
    the rate series counts every request of the log: it is left out there, and named once."""
    recipe, base, lines = fortnight
    before = _forecast_json(recipe, base, *args)
    log = _with_stray(tmp_path, lines, [4.6e12])
    with caplog.at_level(logging.WARNING):
        after = _forecast_json(recipe, log, *args)
    assert _figures(after) == _figures(before)
    assert after["history"]["left_out_requests"] == 1
    said = [r.getMessage() for r in caplog.records if "request-rate series" in r.getMessage()]
    assert len(said) == 1 and "2115-10-08" in said[0], said


def _far_by_sorting(t: np.ndarray) -> np.ndarray:
    """The documented rule read literally: sort, find the bulk by rank, cut past the first wide gap."""
    i_lo = int(np.floor(0.05 * (t.size - 1)))
    far = np.zeros(t.size, dtype=bool)
    if i_lo == 0:
        return far
    order = np.argsort(t, kind="stable")
    s = t[order]
    i_hi = s.size - 1 - i_lo
    wide = np.diff(s) > max(s[i_hi] - s[i_lo], FAR_OFF_GAP_MS)
    cut = np.zeros(s.size, dtype=bool)
    below, above = np.flatnonzero(wide[:i_lo]), np.flatnonzero(wide[i_hi:])
    if below.size:
        cut[: below[-1] + 1] = True
    if above.size:
        cut[i_hi + above[0] + 1 :] = True
    far[order] = cut
    return far


@settings(max_examples=200, deadline=None)
@given(
    clusters=st.lists(
        st.tuples(st.floats(-200 * 365, 200 * 365), st.floats(0, 30), st.integers(1, 300)), min_size=1, max_size=5
    ),
    seed=st.integers(0, 2**31),
)
def test_far_off_starts_is_the_documented_rule(clusters: list[tuple[float, float, int]], seed: int) -> None:
    """Clusters of starts anywhere within 200 years, of any width and size (ties included)."""
    rng = np.random.default_rng(seed)
    t = np.concatenate(
        [T0 + at * DAY_MS + np.round(rng.uniform(0, width * DAY_MS, n), -5) for at, width, n in clusters]
    )
    np.testing.assert_array_equal(far_off_starts(t), _far_by_sorting(t))


def test_report_names_a_far_off_start_once_when_sampled(
    tmp_path: Path, fortnight: tuple[Path, Path, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """report forecasts twice from one reading (suggest's headroom, then its own forecast): the warning
    is of the reading, said once (a reviewer saw it twice under --sample-requests)."""
    recipe, _, lines = fortnight
    log = _with_stray(tmp_path, lines, [4.6e12])
    with caplog.at_level(logging.WARNING):
        res = runner.invoke(app, ["report", str(recipe), "--logs", str(log), "--sample-requests", "0.3",
                                  "-o", str(tmp_path / "r.html")], env=WIDE)  # fmt: skip
    assert res.exit_code == 0, res.output + repr(res.exception)
    said = [r.getMessage() for r in caplog.records if "request-rate series" in r.getMessage()]
    assert len(said) == 1, said
