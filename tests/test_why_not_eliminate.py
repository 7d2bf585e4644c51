"""eliminate says why dead work (a side-effect-free operation whose products nobody uses) stays.

Issue 16 asked every operator that can silently propose nothing to say why; an operation with
declared side effects is there for them and gets no line.
"""

from __future__ import annotations

from _operators_helpers import mini

from recipemut.mutate.operators import REGISTRY, OperatorContext, eliminate, not_proposed
from recipemut.recipe.model import recipe_from_dict

BASE = [{"id": "a", "consumes": ["id"], "produces": ["x"]}]
DEAD = "its products [junk] are used by nothing"


def _why(extra: dict, **kw: object) -> dict[str, str]:
    doc = mini([*BASE, {"id": "d", "consumes": ["x"], "produces": ["junk"], **extra}], outputs=("x",), **kw)
    ctx = OperatorContext.build(recipe_from_dict(doc), doc=doc)
    assert eliminate.generate(ctx) == []
    return dict(eliminate.why_not(ctx))


def test_dead_work_that_stays_says_why() -> None:
    assert _why({"may_halt": True}) == {
        "d": f"{DEAD}, but it may halt the request (a guard): removing it would let halted requests go on"
    }
    assert _why({}, constraints={"frozen": ["d"]}) == {"d": f"{DEAD}, but it is frozen"}
    assert _why({}, constraints={"keep_order": [["a", "d"]]}) == {"d": f"{DEAD}, but it is in a keep_order pair"}
    assert REGISTRY["eliminate"].why_not is eliminate.why_not


def test_declared_side_effects_a_candidate_or_used_products_say_nothing() -> None:
    assert _why({"side_effects": "idempotent"}) == {}
    assert _why({"side_effects": "external"}) == {}
    doc = mini([*BASE, {"id": "d", "consumes": ["x"], "produces": ["junk"]}], outputs=("x",))
    ctx = OperatorContext.build(recipe_from_dict(doc), doc=doc)
    assert [m.id for m in eliminate.generate(ctx)] == ["eliminate:d"]
    assert eliminate.why_not(ctx) == {} and not_proposed(ctx, ["eliminate"]) == []
    used = mini([*BASE, {"id": "d", "consumes": ["x"], "produces": ["z"]}], outputs=("x", "z"))
    assert eliminate.why_not(OperatorContext.build(recipe_from_dict(used), doc=used)) == {}


def test_the_recipes_only_operation_stays_and_says_why() -> None:
    # its removal would leave a recipe apply refuses ('a recipe needs at least one operation')
    doc = mini([{"id": "server", "consumes": ["id"]}])
    ctx = OperatorContext.build(recipe_from_dict(doc), doc=doc)
    assert eliminate.generate(ctx) == []
    assert eliminate.why_not(ctx) == {
        "server": "it produces nothing, but it is the recipe's only operation (a recipe needs at least one)"
    }
