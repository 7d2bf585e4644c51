"""`forecast --plot` and its chart (recipemut/report/charts.py): PNG or SVG from the suffix, a legend,
the whole history, one panel per service with traffic (idle services get none)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from _forecast_helpers import two_service_doc
from typer.testing import CliRunner

from recipemut import loggen
from recipemut.cli import app
from recipemut.recipe.model import recipe_from_dict
from recipemut.report.charts import charted_services, forecast_figure, grid_shape
from recipemut.report.figures import figure_bytes
from recipemut.usecases.forecast import run_forecast
from recipemut.usecases.inputs import LogSource

runner = CliRunner()
SVG = "{http://www.w3.org/2000/svg}"
HISTORY_DAYS = 12  # more than the terminal chart's last 7 days: the image shows all of it


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """cart (capacity declared), pricing (traffic, no capacity declared), idle (capacity, no traffic)."""
    tmp = tmp_path_factory.mktemp("plot")
    doc = two_service_doc(replicas=2, per_replica=8)
    doc["services"]["idle"] = {"replicas": 3, "concurrency_per_replica": 4, "target_utilization": 0.7}
    recipe = tmp / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(doc, sort_keys=False))
    spans = loggen.generate_spans(
        recipe_from_dict(doc), n_requests=6000, seed=5, duration_s=HISTORY_DAYS * 86400.0, growth_per_day=0.05
    )
    log = tmp / "logs.jsonl"
    loggen.write_jsonl(spans, log)
    return recipe, log


def _axes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if re.fullmatch(r"axes_\d+", g.get("id", ""))]


def _texts(el: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in el.iter(f"{SVG}text")]


def test_svg_has_a_legend_and_one_panel_per_service_with_traffic(logs: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, log = logs
    svg = tmp_path / "cap.svg"
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--plot", str(svg), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["recipe"]["name"] == "shop"  # "wrote ..." goes to stderr, never into the JSON
    root = ET.fromstring(svg.read_bytes())
    assert root.tag == f"{SVG}svg"
    panels = _axes(root)
    assert len(panels) == 2  # cart and pricing; idle has no traffic, so no (empty) panel
    titles = [t for p in panels for t in _texts(p)]
    assert any(t.startswith("cart: ") for t in titles)
    assert "pricing: no capacity declared: calls in flight" in titles
    assert not any("idle" in t for t in _texts(root))
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("id") == "legend_1")
    assert set(_texts(legend)) == {"history", "95% interval", "forecast", "end of the logs", "target utilisation"}


def test_png_is_written_from_the_suffix(logs: tuple[Path, Path], tmp_path: Path) -> None:
    from PIL import Image

    recipe, log = logs
    png = tmp_path / "cap.PNG"
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as im:
        assert im.format == "PNG"
        width, height = im.size
        pixels = np.asarray(im.convert("L"))
    assert width > 600 and height > 300
    assert (pixels < 128).mean() > 0.005  # lines and text, not a blank image


def test_another_suffix_is_refused_before_any_work(logs: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, log = logs
    res = runner.invoke(app, ["forecast", str(recipe), "--logs", str(log), "--plot", str(tmp_path / "cap.pdf")])
    assert res.exit_code == 2, res.output
    assert "PNG or SVG" in res.output and "*.png or *.svg" in res.output
    assert not (tmp_path / "cap.pdf").exists()


def test_the_x_axis_spans_the_whole_history_and_the_horizon(logs: tuple[Path, Path]) -> None:
    from matplotlib.dates import date2num

    recipe, log = logs
    rep = run_forecast(recipe, LogSource.of(log), horizon_days=20).report
    hist, fc = rep.forecast.history, rep.forecast
    assert hist.history_s > 10 * 86400  # the terminal chart keeps 7 days; this one must keep them all
    fig = forecast_figure(rep)
    axes = fig.axes
    assert [ax.get_title(loc="left").split(":")[0] for ax in axes] == [o.service for o in charted_services(rep)]
    first = date2num(hist.index[0].tz_convert(None).to_datetime64())
    last = date2num(fc.index[-1].tz_convert(None).to_datetime64())
    for ax in axes:
        assert ax.get_xlim() == pytest.approx((first, last))
        history_line = next(line for line in ax.get_lines() if line.get_label() == "history")
        xs = date2num(np.asarray(history_line.get_xdata()))
        assert xs.size == len(hist.index) + len(fc.index) and xs[0] == pytest.approx(first)


def test_svg_is_reproducible_and_a_name_with_dollars_is_text_not_tex(logs: tuple[Path, Path]) -> None:
    import dataclasses

    recipe, log = logs
    rep = run_forecast(recipe, LogSource.of(log), horizon_days=10).report
    rep = dataclasses.replace(rep, recipe="cost $x$ & <b>")
    a, b = figure_bytes(forecast_figure(rep), "svg"), figure_bytes(forecast_figure(rep), "svg")
    assert a == b
    assert "cost $x$ &amp; &lt;b&gt;: load per service" in a.decode()


@pytest.mark.parametrize(("n", "shape"), [(1, (1, 1)), (2, (1, 2)), (3, (2, 2)), (6, (3, 2)), (7, (3, 3))])
def test_grid_holds_every_panel_with_no_row_to_spare(n: int, shape: tuple[int, int]) -> None:
    rows, cols = grid_shape(n)
    assert (rows, cols) == shape
    assert rows * cols >= n > (rows - 1) * cols
