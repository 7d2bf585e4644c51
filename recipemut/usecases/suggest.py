"""The suggest pipeline: profile -> baseline replay -> capacity forecast -> search -> plan.

:func:`suggest` takes what :func:`recipemut.usecases.inputs.load_inputs` read (with the recipe's
document) and the search settings built at the CLI's edge, and returns a :class:`Suggestion`
the command renders and writes, with the operators' reasons for proposing nothing for some
operations or fields (``--explain`` shows them; the report keeps them under ``not_proposed``,
absent when there are none).
The profile store orders the candidates (a bandit learned from earlier runs) and records this
run; a store problem is a warning, never a failure. An operation the logs show called several
times per request that the recipe describes as one call (the N+1 pattern,
:func:`recipemut.profile.calls.n_plus_one`) is reported under the report's ``findings``, and so is a
baseline that differs materially from the recorded time (``recipe_order``,
:func:`recipemut.predict.recorded.order_check`: operations the recipe runs one after the other
overlapped in the logs), which ``warn`` is told.

The time budget (``settings.time_budget_s``) starts when :func:`suggest` is called, after the recipe
and logs were read and profiled (that cost, with the start-up before it, is reported apart:
``report.search.inputs_s``): it covers the baseline's replay, the generation of the candidates,
their checks, replays and judgements. The report that follows (diffs, the store) is not in it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recipemut.errors import RecipemutError
from recipemut.files.progress import NO_PROGRESS, Progress
from recipemut.forecast.headroom import Headroom
from recipemut.judge.stats import NO_DIFFERENCE, TOO_FEW
from recipemut.learn.bandit import Bandit, load_bandit, mutation_kind, order_candidates
from recipemut.learn.records import STORE_PROBLEMS, record_suggestions, search_records
from recipemut.mutate.mutation import Mutation
from recipemut.mutate.operators import NotProposed, OperatorContext, not_proposed
from recipemut.plan.assemble import plan_document, search_report
from recipemut.plan.enough import too_few_requests
from recipemut.plan.markdown import sampled_words
from recipemut.plan.search import SearchResult, SearchSettings, search
from recipemut.predict.recorded import order_check
from recipemut.predict.simulate import replay, replay_base
from recipemut.profile.calls import n_plus_one
from recipemut.usecases.inputs import Inputs, request_sampling

log = logging.getLogger(__name__)

Warn = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class Suggestion:
    """What suggest found, ready to render: the search's result, its report and the plan file."""

    inputs: Inputs
    settings: SearchSettings  # as searched (the judge's ``service`` is the bottleneck under headroom)
    result: SearchResult
    headroom: Headroom
    report: dict[str, Any]  # :func:`recipemut.plan.assemble.search_report` (numbers may be NaN)
    plan_doc: dict[str, Any]  # the plan file's content, strict JSON
    not_proposed: tuple[NotProposed, ...] = ()  # why operators proposed nothing for some targets

    @property
    def sampled(self) -> str:
        """``" (from a sample of 0.1: 13,841 of 138,408 requests)"`` when ingest sampled the requests
        the replay ran on, else ``""``: what the first line of the text output (and the markdown's)
        adds after the requests replayed (:func:`~recipemut.plan.markdown.sampled_words`). The
        requests replayed may be fewer than the sample: above 200,000 a fixed subset of it."""
        return sampled_words(self.report)

    @property
    def bottleneck(self) -> str | None:
        """The service the ``headroom`` objective relieves (None under the other objectives)."""
        return self.settings.judge.service


def suggest(
    inputs: Inputs,
    settings: SearchSettings,
    *,
    store: Path | None,
    warn: Warn = log.warning,
    progress: Progress = NO_PROGRESS,
    started: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Suggestion:
    """Search ``inputs``' recipe for the plan that best serves ``settings``' objective.

    ``inputs`` must carry the profile and the document (``load_inputs(..., document=True)``).
    ``store`` is the profile store (None: none); ``warn`` is told, in a sentence, when the store
    cannot be read or written. ``progress`` is told each stage (the baseline's replay, the search's
    rounds and candidates, the report). ``started`` is the monotonic time the run began (default:
    this call; the CLI gives :func:`~recipemut.files.progress.run_started`): the report's
    ``search.wall_s`` is the time from it to the report, beside the search's own ``elapsed_s`` (the
    time budget's, from this call) and ``inputs_s`` (from it to this call: start-up, reading, profiling).
    ``clock`` is what the time budget is measured with (a test gives a fake one).
    Raises :class:`~recipemut.errors.RecipemutError` when the
    ``headroom`` objective has no capacity forecast or no service of declared capacity, and what
    :func:`recipemut.plan.search.search` raises.
    """
    r, prof = inputs.recipe, inputs.profile
    if prof is None or inputs.doc is None or inputs.text is None or inputs.sha256 is None:
        raise ValueError("suggest needs the profile and the recipe's document: load_inputs(..., document=True)")
    budget_start = clock()  # the time budget counts from here: the baseline's replay is spent from it
    now = time.monotonic()
    started = now if started is None else started
    progress.task("replaying the baseline")
    base = replay_base(prof, r)  # every replay of the search reads it
    baseline = replay(r, prof, rng=np.random.default_rng([settings.seed, 0]), base=base)
    hr = Headroom(r, baseline, prof, sample=inputs.report.sample)
    if settings.judge.objective == "headroom":
        settings = dataclasses.replace(settings, judge=dataclasses.replace(settings.judge, service=hr.bottleneck()))
    bandit = _bandit(store, r.name, warn)
    order_rng = np.random.default_rng([settings.seed, 7])

    def order(cands: list[Mutation]) -> list[Mutation]:
        return order_candidates(cands, order_rng, bandit, kind_of=lambda m: mutation_kind(m, r))

    repick = hr.pressure if settings.judge.objective == "headroom" else None  # re-picked after every step
    result = search(
        r, prof, settings, doc=inputs.doc, base=base, order=order, bottleneck=repick, progress=progress,
        clock=clock, started=budget_start,
    )  # fmt: skip
    progress.task("writing the report")
    _record(result, store, inputs, warn)
    reasons = _not_proposed(inputs, settings, result.root_context)
    report = search_report(result, hr, inputs.path, inputs.text, bottleneck=settings.judge.service,
                           costed=prof.cost_known)  # fmt: skip
    findings = n_plus_one(r, prof.calls)
    if findings:  # an optional key: the report of logs of one call per operation is as before
        report["findings"] = {"n_plus_one": [f.to_dict() for f in findings]}
    recorded = order_check(r, prof, baseline)  # the baseline against the recorded time: optional too
    if recorded is not None:
        report.setdefault("findings", {})["recipe_order"] = recorded.to_dict(str(inputs.path))
        warn(f"{inputs.path}: {recorded.sentence(str(inputs.path))}")
    if reasons:  # optional too: absent when every operator had a candidate or nothing to say
        report["not_proposed"] = [x.to_dict() for x in reasons]
    report.update(request_sampling(inputs.report))  # optional: replayed on a sample of the requests
    # found no difference by a test (not "skipped": nothing moved, which more requests would not change)
    inconclusive = sum(c.verdict == NO_DIFFERENCE and c.evaluation.decided_by != "skipped"
                       for c in result.singles if c.evaluation is not None)  # fmt: skip
    unjudged = sum(c.verdict == TOO_FEW for c in result.singles)  # one request: no interval, no verdict
    sampled = inputs.report.sample
    few = too_few_requests(report["baseline"]["requests"], settings.judge.share, inconclusive=inconclusive,
                           sample=None if sampled is None else (float(sampled.fraction), sampled.requests_total),
                           unjudged=unjudged)
    if few is not None:  # optional: absent when the logs are enough for the judge (plan/enough.py)
        report["too_few_requests"] = few
    report["search"]["wall_s"] = time.monotonic() - started  # the whole run, not the search alone
    report["search"]["inputs_s"] = now - started  # start-up, reading and profiling: before the budget
    plan_doc = plan_document(
        result, hr, inputs.path, name=r.name, version=r.version, sha256=inputs.sha256, report=report
    )
    return Suggestion(inputs, settings, result, hr, report, plan_doc, reasons)


def _not_proposed(
    inputs: Inputs, settings: SearchSettings, ctx: OperatorContext | None = None
) -> tuple[NotProposed, ...]:
    """Why the operators searched proposed nothing for some targets of the recipe as given: read off
    ``ctx``, the search's first context (its operators' assessments are kept there), when given;
    without one, the operators are asked on a context of their own."""
    if ctx is None:
        options = {"seed": settings.seed, **settings.operator_options}
        ctx = OperatorContext.build(inputs.recipe, doc=inputs.doc, profile=inputs.profile, options=options)
    return tuple(not_proposed(ctx, settings.operators))


def _bandit(path: Path | None, recipe_name: str, warn: Warn) -> Bandit:
    """What the store learned (a fresh bandit without a store, or when it cannot be read: warned)."""
    if path is None:
        return Bandit()
    try:
        return load_bandit(path, recipe=recipe_name)
    except RecipemutError as e:
        warn(f"not using the profile store: {e}")
        return Bandit()


def _record(result: SearchResult, path: Path | None, inputs: Inputs, warn: Warn) -> None:
    """Record every evaluated candidate in the profile store; a store problem is a warning, not a failure."""
    if path is None:
        return
    r = inputs.recipe
    try:
        record_suggestions(search_records(result, r), path=path, recipe=r.name, version=r.version, sha256=inputs.sha256)
    except STORE_PROBLEMS as e:  # a store error, SQLite's, the disk's: the plan is still written
        warn(f"this run was not recorded in the profile store: {e}")
