"""``cache``: put a cache in front of a deterministic operation whose calls repeat.

Valid when the operation is ``deterministic`` (same consumed values, same products: so the cache
key is its consumed fields), has no ``external`` side effects (a hit skips the call; an
``idempotent`` effect repeated on the same values is by definition already done), is not
``frozen`` and has no cache yet. A guard (``may_halt``) may be cached: being deterministic, its
halt decision is a function of the key too.

Needs a profile: the TTL and capacity come from replaying the operation's logged ``cache_key``s in
time order, one per call (an operation called several times per request, ``foreach``: one key per
item, the request's calls in recorded order; a key repeated within a request hits from its second
call, as :func:`recipemut.predict.cachesim.call_hits` replays it). The choice is
:func:`recipemut.predict.cachesim.choose`: the shortest TTL reaching 90% of the best hit rate among
``cache_ttls_s``; capacity = peak live entries + 25%, rounded, capped at ``cache_max_entries``.
On a sample of the requests (``--sample-requests`` or the memory budget: ``Profile.request_fraction``
F < 1) the replay uses a TTL of ``T / F`` for the TTL ``T`` it judges, so the hit rate is the full
traffic's, not the thinned stream's (:mod:`recipemut.predict.cachesim`, "A sample of the requests").
Skipped when the hit rate is below ``cache_min_hit_rate`` (5%) or the logs carry no key for it;
:func:`why_not` then says which (``suggest --explain``): for every deterministic operation without a
cache that gets no candidate, e.g. "keys never repeat in the logs (0 of 2,000 requests share a key;
keyed on [cart])", "keys rarely repeat: ...", "its keys repeat too far apart: ...", "frozen: ...",
"external side effects: ...", "its logs carry no cache_key: ...", "no call of it in the logs".

The edit, exactly: ``operations.<id>.cache`` set to ``{ttl_s, max_entries, hit_latency_ms}``
(``hit_latency_ms`` from the option ``cache_hit_latency_ms``, 1 ms by default).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recipemut.files.units import ms_short
from recipemut.mutate.mutation import MAPPING, Condition, EditForm, EditShape, Mutation, target
from recipemut.mutate.operators._base import OperatorContext, assessing, fmt_fields, set_on_operation
from recipemut.predict import cachesim

NAME = "cache"
SUMMARY = (
    "cache a deterministic operation's results (key = consumed fields), TTL and size chosen by replaying cache keys"
)

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
EDITS = (
    EditForm(("operation",), (EditShape("set", ("operations", target(0), "cache"), MAPPING, required=True),),
             (Condition("deterministic"), Condition("not-external"))),
)


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def _assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
    """The candidate for ``op_id``, or why there is none (None: nothing worth saying).

    Only a deterministic operation without a cache gets a reason: any other is no cache's business.
    """
    p = ctx.profile
    op = ctx.recipe.ops[op_id]
    if not op.deterministic or op.cache is not None:
        return None
    if op.side_effects == "external":
        return "external side effects: a hit would skip an action that must happen"
    if op_id in ctx.frozen:
        return "frozen: its calls are not changed"
    if p is None or not ctx.observed(op_id):
        return "no call of it in the logs"
    j = p.col(op_id)
    # one key per call (a fan-out: per item), a request's calls in recorded order at its start
    per_call = p.call_keys(op_id)
    offset = np.nan_to_num(p.start_offset_ms[:, j], nan=0.0)
    keys = per_call.ravel()
    times = np.where(per_call >= 0, (p.request_start_ms + offset)[:, None], np.nan).ravel()
    fan_out = per_call.shape[1] > 1
    min_hit_rate = float(ctx.option("cache_min_hit_rate"))
    unknown = _unrepeated(keys, fan_out, op.consumes, min_hit_rate)
    if unknown is not None:
        return unknown
    choice = cachesim.choose(
        times,
        keys,
        ttls_s=tuple(ctx.option("cache_ttls_s")),
        max_entries_cap=int(ctx.option("cache_max_entries")),
        min_hit_rate=min_hit_rate,
        fraction=p.request_fraction,  # a sample of requests sees fewer repeats: replayed with TTL / F
    )
    if choice is None or choice.replay.hit_rate < min_hit_rate:
        best_ttl, best = max(choice.tried, key=lambda t: t[1]) if choice is not None else (float("nan"), 0.0)
        return (
            f"its keys repeat too far apart: the best TTL tried ({best_ttl:g} s) answers {best:.1%} of its calls, "
            f"under {min_hit_rate:.0%} (option cache_min_hit_rate)"
        )
    hit_ms = float(ctx.option("cache_hit_latency_ms"))
    spec = {"ttl_s": _num(choice.ttl_s), "max_entries": choice.max_entries, "hit_latency_ms": _num(hit_ms)}
    rp = choice.replay
    s = p.stats(op_id)
    if fan_out:  # a hit replaces one call, not the request's window of calls
        d = p.call_durations(op_id)
        p50 = float(np.nanmedian(d)) if np.isfinite(d).any() else s.p50_ms
        reason = (
            f"`{op_id}` is deterministic and its items repeat: replaying the cache keys of its {rp.calls} "
            f"logged calls (one per item) in time order, a cache keyed on {fmt_fields(op.consumes)} with a "
            f"{choice.ttl_s:g} s TTL and {choice.max_entries:,} entries answers {rp.hit_rate:.1%} of the calls "
            f"in {ms_short(hit_ms)} instead of {ms_short(p50)} a call at p50; the calls that miss still run "
            f"{op.concurrency} at a time"
        )
    else:
        reason = (
            f"`{op_id}` is deterministic and its calls repeat: replaying its {rp.calls:,} logged cache keys in "
            f"time order, a cache keyed on {fmt_fields(op.consumes)} with a {choice.ttl_s:g} s TTL and "
            f"{choice.max_entries:,} entries answers {rp.hit_rate:.1%} of them in {ms_short(hit_ms)} instead of "
            f"{ms_short(s.p50_ms)} at p50"
        )
    if rp.capacity_bound:
        reason += " (capacity binds: hit rate approximated by keeping the most requested keys)"
    return set_on_operation(ctx, NAME, op_id, "cache", spec, reason)


def _unrepeated(keys: np.ndarray, fan_out: bool, consumes: Sequence[str], min_hit_rate: float) -> str | None:
    """Why the logged keys leave no cache worth replaying (none, none repeated, too few repeated), else None.

    >>> _unrepeated(np.array([3, 4, 5, -1]), False, ("cart",), 0.05)
    'keys never repeat in the logs (0 of 3 requests share a key; keyed on [cart])'
    >>> _unrepeated(np.array([-1, -1]), True, ("cart",), 0.05)
    'its logs carry no cache_key: repeated calls cannot be seen'
    """
    valid = keys[keys >= 0]
    unit = "calls" if fan_out else "requests"
    if valid.size == 0:
        return "its logs carry no cache_key: repeated calls cannot be seen"
    _, counts = np.unique(valid, return_counts=True)
    shared = int(counts[counts > 1].sum())
    if shared == 0:
        keyed = fmt_fields(consumes)
        return f"keys never repeat in the logs (0 of {valid.size:,} {unit} share a key; keyed on {keyed})"
    bound = 1.0 - counts.size / valid.size  # every repeat a hit: what an unbounded cache could answer
    if bound < min_hit_rate:
        return (
            f"keys rarely repeat: {shared:,} of {valid.size:,} {unit} share a key, so a cache could answer "
            f"{bound:.1%} of them at most, under {min_hit_rate:.0%} (option cache_min_hit_rate)"
        )
    return None


generate, why_not = assessing(
    _assess,
    needs_profile=True,
    generate="One candidate per cacheable operation whose replayed hit rate is worth it.",
    why_not="Deterministic operations without a cache that get no candidate, and why (their keys never repeat, ...).",
)
