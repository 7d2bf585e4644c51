"""What the profile store keeps: records built from profiles, suggest's candidates and evaluate's canaries.

The store (:mod:`recipemut.learn.store`) is plain SQL; this module turns the pipeline's values
into its rows: :func:`profile_summary` of a profile, :func:`suggestion_records` of the mutations
suggest evaluated (:func:`search_records` of a search result), :func:`observation_records` of a
canary evaluate judged. The bandit learns from these records (:mod:`recipemut.learn.bandit`):
each says which operator, on which kind of target, was predicted (or observed) to move a metric
by how much. The ``record_*`` functions open the store, write, and close it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from recipemut.errors import RecipemutError
from recipemut.learn.bandit import mutation_kind
from recipemut.learn.store import Store, SuggestionRecord, default_path
from recipemut.recipe.model import Recipe

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from recipemut.apply.canary import Judgement
    from recipemut.apply.history import Entry
    from recipemut.plan.search import SearchResult  # a type only: importing it loads scipy.stats (a second)
    from recipemut.profile.build import Profile

#: what a store write may raise; a command that records on the side turns them into a warning
STORE_PROBLEMS: tuple[type[Exception], ...] = (RecipemutError, sqlite3.Error, OSError)


def _finite(x: Any) -> float | None:
    """``x`` as a finite float, else None (also for what is not a number)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---- profiles ----------------------------------------------------------------------------------


def _finite_or_none(x: float) -> float | None:
    return round(float(x), 4) if math.isfinite(float(x)) else None


def profile_summary(profile: Profile, recipe: Recipe) -> dict[str, Any]:
    """What the store keeps of a :class:`~recipemut.profile.build.Profile`: requests, time range,
    end-to-end percentiles, per operation count and p50/p95/mean ms, busy ms per request per service.

    Busy time counts every call (an operation called several times in a request adds its calls'
    times, not their window); an operation called more than once in some request also keeps
    ``calls`` (in all) and ``calls_max`` (most in one request), absent otherwise.

    ``recipe`` is the :class:`~recipemut.recipe.model.Recipe` profiled (it maps operations to services).
    """
    import numpy as np

    from recipemut.profile.busy import busy_ms_per_request

    start = np.asarray(profile.request_start_ms, dtype=np.float64)
    rates = np.nan_to_num(np.asarray(profile.sample_rate, dtype=np.float64), nan=1.0)
    weights = 1.0 / np.clip(rates, 1e-12, None)

    def iso(ms: float) -> str:
        return datetime.fromtimestamp(float(ms) / 1000.0, tz=timezone.utc).isoformat().replace("+00:00", "Z")

    op_service = {op.id: op.service for op in recipe.operations}
    several = {c.op: {"calls": c.calls, "calls_max": c.calls_max} for c in profile.calls if c.several}
    busy = (  # every call counts: the calls' times added up, not their window
        busy_ms_per_request(profile.latency_ms, profile.op_ids, op_service, weights, call_ms=profile.call_ms)
        if profile.n_requests
        else {}
    )
    return {
        "requests": int(profile.n_requests),
        "start": iso(start.min()) if start.size else None,
        "end": iso(start.max()) if start.size else None,
        "sample_rates": sorted({float(r) for r in np.unique(rates)}),
        "e2e_ms": {k: _finite_or_none(v) for k, v in profile.e2e_percentiles().items()} if profile.n_requests else {},
        "ops": {
            o.op: {
                "count": int(o.count),
                "p50_ms": _finite_or_none(o.p50_ms),
                "p95_ms": _finite_or_none(o.p95_ms),
                "mean_ms": _finite_or_none(o.mean_ms),
                **several.get(o.op, {}),
            }
            for o in profile.ops
        },
        "busy_ms_per_service": {k: _finite_or_none(v) for k, v in sorted(busy.items())},
        "critical_path": list(profile.critical_path),
    }


#: the sha256 the store keeps for a version only the logs name, whose text the recipe's history lacks
UNKNOWN_SHA256 = ""


def versions_of_requests(spans: pd.DataFrame, current: int) -> np.ndarray:
    """Each span's recipe version: the ``recipe_version`` its request logged (the first one its spans
    carry), ``current`` for a request none of whose spans carries one (as the rest of the tool reads them).

    >>> import pandas as pd
    >>> spans = pd.DataFrame({"request_id": ["a", "a", "b", "c"],
    ...                       "recipe_version": pd.array([None, 4, None, 5], dtype="Int64")})
    >>> versions_of_requests(spans, 6).tolist()
    [4, 4, 6, 5]
    """
    import numpy as np

    n = len(spans)
    if "recipe_version" not in spans.columns or not spans["recipe_version"].notna().any():
        return np.full(n, int(current), dtype=np.int64)
    logged = spans["recipe_version"]
    if not logged.isna().any() and logged.nunique() == 1:  # one version throughout: no grouping needed
        return np.full(n, int(logged.iloc[0]), dtype=np.int64)
    first = logged.groupby(spans["request_id"], sort=False, observed=True).transform("first")
    return np.asarray(first.fillna(int(current)), dtype=np.int64)


def _versions_sha256(recipe_path: str | os.PathLike[str], versions: Sequence[int]) -> dict[int, str]:
    """The sha256 of each of ``versions``' text as the recipe's history last recorded it (the history read
    once); :data:`UNKNOWN_SHA256` for one the history does not hold (or when it cannot be read: the profile
    is kept all the same)."""
    from recipemut.apply.history import read_history

    out = dict.fromkeys(versions, UNKNOWN_SHA256)
    if not versions:
        return out
    try:
        entries = read_history(recipe_path)
    except RecipemutError:
        return out
    for e in entries:  # oldest first: a later entry's record of a version replaces an earlier one
        if e.version_before in out and e.sha256_before is not None:
            out[e.version_before] = e.sha256_before
        if e.version in out:
            out[e.version] = e.sha256_after
    return out


@contextlib.contextmanager
def _unheard(name: str) -> Iterator[None]:
    """Drop what the logger ``name`` says meanwhile (the profile's warnings were given once, for the whole log)."""
    logger = logging.getLogger(name)

    def drop(record: logging.LogRecord) -> bool:
        return False

    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def profiles_by_version(spans: pd.DataFrame, recipe: Recipe, prof: Profile) -> list[tuple[int, Profile]]:
    """``prof`` (the profile of ``spans``) split by the recipe version that logged each request
    (:func:`versions_of_requests`), ascending: ``[(version, prof)]`` when one version logged them all
    (the profile as it is: with the whole log's figures under a partitioned engine); else one profile per
    version, built on its requests' spans."""
    import numpy as np

    from recipemut.profile.build import build_profile

    versions = versions_of_requests(spans, recipe.version)
    found = np.unique(versions)
    if found.size <= 1:
        return [(int(found[0]) if found.size else recipe.version, prof)]
    with _unheard("recipemut.profile.build"):
        return [
            (int(v), build_profile(spans[versions == v].reset_index(drop=True), recipe,
                                   request_fraction=prof.request_fraction))
            for v in found
        ]


def record_profile_summary(
    recipe_path: str | os.PathLike[str],
    recipe: Recipe,
    prof: Profile,
    *,
    spans: pd.DataFrame | None = None,
    path: Path | None = None,
) -> list[int] | None:
    """Keep the summary of the profile in the store (default: :func:`default_path`), under the recipe
    version that logged the spans: per version when ``spans`` (the span table ``prof`` was built on)
    mixes versions (:func:`profiles_by_version`); without ``spans``, under ``recipe``'s own version.

    A version other than ``recipe``'s is kept with the sha256 the recipe's history records for it
    (:data:`UNKNOWN_SHA256` when the history holds no text of it), never with the sha256 of the
    recipe file as it is now, which is another version's.

    Returns the versions' row ids; None when the store is off (``RECIPEMUT_STORE=off``) or the logs
    held no request. Raises one of :data:`STORE_PROBLEMS` on a store problem.
    """
    path = path if path is not None else default_path()
    if path is None or prof.n_requests == 0:
        return None
    from recipemut.plan.planfile import recipe_sha256

    parts = [(recipe.version, prof)] if spans is None else profiles_by_version(spans, recipe, prof)
    older = _versions_sha256(recipe_path, [v for v, _ in parts if v != recipe.version])
    summaries = [(v, older[v] if v in older else recipe_sha256(recipe_path), profile_summary(p, recipe))
                 for v, p in parts]  # fmt: skip
    with Store.open(path) as st:
        return [st.record_profile(recipe=recipe.name, version=v, sha256=sha, summary=s) for v, sha, s in summaries]


# ---- suggest's candidates ------------------------------------------------------------------------


#: objective -> the predicted metric its records carry
METRIC_OF: Mapping[str, str] = MappingProxyType(
    {
        "latency": "latency_p50_ms",
        "p95": "latency_p95_ms",
        "cost": "cost_mean_usd",
        "balanced": "latency_mean_ms",
        "headroom": "latency_mean_ms",
    }
)


def suggestion_records(
    candidates: Iterable[Any],
    *,
    metric: str = "latency_p95_ms",
    kind_of: Callable[[Any], str | None] | None = None,
) -> list[SuggestionRecord]:
    """Store records for ``suggest``'s evaluated candidates (``search.Candidate``-like objects).

    Reads ``c.mutation`` (``id``, ``operator``), ``c.evaluation`` (``verdict``, ``predicted[metric]``
    with ``estimate``/``lo``/``hi``, ``baseline[metric]``; None = rejected before simulation),
    ``c.status``, ``c.reasons`` and ``c.round``. A candidate listed twice (same mutation id and
    round) is recorded once.
    """
    out: list[SuggestionRecord] = []
    seen: set[tuple[str, int]] = set()
    for c in candidates:
        m = c.mutation
        key = (str(m.id), int(getattr(c, "round", 0)))
        if key in seen:
            continue
        seen.add(key)
        ev = getattr(c, "evaluation", None)
        iv = ev.predicted.get(metric) if ev is not None else None
        out.append(
            SuggestionRecord(
                mutation_id=str(m.id),
                operator=str(m.operator),
                verdict=str(ev.verdict) if ev is not None else "rejected",
                metric=metric,
                predicted_delta=None if iv is None else float(iv.estimate),
                predicted_ci=None if iv is None else (float(iv.lo), float(iv.hi)),
                baseline=None if ev is None else _finite(ev.baseline.get(metric)),
                kind=kind_of(m) if kind_of is not None else None,
                detail={
                    "status": getattr(c, "status", None),
                    "round": key[1],
                    "reasons": list(getattr(c, "reasons", ())),
                },
            )
        )
    return out


def search_records(result: SearchResult, recipe: Recipe) -> list[SuggestionRecord]:
    """A record for every candidate the search evaluated (singles, plan steps, rejected; each once),
    on the metric of the search's objective, with the kind of its target in ``recipe``."""
    cands = [*result.singles, *result.plan, *result.rejected]
    return suggestion_records(cands, metric=METRIC_OF[result.objective], kind_of=lambda m: mutation_kind(m, recipe))


# ---- evaluate's canaries ------------------------------------------------------------------------


#: evaluate's metric -> the store's (and the plan's) metric name
STORE_METRICS: Mapping[str, str] = MappingProxyType(
    {"latency_p95": "latency_p95_ms", "latency_p50": "latency_p50_ms", "cost": "cost_mean_usd"}
)
#: the metric of the store row (one row per mutation, so ``stats`` counts each canaried mutation once)
PRIMARY = "latency_p95"
#: evaluate's decision -> the outcome an observation records
STORE_OUTCOME: Mapping[str, str] = MappingProxyType({"promote": "promoted", "rollback": "rolled_back", "hold": "held"})


def _predicted(m: Mapping[str, Any], metric: str) -> tuple[float | None, tuple[float, float] | None, float | None]:
    """(delta, interval, baseline) the plan predicted for ``metric`` (store name), as recorded in the history."""
    pred = m.get("predicted") or {}
    iv = pred.get(metric) if isinstance(pred, Mapping) else None
    if not isinstance(iv, Mapping):
        return None, None, None
    ci = iv.get("ci")
    lo, hi = (_finite(ci[0]), _finite(ci[1])) if isinstance(ci, Sequence) and len(ci) == 2 else (None, None)
    base = pred.get("baseline")
    return (
        _finite(iv.get("delta")),
        (lo, hi) if lo is not None and hi is not None else None,
        _finite(base.get(metric)) if isinstance(base, Mapping) else None,
    )


def shares(predicted: Sequence[float | None]) -> list[float]:
    """Each mutation's share of a canary's joint effect: in proportion to its predicted delta when
    every mutation has one and they agree in sign, else equal shares.

    >>> shares([-30.0, -10.0]), shares([-30.0, None]), shares([-30.0, 10.0]), shares([])
    ([0.75, 0.25], [0.5, 0.5], [0.5, 0.5], [])
    """
    n = len(predicted)
    if not n:
        return []
    known = [p for p in predicted if p is not None]
    total = sum(known)
    if len(known) == n and total != 0 and all(p * total >= 0 for p in known):
        return [p / total for p in known]
    return [1.0 / n] * n


def observation_records(judgement: Judgement, canary: Entry, recipe: str) -> list[dict[str, Any]]:
    """Keyword sets for :meth:`recipemut.learn.store.Store.record_observation`, one per mutation of ``canary``
    (the history entry that started the canary), from what ``judgement`` observed. Pure.

    The row's metric is the p95 latency; a canary of several mutations observes their joint
    effect, which is shared among them in proportion to their predicted deltas (:func:`shares`).
    The prediction, as recorded in the history, is rescaled to the observed baseline (the
    primary's p95 in the canary's logs) when the plan gave its simulated baseline, so prediction
    and observation compare as relative effects. ``detail`` keeps the joint judgement, the other
    metrics (p50, cost) apportioned the same way, and the raw prediction. Nothing is returned for a
    judgement that measured nothing (not enough data).
    """
    metrics = {m.name: m for m in judgement.metrics}
    if PRIMARY not in metrics or not canary.mutations:
        return []
    metric = STORE_METRICS[PRIMARY]
    muts = [dict(m) for m in canary.mutations]
    preds = [_predicted(m, metric) for m in muts]
    share = shares([p[0] for p in preds])
    ids = [str(m.get("id")) for m in muts]
    obs = metrics[PRIMARY]
    joint = {m.name: {"primary": m.primary, "canary": m.canary, "delta": m.delta, "ci": [m.lo, m.hi],
                      "status": m.status} for m in judgement.metrics}  # fmt: skip
    out: list[dict[str, Any]] = []
    for m, (pd_, pci, pbase), s in zip(muts, preds, share, strict=True):
        scale = obs.primary / pbase if pbase and pbase > 0 and obs.primary > 0 else None
        f = scale or 1.0
        observed_metrics = {
            STORE_METRICS[k]: {"delta": v.delta * s, "ci": [v.lo * s, v.hi * s], "baseline": v.primary,
                               "predicted": dict(zip(("delta", "ci", "baseline"), _predicted(m, STORE_METRICS[k]),
                                                     strict=True))}
            for k, v in metrics.items() if k in STORE_METRICS
        }  # fmt: skip
        out.append(
            {
                "recipe": recipe,
                "version": canary.version_before if canary.version_before is not None else 1,  # as the loader
                "sha256": canary.sha256_before or canary.sha256_after,
                "mutation_id": str(m.get("id")),
                "operator": str(m.get("operator")),
                "outcome": STORE_OUTCOME[judgement.decision],
                "metric": metric,
                "observed_delta": obs.delta * s,
                "observed_ci": (obs.lo * s, obs.hi * s),
                "baseline": obs.primary,
                "predicted_delta": None if pd_ is None else pd_ * f,
                "predicted_ci": None if pci is None else (pci[0] * f, pci[1] * f),
                "canary": canary.hash,
                "detail": {
                    "decision": judgement.decision,
                    "reason": judgement.reason,
                    "variant": judgement.variant,
                    "n_primary": judgement.n_primary,
                    "n_canary": judgement.n_canary,
                    "canary_entry": canary.seq,
                    "canary_version": canary.version,
                    "mutations_in_canary": ids,
                    "share": s,
                    "joint": joint,
                    "metrics": observed_metrics,
                    "predicted_raw": {"delta": pd_, "ci": list(pci) if pci else None, "baseline": pbase},
                    "prediction_rescaled_by": scale,
                },
            }
        )
    return out


# ---- one-call helpers for suggest and evaluate ------------------------------------------------


def record_suggestion(*, path: str | os.PathLike[str] | None = None, **fields: Any) -> str | None:
    """Open the store, record one evaluated mutation (keywords of :meth:`Store.record_suggestion`), close.

    Returns the run id, or None when the store is disabled (``RECIPEMUT_STORE=off``).
    """
    if path is None and default_path() is None:
        return None
    with Store.open(path) as s:
        return s.record_suggestion(**fields)


def record_suggestions(
    records: Sequence[SuggestionRecord], *, path: str | os.PathLike[str] | None = None, **where: Any
) -> str | None:
    """Open the store, record a suggest run's evaluated mutations in one transaction, close.

    ``where``: ``recipe=``, ``version=``, ``sha256=`` (and optionally ``run_id=``).
    """
    if path is None and default_path() is None:
        return None
    with Store.open(path) as s:
        return s.record_suggestions(records, **where)


def record_observation(*, path: str | os.PathLike[str] | None = None, **fields: Any) -> int | None:
    """Open the store, record what evaluate observed (keywords of :meth:`Store.record_observation`), close."""
    if path is None and default_path() is None:
        return None
    with Store.open(path) as s:
        return s.record_observation(**fields)


def record_profile(*, path: str | os.PathLike[str] | None = None, **fields: Any) -> int | None:
    """Open the store, keep a profile summary (keywords of :meth:`Store.record_profile`), close."""
    if path is None and default_path() is None:
        return None
    with Store.open(path) as s:
        return s.record_profile(**fields)
