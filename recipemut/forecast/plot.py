"""The forecast's series per service, and the small terminal chart drawn from them.

:func:`chart_series` is what every chart of a service's utilisation shows: its history, the
forecast with its prediction interval. :func:`text_chart` draws the last week of it in a
terminal; the image charts (``forecast --plot``, ``recipemut report``) are drawn by matplotlib in
:mod:`recipemut.report.charts` from the whole history. Both are pure: lines or values out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recipemut.forecast.capacity import CapacityReport, ServiceOutlook
from recipemut.forecast.rates import DAY_S

CHART_WIDTH = 72
MIN_CHART_COLUMNS = 16
CHART_HEIGHT = 10
CHART_HISTORY_DAYS = 7.0


def chart_series(
    rep: CapacityReport, o: ServiceOutlook, *, history_days: float | None = CHART_HISTORY_DAYS
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time, history utilisation (NaN in the future), forecast point/lower/upper (NaN in the past).

    ``history_days``: the last days of history kept (None: all of it). A service without declared
    capacity is given in calls in flight (concurrency) instead of a share of its capacity.
    """
    fc = rep.forecast
    hist = fc.history
    keep = len(hist.index) if history_days is None else max(1, round(history_days * DAY_S / hist.bin_s))
    h_idx, h_rps = hist.index[-keep:], hist.rps[-keep:]
    cap = (o.capacity or 1) * 1000.0
    scale = o.busy_ms / cap
    index = h_idx.append(fc.index) if len(fc.index) else h_idx
    nan_h = np.full(len(h_idx), np.nan)
    nan_f = np.full(len(fc.index), np.nan)
    hist_u = np.concatenate([h_rps * scale, nan_f])
    point = np.concatenate([nan_h, fc.point * scale])
    lower = np.concatenate([nan_h, fc.lower * scale])
    upper = np.concatenate([nan_h, fc.upper * scale])
    return pd.DatetimeIndex(index), hist_u, point, lower, upper


def _colmax(values: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    out = np.full(width, np.nan)
    ok = ~np.isnan(values)
    if ok.any():
        np.fmax.at(out, cols[ok], values[ok])
    return out


def text_chart(
    rep: CapacityReport, o: ServiceOutlook, *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> list[str]:
    """A small terminal chart of utilisation: history ``.``, forecast ``*``, interval ``:``, target ``-``.

    Each column covers whole days (one when they fit in ``width``) and shows their peak.
    """
    index, hist_u, point, lower, upper = chart_series(rep, o)
    n = len(index)
    if n == 0 or o.target is None:
        return []
    # whole days per column (each column shows daily peaks), as many as fit in ``width``
    per_day = max(1, round(DAY_S / rep.forecast.history.bin_s))
    per_col = per_day * max(1, math.ceil(n / per_day / width))
    width = max(1, math.ceil(n / per_col))
    if width < MIN_CHART_COLUMNS:  # a few days of history and no forecast: nothing a chart would show
        return []
    cols = np.arange(n) // per_col
    h, p, lo, hi = (_colmax(v, cols, width) for v in (hist_u, point, lower, upper))
    # scale to the point forecast and the target; the interval is clipped at the top row
    top = 1.25 * float(np.nanmax(np.r_[hist_u, point, o.target, 1e-9]))

    def row_of(v: float) -> int:
        return int(min(height - 1, max(0, math.floor(v / top * height))))

    grid = [[" "] * width for _ in range(height)]
    trow = row_of(o.target)
    for c in range(width):
        grid[trow][c] = "-"
        if not math.isnan(lo[c]) and not math.isnan(hi[c]):
            for rr in range(row_of(lo[c]), row_of(hi[c]) + 1):
                grid[rr][c] = ":"
        for v, ch in ((h[c], "."), (p[c], "*")):
            if not math.isnan(v):
                grid[row_of(v)][c] = ch
    lines = []
    for r in range(height - 1, -1, -1):
        value = o.target if r == trow else top if r == height - 1 else 0.0 if r == 0 else None
        lines.append(("       |" if value is None else f"{100 * value:5.0f}% |") + "".join(grid[r]))
    future = np.flatnonzero(~np.isnan(point))
    axis = [" "] * width
    now_c = int(cols[future[0]]) if future.size else width - 1
    axis[now_c] = "^"
    lines.append("       +" + "".join(axis))
    start, end = f"{index[0]:%m-%d}", f"{index[-1]:%m-%d}"
    ticks = [" "] * (width + 8)
    ticks[8 : 8 + len(start)] = list(start)
    ticks[width + 8 - len(end) :] = list(end)
    at = min(max(8 + len(start) + 1, 8 + now_c - 1), width + 8 - len(end) - 4)
    ticks[at : at + 3] = list("now")
    lines.append("".join(ticks).rstrip())
    return lines
