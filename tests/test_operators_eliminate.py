"""eliminate: dead operations go, with the ordering through them kept."""

from __future__ import annotations

from _operators_helpers import edits, ids, mini, scenario, scenario_doc

from recipemut.mutate.operators import OperatorContext, eliminate
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.model import recipe_from_dict


def _gen(doc: dict) -> list:
    return eliminate.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc))


def test_removes_dead_op_and_keeps_transitive_ordering() -> None:
    doc = mini(
        [
            {"id": "a", "consumes": ["id"], "produces": ["x"]},
            {"id": "b", "consumes": ["id"], "produces": ["v"]},
            {"id": "log", "consumes": ["x"], "produces": ["junk"], "after": ["b"]},
            {"id": "c", "consumes": ["id"], "produces": ["y"], "after": ["log"], "side_effects": "external"},
        ],
        outputs=("x", "y", "v"),
    )
    (m,) = _gen(doc)
    assert m.id == "eliminate:log"
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "log"]},
        {"op": "remove", "path": ["operations", "c", "after", "log"]},
        {"op": "append", "path": ["operations", "c", "after"], "value": "b"},
        {"op": "remove", "path": ["fields", "junk"]},  # nothing uses it any more
    ]
    assert "junk" not in m.recipe.fields
    assert [o.id for o in m.recipe.operations] == ["a", "b", "c"]
    # c keeps the explicit chain b -> log -> c; a was only log's data producer
    assert m.recipe.dag.has_edge("b", "c") and not m.recipe.dag.has_edge("a", "c")
    assert check_structure(recipe_from_dict(doc), m.recipe) == []


def test_keeps_ops_with_effects_halts_uses_outputs_or_constraints() -> None:
    base = [{"id": "a", "consumes": ["id"], "produces": ["x"]}]
    for extra, kw in (
        ({"side_effects": "idempotent"}, {}),
        ({"side_effects": "external"}, {}),
        ({"may_halt": True}, {}),
        ({}, {"constraints": {"frozen": ["d"]}}),
        ({}, {"constraints": {"keep_order": [["a", "d"]]}}),
    ):
        doc = mini([*base, {"id": "d", "consumes": ["x"], "produces": ["junk"], **extra}], outputs=("x",), **kw)
        assert _gen(doc) == [], (extra, kw)
    # its product is consumed or is an output
    doc = mini([*base, {"id": "d", "consumes": ["x"], "produces": ["z"]}], outputs=("x", "z"))
    assert _gen(doc) == []
    doc = mini(
        [*base, {"id": "d", "consumes": ["x"], "produces": ["z"]}, {"id": "e", "consumes": ["z"], "produces": ["out"]}],
        outputs=("x", "out"),
    )
    assert _gen(doc) == []


def test_scenario_audit_is_dead() -> None:
    ms = eliminate.generate(OperatorContext.build(scenario(), doc=scenario_doc()))
    assert ids(ms) == ["eliminate:audit"]
    assert "produces nothing" in ms[0].description


def test_rewiring_keeps_a_guard_before_a_side_effect() -> None:
    doc = mini(
        [
            {"id": "fraud", "consumes": ["id"], "produces": ["ok"], "may_halt": True},
            {"id": "log", "consumes": ["ok"], "produces": ["junk"]},  # after the guard by data only
            {"id": "reserve", "consumes": ["id"], "produces": ["res"], "after": ["log"], "side_effects": "idempotent"},
        ],
        outputs=("res",),
    )
    (m,) = _gen(doc)
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "log"]},
        {"op": "remove", "path": ["operations", "reserve", "after", "log"]},
        {"op": "append", "path": ["operations", "reserve", "after"], "value": "fraud"},
        {"op": "remove", "path": ["fields", "junk"]},
    ]
    assert m.recipe.dag.has_edge("fraud", "reserve")
    assert check_structure(recipe_from_dict(doc), m.recipe) == []


def test_the_reason_says_when_it_rests_on_the_default_side_effects() -> None:
    ops = [{"id": "a", "consumes": ["id"], "produces": ["x"]}, {"id": "d", "consumes": ["x"]},
           {"id": "e", "consumes": ["x"], "side_effects": "none"}]  # fmt: skip
    doc = mini(ops, outputs=("x",))
    said = {m.id: m.description for m in eliminate.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc))}
    assert said == {
        "eliminate:d": "`d` declares no side effects and it produces nothing, "
        "so removing it changes no result.",
        "eliminate:e": "`e` is declared `side_effects: none` and it produces nothing, "
        "so removing it changes no result.",
    }
