"""`recipemut forecast`: when will each service need more capacity, and how many replicas then."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from recipemut.commands._common import (
    Engine,
    EngineOpt,
    LogFormat,
    LogFormatOpt,
    LogsOpt,
    MapOpt,
    MemoryBudgetOpt,
    OutputFormat,
    QuietOpt,
    RecipeArg,
    SampleRateOpt,
    SampleRequestsOpt,
    SchedulerOpt,
    StrictOpt,
    err_console,
    in_range,
    log_source,
    warn_ingest,
    written_as,
)
from recipemut.commands._layout import Column, rank, show
from recipemut.commands._progress import progress_display
from recipemut.files.text import console, shown
from recipemut.files.units import days_text, ms_text

if TYPE_CHECKING:  # the core is imported where used: `forecast -h` needs neither pandas nor scipy
    from recipemut.forecast.capacity import CapacityReport, ServiceOutlook
    from recipemut.recipe.model import Recipe

DAY_S = 86_400.0  # seconds in a day (forecast.rates', not imported for it)

#: below this many logged requests in the peak bin, the text output gives the peak's interval
NOISY_PEAK_N = 100


# ---- text rendering --------------------------------------------------------------------------


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
        return f"[green]not within {horizon_days:g} days[/]{tail}"
    days = (o.crossing - now).total_seconds() / DAY_S
    return (
        f"[bold]in {days_text(days)}[/] ({o.crossing:%b} {o.crossing.day}); "  # "Dec 21": "12-21" read as a range
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
    upper = o.replicas_needed_upper
    up = "" if upper == o.replicas_needed else " (?)" if upper is None else f" ({upper})"  # (?): the bound unknown
    return f"{o.replicas} -> {o.replicas_needed}{up}"


#: columns left out, in this order, when the terminal is too narrow for all of them
DROP_WHEN_NARROW = ("busy ms", "cap")


def service_columns(rep: CapacityReport, ordered: list[ServiceOutlook]) -> list[Column]:
    """One row per service: busy ms per request, capacity (replicas x concurrency), current peak
    utilisation / target, when the target is reached (95% range in days), replicas -> needed.

    Short headers and cells so it fits 80 columns; when it still does not (long service names),
    whole columns go (:data:`DROP_WHEN_NARROW`, named under the table), then each service is a block."""
    fc = rep.forecast
    now = fc.now
    columns: list[tuple[str, list[str]]] = [
        ("service", [shown(o.service) for o in ordered]),
        ("busy ms", [ms_text(o.busy_ms, unit=False) for o in ordered]),
        ("cap", ["-" if o.capacity is None else f"{o.replicas}x{o.concurrency_per_replica}" for o in ordered]),
        (
            "peak/target",
            [
                "-" if o.current_peak_util is None else f"{100 * o.current_peak_util:.1f}%/{100 * (o.target or 0):.0f}%"
                for o in ordered
            ],
        ),
        (
            f"target reached ({100 * fc.level:.0f}% range, days)",
            [_crossing_cell(o, now, rep.horizon_days) for o in ordered],
        ),
        ("replicas", [_replicas_cell(o) for o in ordered]),
    ]

    wraps = columns[-2][0]  # the crossing's sentence may wrap; names and numbers do not
    return [
        Column(name, cells, {"justify": "left" if name in ("service", wraps, "replicas") else "right",
                             "no_wrap": name != wraps, "min_width": 20 if name == wraps else None},
               drop=rank(name, DROP_WHEN_NARROW))
        for name, cells in columns
    ]  # fmt: skip


def _render_text(rep: CapacityReport, *, recipe: Recipe, ingest_summary: str, charts: int) -> None:
    from recipemut.forecast.capacity import PEAK_LEVEL, poisson_interval
    from recipemut.forecast.plot import text_chart
    from recipemut.forecast.rates import bin_label, history_words, horizon_end
    from recipemut.forecast.report import urgency_order

    out = console()  # on a terminal, sentences wrap at words (on a pipe, never: files/text.console)
    fc = rep.forecast
    hist = fc.history
    now = fc.now
    bins = bin_label(hist.bin_s)
    per_day = max(1, round(DAY_S / hist.bin_s))
    peak = float(hist.rps[-per_day:].max()) if len(hist.rps) else 0.0
    out.print(f"[bold]{shown(recipe.name)}[/] v{recipe.version}: {shown(ingest_summary)}")
    out.print(
        f"history: {history_words(hist.history_s)} in {bins} bins up to {now:%Y-%m-%d %H:%M} UTC; "
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
    show(out, service_columns(rep, ordered), header_style="bold", pad_edge=False, box=None, padding=(0, 1, 0, 0))
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


# ---- the command -----------------------------------------------------------------------------


def forecast(
    recipe: RecipeArg,
    logs: LogsOpt,
    horizon: float = typer.Option(30.0, "--horizon", callback=in_range(1, 365, "days to forecast ahead, 1 to a year"),
                                 help="Days to forecast ahead."),
    with_backtest: bool = typer.Option(
        False, "--backtest", help="Hold out the last 20% of the history (whole days), forecast it, report the error."
    ),
    plot: Path | None = typer.Option(
        None,
        "--plot",
        callback=written_as("the chart is written as PNG or SVG", (".png", ".svg")),
        help="Also write the chart (one panel per service with traffic) as PNG or SVG, from the file's suffix.",
        show_default=False,
    ),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    sample_requests: SampleRequestsOpt = None,
    memory_budget: MemoryBudgetOpt = None,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    charts: int = typer.Option(3, "--charts", min=0, help="Terminal charts for the most urgent services."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    quiet: QuietOpt = False,
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
    source = log_source(
        logs, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping,
        sample_requests=sample_requests, memory_budget=memory_budget, engine=engine, scheduler=scheduler,
    )  # fmt: skip
    with progress_display(quiet=quiet, json_out=output == OutputFormat.json) as progress:
        progress.task("starting")  # shown before the imports below (pandas, statsmodels: a second or more)
        from recipemut.forecast.report import report_data
        from recipemut.usecases.forecast import run_forecast

        run = run_forecast(
            recipe, source, horizon_days=horizon, with_backtest=with_backtest, plot=plot, progress=progress
        )
    r, rep, ingest = run.recipe, run.report, run.ingest
    if output == OutputFormat.json:
        typer.echo(json.dumps(report_data(rep, path=str(recipe), version=r.version) | run.request_sampling, indent=2))
        warn_ingest(ingest)
    else:
        warn_ingest(ingest)
        _render_text(rep, recipe=r, ingest_summary=ingest.summary(), charts=charts)
    if plot is not None:
        err_console.print(f"wrote {shown(str(plot))}")
