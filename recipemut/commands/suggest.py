"""`recipemut suggest`: the mutations that make a recipe faster or cheaper, proven and reviewable."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

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
    share_in,
    warn_ingest,
)
from recipemut.commands._layout import Column, show
from recipemut.commands._progress import progress_display
from recipemut.files.text import console, piped, shown
from recipemut.files.units import counted, ms_text, usd_text
from recipemut.usecases.inputs import load_inputs

if TYPE_CHECKING:  # the core (scipy, pandas) is imported where used: `suggest -h` needs none of it
    from recipemut.plan.search import Candidate, SearchResult
    from recipemut.usecases.suggest import Suggestion

#: the operators (``REGISTRY``'s keys) and the search's and judge's defaults, as the help shows them;
#: tests/test_startup.py checks each against the core, which `suggest -h` does not import
OPERATORS = ("reorder", "substitute", "parallelize", "datapipe", "cache", "hedge", "eliminate", "fanout", "batch",
             "dedupe")  # fmt: skip
DEFAULT_BUDGET, DEFAULT_TIME_BUDGET_S = 400, 50.0  # plan.search
DEFAULT_SHARE, DEFAULT_MIN_EFFECT, PRIOR_UNCERTAINTY = 0.10, 0.01, 0.25  # judge.abtest

EXIT_NOTHING, EXIT_ERROR, EXIT_IMPROVEMENTS = 0, 1, 2


class Objective(str, Enum):
    """What the search minimises."""

    latency = "latency"
    p95 = "p95"
    cost = "cost"
    balanced = "balanced"
    headroom = "headroom"


class SuggestFormat(str, Enum):
    """text for a terminal, json for machines (the plan file's format), markdown for a pull request."""

    text = "text"
    json = "json"
    markdown = "markdown"


_TABLE = {"title_justify": "left", "header_style": "bold"}
_REASON_MIN = 24  # the sentence column wraps at words down to this width


def _columns(
    cands: Sequence[Candidate], *, explain: bool = False, result: SearchResult | None = None, costed: bool = True
) -> list[Column]:
    """The candidates' columns: ids and numbers never wrap, the rejection sentence wraps at words.
    Δp50, Δp99 and imputed may be left out on a narrow console (a note names them); the columns that
    decide (Δp95, Δcost, verdict) never are: each candidate becomes a block instead (:mod:`._layout`)."""
    from recipemut.judge.abtest import PREDICTED as KEYS
    from recipemut.plan.explain import LABELS as NAMES
    from recipemut.plan.explain import interval as cell
    from recipemut.plan.explain import rejection as why

    fixed, right = {"no_wrap": True}, {"no_wrap": True, "justify": "right"}
    cols = [
        Column("#", [str(i) for i in range(1, len(cands) + 1)], right),
        Column("mutation", [shown(c.mutation.id) for c in cands], fixed),
    ]
    if explain:
        reasons = [shown(why(c, result) if result is not None else "; ".join(c.reasons)) for c in cands]
        cols.append(Column("rejected because", reasons, {"min_width": _REASON_MIN}))
    for key in (k for k in KEYS if k != "latency_mean_ms"):
        name = f"Δ{NAMES[key]}" + (" ms" if key != "cost_mean_usd" else "/req")
        drop = {"latency_p99_ms": 1, "latency_p50_ms": 3}.get(key, 0)
        cells = [cell(c.evaluation, key, costed=costed) for c in cands]  # no cost logged nor priced: unknown
        cols.append(Column(name, cells, right, drop=drop))
    cols.append(Column("verdict", [shown(c.verdict or "-") for c in cands], fixed))
    imputed = [f"{100 * c.evaluation.imputed_share:.0f}%" if c.evaluation else "-" for c in cands]
    return [*cols, Column("imputed", imputed, right, drop=2)]


def _styles(cands: Sequence[Candidate]) -> list[str | None]:
    return ["green" if c.status == "accepted" else ("red" if "regresses" in c.reasons else None) for c in cands]


def _item(out: Console, head: str, body: str, style: str | None = None) -> None:
    """``head`` then ``body`` (markup), body's wrapped lines under its first column (a hanging indent,
    as the ranked list's notes keep theirs); on a pipe one unwrapped line, as the rest of the text."""
    if piped():
        return out.print(head + body, style=style)
    lines = Text.from_markup(body).wrap(out, max(out.width - len(head), 20))
    for x in lines:
        x.rstrip()  # no trailing space where a line broke
    text = Text("\n").join(Text.assemble(" " * len(head) if i else head, x) for i, x in enumerate(lines))
    out.print(text, style=style, overflow="ignore", crop=False)


def _render_text(found: Suggestion, *, explain: bool, top: int) -> None:
    from recipemut.plan.assemble import cost_known, nothing_found, raise_hint
    from recipemut.plan.explain import NO_COST, ab_line, not_proposed_lines, plan_changes, reason, requests
    from recipemut.plan.markdown import n_plus_one_findings
    from recipemut.recipe.diff import structural_diff

    out = console()  # on a pipe: tables as wide as they need, text unwrapped (files/text.py, _layout.py)
    result, hr, rep, recipe_path = found.result, found.headroom, found.report, found.inputs.path
    b, costed = rep["baseline"], cost_known(rep)  # no cost in the logs or the recipe: unknown throughout
    out.print(
        f"[bold]{shown(str(recipe_path))}[/]: replayed {requests(b['requests'])}{found.sampled}; baseline p50 "
        f"{ms_text(b['latency_p50_ms'], clock=True)}, p95 {ms_text(b['latency_p95_ms'], clock=True)}, "
        f"p99 {ms_text(b['latency_p99_ms'], clock=True)}, "
        + (f"cost {usd_text(b['cost_mean_usd'])}/request" if costed else NO_COST)
        + f"; objective {result.objective}"
        + (f" (weight {result.weight:g})" if result.objective == "balanced" else "")
        + (f" (busy time of the bottleneck service {shown(found.bottleneck)})" if found.bottleneck else "")
    )
    for seen, add in n_plus_one_findings(rep, recipe_path):
        out.print(f"[yellow]N+1:[/] {shown(seen)}\n  {shown(add)}")
    accepted = [c for c in result.singles if c.status == "accepted"]
    if accepted:
        title = "Best single mutations (each against the current recipe, paired replay of every request; 95% intervals)"
        cands = accepted[:top]
        notes = [
            [shown(reason(c, costed=costed)), *([shown(ab_line(c.evaluation, costed=costed))] if c.evaluation else [])]
            + [f"capacity: {shown(line)}" for line in hr.lines(c)]
            for c in cands
        ]
        show(out, _columns(cands, costed=costed), heading=2, styles=_styles(cands), notes=notes, title=title, **_TABLE)
    few = rep.get("too_few_requests")  # plan/enough.py: said instead of "no improvement" (the result), or as a note
    if few and accepted:  # a note beside the mutations found: on stderr, as every note
        err_console.print(f"[yellow]note:[/] {shown(few['message'])}")
    elif few or not accepted:
        nothing = nothing_found(result)  # or, a limit reached before any candidate was judged, that nothing is known
        out.print("[bold]" + shown(few["message"]) if few else nothing)
    if result.plan:
        out.print("\n[bold]Plan[/] (applied in this order; each step judged against the previous):")
        for i, c in enumerate(result.plan, 1):
            _item(out, f"  {i}. ", f"{shown(c.mutation.id)}: {shown(c.mutation.description)}")
        ev = result.plan_evaluation
        if ev is not None:
            _item(
                out, "  ", f"whole plan vs. the current recipe: {plan_changes(ev, costed=costed)}"
                + f"; verdict [bold]{shown(ev.verdict)}[/], imputed {100 * ev.imputed_share:.0f}%"
            )
            _item(out, "  ", shown(ab_line(ev, costed=costed)))
        for line in hr.plan_lines(result):
            _item(out, "  capacity: ", shown(line))
        out.print("\n[bold]Structural diff[/]")
        for line in structural_diff(result.original, result.plan_recipe).lines():
            style = "green" if line.startswith("+") else ("red" if line[0] == "-" else None)
            _item(out, "  " + shown(line[:2]), shown(line[2:]), style=style)
        out.print("\n[bold]YAML diff[/] (exactly what `recipemut apply` writes)")
        for line in rep["diff"]["unified"].splitlines():
            style = "green" if line.startswith("+") else ("red" if line.startswith("-") else None)
            out.print(shown(line), style=style, soft_wrap=True)  # never broken: the diff is exact
    if explain:
        rej = list(result.rejected)
        if rej:
            cols = _columns(rej, explain=True, result=result, costed=costed)
            show(out, cols, heading=2, styles=_styles(rej), title="Rejected candidates", **_TABLE)
        if found.not_proposed:
            out.print("\n[bold]Not proposed[/] (why an operator made no candidate for an operation or field)")
            for line in not_proposed_lines(found.not_proposed):
                out.print(f"  {shown(line)}")
    s = rep["search"]
    hint = raise_hint(s.get("stopped_by"))
    note = f" (budget exhausted: {s['summary']}{'; ' + hint if hint else ''})" if s["budget_exhausted"] else ""
    out.print(
        f"\nevaluated {counted(s['evaluated'], 'candidate')} in {counted(s['rounds'], 'round')}, "
        f"{s['wall_s']:.1f} s in all "
        f"(search {s['elapsed_s']:.1f} s, start-up and inputs {s['inputs_s']:.1f} s){note}; "
        f"A/B treatment share {100 * s['treatment_share']:.0f}%"
        + ("" if explain or not result.rejected else f"; {len(result.rejected)} rejected (--explain shows why)")
        + ("" if explain or not found.not_proposed else f"; {counted(len(found.not_proposed), 'reason')} an operator "
           "proposed nothing (--explain shows them)")
    )


_OPERATORS_HELP = (
    f"Operators to use (repeatable; default: all): {', '.join(OPERATORS)}. "
    "What each one changes: docs/operators.md (and docs/commands/suggest.md)."
)


def _operator_check(values: list[str] | None) -> list[str] | None:
    for v in values or []:
        if v not in OPERATORS:
            raise typer.BadParameter(f"unknown operator {v!r}; choose from {', '.join(OPERATORS)}")
    return values


def suggest(
    recipe: RecipeArg,
    logs: LogsOpt,
    objective: Objective = typer.Option(Objective.balanced, "--objective", help="What to minimise."),
    weight: float = typer.Option(
        0.5, "--weight", callback=in_range(0, 1, "the share of latency in the balanced objective, 1 - weight "
                                           "going to cost (0.7: mostly latency)"),
        help="balanced: weight of latency (1 - weight goes to cost)."
    ),
    operators: list[str] | None = typer.Option(
        None,
        "--operators", "-O",
        callback=_operator_check,
        show_default=False,
        help=_OPERATORS_HELP,
    ),
    budget: int = typer.Option(DEFAULT_BUDGET, "--budget", min=1, help="Most candidates to evaluate."),
    time_budget: float = typer.Option(
        DEFAULT_TIME_BUDGET_S, "--time-budget", min=0.0, help="Most seconds to spend searching."
    ),
    beam: int = typer.Option(1, "--beam", min=1, help="Beam width of the plan search (1 = greedy)."),
    treatment_share: float = typer.Option(
        DEFAULT_SHARE, "--treatment-share", parser=share_in(0.01, 0.99, "share of requests in the offline A/B "
                                                            "treatment", "0.5 or 50% for half"), metavar="FRACTION",
        help="Share of requests in the offline A/B treatment (0.5 or 50%), from 0.01 to 0.99."
    ),
    min_effect: float = typer.Option(
        DEFAULT_MIN_EFFECT, "--min-effect", min=0.0, help="Smallest relative change worth a verdict."
    ),
    prior_uncertainty: float = typer.Option(
        PRIOR_UNCERTAINTY,
        "--prior-uncertainty",
        min=0.0,
        help="How far (relative) an imputed operation may be from its prior; widens those intervals.",
    ),
    seed: SeedOpt = 0,
    explain: bool = typer.Option(
        False, "--explain", help="Also show every rejected candidate and why, and why an operator proposed nothing."
    ),
    top: int = typer.Option(10, "--top", min=1, help="How many single mutations to show."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the plan file (for `recipemut apply --plan`).", show_default=False
    ),
    output: SuggestFormat = typer.Option(SuggestFormat.text, "--format", "-f", help="text, json or markdown."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 2 when improvements were found, 0 when not (1 is an error)."
    ),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    sample_requests: SampleRequestsOpt = None,
    memory_budget: MemoryBudgetOpt = None,
    engine: EngineOpt = Engine.local,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    store: StoreOpt = None,
) -> None:
    """Suggest mutations that make a recipe faster or cheaper, proven valid and judged on replayed traffic.

    Profiles the logs and generates candidates with the operators; rejects
    invalid ones (cycles, broken data dependencies, frozen, keep_order);
    replays every recorded request through each candidate; judges it with an
    offline A/B test (requests split by a hash of request_id); composes the
    improvements into a plan. Shows the best single mutations with predicted
    changes in p50/p95/p99 latency and cost (95% intervals), the plan, how it
    moves each service's capacity date, and its diff (YAML and structural).

    Exit codes with --detailed-exitcode: 0 nothing worth doing, 2 improvements
    found, 1 error (as `terraform plan -detailed-exitcode`).

    Example:

        recipemut suggest recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz --out plan.json
    """
    from recipemut.files.kinds import PLAN
    from recipemut.files.progress import run_started
    from recipemut.files.write import check_output_path
    from recipemut.learn.store import check_store_path, store_path

    source = log_source(
        logs, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping,
        sample_requests=sample_requests, memory_budget=memory_budget, engine=engine, scheduler=scheduler,
    )  # fmt: skip
    if out is not None:  # refused before any work: never an input, a link or a new folder tree
        check_output_path(out, recipes=[recipe], inputs=source.input_files(), example="plan.json", kind=PLAN)
    if store is not None:  # any other store problem (not SQLite, a missing folder) stays a warning
        check_store_path(store, recipes=[recipe], inputs=source.input_files(), option="--store", inputs_only=True)
    with progress_display(quiet=quiet, json_out=output == SuggestFormat.json) as progress:
        progress.task("starting")  # shown before the imports below (scipy, pandas: a second or more)
        from recipemut.judge.abtest import JudgeSettings
        from recipemut.plan.search import SearchSettings
        from recipemut.usecases.suggest import suggest as run_suggest

        judge = JudgeSettings(
            objective=objective.value, weight=weight, share=treatment_share, min_effect=min_effect,
            prior_uncertainty=prior_uncertainty,
        )  # fmt: skip
        settings = SearchSettings(
            judge=judge, operators=None if operators is None else tuple(operators), budget=budget,
            time_budget_s=time_budget, beam_width=beam, seed=seed,
        )  # fmt: skip
        inputs = load_inputs(recipe, source, document=True, primary_only=True, progress=progress)
        warn_ingest(inputs.report)
        for note in inputs.notes:
            err_console.print(f"note: {shown(note)}")
        found = run_suggest(
            inputs, settings, store=store_path(store), warn=_warn,
            progress=progress, started=run_started(),
        )  # fmt: skip
    if out is not None:
        from recipemut.plan.planfile import Plan, write_plan

        write_plan(Plan.from_dict(found.plan_doc), out)
    if output == SuggestFormat.json:
        typer.echo(json.dumps(found.plan_doc, indent=2, allow_nan=False))
    elif output == SuggestFormat.markdown:
        from recipemut.plan.markdown import plan_markdown

        typer.echo(
            plan_markdown(
                found.result,
                found.headroom,
                found.report,
                found.inputs.path,
                bottleneck=found.bottleneck,
                explain=explain,
                top=top,
            ),
            nl=False,
        )
    else:
        _render_text(found, explain=explain, top=top)
        if out is not None:
            console().print(f"plan written to {shown(str(out))}")
    if detailed_exitcode:  # a search that judged nothing says nothing of "nothing worth doing": an error
        from recipemut.plan.assemble import judged_nothing

        nothing = 1 if judged_nothing(found.result) else EXIT_NOTHING
        raise typer.Exit(EXIT_IMPROVEMENTS if found.result.plan else nothing)


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {shown(message)}")
