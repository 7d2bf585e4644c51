"""parallelize says why an operation's `after` edges all stay, edge by edge.

Issue 16 asked every operator that can silently propose nothing to say why: an author's `after`
that survives is explained (both external, frozen, an ordering constraint), where it was silent.
"""

from __future__ import annotations

from _operators_helpers import mini

from recipemut.mutate.operators import REGISTRY, OperatorContext, not_proposed, parallelize
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import recipe_from_dict, recipe_to_dict
from recipes import CHECKOUT_EXAMPLE

OPS = [
    {"id": "a", "consumes": ["id"], "produces": ["x"], "side_effects": "external"},
    {"id": "b", "consumes": ["id"], "produces": ["y"], "after": ["a"], "side_effects": "external"},
]


def _ctx(ops: list[dict], **kw: object) -> OperatorContext:
    doc = mini(ops, outputs=("x", "y"), **kw)
    return OperatorContext.build(recipe_from_dict(doc), doc=doc)


def test_each_kept_after_edge_says_why() -> None:
    both = _ctx(OPS)
    assert parallelize.generate(both) == []
    assert parallelize.why_not(both) == {
        "b": "`after: a` stays: both have external side effects, whose order may matter"
    }
    effects = [OPS[0], {**OPS[1], "side_effects": "idempotent"}]
    assert parallelize.why_not(_ctx(effects, constraints={"frozen": ["b"]})) == {"b": "`after: a` stays: `b` is frozen"}
    (why,) = parallelize.why_not(_ctx(effects, constraints={"keep_order": [["a", "b"]]})).values()
    assert why.startswith("`after: a` stays: dropping it would break an ordering constraint (keep_order"), why
    assert REGISTRY["parallelize"].why_not is parallelize.why_not


def test_a_candidate_a_data_edge_or_no_after_says_nothing() -> None:
    effects = [OPS[0], {**OPS[1], "side_effects": "idempotent"}]
    ctx = _ctx(effects)
    assert [m.id for m in parallelize.generate(ctx)] == ["parallelize:a->b"]
    assert parallelize.why_not(ctx) == {}
    data = [{"id": "a", "consumes": ["id"], "produces": ["x"]},
            {"id": "b", "consumes": ["x"], "produces": ["y"], "after": ["a"]}]
    assert parallelize.why_not(_ctx(data)) == {}  # it needs a's data: not an `after` to drop
    assert parallelize.why_not(_ctx([OPS[0], {k: v for k, v in OPS[1].items() if k != "after"}])) == {}


def test_checkout_says_why_reserve_stock_keeps_waiting_for_the_fraud_guard() -> None:
    r = load_recipe(CHECKOUT_EXAMPLE / "recipe.yaml")
    ctx = OperatorContext.build(r, doc=recipe_to_dict(r))
    reasons = {x.target: x.reason for x in not_proposed(ctx, ["parallelize"])}
    assert reasons["reserve_stock"].startswith(
        "`after: score_fraud` stays: dropping it would break an ordering constraint (control dependency: "
        "'reserve_stock' (side_effects: idempotent) no longer waits for guard 'score_fraud' (may_halt)"
    ), reasons
