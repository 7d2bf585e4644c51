"""Constraint validation: each reason, literally."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from _operators_helpers import mini

from recipemut.mutate.mutation import edited_document, mutate
from recipemut.recipe.constraints import check_predicted, check_structure, check_valid
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import recipe_from_dict

OPS = [
    {"id": "a", "consumes": ["id"], "produces": ["x"]},
    {"id": "b", "consumes": ["x"], "produces": ["y"]},
    {"id": "c", "consumes": ["id"], "produces": ["z"], "after": ["b"]},
]


def _pair(edits: list[Edit], **kw: object) -> tuple:
    doc = mini(OPS, outputs=("y", "z"), **kw)
    return recipe_from_dict(doc), mutate(doc, edits)


def test_unchanged_is_valid() -> None:
    r, m = _pair([])
    assert check_structure(r, m) == []


def test_cycle_is_reported_as_a_path() -> None:
    r, m = _pair([Edit("append", ("operations", "a", "after"), "c")])
    assert check_structure(r, m) == ["cycle: a -> b -> c -> a"]


def test_missing_producer_double_producer_self_consumption_and_outputs() -> None:
    r, m = _pair([Edit("remove", ("operations", "a"))])
    assert check_structure(r, m) == ["operation 'b' consumes 'x', which is neither an input nor produced"]
    r, m = _pair([Edit("append", ("operations", "c", "produces"), "x")])
    assert check_structure(r, m) == ["field 'x' is produced by 2 operations (a, c)"]
    r, m = _pair([Edit("set", ("operations", "c", "consumes"), ["z"])])
    assert check_structure(r, m) == ["operation 'c' consumes 'z', which only it produces"]
    r, m = _pair([Edit("set", ("operations", "c", "produces"), [])])
    assert check_structure(r, m) == ["output 'z' is not produced by any operation"]


def test_duplicate_ids_and_unknown_after() -> None:
    r, m = _pair([Edit("append", ("operations",), {"id": "a", "service": "s", "action": "A2"})])
    assert check_structure(r, m)[0] == "duplicate operation ids: a"
    r, m = _pair([Edit("append", ("operations", "c", "after"), "ghost")])
    assert check_structure(r, m) == ["operation 'c' is after unknown operation ghost"]


def test_frozen_changed_removed_or_reordered() -> None:
    frozen = {"constraints": {"frozen": ["c"]}}
    r, m = _pair([Edit("set", ("operations", "c", "action"), "Other")], **frozen)
    assert check_structure(r, m) == ["frozen operation 'c' was changed"]
    r, m = _pair([Edit("remove", ("operations", "c")), Edit("set", ("outputs",), ["y"])], **frozen)
    assert check_structure(r, m) == ["frozen operation 'c' was removed"]
    # ordering of c changes when something else is rewired: b no longer precedes it
    frozen_b = {"constraints": {"frozen": ["b"]}}
    r, m = _pair([Edit("set", ("operations", "c", "after"), [])], **frozen_b)
    assert check_structure(r, m) == ["frozen operation 'b': what runs after it changed (no longer c)"]
    r, m = _pair([Edit("append", ("operations", "a", "after"), "c")], **{"constraints": {"frozen": ["a"]}})
    assert check_structure(r, m)[0].startswith("cycle")
    # rerouting around a frozen op without changing what runs before/after it is fine
    doc = mini(
        [*OPS, {"id": "d", "consumes": ["z"], "produces": ["w"], "after": ["c"]}],
        outputs=("y", "w"),
        constraints={"frozen": ["c"]},
    )
    r2 = recipe_from_dict(doc)
    m2 = mutate(doc, [Edit("set", ("operations", "d", "after"), [])])
    assert check_structure(r2, m2) == []


def test_keep_order_lost_reversed_or_removed() -> None:
    ko = {"constraints": {"keep_order": [["b", "c"]]}}
    r, m = _pair([Edit("set", ("operations", "c", "after"), [])], **ko)
    assert check_structure(r, m) == ["keep_order [b, c]: 'c' no longer waits for 'b'"]
    r, m = _pair([Edit("remove", ("operations", "c")), Edit("set", ("outputs",), ["y"])], **ko)
    assert check_structure(r, m) == ["keep_order [b, c]: operation 'c' was removed"]
    ko2 = {"constraints": {"keep_order": [["a", "c"]]}}
    r, m = _pair(
        [Edit("set", ("operations", "c", "after"), []), Edit("set", ("operations", "a", "after"), ["c"])], **ko2
    )
    assert check_structure(r, m) == ["keep_order [a, c]: 'c' now runs before 'a'"]
    # a pair the original does not order is not the mutation's business
    doc = mini(
        [*OPS, {"id": "d", "consumes": ["id"], "produces": ["w"]}],
        outputs=("y", "z", "w"),
        constraints={"keep_order": [["d", "c"]]},
    )
    assert check_structure(recipe_from_dict(doc), mutate(doc, [Edit("set", ("operations", "c", "after"), [])])) == []


def test_check_predicted() -> None:
    r = recipe_from_dict(
        mini(OPS, outputs=("y", "z"), constraints={"slo": {"latency_p95_ms": 200}, "max_cost_per_request_usd": 0.01})
    )
    assert check_predicted(r, 150.0, 0.005) == []
    assert check_predicted(r, 250.0, 0.02) == [
        "predicted p95 latency 250.0 ms exceeds the SLO of 200 ms",
        "predicted cost 0.020000 USD/request exceeds the budget of 0.01 USD/request",
    ]
    assert len(check_predicted(r, float("nan"), float("nan"))) == 2
    assert (
        check_predicted(
            replace(r, constraints=replace(r.constraints, latency_p95_ms=None, max_cost_per_request_usd=None)), 1e9, 1e9
        )
        == []
    )


GUARDED = [
    {"id": "load", "consumes": ["id"], "produces": ["cart"]},
    {"id": "fraud", "consumes": ["id"], "produces": ["verdict"], "may_halt": True},
    {"id": "reserve", "consumes": ["cart"], "produces": ["res"], "after": ["fraud"], "side_effects": "idempotent"},
    {"id": "charge", "consumes": ["res"], "produces": ["paid"], "side_effects": "external"},
    {"id": "recs", "consumes": ["cart"], "produces": ["upsell"], "after": ["fraud"]},
]


def test_a_side_effect_a_guard_preceded_must_still_wait_for_it() -> None:
    doc = mini(GUARDED, outputs=("paid", "upsell", "verdict"))
    r = recipe_from_dict(doc)
    m = mutate(doc, [Edit("remove", ("operations", "reserve", "after", "fraud"))])
    # reserve directly, charge transitively (through reserve's data) lose the guard
    assert check_structure(r, m) == [
        "control dependency: 'reserve' (side_effects: idempotent) no longer waits for guard 'fraud' (may_halt), "
        "so it would run for requests 'fraud' halts",
        "control dependency: 'charge' (side_effects: external) no longer waits for guard 'fraud' (may_halt), "
        "so it would run for requests 'fraud' halts",
    ]
    # the guard kept through another path is fine; an op without side effects may leave the guard
    kept = mutate(
        doc,
        [
            Edit("remove", ("operations", "reserve", "after", "fraud")),
            Edit("append", ("operations", "load", "after"), "fraud"),
        ],
    )
    assert check_structure(r, kept) == []
    assert check_structure(r, mutate(doc, [Edit("remove", ("operations", "recs", "after", "fraud"))])) == []


def _loaders(doc: dict[str, Any]) -> list[str]:
    """The errors apply's validation finds in ``doc`` (the loader's whole check), as check_valid words them."""
    from recipemut.recipe.loader import check_document

    _, found = check_document(doc, {}, file="r.yaml")
    return [f"{f.message} [{f.code}]" for f in found if f.severity == "error"]


ON_A = ("operations", "a")
REFUSED = {
    "no operation left": [Edit("remove", ("operations", "a")), Edit("remove", ("operations", "b")),
                          Edit("remove", ("operations", "c")), Edit("remove", ("outputs",))],
    "a value out of range": [Edit("set", (*ON_A, "cache"), {"ttl_s": 0, "max_entries": 0})],
    "a required key gone": [Edit("remove", (*ON_A, "service"))],
    "an unknown key": [Edit("set", (*ON_A, "caches"), True)],
    "a field of a wrong type": [Edit("set", ("fields", "x"), {"type": "blob"})],
    "a required top-level key gone": [Edit("remove", ("name",))],
    "a semantic error": [Edit("set", (*ON_A, "foreach"), "y")],
    "a new bad operation": [Edit("append", ("operations",), {"id": "d", "service": "s", "concurrency": 0})],
    "valid": [Edit("set", (*ON_A, "cache"), {"ttl_s": 5, "max_entries": 10})],
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_check_valid_finds_what_apply_refuses(case: str) -> None:
    doc = mini(OPS, outputs=("y", "z"))
    after = edited_document(doc, REFUSED[case])
    want = _loaders(after)
    assert (want == []) == (case == "valid")
    assert check_valid(doc, after, mutate(doc, REFUSED[case])) == want


EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[1] / "recipes").glob("*/*.*")
                  if p.name in {"recipe.yaml", "workflow.yaml", "workflow.yml", "pipeline.yaml", "definition.asl.json"})


def test_check_valid_agrees_with_the_loader_on_every_candidate_of_the_examples() -> None:
    from recipemut.mutate.operators import OperatorContext, generate_all
    from recipemut.recipe.loader import load_recipe, read_document

    checked = 0
    for path in EXAMPLES:
        doc, _, _ = read_document(path)
        for m in generate_all(OperatorContext.build(load_recipe(path), doc=doc)):
            after = edited_document(doc, m.edits)
            assert check_valid(doc, after, m.recipe) == _loaders(after), (path, m.id)
            checked += 1
    assert checked >= 20
