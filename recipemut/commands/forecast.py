"""`recipemut forecast`: when will each service need more capacity, and how many replicas then."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import pandas as pd
import typer
from rich.table import Table
from rich.text import Text

from recipemut.commands._common import (
    LogFormat,
    LogFormatOpt,
    LogsOpt,
    MapOpt,
    OutputFormat,
    RecipeArg,
    SampleRateOpt,
    StrictOpt,
    err_console,
    warn_ingest,
)
from recipemut.errors import InputFileError
from recipemut.files.text import console, safe, shown
from recipemut.forecast.model import (
    DAY_S,
    PEAK_LEVEL,
    CapacityReport,
    ServiceOutlook,
    bin_label,
    capacity_report,
    daily_peaks,
    demand_from_profile,
    horizon_end,
    poisson_interval,
    sampling_note,
)
from recipemut.logs.ingest import IngestReport, read_logs
from recipemut.profile.build import build_profile
from recipemut.recipe.model import Recipe

#: below this many logged requests in the peak bin, the text output gives the peak's interval
NOISY_PEAK_N = 100
CHART_WIDTH = 72
MIN_CHART_COLUMNS = 16
CHART_HEIGHT = 10
CHART_HISTORY_DAYS = 7.0


# ---- building the report ---------------------------------------------------------------------


def build_report(
    recipe: Recipe,
    logs: list[Path],
    *,
    horizon_days: float,
    with_backtest: bool,
    sample_rate: float | None,
    strict: bool = False,
    log_format: str = "auto",
    mapping: Path | None = None,
) -> tuple[CapacityReport, IngestReport]:
    """Ingest, profile, forecast; returns the report and the ingest report."""
    spans, ingest = read_logs(
        logs, recipe=recipe, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping
    )
    demand = demand_from_profile(build_profile(spans, recipe), recipe)
    rep = capacity_report(
        recipe, demand.start_ms, demand.weights, demand.busy_ms, horizon_days=horizon_days,
        with_backtest=with_backtest, sample_rate_note=sampling_note(demand.sample_rates, sample_rate),
    )  # fmt: skip
    return rep, ingest


def report_data(rep: CapacityReport, *, path: str, version: int) -> dict[str, Any]:
    """The JSON document of ``recipemut forecast --format json``."""
    data = rep.to_dict()
    data["recipe"] = {"path": path, "name": rep.recipe, "version": version}
    peaks = daily_peaks(rep.forecast)
    days = pd.DatetimeIndex(peaks.index).strftime("%Y-%m-%d")
    data["daily_peak_rps"] = [
        {"day": day, "point": round(float(p), 6), "lower": round(float(lo), 6), "upper": round(float(hi), 6)}
        for day, p, lo, hi in zip(days, peaks["point"], peaks["lower"], peaks["upper"], strict=True)
    ]
    return data


# ---- text rendering --------------------------------------------------------------------------


def _when(o: ServiceOutlook, d: datetime | None, now: datetime, horizon_days: float) -> str:
    if d is None:
        return f"not within the {horizon_days:g}-day horizon"
    days = (d - now).total_seconds() / DAY_S
    return f"{d:%Y-%m-%d %H:%M} ({days:.1f} d from the end of the logs, {now:%Y-%m-%d})"


def _days(d: datetime | None, now: datetime, horizon_days: float) -> str:
    """Whole days from the end of the logs; ``>60`` when not within the horizon."""
    return f">{horizon_days:g}" if d is None else f"{(d - now).total_seconds() / DAY_S:.0f}"


def _crossing_cell(o: ServiceOutlook, now: datetime, horizon_days: float) -> str:
    if o.status == "no-capacity":
        return "no capacity declared"
    if o.status == "over-now":
        return "[bold red]now (already above target)[/]"
    if o.status == "undated":
        return "[yellow]undated (no forecast)[/]"
    if o.crossing is None:
        tail = f" (earliest {_days(o.crossing_earliest, now, horizon_days)})" if o.crossing_earliest else ""
        return f"[green]not within {horizon_days:g} d[/]{tail}"
    days = (o.crossing - now).total_seconds() / DAY_S
    return (
        f"[bold]in {days:.1f} d[/] ({o.crossing:%m-%d}); "
        f"{_days(o.crossing_earliest, now, horizon_days)} to {_days(o.crossing_latest, now, horizon_days)}"
    )


def _replicas_cell(o: ServiceOutlook) -> str:
    if o.replicas is None:
        return "-"
    if o.replicas_needed is None:
        n = o.replicas_needed_now
        if o.status != "over-now" and n is not None and n > o.replicas:
            return f"{o.replicas}, maybe {n} (now)"  # the point peak needs more, its interval does not
        return f"{o.replicas} -> {n} (now)"
    up = f" ({o.replicas_needed_upper})" if o.replicas_needed_upper != o.replicas_needed else ""
    return f"{o.replicas} -> {o.replicas_needed}{up}"


_ORDER = {"over-now": 0, "crosses": 1, "clear": 2, "undated": 2, "no-capacity": 3}


def urgency_order(services: tuple[ServiceOutlook, ...]) -> list[ServiceOutlook]:
    """Most urgent first: above target now, then by crossing date, then by peak utilisation."""

    def key(o: ServiceOutlook) -> tuple[int, float, float, str]:
        when = o.crossing.timestamp() if o.crossing is not None else math.inf
        util = o.forecast_peak_util if o.forecast_peak_util is not None else (o.current_peak_util or 0.0)
        return (_ORDER.get(o.status, 4), when, -util, o.service)

    return sorted(services, key=key)


def _series_for_chart(
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
    index, hist_u, point, lower, upper = _series_for_chart(rep, o)
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


#: columns left out, in this order, when the terminal is too narrow for all of them
DROP_WHEN_NARROW = ("busy ms", "cap")


def service_table(rep: CapacityReport, ordered: list[ServiceOutlook], width: int) -> Table:
    """One row per service: busy ms per request, capacity (replicas x concurrency), current peak
    utilisation / target, when the target is reached (95% range in days), replicas -> needed.

    Short headers and cells so it fits 80 columns; when it still does not (long service names),
    whole columns go (:data:`DROP_WHEN_NARROW`) rather than wrapping rows."""
    fc = rep.forecast
    now = fc.now
    columns: list[tuple[str, list[str]]] = [
        ("service", [shown(o.service) for o in ordered]),
        ("busy ms", [f"{o.busy_ms:.1f}" for o in ordered]),
        ("cap", ["-" if o.capacity is None else f"{o.replicas}x{o.concurrency_per_replica}" for o in ordered]),
        (
            "peak/target",
            [
                "-" if o.current_peak_util is None else f"{100 * o.current_peak_util:.1f}%/{100 * (o.target or 0):.0f}%"
                for o in ordered
            ],
        ),
        (
            f"target reached ({100 * fc.level:.0f}% range, d)",
            [_crossing_cell(o, now, rep.horizon_days) for o in ordered],
        ),
        ("replicas", [_replicas_cell(o) for o in ordered]),
    ]

    def cell_len(markup: str) -> int:
        return Text.from_markup(markup).cell_len

    def table_width() -> int:
        return sum(max(len(name), *(cell_len(c) for c in cells)) for name, cells in columns) + len(columns) - 1

    for name in DROP_WHEN_NARROW:
        if table_width() <= width:
            break
        columns = [c for c in columns if c[0] != name]
    table = Table(header_style="bold", pad_edge=False, box=None, padding=(0, 1, 0, 0))
    for name, _ in columns:
        left = name == "service" or name.startswith("target") or name == "replicas"
        table.add_column(name, justify="left" if left else "right", no_wrap=name != columns[-2][0])
    for i in range(len(ordered)):
        table.add_row(*(cells[i] for _, cells in columns))
    return table


def _render_text(rep: CapacityReport, *, recipe: Recipe, ingest_summary: str, charts: int) -> None:
    out = console(soft_wrap=True)
    fc = rep.forecast
    hist = fc.history
    now = fc.now
    bins = bin_label(hist.bin_s)
    per_day = max(1, round(DAY_S / hist.bin_s))
    peak = float(hist.rps[-per_day:].max()) if len(hist.rps) else 0.0
    out.print(f"[bold]{shown(recipe.name)}[/] v{recipe.version}: {shown(ingest_summary)}")
    out.print(
        f"history: {hist.history_s / DAY_S:.1f} days in {bins} bins up to {now:%Y-%m-%d %H:%M} UTC; "
        f"peak of the last day {peak:.3g} req/s; {shown(rep.sample_rate_note)}"
    )
    if fc.dated:
        out.print(
            f"forecast: {shown(fc.model)}; {100 * fc.level:.0f}% interval; horizon {rep.horizon_days:g} days "
            f"from the end of the logs ({now:%Y-%m-%d}), to {horizon_end(fc):%Y-%m-%d}"
        )
    else:
        out.print(f"[yellow]forecast refused:[/] {shown(fc.refused or 'no forecast')}")
    ordered = urgency_order(rep.services)
    out.print(service_table(rep, ordered, out.width))
    k = next((o.current_peak_sampled for o in ordered if o.current_peak_sampled is not None), None)
    if k is not None and 0 < k < NOISY_PEAK_N:  # every service's peak is the same bin of the same series
        lo, hi = poisson_interval(k, PEAK_LEVEL)
        out.print(
            f"peak now: its {bin_label(hist.bin_s).replace('hourly', '1-hour')} bin holds {k} logged "
            f"request{'' if k == 1 else 's'}, so the true peak is {100 * lo / k:.0f}-{100 * hi / k:.0f}% of the "
            f"value shown ({100 * PEAK_LEVEL:.0f}% Poisson interval); a service is flagged above target now only "
            "when the whole interval is."
        )
    if fc.dated:
        out.print(
            f"days count from the end of the logs ({now:%Y-%m-%d %H:%M} UTC), not from today; the range runs from "
            "when the interval's upper bound (earliest) to when its lower bound (latest) reaches the target; "
            "replicas: now -> needed for the forecast peak at the target (for the upper bound's peak in brackets); "
            "cap: replicas x concurrency per replica; busy ms: per request."
        )
    charted = [o for o in ordered if o.capacity is not None][: max(0, charts)]
    for o in charted:
        lines = text_chart(rep, o)
        if lines:
            out.print(f"\n[bold]{shown(o.service)}[/] utilisation (. history  * forecast  : interval  - target)")
            for line in lines:
                out.print(shown(line))
    bt = rep.backtest
    if bt is not None:
        if bt.refused:
            out.print(f"\n[yellow]backtest refused:[/] {shown(bt.refused)}")
        else:
            out.print(
                f"\nbacktest: trained on {bt.train_days:.1f} days, forecast the held-out last {bt.holdout_days:g}: "
                f"MAPE {bt.mape:.1f}% per bin, peak error {bt.peak_error:+.1f}%, "
                f"{100 * (bt.coverage or 0):.0f}% of held-out bins inside the {100 * fc.level:.0f}% interval"
            )


# ---- SVG -------------------------------------------------------------------------------------


_SVG_W, _SVG_PH, _SVG_ML, _SVG_MR, _SVG_MT, _SVG_MB = 760, 180, 56, 16, 28, 30


def _svg_panel(rep: CapacityReport, o: ServiceOutlook, y0: float) -> list[str]:
    w, ph, ml, mr = _SVG_W, _SVG_PH, _SVG_ML, _SVG_MR
    index, hist_u, point, lower, upper = _series_for_chart(rep, o)
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


# ---- the command -----------------------------------------------------------------------------


def _check_plot(value: Path | None) -> Path | None:
    if value is not None and value.suffix.lower() != ".svg":
        raise typer.BadParameter(f"{value}: only SVG is written (name the file *.svg)")
    return value


def forecast(
    recipe: RecipeArg,
    logs: LogsOpt,
    horizon: float = typer.Option(30.0, "--horizon", min=1.0, max=365.0, help="Days to forecast ahead."),
    with_backtest: bool = typer.Option(
        False, "--backtest", help="Hold out the last 20% of the history (whole days), forecast it, report the error."
    ),
    plot: Path | None = typer.Option(
        None, "--plot", callback=_check_plot, help="Also write the chart as an SVG file.", show_default=False
    ),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    charts: int = typer.Option(3, "--charts", min=0, help="Terminal charts for the most urgent services."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Forecast request rates and say when each service crosses its target utilisation.

    Builds the request-rate series from the logs (bins of an hour or more from two days of
    history, widened until each holds 30 logged requests; each request counts 1/sample_rate),
    forecasts it with trend and daily seasonality (weekly too from
    three weeks) and a 95% prediction interval, then applies Little's law per service: concurrency
    = request rate x busy time per request (its operations' latency, weighted by how often they
    run). Capacity is replicas x concurrency_per_replica from the recipe's services: section.

    For each service: peak utilisation over the last day (with the Poisson noise of the logged
    requests behind it; "above target now" only when the noise cannot explain it), the first
    time the forecast reaches the target utilisation (the interval's upper and lower bounds give
    the earliest and latest dates), and the replicas the forecast peak needs at the target. Days
    count from the end of the logs. With under two days of history no date is given. --backtest
    says how far to trust the date.

    Example:

        recipemut forecast recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz \\
            --horizon 60 --backtest --plot capacity.svg
    """
    from recipemut.recipe.loader import load_recipe

    if plot is not None:
        from recipemut.files.write import check_output_path

        inputs = {p: "one of the logs" for p in logs if str(p) != "-"}
        if mapping is not None:
            inputs[mapping] = "the mapping file"
        check_output_path(plot, option="--plot", recipes=[recipe], inputs=inputs, example="capacity.svg")
    r = load_recipe(recipe)
    rep, ingest = build_report(
        r, logs, horizon_days=horizon, with_backtest=with_backtest, sample_rate=sample_rate, strict=strict,
        log_format=log_format.value, mapping=mapping,
    )  # fmt: skip
    if plot is not None:
        from recipemut.files.write import atomic_write

        try:
            atomic_write(plot, svg_chart(rep).encode("utf-8"))
        except OSError as e:
            raise InputFileError(f"cannot write the plot: {e.strerror}", file=str(plot), code="write") from e
    if output == OutputFormat.json:
        typer.echo(json.dumps(report_data(rep, path=str(recipe), version=r.version), indent=2))
        warn_ingest(ingest)
    else:
        warn_ingest(ingest)
        _render_text(rep, recipe=r, ingest_summary=ingest.summary(), charts=charts)
    if plot is not None:
        err_console.print(f"wrote {shown(str(plot))}")
