"""``batch``: serve a fan-out operation's items by a batched alternative, several items per call.

Valid when the operation has ``foreach``, is not ``frozen``, takes one item per call
(``batch_size`` 1), and the catalogue has an alternative with the same ``equivalence``, a
different service or action, and a ``max_batch`` (the batched form of the call) that could
replace it as :func:`recipemut.mutate.operators.substitute.unmet` says (its consumed fields are
available, it produces what is used downstream). Ordering constraints are re-checked.

Needs a profile: ``batch_size`` is ``min(max_batch, q)``, ``q`` the ``batch_quantile`` (p95) of
the items per request the logs show (the calls' logged ``items``, one per call where none is
logged), rounded up; not proposed when that is 1 (nothing to batch).

The edits, exactly: those of ``substitute`` on the operation (``service``, ``action``,
``cost_per_call_usd`` from the alternative or removed, ``substituted_from``, and ``consumes``,
``produces``, ``deterministic``, ``side_effects``, ``may_halt`` where the alternative differs), and
``operations.<id>.batch_size`` set.
"""

from __future__ import annotations

import math

import numpy as np

from recipemut.files.units import counted, ms_short
from recipemut.mutate.mutation import Condition, EditForm, EditShape, Mutation, ValueRule, target
from recipemut.mutate.operators._base import OperatorContext, assessing, make_mutation, mutation_ordering_problems
from recipemut.mutate.operators.fanout import no_foreach_reason
from recipemut.mutate.operators.substitute import EDITS as SUBSTITUTE_EDITS
from recipemut.mutate.operators.substitute import substitution_edits
from recipemut.mutate.operators.substitute import unmet as substitute_unmet
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Operation

NAME = "batch"
SUMMARY = "serve a fan-out operation by a batched alternative (max_batch), several items per call"

#: The edits this operator makes on its targets ``(operation, alternative)``, exactly: substitute's,
#: and ``batch_size`` at most the alternative's ``max_batch`` (checked by :mod:`recipemut.plan.check`).
EDITS = (
    EditForm(("operation", "alternative"), (
        *SUBSTITUTE_EDITS[0].edits,
        EditShape("set", ("operations", target(0), "batch_size"), ValueRule("count", 1, (("max_batch",),)),
                  required=True),
    ), (Condition("same-equivalence"), Condition("foreach"))),
)


def _batched(ctx: OperatorContext, op: Operation) -> list[Operation]:
    return [
        alt for alt in ctx.recipe.alternatives
        if op.equivalence is not None and alt.equivalence == op.equivalence and alt.max_batch is not None
        and (alt.service, alt.action) != (op.service, op.action)
    ]


def _edits(ctx: OperatorContext, op: Operation, alt: Operation, size: int) -> list[Edit]:
    """substitute's edits (the alternative's service, action, cost, ...) and ``batch_size``."""
    return [*substitution_edits(ctx, op, alt), Edit("set", ("operations", op.id, "batch_size"), size)]


def _assess(ctx: OperatorContext, op_id: str) -> list[Mutation] | str | None:
    """The candidates for ``op_id`` (one per batched alternative), or why there is none (None:
    nothing worth saying)."""
    p = ctx.profile
    op = ctx.recipe.ops[op_id]
    alts = _batched(ctx, op)
    if op.foreach is None:
        return no_foreach_reason(ctx, op) if alts else None
    if op_id in ctx.frozen:
        return "frozen: its calls are not changed"
    if op.batch_size > 1:
        return f"already batched (batch_size {op.batch_size})"
    if not alts:
        if op.equivalence is None:
            return "no batched alternative (it has no `equivalence` tag, so no catalogue entry stands for it)"
        return f"no batched alternative (no catalogue entry with equivalence `{op.equivalence}` declares max_batch)"
    if p is None or not ctx.observed(op_id):
        return "no call of it in the logs"
    items = np.nansum(p.call_items(op_id), axis=1)
    ran = ~np.isnan(p.call_durations(op_id)).all(axis=1)
    q = float(ctx.option("batch_quantile"))
    per_request = float(np.quantile(items[ran], q))
    out: list[Mutation] = []
    why: list[str] = []
    for alt in alts:
        assert alt.max_batch is not None
        size = min(alt.max_batch, math.ceil(per_request))
        if size < 2:
            why.append(f"its requests hold {counted(per_request, 'item')} at p{q * 100:g}: nothing to batch")
            continue
        unmet = substitute_unmet(ctx, op, alt)
        if unmet:
            why.append(f"`{alt.id}` cannot replace it: {'; '.join(unmet)}")
            continue
        expected = ""
        if alt.expected is not None and alt.expected.latency_p50_ms is not None:
            expected = f"; the catalogue expects {ms_short(alt.expected.latency_p50_ms)} at p50 per batched call"
        calls_now = math.ceil(per_request / op.batch_size)
        reason = (
            f"`{op_id}` fetches the items of `{op.foreach}` {size} per call from {alt.service}/{alt.action} "
            f"(`batch_size: {size}`; catalogue entry `{alt.id}`, same equivalence `{op.equivalence}`, up to "
            f"{alt.max_batch} items per call): a request of {per_request:g} items (its p{q * 100:g}) needs "
            f"{counted(math.ceil(per_request / size), 'call')} instead of {calls_now}{expected}"
        )
        m = make_mutation(ctx, NAME, f"{op_id}->{alt.id}", (op_id, alt.id), reason + ".", _edits(ctx, op, alt, size))
        problems = mutation_ordering_problems(ctx, m)
        if problems:
            why.append(f"`{alt.id}` would break the recipe's constraints: {problems[0]}")
            continue
        out.append(m)
    return out if out else "; ".join(why)


generate, why_not = assessing(
    _assess,
    needs_profile=True,
    generate="One candidate per (fan-out operation, batched alternative) pair worth batching.",
    why_not="Fan-out operations (or ones called several times per request) that get no candidate, and why.",
)
