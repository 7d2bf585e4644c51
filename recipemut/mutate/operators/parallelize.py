"""``parallelize``: drop an ``after`` edge the data does not need, so two operations run side by side.

Valid when (DESIGN.md, "Mutations"): ``b`` waits for ``a`` only by an ``after`` edge (no data edge),
the two satisfy Bernstein's conditions on their fields (``a`` reads nothing ``b`` writes, writes
nothing ``b`` reads, and they write no common field), they are not both ``side_effects: external``,
neither is ``frozen``, and no ``keep_order`` pair or frozen operation's ordering depended on the edge.

The edit, exactly: ``a`` is removed from ``b.after``, and every entry of ``a.after`` that would no
longer precede ``b`` is appended to ``b.after``. So ``b`` stops waiting for ``a`` itself but keeps
the *explicit* ordering it had through ``a`` (chains of ``after`` written by the author stay
transitive); what ``a`` waited for only because it consumes their data (``a``'s data producers) is
``a``'s need, not ``b``'s, and is not carried over, except a guard's (``may_halt``): when ``b`` or
anything after it has side effects, every guard before ``a`` is carried over too, since ``b``
must not run for a request that guard halts (a control dependency). An edge from a guard itself
to such a ``b`` is never dropped. ``frozen``, ``keep_order`` and control dependencies are
re-checked on the result, so an ordering they protect is never lost.

An operation none of whose ``after`` edges can go is said why, edge by edge (:func:`why_not`,
``suggest --explain``): shared fields, ``frozen``, both external, or the ordering constraint
dropping it would break.

>>> from recipemut.recipe.model import recipe_from_dict
>>> from recipemut.mutate.operators import OperatorContext
>>> r = recipe_from_dict({"fields": {"id": {}, "cart": {}, "risk": {}}, "inputs": ["id"],
...     "outputs": ["cart", "risk"], "operations": [
...     {"id": "load_cart", "service": "cart", "action": "Get", "consumes": ["id"], "produces": ["cart"]},
...     {"id": "score_fraud", "service": "fraud", "action": "Score", "consumes": ["id"],
...      "produces": ["risk"], "after": ["load_cart"]}]})
>>> ms = generate(OperatorContext.build(r))
>>> [(m.id, [e.to_dict() for e in m.edits]) for m in ms]  # doctest: +NORMALIZE_WHITESPACE
[('parallelize:load_cart->score_fraud',
  [{'op': 'remove', 'path': ['operations', 'score_fraud', 'after', 'load_cart']},
   {'op': 'prune', 'path': ['operations', 'score_fraud', 'after']}])]
"""

from __future__ import annotations

from recipemut.files.units import ms_short
from recipemut.mutate.mutation import Condition, EditForm, EditShape, Mutation, ValueRule, target
from recipemut.mutate.operators._base import (
    DagView,
    OperatorContext,
    assessing,
    fmt_fields,
    keep_if_ordered,
    kept_guards,
    make_mutation,
    rewire_after,
)
from recipemut.recipe.model import Operation

NAME = "parallelize"
SUMMARY = "drop an `after` edge between operations that touch disjoint fields (Bernstein) so they run side by side"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
#: Targets ``(a, b)``: ``a`` leaves ``b.after``, which may inherit operations that ran before ``a``
#: (``rewire_after``). The second form, ``b.after`` set whole to the same result, is what plans of
#: the first format wrote (``docs/ARCHITECTURE.md``).
EDITS = (
    EditForm(("operation", "operation"), (
        EditShape("remove", ("operations", target(1), "after", target(0)), required=True),
        EditShape("append", ("operations", target(1), "after"), ValueRule("precedes", 0)),
        EditShape("prune", ("operations", target(1), "after")),
    ), (Condition("not-both-external"),)),
    EditForm(("operation", "operation"), (
        EditShape("set", ("operations", target(1), "after"), ValueRule("after-without", 0), required=True),
    ), (Condition("not-both-external"),)),
)


def bernstein_conflicts(a: Operation, b: Operation) -> list[str]:
    """Field overlaps that forbid running ``a`` and ``b`` concurrently (empty: independent)."""
    ra, wa, rb, wb = set(a.consumes), set(a.produces), set(b.consumes), set(b.produces)
    out = []
    for label, overlap in (("reads what the other writes", (ra & wb) | (rb & wa)), ("both write", wa & wb)):
        if overlap:
            out.append(f"{label}: {', '.join(sorted(overlap))}")
    return out


def _assess(ctx: OperatorContext, b: str) -> list[Mutation] | str | None:
    """The candidates that drop one of ``b``'s ``after`` edges, or why each stays (None: it has none)."""
    r = ctx.recipe
    g = r.dag
    order = ctx.topo_index
    out: list[Mutation] = []
    kept: list[str] = []
    for a in sorted(g.predecessors(b), key=order.__getitem__):
        if g.edges[a, b]["kind"] != "after":
            continue
        stays = f"`after: {a}` stays"
        if a in ctx.frozen or b in ctx.frozen:
            kept.append(f"{stays}: `{a if a in ctx.frozen else b}` is frozen")
            continue
        oa, ob = r.ops[a], r.ops[b]
        conflicts = bernstein_conflicts(oa, ob)
        if conflicts:
            kept.append(f"{stays}: they share fields ({'; '.join(conflicts)})")
            continue
        if oa.side_effects == "external" and ob.side_effects == "external":
            kept.append(f"{stays}: both have external side effects, whose order may matter")
            continue
        h = DagView(g, cut=[(a, b)])
        guards = kept_guards(r, a, b, guards=ctx.guards)
        edits = rewire_after(ctx, h, b, [a], [*(p for p in oa.after if p in g), *guards])
        inherited = [e.value for e in edits if e.op == "append"]
        reason = (
            f"`{b}` waits for `{a}` only through an `after` edge and they touch disjoint fields "
            f"(`{a}` reads {fmt_fields(oa.consumes)} writes {fmt_fields(oa.produces)}; "
            f"`{b}` reads {fmt_fields(ob.consumes)} writes {fmt_fields(ob.produces)}), "
            f"so `{b}` can start without waiting for `{a}`"
        )
        if inherited:
            reason += f" (it still waits for {', '.join(f'`{p}`' for p in inherited)}, as `{a}` did)"
        if ctx.observed(a) and ctx.profile is not None:
            s = ctx.profile.stats(a)
            reason += f"; `{a}` takes {ms_short(s.p50_ms)} at p50 and {ms_short(s.p95_ms)} at p95"
        m = make_mutation(ctx, NAME, f"{a}->{b}", (a, b), reason + ".", edits)
        keep_if_ordered(ctx, m, out, kept, f"{stays}: dropping it would break an ordering constraint")
    if out:
        return out
    return "; ".join(kept) if kept else None


generate, why_not = assessing(
    _assess,
    needs_profile=False,
    generate="One candidate per removable ``after`` edge, in topological order of the edge's target.",
    why_not="Operations none of whose ``after`` edges can go, and why each stays (shared fields, frozen, ...).",
)
