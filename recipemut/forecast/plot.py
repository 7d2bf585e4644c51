"""Charts of the forecast report: a small terminal chart per service, and an SVG of every service.

Both show a service's utilisation: its history, the forecast with its prediction interval, and
the target. They are pure: they return lines or the SVG text; writing the file is the caller's.
The SVG is written by hand, with no plotting library.
"""

from __future__ import annotations

import math
from datetime import datetime
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import pandas as pd

from recipemut.files.text import safe
from recipemut.forecast.capacity import CapacityReport, ServiceOutlook
from recipemut.forecast.rates import DAY_S
from recipemut.forecast.report import urgency_order

CHART_WIDTH = 72
MIN_CHART_COLUMNS = 16
CHART_HEIGHT = 10
CHART_HISTORY_DAYS = 7.0


def chart_series(
    rep: CapacityReport, o: ServiceOutlook
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time, history utilisation (NaN in the future), forecast point/lower/upper (NaN in the past)."""
    fc = rep.forecast
    hist = fc.history
    keep = max(1, round(CHART_HISTORY_DAYS * DAY_S / hist.bin_s))
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


# ---- SVG -------------------------------------------------------------------------------------


_SVG_W, _SVG_PH, _SVG_ML, _SVG_MR, _SVG_MT, _SVG_MB = 760, 180, 56, 16, 28, 30


def _when(o: ServiceOutlook, d: datetime | None, now: datetime, horizon_days: float) -> str:
    if d is None:
        return f"not within the {horizon_days:g}-day horizon"
    days = (d - now).total_seconds() / DAY_S
    return f"{d:%Y-%m-%d %H:%M} ({days:.1f} d from the end of the logs, {now:%Y-%m-%d})"


def _svg_panel(rep: CapacityReport, o: ServiceOutlook, y0: float) -> list[str]:
    w, ph, ml, mr = _SVG_W, _SVG_PH, _SVG_ML, _SVG_MR
    index, hist_u, point, lower, upper = chart_series(rep, o)
    n = len(index)
    # scale to the point forecast and the target (as the terminal chart); the band is clipped at the top
    top = 1.25 * float(np.nanmax(np.r_[hist_u, point, o.target or 0.0, 1e-9]))
    upper = np.minimum(upper, top)
    lower = np.minimum(lower, top)

    def x(i: int | np.integer) -> float:
        return ml + (w - ml - mr) * (i / max(1, n - 1))

    def y(v: float) -> float:
        return y0 + ph - ph * (v / top)

    def path(values: np.ndarray) -> str:
        return " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if not math.isnan(v))

    if not rep.forecast.dated:
        title = f"{o.service}: undated (no forecast)"
    elif o.status == "over-now":
        title = f"{o.service}: already above the target"
    elif o.crossing is None:
        title = f"{o.service}: target not crossed within the {rep.horizon_days:g}-day horizon"
    else:
        title = f"{o.service}: target crossed {_when(o, o.crossing, rep.forecast.now, rep.horizon_days)}"
    out = [
        f'<text x="{ml}" y="{y0 - 8}" font-weight="bold">{xml_escape(safe(title))}</text>',
        f'<rect x="{ml}" y="{y0}" width="{w - ml - mr}" height="{ph}" fill="none" stroke="#ccc"/>',
    ]
    idx = np.flatnonzero(~np.isnan(upper))
    if idx.size:
        band = [f"{x(i):.1f},{y(upper[i]):.1f}" for i in idx] + [f"{x(i):.1f},{y(lower[i]):.1f}" for i in idx[::-1]]
        nx0 = x(int(idx[0]))
        out += [
            f'<polygon points="{" ".join(band)}" fill="#9ecae1" fill-opacity="0.5" stroke="none"/>',
            f'<polyline points="{path(point)}" fill="none" stroke="#08519c" stroke-width="1.2"/>',
            f'<line x1="{nx0:.1f}" y1="{y0}" x2="{nx0:.1f}" y2="{y0 + ph}" stroke="#999" stroke-dasharray="2,2"/>',
        ]
    out.append(f'<polyline points="{path(hist_u)}" fill="none" stroke="#555" stroke-width="1"/>')
    if o.target is not None:
        ty = y(o.target)
        out += [
            f'<line x1="{ml}" y1="{ty:.1f}" x2="{w - mr}" y2="{ty:.1f}" stroke="#d62728" stroke-dasharray="6,3"/>',
            f'<text x="{w - mr - 4}" y="{ty - 3:.1f}" text-anchor="end" fill="#d62728">'
            f"target {100 * o.target:.0f}%</text>",
        ]
    for frac in (0.0, 0.5, 1.0):
        out.append(f'<text x="{ml - 4}" y="{y(top * frac) + 4:.1f}" text-anchor="end">{100 * top * frac:.0f}%</text>')
    for i in sorted({0, n // 2, n - 1}) if n else ():
        anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
        out.append(f'<text x="{x(i):.1f}" y="{y0 + ph + 14}" text-anchor="{anchor}">{index[i]:%Y-%m-%d}</text>')
    return out


def svg_chart(rep: CapacityReport) -> str:
    """One panel per service with declared capacity: utilisation history (grey), forecast (blue) with
    its interval (band), the target (red dashed) and "now" (dotted)."""
    panels = [o for o in urgency_order(rep.services) if o.capacity is not None]
    step = _SVG_PH + _SVG_MT + _SVG_MB
    height = max(1, len(panels)) * step + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SVG_W}" height="{height}" '
        f'viewBox="0 0 {_SVG_W} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{xml_escape(safe(rep.recipe))}: forecast utilisation per service</title>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    if not panels:
        out.append('<text x="10" y="20">no service declares capacity (services: in the recipe)</text>')
    for k, o in enumerate(panels):
        out += _svg_panel(rep, o, 10 + k * step + _SVG_MT)
    out.append("</svg>")
    return "\n".join(out) + "\n"
