"""``eliminate``: remove an operation whose work nobody uses.

Valid when: ``side_effects: none`` (removing it changes nothing outside the sheet; an operation that
does not say is taken at the format's default, ``none``, and its reason says it rests on that), not
``may_halt`` (it does not decide whether the request goes on), not ``frozen`` nor in a ``keep_order``
pair, not the recipe's only operation (a recipe needs one), and none of its products is consumed by
any operation or is an output (an operation producing nothing qualifies too).

An operation without side effects whose products nobody uses but that is not removed is said why
(:func:`why_not`, ``suggest --explain``): a guard, ``frozen``/``keep_order``, the recipe's only
operation, or the ordering constraint its removal would break. One with declared side effects is there for them: it says
nothing.

The edits, exactly: the operation is removed; every operation that listed it in ``after`` has it
removed from ``after`` and gets, appended, each entry of the removed operation's ``after`` that
would no longer precede it: explicit ``after`` chains through it stay transitive (its data
producers were its own needs and are not carried over, except guards: a successor that has, or
precedes, side effects also keeps waiting for every guard (``may_halt``) before the removed
operation, a control dependency); an ``after`` list left empty is removed (no ``after: []``); and
the declaration under ``fields`` of each of its fields that nothing uses any more (no other
operation or alternative consumes or produces it, neither an input nor an output) is removed, so
the result passes ``validate --strict``. ``frozen``, ``keep_order`` and control dependencies are
re-checked on the result.

>>> from recipemut.recipe.model import recipe_from_dict
>>> from recipemut.mutate.operators import OperatorContext
>>> r = recipe_from_dict({"fields": {"id": {}, "a": {}, "junk": {}}, "inputs": ["id"], "outputs": ["a"],
...     "operations": [
...     {"id": "f", "service": "s", "action": "F", "consumes": ["id"], "produces": ["a"]},
...     {"id": "audit", "service": "s", "action": "Audit", "consumes": ["a"], "produces": ["junk"], "after": ["f"]},
...     {"id": "g", "service": "s", "action": "G", "consumes": ["id"], "after": ["audit"],
...      "side_effects": "external"}]})
>>> ctx = OperatorContext.build(r)
>>> [(m.id, [e.to_dict() for e in m.edits]) for m in generate(ctx)]  # doctest: +NORMALIZE_WHITESPACE
[('eliminate:audit', [{'op': 'remove', 'path': ['operations', 'audit']},
                      {'op': 'remove', 'path': ['operations', 'g', 'after', 'audit']},
                      {'op': 'append', 'path': ['operations', 'g', 'after'], 'value': 'f'},
                      {'op': 'remove', 'path': ['fields', 'junk']}])]
"""

from __future__ import annotations

from collections import Counter, defaultdict

from recipemut.files.units import ms_short, usd_text
from recipemut.mutate.mutation import (
    Condition,
    Edit,
    EditForm,
    EditShape,
    Mutation,
    ValueRule,
    field_of,
    successor_of,
    target,
)
from recipemut.mutate.operators._base import (
    DagView,
    OperatorContext,
    assessing,
    fmt_fields,
    kept_guards,
    make_mutation,
    mutation_ordering_problems,
    rewire_after,
)

NAME = "eliminate"
SUMMARY = "remove an operation without side effects whose products nobody consumes and that are not outputs"

#: The edits this operator makes on its targets, exactly: a plan's mutation of this operator holds no
#: others (checked by :mod:`recipemut.plan.check`; a test checks every candidate on the shipped examples).
EDITS = (
    EditForm(("operation",), (
        EditShape("remove", ("operations", target(0)), required=True),
        EditShape("remove", ("operations", successor_of(0), "after", target(0))),
        EditShape("append", ("operations", successor_of(0), "after"), ValueRule("precedes", 0)),
        EditShape("prune", ("operations", successor_of(0), "after")),
        EditShape("remove", ("fields", field_of(0))),
    ), (Condition("no-effects"),)),
)


def orphaned_fields(ctx: OperatorContext, op_id: str) -> list[str]:
    """Declared fields of ``op_id`` that nothing uses once it is gone (no other operation or
    alternative consumes or produces them, and they are neither inputs nor outputs)."""
    r = ctx.recipe
    declared = ctx.doc.get("fields") or {}
    always, everyone, by_id = _uses(ctx)
    own = Counter(f for fields in by_id.get(op_id, ()) for f in fields)  # every operation of that id
    op = r.ops[op_id]
    return [
        f for f in dict.fromkeys((*op.consumes, *op.produces))
        if f in declared and f not in always and everyone[f] == own[f]
    ]  # fmt: skip


_Uses = tuple[frozenset[str], Counter[str], dict[str, list[frozenset[str]]]]


def _uses(ctx: OperatorContext) -> _Uses:
    """Of ``ctx``'s recipe, once per context: the fields used whatever operation goes (inputs,
    outputs, the alternatives' fields); in how many operations each field is used; and by id, the
    fields of each operation of that id."""
    key = (NAME, "uses")
    if key not in ctx.memo:
        r = ctx.recipe
        always = set(r.inputs) | set(r.outputs)
        for alt in r.alternatives:
            always.update(alt.consumes, alt.produces)
        by_id: dict[str, list[frozenset[str]]] = defaultdict(list)
        for o in r.operations:
            by_id[o.id].append(frozenset((*o.consumes, *o.produces)))
        everyone = Counter(f for fields in by_id.values() for one in fields for f in one)
        ctx.memo[key] = (frozenset(always), everyone, dict(by_id))
    got: _Uses = ctx.memo[key]
    return got


def _consumed(ctx: OperatorContext) -> frozenset[str]:
    """The fields some operation of ``ctx``'s recipe consumes (once per context)."""
    key = (NAME, "consumed")
    if key not in ctx.memo:
        ctx.memo[key] = frozenset(f for o in ctx.recipe.operations for f in o.consumes)
    got: frozenset[str] = ctx.memo[key]
    return got


def _assess(ctx: OperatorContext, op_id: str) -> Mutation | str | None:
    """The candidate for ``op_id``, or why there is none (None: its work is used, or it makes nothing).

    Only an operation without side effects whose products nobody uses gets a reason: dead work is
    where a reader expects ``eliminate``; one with declared side effects is there for them.
    """
    r = ctx.recipe
    g = r.dag
    op = r.ops[op_id]
    consumed = _consumed(ctx)
    if [f for f in op.produces if f in consumed or f in r.outputs]:
        return None
    dead = f"its products {fmt_fields(op.produces)} are used by nothing" if op.produces else "it produces nothing"
    if op.side_effects != "none":  # declared: it is there for its effects, not dead work
        return None
    if len(r.operations) == 1:  # what apply would refuse: a recipe without operations
        return f"{dead}, but it is the recipe's only operation (a recipe needs at least one)"
    if op.may_halt:
        return f"{dead}, but it may halt the request (a guard): removing it would let halted requests go on"
    if op_id in ctx.frozen or op_id in ctx.ordered:
        return f"{dead}, but it is {'frozen' if op_id in ctx.frozen else 'in a keep_order pair'}"
    order = ctx.topo_index
    h = DagView(g, gone=op_id)
    edits: list[Edit] = [Edit("remove", ("operations", op_id))]
    preds = [p for p in op.after if p in g]
    for succ in sorted(g.successors(op_id), key=order.__getitem__):
        edits += rewire_after(ctx, h, succ, [op_id], [*preds, *kept_guards(r, op_id, succ, guards=ctx.guards)])
    edits += [Edit("remove", ("fields", f)) for f in orphaned_fields(ctx, op_id)]
    what = (
        f"its products {fmt_fields(op.produces)} are consumed by no operation and are not outputs"
        if (op.produces)
        else "it produces nothing"
    )
    # `side_effects` left out is `none` (docs/recipe-format.md): the reason says when it rests on that
    declared = "side_effects" in ctx.doc_op(op_id)
    effects = "is declared `side_effects: none`" if declared else "declares no side effects"
    reason = f"`{op_id}` {effects} and {what}, so removing it changes no result"
    if ctx.observed(op_id) and ctx.profile is not None:
        s = ctx.profile.stats(op_id)
        reason += f"; it takes {ms_short(s.p50_ms)} at p50"
        if s.cost_mean_usd > 0:
            reason += f" and costs {usd_text(s.cost_mean_usd)} per call"
    m = make_mutation(ctx, NAME, op_id, (op_id,), reason + ".", edits)
    ordering = mutation_ordering_problems(ctx, m)
    if ordering:
        return f"{dead}, but removing it would break an ordering constraint: {'; '.join(ordering)}"
    return m


generate, why_not = assessing(
    _assess,
    needs_profile=False,
    generate="One candidate per dead operation, in topological order.",
    why_not=(
        "Side-effect-free operations whose products nobody uses that are not removed, and why (a guard, frozen, ...)."
    ),
)
