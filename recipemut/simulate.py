"""Trace replay: every recorded request replayed through a (mutated) recipe, vectorised over requests.

:func:`replay` takes the recipe to simulate, the :class:`~recipemut.profile.Profile` of the logs
and the *original* recipe the logs were recorded under, and returns per-request end-to-end latency
and cost (:class:`Replay`). It is diff-driven: an operation that did not change uses its recorded
samples; what changed is modelled, and every sample that was never recorded is flagged imputed.

Semantics (docs/ARCHITECTURE.md), per request, operations processed in the mutated recipe's
topological order over ``(n,)`` columns (never a Python loop over requests):

* an operation runs when every DAG predecessor ran and neither halted nor failed; it starts when
  the last of them finished, plus its recorded *dispatch gap* (recorded start minus the recorded
  finish of its original predecessors, clipped at 0: coordinator overhead the DAG does not
  explain; 0 when a predecessor's span is missing); ``finish = start + gap + latency``; e2e
  latency is the largest finish, cost the sum over the operations that ran. Replaying the
  unmutated recipe therefore reproduces the recorded ``e2e = max end - min start`` wherever no
  span is missing (``tests/test_simulate.py``);
* a run with no recorded span (an operation a halt used to skip, a missing span) takes latency,
  cost, status and gap from a *donor*: a random request in which that operation was recorded.
  So an operation that now runs before a guard still halts at its recorded rate;
* a substituted operation (``service``/``action`` differ from the original) draws its latency from
  the alternative's recorded column when the logs have one, else from its ``expected`` prior, a
  lognormal through p50 and p95 (sigma 0.5 when only p50 is known); its status from the original
  operation (equivalent operations halt alike); its cost from the recipe. All of it imputed;
* an operation the logs never saw (added, or absent from the profile) uses its ``expected`` prior;
* a cache added or changed: hits from :func:`recipemut.cachesim.hits` over the calls that run, in
  time order, keyed by the recorded ``cache_key``; a hit costs ``hit_latency_ms`` and no money
  (imputed calls have no key and miss);
* a hedge added or changed: ``min(L, after_ms + L2, 2 * after_ms + L3, ...)`` for ``max_extra``
  duplicates, each ``L`` drawn from the operation's recorded latencies; every duplicate sent
  (``L > k * after_ms``) costs one more call;
* a field whose ``format``/``compression`` changed, or that an operation stops producing: the
  operations touching it shift by the data-pipeline bytes model when it is available
  (:mod:`recipemut.bytesmodel`); without it the change has no predicted effect (noted);
* a removed operation is gone.

Above :data:`SAMPLE_LIMIT` requests a fixed-seed sample is replayed (the same one for every
recipe, so paired comparisons stay paired); a cache is then replayed over the full recorded trace
of its operation so the hit rate is not diluted by sampling.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .errors import MutationError
from .model import Operation, Recipe
from .profile import ST_ABSENT, ST_ERROR, ST_HALTED, Profile

log = logging.getLogger(__name__)

#: Above this many requests, a fixed-seed sample of this size is replayed.
SAMPLE_LIMIT = 200_000
#: Seed of that sample (never the caller's rng: every recipe must see the same requests).
SAMPLE_SEED = 20_251_127
#: Lognormal sigma of a prior that gives only p50.
DEFAULT_PRIOR_SIGMA = 0.5
_Z95 = 1.6448536269514722


@dataclass(frozen=True, eq=False)
class Replay:
    """The outcome of replaying the recorded requests through one recipe."""

    op_ids: tuple[str, ...]  # columns of ``ran`` / ``imputed``: the replayed recipe's topological order
    rows: np.ndarray  # (n,) profile rows replayed (all of them, or the fixed sample)
    latency_ms: np.ndarray  # (n,) end-to-end latency
    cost_usd: np.ndarray  # (n,) cost per request
    ran: np.ndarray  # (n, k) bool: the operation ran in that request
    imputed: np.ndarray  # (n, k) bool: its sample was never recorded (drawn from a profile or prior)
    notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # op -> how it was modelled
    cache_hit_rate: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def n_requests(self) -> int:
        return int(self.rows.shape[0])

    @property
    def imputed_share(self) -> float:
        """Share of requests whose result rests on at least one imputed sample."""
        return float(self.imputed.any(axis=1).mean()) if self.n_requests else 0.0

    @property
    def imputed_cell_share(self) -> float:
        """Share of the operation runs that were imputed."""
        runs = int(self.ran.sum())
        return float(self.imputed.sum() / runs) if runs else 0.0


@dataclass(frozen=True, eq=False)
class _Base:
    """What replay needs from the profile and the original recipe, computed once per pair."""

    rows: np.ndarray
    sampled: bool
    col: Mapping[str, int]
    gap: np.ndarray  # (n, k) dispatch gap (0 where absent)
    donors: Mapping[str, np.ndarray]  # op -> sampled-row indices where it was recorded


_BASES: weakref.WeakKeyDictionary[Profile, dict[tuple[Any, ...], _Base]] = weakref.WeakKeyDictionary()


def _structure(recipe: Recipe) -> tuple[Any, ...]:
    g = recipe.dag
    return tuple((n, tuple(sorted(g.predecessors(n)))) for n in sorted(g.nodes))


def sample_rows(n: int, limit: int | None = None) -> np.ndarray:
    """The profile rows replayed: all when ``n <= limit``, else a fixed-seed sorted sample.

    >>> sample_rows(5).tolist()
    [0, 1, 2, 3, 4]
    >>> len(sample_rows(10, limit=4)), sample_rows(10, limit=4).tolist() == sample_rows(10, limit=4).tolist()
    (4, True)
    """
    limit = SAMPLE_LIMIT if limit is None else limit
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, size=limit, replace=False))


def _base(profile: Profile, original: Recipe) -> _Base:
    key = _structure(original)
    per = _BASES.setdefault(profile, {})
    if key in per:
        return per[key]
    rows = sample_rows(profile.n_requests)
    col = {op: i for i, op in enumerate(profile.op_ids)}
    start = profile.start_offset_ms[rows]
    finish = start + profile.latency_ms[rows]
    status = profile.status[rows]
    gap = np.zeros(start.shape, dtype=float)
    g = original.dag
    for op_id, j in col.items():
        preds = [col[p] for p in g.predecessors(op_id) if p in col] if op_id in g else []
        # NaN when a predecessor's span is missing
        ready = np.max(finish[:, preds], axis=1) if preds else np.zeros(rows.size)
        gj = start[:, j] - ready
        gap[:, j] = np.where(np.isfinite(gj), np.maximum(gj, 0.0), 0.0)  # unknown gap: 0
    donors = {op_id: np.flatnonzero(status[:, j] != ST_ABSENT) for op_id, j in col.items()}
    b = _Base(rows=rows, sampled=rows.size < profile.n_requests, col=col, gap=gap, donors=donors)
    per[key] = b
    return b


def _nanmax_cols(mat: np.ndarray, idx: list[int]) -> np.ndarray:
    if len(idx) == 1:
        return mat[:, idx[0]]
    return np.max(mat[:, idx], axis=1)


def _lognormal_prior(op: Operation, alt: Operation | None) -> tuple[float, float] | None:
    """(mu, sigma) of the lognormal through the expected p50/p95, or None without a prior."""
    exp = (alt.expected if alt is not None else None) or op.expected
    if exp is None or exp.latency_p50_ms is None or exp.latency_p50_ms <= 0:
        return None
    mu = math.log(exp.latency_p50_ms)
    if exp.latency_p95_ms is not None and exp.latency_p95_ms > exp.latency_p50_ms:
        return mu, (math.log(exp.latency_p95_ms) - mu) / _Z95
    return mu, DEFAULT_PRIOR_SIGMA


def _find_alternative(recipe: Recipe, original: Recipe, op: Operation) -> Operation | None:
    for cat in (recipe.alternatives, original.alternatives):
        for alt in cat:
            if alt.service == op.service and alt.action == op.action:
                return alt
    return None


def _prior_cost(op: Operation, alt: Operation | None) -> float:
    for v in (
        op.cost_per_call_usd,
        alt.cost_per_call_usd if alt is not None else None,
        alt.expected.cost_per_call_usd if alt is not None and alt.expected is not None else None,
        op.expected.cost_per_call_usd if op.expected is not None else None,
    ):
        if v is not None:
            return float(v)
    return 0.0


def _changed_fields(recipe: Recipe, original: Recipe) -> dict[str, tuple[Any, Any]]:
    """Fields whose transfer format or compression changed: name -> ((fmt, comp) before, after)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name, spec in recipe.fields.items():
        before = original.fields.get(name)
        if before is None:
            continue
        a, b = (before.format, before.compression), (spec.format, spec.compression)
        if a != b:
            out[name] = (a, b)
    return out


def _bytes_delta(
    recipe: Recipe, original: Recipe, profile: Profile, base: _Base, op_id: str, changed: Mapping[str, Any]
) -> tuple[np.ndarray | None, str | None]:
    """Per-request latency change of ``op_id`` from field format changes (bytes model), if any."""
    op, orig = recipe.ops[op_id], original.ops.get(op_id)
    touched = {f for f in (*op.consumes, *op.produces) if f in changed}
    if orig is not None:
        touched |= set(orig.produces) - set(op.produces)  # a field it stops transferring
    if not touched:
        return None, None
    try:
        from . import bytesmodel  # provided by the data-pipeline operator's module
    except ImportError:  # pragma: no cover - depends on the colleague module being present
        return None, f"format change on {', '.join(sorted(touched))}: no bytes model available, no effect predicted"
    fn = getattr(bytesmodel, "latency_delta", None)
    if fn is None:  # pragma: no cover - depends on the colleague module's API
        return None, "bytes model has no latency_delta(); no effect predicted"
    j = base.col.get(op_id)
    if j is None:
        return None, None
    delta = fn(original=original, mutated=recipe, profile=profile, op_id=op_id, rows=base.rows)
    if delta is None:
        return None, f"bytes model: no reliable fit for {op_id}; no effect predicted"
    delta = np.asarray(delta, dtype=float)
    return delta, f"bytes model shifts {op_id} by {float(np.nanmean(delta)):+.1f} ms on average"


def replay(recipe: Recipe, profile: Profile, *, rng: np.random.Generator, original: Recipe | None = None) -> Replay:
    """Replay the profiled requests through ``recipe`` (see the module docstring).

    ``original`` is the recipe the logs were recorded under (default: ``recipe`` itself, i.e. the
    baseline replay). Raises :class:`~recipemut.errors.MutationError` when an operation must run
    but nothing (no recorded sample, no ``expected`` prior) tells how long it takes.
    """
    original = original if original is not None else recipe
    base = _base(profile, original)
    rows = base.rows
    n = rows.size
    order = recipe.topo_order
    k = len(order)
    pos = {op_id: i for i, op_id in enumerate(order)}
    finish = np.zeros((n, k))
    ran = np.zeros((n, k), dtype=bool)
    stop = np.zeros((n, k), dtype=bool)
    imputed = np.zeros((n, k), dtype=bool)
    cost = np.zeros(n)
    notes: dict[str, str] = {}
    hit_rates: dict[str, float] = {}
    changed_fields = _changed_fields(recipe, original)
    g = recipe.dag
    for i, op_id in enumerate(order):
        op = recipe.ops[op_id]
        orig = original.ops.get(op_id)
        preds = [pos[p] for p in g.predecessors(op_id)]
        if preds:
            run = np.logical_and.reduce(ran[:, preds] & ~stop[:, preds], axis=1)
            start = _nanmax_cols(finish, preds)
        else:
            run = np.ones(n, dtype=bool)
            start = np.zeros(n)
        j = base.col.get(op_id)
        substituted = orig is not None and (orig.service, orig.action) != (op.service, op.action)
        lat, c, st, gap, imp = _samples(recipe, original, profile, base, op, orig, j, run, substituted, rng, notes)
        delta, note = _bytes_delta(recipe, original, profile, base, op_id, changed_fields)
        if delta is not None:
            lat = np.maximum(lat + np.where(np.isfinite(delta), delta, 0.0), 0.0)
        if note:
            notes[op_id] = note
        if op.hedge is not None and (orig is None or orig.hedge != op.hedge):
            lat, c = _hedge(op, lat, c, base, j, profile, rng)
            notes.setdefault(op_id, f"hedged after {op.hedge.after_ms:g} ms")
        if op.cache is not None and (orig is None or orig.cache != op.cache) and j is not None:
            hit = _cache_hits(op, profile, base, j, run & ~imp, start + gap)
            lat = np.where(hit, op.cache.hit_latency_ms, lat)
            c = np.where(hit, 0.0, c)
            calls = int(run.sum())
            hit_rates[op_id] = float(hit[run].sum() / calls) if calls else 0.0
            notes.setdefault(op_id, f"cache hit rate {hit_rates[op_id]:.0%}")
        finish[:, i] = np.where(run, start + gap + lat, 0.0)
        ran[:, i] = run
        stop[:, i] = run & ((st == ST_HALTED) | (st == ST_ERROR))
        imputed[:, i] = run & imp
        cost += np.where(run, c, 0.0)
    e2e = finish.max(axis=1) if k else np.zeros(n)
    return Replay(
        op_ids=tuple(order),
        rows=rows,
        latency_ms=e2e,
        cost_usd=cost,
        ran=ran,
        imputed=imputed,
        notes=MappingProxyType(notes),
        cache_hit_rate=MappingProxyType(hit_rates),
    )


def _samples(
    recipe: Recipe,
    original: Recipe,
    profile: Profile,
    base: _Base,
    op: Operation,
    orig: Operation | None,
    j: int | None,
    run: np.ndarray,
    substituted: bool,
    rng: np.random.Generator,
    notes: dict[str, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Latency, cost, status, gap and the imputed mask of one operation, per replayed request."""
    n = base.rows.size
    fallback_cost = op.cost_per_call_usd if op.cost_per_call_usd is not None else 0.0
    if j is not None:
        rows = base.rows
        lat = profile.latency_ms[rows, j].copy()
        c = profile.cost_usd[rows, j].copy()
        st = profile.status[rows, j].copy()
        gap = base.gap[:, j].copy()
        c = np.where(np.isfinite(c), c, fallback_cost)
        imp = np.isnan(lat)
        need = np.flatnonzero(run & imp)
        if need.size:
            donors = base.donors[op.id]
            if donors.size == 0:
                prior = _lognormal_prior(op, None)
                if prior is None:
                    raise MutationError(
                        f"operation '{op.id}' must run in {need.size} requests but the logs never recorded it "
                        "and it has no expected latency",
                        code="no-data",
                    )
                lat[need] = rng.lognormal(prior[0], prior[1], need.size)
                c[need] = _prior_cost(op, None)
                st[need] = 1
                gap[need] = 0.0
            else:
                pick = donors[rng.integers(0, donors.size, need.size)]
                lat[need] = profile.latency_ms[rows[pick], j]
                dc = profile.cost_usd[rows[pick], j]
                c[need] = np.where(np.isfinite(dc), dc, fallback_cost)
                st[need] = profile.status[rows[pick], j]
                gap[need] = base.gap[pick, j]
        lat = np.where(np.isnan(lat), 0.0, lat)
        if not substituted:
            return lat, c, st, gap, imp
        alt = _find_alternative(recipe, original, op)
        alt_col = base.col.get(alt.id) if alt is not None else None
        alt_donors = base.donors[alt.id] if alt is not None and alt_col is not None else np.zeros(0, dtype=int)
        if alt is not None and alt_col is not None and alt_donors.size:
            pick = alt_donors[rng.integers(0, alt_donors.size, n)]
            new_lat = profile.latency_ms[base.rows[pick], alt_col]
            notes[op.id] = f"substitute {op.action}: latency drawn from the recorded {alt.id}"
        else:
            prior = _lognormal_prior(op, alt)
            if prior is None:
                raise MutationError(
                    f"substitute {op.service}/{op.action} for '{op.id}' was never recorded and has no "
                    "expected latency prior",
                    code="no-data",
                )
            new_lat = rng.lognormal(prior[0], prior[1], n)
            notes[op.id] = (
                f"substitute {op.action}: latency drawn from its prior "
                f"(lognormal, p50 {math.exp(prior[0]):.3g} ms, p95 {math.exp(prior[0] + _Z95 * prior[1]):.3g} ms)"
            )
        return new_lat, np.full(n, _prior_cost(op, alt)), st, gap, np.ones(n, dtype=bool)
    prior = _lognormal_prior(op, _find_alternative(recipe, original, op))
    if prior is None:
        raise MutationError(f"operation '{op.id}' was never recorded and has no expected latency prior", code="no-data")
    notes[op.id] = "never recorded: latency drawn from its expected prior"
    return (
        rng.lognormal(prior[0], prior[1], n),
        np.full(n, _prior_cost(op, None)),
        np.ones(n, dtype=np.int8),
        np.zeros(n),
        np.ones(n, dtype=bool),
    )


def _hedge(
    op: Operation,
    lat: np.ndarray,
    c: np.ndarray,
    base: _Base,
    j: int | None,
    profile: Profile,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Latency and cost with ``max_extra`` duplicates sent every ``after_ms`` until one answers."""
    assert op.hedge is not None
    if j is None or base.donors[op.id].size == 0:
        return lat, c
    donors = base.donors[op.id]
    out, extra = lat.copy(), np.zeros(lat.shape)
    per_call = np.where(np.isfinite(c), c, 0.0)
    for m in range(1, op.hedge.max_extra + 1):
        at = m * op.hedge.after_ms
        sent = out > at
        dup = profile.latency_ms[base.rows[donors[rng.integers(0, donors.size, lat.size)]], j]
        out = np.where(sent, np.minimum(out, at + dup), out)
        extra += np.where(sent, per_call, 0.0)
    return out, c + extra


def _cache_hits(
    op: Operation, profile: Profile, base: _Base, j: int, calls: np.ndarray, start_ms: np.ndarray
) -> np.ndarray:
    """Which replayed calls of ``op`` a cache in front of it serves (see :mod:`recipemut.cachesim`)."""
    from .cachesim import hits

    assert op.cache is not None
    if base.sampled:
        # replay the full recorded trace so sampling does not dilute repeats, then read our rows
        times = profile.request_start_ms + np.where(
            np.isnan(profile.start_offset_ms[:, j]), 0.0, profile.start_offset_ms[:, j]
        )
        full = hits(times, profile.cache_key[:, j], op.cache.ttl_s, op.cache.max_entries)
        return full[base.rows] & calls
    keys = np.where(calls, profile.cache_key[base.rows, j], -1)
    times = profile.request_start_ms[base.rows] + start_ms
    return hits(times, keys, op.cache.ttl_s, op.cache.max_entries)
