"""`recipemut evaluate RECIPE --logs LOGS...`: promote, roll back or hold a running canary."""

from __future__ import annotations

import json
import math

import typer

from recipemut.commands._common import (
    Engine,
    EngineOpt,
    LockTimeoutOpt,
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
    warn_ingest,
)
from recipemut.commands._layout import Column, show
from recipemut.commands._progress import progress_display
from recipemut.files.text import console, shown
from recipemut.files.units import counted
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S
from recipemut.usecases.inputs import parse_share

#: apply.canary's defaults as the help shows them (tests/test_startup.py checks them against it):
#: `evaluate -h` imports neither it nor the pandas and scipy it needs
DEFAULT_MIN_REQUESTS = 200
DEFAULT_TOLERANCES = {"latency_p50": 0.02, "latency_p95": 0.05, "cost": 0.02, "error_rate": 0.005, "halt_rate": 0.02}

_TOL_HELP = (
    "Allowed worsening METRIC=VALUE (repeatable): latency_p50, latency_p95, cost are relative (0.05 or 5%), "
    "error_rate, halt_rate absolute. Defaults: " + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_TOLERANCES.items()) + "."
)


def _check_tolerances(items: list[str]) -> list[str]:
    """Option callback: each ``--tolerance`` names a known metric and a value >= 0 (else a usage error, exit 2)."""
    for item in items:
        key, _, value = item.partition("=")
        if key.strip() not in DEFAULT_TOLERANCES:
            raise typer.BadParameter(f"{item!r}: METRIC=VALUE, the metric one of {', '.join(DEFAULT_TOLERANCES)}")
        try:
            allowed = 0 <= parse_share(value) < math.inf  # not NaN, and not inf: a canary never rolled back
        except ValueError:
            allowed = False
        if not allowed:
            raise typer.BadParameter(f"{item!r}: METRIC=VALUE, the value a finite number at least 0, e.g. 0.05 or 5%")
        if key.strip() in ("error_rate", "halt_rate") and (points := 100 * parse_share(value)) >= 100:
            raise typer.BadParameter(  # 1 is 100 points: any canary passes, a 30% error rate included
                f"{item!r}: is {points:g} points of {key.strip()}, which lets any canary pass: a rate's tolerance is "
                "in points, under 1 (0.01 or 1% is one point)"
            )
    return items


_STYLE = {"improves": "green", "within tolerance": "", "uncertain": "yellow", "regresses": "red", "unknown": "yellow"}
_DECISION = {"promote": "[green]PROMOTE[/]", "rollback": "[red]ROLLBACK[/]", "hold": "[yellow]HOLD[/]"}


def evaluate(
    recipe: RecipeArg,
    logs: LogsOpt,
    no_act: bool = typer.Option(
        False, "--no-act", help="Only report the decision; write nothing. --dry-run, as apply and rollback name it, "
        "is the same."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", hidden=True, help="The same as --no-act (shown under it)."),
    tolerance: list[str] = typer.Option([], "--tolerance", "-t", help=_TOL_HELP, callback=_check_tolerances),
    min_requests: int = typer.Option(
        DEFAULT_MIN_REQUESTS, "--min-requests", min=1, help="Requests needed in each arm before deciding."
    ),
    force: bool = typer.Option(False, "--force", help="Act over a hand edit, saving it into the history first; also "
                               "write a read-only recipe (its mode is kept)."),
    lock_timeout: LockTimeoutOpt = DEFAULT_LOCK_TIMEOUT_S,
    store: StoreOpt = None,
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    sample_requests: SampleRequestsOpt = None,
    memory_budget: MemoryBudgetOpt = None,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Judge the canary against the primary recipe, then promote it, roll it back, or hold.

    RECIPE is the recipe running a canary (it has a `variants:` section); --logs hold spans of
    both variants (bad lines are counted and shown as warnings, never fatal unless --strict).

    Compares per-request latency (p50 by Mann-Whitney U and a Hodges-Lehmann interval, p95 by
    bootstrap), cost and error/halt rates of the two variants in the logs. A significant
    worsening beyond the allowed tolerance rolls the canary back (the recipe returns byte for
    byte to what it was before the canary); a significant gain with nothing beyond tolerance
    promotes it (the canary becomes the recipe); anything else holds, saying why (too few
    requests: how many more are needed). Every action is a history entry recording what was
    observed. Acting also records, in the profile store, each mutation of the canary with its
    observed p95 change beside its predicted one (see `recipemut stats`); --no-act records nothing.

    Exit codes: 0 promote, 3 rollback, 4 hold, 1 error (also with --no-act, for CI).

    Example: recipemut evaluate checkout.yaml --logs canary.jsonl --tolerance latency_p95=3%
    """
    source = log_source(
        logs, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping,
        sample_requests=sample_requests, memory_budget=memory_budget, engine=engine, scheduler=scheduler,
    )  # fmt: skip
    with progress_display(quiet=quiet, json_out=fmt is OutputFormat.json) as progress:
        progress.task("starting")  # shown before the imports below (pandas, scipy: a second or more)
        from recipemut.usecases.evaluate import EvaluateSettings, evaluate_canary, parse_tolerances

        settings = EvaluateSettings(
            act=not (no_act or dry_run), tolerances=parse_tolerances(tolerance), min_requests=min_requests, force=force,
            lock_timeout_s=lock_timeout, store=store,
        )  # fmt: skip
        run = evaluate_canary(recipe, source, settings, on_read=warn_ingest, progress=progress)
    from recipemut.apply.canary import ci_name
    from recipemut.learn.records import STORE_OUTCOME
    from recipemut.usecases.evaluate import table_cells

    result, j, recording = run.result, run.result.judgement, run.recording
    if recording.error is not None:
        err_console.print(
            f"[yellow]warning:[/] this evaluation was not recorded in the profile store: {shown(recording.error)}"
        )
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({**result.to_dict(), "store": recording.to_dict(), **run.request_sampling}, indent=2))
        raise typer.Exit(result.exit_code)
    out = console()  # on a terminal, sentences wrap at words (on a pipe, never: files/text.console)
    out.print(f"variant {shown(j.variant)}: {j.n_canary:,} requests; primary (control): {j.n_primary:,} requests")
    if j.metrics:
        rows = []
        for m in j.metrics:
            prim, can, change, allowed = table_cells(m)
            style = _STYLE[m.status]
            rows.append((m.name, prim, can, change, allowed, f"[{style}]{m.status}[/]" if style else m.status))
        names = ("metric", "primary", "canary", f"change ({ci_name(j.metrics[0].level)})", "allowed", "status")
        cols = [Column(name, [r[i] for r in rows], {"no_wrap": i < 3, "justify": "right" if 0 < i < 5 else "left"})
                for i, name in enumerate(names)]
        show(out, cols)
    out.print(f"decision: {_DECISION[j.decision]} — {shown(j.reason)}")
    if run.sample_hint:  # a hold for want of requests the sample left out: a note, on stderr as every note
        err_console.print(f"note: {shown(run.sample_hint)}")
    w = result.write
    if not result.acted:
        out.print("--no-act: nothing written")
    elif w is not None and w.written and w.diff:
        out.print(
            f"{shown(w.recipe)}: {w.action} written, version {w.version_before} -> {w.version}; "
            f"history entry {w.entries[-1].seq}"
        )
    elif w is not None and w.entries:
        out.print(f"{shown(w.recipe)}: recipe unchanged; evaluation recorded as history entry {w.entries[-1].seq}")
    if recording.recorded:
        out.print(
            f"profile store {shown(str(recording.path))}: {counted(recording.recorded, 'mutation')} recorded as "
            f"{STORE_OUTCOME[j.decision].replace('_', ' ')}"
        )
    raise typer.Exit(result.exit_code)
