"""diff.py: structural diffs with literal recipes in and out; the unified diff is what apply writes."""

from __future__ import annotations

from pathlib import Path

from _suggest_helpers import recipe

from recipemut.mutate.mutation import mutate
from recipemut.recipe.diff import edited_text, structural_diff
from recipemut.recipe.edits import Edit
from recipemut.recipe.linediff import unified_diff
from recipemut.recipe.loader import load_recipe_text
from recipemut.recipe.model import recipe_to_dict

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "recipe.yaml"


def _base():
    return recipe(
        [
            {"id": "a", "consumes": ["x"], "produces": ["ya"]},
            {"id": "b", "consumes": ["x"], "produces": ["yb"], "after": ["a"]},
            {"id": "c", "consumes": ["ya", "yb"], "produces": ["z"]},
            {"id": "d", "consumes": ["x"], "produces": ["unused"]},
        ],
        outputs=("z",),
    )


def test_parallelize_shows_the_after_edge_removed() -> None:
    r = _base()
    m = mutate(recipe_to_dict(r), [Edit("set", ("operations", "b", "after"), [])])
    d = structural_diff(r, m)
    assert d.edges_removed == (("a", "b", "after"),)
    assert d.edges_added == ()
    assert d.ops_changed == (("b", (("after", ["a"], []),)),)
    assert d.changed_ops == ("b",)
    assert d.lines() == ["~ b: after ['a'] -> []", "- edge a -> b (after)"]


def test_eliminate_cache_and_format_changes() -> None:
    r = _base()
    doc = recipe_to_dict(r)
    doc["fields"]["ya"] = {"type": "object", "format": "json"}
    r = mutate(doc, [])
    m = mutate(
        doc,
        [
            Edit("remove", ("operations", "d")),
            Edit("set", ("operations", "a", "cache"), {"ttl_s": 60, "max_entries": 10, "hit_latency_ms": 1}),
            Edit("set", ("fields", "ya", "format"), "protobuf"),
        ],
    )
    d = structural_diff(r, m)
    assert d.ops_removed == ("d",)
    assert d.ops_changed == (("a", (("cache", None, {"ttl_s": 60.0, "max_entries": 10, "hit_latency_ms": 1.0}),)),)
    assert d.fields_changed == (("ya", (("format", "json", "protobuf"),)),)
    assert not d.empty
    assert d.to_dict()["operations_removed"] == ["d"]


def test_a_price_is_said_in_dollars() -> None:
    """substitute's line read 'cost_per_call_usd 0.0009 -> 0.0006', the only cost in the output without its $."""
    r = _base()
    doc = recipe_to_dict(r)
    doc["operations"][0]["cost_per_call_usd"] = 0.0009
    r = mutate(doc, [])
    m = mutate(doc, [Edit("set", ("operations", "a", "cost_per_call_usd"), 4e-05),
                     Edit("set", ("operations", "b", "cost_per_call_usd"), 0.0006)])  # fmt: skip
    assert structural_diff(r, m).lines() == [
        "~ a: cost_per_call_usd $0.0009 -> $0.00004",
        "~ b: cost_per_call_usd (none) -> $0.0006",
    ]


def test_reorder_edge_flip_and_identity() -> None:
    r = _base()
    assert structural_diff(r, r).empty
    doc = recipe_to_dict(r)
    m = mutate(doc, [Edit("set", ("operations", "b", "after"), []), Edit("set", ("operations", "a", "after"), ["b"])])
    d = structural_diff(r, m)
    assert d.edges_added == (("b", "a", "after"),)
    assert d.edges_removed == (("a", "b", "after"),)


def test_unified_diff_is_exactly_what_apply_writes_and_keeps_comments() -> None:
    text = CHECKOUT.read_text()
    r = load_recipe_text(text, file=str(CHECKOUT))
    target = next(op for op in r.operations if op.after and op.id == "score_fraud")
    edits = [Edit("set", ("operations", target.id, "after"), [])]
    after = edited_text(text, edits)
    diff = unified_diff(text, after, "recipes/checkout/recipe.yaml")
    assert diff.startswith("--- a/recipes/checkout/recipe.yaml\n+++ b/recipes/checkout/recipe.yaml\n")
    removed = [ln for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    added = [ln for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    assert len(removed) == 1 and "after: [price_items]" in removed[0]
    assert len(added) <= 1
    # comments survive, and the edited text is the recipe the mutation describes
    assert "# Fraud scoring runs after pricing" in after
    assert load_recipe_text(after).ops[target.id].after == ()
    assert unified_diff(text, text) == ""
