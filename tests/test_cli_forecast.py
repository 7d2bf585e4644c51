"""`recipemut forecast` through the CLI: text, JSON, backtest, plot, sampling, refusals, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _forecast_helpers import two_service_doc, two_service_recipe
from typer.testing import CliRunner

from recipemut import loggen
from recipemut.cli import app
from recipemut.forecast import capacity as C
from recipemut.forecast import demand as D
from recipemut.logs.ingest import read_logs
from recipemut.profile import busy as B
from recipemut.profile.build import build_profile

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # rich wraps tables at the terminal width; keep one row per line


def _write(tmp: Path, name: str, **gen: object) -> tuple[Path, Path]:
    recipe = tmp / "recipe.yaml"
    if not recipe.exists():
        recipe.write_text(yaml.safe_dump(two_service_doc(replicas=2, per_replica=8), sort_keys=False))
    spans = loggen.generate_spans(two_service_recipe(), **gen)  # type: ignore[arg-type]
    log = tmp / name
    loggen.write_jsonl(spans, log)
    return recipe, log


@pytest.fixture(scope="module")
def growing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # 14 days, 5%/day growth, sampled at 0.001: the logs stand for 1000x the requests they hold
    return _write(
        tmp_path_factory.mktemp("grow"), "grow.jsonl.gz", n_requests=30_000_000, seed=4, duration_s=14 * 86400.0,
        growth_per_day=0.05, diurnal_amplitude=0.5, sample_rate=0.001,
    )  # fmt: skip


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write(tmp_path_factory.mktemp("flat"), "flat.jsonl", n_requests=20_000, seed=1, duration_s=7 * 86400.0)


def test_text_names_the_crossing_and_the_sampling(growing: tuple[Path, Path]) -> None:
    recipe, log = growing
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--horizon", "60"], env=WIDE)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "rates scaled by 1/0.001 (tracer sample rate 0.001 from the logs' sample_rate)" in out
    assert "STL (daily)" in out and "95% interval" in out
    cart_line = next(line for line in out.splitlines() if line.startswith("cart "))
    assert " in " in cart_line and " days " in cart_line and "2x8" in cart_line
    # the date by its month's name: "(12-21)" beside a range of days read as "12 to 21 days"
    assert re.search(r"in \d+\.\d days \((Jan|Feb|Mar|Dec) \d{1,2}\); \d+ to (\d+|>60) ", cart_line), cart_line
    assert "horizon 60 days from the end of the logs (2025-12-08), to 2026-02-06" in out
    assert "days count from the end of the logs (2025-12-08 00:00 UTC), not from today" in out
    pricing_line = next(line for line in out.splitlines() if line.startswith("pricing "))
    assert "no capacity declared" in pricing_line
    assert "cart utilisation" in out and "*" in out and "now" in out


def test_json_is_data_only_and_agrees_with_the_core(growing: tuple[Path, Path]) -> None:
    recipe, log = growing
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--horizon", "60", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["dated"] is True and data["refused"] is None and data["horizon_days"] == 60
    assert data["recipe"]["name"] == "shop" and data["recipe"]["version"] == 3
    assert len(data["daily_peak_rps"]) == 60
    cart = next(s for s in data["services"] if s["service"] == "cart")
    assert cart["status"] == "crosses" and 0 < cart["crossing_in_days"] < 60
    assert cart["capacity"] == 16 and cart["replicas_needed"] > 2
    # the same numbers as the core on the same logs
    r = two_service_recipe(replicas=2, per_replica=8)
    spans, _ = read_logs([log], recipe=r)
    d = D.demand_from_profile(build_profile(spans, r), r)
    rep = C.capacity_report(r, d.start_ms, d.weights, d.busy_ms, horizon_days=60)
    core = next(o for o in rep.services if o.service == "cart")
    assert cart["crossing_in_days"] == pytest.approx(core.days_to(core.crossing, rep.forecast.now), abs=1e-3)
    assert cart["busy_ms_per_request"] == pytest.approx(d.busy_ms["cart"], abs=1e-3)


def test_flat_traffic_says_not_within_the_horizon(flat: tuple[Path, Path]) -> None:
    recipe, log = flat
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--horizon", "30"], env=WIDE)
    assert res.exit_code == 0, res.output
    cart_line = next(line for line in res.output.splitlines() if line.startswith("cart "))
    assert "not within 30 days" in cart_line and "beyond" not in res.output
    assert "no tracer sampling declared (sample_rate): every logged request counts once" in res.output
    # beside the note of a sample taken at ingest, "no sampling declared" read as denying it: the note names
    # the tracer's sample_rate, and is the same with the sample (the rate series counts every request)
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--horizon", "30", "--sample-requests",
                              "0.5"], env=WIDE)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "note: sampled 0.5 of requests by request_id" in res.stderr
    assert "; no tracer sampling declared (sample_rate): every logged request counts once" in res.stdout


def test_under_a_day_refuses_to_date(tmp_path: Path) -> None:
    recipe, log = _write(tmp_path, "short.jsonl", n_requests=3000, seed=2, duration_s=18 * 3600.0)
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log)])
    assert res.exit_code == 0, res.output
    assert "forecast refused:" in res.output and "no date is given" in res.output
    assert "undated" in res.output
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--format", "json"])
    data = json.loads(res.stdout)
    assert data["dated"] is False and re.search(r"only 1[78]\.\d h of history", data["refused"])
    assert all(s["crossing"] is None and s["replicas_needed"] is None for s in data["services"])
    assert data["daily_peak_rps"] == []


def test_backtest_reports_the_error(growing: tuple[Path, Path]) -> None:
    recipe, log = growing
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--backtest"])
    assert res.exit_code == 0, res.output
    assert "backtest: trained on 11.0 days, forecast the held-out last 3: MAPE " in res.output
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--backtest", "--format", "json"])
    bt = json.loads(res.stdout)["backtest"]
    assert bt["refused"] is None and bt["holdout_days"] == 3 and 0 < bt["mape_percent"] < 30
    assert 0 <= bt["interval_coverage"] <= 1


def test_sample_rate_option_scales_rates(flat: tuple[Path, Path]) -> None:
    recipe, log = flat
    args = ["forecast", str(recipe), "--logs", str(log), "--format", "json"]
    plain = json.loads(runner.invoke(app, args).stdout)
    res = runner.invoke(app, [*args, "--sample-rate", "0.1"])
    assert res.exit_code == 0, res.output
    scaled = json.loads(res.stdout)
    assert scaled["sampling"] == "rates scaled by 1/0.1 (tracer sample rate 0.1 from --sample-rate)"
    assert scaled["history"]["mean_rps"] == pytest.approx(10 * plain["history"]["mean_rps"], rel=1e-3)
    p_cart = next(s for s in plain["services"] if s["service"] == "cart")
    s_cart = next(s for s in scaled["services"] if s["service"] == "cart")
    assert s_cart["current_peak_utilization"] == pytest.approx(10 * p_cart["current_peak_utilization"], rel=1e-3)
    assert runner.invoke(app, [*args, "--sample-rate", "1.5"]).exit_code == 2


def test_user_errors_are_one_line(tmp_path: Path, flat: tuple[Path, Path]) -> None:
    recipe, _ = flat
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 1, res.output
    assert "missing.jsonl" in res.output and "Traceback" not in res.output


def test_real_subprocess_run(flat: tuple[Path, Path]) -> None:
    recipe, log = flat
    proc = subprocess.run(
        [sys.executable, "-m", "recipemut", "forecast", str(recipe), "--logs", str(log), "--format", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["recipe"]["name"] == "shop"


def test_forecast_from_profile_is_what_the_command_uses(growing: tuple[Path, Path]) -> None:
    r = two_service_recipe(replicas=2, per_replica=8)
    spans, _ = read_logs([growing[1]], recipe=r)
    prof = build_profile(spans, r)
    fc, busy = D.forecast_from_profile(prof, r, horizon_days=60)
    assert fc.dated and set(busy) == {"cart", "pricing"}
    # a substitute that moves `load` to another service takes its load off cart entirely
    moved = B.busy_by_service({"load": busy["cart"], "price": busy["pricing"]}, r)
    assert moved == pytest.approx(busy)
    ch = C.headroom_change(fc, r, busy, {"pricing": busy["pricing"] + busy["cart"], "cart": 0.0})
    assert ch.score == pytest.approx(1.0)
    cart = next(d for d in ch.deltas if d.service == "cart")
    assert cart.after.crossing is None and cart.before.crossing is not None


def test_heavily_sampled_short_logs_give_the_peak_with_its_interval_and_no_alarm(tmp_path: Path) -> None:
    # 20 h at sample rate 0.001 (about 1000 logged requests); the true peak is about 45% of a
    # one-replica cart, the target 70%. Five-minute bins of ~4 requests read 80-100%, "1 -> 2 (now)".
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(two_service_doc(replicas=1, per_replica=1), sort_keys=False))
    log = tmp_path / "sampled.jsonl"
    spans = loggen.generate_spans(two_service_recipe(replicas=1, per_replica=1), 1_000_000, seed=0,
                                  duration_s=20 * 3600.0, sample_rate=0.001, diurnal_amplitude=0.5)  # fmt: skip
    loggen.write_jsonl(spans, log)
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log)], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "hourly bins" in res.output
    cart_line = next(line for line in res.output.splitlines() if line.startswith("cart "))
    assert "1 -> 1 (now)" in cart_line and "above target" not in cart_line
    assert re.search(r"peak now: its 1-hour bin holds \d+ logged requests, so the true peak is \d+-\d+% of the "
                     r"value shown \(95% Poisson interval\)", res.output)  # fmt: skip
    data = json.loads(runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--format", "json"]).stdout)
    cart = next(s for s in data["services"] if s["service"] == "cart")
    lo, hi = cart["current_peak_utilization_interval"]
    assert lo < cart["current_peak_utilization"] < hi and cart["current_peak_utilization"] < 0.7
    assert cart["status"] == "undated" and cart["current_peak_sampled_requests"] >= 30


@pytest.mark.parametrize("columns", [80, 120])
def test_the_table_fits_the_terminal_one_row_per_service(growing: tuple[Path, Path], columns: int) -> None:
    recipe, log = growing
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--horizon", "60", "--charts", "1"],
                        env={"COLUMNS": str(columns)})  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("service "))
    table = lines[head : head + 3]
    assert all(len(line.rstrip()) <= 80 for line in table), table
    assert table[0].split()[:4] == ["service", "busy", "ms", "cap"]
    assert table[1].startswith("cart ") and "2x8" in table[1] and re.search(r"\d+ -> \d+", table[1])
    assert table[2].startswith("pricing ") and "no capacity declared" in table[2]
    chart = [line for line in lines if line.startswith(("   ", "    0% |", "       +"))]
    assert chart and all(len(line) <= 80 for line in chart)


ZIPKIN = Path(__file__).resolve().parent.parent / "recipes" / "zipkin_simple_db"


def test_zipkin_trace_runs_without_a_pandas_warning() -> None:
    # a sub-second trace: the bin ends on a nanosecond, which a datetime cannot hold
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-m", "recipemut", "forecast", str(ZIPKIN / "recipe.yaml"),
         "--logs", str(ZIPKIN / "trace.json"), "--map", str(ZIPKIN / "mapping.yaml")],
        capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "RECIPEMUT_STORE": "off"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "forecast refused:" in proc.stdout
    assert "app_db" in proc.stdout and "holds 1 logged request," in proc.stdout


def test_shared_log_options_and_ingest_warnings(flat: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, log = flat
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(log.read_text().splitlines(keepends=True)[:4]) + "{not json\n")
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--logs", str(bad), "--format", "json"])
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)  # warnings go to stderr, never into the JSON
    assert "warning:" in res.stderr and "rejected" in res.stderr and "bad.jsonl" in res.stderr
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--logs", str(bad), "--strict"])
    assert res.exit_code == 1 and "bad.jsonl" in res.output
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--log-format", "csv"])
    assert res.exit_code == 2 and "csv" in res.output
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--log-format", "native", "-f", "json"])
    assert res.exit_code == 0, res.output


def test_every_call_counts_in_the_busy_time(tmp_path: Path) -> None:
    from test_forecast import fanout_lines

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(two_service_doc(replicas=2, per_replica=8), sort_keys=False))
    log = tmp_path / "fanout.jsonl"  # 13 serial calls of 15 ms per request: a 207 ms window, 195 ms of calls
    log.write_text("".join(json.dumps(d) + "\n" for d in fanout_lines(40, 13, 15.0)))
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--format", "json"])
    assert res.exit_code == 0, res.output
    busy = {s["service"]: s["busy_ms_per_request"] for s in json.loads(res.stdout)["services"]}
    assert busy == {"cart": pytest.approx(10.0), "pricing": pytest.approx(195.0)}
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log)], env=WIDE)
    assert res.exit_code == 0, res.output
    pricing_line = next(line for line in res.output.splitlines() if line.startswith("pricing "))
    assert "195.0" in pricing_line, res.output
