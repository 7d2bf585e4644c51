"""Replaying a fan-out operation's calls one by one: a cache per item key and a hedge per call.

An operation called several times per request (``foreach``) keeps every recorded call
(:meth:`recipemut.profile.build.Profile.call_durations`, ``call_keys``, ``call_costs``). A cache or
a hedge in front of it acts on each call, not on the request's window of calls:

* a hedge on each call's time (:func:`recipemut.predict.hedgemodel.hedged_latency` over the
  (requests × calls) matrix; duplicates drawn from the recorded calls' times, each one paid at
  the call's cost);
* then a cache on each call's recorded key (:func:`recipemut.predict.cachesim.call_hits`): a hit
  takes ``hit_latency_ms`` at no cost; a key repeated within one request hits from its second call;
  on a sample of the requests (``Profile.request_fraction`` < 1) repeats across requests are
  replayed with the TTL divided by the fraction (:mod:`recipemut.predict.cachesim`);
* the calls are then scheduled on the operation's ``concurrency`` slots
  (:func:`recipemut.predict.fanout.makespan`) by the simulator (see docs/internals.md, "Fan-out
  replay").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recipemut.files.units import counted, ms_text
from recipemut.predict import fanout
from recipemut.predict.cachesim import call_hits
from recipemut.predict.hedgemodel import hedged_latency
from recipemut.profile.build import Profile
from recipemut.recipe.model import Operation


@dataclass(frozen=True, eq=False)
class CallContext:
    """What replaying a fan-out operation's calls needs beyond its samples."""

    profile: Profile
    run: np.ndarray  # (n,) bool: the operation runs
    start: np.ndarray  # (n,) ms from the request's start: when the operation starts
    hit_rates: dict[str, float]  # written: the cache hit rate over the calls that run


def keys_usable(op: Operation, orig: Operation | None) -> tuple[bool, str]:
    """Whether the recorded cache keys of ``orig``'s calls serve a cache in front of ``op``, and what a
    note should add about them.

    A recorded key is a hash of the values the *recorded* operation consumed, whichever
    implementation served the call. So it stays valid when a substitute consumes the same fields
    (exact), and gives a lower bound on the hits when the substitute consumes a subset of them
    (equal recorded keys imply equal values of the subset; it may repeat more often than that).
    Consuming any other field makes the recorded keys say nothing: no call is keyed.
    """
    if orig is None:
        return True, ""
    now, then = set(op.consumes), set(orig.consumes)
    if now == then:
        return True, ""
    if now < then:
        return True, f" (a lower bound: keys recorded on {sorted(then)}, the cache keys on {sorted(now)})"
    return False, f" (no recorded key: the logs hashed {sorted(then)}, the cache keys on {sorted(now)})"


def calls_replayed(
    op: Operation,
    orig: Operation,
    rows: np.ndarray,
    req_start: np.ndarray,
    j: int,
    calls: fanout.OpCalls,
    ctx: CallContext,
    rng: np.random.Generator,
    cache_new: bool,
    hedge_new: bool,
) -> tuple[fanout.OpCalls, np.ndarray, str]:
    """The recorded calls of a fan-out operation under a hedge and a cache, each applied per call:
    a hedge to each call's time (duplicates drawn from the recorded calls' times, each one paid),
    then a hit of the cache (on the call's recorded key) takes ``hit_latency_ms`` at no cost. Also
    the calls that run (a newly deduped repeat does not) and the note. Calls are not rescheduled here."""
    ms, cost = calls.ms, np.nan_to_num(calls.cost)
    keep = ~np.isnan(ms) & ctx.run[:, None]
    if op.dedupe and not orig.dedupe:
        keep &= fanout.first_of_key(calls.keys)
    parts = []
    if hedge_new:
        assert op.hedge is not None
        ms, extra = hedged_latency(ms, op.hedge.after_ms, rng, calls.ms, max_extra=op.hedge.max_extra)
        cost = cost + extra * cost
        sent = int(np.where(keep, extra, 0).sum())
        after = ms_text(op.hedge.after_ms, decimals=None)
        kept = counted(int(keep.sum()), "call")
        parts.append(f"hedged after {after}, per call ({counted(sent, 'duplicate')}, {kept})")
    if cache_new:
        assert op.cache is not None
        usable, key_note = keys_usable(op, orig)
        keys = np.where(keep & usable, calls.keys, -1)
        spec = op.cache
        if rows.size < ctx.profile.n_requests:  # the full recorded trace, so sampling does not dilute repeats
            p = ctx.profile
            all_keys = p.call_keys(op.id)
            if op.dedupe and not orig.dedupe:
                all_keys = np.where(fanout.first_of_key(all_keys), all_keys, -1)
            t = p.request_start_ms + np.nan_to_num(p.start_offset_ms[:, j], nan=0.0)
            hit = call_hits(t, all_keys, spec.ttl_s, spec.max_entries, fraction=p.request_fraction)[rows]
            hit &= keys >= 0
        else:  # the recorded requests, themselves a sample of the traffic when ingest sampled them
            frac = ctx.profile.request_fraction
            hit = call_hits(req_start + ctx.start, keys, spec.ttl_s, spec.max_entries, fraction=frac)
        ms = np.where(hit, spec.hit_latency_ms, ms)
        cost = np.where(hit, 0.0, cost)
        n_calls = int(keep.sum())
        ctx.hit_rates[op.id] = float(hit.sum() / n_calls) if n_calls else 0.0
        parts.append(f"cache hit rate {ctx.hit_rates[op.id]:.0%} of its calls, per item key{key_note}")
    out = fanout.OpCalls(ms=ms, cost=np.where(np.isnan(calls.ms), np.nan, cost), items=calls.items, keys=calls.keys)
    return out, keep, "; ".join(parts)
