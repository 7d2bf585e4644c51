"""``fanout``: let more calls of a fan-out operation be in flight at once (raise ``concurrency``).

Valid when the operation has ``foreach`` (one call per item of a list), is not ``frozen``, its
logs show more than one call in some request and its calls are still the recorded ones (no
``batch`` gave them more items per call than the logged calls carried), and its ``concurrency`` is below the bound: the
declared capacity of its service (``replicas × concurrency_per_replica`` under ``services:``) and
the option ``fanout_max_concurrency`` (16), whichever is lower.

Needs a profile: ``k`` comes from the predicted gain curve. For every ``k`` from the current
concurrency to the bound, the recorded calls of each request are scheduled on ``k`` slots in their
recorded order (:func:`recipemut.predict.fanout.makespan`: greedy list scheduling, the replay's
model); the gain of ``k`` is the mean time the calls take per request now minus at ``k``, "now"
being their recorded window (first start to last end: what the replay of the unchanged operation
gives), or their makespan at the current concurrency when that is shorter. Calls that overlapped
in the logs are never counted as if they ran one after another. The candidate takes the smallest
``k`` whose gain is within ``fanout_tolerance`` (5%) of the best gain, and is proposed when that
gain is at least ``fanout_min_gain_ms`` (1 ms).
The model assumes calls in flight at once do not slow each other down; the sentence says so.

The edit, exactly: ``operations.<id>.concurrency`` set to ``k``.

>>> import numpy as np
>>> smallest_within([0.0, 40.0, 57.0, 60.0, 60.0], 0.05)  # gains at k = 1..5
3
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recipemut.files.units import counted, ms_short, ms_text
from recipemut.mutate.mutation import COUNT, Condition, EditForm, EditShape, Mutation, target
from recipemut.mutate.operators._base import OperatorContext, assessing, set_on_operation
from recipemut.predict.fanout import makespan
from recipemut.recipe.model import Operation

NAME = "fanout"
SUMMARY = "run more calls of a fan-out (foreach) operation at once, k chosen on the gain curve of its recorded calls"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`).
EDITS = (
    EditForm(("operation",), (EditShape("set", ("operations", target(0), "concurrency"), COUNT, required=True),),
             (Condition("foreach"),)),
)


def no_foreach_reason(ctx: OperatorContext, op: Operation) -> str | None:
    """Why a fan-out operator cannot work on ``op``, which has no ``foreach``, when its logs show
    several calls per request (the N+1 pattern); None when they show one call (nothing to say)."""
    p = ctx.profile
    c = p.call_stats(op.id) if p is not None and ctx.observed(op.id) else None
    if c is None or c.several == 0:
        return None
    lists = [f for f in op.consumes if (spec := ctx.recipe.fields.get(f)) is not None and spec.type == "array"]
    field = lists[0] if lists else "<the list field it consumes>"
    return (
        f"no foreach (its logs show {c.calls_mean:.1f} calls per request, up to {c.calls_max}: "
        f"add `foreach: {field}` first)"
    )


def rebatched_reason(ctx: OperatorContext, op: Operation) -> str | None:
    """Why the recorded calls of ``op`` no longer describe its calls: the recipe batches more items per
    call than the logged calls carried (a ``batch`` step came first); None when they still do."""
    c = ctx.profile.call_stats(op.id) if ctx.profile is not None else None
    logged = c.items_per_call if c is not None and np.isfinite(c.items_per_call) else 1.0
    if op.batch_size <= max(logged, 1.0) + 1e-9:
        return None
    return (
        f"its calls are batches of {op.batch_size} items now, and the logs recorded calls of "
        f"{counted(logged, 'item')}: the recorded calls no longer say how its calls would go"
    )


def capacity(ctx: OperatorContext, op: Operation) -> tuple[int, str]:
    """The most calls of ``op`` in flight at once a fan-out operator proposes, and what sets it."""
    cap = int(ctx.option("fanout_max_concurrency"))
    svc = ctx.recipe.services.get(op.service)
    if svc is not None and svc.capacity < cap:
        return svc.capacity, (
            f"the declared capacity of `{op.service}` ({svc.replicas} replicas × {svc.concurrency_per_replica})"
        )
    return cap, f"the cap of {cap} (option fanout_max_concurrency)"


def smallest_within(gains: Sequence[float] | np.ndarray, tolerance: float) -> int:
    """The 1-based position of the first gain within ``tolerance`` (relative) of the best one."""
    g = np.asarray(gains, dtype=float)
    best = float(g.max())
    return int(np.flatnonzero(g >= best - tolerance * abs(best))[0]) + 1


def _taken_now(window: np.ndarray, durations: np.ndarray, now: int) -> np.ndarray:
    """Per request, the time the calls take before the change: their recorded window (what the
    replay of an unchanged fan-out gives), or their makespan on ``now`` slots when that is shorter
    (a concurrency raised since the logs were recorded). Calls that overlapped in the logs are
    never counted as if they ran one after another.

    >>> _taken_now(np.array([189.0, 30.0]), np.array([[50.0, 50.0, 50.0], [10.0, 10.0, 10.0]]), 1).tolist()
    [150.0, 30.0]
    """
    return np.fmin(window, makespan(durations, now))


def _assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
    """The candidate for ``op_id``, or why there is none (None: nothing worth saying)."""
    p = ctx.profile
    op = ctx.recipe.ops[op_id]
    if op.foreach is None:
        return no_foreach_reason(ctx, op)
    if op_id in ctx.frozen:
        return "frozen: its calls are not rescheduled"
    if p is None or not ctx.observed(op_id):
        return "no call of it in the logs"
    rebatched = rebatched_reason(ctx, op)
    if rebatched is not None:
        return rebatched
    d = p.call_durations(op_id)
    per_request = (~np.isnan(d)).sum(axis=1)
    if int(per_request.max(initial=0)) <= 1:
        return "its logs show at most one call per request: there is nothing to run at once"
    cap, bound = capacity(ctx, op)
    now = op.concurrency
    if now >= cap:
        return f"already at capacity: concurrency {now}, and {bound} allows {cap}"
    ran = per_request > 0
    ks = range(now, cap + 1)
    spans = np.array([float(np.mean(makespan(d[ran], k))) for k in ks])
    gains = float(np.mean(_taken_now(p.latency_ms[ran, p.col(op_id)], d[ran], now))) - spans
    best_i = int(np.argmax(gains))
    pick = smallest_within(gains, float(ctx.option("fanout_tolerance"))) - 1
    k, gain = ks[pick], float(gains[pick])
    if k == now or gain < float(ctx.option("fanout_min_gain_ms")):
        return (
            f"no gain: scheduling its recorded calls on up to {cap} slots ({bound}) saves "
            f"{ms_text(max(float(gains[best_i]), 0.0))} per request at most"
        )
    tol = float(ctx.option("fanout_tolerance"))
    calls = float(per_request[ran].mean())
    reason = (
        f"`{op_id}` runs {k} of its calls over `{op.foreach}` at once instead of {now} (`concurrency: {k}`): it "
        f"makes {calls:.1f} calls per request (up to {int(per_request.max())}), which take "
        f"{ms_short(float(spans[pick]))} per request instead of {ms_short(float(spans[pick]) + gain)} "
        f"({ms_text(gain)} less) when its recorded calls are scheduled on {k} slots; {k} is the smallest "
        f"concurrency within {tol:.0%} of the best gain "
        f"({ms_text(float(gains[best_i]))} at {ks[best_i]}) up to {cap}, {bound}; calls in flight at once can "
        f"slow each other down on `{op.service}`, which this prediction assumes they do not"
    )
    return set_on_operation(ctx, NAME, op_id, "concurrency", k, reason)


generate, why_not = assessing(
    _assess,
    needs_profile=True,
    generate="One candidate per fan-out operation whose calls finish sooner with more of them in flight.",
    why_not="Operations called several times per request that get no candidate, and why.",
)
