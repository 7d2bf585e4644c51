"""reorder: literal swaps, when it is worth it, and when it must refuse."""

from __future__ import annotations

from _operators_helpers import edits, ids, mini, scenario, scenario_doc, scenario_profile

from recipemut.mutate.operators import OperatorContext, reorder
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.model import recipe_from_dict


def _gen(doc: dict, profile=None) -> list:  # type: ignore[no-untyped-def]
    return reorder.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc, profile=profile))


CHAIN = [
    {"id": "load", "consumes": ["id"], "produces": ["w"]},
    {"id": "auth", "consumes": ["id"], "produces": ["tok"]},
    {"id": "enrich", "consumes": ["w"], "produces": ["x"], "after": ["auth"]},
    {"id": "guard", "consumes": ["id"], "produces": ["ok"], "may_halt": True, "after": ["enrich"]},
    {"id": "ship", "consumes": ["ok"], "produces": ["done"], "after": ["guard"]},
]


def test_swaps_a_guard_ahead_keeping_the_pair_in_place() -> None:
    doc = mini(CHAIN, outputs=("x", "done", "tok"))
    (m,) = _gen(doc)
    assert m.id == "reorder:guard->enrich" and m.targets == ("guard", "enrich")
    # guard takes enrich's explicit `after` (auth); load is enrich's data producer and stays its own
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "guard", "after", "enrich"]},
        {"op": "append", "path": ["operations", "guard", "after"], "value": "auth"},
        {"op": "append", "path": ["operations", "enrich", "after"], "value": "guard"},
    ]
    g = m.recipe.dag
    assert g.has_edge("auth", "guard") and g.has_edge("guard", "enrich") and not g.has_edge("enrich", "guard")
    assert g.has_edge("load", "enrich") and not g.has_edge("load", "guard")
    assert check_structure(recipe_from_dict(doc), m.recipe) == []
    assert "may halt" in m.description


def test_not_proposed_when_nothing_is_gained() -> None:
    ops = [dict(o) for o in CHAIN]
    ops[3]["may_halt"] = False
    assert _gen(mini(ops, outputs=("x", "done", "tok"))) == []


def test_refuses_non_adjacent_data_frozen_and_keep_order() -> None:
    # a second path enrich -> mid -> guard makes the swap a cycle
    ops = [dict(o) for o in CHAIN] + [{"id": "mid", "consumes": ["x"], "produces": ["m"]}]
    ops[3] = {**ops[3], "consumes": ["id", "m"]}
    assert _gen(mini(ops, outputs=("done", "tok"))) == []
    # a data edge between the two
    ops = [dict(o) for o in CHAIN]
    ops[3] = {**ops[3], "consumes": ["x"]}
    assert _gen(mini(ops, outputs=("done", "tok"))) == []
    doc = mini(CHAIN, outputs=("x", "done", "tok"), constraints={"frozen": ["enrich"]})
    assert _gen(doc) == []
    doc = mini(CHAIN, outputs=("x", "done", "tok"), constraints={"keep_order": [["guard", "ship"]]})
    assert _gen(doc) == []


def test_scenario_moves_the_stock_check_first() -> None:
    r = scenario()
    ms = reorder.generate(OperatorContext.build(r, doc=scenario_doc(), profile=scenario_profile()))
    assert ids(ms) == ["reorder:check_stock->price"]
    assert "halted 1" in ms[0].description or "halted 2" in ms[0].description  # the observed halt rate
    assert check_structure(r, ms[0].recipe) == []


def test_never_moves_a_side_effect_ahead_of_the_guard_that_preceded_it() -> None:
    ops = [
        {"id": "fraud", "consumes": ["id"], "produces": ["verdict"], "may_halt": True},
        # a guard with side effects of its own, after the fraud guard only by `after`
        {
            "id": "reserve",
            "consumes": ["id"],
            "produces": ["res"],
            "after": ["fraud"],
            "may_halt": True,
            "side_effects": "idempotent",
        },
    ]
    assert _gen(mini(ops, outputs=("verdict", "res"))) == []
    ops[1]["side_effects"] = "none"  # no side effect: moving it first is fine
    assert ids(_gen(mini(ops, outputs=("verdict", "res")))) == ["reorder:reserve->fraud"]


def test_a_guard_before_the_pair_is_kept_for_a_side_effecting_second() -> None:
    ops = [
        {"id": "fraud", "consumes": ["id"], "produces": ["ok"], "may_halt": True},
        {"id": "enrich", "consumes": ["ok"], "produces": ["x"]},  # after the fraud guard by data
        {
            "id": "hold",
            "consumes": ["id"],
            "produces": ["h"],
            "after": ["enrich"],
            "may_halt": True,
            "side_effects": "idempotent",
        },
    ]
    (m,) = _gen(mini(ops, outputs=("x", "h")))
    assert edits(m) == [
        {"op": "remove", "path": ["operations", "hold", "after", "enrich"]},
        {"op": "append", "path": ["operations", "hold", "after"], "value": "fraud"},
        {"op": "append", "path": ["operations", "enrich", "after"], "value": "hold"},
    ]
