"""Plan assembly: a search's result as the plan file ``apply`` reads, with suggest's report beside it.

:func:`search_report` is what ``suggest`` shows and keeps (baseline, candidates, plan, diffs,
search settings); :func:`plan_document` is the plan file (schemas/plan.schema.json) carrying that
report under ``report``. What a candidate moves in the capacity forecast comes from a
:class:`CapacityLines` (``recipemut.forecast.headroom.Headroom``), so planning does not depend on
forecasting.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from recipemut.files.jsonsafe import strict_json
from recipemut.files.units import counted
from recipemut.judge.abtest import Evaluation
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe
from recipemut.plan.search import Candidate, SearchResult
from recipemut.recipe.diff import edited_text, structural_diff
from recipemut.recipe.linediff import unified_diff


class CapacityLines(Protocol):
    """What a candidate or a plan moves in the capacity forecast, in sentences."""

    note: str  # why there is no forecast ("" when there is one)

    def lines(self, c: Candidate) -> list[str]: ...

    def plan_lines(self, result: SearchResult) -> list[str]: ...

    def first_crossing(self, result: SearchResult) -> dict[str, Any] | None: ...


def _q(x: Any, q: float) -> float:
    return float(np.quantile(x, q))


def _judged_on(c: Candidate) -> dict[str, str]:
    """Under ``headroom``, the bottleneck service a candidate was judged on (re-picked after every
    plan step); nothing under the other objectives."""
    return {"bottleneck_service": c.service} if c.service is not None else {}


def evaluation_dict(ev: Evaluation, *, costed: bool = True) -> dict[str, Any]:
    """A candidate's (or the plan's) evaluation as the report and the plan file keep it. Without a known cost
    (``costed`` false: no span's ``cost_usd``, no price in the recipe) its cost figures are ``null``, as
    ``profile`` gives such a cost, not the change of $0 a replay summing no price finds."""
    d: dict[str, Any] = ev.to_dict()
    if not costed:
        d["cost_mean_usd"] = {**d["cost_mean_usd"], "delta": None, "ci": [None, None]}
        d["baseline"] = {**d["baseline"], "cost_mean_usd": None}
        d["ab"] = {**d["ab"], "cost": None}
    return d


def cost_known(report: Mapping[str, Any]) -> bool:
    """Whether :func:`search_report`'s ``report`` knows a cost: its baseline's is ``None`` when no span and no
    price gives one, and every renderer then says ``unknown`` where a cost would be."""
    return report["baseline"]["cost_mean_usd"] is not None


def candidate_dict(c: Candidate, capacity: CapacityLines, *, costed: bool = True) -> dict[str, Any]:
    """One candidate as the report lists it (its capacity sentences only when accepted; under
    ``headroom``, the bottleneck service it was judged on; ``costed``: :func:`evaluation_dict`)."""
    return {
        "headroom": capacity.lines(c) if c.status == "accepted" else [],
        **_judged_on(c),
        **c.mutation.to_dict(),
        "round": c.round,
        "status": c.status,
        "reasons": list(c.reasons),
        "parent": list(c.parent),
        "verdict": c.verdict,
        "predicted": evaluation_dict(c.evaluation, costed=costed) if c.evaluation else None,
    }


def search_report(
    result: SearchResult,
    capacity: CapacityLines,
    recipe_path: Path,
    text: str,
    *,
    bottleneck: str | None = None,
    costed: bool = True,
) -> dict[str, Any]:
    """The report of a search on the recipe file ``recipe_path`` whose text is ``text``: the
    baseline's figures, every single and rejected candidate, the plan's prediction, its diffs
    (YAML, exactly what ``apply`` writes, and structural) and the search's settings.

    ``bottleneck`` is the service the ``headroom`` objective relieved first; under ``headroom`` the
    report also carries ``plan_first_crossing``, the plan's headroom (the earliest crossing over all
    services, before and after). Numbers may be NaN: :func:`~recipemut.files.jsonsafe.strict_json`
    it before writing JSON. ``costed`` false (the profile's ``cost_known``: no cost in the logs or the
    recipe) makes every cost ``None``, the baseline's and the candidates' (:func:`cost_known` reads it).
    """
    base = result.baseline
    first = {"plan_first_crossing": capacity.first_crossing(result)} if result.objective == "headroom" else {}
    imported = result.original.imported
    if imported is not None:  # an engine's file: the plan's edits are on the recipe read from it
        from recipemut.recipe.engines import recipe_text

        text = recipe_text(imported, source=str(recipe_path))
    edits = [e for c in result.plan for e in c.mutation.edits]
    # an empty plan changes nothing: its text is not round-tripped (a second and more on a big recipe)
    after = edited_text(text, edits, source=str(recipe_path)) if edits else text
    return {
        "weight": result.weight,
        "bottleneck_service": bottleneck,
        "baseline": {
            "requests": base.n_requests,
            "latency_p50_ms": float(_q(base.latency_ms, 0.5)),
            "latency_p95_ms": float(_q(base.latency_ms, 0.95)),
            "latency_p99_ms": float(_q(base.latency_ms, 0.99)),
            "cost_mean_usd": float(base.cost_usd.mean()) if costed else None,
            "imputed_share": base.imputed_share,
        },
        "plan_predicted": evaluation_dict(result.plan_evaluation, costed=costed) if result.plan_evaluation else None,
        "plan_verdict": result.plan_evaluation.verdict if result.plan_evaluation else None,
        "plan_headroom": capacity.plan_lines(result),
        **first,
        "capacity_note": capacity.note or None,
        "singles": [candidate_dict(c, capacity, costed=costed) for c in result.singles],
        "rejected": [candidate_dict(c, capacity, costed=costed) for c in result.rejected],
        "diff": {
            "unified": unified_diff(text, after, str(recipe_path)),
            "structural": structural_diff(result.original, result.plan_recipe).to_dict(),
        },
        "search": {
            "evaluated": result.evaluated,
            "rounds": result.rounds,
            "budget_exhausted": result.budget_exhausted,
            "elapsed_s": result.elapsed_s,
            "candidates": result.candidates,
            "searched": result.searched,
            "stopped_by": result.stopped_by,
            "generation_complete": result.generation_complete,
            "summary": search_summary(result),
            **dict(result.options),
        },
    }


def search_summary(result: SearchResult) -> str:
    """How far the search got, in a sentence (the report's ``search.summary``).

    >>> from types import SimpleNamespace as R
    >>> search_summary(R(searched=37, candidates=748, stopped_by="time_budget", generation_complete=True,
    ...                  rounds=1, options={"time_budget_s": 5.0}))
    'searched 37 of 748 candidates within the 5 s time budget'
    >>> search_summary(R(searched=400, candidates=512, stopped_by="budget", generation_complete=True,
    ...                  rounds=2, options={"budget": 400}))
    'searched 400 of 512 candidates: the budget of 400 evaluated candidates ran out'
    >>> search_summary(R(searched=1, candidates=17, stopped_by="budget", generation_complete=True, rounds=1,
    ...                  options={"budget": 1}))
    'searched 1 of 17 candidates: the budget of 1 evaluated candidate ran out'
    """
    n, m, o = result.searched, result.candidates, result.options
    if result.stopped_by == "time_budget":
        said = f"searched {n:,} of {m:,} candidates within the {o.get('time_budget_s', float('nan')):g} s time budget"
        if not result.generation_complete:
            said += ", which ran out while they were generated (some operations were not assessed)"
        return said
    if result.stopped_by == "budget":
        b = o.get("budget", n)
        return f"searched {n:,} of {m:,} candidates: the budget of {b:,} evaluated candidate{'s' * (b != 1)} ran out"
    return f"searched all {m:,} candidates in {counted(result.rounds, 'round')}"


#: the option that raises each limit a search can stop at (``search.stopped_by``)
LIMIT_OPTIONS = {"time_budget": "--time-budget", "budget": "--budget"}


def raise_hint(stopped_by: str | None) -> str:
    """What to raise when a search was cut: only the option of the limit that stopped it.

    >>> raise_hint("time_budget"), raise_hint("budget"), raise_hint(None)
    ('raise --time-budget', 'raise --budget', '')
    """
    option = LIMIT_OPTIONS.get(stopped_by or "")
    return f"raise {option}" if option else ""


def judged_nothing(result: SearchResult) -> bool:
    """Whether the search stopped at a limit (``--time-budget``, ``--budget``) before judging any candidate."""
    return bool(result.searched == 0 and result.stopped_by in LIMIT_OPTIONS)


def nothing_found(result: SearchResult) -> str:
    """What is said when no single mutation was accepted: that none improves the recipe, or, when the search
    judged none before its limit, that nothing is known (text, markdown and the report alike).

    >>> from types import SimpleNamespace as R
    >>> nothing_found(R(searched=0, stopped_by="time_budget"))
    'Nothing was judged: the time budget ran out before any candidate was; raise --time-budget.'
    >>> nothing_found(R(searched=5, stopped_by=None))
    'No single mutation improves the recipe.'
    """
    if not judged_nothing(result):
        return "No single mutation improves the recipe."
    limit = "the time budget" if result.stopped_by == "time_budget" else "the budget"
    return f"Nothing was judged: {limit} ran out before any candidate was; {raise_hint(result.stopped_by)}."


def plan_document(
    result: SearchResult,
    capacity: CapacityLines,
    recipe_path: Path,
    *,
    name: str,
    version: int,
    sha256: str,
    report: dict[str, Any],
) -> dict[str, Any]:
    """The plan file's content (schemas/plan.schema.json), with ``report`` (:func:`search_report`)
    in the extra key ``report``.

    ``sha256`` is :func:`recipemut.plan.planfile.recipe_sha256` of the recipe file's bytes (as
    ``apply`` checks it: a byte-order mark or CRLF line ends count, the decoded text would drop
    them). A mutation id met twice in the plan gets ``#2``, ``#3``, ...; a step's cost figures are ``null``
    where the report knows no cost (:func:`cost_known`).
    """
    costed = cost_known(report)
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
                strict_json({**evaluation_dict(ev, costed=costed), "headroom": capacity.lines(c), **_judged_on(c)})
                if ev
                else {},
                ev.verdict if ev else None,
            )
        )
    plan = Plan(
        recipe=PlanRecipe(str(recipe_path), sha256, name, version),
        mutations=tuple(steps),
        plan=tuple(ids),
        objective=result.objective,
    )
    d = plan.to_dict()
    d["report"] = strict_json(report)
    return d
