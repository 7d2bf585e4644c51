"""suggest --time-budget on big recipes: the budget bounds the generation of candidates as well as
their search, a candidate's recipe is built only when the search reaches it, and a search cut short
says how far it got and keeps the best plan found by then. No test here is timed: the clocks are
fake, advanced by the steps taken (candidates judged, operations assessed)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from _wide_helpers import write_wide as wide
from hypothesis import HealthCheck, given, settings
from strategies import recipe_docs
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.judge.abtest import JudgeSettings
from recipemut.mutate import mutation as mutation_module
from recipemut.mutate.mutation import Mutation, edited_copy, has_aliases, mutate
from recipemut.mutate.operators import OperatorContext, generate_all, not_proposed
from recipemut.plan import search as search_module
from recipemut.plan.planfile import load_plan, write_plan
from recipemut.plan.search import SearchSettings, search
from recipemut.predict import cachesim
from recipemut.recipe.edits import Edit, apply_edits
from recipemut.recipe.model import recipe_from_dict
from recipemut.usecases.inputs import Inputs, LogSource, load_inputs
from recipemut.usecases.suggest import suggest

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT, CHECKOUT_LOGS = ROOT / "recipes" / "checkout" / "recipe.yaml", ROOT / "recipes" / "checkout" / "logs.jsonl.gz"


def inputs_of(recipe_path: Path, logs: Path) -> Inputs:
    return load_inputs(recipe_path, LogSource.of(logs), document=True, primary_only=True)


class StepClock:
    """A clock that moves only when told: one second per :meth:`step`."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += 1.0


def judged_in_steps(monkeypatch: pytest.MonkeyPatch, clock: StepClock) -> list[str]:
    """Make every candidate the search judges take one second of ``clock``; the ids judged, in order."""
    judged: list[str] = []
    judge = search_module._Trial.judge

    def timed(self: Any, m: Mutation, *args: Any) -> Any:
        judged.append(m.id)
        clock.step()
        return judge(self, m, *args)

    monkeypatch.setattr(search_module._Trial, "judge", timed)
    return judged


# ---- the time budget, with a fake clock -------------------------------------------------------------


def test_a_time_budget_that_runs_out_stops_the_search_says_how_far_and_keeps_the_best_plan(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = StepClock()
    judged = judged_in_steps(monkeypatch, clock)
    inputs = inputs_of(CHECKOUT, CHECKOUT_LOGS)
    found = suggest(inputs, SearchSettings(time_budget_s=5.5), store=None, clock=clock)
    s, result = found.report["search"], found.result
    assert len(judged) == 6 == result.evaluated  # the 7th candidate would start after 6 s > 5.5 s
    assert s["stopped_by"] == "time_budget" and s["budget_exhausted"] and s["generation_complete"]
    assert s["searched"] == 6 < s["candidates"] == result.candidates
    assert s["summary"] == f"searched 6 of {s['candidates']} candidates within the 5.5 s time budget"
    # the plan is the best of what was judged: at most one step, an accepted single of round 1
    accepted = {c.mutation.id for c in result.singles if c.status == "accepted"}
    assert accepted and found.plan_doc["plan"] and set(found.plan_doc["plan"]) <= accepted
    out = tmp_path / "plan.json"
    write_plan(load_plan_doc(found.plan_doc), out)
    assert load_plan(out).plan == tuple(found.plan_doc["plan"])  # a whole, valid plan file


def load_plan_doc(doc: dict[str, Any]) -> Any:
    from recipemut.plan.planfile import Plan

    return Plan.from_dict(doc)


def test_the_budget_counts_from_the_suggest_call_so_the_baseline_replay_is_spent_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recipemut.usecases import suggest as usecase

    clock = StepClock()
    judged = judged_in_steps(monkeypatch, clock)
    replay = usecase.replay

    def slow_baseline(*args: Any, **kw: Any) -> Any:
        clock.step()  # the baseline's replay takes 2 s of the budget
        clock.step()
        return replay(*args, **kw)

    monkeypatch.setattr(usecase, "replay", slow_baseline)
    found = suggest(inputs_of(CHECKOUT, CHECKOUT_LOGS), SearchSettings(time_budget_s=5.5), store=None, clock=clock)
    assert len(judged) == 4 and found.report["search"]["searched"] == 4  # 2 s + 4 candidates, then out
    assert found.report["search"]["elapsed_s"] >= 6.0  # the search's own figure counts the baseline too


def test_generating_candidates_stops_when_the_time_budget_runs_out(tmp_path: Path) -> None:
    inputs = inputs_of(*wide(tmp_path, 40))
    r, doc, prof = inputs.recipe, inputs.doc, inputs.profile
    every = generate_all(OperatorContext.build(r, doc=doc, profile=prof))
    asked = iter(range(10_000))
    ctx = OperatorContext.build(r, doc=doc, profile=prof, deadline=lambda: next(asked) >= 100)  # into parallelize
    some = generate_all(ctx)
    assert ctx.cut and 0 < len(some) < len(every)
    assert [m.id for m in some] == [m.id for m in every[: len(some)]]  # what was found stands, in order
    n_asked = next(asked)
    assert not_proposed(ctx) == [] and next(asked) == n_asked + 1  # nothing asked again once cut


def test_a_search_whose_budget_ran_out_during_generation_says_so(tmp_path: Path) -> None:
    inputs = inputs_of(*wide(tmp_path, 40))
    ticks: Iterator[int] = iter(range(100_000))
    # a second per clock reading: reorder and substitute assess their 40 operations each, then
    # parallelize is cut part of the way through its own
    res = search(inputs.recipe, inputs.profile, SearchSettings(time_budget_s=100), doc=inputs.doc,
                 clock=lambda: float(next(ticks)))  # fmt: skip
    assert res.stopped_by == "time_budget" and not res.generation_complete and res.budget_exhausted
    assert res.evaluated == res.searched == 0 < res.candidates < 40 - 1
    assert res.plan == () and res.root_context is not None and res.root_context.cut


def test_the_budget_of_candidates_is_told_apart_from_the_time_budget(tmp_path: Path) -> None:
    inputs = inputs_of(*wide(tmp_path, 30))
    res = search(inputs.recipe, inputs.profile, SearchSettings(budget=7), doc=inputs.doc)
    assert (res.stopped_by, res.evaluated, res.searched, res.generation_complete) == ("budget", 7, 7, True)
    assert res.candidates == 3 * 30 - 2  # a cache each; a parallelize and an eliminate but for one end each


def test_a_search_that_was_not_cut_says_so(tmp_path: Path) -> None:
    inputs = inputs_of(*wide(tmp_path, 8))
    res = search(inputs.recipe, inputs.profile, SearchSettings(judge=JudgeSettings(objective="latency")),
                 doc=inputs.doc)  # fmt: skip
    assert res.stopped_by is None and not res.budget_exhausted and res.generation_complete
    assert res.searched == res.candidates >= res.evaluated > 0


# ---- generation is cheap: no recipe built, no DAG copied, per candidate ------------------------------------


def test_generating_candidates_builds_no_recipe_and_copies_no_dag(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    inputs = inputs_of(*wide(tmp_path, 120))
    ctx = OperatorContext.build(inputs.recipe, doc=inputs.doc, profile=inputs.profile)
    built, copied = [], []
    real_build = mutation_module.recipe_from_dict
    monkeypatch.setattr(mutation_module, "recipe_from_dict", lambda *a, **k: built.append(1) or real_build(*a, **k))
    real_copy = nx.DiGraph.copy
    monkeypatch.setattr(nx.DiGraph, "copy", lambda self, *a, **k: copied.append(1) or real_copy(self, *a, **k))
    cands = generate_all(ctx)
    assert len(cands) == 3 * 120 - 2 and not built and not copied
    assert not any(m.built for m in cands)
    m = cands[0]
    assert m.recipe is m.recipe and m.built and len(built) == 1  # built once, when asked for


def test_the_search_builds_only_the_recipes_of_the_candidates_it_reaches(tmp_path: Path) -> None:
    inputs = inputs_of(*wide(tmp_path, 30))
    seen: list[Mutation] = []

    def order(cands: list[Mutation]) -> list[Mutation]:
        seen.extend(cands)
        return cands

    res = search(inputs.recipe, inputs.profile, SearchSettings(budget=5), doc=inputs.doc, order=order)
    assert res.evaluated == 5 and sum(m.built for m in seen) == 5


def test_suggest_asks_the_operators_once_for_candidates_and_reasons(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:  # fmt: skip
    """The reasons for proposing nothing are read off the search's first context: a cache's choice
    (a replay of the operation's keys) is made once per operation, not again after the search."""
    recipe_path, logs = wide(tmp_path, 12)
    inputs = inputs_of(recipe_path, logs)
    chosen: list[int] = []
    choose = cachesim.choose
    monkeypatch.setattr(cachesim, "choose", lambda *a, **k: chosen.append(1) or choose(*a, **k))
    suggest(inputs, SearchSettings(budget=1, max_rounds=1), store=None)
    assert len(chosen) == 12


def test_ordering_constraints_still_refuse_a_candidate_when_the_recipe_has_them(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 6)
    text = recipe_path.read_text().replace("outputs: [f6]", "outputs: [f6]\nconstraints: {keep_order: [[op2, op3]]}")
    recipe_path.write_text(text)
    inputs = inputs_of(recipe_path, logs)
    ctx = OperatorContext.build(inputs.recipe, doc=inputs.doc, profile=inputs.profile)
    ids = {m.id for m in generate_all(ctx)}
    assert "parallelize:op2->op3" not in ids and "parallelize:op3->op4" in ids
    assert any(x.operator == "parallelize" and x.target == "op3" and "keep_order" in x.reason
               for x in not_proposed(ctx))  # fmt: skip


# ---- a mutated recipe built from a copy of the edited paths ------------------------------------------------


def test_edited_copy_copies_only_the_edited_paths_and_leaves_the_document_alone() -> None:
    doc = {"fields": {"a": {"type": "string"}}, "operations": [{"id": "x", "after": ["y"]}, {"id": "y", "cache": {}}]}
    before = json.dumps(doc)
    out = edited_copy(doc, [Edit("append", ("operations", "x", "after"), "z"), Edit("set", ("fields", "b"), {})])
    assert out["operations"][0]["after"] == ["y", "z"] and out["fields"]["b"] == {}
    assert json.dumps(doc) == before
    assert out["operations"][1] is doc["operations"][1]  # untouched: shared, not copied


def test_a_document_with_an_alias_is_mutated_as_a_deep_copy_would_be() -> None:
    shared = ["f0"]  # what the YAML reader gives for `consumes: &c [f0]` ... `consumes: *c`
    ops = [{"id": x, "service": "s", "action": x.upper(), "consumes": shared, "produces": [f]}
           for x, f in (("a", "f1"), ("b", "f2"))]  # fmt: skip
    doc = {"fields": {"f0": {}, "f1": {}, "f2": {}}, "inputs": ["f0"], "outputs": ["f1"], "operations": ops}
    edits = [Edit("append", ("operations", "a", "consumes"), "f2")]
    assert has_aliases(doc) and not has_aliases(json.loads(json.dumps(doc)))
    assert mutate(doc, edits) == recipe_from_dict(apply_edits(doc, edits))
    assert mutate(doc, edits).ops["b"].consumes == ("f0", "f2") and shared == ["f0"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(recipe_docs())
def test_every_candidate_recipe_is_the_recipe_of_its_edits_applied_to_a_deep_copy(doc: dict[str, Any]) -> None:
    r = recipe_from_dict(doc)
    ctx = OperatorContext.build(r, doc=doc)
    for m in generate_all(ctx):
        assert m.recipe == recipe_from_dict(apply_edits(doc, m.edits), source=r.source), m.id


def test_every_checkout_candidate_recipe_is_the_recipe_of_its_edits_applied_to_a_deep_copy() -> None:
    inputs = inputs_of(CHECKOUT, CHECKOUT_LOGS)
    assert inputs.doc is not None
    ctx = OperatorContext.build(inputs.recipe, doc=inputs.doc, profile=inputs.profile)
    cands = generate_all(ctx)
    assert len(cands) > 10
    for m in cands:
        assert m.recipe == recipe_from_dict(apply_edits(dict(inputs.doc), m.edits), source=str(CHECKOUT)), m.id


# ---- the command ------------------------------------------------------------------------------------------


def test_the_command_says_how_far_a_cut_search_got_in_text_and_json(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 30)
    args = ["suggest", str(recipe_path), "--logs", str(logs), "-q", "--budget", "4"]
    text = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert ("budget exhausted: searched 4 of 88 candidates: the budget of 4 evaluated candidates ran out; "
            "raise --budget);") in " ".join(text.output.split())  # fmt: skip
    assert re.search(r"s in all \(search \d+\.\d s, start-up and inputs \d+\.\d s\)", text.output)
    out = tmp_path / "plan.json"
    js = CliRunner().invoke(app, [*args, "-f", "json", "--out", str(out)])
    assert js.exit_code == 0, js.output
    s = json.loads(js.output)["report"]["search"]
    assert (s["searched"], s["candidates"], s["stopped_by"], s["generation_complete"]) == (4, 88, "budget", True)
    assert s["inputs_s"] >= 0 and s["wall_s"] >= s["elapsed_s"]
    assert load_plan(out).plan == tuple(json.loads(js.output)["plan"])
    md = CliRunner().invoke(app, [*args, "-f", "markdown"])
    assert "(searched 4 of 88 candidates: the budget of 4 evaluated candidates ran out)" in md.output


def test_a_time_budget_of_zero_is_spent_before_any_candidate_and_said_so(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 10)
    got = CliRunner().invoke(app, ["suggest", str(recipe_path), "--logs", str(logs), "-q", "--time-budget", "0",
                                   "-f", "json"])  # fmt: skip
    assert got.exit_code == 0, got.output
    s = json.loads(got.output)["report"]["search"]
    assert (s["evaluated"], s["stopped_by"], s["generation_complete"]) == (0, "time_budget", False)
    assert s["summary"].startswith("searched 0 of 0 candidates within the 0 s time budget, which ran out while")
    assert json.loads(got.output)["plan"] == []
