"""Forecast: from a recipe and its logs to the capacity report (and its chart, PNG or SVG, when asked).

The pipeline is load -> ingest -> profile -> request-rate series -> forecast -> Little's law per
service (:mod:`recipemut.forecast.capacity`); the command renders the result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipemut.files.progress import NO_PROGRESS, Progress
from recipemut.forecast.rates import DEFAULT_HORIZON_DAYS
from recipemut.usecases.inputs import Inputs, LogSource, load_inputs, request_sampling

if TYPE_CHECKING:
    from recipemut.forecast.capacity import CapacityReport
    from recipemut.logs.report import IngestReport
    from recipemut.recipe.model import Recipe


@dataclass(frozen=True, eq=False)
class ForecastRun:
    """What ``recipemut forecast`` shows: the recipe, its capacity report, and how the logs read."""

    recipe: Recipe
    report: CapacityReport
    ingest: IngestReport
    plot: Path | None = None  # the chart written (PNG or SVG), if any

    @property
    def request_sampling(self) -> dict[str, Any]:
        """What the JSON adds when ingest sampled the requests (:func:`~recipemut.usecases.inputs.request_sampling`):
        the rate series counts every request, the busy time per request is the sample's."""
        return request_sampling(self.ingest)


def build_report(
    inputs: Inputs,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    with_backtest: bool = False,
    sample_rate: float | None = None,
) -> CapacityReport:
    """The capacity report of profiled ``inputs``: rate forecast, each service's outlook (and the backtest).

    ``sample_rate`` is the one the logs were read with (``--sample-rate``), named in the report's
    sampling note when it scaled the rates.
    """
    from recipemut.forecast.capacity import capacity_report
    from recipemut.forecast.demand import demand_from_profile, sampling_note, with_every_request

    if inputs.profile is None:
        raise ValueError("build_report needs profiled inputs (load_inputs(..., profile=True))")
    recipe = inputs.recipe
    # sampled at ingest: the rate counts every request
    demand = with_every_request(demand_from_profile(inputs.profile, recipe), inputs.report.sample)
    return capacity_report(
        recipe, demand.start_ms, demand.weights, demand.busy_ms, horizon_days=horizon_days,
        with_backtest=with_backtest, sample_rate_note=sampling_note(demand.sample_rates, sample_rate),
    )  # fmt: skip


def run_forecast(
    recipe_path: str | os.PathLike[str],
    source: LogSource,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    with_backtest: bool = False,
    plot: Path | None = None,
    progress: Progress = NO_PROGRESS,
) -> ForecastRun:
    """Read the recipe and its logs, forecast, and write the chart to ``plot`` when given.

    The chart's format follows ``plot``'s suffix (``.png`` or ``.svg``,
    :data:`recipemut.report.figures.IMAGE_FORMATS`; another raises ``ValueError``: the command
    refuses it first); it is drawn by :func:`recipemut.report.charts.forecast_figure`.

    ``plot`` is checked before any work (never an input, a link or a new folder tree) and written
    atomically. ``progress`` is told each stage (reading, profiling, ``forecasting``, the chart).
    Raises what the loader and the log reader raise, and :class:`~recipemut.errors.InputFileError`
    when the plot cannot be written.
    """
    if plot is not None:
        from recipemut.files.kinds import PNG, SVG
        from recipemut.files.write import check_output_path
        from recipemut.report.figures import image_format

        if image_format(plot) is None:
            raise ValueError(f"--plot {plot}: name the file *.png or *.svg")
        check_output_path(
            plot, option="--plot", recipes=[recipe_path], inputs=source.input_files(), example="capacity.svg",
            kind=SVG if image_format(plot) == "svg" else PNG,
        )
    inputs = load_inputs(recipe_path, source, progress=progress)
    progress.task("forecasting" + (" and backtesting" if with_backtest else ""))
    rep = build_report(inputs, horizon_days=horizon_days, with_backtest=with_backtest, sample_rate=source.sample_rate)
    if plot is not None:
        progress.task("drawing the chart")
        from recipemut.errors import InputFileError
        from recipemut.files.write import atomic_write
        from recipemut.report.charts import forecast_figure
        from recipemut.report.figures import figure_bytes, image_format

        try:
            atomic_write(plot, figure_bytes(forecast_figure(rep), image_format(plot) or "svg"))
        except OSError as e:
            raise InputFileError(f"cannot write the plot: {e.strerror}", file=str(plot), code="write") from e
    return ForecastRun(inputs.recipe, rep, inputs.report, plot)
