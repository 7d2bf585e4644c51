"""parallelize: literal recipe-in / mutation-out, and every reason it must refuse."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
from _operators_helpers import edits, ids, mini, scenario, scenario_doc, scenario_profile

from recipemut.mutate.operators import OperatorContext, generate_all, parallelize
from recipemut.mutate.operators._base import doc_op
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.edits import apply_edits
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import recipe_from_dict


def _gen(doc: dict) -> list:
    return parallelize.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc))


def test_drops_an_after_edge_between_independent_ops() -> None:
    doc = mini(
        [
            {"id": "a", "consumes": ["id"], "produces": ["x"]},
            {"id": "b", "consumes": ["id"], "produces": ["y"], "after": ["a"]},
        ],
        outputs=("x", "y"),
    )
    (m,) = _gen(doc)
    assert m.id == "parallelize:a->b" and m.operator == "parallelize" and m.targets == ("a", "b")
    # the emptied list goes, key and all: no `after: []` left behind
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "b", "after", "a"]},
        {"op": "prune", "path": ["operations", "b", "after"]},
    ]
    assert m.recipe.ops["b"].after == ()
    assert "after" not in doc_op(apply_edits(doc, list(m.edits)), "b")
    assert not m.recipe.dag.has_edge("a", "b")
    assert "disjoint fields" in m.description and "`a` reads [id] writes [x]" in m.description


def test_keeps_what_the_first_waited_for() -> None:
    doc = mini(
        [
            {"id": "z", "consumes": ["id"], "produces": ["w"]},
            {"id": "q", "consumes": ["id"], "produces": ["u"]},
            {"id": "a", "consumes": ["w"], "produces": ["x"], "after": ["q"]},
            {"id": "b", "consumes": ["id"], "produces": ["y"], "after": ["z2", "a"]},
            {"id": "z2", "consumes": ["id"], "produces": ["v"]},
        ],
        outputs=("x", "y", "v", "u"),
    )
    (m,) = [m for m in _gen(doc) if m.id == "parallelize:a->b"]
    # b drops a (index 1) but keeps waiting for q, which a waited for by an explicit `after`;
    # z is only a's data producer: a's need, not b's
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "b", "after", "a"]},
        {"op": "append", "path": ["operations", "b", "after"], "value": "q"},
    ]
    assert m.recipe.ops["b"].after == ("z2", "q")
    assert not m.recipe.dag.has_edge("z", "b")
    assert "still waits for `q`" in m.description


def test_refuses_data_edges_frozen_external_pairs_and_keep_order() -> None:
    ops = [
        {"id": "a", "consumes": ["id"], "produces": ["x"]},
        {"id": "b", "consumes": ["x"], "produces": ["y"], "after": ["a"]},  # data edge too
    ]
    assert _gen(mini(ops, outputs=("y",))) == []
    ops = [
        {"id": "a", "consumes": ["id"], "produces": ["x"], "side_effects": "external"},
        {"id": "b", "consumes": ["id"], "produces": ["y"], "after": ["a"], "side_effects": "external"},
    ]
    assert _gen(mini(ops, outputs=("x", "y"))) == []
    ops[1]["side_effects"] = "idempotent"
    assert ids(_gen(mini(ops, outputs=("x", "y")))) == ["parallelize:a->b"]
    assert _gen(mini(ops, outputs=("x", "y"), constraints={"frozen": ["b"]})) == []
    assert _gen(mini(ops, outputs=("x", "y"), constraints={"keep_order": [["a", "b"]]})) == []


def test_refuses_when_a_frozen_op_would_lose_an_ancestor() -> None:
    ops = [
        {"id": "a", "consumes": ["id"], "produces": ["x"]},
        {"id": "b", "consumes": ["id"], "produces": ["y"], "after": ["a"]},
        {"id": "f", "consumes": ["y"], "produces": ["z"]},  # frozen, after a only through b
    ]
    doc = mini(ops, outputs=("x", "z"), constraints={"frozen": ["f"]})
    assert _gen(doc) == []
    doc["operations"][2]["consumes"] = ["y", "x"]  # f also reads a's product: a stays its ancestor
    assert ids(_gen(doc)) == ["parallelize:a->b"]


def test_scenario_candidates_are_valid() -> None:
    r, doc = scenario(), scenario_doc()
    ms = parallelize.generate(OperatorContext.build(r, doc=doc, profile=scenario_profile()))
    assert ids(ms) == ["parallelize:load_cart->score_fraud", "parallelize:price->check_stock"]
    assert all(check_structure(r, m.recipe) == [] for m in ms)
    assert "at p95" in ms[0].description  # profile figures are quoted


def test_bernstein_conflicts() -> None:
    r = recipe_from_dict(
        mini(
            [
                {"id": "a", "consumes": ["id", "y"], "produces": ["x"]},
                {"id": "b", "consumes": ["id"], "produces": ["y", "x"]},
            ]
        )
    )
    out = parallelize.bernstein_conflicts(r.ops["a"], r.ops["b"])
    assert out == ["reads what the other writes: y", "both write: x"]


# ---- control dependencies of guards (may_halt) -------------------------------------------------

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "recipe.yaml"


def test_checkout_never_reserves_stock_before_the_fraud_guard() -> None:
    r = load_recipe(CHECKOUT)
    got = ids(parallelize.generate(OperatorContext.build(r)))
    # "never reserve stock for an order we are about to reject": the edge from the guard stays
    assert "parallelize:score_fraud->reserve_stock" not in got
    assert "parallelize:price_items->score_fraud" in got  # the guard itself may still move earlier
    for m in generate_all(OperatorContext.build(r)):
        assert nx.has_path(m.recipe.dag, "score_fraud", "reserve_stock"), m.id


def test_a_guard_before_the_dropped_op_is_carried_over_to_a_side_effect() -> None:
    ops = [
        {"id": "guard", "consumes": ["id"], "produces": ["ok"], "may_halt": True},
        {"id": "a", "consumes": ["ok"], "produces": ["x"]},  # after the guard by data only
        {"id": "b", "consumes": ["id"], "produces": ["y"], "after": ["a"], "side_effects": "idempotent"},
    ]
    (m,) = _gen(mini(ops, outputs=("x", "y")))
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "b", "after", "a"]},
        {"op": "append", "path": ["operations", "b", "after"], "value": "guard"},
    ]
    assert m.recipe.ops["b"].after == ("guard",)
    assert "still waits for `guard`" in m.description
    # nothing with side effects after the guard: no control dependency, nothing carried over
    ops[2]["side_effects"] = "none"
    (m,) = _gen(mini(ops, outputs=("x", "y")))
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "b", "after", "a"]},
        {"op": "prune", "path": ["operations", "b", "after"]},
    ]


def test_the_edge_from_a_guard_to_a_later_side_effect_is_kept() -> None:
    ops = [
        {"id": "guard", "consumes": ["id"], "produces": ["ok"], "may_halt": True},
        {"id": "mid", "consumes": ["id"], "produces": ["x"], "after": ["guard"]},
        {"id": "write", "consumes": ["x"], "produces": ["y"], "side_effects": "external"},
    ]
    # guard -> mid is an after edge; mid has no effect itself but `write` (after it by data) has
    assert ids(_gen(mini(ops, outputs=("y",)))) == []
    ops[2]["side_effects"] = "none"
    assert ids(_gen(mini(ops, outputs=("y",)))) == ["parallelize:guard->mid"]
