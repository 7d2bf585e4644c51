"""``substitute``: replace an operation by a catalogue alternative with the same ``equivalence`` tag.

Valid when the operation is not ``frozen`` and the alternative (same ``equivalence``, a different
service or action) consumes only fields available where the operation runs (recipe inputs or
products of its DAG ancestors), produces every product of the operation that another operation
consumes or that is an output, and produces nothing else that another operation already produces
or that is undeclared. Ordering constraints (``frozen``, ``keep_order``, guards' control
dependencies) are re-checked because a different set of consumed fields changes the data edges.
The description says so when the alternative's service has no entry under ``services:`` (the
recipe then warns ``unknown-service`` and forecast cannot size it); the edits do not invent one.

An operation whose equivalence the catalogue offers but gets no candidate is said why (:func:`why_not`,
``suggest --explain``): frozen, or per alternative what it lacks (``unmet``) or which ordering
constraint it would break.

The edits, exactly, on the operation (its ``id`` and place stay): ``service`` and ``action`` set to
the alternative's; ``cost_per_call_usd`` set to the alternative's (its own, else its ``expected``
prior; removed when neither is known, so no stale cost remains); ``substituted_from`` set to the
old action; ``consumes``/``produces`` set to the alternative's when they differ; and
``deterministic``, ``side_effects``, ``may_halt`` set to the alternative's where the catalogue
entry states them.

>>> from recipemut.recipe.model import recipe_from_dict
>>> from recipemut.mutate.operators import OperatorContext
>>> r = recipe_from_dict({"fields": {"id": {}, "cart": {}}, "inputs": ["id"], "outputs": ["cart"],
...     "operations": [{"id": "load_cart", "service": "cart", "action": "GetCart", "consumes": ["id"],
...                     "produces": ["cart"], "equivalence": "cart.read"}],
...     "alternatives": [{"id": "load_cart_fast", "service": "cart-edge", "action": "GetCartV2",
...                       "consumes": ["id"], "produces": ["cart"], "equivalence": "cart.read",
...                       "cost_per_call_usd": 0.00012}]})
>>> m, = generate(OperatorContext.build(r))
>>> m.id, m.recipe.ops["load_cart"].action, m.recipe.ops["load_cart"].substituted_from
('substitute:load_cart->load_cart_fast', 'GetCartV2', 'GetCart')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx

from recipemut.files.units import ms_short, usd_text
from recipemut.mutate.mutation import Condition, EditForm, EditShape, Mutation, ValueRule, target
from recipemut.mutate.operators._base import (
    OperatorContext,
    assessing,
    doc_op,
    fmt_fields,
    keep_if_ordered,
    make_mutation,
)
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Operation

NAME = "substitute"
SUMMARY = "replace an operation by a catalogue alternative with the same `equivalence` tag"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
#: Targets ``(operation, alternative)``: every value comes from the alternative's catalogue entry
#: (its cost, else its ``expected`` cost), except ``substituted_from``, the operation's old action.
_OP = ("operations", target(0))
_COST = (("cost_per_call_usd",), ("expected", "cost_per_call_usd"))
EDITS = (
    EditForm(("operation", "alternative"), (
        EditShape("set", (*_OP, "service"), ValueRule("alternative", 1, (("service",),)), required=True),
        EditShape("set", (*_OP, "action"), ValueRule("alternative", 1, (("action",),)), required=True),
        EditShape("set", (*_OP, "cost_per_call_usd"), ValueRule("alternative", 1, _COST)),
        EditShape("remove", (*_OP, "cost_per_call_usd"), ValueRule("alternative-lacks", 1, _COST)),
        EditShape("set", (*_OP, "substituted_from"), ValueRule("current", 0, (("action",),))),
        *(EditShape("set", (*_OP, key), ValueRule("alternative", 1, ((key,),)))
          for key in ("consumes", "produces", "deterministic", "side_effects", "may_halt")),
    ), (Condition("same-equivalence"),)),
)


def unmet(ctx: OperatorContext, op: Operation, alt: Operation) -> list[str]:
    """Why ``alt`` cannot replace ``op`` here (empty: it can)."""
    r = ctx.recipe
    ancestors = nx.ancestors(r.dag, op.id)
    available = set(r.inputs) | {f for a in ancestors for f in r.ops[a].produces}
    reasons = []
    missing = [f for f in alt.consumes if f not in available]
    if missing:
        reasons.append(f"consumes {fmt_fields(missing)}, not available before `{op.id}`")
    used = {f for o in r.operations if o.id != op.id for f in o.consumes} | set(r.outputs)
    needed = [f for f in op.produces if f in used and f not in alt.produces]
    if needed:
        reasons.append(f"does not produce {fmt_fields(needed)}, which is used downstream")
    for f in alt.produces:
        if f in op.produces:
            continue
        if f in r.producers or f in r.inputs:
            reasons.append(f"produces '{f}', which is already an input or produced elsewhere")
        elif f not in r.fields:
            reasons.append(f"produces undeclared field '{f}'")
    return reasons


def substitution_edits(ctx: OperatorContext, op: Operation, alt: Operation) -> list[Edit]:
    """The edits that make ``op`` call ``alt``: its service, action and cost, ``substituted_from``, and what differs."""
    path = ("operations", op.id)
    current: Mapping[str, Any] = doc_op(ctx.doc, op.id)
    alt_doc: Mapping[str, Any] = doc_op(ctx.doc, alt.id, "alternatives")
    edits = [Edit("set", (*path, "service"), alt.service), Edit("set", (*path, "action"), alt.action)]
    cost = alt.cost_per_call_usd
    if cost is None and alt.expected is not None:
        cost = alt.expected.cost_per_call_usd
    if cost is not None:
        edits.append(Edit("set", (*path, "cost_per_call_usd"), cost))
    elif "cost_per_call_usd" in current:
        edits.append(Edit("remove", (*path, "cost_per_call_usd")))
    edits.append(Edit("set", (*path, "substituted_from"), op.action))
    for key, old, new in (("consumes", op.consumes, alt.consumes), ("produces", op.produces, alt.produces)):
        if tuple(old) != tuple(new):
            edits.append(Edit("set", (*path, key), list(new)))
    for key in ("deterministic", "side_effects", "may_halt"):
        if key in alt_doc and alt_doc[key] != getattr(op, key):
            edits.append(Edit("set", (*path, key), alt_doc[key]))
    return edits


def _evidence(ctx: OperatorContext, op: Operation, alt: Operation) -> str:
    parts = []
    if alt.expected is not None and alt.expected.latency_p95_ms is not None:
        parts.append(f"the catalogue expects {ms_short(alt.expected.latency_p95_ms)} at p95")
    if ctx.observed(op.id) and ctx.profile is not None:
        s = ctx.profile.stats(op.id)
        parts.append(f"`{op.id}` was observed at {ms_short(s.p95_ms)} at p95 and {usd_text(s.cost_mean_usd)} per call")
    cost = (
        alt.cost_per_call_usd
        if alt.cost_per_call_usd is not None
        else (alt.expected.cost_per_call_usd if alt.expected is not None else None)
    )
    if cost is not None:
        parts.append(f"the alternative costs {usd_text(cost)} per call")
    return ("; " + ", ".join(parts)) if parts else ""


def _assess(ctx: OperatorContext, op_id: str) -> list[Mutation] | str | None:
    """The candidates for ``op_id``, or why there is none (None: no alternative shares its equivalence)."""
    r = ctx.recipe
    op = r.ops[op_id]
    if op.equivalence is None:
        return None
    alts = [a for a in r.alternatives
            if a.equivalence == op.equivalence and (a.service, a.action) != (op.service, op.action)]
    if not alts:
        return None
    if op_id in ctx.frozen:
        return "frozen: its calls are not changed"
    out: list[Mutation] = []
    refused: list[str] = []
    for alt in alts:
        problems = unmet(ctx, op, alt)
        if problems:
            refused.append(f"`{alt.id}` cannot replace it: {'; '.join(problems)}")
            continue
        reason = (
            f"`{op_id}` ({op.service}/{op.action}) can be served by {alt.service}/{alt.action} "
            f"(catalogue entry `{alt.id}`, same equivalence `{op.equivalence}`): it consumes "
            f"{fmt_fields(alt.consumes)}, all available there, and produces {fmt_fields(alt.produces)}, "
            f"covering every downstream use{_evidence(ctx, op, alt)}"
        )
        if alt.service not in r.services:
            reason += (
                f"; service `{alt.service}` has no declared capacity (no entry under `services:`), so "
                f"forecast cannot size it: declare it before applying"
            )
        edits = substitution_edits(ctx, op, alt)
        m = make_mutation(ctx, NAME, f"{op_id}->{alt.id}", (op_id, alt.id), reason + ".", edits)
        keep_if_ordered(ctx, m, out, refused, f"`{alt.id}` would break an ordering constraint")
    return out if out else "; ".join(refused)


generate, why_not = assessing(
    _assess,
    needs_profile=False,
    generate="One candidate per (operation, usable alternative) pair, in topological then catalogue order.",
    why_not="Operations with catalogue alternatives of their equivalence that none can replace, and why.",
)
