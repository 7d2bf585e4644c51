"""``dedupe``: fetch the identical items of one request once (``dedupe: true``).

Valid when the operation has ``foreach``, is ``deterministic`` (an identical item gets the same
answer, so one call can serve every copy), has no ``external`` side effects (a skipped call must
not be an action someone expects), is not ``frozen``, does not dedupe yet, and its calls are still
the recorded ones (no ``batch`` gave them more items per call than the logged calls carried).

Needs a profile: the logs must carry a ``cache_key`` per call (the item's identity). A call is
saved when an earlier call of the same request had the same key
(:func:`recipemut.predict.fanout.first_of_key`); proposed when the saved calls are at least
``dedupe_min_saved_share`` (2%) of the operation's calls. The sentence gives that share, the
requests it happens in and the time of the saved calls.

The edit, exactly: ``operations.<id>.dedupe`` set to ``true``.
"""

from __future__ import annotations

import numpy as np

from recipemut.files.units import ms_short
from recipemut.mutate.mutation import TRUE, Condition, EditForm, EditShape, Mutation, target
from recipemut.mutate.operators._base import OperatorContext, assessing, set_on_operation
from recipemut.mutate.operators.fanout import no_foreach_reason, rebatched_reason
from recipemut.predict.fanout import first_of_key

NAME = "dedupe"
SUMMARY = "fetch the identical items of one request once, for a deterministic fan-out operation whose keys repeat"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`).
EDITS = (
    EditForm(("operation",), (EditShape("set", ("operations", target(0), "dedupe"), TRUE, required=True),),
             (Condition("foreach"), Condition("deterministic"), Condition("not-external"))),
)


def _assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
    """The candidate for ``op_id``, or why there is none (None: nothing worth saying)."""
    p = ctx.profile
    op = ctx.recipe.ops[op_id]
    if op.dedupe:
        return None
    if not op.deterministic or op.side_effects == "external":
        if op.foreach is None:
            return None
        return (
            "not deterministic: identical items may get different answers"
            if not op.deterministic
            else "external side effects: every call is an action that must happen"
        )
    if op.foreach is None:
        return no_foreach_reason(ctx, op)
    if op_id in ctx.frozen:
        return "frozen: its calls are not changed"
    if p is None or not ctx.observed(op_id):
        return "no call of it in the logs"
    rebatched = rebatched_reason(ctx, op)
    if rebatched is not None:
        return rebatched
    keys = p.call_keys(op_id)
    d = p.call_durations(op_id)
    called = ~np.isnan(d)
    calls = int(called.sum())
    if not bool((keys[called] >= 0).any()):
        return "its logs carry no cache_key per call: repeated items cannot be seen"
    saved = called & ~first_of_key(keys)
    n_saved = int(saved.sum())
    if n_saved == 0:
        return f"keys never repeat within a request ({calls:,} calls)"
    share = n_saved / calls
    if share < float(ctx.option("dedupe_min_saved_share")):
        return (
            f"keys rarely repeat within a request: {n_saved:,} of {calls:,} calls ({share:.1%}), under "
            f"{float(ctx.option('dedupe_min_saved_share')):.0%} (option dedupe_min_saved_share)"
        )
    ran = called.any(axis=1)
    with_repeats = int(saved.any(axis=1).sum())
    saved_ms = float(np.where(saved, d, 0.0).sum(axis=1)[ran].mean())
    reason = (
        f"`{op_id}` fetches each item once per request (`dedupe: true`), saving {share:.1%} of its calls: it is "
        f"deterministic, and {n_saved:,} of its {calls:,} logged calls have the cache key of an earlier call of the "
        f"same request (in {with_repeats:,} of {int(ran.sum()):,} requests), {ms_short(saved_ms)} of calls per request "
        f"on average"
    )
    return set_on_operation(ctx, NAME, op_id, "dedupe", True, reason)


generate, why_not = assessing(
    _assess,
    needs_profile=True,
    generate="One candidate per deterministic fan-out operation whose items repeat within requests.",
    why_not="Fan-out operations (or ones called several times per request) that get no candidate, and why.",
)
