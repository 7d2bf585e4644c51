"""substitute: a catalogue alternative replaces an operation only where it fits."""

from __future__ import annotations

from _operators_helpers import edits, ids, mini

from recipemut.mutate.operators import OperatorContext, substitute
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.model import recipe_from_dict


def _gen(doc: dict) -> list:
    return substitute.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc))


OPS = [
    {"id": "auth", "consumes": ["id"], "produces": ["token"]},
    {
        "id": "load",
        "consumes": ["id"],
        "produces": ["cart"],
        "equivalence": "cart.read",
        "cost_per_call_usd": 0.001,
        "deterministic": True,
    },
    {"id": "price", "consumes": ["cart"], "produces": ["quote"]},
]


def _alt(**kw: object) -> dict:
    return {
        "id": "load_fast",
        "service": "edge",
        "action": "GetV2",
        "equivalence": "cart.read",
        "consumes": ["id"],
        "produces": ["cart"],
        **kw,
    }


def test_substitutes_service_action_cost_and_records_the_old_action() -> None:
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(cost_per_call_usd=0.002)])
    (m,) = _gen(doc)
    assert m.id == "substitute:load->load_fast" and m.targets == ("load", "load_fast")
    assert edits(m) == [
        {"op": "set", "path": ["operations", "load", "service"], "value": "edge"},
        {"op": "set", "path": ["operations", "load", "action"], "value": "GetV2"},
        {"op": "set", "path": ["operations", "load", "cost_per_call_usd"], "value": 0.002},
        {"op": "set", "path": ["operations", "load", "substituted_from"], "value": "Load"},
    ]
    op = m.recipe.ops["load"]
    assert (op.service, op.action, op.substituted_from, op.deterministic) == ("edge", "GetV2", "Load", True)


def test_unknown_cost_is_removed_and_stated_properties_copied() -> None:
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(deterministic=False)])
    (m,) = _gen(doc)
    assert {"op": "remove", "path": ["operations", "load", "cost_per_call_usd"]} in edits(m)
    assert {"op": "set", "path": ["operations", "load", "deterministic"], "value": False} in edits(m)
    assert m.recipe.ops["load"].cost_per_call_usd is None


def test_expected_cost_is_used_when_no_cost_is_given() -> None:
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(expected={"cost_per_call_usd": 0.0005})])
    (m,) = _gen(doc)
    assert m.recipe.ops["load"].cost_per_call_usd == 0.0005


def test_may_consume_a_field_produced_upstream_and_rewires_data() -> None:
    ops = [dict(o) for o in OPS]
    ops[1] = {**ops[1], "after": ["auth"]}
    doc = mini(ops, outputs=("quote",), alternatives=[_alt(consumes=["id", "token"])])
    (m,) = _gen(doc)
    assert {"op": "set", "path": ["operations", "load", "consumes"], "value": ["id", "token"]} in edits(m)
    assert m.recipe.dag.edges["auth", "load"]["kind"] == "both"
    assert check_structure(recipe_from_dict(doc), m.recipe) == []


def test_refuses_unavailable_fields_missing_products_and_frozen() -> None:
    # token is produced by auth, which does not precede load
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(consumes=["id", "token"])])
    assert _gen(doc) == []
    r = recipe_from_dict(doc)
    reasons = substitute.unmet(OperatorContext.build(r), r.ops["load"], r.alternatives[0])
    assert reasons == ["consumes [token], not available before `load`"]
    # does not produce cart, which price needs
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(produces=["basket"])])
    assert _gen(doc) == []
    # produces a field another op produces
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(produces=["cart", "quote"])])
    assert _gen(doc) == []
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt()], constraints={"frozen": ["load"]})
    assert _gen(doc) == []
    # other equivalence tag, or the very same service/action
    assert _gen(mini(OPS, outputs=("quote",), alternatives=[_alt(equivalence="cart.write")])) == []
    assert _gen(mini(OPS, outputs=("quote",), alternatives=[_alt(service="s", action="Load")])) == []


def test_extra_products_are_allowed_when_declared_and_new() -> None:
    doc = mini(OPS, outputs=("quote",), alternatives=[_alt(produces=["cart", "etag"])])
    assert ids(_gen(doc)) == ["substitute:load->load_fast"]


def test_description_says_when_the_new_service_has_no_declared_capacity() -> None:
    services = {"s": {"replicas": 2}}
    (m,) = _gen(mini(OPS, outputs=("quote", "token"), alternatives=[_alt()], services=services))
    assert m.description.endswith(
        "; service `edge` has no declared capacity (no entry under `services:`), so forecast cannot size it: "
        "declare it before applying."
    )
    (m,) = _gen(mini(OPS, outputs=("quote", "token"), alternatives=[_alt()], services={**services, "edge": {}}))
    assert "no declared capacity" not in m.description
