"""`recipemut report`: suggest and forecast, written as one self-contained HTML page."""

from __future__ import annotations

from pathlib import Path

import typer

from recipemut.commands._common import (
    Engine,
    EngineOpt,
    LogFormat,
    LogFormatOpt,
    LogsOpt,
    MapOpt,
    MemoryBudgetOpt,
    QuietOpt,
    RecipeArg,
    SampleRateOpt,
    SampleRequestsOpt,
    SchedulerOpt,
    SeedOpt,
    StoreOpt,
    StrictOpt,
    err_console,
    in_range,
    log_source,
    warn_ingest,
    written_as,
)
from recipemut.commands._progress import progress_display
from recipemut.commands.suggest import Objective
from recipemut.files.text import shown

#: plan.search's defaults, written out so that ``report -h`` imports no core (tests/test_report.py checks them)
DEFAULT_BUDGET, DEFAULT_TIME_BUDGET_S = 400, 50.0


def _operators(values: list[str] | None) -> list[str] | None:
    from recipemut.mutate.operators import REGISTRY

    for v in values or []:
        if v not in REGISTRY:
            raise typer.BadParameter(f"unknown operator {v!r}; choose from {', '.join(REGISTRY)}")
    return values


def report(
    recipe: RecipeArg,
    logs: LogsOpt,
    out: Path = typer.Option(
        ..., "--out", "-o", callback=written_as("the report is an HTML page", (".html", ".htm"), hint="*.html"),
        show_default=False, help="The HTML file to write (e.g. report.html).",
    ),
    objective: Objective = typer.Option(Objective.balanced, "--objective", help="What the plan minimises."),
    operators: list[str] | None = typer.Option(
        None, "--operators", "-O", callback=_operators, show_default=False,
        help="Operators to use (repeatable; default: all), as in suggest (`recipemut suggest -h` lists them).",
    ),
    budget: int = typer.Option(DEFAULT_BUDGET, "--budget", min=1, help="Most candidates to evaluate."),
    time_budget: float = typer.Option(
        DEFAULT_TIME_BUDGET_S, "--time-budget", min=0.0, help="Most seconds to spend searching."
    ),
    seed: SeedOpt = 0,
    horizon: float = typer.Option(30.0, "--horizon", callback=in_range(1, 365, "days to forecast ahead, 1 to a year"),
                                 help="Days to forecast ahead."),
    top: int = typer.Option(10, "--top", min=1, help="How many ranked mutations to show."),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    sample_requests: SampleRequestsOpt = None,
    memory_budget: MemoryBudgetOpt = None,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    store: StoreOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write an HTML report: the plan, the DAG before and after it, the ranked mutations, the forecast.

    Runs suggest and forecast on one reading of the logs (the same options) and writes one
    self-contained HTML file: the plan; the DAG before and after it with the changed operations
    and edges marked; the ranked mutations with their predicted Δp95 and Δcost intervals as a
    table and an interval plot; the critical path; the capacity forecast per service with its
    charts. No script and nothing fetched: the file opens offline and can be attached to a
    ticket or a CI run.

    Example:

        recipemut report recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz -o report.html
    """
    from recipemut.judge.abtest import JudgeSettings
    from recipemut.learn.store import check_store_path, store_path
    from recipemut.plan.search import SearchSettings
    from recipemut.usecases.report import run_report

    source = log_source(
        logs, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping,
        sample_requests=sample_requests, memory_budget=memory_budget, engine=engine, scheduler=scheduler,
    )  # fmt: skip
    if store is not None:
        check_store_path(store, recipes=[recipe], inputs=source.input_files(), option="--store", inputs_only=True)
    settings = SearchSettings(
        judge=JudgeSettings(objective=objective.value),
        operators=None if operators is None else tuple(operators),
        budget=budget,
        time_budget_s=time_budget,
        seed=seed,
    )
    with progress_display(quiet=quiet) as progress:
        run = run_report(
            recipe, source, settings, out=out, store=store_path(store),
            horizon_days=horizon, top=top, warn=_warn, progress=progress,
        )  # fmt: skip
    warn_ingest(run.suggestion.inputs.report)
    for note in run.suggestion.inputs.notes:
        err_console.print(f"note: {shown(note)}")
    err_console.print(f"wrote {shown(str(run.out))} ({run.size / 1024:.0f} KiB)")


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {shown(message)}")
