"""``hedge``: send a duplicate request to an operation with a heavy latency tail.

Valid when the operation has no ``external`` side effects (a duplicate of an ``idempotent`` call is
harmless), is not ``frozen``, has no hedge yet, and, in the profile, at least ``hedge_min_calls``
(100) ok calls with ``p99 / p50 >= hedge_tail_ratio`` (4.0: a lognormal body alone rarely exceeds
3). The delay is chosen by
:func:`recipemut.predict.hedgemodel.choose` among quantiles ``hedge_quantiles`` (p90, p95, p99) of the
op's own latency: the one with the lowest predicted p99 among those adding at most
``hedge_max_extra_rate`` (10%) extra calls (an operation called several times per request:
its calls' times, and the hedge acts on each call); proposed only when that p99 is at least
``hedge_min_p99_gain`` (10%) lower. The latency model (independent duplicate latency,
``min(L1, after + L2)``) is :func:`recipemut.predict.hedgemodel.hedged_latency`, which the simulator uses.

An operation whose logged calls have such a tail but gets no candidate is said why (:func:`why_not`,
``suggest --explain``): external side effects, frozen, fewer than ``hedge_min_calls`` calls, every
delay adding too many calls, or too little p99 gain.

The edit, exactly: ``operations.<id>.hedge`` set to ``{after_ms, max_extra: 1}``.
"""

from __future__ import annotations

import numpy as np

from recipemut.files.units import ms_short
from recipemut.mutate.mutation import MAPPING, Condition, EditForm, EditShape, Mutation, target
from recipemut.mutate.operators._base import OperatorContext, assessing, set_on_operation
from recipemut.predict import hedgemodel
from recipemut.profile.build import ST_OK

NAME = "hedge"
SUMMARY = "duplicate a call to an operation with a heavy latency tail after a delay (extra calls counted in cost)"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
EDITS = (
    EditForm(("operation",), (EditShape("set", ("operations", target(0), "hedge"), MAPPING, required=True),),
             (Condition("not-external"),)),
)


def _assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
    """The candidate for ``op_id``, or why there is none (None: nothing worth saying).

    Only an operation whose logged calls show a heavy tail gets a reason: that is where a hedge is expected.
    """
    p = ctx.profile
    r = ctx.recipe
    op = r.ops[op_id]
    if p is None or op.hedge is not None or not ctx.observed(op_id):
        return None
    j = p.col(op_id)
    # each call's time (a fan-out: every call of the requests that ended ok; a hedge acts per call)
    calls = p.call_durations(op_id)
    fan_out = calls.shape[1] > 1
    lat = calls[p.status[:, j] == ST_OK].ravel()
    lat = lat[np.isfinite(lat)] if fan_out else lat
    finite = lat[np.isfinite(lat)]
    if finite.size < 2:
        return None
    p50, p99 = (float(v) for v in np.quantile(finite, [0.5, 0.99]))
    tail_ratio = float(ctx.option("hedge_tail_ratio"))
    if p50 <= 0 or p99 / p50 < tail_ratio:
        return None
    tail = f"a heavy tail (p99 {ms_short(p99)} is {p99 / p50:.1f}x its p50 {ms_short(p50)})"
    if op.side_effects == "external":
        return f"{tail}, but external side effects: a duplicate call would repeat an action"
    if op_id in ctx.frozen:
        return f"{tail}, but frozen: its calls are not changed"
    min_calls = int(ctx.option("hedge_min_calls"))
    if lat.size < min_calls:
        return f"{tail}, but only {lat.size:,} ok calls in the logs, under {min_calls:,} (option hedge_min_calls)"
    choice = hedgemodel.choose(
        lat,
        quantiles=tuple(ctx.option("hedge_quantiles")),
        max_extra_rate=float(ctx.option("hedge_max_extra_rate")),
        seed=int(ctx.option("seed")),
    )
    min_gain = float(ctx.option("hedge_min_p99_gain"))
    if choice is None:
        return (
            f"{tail}, but every delay tried would add more than "
            f"{float(ctx.option('hedge_max_extra_rate')):.0%} extra calls (option hedge_max_extra_rate)"
        )
    if choice.p99_after_ms > (1 - min_gain) * p99:
        return (
            f"{tail}, but the best delay ({ms_short(choice.after_ms)}, its p{choice.quantile * 100:g}) brings its "
            f"p99 only to {ms_short(choice.p99_after_ms)}, less than {min_gain:.0%} lower (option hedge_min_p99_gain)"
        )
    after = round(choice.after_ms, 1)
    ratio = choice.p99_before_ms / choice.p50_ms
    reason = (
        f"`{op_id}` has a heavy tail (p99 {ms_short(choice.p99_before_ms)} is {ratio:.1f}x its p50 "
        f"{ms_short(choice.p50_ms)}); re-sending a call unanswered after {ms_short(after)} "
        f"(its p{choice.quantile * 100:g}) gives a predicted p99 of {ms_short(choice.p99_after_ms)} for "
        f"{choice.extra_rate:.1%} extra calls, assuming the duplicate's latency is independent of the original's"
    )
    if fan_out:
        reason = reason.replace("has a heavy tail (", "has a heavy tail per call (", 1) + (
            ", on each of its calls (the calls then run as scheduled now)"
        )
    return set_on_operation(ctx, NAME, op_id, "hedge", {"after_ms": after, "max_extra": 1}, reason)


generate, why_not = assessing(
    _assess,
    needs_profile=True,
    generate="One candidate per heavy-tailed operation where a hedge lowers the predicted p99.",
    why_not="Heavy-tailed operations that get no hedge, and why (side effects, too few calls, too little gain).",
)
