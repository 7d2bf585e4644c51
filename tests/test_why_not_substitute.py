"""substitute says why an operation whose equivalence the catalogue offers got no candidate.

Issue 16 asked every operator that can silently propose nothing to say why: an alternative with
the operation's `equivalence` that cannot replace it now says what it lacks.
"""

from __future__ import annotations

from _operators_helpers import mini

from recipemut.mutate.operators import REGISTRY, OperatorContext, not_proposed, substitute
from recipemut.recipe.model import recipe_from_dict

OPS = [
    {"id": "auth", "consumes": ["id"], "produces": ["token"]},
    {"id": "load", "consumes": ["id"], "produces": ["cart"], "equivalence": "cart.read"},
    {"id": "price", "consumes": ["cart"], "produces": ["quote"]},
]


def _alt(**kw: object) -> dict:
    return {"id": "load_fast", "service": "edge", "action": "GetV2", "equivalence": "cart.read",
            "consumes": ["id"], "produces": ["cart"], **kw}


def _ctx(*alternatives: dict, **extra: object) -> OperatorContext:
    doc = mini(OPS, outputs=("quote",), alternatives=list(alternatives), **extra)
    return OperatorContext.build(recipe_from_dict(doc), doc=doc)


def test_each_alternative_that_cannot_replace_the_operation_says_why() -> None:
    ctx = _ctx(_alt(consumes=["id", "token"]), _alt(id="load_basket", produces=["basket"]))
    assert substitute.generate(ctx) == []
    assert substitute.why_not(ctx) == {
        "load": "`load_fast` cannot replace it: consumes [token], not available before `load`; "
        "`load_basket` cannot replace it: does not produce [cart], which is used downstream"
    }
    (reason,) = not_proposed(ctx, ["substitute"])
    assert reason.sentence().startswith("substitute: load: `load_fast` cannot replace it")
    assert REGISTRY["substitute"].why_not is substitute.why_not


def test_an_alternative_that_would_break_an_ordering_constraint_says_which() -> None:
    """`load` reads auth's token, which keeps auth before it; an alternative without it would not."""
    ops = [OPS[0], {**OPS[1], "consumes": ["id", "token"]}, OPS[2]]
    doc = mini(ops, outputs=("quote",), alternatives=[_alt()], constraints={"keep_order": [["auth", "load"]]})
    ctx = OperatorContext.build(recipe_from_dict(doc), doc=doc)
    assert substitute.generate(ctx) == []
    (why,) = substitute.why_not(ctx).values()
    assert why.startswith("`load_fast` would break an ordering constraint (keep_order ") and "auth" in why, why


def test_frozen_says_so() -> None:
    assert substitute.why_not(_ctx(_alt(), constraints={"frozen": ["load"]})) == {
        "load": "frozen: its calls are not changed"
    }


def test_a_candidate_or_no_alternative_of_its_equivalence_says_nothing() -> None:
    ctx = _ctx(_alt(), _alt(id="load_bad", consumes=["id", "token"]))
    assert [m.id for m in substitute.generate(ctx)] == ["substitute:load->load_fast"]
    assert substitute.why_not(ctx) == {}  # one usable alternative: the operation got its candidate
    assert substitute.why_not(_ctx(_alt(equivalence="cart.write"))) == {}
    assert substitute.why_not(_ctx()) == {}
