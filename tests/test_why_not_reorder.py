"""reorder says why a guard that would pay to run first may not be moved.

Issue 16 asked every operator that can silently propose nothing to say why: a swap that would
pay (a guard, or a data-shrinking step, placed after an operation by `after` alone) but is
blocked now says what blocks it.
"""

from __future__ import annotations

from _operators_helpers import mini

from recipemut.mutate.operators import REGISTRY, OperatorContext, not_proposed, reorder
from recipemut.recipe.model import recipe_from_dict

OPS = [
    {"id": "enrich", "consumes": ["id"], "produces": ["x"]},
    {"id": "guard", "consumes": ["id"], "produces": ["ok"], "may_halt": True, "after": ["enrich"]},
]
PAYS = "running `guard` before `enrich` may pay (`guard` may halt the request), but"


def _ctx(ops: list[dict], **kw: object) -> OperatorContext:
    doc = mini(ops, outputs=("x", "ok"), **kw)
    return OperatorContext.build(recipe_from_dict(doc), doc=doc)


def test_a_guard_that_may_not_move_first_says_why() -> None:
    frozen = _ctx(OPS, constraints={"frozen": ["enrich"]})
    assert reorder.generate(frozen) == []
    assert reorder.why_not(frozen) == {"guard": f"{PAYS} `enrich` is frozen"}
    ordered = _ctx(OPS, constraints={"keep_order": [["enrich", "guard"]]})
    assert reorder.why_not(ordered) == {"guard": f"{PAYS} `enrich` is in a keep_order pair"}
    # guard also waits for enrich through `mid`: swapping the pair would make a cycle
    chain = [OPS[0], {"id": "mid", "consumes": ["x"], "produces": ["y"]},
             {**OPS[1], "consumes": ["id", "y"], "after": ["enrich"]}]
    doc = mini(chain, outputs=("ok",))
    ctx = OperatorContext.build(recipe_from_dict(doc), doc=doc)
    assert reorder.why_not(ctx) == {"guard": f"{PAYS} `guard` also waits for `enrich` through other operations"}
    (reason,) = not_proposed(frozen, ["reorder"])
    assert reason.sentence().startswith("reorder: guard: running `guard` before `enrich` may pay")
    assert REGISTRY["reorder"].why_not is reorder.why_not


def test_a_swap_made_or_one_that_would_not_pay_says_nothing() -> None:
    ctx = _ctx(OPS)
    assert [m.id for m in reorder.generate(ctx)] == ["reorder:guard->enrich"]
    assert reorder.why_not(ctx) == {}
    plain = [OPS[0], {**OPS[1], "may_halt": False}]
    assert reorder.why_not(_ctx(plain, constraints={"frozen": ["enrich"]})) == {}  # no gain to explain
