"""`recipemut suggest`: the mutations that make a recipe faster or cheaper, proven and reviewable."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from recipemut.commands._common import (
    LogFormat,
    LogFormatOpt,
    LogsOpt,
    MapOpt,
    RecipeArg,
    SampleRateOpt,
    StrictOpt,
    err_console,
    strict_json,
    warn_ingest,
)
from recipemut.errors import RecipemutError
from recipemut.files.text import console, safe, shown
from recipemut.judge.abtest import DEFAULT_MIN_EFFECT, DEFAULT_SHARE, PREDICTED, PRIOR_UNCERTAINTY, Evaluation
from recipemut.learn.bandit import mutation_kind, order_candidates
from recipemut.learn.store import default_path
from recipemut.logs.spans import DEFAULT_VARIANT
from recipemut.mutate.mutation import Mutation
from recipemut.mutate.operators import REGISTRY
from recipemut.plan.search import DEFAULT_BUDGET, DEFAULT_TIME_BUDGET_S, Candidate, SearchResult, search
from recipemut.predict.simulate import Replay
from recipemut.profile.build import Profile
from recipemut.recipe.diff import edited_text, structural_diff, unified_diff
from recipemut.recipe.model import Recipe

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


_LABELS = {
    "latency_p50_ms": "p50",
    "latency_p95_ms": "p95",
    "latency_p99_ms": "p99",
    "latency_mean_ms": "mean",
    "cost_mean_usd": "cost",
}


def _num(x: float, cost: bool = False) -> str:
    """A signed delta to one decimal; what rounds to zero reads ``+0.0``, never ``-0.0``.

    >>> _num(-8.7e-19, cost=True), _num(6.8e-07, cost=True), _num(-0.04)
    ('+0.0µ$', '+0.7µ$', '+0.0')
    """
    if not math.isfinite(x):
        return "-"
    if cost:
        return f"{round(x * 1e6, 1) + 0.0:+.1f}µ$"  # micro-dollars per request; + 0.0 turns -0.0 into 0.0
    return f"{round(x, 1) + 0.0:+.1f}"


def _iv(ev: Evaluation | None, key: str) -> str:
    if ev is None:
        return "-"
    iv = ev.predicted[key]
    cost = key == "cost_mean_usd"
    if iv.lo == iv.hi == iv.estimate:
        return _num(iv.estimate, cost)
    return f"{_num(iv.estimate, cost)} [{_num(iv.lo, cost)}, {_num(iv.hi, cost)}]"


def _requests(n: int, adjective: str = "") -> str:
    """``1 request``, ``3,964 requests``."""
    return f"{n:,} {adjective}request{'s' if n != 1 else ''}"


def _boundaries(text: str, seps: tuple[str, ...]) -> list[int]:
    """Positions where one of ``seps`` starts outside parentheses, brackets and backticks."""
    out: list[int] = []
    depth, code = 0, False
    for i, ch in enumerate(text):
        if ch == "`":
            code = not code
        elif not code and ch in "([":
            depth += 1
        elif not code and ch in ")]":
            depth = max(0, depth - 1)
        elif not code and depth == 0 and any(text.startswith(sep, i) for sep in seps):
            out.append(i)
    return out


def _headline(description: str, limit: int = 220) -> str:
    """The operator's claim: its first sentence, or its first clause when that sentence is long,
    never cut inside a parenthesis or a code span (a word-boundary cut with … only as a last resort).

    >>> _headline("a (x; y) b; c. d")
    'a (x; y) b; c'
    >>> _headline("a (x; y) b; then a long tail", limit=12)
    'a (x; y) b'
    >>> _headline("one two three four", limit=10)
    'one two…'
    """
    text = description.strip()
    ends = _boundaries(text, (". ",))
    head = text[: ends[0]] if ends else text.rstrip(".")
    if len(head) > limit:
        cuts = _boundaries(head, ("; ", ": ", ", so "))
        head = head[: cuts[0]] if cuts else head[: head.rfind(" ", 0, limit - 1)].rstrip(" ,;:") + "…"
    return head


def _reason(c: Candidate, *, full: bool = False) -> str:
    """One sentence a reviewer can check: the operator's claim plus the predicted numbers."""
    ev = c.evaluation
    text = c.mutation.description.rstrip(".") if full else _headline(c.mutation.description)
    if ev is None:
        return text + "."
    p95 = ev.predicted["latency_p95_ms"].estimate
    cost = ev.predicted["cost_mean_usd"].estimate
    bits = []
    if abs(p95) >= 0.05:
        bits.append(f"{'saves' if p95 < 0 else 'adds'} {abs(p95):.1f} ms at p95")
    if abs(cost) * 1e6 >= 0.05:
        bits.append(f"{'saves' if cost < 0 else 'adds'} {abs(cost) * 1e6:.1f} µ$ per request")
    return text + ("; " + " and ".join(bits) if bits else "") + "."


def _p(p: float) -> str:
    return " -" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"={p:.3f}")


def _ab_line(ev: Evaluation | None) -> str:
    """The offline A/B in one line: Mann-Whitney U and Hodges-Lehmann on latency, bootstrap CI on
    cost, and which test decided the verdict."""
    if ev is None:
        return ""
    if ev.ab_latency is None:
        return f"{ev.objective} verdict from {ev.decision()}"
    lat, cost = ev.ab_latency, ev.ab_cost
    hl = lat.shift
    bits = [
        f"A/B {100 * ev.share:.0f}% ({lat.n_treatment:,} vs {lat.n_control:,} requests): latency Mann-Whitney "
        f"p{_p(lat.p_value)}, Hodges-Lehmann shift {_num(hl.estimate)} ms [{_num(hl.lo)}, {_num(hl.hi)}]"
    ]
    if cost is not None:
        m = cost.deltas["mean"]
        bits.append(f"cost Δmean {_num(m.estimate, True)} [{_num(m.lo, True)}, {_num(m.hi, True)}] (bootstrap)")
    return "; ".join(bits) + f"; {ev.objective} verdict from {ev.decision()}"


class Headroom:
    """How mutations move each service's capacity crossing date and replicas (from ``forecast``)."""

    def __init__(self, original: Recipe, baseline: Replay, prof: Profile) -> None:
        from recipemut.forecast.demand import forecast_from_profile

        self.original = original
        self.result: SearchResult | None = None  # set once the search ran
        self.service: str | None = None  # the bottleneck, under --objective headroom
        self.note = ""
        self.forecast: Any = None
        try:
            self.forecast, _ = forecast_from_profile(prof, original)
        except (RecipemutError, ValueError) as e:  # too little history, a degenerate series
            self.note = f"no capacity forecast: {e}"
        # busy time from the baseline *replay*, as every mutation's: the same model on both sides
        self.before = baseline.service_busy_ms(original)

    def bottleneck(self) -> str:
        """The service whose forecast peak utilisation is closest to (or furthest past) its target:
        the first to need more replicas, what ``--objective headroom`` relieves."""
        from recipemut.forecast.capacity import service_outlooks

        if self.forecast is None:
            raise RecipemutError(
                f"--objective headroom needs a capacity forecast, and there is none ({self.note}); "
                "choose another objective",
                code="no-forecast",
            )
        best: tuple[float, str] | None = None
        for o in service_outlooks(self.forecast, self.original, self.before):
            util = o.forecast_peak_util if o.forecast_peak_util is not None else o.current_peak_util
            if o.capacity is None or util is None or not o.target:
                continue
            load = util / o.target  # how close to its own target: the first to need replicas
            if best is None or load > best[0]:
                best = (load, o.service)
        if best is None:
            raise RecipemutError(
                "--objective headroom needs services with declared capacity (services: replicas, "
                "concurrency_per_replica) in the recipe",
                file=self.original.source,
                code="no-capacity",
            )
        return best[1]

    def change(self, recipe: Recipe, busy_ms: Mapping[str, float]) -> Any:
        """The :class:`~recipemut.forecast.capacity.HeadroomChange` of a replay's busy time (None without forecast)."""
        if self.forecast is None or not busy_ms:
            return None
        from recipemut.forecast.capacity import headroom_change
        from recipemut.profile.busy import busy_by_service

        after = busy_by_service(busy_ms, recipe)
        keys = set(self.before) | set(after)  # a substitute may bring a new service: same services on both sides
        before = {k: self.before.get(k, 0.0) for k in keys}
        after = {k: after.get(k, 0.0) for k in keys}
        return headroom_change(self.forecast, self.original, before, after)

    @staticmethod
    def _moved(h: Any) -> list[str]:
        """Sentences of the services whose crossing date or replica count the change moves."""
        out = []
        for d in h.deltas:
            b, a = d.before, d.after
            if b.capacity is None:
                continue  # no declared capacity (e.g. a substitute's new service): nothing to date
            key = lambda o: (o.status, o.crossing, o.replicas_needed, o.replicas_needed_now)  # noqa: E731
            if key(b) != key(a):
                out.append(d.sentence(h.now))
        return out

    def lines(self, c: Candidate) -> list[str]:
        h = self.change(c.mutation.recipe, c.busy_ms)
        return self._moved(h) if h is not None else []

    def plan_lines(self) -> list[str]:
        r = self.result
        h = self.change(r.plan_recipe, r.plan_replay.busy_ms) if r is not None and r.plan else None
        return self._moved(h) if h is not None else []


def _plan_doc(
    result: SearchResult, hr: Headroom, recipe_path: Path, text: str, recipe_name: str, version: int, sha256: str
) -> dict[str, Any]:
    """The plan file's content (schemas/plan.schema.json), with suggest's report in extra keys.

    ``sha256`` is :func:`recipemut.plan.planfile.recipe_sha256` of the recipe file's bytes (as ``apply``
    checks it: a byte-order mark or CRLF line ends count, the decoded ``text`` would drop them).
    """
    from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe

    steps: list[PlannedMutation] = []
    ids: list[str] = []
    for c in result.plan:
        pid = c.mutation.id
        n = 2
        while pid in ids:
            pid, n = f"{c.mutation.id}#{n}", n + 1
        ids.append(pid)
        ev = c.evaluation
        steps.append(
            PlannedMutation(
                pid,
                c.mutation.operator,
                c.mutation.targets,
                c.mutation.description,
                c.mutation.edits,
                strict_json({**ev.to_dict(), "headroom": hr.lines(c)}) if ev else {},
                ev.verdict if ev else None,
            )
        )
    plan = Plan(
        recipe=PlanRecipe(str(recipe_path), sha256, recipe_name, version),
        mutations=tuple(steps),
        plan=tuple(ids),
        objective=result.objective,
    )
    d = plan.to_dict()
    d["report"] = strict_json(_report(result, hr, recipe_path, text))
    return d


def _candidate_dict(c: Candidate, hr: Headroom) -> dict[str, Any]:
    return {
        "headroom": hr.lines(c) if c.status == "accepted" else [],
        **c.mutation.to_dict(),
        "round": c.round,
        "status": c.status,
        "reasons": list(c.reasons),
        "parent": list(c.parent),
        "verdict": c.verdict,
        "predicted": c.evaluation.to_dict() if c.evaluation else None,
    }


def _report(result: SearchResult, hr: Headroom, recipe_path: Path, text: str) -> dict[str, Any]:
    base = result.baseline
    after = edited_text(text, [e for c in result.plan for e in c.mutation.edits], source=str(recipe_path))
    return {
        "weight": result.weight,
        "bottleneck_service": hr.service,
        "baseline": {
            "requests": base.n_requests,
            "latency_p50_ms": float(_q(base.latency_ms, 0.5)),
            "latency_p95_ms": float(_q(base.latency_ms, 0.95)),
            "latency_p99_ms": float(_q(base.latency_ms, 0.99)),
            "cost_mean_usd": float(base.cost_usd.mean()),
            "imputed_share": base.imputed_share,
        },
        "plan_predicted": result.plan_evaluation.to_dict() if result.plan_evaluation else None,
        "plan_verdict": result.plan_evaluation.verdict if result.plan_evaluation else None,
        "plan_headroom": hr.plan_lines(),
        "capacity_note": hr.note or None,
        "singles": [_candidate_dict(c, hr) for c in result.singles],
        "rejected": [_candidate_dict(c, hr) for c in result.rejected],
        "diff": {
            "unified": unified_diff(text, after, str(recipe_path)),
            "structural": structural_diff(result.original, result.plan_recipe).to_dict(),
        },
        "search": {
            "evaluated": result.evaluated,
            "rounds": result.rounds,
            "budget_exhausted": result.budget_exhausted,
            "elapsed_s": result.elapsed_s,
            **dict(result.options),
        },
    }


def _q(x: Any, q: float) -> float:
    import numpy as np

    return float(np.quantile(x, q))


def _rejection(c: Candidate, result: SearchResult) -> str:
    """Why a candidate was rejected, and in which round. A candidate is judged against the state it
    was generated from, so the same mutation can improve the recipe alone (round 1) and add nothing
    after other steps, or the reverse: the sentence says so rather than contradict the plan."""
    why = "; ".join(c.reasons)
    n = len(c.parent)
    text = f"round {c.round} (after {n} plan step{'s' if n != 1 else ''}): {why}" if c.round > 1 else why
    steps = {s.mutation.id: (i, s.round) for i, s in enumerate(result.plan, 1)}
    singles = {s.mutation.id for s in result.singles if s.status == "accepted"}
    mid = c.mutation.id
    if mid in steps and steps[mid][1] > c.round:
        text += f"; accepted later as plan step {steps[mid][0]} (round {steps[mid][1]})"
    elif mid in singles and c.round > 1:
        text += "; it improved the recipe alone in round 1, before those steps"
    return text


#: columns left out, in this order, when the console is too narrow for all of them
DROP_WHEN_NARROW = ("Δp99 ms", "imputed", "Δp50 ms", "verdict", "Δcost/req", "Δp95 ms")
_REASON_MIN = 24  # the sentence column wraps at words down to this width


def _table(
    title: str,
    cands: tuple[Candidate, ...] | list[Candidate],
    *,
    explain: bool = False,
    result: SearchResult | None = None,
    width: int = 180,
) -> Table:
    """The candidates' table, fitted to ``width``: ids never broken, numbers never cut (whole columns
    go instead, :data:`DROP_WHEN_NARROW`), the rejection sentence wraps at words."""
    ids = [shown(c.mutation.id) for c in cands]
    cols: list[tuple[str, list[str], dict[str, Any]]] = [
        ("#", [str(i) for i in range(1, len(cands) + 1)], {"justify": "right", "no_wrap": True}),
        ("mutation", ids, {"no_wrap": True, "min_width": max(map(len, ids), default=8)}),
    ]
    if explain:
        reasons = [shown(_rejection(c, result) if result is not None else "; ".join(c.reasons)) for c in cands]
        cols.append(("rejected because", reasons, {"min_width": _REASON_MIN}))
    for key in PREDICTED:
        if key != "latency_mean_ms":
            name = f"Δ{_LABELS[key]}" + (" ms" if key != "cost_mean_usd" else "/req")
            cols.append((name, [_iv(c.evaluation, key) for c in cands], {"justify": "right"}))
    cols.append(("verdict", [shown(c.verdict or "-") for c in cands], {}))
    imputed = [f"{100 * c.evaluation.imputed_share:.0f}%" if c.evaluation else "-" for c in cands]
    cols.append(("imputed", imputed, {"justify": "right", "no_wrap": True}))

    def size(name: str, cells: list[str]) -> int:
        return _REASON_MIN if name == "rejected because" else max(len(name), *(len(x) for x in cells), 1)

    def need() -> int:
        return 1 + sum(size(name, cells) + 3 for name, cells, _ in cols)

    for name in DROP_WHEN_NARROW:
        if need() <= width:
            break
        cols = [c for c in cols if c[0] != name]
    if explain:  # the sentence takes what the other columns leave
        rest = width - (need() - _REASON_MIN)
        cols = [(n, c, {**o, "width": max(_REASON_MIN, rest)} if n == "rejected because" else o) for n, c, o in cols]
    t = Table(title=title, title_justify="left", header_style="bold")
    for name, _, opts in cols:
        t.add_column(name, **opts)
    for i, c in enumerate(cands):
        style = "green" if c.status == "accepted" else ("red" if "regresses" in c.reasons else None)
        t.add_row(*(cells[i] for _, cells, _ in cols), style=style)
    return t


def _console() -> Console:
    """stdout's console: the terminal's width; when stdout is not a terminal, $COLUMNS if set, else
    180 (logs and CI: wide enough for the tables)."""
    import os

    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").strip().isdigit():
        return console()  # rich reads $COLUMNS itself
    return console(width=180)


def _render_text(result: SearchResult, hr: Headroom, recipe_path: Path, text: str, *, explain: bool, top: int) -> None:
    out = _console()
    rep = _report(result, hr, recipe_path, text)
    b = rep["baseline"]
    out.print(
        f"[bold]{shown(str(recipe_path))}[/]: replayed {_requests(b['requests'])}; baseline p50 "
        f"{b['latency_p50_ms']:.1f} ms, p95 {b['latency_p95_ms']:.1f} ms, p99 {b['latency_p99_ms']:.1f} ms, "
        f"cost {b['cost_mean_usd'] * 1e6:.1f} µ$/request; objective {result.objective}"
        + (f" (weight {result.weight:g})" if result.objective == "balanced" else "")
        + (f" (busy time of the bottleneck service {shown(hr.service)})" if hr.service else "")
    )
    accepted = [c for c in result.singles if c.status == "accepted"]
    if accepted:
        title = "Best single mutations (each against the current recipe, paired replay of every request; 95% intervals)"
        out.print(_table(title, accepted[:top], width=out.width))
        for i, c in enumerate(accepted[:top], 1):
            out.print(f"  {i}. {shown(_reason(c))}")
            if c.evaluation is not None:
                out.print(f"     {shown(_ab_line(c.evaluation))}")
            for line in hr.lines(c):
                out.print(f"     capacity: {shown(line)}")
    else:
        out.print("No single mutation improves the recipe.")
    if result.plan:
        out.print("\n[bold]Plan[/] (applied in this order; each step judged against the previous):")
        for i, c in enumerate(result.plan, 1):
            out.print(f"  {i}. {shown(c.mutation.id)}: {shown(c.mutation.description)}")
        ev = result.plan_evaluation
        if ev is not None:
            out.print(
                "  whole plan vs. the current recipe: "
                + ", ".join(f"Δ{_LABELS[k]} {_iv(ev, k)}" for k in PREDICTED)
                + f"; verdict [bold]{shown(ev.verdict)}[/], imputed {100 * ev.imputed_share:.0f}%"
            )
            out.print(f"  {shown(_ab_line(ev))}")
        for line in hr.plan_lines():
            out.print(f"  capacity: {shown(line)}")
        out.print("\n[bold]Structural diff[/]")
        for line in structural_diff(result.original, result.plan_recipe).lines():
            out.print(
                "  " + shown(line), style="green" if line.startswith("+") else ("red" if line[0] == "-" else None)
            )
        out.print("\n[bold]YAML diff[/] (exactly what `recipemut apply` writes)")
        for line in rep["diff"]["unified"].splitlines():
            style = "green" if line.startswith("+") else ("red" if line.startswith("-") else None)
            out.print(shown(line), style=style)
    if explain:
        rej = list(result.rejected)
        if rej:
            out.print(_table("Rejected candidates", rej, explain=True, result=result, width=out.width))
    s = rep["search"]
    note = " (budget exhausted: raise --budget or --time-budget)" if s["budget_exhausted"] else ""
    out.print(
        f"\nevaluated {s['evaluated']} candidates in {s['rounds']} round(s), {s['elapsed_s']:.1f} s{note}; "
        f"A/B treatment share {100 * s['treatment_share']:.0f}%"
        + ("" if explain or not result.rejected else f"; {len(result.rejected)} rejected (--explain shows why)")
    )


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _render_markdown(
    result: SearchResult, hr: Headroom, recipe_path: Path, text: str, *, explain: bool, top: int
) -> str:
    from recipemut.recipe.graph import render_mermaid

    rep = _report(result, hr, recipe_path, text)
    b = rep["baseline"]
    lines = [
        f"## recipemut suggest: `{recipe_path}`",
        "",
        f"Replayed {_requests(b['requests'], 'recorded ')}. Baseline p50 {b['latency_p50_ms']:.1f} ms, "
        f"p95 {b['latency_p95_ms']:.1f} ms, p99 {b['latency_p99_ms']:.1f} ms, cost "
        f"{b['cost_mean_usd'] * 1e6:.1f} µ$/request. Objective: **{result.objective}**"
        + (f" (bottleneck service `{hr.service}`)." if hr.service else "."),
        "",
    ]
    accepted = [c for c in result.singles if c.status == "accepted"][:top]
    heads = ["#", "operator", "target", "why", *(f"Δ{_LABELS[k]}" for k in PREDICTED if k != "latency_mean_ms")]
    if accepted:
        lines += ["### Best single mutations", "", _md_row([*heads, "verdict", "imputed", "offline A/B", "capacity"])]
        lines.append(_md_row(["---"] * (len(heads) + 4)))
        for i, c in enumerate(accepted, 1):
            ev = c.evaluation
            lines.append(
                _md_row(
                    [
                        str(i),
                        c.mutation.operator,
                        ", ".join(f"`{t}`" for t in c.mutation.targets),
                        _reason(c),
                        *(_iv(ev, k) for k in PREDICTED if k != "latency_mean_ms"),
                        c.verdict or "-",
                        f"{100 * ev.imputed_share:.0f}%" if ev else "-",
                        _ab_line(ev) or "-",
                        "<br>".join(hr.lines(c)) or "-",
                    ]
                )
            )
        lines.append("")
    else:
        lines += ["No single mutation improves the recipe.", ""]
    if result.plan:
        lines += ["### Plan", ""]
        lines += [f"{i}. `{c.mutation.id}`: {c.mutation.description}" for i, c in enumerate(result.plan, 1)]
        ev = result.plan_evaluation
        if ev is not None:
            lines += [
                "",
                "Whole plan: " + ", ".join(f"Δ{_LABELS[k]} {_iv(ev, k)}" for k in PREDICTED) + f"; **{ev.verdict}**.",
                "",
                _ab_line(ev) + ".",
            ]
            lines += [f"- capacity: {line}" for line in hr.plan_lines()]
        sd = structural_diff(result.original, result.plan_recipe)
        lines += ["", "#### New DAG (changed operations highlighted)", "", "```mermaid"]
        lines += [*render_mermaid(result.plan_recipe, highlight=sd.changed_ops).rstrip("\n").split("\n"), "```", ""]
        lines += ["#### Structural diff", "", "```diff", *sd.lines(), "```", ""]
        lines += ["#### YAML diff", "", "```diff", *rep["diff"]["unified"].rstrip("\n").split("\n"), "```", ""]
    if explain and result.rejected:
        lines += ["<details><summary>Rejected candidates</summary>", "", _md_row(["candidate", "reasons"])]
        lines.append(_md_row(["---", "---"]))
        lines += [_md_row([f"`{c.mutation.id}`", _rejection(c, result)]) for c in result.rejected]
        lines += ["", "</details>", ""]
    s = rep["search"]
    lines.append(
        f"<sub>{s['evaluated']} candidates evaluated in {s['elapsed_s']:.1f} s; offline A/B with "
        f"{100 * s['treatment_share']:.0f}% treatment.</sub>"
    )
    return "\n".join(map(safe, lines)) + "\n"  # one line each: a name's line break or escape shows as \\n, \\x1b


_OPERATORS_HELP = (
    f"Operators to use (repeatable; default: all): {', '.join(REGISTRY)}. "
    "What each one changes: see the README's suggest section."
)


_METRIC = {
    "latency": "latency_p50_ms",
    "p95": "latency_p95_ms",
    "cost": "cost_mean_usd",
    "balanced": "latency_mean_ms",
    "headroom": "latency_mean_ms",
}


def _bandit(path: Path | None, recipe_name: str) -> Any:
    """What the store learned (a fresh bandit without a store, or when it cannot be read: warned)."""
    from recipemut.learn.bandit import Bandit, load_bandit

    if path is None:
        return Bandit()
    try:
        return load_bandit(path, recipe=recipe_name)
    except RecipemutError as e:
        err_console.print(f"[yellow]warning:[/] not using the profile store: {shown(str(e))}")
        return Bandit()


def _record(result: SearchResult, path: Path | None, r: Recipe, sha256: str, objective: str) -> None:
    """Record every evaluated candidate in the profile store; a store problem is a warning, not a failure."""
    if path is None:
        return
    from recipemut.learn.bandit import mutation_kind
    from recipemut.learn.store import record_suggestions, suggestion_records

    cands = [*result.singles, *result.plan, *result.rejected]
    records = suggestion_records(cands, metric=_METRIC[objective], kind_of=lambda m: mutation_kind(m, r))
    try:
        record_suggestions(records, path=path, recipe=r.name, version=r.version, sha256=sha256)
    except RecipemutError as e:
        err_console.print(f"[yellow]warning:[/] this run was not recorded in the profile store: {shown(str(e))}")


def check_out(out: Path, recipe: Path, logs: list[Path], mapping: Path | None = None) -> None:
    """Refuse an ``--out`` that would destroy an input or cannot be written, before the search runs.

    The plan file may not be the recipe, its history or lock, one of the logs or the mapping, nor
    a link, a FIFO, a device or a folder, and must name a file in an existing, writable folder
    (:func:`recipemut.files.write.check_output_path`).
    """
    from recipemut.files.write import check_output_path

    inputs = {p: "one of the logs" for p in logs if str(p) != "-"}
    if mapping is not None:
        inputs[mapping] = "the mapping file"
    check_output_path(out, recipes=[recipe], inputs=inputs, example="plan.json")


def check_store(store: Path, recipe: Path, logs: list[Path], mapping: Path | None = None) -> None:
    """Refuse a ``--store`` that is the recipe, its history or lock, a log or the mapping, or a URI.

    Any other store problem (not SQLite, a missing folder) stays a warning when the store is opened.
    """
    from recipemut.learn.store import check_store_path

    inputs = {p: "one of the logs" for p in logs if str(p) != "-"}
    if mapping is not None:
        inputs[mapping] = "the mapping file"
    check_store_path(store, recipes=[recipe], inputs=inputs, option="--store", inputs_only=True)


def _operator_check(values: list[str] | None) -> list[str] | None:
    for v in values or []:
        if v not in REGISTRY:
            raise typer.BadParameter(f"unknown operator {v!r}; choose from {', '.join(REGISTRY)}")
    return values


def suggest(
    recipe: RecipeArg,
    logs: LogsOpt,
    objective: Objective = typer.Option(Objective.balanced, "--objective", help="What to minimise."),
    weight: float = typer.Option(
        0.5, "--weight", min=0.0, max=1.0, help="balanced: weight of latency (1 - weight goes to cost)."
    ),
    operators: list[str] | None = typer.Option(
        None,
        "--operators",
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
        DEFAULT_SHARE, "--treatment-share", min=0.01, max=0.99, help="Share of requests in the offline A/B treatment."
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
    seed: int = typer.Option(0, "--seed", help="Seed of every random draw (imputation, bootstrap)."),
    explain: bool = typer.Option(False, "--explain", help="Also show every rejected candidate and why."),
    top: int = typer.Option(10, "--top", min=1, help="How many single mutations to show."),
    out: Path | None = typer.Option(
        None, "--out", help="Write the plan file (for `recipemut apply --plan`).", show_default=False
    ),
    output: SuggestFormat = typer.Option(SuggestFormat.text, "--format", "-f", help="text, json or markdown."),
    detailed_exitcode: bool = typer.Option(
        False, "--detailed-exitcode", help="Exit 2 when improvements were found, 0 when not (1 is an error)."
    ),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    store: Path | None = typer.Option(
        None,
        "--store",
        help="Profile store that orders candidates (bandit) and records this run "
        "(default: $RECIPEMUT_STORE, else .recipemut/store.sqlite; RECIPEMUT_STORE=off disables).",
        show_default=False,
    ),
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
    from recipemut.logs.ingest import read_logs
    from recipemut.plan.planfile import recipe_sha256
    from recipemut.profile.build import build_profile
    from recipemut.recipe.loader import load_recipe_text, read_document

    if out is not None:
        check_out(out, recipe, logs, mapping)
    if store is not None:
        check_store(store, recipe, logs, mapping)
    doc, _, text = read_document(recipe)
    sha256 = recipe_sha256(recipe)  # of the bytes, as apply checks it
    r = load_recipe_text(text, file=str(recipe))
    spans, report = read_logs(
        logs, recipe=r, strict=strict, sample_rate=sample_rate, log_format=log_format.value, mapping=mapping
    )
    warn_ingest(report)
    variants = sorted(set(spans["variant"].dropna().astype(str))) if "variant" in spans else []
    if len(variants) > 1 and DEFAULT_VARIANT in variants:
        # a canary ran another recipe on some requests: replay only what the recipe itself recorded
        others = [v for v in variants if v != DEFAULT_VARIANT]
        spans = spans[spans["variant"].astype(str) == DEFAULT_VARIANT]
        err_console.print(
            f"note: the logs hold canary variants ({shown(', '.join(others))}); "
            f"only the {DEFAULT_VARIANT!r} requests are replayed"
        )
    prof = build_profile(spans, r)
    from recipemut.predict.simulate import replay as _replay

    hr = Headroom(r, _replay(r, prof, rng=np.random.default_rng([seed, 0])), prof)
    bottleneck = hr.bottleneck() if objective == Objective.headroom else None
    hr.service = bottleneck
    store_path = store if store is not None else default_path()
    bandit = _bandit(store_path, r.name)
    order_rng = np.random.default_rng([seed, 7])

    def order(cands: list[Mutation]) -> list[Mutation]:
        return order_candidates(cands, order_rng, bandit, kind_of=lambda m: mutation_kind(m, r))

    result = search(
        r,
        prof,
        doc=doc,
        objective=objective.value,
        weight=weight,
        operators=operators,
        budget=budget,
        time_budget_s=time_budget,
        beam_width=beam,
        share=treatment_share,
        min_effect=min_effect,
        seed=seed,
        service=bottleneck,
        prior_uncertainty=prior_uncertainty,
        order=order,
    )
    hr.result = result
    _record(result, store_path, r, sha256, objective.value)
    plan_doc = _plan_doc(result, hr, recipe, text, r.name, r.version, sha256)
    if out is not None:
        from recipemut.plan.planfile import Plan, write_plan

        write_plan(Plan.from_dict(plan_doc), out)
    if output == SuggestFormat.json:
        typer.echo(json.dumps(plan_doc, indent=2, allow_nan=False))
    elif output == SuggestFormat.markdown:
        typer.echo(_render_markdown(result, hr, recipe, text, explain=explain, top=top), nl=False)
    else:
        _render_text(result, hr, recipe, text, explain=explain, top=top)
        if out is not None:
            console().print(f"plan written to {shown(str(out))}")
    if detailed_exitcode:
        raise typer.Exit(EXIT_IMPROVEMENTS if result.plan else EXIT_NOTHING)
