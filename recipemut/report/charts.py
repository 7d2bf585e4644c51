"""The charts of ``forecast --plot`` and of the HTML report, drawn by matplotlib.

:func:`forecast_figure`: one panel per service that has traffic, in a grid, most urgent first:
the whole history, the forecast with its prediction interval, the target and the end of the
logs, with one legend for the figure. When the forecast was refused (too little history), each
panel draws the history over its own time range (each bin a step as wide as the bin, so one bin
is a visible line) and says why there is no forecast; the reason is also logged (stderr). A range
under a minute (traces of one request: a one-second bin) is drawn in time from its start, ``s``
or ``ms`` under the axis, where dates would tick the seconds of a minute (``04.2 04.4 ... 05.0``).
A service with declared capacity is drawn as a share of it (utilisation); one without, in calls
in flight (Little's law: request rate x busy time).

:func:`intervals_figure`: the ranked mutations (and the whole plan) as an interval plot of their
predicted change in p95 latency and in cost per request, each with its confidence interval.
"""

from __future__ import annotations

import logging
import math
import textwrap
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recipemut.files.text import safe
from recipemut.files.units import days_text
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
#: margins of the panel grid, in inches: room for the y labels, the date ticks, the titles and legend
LEFT, RIGHT, TOP, BOTTOM, HSPACE, WSPACE = 0.75, 0.2, 1.2, 0.45, 0.85, 0.85
#: characters of a title line that fit over one panel (10-point text on :data:`PANEL_W` inches)
TITLE_CHARS = 72
#: a panel whose time range is shorter than this (seconds) is drawn in time from its start, not in dates
ELAPSED_UNDER_S = 60.0

logger = logging.getLogger(__name__)


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


def elapsed_unit(span_s: float) -> tuple[str, float] | None:
    """The unit of a panel's x axis over ``span_s`` seconds, and the seconds one holds: a range under a minute
    is drawn in time from its start (ms under a second, s under a minute); None: in dates.

    >>> elapsed_unit(0.25), elapsed_unit(1.000001), elapsed_unit(4.8 * 3600)
    (('ms', 0.001), ('s', 1.0), None)
    """
    if span_s >= ELAPSED_UNDER_S:
        return None
    return ("ms", 0.001) if span_s < 1 else ("s", 1.0)


def _time_axis(ax: Axes, start: np.datetime64, end: np.datetime64) -> tuple[str, float] | None:
    """Ticks for a panel from ``start`` to ``end``: dates, or (a range under a minute) the time from ``start``
    in the unit returned (its name and seconds), the axis labelled with that unit and ``start``."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import MaxNLocator

    unit = elapsed_unit(float((end - start) / np.timedelta64(1, "ns")) / 1e9)
    if unit is None:
        locator = AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        return None
    t = pd.Timestamp(start)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    ax.set_xlabel(f"{unit[0]} from {t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} UTC", fontsize=8)
    return unit


def _when(d: datetime, now: datetime) -> str:
    return f"{d:%Y-%m-%d} ({days_text((d - now).total_seconds() / DAY_S)} after the logs end)"


def clipped(name: str, most: int = TITLE_CHARS) -> str:
    """``name`` cut in the middle to ``most`` characters (the start and the version at the end stay).

    >>> clipped("slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v1.9.0", 40)
    'slsa-framework/slsa-…ic_slsa3.yml@v1.9.0'
    >>> clipped("cart")
    'cart'
    """
    if len(name) <= most:
        return name
    head = (most - 1) // 2 + (most - 1) % 2
    return f"{name[:head]}…{name[len(name) - (most - 1 - head) :]}"


def panel_title(rep: CapacityReport, o: ServiceOutlook) -> str:
    """A panel's title: the service and when it reaches its target (user text made :func:`safe`).

    A title too long for one line over the panel is broken after the service (clipped to a line).
    """
    if o.capacity is None:
        what = "no capacity declared: calls in flight"
    elif not rep.forecast.dated:
        what = "undated (no forecast)"
    elif o.status == "over-now":
        what = "already above the target"
    elif o.crossing is None:
        what = f"target not reached within {rep.horizon_days:g} days"
    else:
        what = f"target reached {_when(o.crossing, rep.forecast.now)}"
    name = clipped(safe(o.service))
    return f"{name}: {what}" if len(name) + len(what) + 2 <= TITLE_CHARS else f"{name}:\n{what}"


def no_forecast_note(rep: CapacityReport) -> str | None:
    """Why the chart shows no forecast (None when it shows one)."""
    fc = rep.forecast
    if fc.dated:
        return None
    return f"no forecast: {fc.refused or 'nothing to forecast'}"


def _panel(ax: Axes, rep: CapacityReport, o: ServiceOutlook) -> None:
    index, hist_u, point, lower, upper = chart_series(rep, o, history_days=None)
    x = _naive_utc(index)
    share = o.capacity is not None
    k = 100.0 if share else 1.0
    target = o.target if share else None
    note = no_forecast_note(rep)
    room = 1.25 if note is None else 1.7  # the note sits in the top quarter, above the history
    top = room * float(np.nanmax(np.r_[hist_u, point, target or 0.0, 1e-9])) * k
    past = ~np.isnan(hist_u)
    now = _naive_utc(pd.DatetimeIndex([rep.forecast.now]))[0]
    future = ~np.isnan(point)
    unit = _time_axis(ax, x[0], max(x[-1], now) if future.any() else now)
    if unit is not None:  # time from the start, in the axis's unit
        start, ns = x[0], unit[1] * 1e9
        x, now = (x - start) / np.timedelta64(1, "ns") / ns, (now - start) / np.timedelta64(1, "ns") / ns
    if future.any():
        ax.plot(x, hist_u * k, color=HISTORY_COLOR, lw=0.9, label="history")
    else:  # each bin a step as wide as the bin, up to the end of the logs: one bin is a line, not a dot
        ax.step(np.r_[x[past], now], np.r_[hist_u[past], hist_u[past][-1:]] * k, where="post",
                color=HISTORY_COLOR, lw=0.9 if past.sum() > 3 else 1.6, label="history")  # fmt: skip
    if future.any():
        ax.fill_between(
            x[future], np.minimum(lower[future] * k, top), np.minimum(upper[future] * k, top),
            color=BAND_COLOR, alpha=0.55, lw=0, label=f"{100 * rep.forecast.level:.0f}% interval",
        )  # fmt: skip
        ax.plot(x[future], point[future] * k, color=FORECAST_COLOR, lw=1.2, label="forecast")
    ax.axvline(now, color=NOW_COLOR, lw=1, ls=":", label="end of the logs")
    if target is not None:
        ax.axhline(target * k, color=TARGET_COLOR, lw=1, ls="--", label="target utilisation")
    # the history's own time range (and the forecast's when there is one), never matplotlib's default span
    ax.set_xlim(x[0], max(x[-1], now) if future.any() else now)
    ax.set_ylim(0, top)
    ax.set_ylabel("utilisation %" if share else "calls in flight")
    ax.set_title(panel_title(rep, o), parse_math=False, fontsize=10)
    if note is not None:
        ax.text(0.02, 0.95, "\n".join(textwrap.wrap(note, 70)), transform=ax.transAxes, ha="left", va="top",
                fontsize=8, color="#333333", parse_math=False, gid="no-forecast",
                bbox={"boxstyle": "round", "fc": "white", "ec": NOW_COLOR, "alpha": 0.9})  # fmt: skip


def forecast_figure(rep: CapacityReport) -> Figure:
    """Every charted service (:func:`charted_services`) in a grid, with one legend for the figure."""
    services = charted_services(rep)
    rows, cols = grid_shape(len(services))
    width, height = PANEL_W * cols, PANEL_H * rows + TOP + BOTTOM - 0.45
    fig = new_figure(width, height, constrained=False)
    note = no_forecast_note(rep)
    if note is not None and services:
        logger.warning("the chart shows the history only; %s", note)
    what = "whole history and forecast" if note is None else "history only (no forecast)"
    fig.suptitle(f"{safe(rep.recipe)}: load per service, {what}", parse_math=False,
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
            _panel(ax, rep, o)
            for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, h)
        # under the title, on a line of its own (a long recipe name would run into it beside the title)
        fig.legend(list(handles.values()), list(handles), loc="upper left", ncols=len(handles),
                   bbox_to_anchor=(0.1 / width, 1 - 0.38 / height), borderaxespad=0)  # fmt: skip
    return fig


def intervals_figure(rows: Sequence[tuple[str, Evaluation]], *, cost: bool = True) -> Figure:
    """Δp95 latency (ms) and Δcost (µ$ per request) of each row with its interval; the first row on top.
    ``cost`` false (no cost in the logs or the recipe: the change of cost is unknown) draws Δp95 alone.

    A mark is green when its whole interval is below zero (better), red when above (worse), grey
    when the interval holds zero.
    """
    from matplotlib.lines import Line2D

    n = max(1, len(rows))
    fig = new_figure(11.0, 0.9 + 0.36 * n)
    with styled():
        axes = fig.subplots(1, 2, sharey=True) if cost else [fig.subplots(1, 1)]
        y = np.arange(len(rows))
        panels = [(axes[0], "latency_p95_ms", 1.0, "Δ p95 latency (ms)")]
        if cost:
            panels.append((axes[1], "cost_mean_usd", 1e6, "Δ cost per request (µ$)"))
        for ax, key, scale, title in panels:
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
