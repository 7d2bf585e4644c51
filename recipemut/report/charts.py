"""The charts of ``forecast --plot`` and of the HTML report, drawn by matplotlib.

:func:`forecast_figure`: one panel per service that has traffic, in a grid, most urgent first:
the whole history, the forecast with its prediction interval, the target and the end of the
logs, with one legend for the figure. A service with declared capacity is drawn as a share of it
(utilisation); one without, in calls in flight (Little's law: request rate x busy time).

:func:`intervals_figure`: the ranked mutations (and the whole plan) as an interval plot of their
predicted change in p95 latency and in cost per request, each with its confidence interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recipemut.files.text import safe
from recipemut.forecast.capacity import CapacityReport, ServiceOutlook
from recipemut.forecast.plot import chart_series
from recipemut.forecast.rates import DAY_S
from recipemut.forecast.report import urgency_order
from recipemut.report.figures import new_figure, styled

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from recipemut.judge.abtest import Evaluation

HISTORY_COLOR, FORECAST_COLOR, BAND_COLOR = "#555555", "#08519c", "#9ecae1"
TARGET_COLOR, NOW_COLOR = "#d62728", "#999999"
IMPROVES_COLOR, WORSENS_COLOR, UNSURE_COLOR = "#2ca02c", "#d62728", "#7f7f7f"
PANEL_W, PANEL_H = 6.2, 2.7  # inches per panel
#: margins of the panel grid, in inches: room for the y labels, the date ticks, the title and legend
LEFT, RIGHT, TOP, BOTTOM, HSPACE, WSPACE = 0.75, 0.2, 1.0, 0.45, 0.62, 0.85


def charted_services(rep: CapacityReport) -> list[ServiceOutlook]:
    """The services drawn, most urgent first: those with traffic (busy time per request above 0)."""
    return [o for o in urgency_order(rep.services) if o.busy_ms > 0 and math.isfinite(o.busy_ms)]


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, columns) for ``n`` panels: one column for one, two up to six, then three.

    >>> [grid_shape(n) for n in (1, 2, 5, 7, 15)]
    [(1, 1), (1, 2), (3, 2), (3, 3), (5, 3)]
    """
    cols = 1 if n <= 1 else 2 if n <= 6 else 3
    return max(1, math.ceil(n / cols)), cols


def _naive_utc(index: pd.DatetimeIndex) -> np.ndarray:
    """datetime64 values (UTC, no zone) for matplotlib's date axis."""
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ns]")


def _when(d: datetime, now: datetime) -> str:
    return f"{d:%Y-%m-%d} ({(d - now).total_seconds() / DAY_S:.1f} d after the logs end)"


def panel_title(rep: CapacityReport, o: ServiceOutlook) -> str:
    """A panel's title: the service and when it reaches its target (user text made :func:`safe`)."""
    if o.capacity is None:
        what = "no capacity declared: calls in flight"
    elif not rep.forecast.dated:
        what = "undated (no forecast)"
    elif o.status == "over-now":
        what = "already above the target"
    elif o.crossing is None:
        what = f"target not reached within {rep.horizon_days:g} d"
    else:
        what = f"target reached {_when(o.crossing, rep.forecast.now)}"
    return f"{safe(o.service)}: {what}"


def _panel(ax: Axes, rep: CapacityReport, o: ServiceOutlook) -> None:
    index, hist_u, point, lower, upper = chart_series(rep, o, history_days=None)
    x = _naive_utc(index)
    share = o.capacity is not None
    k = 100.0 if share else 1.0
    target = o.target if share else None
    top = 1.25 * float(np.nanmax(np.r_[hist_u, point, target or 0.0, 1e-9])) * k
    ax.plot(x, hist_u * k, color=HISTORY_COLOR, lw=0.9, label="history")
    future = ~np.isnan(point)
    if future.any():
        ax.fill_between(
            x[future], np.minimum(lower[future] * k, top), np.minimum(upper[future] * k, top),
            color=BAND_COLOR, alpha=0.55, lw=0, label=f"{100 * rep.forecast.level:.0f}% interval",
        )  # fmt: skip
        ax.plot(x[future], point[future] * k, color=FORECAST_COLOR, lw=1.2, label="forecast")
    now = _naive_utc(pd.DatetimeIndex([rep.forecast.now]))[0]
    ax.axvline(now, color=NOW_COLOR, lw=1, ls=":", label="end of the logs")
    if target is not None:
        ax.axhline(target * k, color=TARGET_COLOR, lw=1, ls="--", label="target utilisation")
    if x[0] < x[-1]:  # one bucket of history and no forecast: matplotlib picks a span (it warned on stderr)
        ax.set_xlim(x[0], x[-1])
    ax.set_ylim(0, top)
    ax.set_ylabel("utilisation %" if share else "calls in flight")
    ax.set_title(panel_title(rep, o), parse_math=False)


def forecast_figure(rep: CapacityReport) -> Figure:
    """Every charted service (:func:`charted_services`) in a grid, with one legend for the figure."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    services = charted_services(rep)
    rows, cols = grid_shape(len(services))
    width, height = PANEL_W * cols, PANEL_H * rows + 1.0
    fig = new_figure(width, height, constrained=False)
    fig.suptitle(f"{safe(rep.recipe)}: load per service, whole history and forecast", parse_math=False,
                 x=0.1 / width, y=1 - 0.1 / height, ha="left", va="top", fontweight="bold")  # fmt: skip
    if not services:
        fig.text(0.5, 0.5, "no service has traffic in the logs", ha="center", va="center")
        return fig
    with styled():
        # fixed margins (constrained layout would measure every date tick first: half the drawing time)
        panel_w = (width - LEFT - RIGHT - WSPACE * (cols - 1)) / cols
        panel_h = (height - TOP - BOTTOM - HSPACE * (rows - 1)) / rows
        grid = fig.add_gridspec(
            rows, cols, left=LEFT / width, right=1 - RIGHT / width, top=1 - TOP / height, bottom=BOTTOM / height,
            wspace=WSPACE / panel_w, hspace=HSPACE / panel_h,
        )  # fmt: skip
        handles: dict[str, Artist] = {}
        for i, o in enumerate(services):
            ax = fig.add_subplot(grid[i // cols, i % cols])
            locator = AutoDateLocator(minticks=3, maxticks=7)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
            _panel(ax, rep, o)
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, h)
        # under the title, on a line of its own (a long recipe name would run into it beside the title)
        fig.legend(list(handles.values()), list(handles), loc="upper left", ncols=len(handles),
                   bbox_to_anchor=(0.1 / width, 1 - 0.38 / height), borderaxespad=0)  # fmt: skip
    return fig


def intervals_figure(rows: Sequence[tuple[str, Evaluation]]) -> Figure:
    """Δp95 latency (ms) and Δcost (µ$ per request) of each row with its interval; the first row on top.

    A mark is green when its whole interval is below zero (better), red when above (worse), grey
    when the interval holds zero.
    """
    from matplotlib.lines import Line2D

    n = max(1, len(rows))
    fig = new_figure(11.0, 0.9 + 0.36 * n)
    with styled():
        axes = fig.subplots(1, 2, sharey=True)
        y = np.arange(len(rows))
        for ax, key, scale, title in (
            (axes[0], "latency_p95_ms", 1.0, "Δ p95 latency (ms)"),
            (axes[1], "cost_mean_usd", 1e6, "Δ cost per request (µ$)"),
        ):
            for yi, (_, ev) in zip(y, rows, strict=True):
                iv = ev.predicted[key]
                est, lo, hi = iv.estimate * scale, iv.lo * scale, iv.hi * scale
                color = IMPROVES_COLOR if hi < 0 else WORSENS_COLOR if lo > 0 else UNSURE_COLOR
                ax.errorbar([est], [yi], xerr=[[max(0.0, est - lo)], [max(0.0, hi - est)]], fmt="o", ms=4,
                            color=color, ecolor=color, elinewidth=2, capsize=3)  # fmt: skip
            ax.axvline(0, color="#333333", lw=0.8)
            ax.set_title(title)
            ax.grid(axis="y", visible=False)
        axes[0].set_yticks(y, [safe(label) for label, _ in rows], parse_math=False)
        axes[0].set_ylim(len(rows) - 0.5, -0.5)
        level = rows[0][1].predicted["latency_p95_ms"].level if rows else 0.95
        legend = [
            Line2D([], [], color=c, marker="o", lw=2, label=t)
            for c, t in ((IMPROVES_COLOR, "better"), (WORSENS_COLOR, "worse"), (UNSURE_COLOR, "interval holds 0"))
        ]
        fig.legend(handles=legend, loc="outside lower center", ncols=3,
                   title=f"estimate and {100 * level:.0f}% interval (mutated - current)")  # fmt: skip
    return fig
