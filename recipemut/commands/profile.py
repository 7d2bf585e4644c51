"""`recipemut profile`: what the logs say about a recipe, per operation, with the critical path marked."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

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
    StoreOpt,
    StrictOpt,
    err_console,
    log_source,
    strict_json,
    warn_ingest,
)
from recipemut.commands._layout import Column, rank, show
from recipemut.commands._progress import progress_display
from recipemut.files.text import console, shown
from recipemut.files.units import counted, ms_text, usd_text
from recipemut.usecases.inputs import load_inputs, sample_rate_words, sample_rates

if TYPE_CHECKING:  # imported where used: `profile -h` needs neither pandas nor networkx
    from recipemut.logs.report import IngestReport
    from recipemut.predict.recorded import OrderCheck
    from recipemut.profile.build import Profile
    from recipemut.profile.calls import CallStats, NPlusOne
    from recipemut.recipe.model import Recipe

#: table columns left out, in this order, when the terminal is too narrow for all of them
DROP_WHEN_NARROW = ("cpu ms", "in B", "out B", "mean ms", "p99 ms", "service", "halt %", "count")


def _e2e_cost(prof: Profile) -> float | None:
    """Mean cost per request, or ``None`` when no span of any operation carries a cost."""
    if not prof.cost_known:
        return None
    return float(prof.e2e_cost_usd.mean())


def profile_data(
    recipe: Recipe, prof: Profile, report: IngestReport, *, top: int, path: str, order: OrderCheck | None = None
) -> dict[str, Any]:
    from recipemut.profile.build import cost_contributors, latency_contributors, outside_operations
    from recipemut.profile.calls import n_plus_one

    """The JSON document of ``recipemut profile --format json``."""
    on_path = set(prof.critical_path)
    rate = prof.rate
    return strict_json(
        {
            "recipe": {"path": path, "name": recipe.name, "version": recipe.version},
            "summary": {
                "text": report.summary(),
                "spans": report.spans_kept,
                "requests": prof.n_requests,
                "rejected_lines": report.rejected_total,
                "excluded_spans": report.excluded_total,
                "duplicates": report.duplicates,
            },
            "e2e": {
                **{f"latency_{k}_ms": v for k, v in prof.e2e_percentiles().items()},
                "cost_mean_usd": _e2e_cost(prof),
            },
            "critical_path": {"ops": list(prof.critical_path), "share": prof.critical_path_share},
            "ops": [{**s.to_dict(), "on_critical_path": s.op in on_path} for s in prof.ops],
            "contributors": {
                "latency_p95": [
                    {"op": s.op, "tail_ms": s.tail_ms, "share": s.tail_share} for s in latency_contributors(prof, top)
                ],
                "cost": [
                    {"op": s.op, "cost_mean_usd": s.cost_mean_usd, "share": s.cost_share}
                    for s in cost_contributors(prof, top)
                ],
                "outside_operations": dict(zip(("tail_ms", "share"), outside_operations(prof), strict=True)),
            },
            "rate": {
                "bin_s": prof.rate_bin_s,
                "bins": len(rate),
                "mean_rps": float(rate.mean()) if len(rate) else 0.0,
                "peak_rps": float(rate.max()) if len(rate) else 0.0,
                "sample_rates": {repr(k): v for k, v in report.sample_rates.items()},
            },
            "calls": [c.to_dict() for c in prof.calls],
            "findings": {
                "n_plus_one": [f.to_dict() for f in n_plus_one(recipe, prof.calls)],
                "recipe_order": order.to_dict(path) if order is not None else None,
            },
            "ingest": {**report.to_dict(), **sample_rates(report)},
        }
    )


def _outside(prof: Profile) -> str:
    """The tail's time on no operation, said when it is a tenth of it or more (:func:`outside_operations`)."""
    from recipemut.profile.build import outside_operations

    ms, share = outside_operations(prof)
    if share < 0.1:
        return ""
    return (
        f"; in no operation: {ms_text(ms)} ({100 * share:.0f}% of their latency: gaps between operations, "
        "or spans that map to none, such as a server span holding the calls)"
    )


def _calls_line(c: CallStats) -> str:
    """One line on the calls of an operation called several times in a request, or retried."""
    parts = [f"{c.calls_mean:.1f} calls per request (max {c.calls_max}; several in {c.several:,} of {c.requests:,})"]
    if c.several:
        how = (
            "serial"
            if c.serial
            else f"overlapping: up to {c.concurrency_max} in flight, {c.concurrency_mean:.1f} on average"
        )
        parts.append(f"{how}; window {ms_text(c.window_ms_mean)} for {ms_text(c.sum_ms_mean)} of calls")
    if c.retried_errors:
        # attempts are numbered only where the log says so (native `attempt`); traces carry none
        upto = f", up to attempt {c.attempts_max}" if c.attempts_max > 1 else ""
        parts.append(f"{counted(c.retried_errors, 'retried error')}{upto}")
    if math.isfinite(c.items_per_call):
        parts.append(f"{c.items_per_call:.1f} items per call")
    return f"  [bold]{shown(c.op)}[/]: " + "; ".join(shown(p) for p in parts)


def _finding_lines(f: NPlusOne, path: str) -> list[str]:
    where = f"{path}:{f.line}" if f.line else path
    return [
        f"[yellow]N+1:[/] {shown(f.sentence())}.",
        f"  to describe it, add to operation {shown(f.op)} ({shown(where)}): "
        + ", ".join(f"`{shown(a)}`" for a in f.add),
    ]


def _pct(v: float) -> str:
    """A share in percent, one decimal in every cell of its column (``0.0`` beside ``8.4``, not ``0``)."""
    if not math.isfinite(v):
        return "-"
    return "<0.1" if 0 < v < 0.001 else f"{100 * v:.1f}"


def _bytes(v: float) -> str:
    if not math.isfinite(v):
        return "-"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= size:
            return f"{v / size:.1f}{unit}"
    return f"{v:.0f}"


def _render(recipe: Recipe, prof: Profile, report: IngestReport, top: int, path: str = "") -> None:
    from recipemut.profile.build import cost_contributors, latency_contributors
    from recipemut.profile.calls import n_plus_one

    out = console()  # on a terminal, sentences wrap at words (on a pipe, never: files/text.console)
    rates = sample_rate_words(report)  # the words of --format json's tracer_sample_rates and request_sample
    out.print(f"[bold]{shown(recipe.name)}[/] v{recipe.version}: {shown(report.summary())}; {rates}")
    on_path = set(prof.critical_path)
    columns: list[tuple[str, list[str]]] = [
        ("operation", [s.op for s in prof.ops]),
        ("service", [s.service for s in prof.ops]),
        ("count", [f"{s.count:,}" for s in prof.ops]),
        ("p50 ms", [ms_text(s.p50_ms, unit=False) for s in prof.ops]),
        ("p95 ms", [ms_text(s.p95_ms, unit=False) for s in prof.ops]),
        ("p99 ms", [ms_text(s.p99_ms, unit=False) for s in prof.ops]),
        ("mean ms", [ms_text(s.mean_ms, unit=False) for s in prof.ops]),
        ("cost $", [usd_text(s.cost_mean_usd, unit=False) for s in prof.ops]),  # never 0.000000 for a cost
        ("cpu ms", [ms_text(s.cpu_mean_ms, unit=False) for s in prof.ops]),
        ("in B", [_bytes(s.bytes_in_mean) for s in prof.ops]),
        ("out B", [_bytes(s.bytes_out_mean) for s in prof.ops]),
        ("err %", [_pct(s.error_rate) for s in prof.ops]),
        ("halt %", [_pct(s.halt_rate) for s in prof.ops]),
        ("crit %", [_pct(s.critical_share) for s in prof.ops]),
    ]
    marks = ["[bold magenta]*[/]" if s.op in on_path else "" for s in prof.ops]
    cols = [  # numbers are never cut: whole columns go instead (named), then each operation is a block
        Column("", marks, {"width": 1}),
        *(
            Column(name, [shown(c) for c in cells], {"no_wrap": True, "justify": "left" if i < 2 else "right"},
                   drop=rank(name, DROP_WHEN_NARROW))
            for i, (name, cells) in enumerate(columns)
        ),
    ]  # fmt: skip
    styles = ["bold" if s.op in on_path else None for s in prof.ops]
    show(out, cols, heading=2, styles=styles, header_style="bold")
    e2e = prof.e2e_percentiles()
    cost_mean = _e2e_cost(prof)
    per_request = "unknown (no cost in the logs or the recipe)" if cost_mean is None else usd_text(cost_mean)
    out.print(
        "end-to-end: " + ", ".join(f"{k} {ms_text(e2e[k], clock=True)}" for k in ("p50", "p95", "p99"))
        + f"; cost per request {per_request}"
    )
    out.print(
        f"[magenta]*[/] critical path of {100 * prof.critical_path_share:.1f}% of requests: "
        + shown(" -> ".join(prof.critical_path))
    )
    lat = latency_contributors(prof, top)
    if lat:  # shares past 100% count some time twice: operations the recipe orders overlapped in the logs
        from recipemut.predict.recorded import overlaps, pair_words

        over = sum(s.tail_share for s in lat) > 1.005
        pairs = f" ({shown(words)})" if over and (words := pair_words(overlaps(recipe, prof))) else ""
        out.print(
            "time on the critical path of the slowest 5% of requests (mean): "
            + ", ".join(
                f"[bold]{shown(s.op)}[/] {ms_text(s.tail_ms)} ({100 * s.tail_share:.0f}% of their latency)" for s in lat
            )
            + ("; more than 100% together: operations the recipe runs one after the other overlapped in the logs"
               f"{pairs}" if over else "")
            + _outside(prof)
        )  # fmt: skip
    cost = cost_contributors(prof, top)
    if cost:
        out.print(
            "cost: "
            + ", ".join(f"[bold]{shown(s.op)}[/] {100 * s.cost_share:.0f}% ({usd_text(s.cost_mean_usd)})" for s in cost)
        )
    several = [c for c in prof.calls if c.several or c.retried_errors]
    if several:
        out.print("calls of operations called more than once in a request, or retried:")
        for c in several:
            out.print(_calls_line(c))
    for f in n_plus_one(recipe, prof.calls):
        for text in _finding_lines(f, path or (recipe.source or "the recipe")):
            out.print(text)


def profile(
    recipe: RecipeArg,
    logs: LogsOpt,
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    sample_requests: SampleRequestsOpt = None,
    memory_budget: MemoryBudgetOpt = None,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    top: int = typer.Option(3, "--top", min=1, help="How many top contributors to name."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    quiet: QuietOpt = False,
    store: StoreOpt = None,
) -> None:
    """Profile a recipe from its execution logs: per-operation latency, cost and critical path.

    Reads the logs (bad lines are counted and shown as warnings, never fatal unless --strict),
    then prints one summary line, a table of the operations in topological order (count,
    latency p50/p95/p99/mean, mean cost, cpu, bytes in/out, error %, halt %, share of requests on
    whose critical path it lies) with the most frequent critical path marked *, the end-to-end
    percentiles, the operations that take most time on the critical path of the slowest 5% of
    requests (those at or above the end-to-end p95), and those that cost most.

    The profile's summary is also recorded in the profile store, listed by `recipemut stats`
    (--store, else $RECIPEMUT_STORE, else .recipemut/store.sqlite in this folder; --store off
    records nothing).

    Example:

        recipemut profile recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz

        recipemut profile recipe.yaml --logs 'logs/*.jsonl.zst' --sample-requests 10% --memory-budget 2G
    """
    source = log_source(
        logs, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping,
        sample_requests=sample_requests, memory_budget=memory_budget, engine=engine, scheduler=scheduler,
    )  # fmt: skip
    from recipemut.learn.store import check_store_path, store_path

    if store is not None:  # as suggest: refused when it names an input; other store problems are warnings
        check_store_path(store, recipes=[recipe], inputs=source.input_files(), option="--store", inputs_only=True)
    with progress_display(quiet=quiet, json_out=output == OutputFormat.json) as progress:
        inputs = load_inputs(recipe, source, progress=progress)
    r, report, prof = inputs.recipe, inputs.report, inputs.profile
    assert prof is not None  # load_inputs profiles by default
    from recipemut.predict.recorded import order_check

    order = order_check(r, prof)  # the unchanged recipe replayed against the recorded time
    if output == OutputFormat.json:
        typer.echo(json.dumps(profile_data(r, prof, report, top=top, path=str(recipe), order=order), indent=2))
    warn_ingest(report)
    if order is not None:
        err_console.print(f"[yellow]warning:[/] {shown(str(recipe))}: {shown(order.sentence(str(recipe)))}")
    if output != OutputFormat.json:
        _render(r, prof, report, top, str(recipe))
    from recipemut.learn.records import STORE_PROBLEMS, record_profile_summary

    try:  # the store keeps each recipe version's profile summary; a store problem is a warning
        if (where := store_path(store)) is not None:  # None: --store off
            record_profile_summary(recipe, r, prof, spans=inputs.spans, path=where)  # by the versions logged
    except STORE_PROBLEMS as e:
        err_console.print(f"[yellow]warning:[/] this profile was not recorded in the profile store: {shown(str(e))}")
