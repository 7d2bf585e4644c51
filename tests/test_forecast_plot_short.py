"""`forecast --plot` and `report` on a history too short to forecast (recipemut/report/charts.py).

The shipped GitHub Actions example holds 4.8 h of runs: the forecast is refused. The chart draws
the history over its own time range, says why there is no forecast, and never leaves a panel empty
(it drew empty panels over 2025-2029 before).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.forecast.capacity import CapacityReport
from recipemut.report.charts import clipped, forecast_figure, panel_title
from recipemut.usecases.forecast import run_forecast
from recipemut.usecases.inputs import LogSource

ROOT = Path(__file__).resolve().parents[1]
GHA = ROOT / "recipes" / "gha-flask-publish"
ENV = {"RECIPEMUT_STORE": "off", "COLUMNS": "200"}
runner = CliRunner()


@pytest.fixture(scope="module")
def rep() -> CapacityReport:
    return run_forecast(GHA / "workflow.yml", LogSource.of(GHA / "runs.jsonl")).report


def _num(t: object) -> float:
    import pandas as pd
    from matplotlib.dates import date2num

    return float(date2num(pd.Timestamp(t).tz_convert(None).to_datetime64()))


def test_the_example_is_too_short_to_forecast(rep: CapacityReport) -> None:
    assert not rep.forecast.dated and "4.8 h of history" in (rep.forecast.refused or "")


def test_every_panel_draws_the_history_over_its_own_time_range_and_says_why(rep: CapacityReport) -> None:
    fig = forecast_figure(rep)
    assert fig.axes
    start, end = _num(rep.forecast.history.index[0]), _num(rep.forecast.now)
    for ax in fig.axes:
        (history,) = [line for line in ax.get_lines() if line.get_label() == "history"]
        xs, ys = (np.asarray(v, dtype=float) for v in history.get_data(orig=False))
        assert np.isfinite(ys).all() and ys.max() > 0  # data, not an empty panel
        assert xs.max() > xs.min()  # one bin of history is a step as wide as the bin, not a dot
        lo, hi = ax.get_xlim()
        assert lo == pytest.approx(start) and hi == pytest.approx(end)  # hours, not 2025-2029
        notes = [t.get_text() for t in ax.texts]
        assert any("no forecast" in n and "4.8 h of history" in n.replace("\n", " ") for n in notes)
    assert "history only (no forecast)" in fig.get_suptitle()


def test_a_long_service_name_is_clipped_and_its_title_broken_in_two(rep: CapacityReport) -> None:
    long = next(o for o in rep.services if len(o.service) > 80)
    title = panel_title(rep, long)
    first, second = title.split("\n")
    assert len(first) <= 73 and "…" in first and first.endswith("@v1.9.0:")
    assert second == "no capacity declared: calls in flight"
    assert clipped("x" * 10, 5) == "xx…xx"


def test_forecast_plot_says_on_stderr_why_there_is_no_forecast(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the CLI's log handler (installed by `main`, not under CliRunner) prints core warnings on stderr
    png = tmp_path / "x.png"
    with caplog.at_level(logging.WARNING, logger="recipemut.report.charts"):
        res = runner.invoke(
            app,
            ["forecast", str(GHA / "workflow.yml"), "--logs", str(GHA / "runs.jsonl"), "--plot", str(png),
             "--format", "json"],
            env=ENV,
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    warned = [r.getMessage() for r in caplog.records if r.name == "recipemut.report.charts"]
    assert warned == [
        "the chart shows the history only; no forecast: only 4.8 h of history; at least 48 h (two daily cycles) "
        "are needed to tell growth from the daily cycle, so no date is given"
    ]
    assert json.loads(res.stdout)["refused"].startswith("only 4.8 h")  # stdout holds the JSON only


def test_report_forecast_section_draws_the_history_and_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(GHA / "workflow.yml"), "--logs", str(GHA / "runs.jsonl"), "-o", str(out)],
                        env=ENV)  # fmt: skip
    assert res.exit_code == 0, res.output
    html = out.read_text()
    section = html[html.index('<section id="forecast"') :]
    section = section[: section.index("</section>")]
    assert "history only (no forecast)" in section
    assert 'id="fcno-forecast' in section or "no-forecast" in section
    assert "2027" not in section and "2028" not in section  # no axis running years past the logs
    assert "the forecast and its interval" not in section  # the caption says what is drawn


SKEW = ROOT / "tests" / "realdata" / "zipkin_lens_skew.json"  # one trace of 99 ms: a history of one 1-second bin
SKEW_RECIPE = """apiVersion: recipemut/v1
kind: Recipe
name: skew
operations:
  - {id: get, service: servicea, action: get}
  - {id: post, service: serviceb, action: post, after: [get]}
"""


def test_a_history_under_a_minute_is_drawn_in_seconds_from_its_start(tmp_path: Path) -> None:
    """Its date axis ticked the seconds of a minute, '04.0 04.2 ... 05.2' under '2016-Aug-02 15:00'."""
    recipe = tmp_path / "skew.yaml"
    recipe.write_text(SKEW_RECIPE, encoding="utf-8")
    fig = forecast_figure(run_forecast(recipe, LogSource.of(SKEW)).report)
    fig.canvas.draw()
    assert fig.axes
    for ax in fig.axes:
        assert ax.get_xlabel() == "s from 2016-08-02 15:00:04.071 UTC"
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert ticks[0] == "0.0" and ticks[-1] == "1.0", ticks
        assert ax.xaxis.get_offset_text().get_text() == ""  # no date beside the ticks
        (history,) = [line for line in ax.get_lines() if line.get_label() == "history"]
        xs = np.asarray(history.get_xdata(), dtype=float)
        assert xs.min() == 0 and xs.max() == pytest.approx(1.0, abs=1e-3)  # the bin, from its start
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(recipe), "--logs", str(SKEW), "-o", str(out)], env=ENV)
    assert res.exit_code == 0, res.output
    html = out.read_text()
    section = html[html.index('<section id="forecast"') :]
    assert "s from 2016-08-02 15:00:04.071 UTC" in section[: section.index("</section>")]


def test_a_history_of_hours_keeps_its_date_axis(rep: CapacityReport) -> None:
    fig = forecast_figure(rep)
    fig.canvas.draw()
    for ax in fig.axes:
        assert ax.get_xlabel() == ""
        assert ax.xaxis.get_offset_text().get_text() == "2026-Nov-02"  # the day its ticks are hours of
