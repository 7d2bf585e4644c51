"""Plan search: generate, validate, simulate, judge, keep improvements; compose them into a plan.

The engine's loop, as pure functions over immutable values:

1. **generate** candidates with the operator registry (:func:`recipemut.mutate.operators.generate_all`)
   on the *current* recipe and document (after the plan's earlier steps, so each step's edits
   apply to the document as the previous steps left it);
2. **validate** each one structurally against the *original* recipe
   (:func:`recipemut.recipe.constraints.check_structure`: a plan may not relax its own constraints),
   and its document as ``apply`` validates what it writes
   (:func:`recipemut.recipe.constraints.check_valid`: the schema and the semantic rules, on the plan
   so far with this step, so neither a candidate nor the plan combining them is one ``apply`` refuses);
3. **simulate** it by trace replay against the profile recorded under the original recipe
   (:func:`recipemut.predict.simulate.replay`, diff-driven from the original, so composed steps are
   modelled together);
4. **judge** it against the current state (:func:`recipemut.judge.abtest.evaluate`: paired prediction
   plus offline A/B) and against the SLO and cost budget
   (:func:`recipemut.recipe.constraints.check_predicted`);
5. **keep** the candidates that improve; the best ``beam_width`` states go to the next round.

Rounds stop at a fixpoint (no candidate improves the objective), after ``max_rounds``, or when the
budget (candidates evaluated, seconds) runs out. The time budget bounds the generation of the
candidates too (each operation an operator assesses is asked only while time is left), and counts
from ``started`` when the caller gives it (``suggest``: before its baseline replay); the result
says how far the search got (``candidates``, ``searched``, ``stopped_by``, ``generation_complete``)
and its plan is the best found by then. ``beam_width=1`` is greedy. Every rejected
candidate keeps its reason: ``structure: ...``, ``invalid: ...``, ``SLO/budget: ...``, ``simulation: ...``,
``regresses`` or ``no significant difference``.

Objective value of a state (lower is better; :func:`objective_level`, the one definition in
:func:`recipemut.judge.abtest.objective_level` that also scores candidates): ``latency`` its median
latency, ``p95`` its 95th percentile, ``cost`` its mean cost, ``balanced`` the weighted sum of its
mean latency and mean cost relative to the baseline's, ``headroom`` the mean busy time per request
of the bottleneck ``service`` (the caller names it, from the capacity forecast).

Under ``headroom`` the bottleneck moves as the plan grows: once a step has relieved the service that
needed replicas first, another one does. When the caller gives a :data:`Bottleneck` (the capacity
forecast's view of a recipe and its replay: which service crosses its target first, and how loaded
it is), every state is given its own bottleneck, re-picked after each accepted step, and the
candidates generated from a state are judged on the busy time of *that* state's bottleneck. A
state's level is then the bottleneck's load (its utilisation over its target at the forecast peak),
one scale for every service, so states relieving different services compare, and the plan stops
only when no candidate relieves the service that now crosses first. Without one, ``settings.judge.service``
stays the bottleneck of every state, as picked before the search.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from recipemut.errors import RecipemutError
from recipemut.files.progress import CANDIDATES, NO_PROGRESS, Progress
from recipemut.judge.abtest import Evaluation, JudgeSettings, evaluate, treatment_mask
from recipemut.judge.abtest import objective_level as _level
from recipemut.judge.stats import IMPROVES
from recipemut.mutate.mutation import Mutation, edited_document, has_aliases
from recipemut.mutate.operators import OperatorContext, generate_all
from recipemut.predict.simulate import Replay, ReplayBase, replay, replay_base
from recipemut.profile.build import Profile
from recipemut.recipe.constraints import check_predicted, check_structure, check_valid
from recipemut.recipe.model import Recipe, recipe_to_dict

log = logging.getLogger(__name__)

ACCEPTED = "accepted"
REJECTED = "rejected"
DEFAULT_BUDGET = 400
DEFAULT_TIME_BUDGET_S = 50.0
DEFAULT_MAX_ROUNDS = 8

#: Under ``headroom``: the service that crosses its capacity target first under a recipe and its
#: replay, and its load there (lower is better, one scale for every service); see the module doc.
Bottleneck = Callable[[Recipe, Replay], tuple[str, float]]


@dataclass(frozen=True)
class SearchSettings:
    """How far and how wide to search, and how to judge what it finds; built once and handed down.

    ``operators`` limits the operators used (None: all); ``budget`` and ``time_budget_s`` bound the
    candidates evaluated and the seconds spent; ``beam_width`` states go on to the next round (1 is
    greedy); ``seed`` seeds every random draw; ``operator_options`` go to every operator.

    >>> SearchSettings(judge=JudgeSettings(objective="p95"), budget=10).to_dict()["budget"]
    10
    """

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    operators: tuple[str, ...] | None = None
    budget: int = DEFAULT_BUDGET
    time_budget_s: float = DEFAULT_TIME_BUDGET_S
    beam_width: int = 1
    max_rounds: int = DEFAULT_MAX_ROUNDS
    seed: int = 0
    operator_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        """The settings a report shows (``SearchResult.options``)."""
        j = self.judge
        return {
            "budget": self.budget,
            "time_budget_s": self.time_budget_s,
            "beam_width": self.beam_width,
            "max_rounds": self.max_rounds,
            "treatment_share": j.share,
            "alpha": j.alpha,
            "min_effect": j.min_effect,
            "seed": self.seed,
            "prior_uncertainty": j.prior_uncertainty,
        }


@dataclass(frozen=True)
class Candidate:
    """One evaluated candidate: the mutation, in which round, and what was decided and why."""

    mutation: Mutation
    round: int
    status: str  # accepted | rejected
    reasons: tuple[str, ...]
    evaluation: Evaluation | None = None  # against the state it was generated from
    parent: tuple[str, ...] = ()  # ids of the plan steps before it
    busy_ms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # its replay's, per op
    service: str | None = None  # headroom: the bottleneck service it was judged on (its parent state's)

    @property
    def verdict(self) -> str | None:
        return self.evaluation.verdict if self.evaluation is not None else None


@dataclass(frozen=True, eq=False)
class _State:
    recipe: Recipe
    doc: Mapping[str, Any]
    steps: tuple[Candidate, ...]
    rep: Replay
    level: float
    service: str | None = None  # headroom: this state's bottleneck, what its children are judged on
    aliased: bool = False  # the document shares a value (a YAML alias): the root's, which its edits keep


@dataclass(frozen=True, eq=False)
class SearchResult:
    """What the search found: the best single mutations, the plan, and everything rejected."""

    objective: str
    weight: float
    original: Recipe
    baseline: Replay
    singles: tuple[Candidate, ...]  # round 1, accepted first by score, then rejected
    plan: tuple[Candidate, ...]  # the chosen steps, in order
    plan_recipe: Recipe
    plan_doc: Mapping[str, Any]
    plan_replay: Replay
    plan_evaluation: Evaluation | None  # the whole plan against the original (None: empty plan)
    rejected: tuple[Candidate, ...]  # every rejected candidate (its latest round when regenerated)
    evaluated: int
    rounds: int
    budget_exhausted: bool
    elapsed_s: float
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    candidates: int = 0  # generated, over the rounds run (a recipe reached twice counts twice)
    searched: int = 0  # of those, taken up before a budget ran out: evaluated, or skipped as seen
    stopped_by: str | None = None  # "time_budget" or "budget" (candidates) when one cut the search
    generation_complete: bool = True  # False: the time budget ran out while candidates were generated
    #: the context the first round's candidates were generated in: what the operators found out about
    #: the recipe as given (their reasons for proposing nothing) without asking them again
    root_context: OperatorContext | None = field(default=None, compare=False, repr=False)


def objective_level(rep: Replay, settings: JudgeSettings, *, baseline: Replay) -> float:
    """The objective's value for a replay (lower is better): :func:`recipemut.judge.abtest.objective_level`
    of ``settings``' objective, weight and service, with the baseline's mean latency and cost as the
    ``balanced`` normalisers."""
    norm = (float(baseline.latency_ms.mean()), float(baseline.cost_usd.mean()))
    return _level(rep, settings.objective, weight=settings.weight, norm=norm, service=settings.service)


def candidate_seed(seed: int, mutation_id: str, parent: Sequence[str] = ()) -> list[int]:
    """The seed of one candidate's random draws: from ``seed``, its id and the plan steps before it,
    never from its position in the round, so reordering the candidates (the bandit learning from a
    store) leaves every candidate's numbers unchanged.

    >>> candidate_seed(0, "hedge:a") == candidate_seed(0, "hedge:a") != candidate_seed(0, "hedge:b")
    True
    """
    digest = hashlib.sha256("\x1f".join((*parent, mutation_id)).encode("utf-8")).digest()
    return [seed, int.from_bytes(digest[:8], "little")]


def _key(r: Recipe) -> tuple[Any, ...]:
    """What makes two recipes the same for the search (operations and field specs; hashable)."""
    return (r.operations, tuple(sorted(r.fields.items())))


def search(
    recipe: Recipe,
    profile: Profile,
    settings: SearchSettings | None = None,
    *,
    doc: Mapping[str, Any] | None = None,
    base: ReplayBase | None = None,
    order: Callable[[list[Mutation]], list[Mutation]] | None = None,
    clock: Callable[[], float] = time.monotonic,
    bottleneck: Bottleneck | None = None,
    progress: Progress = NO_PROGRESS,
    started: float | None = None,
) -> SearchResult:
    """Search for the best plan (see the module docstring) as ``settings`` say (default: all defaults).

    ``doc`` is the recipe's document as loaded (edits address it; default ``recipe_to_dict``).
    ``settings.judge.service`` names the bottleneck service for the ``headroom`` objective;
    ``bottleneck``, when given under ``headroom``, re-picks it for every state (module doc) and the
    judge's ``service`` may be None (the root's is then ``bottleneck``'s pick; the whole plan is
    judged on it).
    ``base`` is :func:`recipemut.predict.simulate.replay_base` of ``profile`` and ``recipe`` when
    the caller built it already (every candidate is replayed against it; built here otherwise).
    ``order`` may reorder each round's candidates (e.g. a bandit's preference) before the budget
    cuts them. ``progress`` is told each round (``search, round 2``; with a beam wider than one, which
    of its states) with its candidates as the total, and each candidate once judged or skipped.
    ``started`` is the ``clock`` reading the time budget counts from (default: this call), so that
    the caller's work before the search (its baseline replay) is spent from the budget too.
    Raises :class:`~recipemut.errors.MutationError` when the *baseline* cannot be
    replayed (an operation that must run was never recorded).
    """
    settings = settings if settings is not None else SearchSettings()
    judge, seed = settings.judge, settings.seed
    t0 = clock() if started is None else started

    def expired() -> bool:
        return clock() - t0 > settings.time_budget_s

    doc = dict(doc) if doc is not None else recipe_to_dict(recipe)
    opts = dict(settings.operator_options)
    opts.setdefault("seed", seed)
    rb = base if base is not None else replay_base(profile, recipe)
    base_rep = replay(recipe, profile, rng=np.random.default_rng([seed, 0]), original=recipe, base=rb)
    ids = profile.request_ids
    treat = treatment_mask(np.asarray(ids)[base_rep.rows], judge.share)  # the A/B split, hashed once
    headroom = judge.objective == "headroom"
    if headroom and judge.service is None and bottleneck is None:
        raise ValueError("the headroom objective needs the bottleneck service (service=... or bottleneck=...)")
    repick = bottleneck if headroom else None
    if repick is not None:
        first, level = repick(recipe, base_rep)
        judge = dataclasses.replace(judge, service=first)  # the whole plan is judged on the first bottleneck
        root = _State(recipe, doc, (), base_rep, level, first, has_aliases(doc))
    else:
        svc = judge.service if headroom else None
        root = _State(recipe, doc, (), base_rep, objective_level(base_rep, judge, baseline=base_rep), svc,
                      has_aliases(doc))  # fmt: skip
    beam = [root]
    best = root
    singles: list[Candidate] = []
    rejected: list[Candidate] = []
    seen = {_key(recipe)}
    evaluated = generated = searched = 0
    exhausted = False
    stopped_by: str | None = None
    complete = True
    root_ctx: OperatorContext | None = None
    rounds = 0
    trial = _Trial(recipe, profile, ids, base_rep, rb, judge, treat, repick)
    for rnd in range(1, settings.max_rounds + 1):
        rounds = rnd
        grown: list[_State] = []
        for i, state in enumerate(beam, 1):
            ctx = OperatorContext.build(state.recipe, doc=state.doc, profile=profile, options=opts, deadline=expired)
            root_ctx = ctx if root_ctx is None else root_ctx
            cands = generate_all(ctx, settings.operators)
            generated += len(cands)
            if ctx.cut:  # the time budget ran out while they were generated
                complete, exhausted, stopped_by = False, True, "time_budget"
            if order is not None:
                cands = order(cands)
            of_beam = f", state {i} of {len(beam)}" if len(beam) > 1 else ""
            progress.task(f"search, round {rnd}{of_beam}", len(cands), unit=CANDIDATES)
            parent = tuple(c.mutation.id for c in state.steps)
            for m in cands:
                if evaluated >= settings.budget or exhausted or expired():
                    exhausted = True
                    stopped_by = stopped_by or ("budget" if evaluated >= settings.budget else "time_budget")
                    break
                searched += 1
                k = _key(m.recipe)
                if k in seen:
                    progress.advance()
                    continue  # the same recipe reached by another path
                seen.add(k)
                evaluated += 1
                rng = np.random.default_rng(candidate_seed(seed, m.id, parent))
                cand, new_state = trial.judge(m, rnd, parent, state, rng)
                progress.advance()
                if rnd == 1:
                    singles.append(cand)
                if new_state is None:
                    rejected.append(cand)
                else:
                    grown.append(new_state)
            if exhausted:
                break
        if not grown:
            break
        grown.sort(key=lambda s: s.level)
        beam = grown[: max(1, settings.beam_width)]
        if beam[0].level < best.level:
            best = beam[0]
        if exhausted:
            break
    singles.sort(key=lambda c: (c.status != ACCEPTED, c.evaluation.score if c.evaluation else 0.0, c.mutation.id))
    plan_eval = None
    if best.steps:
        plan_eval = evaluate(base_rep, best.rep, ids, judge, rng=np.random.default_rng([seed, 999]), treatment=treat)
    return SearchResult(
        objective=judge.objective,
        weight=judge.weight,
        original=recipe,
        baseline=base_rep,
        singles=tuple(singles),
        plan=best.steps,
        plan_recipe=best.recipe,
        plan_doc=MappingProxyType(dict(best.doc)),
        plan_replay=best.rep,
        plan_evaluation=plan_eval,
        rejected=tuple({c.mutation.id: c for c in rejected}.values()),  # latest round per id
        evaluated=evaluated,
        rounds=rounds,
        budget_exhausted=exhausted,
        elapsed_s=clock() - t0,
        options=MappingProxyType(settings.to_dict()),
        candidates=generated,
        searched=searched,
        stopped_by=stopped_by,
        generation_complete=complete,
        root_context=root_ctx,
    )


@dataclass(frozen=True, eq=False)
class _Trial:
    """What judging a candidate needs besides the candidate: the original, its replay, the split."""

    original: Recipe
    profile: Profile
    ids: np.ndarray
    base: Replay  # the original's replay: the objective's normalisers
    replay_base: ReplayBase
    settings: JudgeSettings
    treatment: np.ndarray
    bottleneck: Bottleneck | None = None  # headroom: re-pick the bottleneck of every new state

    def judge(
        self, m: Mutation, rnd: int, parent: tuple[str, ...], state: _State, rng: np.random.Generator
    ) -> tuple[Candidate, _State | None]:
        """Validate, simulate and judge one candidate against its parent state (under ``headroom``, on
        the busy time of the parent's bottleneck)."""
        original, svc = self.original, state.service
        problems = [f"structure: {p}" for p in check_structure(original, m.recipe)]
        new_doc = edited_document(state.doc, m.edits, aliased=state.aliased)  # not walked again per candidate
        if not problems:  # and what apply would refuse to write (the state's document passed it: a step of the plan)
            problems = [f"invalid: {p}" for p in check_valid(state.doc, new_doc, m.recipe)]
        if problems:
            return Candidate(m, rnd, REJECTED, tuple(problems), parent=parent, service=svc), None
        try:
            rep = replay(m.recipe, self.profile, rng=rng, original=original, base=self.replay_base)
        except RecipemutError as e:
            return Candidate(m, rnd, REJECTED, (f"simulation: {e.message}",), parent=parent, service=svc), None
        judge = self.settings if svc == self.settings.service else dataclasses.replace(self.settings, service=svc)
        ev = evaluate(state.rep, rep, self.ids, judge, rng=rng, treatment=self.treatment)
        # a prediction breaking the SLO or budget is rejected, unless the parent already broke it and
        # the candidate does not make it worse (an improvement towards the SLO stays possible)
        p95, cost = ev.mutated["latency_p95_ms"], ev.mutated["cost_mean_usd"]
        worse_p95 = p95 if p95 > ev.baseline["latency_p95_ms"] else 0.0
        worse_cost = cost if cost > ev.baseline["cost_mean_usd"] else 0.0
        reasons = [f"SLO/budget: {p}" for p in check_predicted(original, worse_p95, worse_cost)]
        if ev.verdict != IMPROVES:
            reasons.append(ev.verdict)
            if ev.caveat:
                reasons.append(ev.caveat)
            if svc is not None:  # headroom: say which service, it moves as the plan grows
                reasons.append(f"judged on the busy time of {svc}, the bottleneck service at this step")
        if reasons:
            return Candidate(m, rnd, REJECTED, tuple(reasons), ev, parent, rep.busy_ms, svc), None
        cand = Candidate(m, rnd, ACCEPTED, (), ev, parent, rep.busy_ms, svc)
        next_svc, level = svc, 0.0
        if self.bottleneck is not None:
            next_svc, level = self.bottleneck(m.recipe, rep)  # the service that crosses first now, and its load
        else:
            level = objective_level(rep, self.settings, baseline=self.base)
        return cand, _State(m.recipe, new_doc, (*state.steps, cand), rep, level, next_svc, state.aliased)
