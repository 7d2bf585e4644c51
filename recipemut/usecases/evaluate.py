"""Evaluate: judge a running canary on its logs, act on the judgement, record what was observed.

The pipeline is check ``--store`` -> read the recipe and its canary's logs -> judge the canary
against the primary (:func:`recipemut.apply.canary.evaluate`) -> promote, roll back or hold
(a history entry) -> record each mutation of the canary, with its observed effect beside the
predicted one, in the profile store (:func:`recipemut.learn.records.observation_records`).
A store problem never undoes the decision: it is returned, for the command to warn about.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from recipemut.apply.canary import DEFAULT_MIN_REQUESTS, HOLD, RELATIVE, UNKNOWN, EvaluateResult, MetricJudgement
from recipemut.files.jsonsafe import strict_json
from recipemut.files.progress import NO_PROGRESS, Progress
from recipemut.files.units import ms_text, usd_text
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S
from recipemut.learn.records import STORE_PROBLEMS, observation_records
from recipemut.learn.store import store_path
from recipemut.usecases.inputs import LogSource, parse_share, request_sampling

if TYPE_CHECKING:
    from recipemut.apply.history import Entry
    from recipemut.logs.report import IngestReport


@dataclass(frozen=True)
class EvaluateSettings:
    """How to judge and whether to act: the options of ``recipemut evaluate`` besides the logs."""

    act: bool = True  # False: only report the decision, write nothing
    tolerances: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # metric -> allowed
    min_requests: int = DEFAULT_MIN_REQUESTS  # in each arm, before deciding
    force: bool = False  # act over a hand edit (saved into the history first); write a read-only recipe
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S
    store: Path | None = None  # the profile store; None: ``$RECIPEMUT_STORE``, else the default


@dataclass(frozen=True)
class Recording:
    """What the profile store got from an evaluation: rows written, or why none were."""

    path: Path | None  # None: the store is off
    recorded: int = 0
    skipped: str | None = None  # why nothing was recorded (not acted, nothing measured, ...)
    error: str | None = None  # a store problem: the evaluation stands, unrecorded

    def to_dict(self) -> dict[str, Any]:
        where = None if self.path is None else str(self.path)
        if self.error is not None:
            return {"path": where, "recorded": 0, "error": self.error}
        return {"path": where, "recorded": self.recorded, "skipped": self.skipped}


@dataclass(frozen=True, eq=False)
class EvaluateRun:
    """The judgement (and the write it caused), how the logs read, and what the store got."""

    result: EvaluateResult
    ingest: IngestReport
    recording: Recording

    @property
    def request_sampling(self) -> dict[str, Any]:
        """What the JSON adds when ingest sampled the requests (:func:`~recipemut.usecases.inputs.request_sampling`),
        with the :attr:`sample_hint` as ``hint`` when there is one."""
        extra = request_sampling(self.ingest)
        if extra and self.sample_hint:
            extra["request_sampling"]["hint"] = self.sample_hint
        return extra

    @property
    def sample_hint(self) -> str | None:
        """What to do when the canary holds for want of requests that the sample (``--sample-requests``,
        or the memory budget) left out: the fraction that would give the smaller arm its minimum, or,
        when even every logged request would not, how many the logs hold (``None`` when the logs were
        read whole or the judgement had data).

        A hold of 77 canary requests out of a 0.02 sample of 20,000 asked for "123 more" requests,
        which the logs already held. The smaller arm's requests in the whole logs are estimated as
        its requests in the sample ÷ the fraction."""
        sample, j = self.ingest.sample, self.result.judgement
        smaller = min(j.n_canary, j.n_primary)
        if sample is None or j.decision != HOLD or smaller >= j.min_requests or sample.fraction >= 1:
            return None
        kept, total = f"{sample.requests_kept:,}", f"{sample.requests_total:,}"
        said = f"the sample of {sample.fraction:.4g} kept {kept} of the logs' {total} requests"
        if not smaller:  # one arm absent from the sample: nothing to estimate the logs' share from
            return f"{said}: --sample-requests 1 reads every request"
        arm = "canary" if j.n_canary <= j.n_primary else "primary"
        every = smaller / sample.fraction  # the smaller arm in the whole logs, estimated
        held = f"the logs hold about {float(f'{every:.2g}'):,.0f} {arm} requests"
        if every < j.min_requests:
            return (
                f"{said}; {held}, fewer than the {j.min_requests:,} each arm needs: reading every request "
                "(--sample-requests 1) will not reach it either"
            )
        if (want := sample.fraction * j.min_requests / smaller * 1.2) < 1:
            ask = f"--sample-requests {float(f'{want:.2g}'):g} would give each arm about {j.min_requests} or more"
            return f"{said}: {ask}"
        return f"{said}; {held}: --sample-requests 1 reads every request"


def table_cells(m: MetricJudgement) -> tuple[str, str, str, str]:
    """A metric's primary, canary, change (interval) and allowed cells: one precision per metric (604.0
    beside 493.5, not 604): ms with one decimal, dollars with six, rates as percentages with two; changes
    as the decision line says them (:meth:`MetricJudgement.change_text`: a relative metric's in percent
    of the primary, a rate's in points); "unknown" for a metric neither logs nor recipe give."""
    if m.status == UNKNOWN:
        return "unknown", "unknown", "unknown", m.allowed_text()

    def level(v: float) -> str:
        if m.name not in RELATIVE:
            return f"{v:.2%}"
        return ms_text(v) if m.name.startswith("latency") else usd_text(v)

    return level(m.primary), level(m.canary), f"{m.change_text(m.delta)} ({m.interval_text()})", m.allowed_text()


def parse_tolerances(items: Sequence[str]) -> dict[str, float]:
    """``--tolerance METRIC=VALUE`` items as a mapping; ``VALUE%`` is a percentage.

    >>> parse_tolerances(["latency_p95=5%", "error_rate=0.01"])
    {'latency_p95': 0.05, 'error_rate': 0.01}
    """
    from recipemut.apply.canary import EvaluateError

    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = parse_share(value)
        except ValueError:
            raise EvaluateError(
                f"--tolerance {item!r}: expected METRIC=VALUE, e.g. latency_p95=0.05 or latency_p95=5%",
                code="bad-tolerance",
            ) from None
    return out


def _canary_entry(recipe: str, seq: int) -> Entry | None:
    """The history entry that started the canary judged by the entry ``seq``."""
    from recipemut.apply.history import read_history

    return next((e for e in reversed(read_history(recipe)) if e.seq < seq and e.action == "canary"), None)


def record(result: EvaluateResult, path: Path | None) -> tuple[int, str | None]:
    """Record an acted-on judgement in the profile store: (rows written, why none were when 0).

    Raises one of :data:`~recipemut.learn.records.STORE_PROBLEMS` on a store problem.
    """
    if path is None:
        return 0, "the store is disabled"
    w = result.write
    if not result.acted or w is None or not w.entries:
        return 0, "--no-act"
    canary = _canary_entry(result.recipe, w.entries[-1].seq)
    if canary is None:
        return 0, "the history holds no canary entry (variants written by hand?)"
    from recipemut.apply.transaction import plain_doc
    from recipemut.learn.store import Store

    name = str(plain_doc(canary.text, source=result.recipe).get("name", ""))
    records = observation_records(result.judgement, canary, name)
    if not records:
        return 0, "nothing measured yet" if result.judgement.decision == HOLD else "no mutation in the canary entry"
    with Store.open(path) as s:
        for r in records:  # an unknown cost or a missing interval (NaN) is null: SQLite's JSON refuses NaN
            s.record_observation(**{**r, "detail": strict_json(r.get("detail"))})
    return len(records), None


def _recording(result: EvaluateResult, path: Path | None) -> Recording:
    """:func:`record`, a store problem kept as the recording's error (the decision stands)."""
    try:
        n, why = record(result, path)
    except STORE_PROBLEMS as e:
        return Recording(path, error=str(e))
    return Recording(path, n, why)


def evaluate_canary(
    recipe_path: str | os.PathLike[str],
    source: LogSource,
    settings: EvaluateSettings = EvaluateSettings(),  # frozen: one shared default is safe
    *,
    on_read: Callable[[IngestReport], None] | None = None,
    progress: Progress = NO_PROGRESS,
) -> EvaluateRun:
    """Judge the recipe's canary on ``source``'s logs, act unless ``settings.act`` is false, and
    record what was observed in the profile store when acting.

    ``on_read`` is called with the ingest report as soon as the logs are read, before judging:
    the command shows the log's warnings then, even when judging fails. ``progress`` is told each
    stage (the logs' bytes, ``judging the canary``). Raises what the recipe
    and log readers raise, :class:`~recipemut.apply.canary.EvaluateError`, and
    :class:`~recipemut.learn.store.StoreError` for a ``settings.store`` that is one of the inputs.
    """
    from recipemut.apply.canary import evaluate, no_canary
    from recipemut.apply.transaction import read_recipe_text
    from recipemut.recipe.loader import load_recipe_text

    logs = list(source.paths)
    if settings.store is not None:
        from recipemut.learn.store import check_store_path

        check_store_path(
            settings.store,
            recipes=[recipe_path],
            inputs={p: "one of the logs" for p in logs},
            option="--store",
            inputs_only=True,
        )
    progress.task("reading the recipe")
    recipe = load_recipe_text(read_recipe_text(recipe_path), file=str(recipe_path))
    if not recipe.variants:  # before the logs are read: a multi-GB log took minutes to reach this line
        raise no_canary(str(recipe_path))
    spans, report, _ = source.read_by_engine(recipe, progress=progress)  # --engine dask: every variant's spans
    if on_read is not None:
        on_read(report)
    progress.task("judging the canary")
    result = evaluate(
        recipe_path,
        logs,
        spans=spans,
        act=settings.act,
        tolerances=settings.tolerances,
        min_requests=settings.min_requests,
        force=settings.force,
        lock_timeout_s=settings.lock_timeout_s,
    )
    recording = _recording(result, store_path(settings.store))
    return EvaluateRun(result, report, recording)
