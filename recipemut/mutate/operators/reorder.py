"""``reorder``: swap two adjacent operations joined only by an ``after`` edge.

Valid when ``a -> b`` is an ``after``-only edge (no data edge either way: neither consumes the
other's products) and the *only* path from ``a`` to ``b`` (they are adjacent), and neither is
``frozen`` nor named in a ``keep_order`` pair. Proposed only when it may pay: the new first one,
``b``, may halt requests (``may_halt``: ``a`` then no longer runs on halted requests), or, with a
profile, ``b`` shrinks the data it handles (on average at least ``reorder_shrink_min_bytes``, 1 KiB,
in and at most ``reorder_shrink_ratio``, half of that, out: a filter or summariser worth running
early).

The edits, exactly (the pair keeps its place in the ordering, with its order reversed):

* ``b.after``: ``a`` is removed, and each entry of ``a.after`` that would no longer precede ``b`` is
  appended: the explicit ordering before the pair still holds (``a``'s data producers are ``a``'s
  needs, not ``b``'s, and ``a`` still waits for them, except guards: when ``b`` or anything after
  it has side effects, every guard before ``a`` is appended too, a control dependency);
* ``a.after``: ``b`` is appended.

Successors of ``a`` now also wait for ``b`` (through ``a``); successors of ``b`` no longer wait for
``a`` unless a data edge or another path says so (that is what moving a guard first is for).
``frozen``, ``keep_order`` and control dependencies are re-checked on the result: a guard ``a`` is
never moved after an operation with side effects it preceded.

Where a swap would pay but may not be made, :func:`why_not` says why (``suggest --explain``):
frozen or ``keep_order``, not adjacent, or the ordering constraint the swap would break.

>>> from recipemut.recipe.model import recipe_from_dict
>>> from recipemut.mutate.operators import OperatorContext
>>> r = recipe_from_dict({"fields": {"id": {}, "x": {}, "ok": {}}, "inputs": ["id"], "outputs": ["x"],
...     "operations": [
...     {"id": "enrich", "service": "s", "action": "E", "consumes": ["id"], "produces": ["x"]},
...     {"id": "guard", "service": "s", "action": "G", "consumes": ["id"], "produces": ["ok"],
...      "may_halt": True, "after": ["enrich"]}]})
>>> ctx = OperatorContext.build(r)
>>> [(m.id, [e.to_dict() for e in m.edits]) for m in generate(ctx)]  # doctest: +NORMALIZE_WHITESPACE
[('reorder:guard->enrich', [{'op': 'remove', 'path': ['operations', 'guard', 'after', 'enrich']},
                            {'op': 'prune', 'path': ['operations', 'guard', 'after']},
                            {'op': 'append', 'path': ['operations', 'enrich', 'after'], 'value': 'guard'}])]
"""

from __future__ import annotations

from recipemut.files.units import ms_short
from recipemut.mutate.mutation import EditForm, EditShape, Mutation, ValueRule, target
from recipemut.mutate.operators._base import (
    DagView,
    OperatorContext,
    assessing,
    keep_if_ordered,
    kept_guards,
    make_mutation,
    rewire_after,
)
from recipemut.recipe.edits import Edit

NAME = "reorder"
SUMMARY = "swap two adjacent operations joined only by an `after` edge, to run a guard or a data-shrinking step first"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
#: Targets ``(b, a)``: ``b`` (now first) stops waiting for ``a`` and may inherit what ran before
#: ``a``; ``a`` waits for ``b``.
EDITS = (
    EditForm(("operation", "operation"), (
        EditShape("remove", ("operations", target(0), "after", target(1)), required=True),
        EditShape("append", ("operations", target(0), "after"), ValueRule("precedes", 1)),
        EditShape("prune", ("operations", target(0), "after")),
        EditShape("append", ("operations", target(1), "after"), ValueRule("target", 0), required=True),
    )),
)


def _worth(ctx: OperatorContext, a: str, b: str) -> str | None:
    """Why running ``b`` before ``a`` may pay, or None."""
    ob = ctx.recipe.ops[b]
    p = ctx.profile
    if ob.may_halt:
        why = f"`{b}` may halt the request"
        if p is not None and ctx.observed(b):
            why += f" (it halted {p.stats(b).halt_rate:.1%} of its calls)"
        if p is not None and ctx.observed(a):
            why += f", and then `{a}` ({ms_short(p.stats(a).p50_ms)} at p50) need not run"
        return why
    if p is not None and ctx.observed(b):
        sb = p.stats(b)
        ratio = float(ctx.option("reorder_shrink_ratio"))
        if sb.bytes_in_mean >= float(ctx.option("reorder_shrink_min_bytes")) and (
            sb.bytes_out_mean <= ratio * sb.bytes_in_mean
        ):
            return (
                f"`{b}` shrinks the data it handles ({sb.bytes_in_mean:.0f} bytes in, {sb.bytes_out_mean:.0f} out "
                f"on average)"
            )
    return None


def _assess(ctx: OperatorContext, b: str) -> list[Mutation] | str | None:
    """The swaps that run ``b`` before an operation it waits for by ``after``, or why none may
    (None: no swap would pay: ``b`` neither halts nor shrinks its data)."""
    r = ctx.recipe
    g = r.dag
    order = ctx.topo_index
    blocked = ctx.frozen | ctx.ordered
    out: list[Mutation] = []
    kept: list[str] = []
    for a in sorted(g.predecessors(b), key=order.__getitem__):
        if g.edges[a, b]["kind"] != "after":
            continue
        why = _worth(ctx, a, b)
        if why is None:
            continue
        first = f"running `{b}` before `{a}` may pay ({why}), but"
        if a in blocked or b in blocked:
            x = a if a in blocked else b
            kept.append(f"{first} `{x}` is {'frozen' if x in ctx.frozen else 'in a keep_order pair'}")
            continue
        h = DagView(g, cut=[(a, b)])
        if h.has_path(a, b):  # not adjacent: swapping would make a cycle
            kept.append(f"{first} `{b}` also waits for `{a}` through other operations")
            continue
        guards = kept_guards(r, a, b, guards=ctx.guards)
        edits = rewire_after(ctx, h, b, [a], [*(p for p in r.ops[a].after if p in g), *guards])
        edits.append(Edit("append", ("operations", a, "after"), b))
        reason = f"`{a}` and `{b}` share no field and are ordered only by an `after` edge; {why}, so run `{b}` first"
        m = make_mutation(ctx, NAME, f"{b}->{a}", (b, a), reason + ".", edits)
        keep_if_ordered(ctx, m, out, kept, f"{first} it would break an ordering constraint")
    if out:
        return out
    return "; ".join(kept) if kept else None


generate, why_not = assessing(
    _assess,
    needs_profile=False,
    generate="One candidate per swappable adjacent pair where the swap may pay.",
    why_not="Guards and data-shrinking operations that a swap would help but none may move first, and why.",
)
