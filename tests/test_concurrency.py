"""Eight processes apply different plans to one recipe at the same moment: the lock serialises them,
stale plans are refused, and every successful apply is in the history (none lost)."""

from __future__ import annotations

import multiprocessing as mp
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from recipemut.apply.history import read_history
from recipemut.apply.transaction import apply_plan
from recipemut.errors import PlanError
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.recipe.edits import Edit

N = 8


def _mutation(i: int) -> PlannedMutation:
    return PlannedMutation(f"hedge:load_cart@{i}", "hedge", ("load_cart",), f"hedge load_cart after {100 + i} ms",
                           (Edit("set", ("operations", "load_cart", "hedge"), {"after_ms": 100 + i, "max_extra": 1}),))


def _plan(recipe: Path, m: PlannedMutation, sha: str | None = None) -> Plan:
    return Plan(PlanRecipe(str(recipe), sha or recipe_sha256(recipe)), (m,), (m.id,))


def _worker(recipe: Path, i: int, original_sha: str, barrier: Any, results: Any) -> None:
    m = _mutation(i)
    barrier.wait()
    out: dict[str, Any] = {"i": i}
    try:
        apply_plan(recipe, _plan(recipe, m, original_sha), lock_timeout_s=60)
        out["first"] = "applied"
    except PlanError as e:
        out["first"] = e.code
    if out["first"] != "applied":  # re-plan on the current recipe until it goes in
        for _ in range(50):
            try:
                apply_plan(recipe, _plan(recipe, m), lock_timeout_s=60)
                out["retry"] = "applied"
                break
            except PlanError as e:
                out["retry"] = e.code
    results.put(out)


def test_eight_writers_lose_nothing(checkout_file: Path) -> None:
    recipe = checkout_file
    sha = recipe_sha256(recipe)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(N)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(recipe, i, sha, barrier, results)) for i in range(N)]
    for p in procs:
        p.start()
    outs = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0

    firsts = sorted(o["first"] for o in outs)
    assert firsts == ["applied"] + ["stale-plan"] * (N - 1)  # one plan wins, the stale ones are refused
    assert all(o.get("retry", "applied") == "applied" for o in outs)

    entries = read_history(recipe)  # verifies the chain
    applied = [m["id"] for e in entries if e.action == "apply" for m in e.mutations]
    assert sorted(applied) == sorted(_mutation(i).id for i in range(N))  # each exactly once
    assert [e.version for e in entries] == list(range(5, 5 + N))
    assert all(e.previous_text == p.text for p, e in pairwise(entries))  # no write overwrote another
    assert yaml.safe_load(recipe.read_text())["operations"][0]["hedge"]["after_ms"] - 100 == int(applied[-1][-1])
    assert recipe.read_text() == entries[-1].text
