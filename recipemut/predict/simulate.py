"""Trace replay: every recorded request replayed through a (mutated) recipe, vectorised over requests.

:func:`replay` takes the recipe to simulate, the :class:`~recipemut.profile.build.Profile` of the logs
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
* a cache added or changed: hits from :func:`recipemut.predict.cachesim.hits` over the calls that run, in
  time order, keyed by the recorded ``cache_key``; a hit costs ``hit_latency_ms`` and no money
  (imputed calls have no key and miss). Mutations of one operation compose: a key hashes the
  values the call consumed, whichever implementation served it, so a cache in front of a
  substituted operation (added before or after the substitution, or kept from the original)
  replays on the recorded keys: hits at ``hit_latency_ms``, misses at the substitute's latency and
  cost. The keys are exact when the substitute consumes the same fields, a lower bound on the
  hits when it consumes a subset, and unused when it consumes another field (every call misses;
  the note says which);
* a hedge added or changed: :func:`recipemut.predict.hedgemodel.hedged_latency`,
  ``min(L, after_ms + L2, 2 * after_ms + L3, ...)`` for ``max_extra`` duplicates drawn from the
  operation's recorded latencies; every duplicate sent costs one more call. On a substituted
  operation (hedged before or after the substitution, or kept from the original) the duplicates
  are drawn from the substitute's latencies and cost its price;
* a field whose ``format``/``compression`` changed, or that an operation stops producing: the
  operations touching it shift by :func:`recipemut.predict.bytesmodel.latency_delta` (bytes fit where it
  is good, codec time always; noted per operation);
* a removed operation is gone.

Above :data:`SAMPLE_LIMIT` requests a fixed-seed sample is replayed (the same one for every
recipe, so paired comparisons stay paired); a cache is then replayed over the full recorded trace
of its operation so the hit rate is not diluted by sampling.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from recipemut.errors import MutationError
from recipemut.files.units import counted, ms_short, ms_text
from recipemut.predict import fanout
from recipemut.predict.cachesim import ReplayMemo
from recipemut.predict.percall import CallContext, calls_replayed, keys_usable
from recipemut.profile.build import ST_ABSENT, ST_ERROR, ST_HALTED, Profile
from recipemut.recipe.model import Operation, Recipe

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
    busy_ms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # op -> mean ms per request
    service_busy: Mapping[str, np.ndarray] = field(default_factory=lambda: MappingProxyType({}))  # service -> (n,) ms

    def service_busy_ms(self, recipe: Recipe) -> dict[str, float]:
        """Mean busy milliseconds per request per service (Little's law input), from ``busy_ms``
        (:func:`recipemut.profile.busy.busy_by_service`: pass the replayed recipe)."""
        from recipemut.profile.busy import busy_by_service

        return busy_by_service(self.busy_ms, recipe)

    @property
    def n_requests(self) -> int:
        return int(self.rows.shape[0])

    @property
    def imputed_share(self) -> float:
        """Share of requests whose result rests on at least one imputed sample."""
        return float(self.imputed.any(axis=1).mean()) if self.n_requests else 0.0


@dataclass(frozen=True, eq=False)
class ReplayBase:
    """What replay needs from the profile and the original recipe, computed once per pair.

    Build it with :func:`replay_base` and hand it to every :func:`replay` of the same profile and
    original recipe (a search replays hundreds of candidates against one base); without it,
    :func:`replay` builds one for its own call.
    """

    profile: Profile
    structure: tuple[Any, ...]  # the original recipe's DAG (:func:`_structure`): what the gaps depend on
    rows: np.ndarray
    sampled: bool
    col: Mapping[str, int]
    # profile columns for the replayed rows, operation-major (k, n) so each column is contiguous
    lat: np.ndarray  # NaN where absent
    cost: np.ndarray
    status: np.ndarray
    key: np.ndarray
    gap: np.ndarray  # dispatch gap (0 where absent or unknown)
    lat0: np.ndarray  # latency with 0 where absent
    extra0: np.ndarray  # the cell's calls' times added up minus its latency (0 for one call per cell)
    cost0: np.ndarray  # cost, the original's cost_per_call_usd (else 0) where not logged
    imp0: np.ndarray  # bool: no recorded span
    stop0: np.ndarray  # bool: recorded halted or error
    req_start: np.ndarray  # (n,) epoch ms
    weight: np.ndarray  # (n,) requests each replayed row stands for (1 / sample_rate), normalised to sum 1
    uniform: bool  # every row stands for the same number of requests
    donors: Mapping[str, np.ndarray]  # op -> positions (in rows) where it was recorded
    # op with `when` -> rows where it has no span though every predecessor ran: the branch not taken
    branch_off: Mapping[str, np.ndarray]
    calls_cache: dict[str, fanout.OpCalls] = field(default_factory=dict)  # op -> its recorded calls (:meth:`op_calls`)
    cache_replays: ReplayMemo = field(default_factory=ReplayMemo)  # :func:`_cache_hits`' replays, for every candidate

    @cached_property
    def bytes_fits(self) -> Mapping[str, Any]:
        """The profile's latency-vs-bytes fits (:func:`recipemut.predict.bytesmodel.fit`), once per base."""
        from recipemut.predict import bytesmodel

        return MappingProxyType(bytesmodel.fit(self.profile))

    def op_calls(self, op_id: str) -> fanout.OpCalls:
        """The recorded calls of ``op_id`` in the replayed rows (:func:`recipemut.predict.fanout.op_calls`),
        once per base."""
        got = self.calls_cache.get(op_id)
        if got is None:
            got = self.calls_cache[op_id] = fanout.op_calls(self.profile, op_id, self.rows)
        return got

    def check(self, profile: Profile, original: Recipe) -> None:
        """Raise ``ValueError`` unless this base is of ``profile`` and of ``original``'s DAG."""
        if profile is not self.profile:
            raise ValueError("the replay base was built from another profile")
        if _structure(original) != self.structure:
            raise ValueError("the replay base was built for another original recipe (its DAG differs)")


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


def replay_base(profile: Profile, original: Recipe) -> ReplayBase:
    """The columns of ``profile`` that every replay against ``original`` reads (see :class:`ReplayBase`)."""
    rows = sample_rows(profile.n_requests)
    col = {op: i for i, op in enumerate(profile.op_ids)}
    start = np.ascontiguousarray(profile.start_offset_ms[rows].T)
    lat = np.ascontiguousarray(profile.latency_ms[rows].T)
    finish = start + lat
    status = np.ascontiguousarray(profile.status[rows].T)
    gap = np.zeros(start.shape, dtype=float)
    g = original.dag
    for op_id, j in col.items():
        preds = [col[p] for p in g.predecessors(op_id) if p in col] if op_id in g else []
        # NaN when a predecessor's span is missing
        ready = np.max(finish[preds], axis=0) if preds else np.zeros(rows.size)
        gj = start[j] - ready
        gap[j] = np.where(np.isfinite(gj), np.maximum(gj, 0.0), 0.0)  # unknown gap: 0
    donors = {op_id: np.flatnonzero(status[j] != ST_ABSENT) for op_id, j in col.items()}
    went_on = (status != ST_ABSENT) & (status != ST_HALTED) & (status != ST_ERROR)  # or took no branch
    branch_off = {}
    for op_id in (o for o in original.topo_order if o in col):  # a branch's later steps follow its first
        j = col[op_id]
        if original.ops[op_id].when is not None:
            preds = [col[p] for p in g.predecessors(op_id) if p in col]
            branch_off[op_id] = (status[j] == ST_ABSENT) & (went_on[preds].all(axis=0) if preds else True)
            went_on[j] |= branch_off[op_id]
    cost = np.ascontiguousarray(profile.cost_usd[rows].T)
    fallback = np.array(
        [[(original.ops[o].cost_per_call_usd or 0.0) if o in original.ops else 0.0] for o in profile.op_ids]
    ).reshape(-1, 1)
    return ReplayBase(
        profile=profile,
        structure=_structure(original),
        rows=rows,
        sampled=rows.size < profile.n_requests,
        col=col,
        lat=lat,
        cost=cost,
        status=status,
        key=np.ascontiguousarray(profile.cache_key[rows].T),
        gap=gap,
        lat0=np.where(np.isnan(lat), 0.0, lat),
        extra0=_extra_busy(profile, rows, lat),
        cost0=np.where(np.isfinite(cost), cost, fallback),
        imp0=np.isnan(lat),
        stop0=(status == ST_HALTED) | (status == ST_ERROR),
        req_start=np.asarray(profile.request_start_ms[rows], dtype=float),
        weight=_weights(profile.sample_rate[rows]),
        uniform=bool(np.ptp(np.nan_to_num(profile.sample_rate[rows], nan=1.0)) == 0) if rows.size else True,
        donors=donors,
        branch_off=branch_off,
    )


def _extra_busy(profile: Profile, rows: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """(k, n) how much longer a cell's calls keep its service busy than the cell's window: their
    times added up minus the window (0 where one call, or no call)."""
    if profile.call_ms is None:
        return np.zeros(lat.shape)
    summed = np.ascontiguousarray(profile.call_ms[rows].T)
    return np.where(np.isnan(summed) | np.isnan(lat), 0.0, summed - lat)


def sample_weights(sample_rate: np.ndarray) -> np.ndarray:
    """Each request's weight, 1 / its sample rate (a missing rate counts as 1: kept in full).

    >>> sample_weights(np.array([1.0, 0.5, np.nan])).tolist()
    [1.0, 2.0, 1.0]
    """
    return 1.0 / np.clip(np.nan_to_num(np.asarray(sample_rate, dtype=float), nan=1.0), 1e-12, None)


def _weights(sample_rate: np.ndarray) -> np.ndarray:
    w = sample_weights(sample_rate)
    return w / w.sum() if w.size else w


def _max_rows(mat: np.ndarray, idx: list[int]) -> np.ndarray:
    out = mat[idx[0]].copy()
    for i in idx[1:]:
        np.maximum(out, mat[i], out=out)
    return out


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


def _transfers_changed(recipe: Recipe, original: Recipe) -> bool:
    """Whether any field's format/compression changed, or a kept operation stopped producing a field."""
    for name, spec in recipe.fields.items():
        before = original.fields.get(name)
        if before is not None and (before.format, before.compression) != (spec.format, spec.compression):
            return True
    return any(
        op.id in original.ops and set(original.ops[op.id].produces) - set(op.produces) for op in recipe.operations
    )


def _bytes_deltas(
    recipe: Recipe, original: Recipe, profile: Profile, base: ReplayBase
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Per-operation latency change (replayed rows) from changed transfers, via :mod:`recipemut.predict.bytesmodel`."""
    if not _transfers_changed(recipe, original):
        return {}, {}
    from recipemut.predict import bytesmodel

    fits = base.bytes_fits
    d = bytesmodel.latency_delta(original, recipe, profile, fits)
    out = {op: np.asarray(v, dtype=float)[base.rows] for op, v in d.per_op.items()}
    notes = {}
    for op, v in out.items():
        f = fits.get(op)
        if op in d.unfitted:
            notes[op] = f"transfer change: bytes do not explain {op}'s latency (poor fit), only codec time counted"
        else:
            change = ms_text(float(v.mean()), signed=True, decimals=2)
            notes[op] = f"transfer change: {change} on average (bytes fit {f.describe() if f else ''})"
    return out, notes


def replay(
    recipe: Recipe,
    profile: Profile,
    *,
    rng: np.random.Generator,
    original: Recipe | None = None,
    base: ReplayBase | None = None,
) -> Replay:
    """Replay the profiled requests through ``recipe`` (see the module docstring).

    ``original`` is the recipe the logs were recorded under (default: ``recipe`` itself, i.e. the
    baseline replay). ``base`` is :func:`replay_base` of ``profile`` and ``original``, when the
    caller replays many recipes against them (built for this call otherwise). Raises
    :class:`~recipemut.errors.MutationError` when an operation must run but nothing (no recorded
    sample, no ``expected`` prior) tells how long it takes, ``ValueError`` when ``base`` is of
    another profile or original.
    """
    original = original if original is not None else recipe
    if base is None:
        base = replay_base(profile, original)
    else:
        base.check(profile, original)
    rows = base.rows
    n = rows.size
    order = recipe.topo_order
    k = len(order)
    pos = {op_id: i for i, op_id in enumerate(order)}
    finish = np.zeros((k, n))  # operation-major: each operation's column is contiguous
    ran = np.zeros((k, n), dtype=bool)
    alive = np.zeros((k, n), dtype=bool)  # ran and neither halted nor failed: its successors may run
    imputed = np.zeros((k, n), dtype=bool)
    cost = np.zeros(n)
    e2e = np.zeros(n)
    notes: dict[str, str] = {}
    hit_rates: dict[str, float] = {}
    busy: dict[str, float] = {}
    svc_busy: dict[str, np.ndarray] = {}
    bytes_delta, bytes_notes = _bytes_deltas(recipe, original, profile, base)
    notes.update(bytes_notes)
    g = recipe.dag
    for i, op_id in enumerate(order):
        op = recipe.ops[op_id]
        orig = original.ops.get(op_id)
        preds = [pos[p] for p in g.predecessors(op_id)]
        run = ran[i]  # written in place: one pass fewer per operation
        if preds:
            np.copyto(run, alive[preds[0]])
            for p in preds[1:]:
                run &= alive[p]
            start = _max_rows(finish, preds)
        else:
            run[:] = True
            start = np.zeros(n)
        j = base.col.get(op_id)
        # a branch (`when`) the recorded request did not take does not run, and holds nothing up
        off = run & base.branch_off[op_id] if orig is not None and op_id in base.branch_off else None
        if off is not None:
            run &= ~off
        substituted = orig is not None and (orig.service, orig.action) != (op.service, op.action)
        lat, c, stp, gap, imp, extra = _samples(
            recipe, original, profile, base, op, orig, j, run, substituted, rng, notes
        )
        per_call = False  # cache and hedge replayed on each call (a fan-out operation's recorded calls)
        if j is not None and orig is not None:
            lat, c, imp, extra, per_call = _fanout(
                recipe, original, base, op, orig, j, substituted, (lat, c, imp, extra), rng, notes,
                CallContext(profile, run, start + gap, hit_rates),
            )
        if op_id in bytes_delta:
            lat = np.maximum(lat + bytes_delta[op_id], 0.0)
        if not per_call and op.hedge is not None and (orig is None or orig.hedge != op.hedge or substituted):
            # duplicates of a substitute's calls are the substitute's calls: drawn from its latencies
            lat, c = _hedge(op, lat, c, base, j, rng, pool=lat[run] if substituted else None)
            note = f"hedged after {ms_text(op.hedge.after_ms, decimals=None)}"
            notes[op_id] = f"{notes[op_id]}; {note}" if op_id in notes else note
        # a substituted operation's samples are all drawn anew, so a cache it kept is replayed too
        if not per_call and op.cache is not None and (orig is None or orig.cache != op.cache or substituted) \
                and j is not None:
            keyed, key_note = _keyed_calls(op, orig, base, j, run)
            hit = _cache_hits(op, profile, base, j, keyed, start + gap)
            lat = np.where(hit, op.cache.hit_latency_ms, lat)
            c = np.where(hit, 0.0, c)
            extra = np.where(hit, 0.0, extra)
            imp = imp & ~hit  # a hit's latency is the declared hit_latency_ms, its key a recorded one
            calls = int(run.sum())
            hit_rates[op_id] = float(hit[run].sum() / calls) if calls else 0.0
            note = f"cache hit rate {hit_rates[op_id]:.0%}"
            notes[op_id] = f"{notes[op_id]}; {note}{key_note}" if op_id in notes else note + key_note
        fi = finish[i]
        np.add(start, gap, out=fi)
        fi += lat
        fi *= run  # masked ufuncs (where=) are slower than a multiply by the mask
        np.maximum(e2e, fi, out=e2e)
        np.greater(run, stp, out=alive[i])  # run and not stopped
        if off is not None:  # its successors go on from its predecessors
            fi += start * off
            alive[i] |= off
        np.logical_and(run, imp, out=imputed[i])
        cost += c * run
        # busy time counts every call: the calls' times added up, not the window they share
        ran_lat = (lat + extra) * run
        # mean busy ms per request (no np.dot: BLAS threads thrash on a busy machine)
        if base.uniform:
            busy[op_id] = float(ran_lat.sum()) / n if n else 0.0
        else:
            busy[op_id] = float((ran_lat * base.weight).sum())
        acc = svc_busy.get(op.service)
        if acc is None:
            svc_busy[op.service] = ran_lat  # owned from here on: accumulated in place below
        else:
            acc += ran_lat
    return Replay(
        op_ids=tuple(order),
        rows=rows,
        latency_ms=e2e,
        cost_usd=cost,
        ran=ran.T,
        imputed=imputed.T,
        notes=MappingProxyType(notes),
        cache_hit_rate=MappingProxyType(hit_rates),
        busy_ms=MappingProxyType(busy),
        service_busy=MappingProxyType(svc_busy),
    )


def _samples(
    recipe: Recipe,
    original: Recipe,
    profile: Profile,
    base: ReplayBase,
    op: Operation,
    orig: Operation | None,
    j: int | None,
    run: np.ndarray,
    substituted: bool,
    rng: np.random.Generator,
    notes: dict[str, str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Latency, cost, halted-or-failed mask, gap, imputed mask and extra busy time (the calls' times
    added up minus the latency: :attr:`ReplayBase.extra0`) of one operation, per replayed request.

    The arrays may be views of the prepared profile columns: callers must not modify them in place.
    """
    n = base.rows.size
    if j is not None:
        lat, c, stp, gap, imp = base.lat0[j], base.cost0[j], base.stop0[j], base.gap[j], base.imp0[j]
        extra = base.extra0[j]
        st = base.status[j]
        need = np.flatnonzero(run & imp)
        if need.size:  # copy on write: only operations that need imputed samples pay for copies
            lat, c, st, gap, extra = lat.copy(), c.copy(), st.copy(), gap.copy(), extra.copy()
            donors = base.donors[op.id]
            if donors.size == 0:
                prior = _lognormal_prior(op, None)
                if prior is None:
                    raise MutationError(
                        f"operation '{op.id}' must run in {counted(need.size, 'request')}, but the logs hold no span "
                        "and it has no expected latency: check the mapping (--map) or its action and service against "
                        "the spans, or give it expected: {latency_ms: {p50: 12, p95: 25}}",
                        code="no-data", file=recipe.source,
                        line=recipe.position("operations", recipe.op_index(op.id))[0],
                    )
                lat[need] = rng.lognormal(prior[0], prior[1], need.size)
                c[need] = _prior_cost(op, None)
                st[need] = 1
                gap[need] = 0.0
                extra[need] = 0.0
            else:
                pick = donors[rng.integers(0, donors.size, need.size)]
                lat[need] = base.lat0[j, pick]
                c[need] = base.cost0[j, pick]
                st[need] = base.status[j, pick]
                gap[need] = base.gap[j, pick]
                extra[need] = base.extra0[j, pick]
            stp = (st == ST_HALTED) | (st == ST_ERROR)
        if not substituted:
            return lat, c, stp, gap, imp, extra
        alt = _find_alternative(recipe, original, op)
        alt_col = base.col.get(alt.id) if alt is not None else None
        alt_donors = base.donors[alt.id] if alt is not None and alt_col is not None else np.zeros(0, dtype=int)
        if alt is not None and alt_col is not None and alt_donors.size:
            pick = alt_donors[rng.integers(0, alt_donors.size, n)]
            new_lat = base.lat[alt_col, pick]
            notes[op.id] = f"substitute {op.action}: latency drawn from the recorded {alt.id}"
        else:
            prior = _lognormal_prior(op, alt)
            if prior is None:
                raise MutationError(
                    f"substitute {op.service}/{op.action} for '{op.id}' was never recorded and has no "
                    "expected latency prior",
                    code="no-data",
                    file=recipe.source,
                    line=recipe.position("operations", recipe.op_index(op.id))[0],
                )
            new_lat = rng.lognormal(prior[0], prior[1], n)
            notes[op.id] = (
                f"substitute {op.action}: latency drawn from its prior "
                f"(lognormal, p50 {ms_short(math.exp(prior[0]))}, p95 {ms_short(math.exp(prior[0] + _Z95 * prior[1]))})"
            )
        # one call per drawn cell; a fan-out's calls are redrawn by :func:`_fanout`
        return new_lat, np.full(n, _prior_cost(op, alt)), stp, gap, np.ones(n, dtype=bool), np.zeros(n)
    prior = _lognormal_prior(op, _find_alternative(recipe, original, op))
    if prior is None:
        raise MutationError(
            f"operation '{op.id}' was never recorded and has no expected latency prior",
            code="no-data",
            file=recipe.source,
            line=recipe.position("operations", recipe.op_index(op.id))[0],
        )
    notes[op.id] = "never recorded: latency drawn from its expected prior"
    return (
        rng.lognormal(prior[0], prior[1], n),
        np.full(n, _prior_cost(op, None)),
        np.zeros(n, dtype=bool),
        np.zeros(n),
        np.ones(n, dtype=bool),
        np.zeros(n),
    )


def _fanout(
    recipe: Recipe,
    original: Recipe,
    base: ReplayBase,
    op: Operation,
    orig: Operation,
    j: int,
    substituted: bool,
    samples: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
    notes: dict[str, str],
    ctx: CallContext,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """Latency, cost, imputed mask and extra busy time of an operation whose fan-out changed, or
    which gains a cache or a hedge on calls recorded several to a request, rebuilt from its
    recorded calls (:func:`recipemut.predict.fanout.reshaped`,
    :func:`recipemut.predict.percall.calls_replayed`); ``samples`` unchanged otherwise and where a
    request has no recorded call. The last value says whether the cache and hedge were replayed
    per call (the caller then leaves them alone)."""
    lat, c, imp, extra = samples
    shape = (op.concurrency, op.dedupe, op.batch_size)
    reshape = substituted or shape != (orig.concurrency, orig.dedupe, orig.batch_size)
    cache_new = op.cache is not None and (orig.cache != op.cache or substituted)
    hedge_new = op.hedge is not None and (orig.hedge != op.hedge or substituted)
    if not reshape and not cache_new and not hedge_new:
        return lat, c, imp, extra, False  # the common case, decided without reading the calls
    calls = base.op_calls(op.id)
    width = int(calls.ms.shape[1])  # most calls in a request
    per_call = width > 1 and not substituted and (cache_new or hedge_new)
    if not per_call and not fanout.fanout_changed(op, orig, substituted, width):
        return lat, c, imp, extra, False
    if per_call:
        calls, keep, note = calls_replayed(
            op, orig, base.rows, base.req_start, j, calls, ctx, rng, cache_new, hedge_new
        )
        if not fanout.fanout_changed(op, orig, substituted, width):
            # the recorded shape kept: the recorded cell, scaled by what the calls now take on the
            # operation's slots (gaps between calls and overlap as recorded)
            k = max(op.concurrency, 1)
            before = fanout.makespan(np.where(keep, base.op_calls(op.id).ms, np.nan), k)
            after = fanout.makespan(np.where(keep, calls.ms, np.nan), k)
            where = calls.recorded & ctx.run
            with np.errstate(all="ignore"):
                cell = np.where(before > 0, base.lat0[j] * after / before, base.lat0[j])
            summed = np.where(keep, calls.ms, 0.0).sum(axis=1)
            cost = np.where(keep, np.nan_to_num(calls.cost), 0.0).sum(axis=1)
            notes[op.id] = f"{notes[op.id]}; {note}" if op.id in notes else note
            return (
                np.where(where, cell, lat),
                np.where(where, cost, c),
                np.where(where, False, imp),
                np.where(where, summed - cell, extra),
                True,
            )
    alt = _find_alternative(recipe, original, op) if substituted else None
    prior, prior_cost = _lognormal_prior(op, alt), _prior_cost(op, alt)
    try:
        # the calls that run, added up: their makespan on one slot (the same draws, from a copy of rng)
        one = None
        if substituted and op.concurrency > 1:
            single = dataclasses.replace(op, concurrency=1)
            one = fanout.reshaped(single, orig, calls, substituted=True, prior=prior, prior_cost=prior_cost,
                                  rng=copy.deepcopy(rng))
        r = fanout.reshaped(op, orig, calls, substituted=substituted, prior=prior, prior_cost=prior_cost, rng=rng)
    except ValueError:
        raise MutationError(
            f"substitute {op.service}/{op.action} for '{op.id}' has no expected latency prior to time its calls",
            code="no-data",
            file=recipe.source,
            line=recipe.position("operations", recipe.op_index(op.id))[0],
        ) from None
    if substituted:
        summed = (one if one is not None else r).latency
    else:
        kept = ~np.isnan(calls.ms)
        if op.dedupe and not orig.dedupe:
            kept &= fanout.first_of_key(calls.keys)
        summed = np.where(kept, calls.ms, 0.0).sum(axis=1)
    note = r.note if not per_call else f"{note}; {r.note}"
    notes[op.id] = f"{notes[op.id]}; {note}" if op.id in notes else note
    lat = np.where(r.where, r.latency, lat)
    if r.cost_changed or per_call:
        c = np.where(r.where, r.cost, c)
    return lat, c, np.where(r.where, r.imputed, imp), np.where(r.where, summed - r.latency, extra), per_call


def _hedge(
    op: Operation,
    lat: np.ndarray,
    c: np.ndarray,
    base: ReplayBase,
    j: int | None,
    rng: np.random.Generator,
    *,
    pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Latency and cost under a hedge (:func:`~recipemut.predict.hedgemodel.hedged_latency`); extras are paid.

    Duplicates are drawn from ``pool`` when given (a substitute's latencies), else from the
    operation's recorded calls.
    """
    from recipemut.predict.hedgemodel import hedged_latency

    assert op.hedge is not None
    if pool is not None and np.isfinite(pool).any():
        samples = pool
    elif j is None or base.donors[op.id].size == 0:
        return lat, c
    else:
        samples = base.lat[j, base.donors[op.id]]
    out, extra = hedged_latency(lat, op.hedge.after_ms, rng, samples, max_extra=op.hedge.max_extra)
    return out, c + extra * np.where(np.isfinite(c), c, 0.0)


def _keyed_calls(
    op: Operation, orig: Operation | None, base: ReplayBase, j: int, run: np.ndarray
) -> tuple[np.ndarray, str]:
    """The replayed calls of ``op`` that carry a recorded cache key a cache in front of ``op`` may
    use (:func:`recipemut.predict.percall.keys_usable`), and what a note should add about them."""
    usable, note = keys_usable(op, orig)
    return (run & ~base.imp0[j] if usable else np.zeros_like(run)), note


def _cache_hits(
    op: Operation, profile: Profile, base: ReplayBase, j: int, calls: np.ndarray, start_ms: np.ndarray
) -> np.ndarray:
    """Which replayed calls of ``op`` a cache in front of it serves (see :mod:`recipemut.predict.cachesim`);
    replayed once per distinct calls on ``base`` (most candidates leave a cache's calls as they were)."""
    assert op.cache is not None
    frac = profile.request_fraction  # the logs' requests a sample of the traffic's: corrected repeats
    memo = base.cache_replays
    if base.sampled:
        # replay the full recorded trace so sampling does not dilute repeats, then read our rows;
        # those calls are profile column j's whatever the candidate: named, not compared
        times = profile.request_start_ms + np.where(
            np.isnan(profile.start_offset_ms[:, j]), 0.0, profile.start_offset_ms[:, j]
        )
        ttl, cap, column = op.cache.ttl_s, op.cache.max_entries, ("column", profile, j)
        full = memo.replay(times, profile.cache_key[:, j], ttl, cap, fraction=frac, inputs_id=column).hits
        return full[base.rows] & calls
    keys = np.where(calls, base.key[j], -1)
    times = base.req_start + start_ms
    return memo.replay(times, keys, op.cache.ttl_s, op.cache.max_entries, fraction=frac).hits
