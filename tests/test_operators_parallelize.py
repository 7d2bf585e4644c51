"""parallelize: literal recipe-in / mutation-out, and every reason it must refuse."""

from __future__ import annotations

from _operators_helpers import edits, ids, mini, scenario, scenario_doc, scenario_profile

from recipemut.constraints import check_structure
from recipemut.model import recipe_from_dict
from recipemut.operators import OperatorContext, parallelize


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
    assert edits(m) == [{"op": "remove", "path": ["operations", "b", "after", "a"]}]
    assert m.recipe.ops["b"].after == ()
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
