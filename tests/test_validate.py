"""Semantic validation: literal recipe-in / findings-out for every rule, and properties of valid recipes."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import networkx as nx
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import recipe_docs

from recipemut.recipe.loader import check_text
from recipemut.recipe.model import recipe_from_dict, recipe_to_dict
from recipemut.recipe.validate import RULES, is_valid, semantic_findings

BASE: dict[str, Any] = {
    "apiVersion": "recipemut/v1",
    "kind": "Recipe",
    "name": "t",
    "fields": {"order_id": {}, "cart": {}, "quote": {}, "receipt": {}},
    "inputs": ["order_id"],
    "outputs": ["receipt"],
    "services": {"s": {}},
    "operations": [
        {"id": "load", "service": "s", "action": "Load", "consumes": ["order_id"], "produces": ["cart"]},
        {"id": "price", "service": "s", "action": "Price", "consumes": ["cart"], "produces": ["quote"]},
        {"id": "send", "service": "s", "action": "Send", "consumes": ["quote"], "produces": ["receipt"]},
    ],
}


def doc(**changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    d.update(changes)
    return d


def ops(*extra: dict[str, Any], **by_id: dict[str, Any]) -> list[dict[str, Any]]:
    """BASE operations with per-id changes, plus extra operations."""
    out = copy.deepcopy(BASE["operations"])
    for op in out:
        op.update(by_id.get(op["id"], {}))
    return out + list(extra)


def found(d: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in semantic_findings(recipe_from_dict(d, source="t.yaml"))]


def test_base_recipe_is_clean() -> None:
    assert found(doc()) == []
    assert is_valid(recipe_from_dict(doc()))


def test_consumed_field_nobody_produces() -> None:
    d = doc(operations=ops(price={"consumes": ["cart", "coupon"]}), fields={**BASE["fields"], "coupon": {}})
    assert found(d) == [
        (
            "unproduced-field",
            "operations[1] (price): consumes 'coupon', which is not an input and no operation produces",
        )
    ]


def test_field_consumed_by_its_own_producer() -> None:
    d = doc(operations=ops(price={"consumes": ["cart", "quote"]}))
    assert found(d) == [("not-upstream", "operations[1] (price): consumes 'quote', which it produces itself")]


def test_field_produced_twice_names_both_operations() -> None:
    d = doc(operations=ops(send={"produces": ["receipt", "cart"]}))
    assert found(d) == [
        (
            "duplicate-producer",
            "operations[2] (send): produces 'cart', already produced by 'load'; a field has exactly one producer",
        )
    ]


def test_output_never_produced() -> None:
    d = doc(operations=ops(send={"produces": []}))
    codes = [c for c, _ in found(d)]
    assert ("output-not-produced", "outputs[0]: 'receipt' is never produced") in found(d)
    assert codes.count("output-not-produced") == 1


def test_an_input_may_be_an_output() -> None:
    assert found(doc(outputs=["receipt", "order_id"])) == []


def test_input_that_is_also_produced() -> None:
    d = doc(operations=ops(load={"produces": ["cart", "order_id"]}))
    assert found(d) == [("input-produced", "operations[0] (load): produces 'order_id', which is a recipe input")]


def test_unknown_after_with_suggestion_and_self_after() -> None:
    d = doc(operations=ops(price={"after": ["lod"]}, send={"after": ["send"]}))
    assert found(d) == [
        ("unknown-after", "operations[1] (price): after names unknown operation 'lod' (did you mean 'load'?)"),
        ("self-after", "operations[2] (send): lists itself in after"),
    ]


def test_unknown_ids_in_constraints() -> None:
    d = doc(constraints={"frozen": ["charge"], "keep_order": [["load", "sned"]]})
    assert found(d) == [
        ("unknown-frozen", "constraints.frozen[0]: unknown operation 'charge'"),
        ("unknown-keep-order", "constraints.keep_order[0]: unknown operation 'sned' (did you mean 'send'?)"),
    ]


def test_duplicate_ids_in_operations_and_alternatives() -> None:
    extra = {"id": "load", "service": "s", "action": "Load2", "consumes": [], "produces": []}
    alt = {"id": "price", "service": "s", "action": "P2", "equivalence": "x", "consumes": [], "produces": []}
    d = doc(operations=ops(extra), alternatives=[alt])
    d["operations"][1]["equivalence"] = "x"
    assert found(d) == [
        ("duplicate-id", "operations[3]: duplicate id 'load' (already used by operations[0])"),
        ("duplicate-id", "alternatives[0]: duplicate id 'price' (already used by operations[1])"),
    ]


def test_cycle_is_printed_as_a_path_with_reasons() -> None:
    d = doc(operations=ops(load={"after": ["send"]}))
    assert found(d) == [
        (
            "cycle",
            "cycle: load -> price -> send -> load "
            "(load -> price: data 'cart'; price -> send: data 'quote'; send -> load: after)",
        )
    ]


def test_a_cycle_does_not_also_contradict_keep_order() -> None:
    d = doc(operations=ops(load={"after": ["send"]}), constraints={"keep_order": [["load", "send"], ["send", "price"]]})
    assert [c for c, _ in found(d)] == ["cycle"]


def test_two_independent_cycles_are_both_reported() -> None:
    extra = [
        {"id": "a", "service": "s", "action": "A", "after": ["b"]},
        {"id": "b", "service": "s", "action": "B", "after": ["a"]},
    ]
    d = doc(operations=ops(*extra, load={"after": ["price"]}))
    msgs = [m for c, m in found(d) if c == "cycle"]
    assert msgs == [
        "cycle: load -> price -> load (load -> price: data 'cart'; price -> load: after)",
        "cycle: a -> b -> a (a -> b: after; b -> a: after)",
    ]


def test_keep_order_contradicting_the_dag() -> None:
    d = doc(constraints={"keep_order": [["send", "load"], ["price", "price"]]})
    assert found(d) == [
        (
            "keep-order-contradiction",
            "constraints.keep_order[0]: asks 'send' to run before 'load', but the DAG runs 'load' first",
        ),
        ("keep-order-contradiction", "constraints.keep_order[1]: [price, price] names one operation twice"),
    ]


def test_keep_order_on_unordered_operations_is_a_warning() -> None:
    extra = {"id": "audit", "service": "s", "action": "Audit", "consumes": ["order_id"]}
    d = doc(operations=ops(extra), constraints={"keep_order": [["audit", "send"]]})
    r = recipe_from_dict(d)
    [f] = semantic_findings(r)
    assert (f.code, f.severity) == ("keep-order-unordered", "warning")
    assert is_valid(r)


def test_field_used_but_not_declared() -> None:
    d = doc(fields={"order_id": {}, "cart": {}, "receipt": {}})
    assert found(d) == [
        ("undeclared-field", "field 'quote' (operations[1] (price) produces it) is not declared in fields")
    ]


def test_declared_field_used_nowhere_is_a_warning() -> None:
    d = doc(fields={**BASE["fields"], "coupon": {}})
    [f] = semantic_findings(recipe_from_dict(d))
    assert (f.code, f.severity, f.message) == ("unused-field", "warning", "fields.coupon: declared but used nowhere")


def test_undeclared_service_is_a_warning_once_per_service() -> None:
    d = doc(services={})
    [f] = semantic_findings(recipe_from_dict(d))
    assert f.severity == "warning"
    assert f.message == "service 's' (used by load, price, send) is not declared in services; forecast cannot size it"


def test_variant_shares() -> None:
    variant = {"recipe": copy.deepcopy(BASE)}
    d = doc(variants=[{**variant, "name": "a", "share": 0.6}, {**variant, "name": "a", "share": 0.5}])
    assert found(d) == [
        ("duplicate-variant", "variants[1]: name 'a' is already used by variants[0]"),
        ("variant-shares", "variants: shares sum to 1.1; they must leave the control a share above 0"),
    ]
    d = doc(variants=[{**variant, "name": "control", "share": 1.5}])
    assert found(d) == [
        ("variant-shares", "variants[0] (control): share 1.5 is not in (0, 1)"),
        ("duplicate-variant", "variants[0]: the name 'control' is the recipe itself"),
        ("variant-shares", "variants: shares sum to 1.5; they must leave the control a share above 0"),
    ]


def test_variant_recipes_are_checked_too() -> None:
    bad = copy.deepcopy(BASE)
    bad["operations"][0]["after"] = ["send"]
    d = doc(variants=[{"name": "canary", "share": 0.1, "recipe": bad}])
    [(code, msg)] = found(d)
    assert code == "cycle"
    assert msg.startswith("variants[0] (canary).recipe: cycle: load -> price -> send -> load")


def test_operation_detail_rules() -> None:
    extra = {
        "id": "charge",
        "service": "s",
        "action": "Charge",
        "side_effects": "external",
        "cache": {"ttl_s": 5, "max_entries": 10},
        "hedge": {"after_ms": 100},
        "expected": {"latency_ms": {"p50": 30, "p95": 20}},
    }
    alt = {"id": "other", "service": "s", "action": "O", "equivalence": "nobody.has.this"}
    got = found(doc(operations=ops(extra), alternatives=[alt]))
    assert got == [
        ("bad-expected", "operations[3] (charge): expected p50 30 ms is above p95 20 ms"),
        (
            "cache-unsafe",
            "operations[3] (charge): has a cache but has external side effects; hits may serve wrong results",
        ),
        ("hedge-unsafe", "operations[3] (charge): hedging repeats calls with external side effects"),
        ("orphan-alternative", "alternatives[0] (other): equivalence 'nobody.has.this' matches no operation"),
    ]


def test_every_rule_has_a_severity_and_all_problems_are_collected() -> None:
    assert {sev for sev, _ in RULES.values()} == {"error", "warning"}
    d = doc(
        operations=ops(price={"after": ["nope"]}, send={"produces": ["cart"]}),
        constraints={"frozen": ["ghost"]},
    )
    codes = sorted(c for c, _ in found(d))
    assert codes == ["duplicate-producer", "output-not-produced", "unknown-after", "unknown-frozen"]


def test_findings_carry_file_line_and_column() -> None:
    text = """\
apiVersion: recipemut/v1
kind: Recipe
name: t
fields: {a: {}, b: {}}
inputs: [a]
outputs: [b]
services: {s: {}}
operations:
  - id: f
    service: s
    action: F
    consumes: [a, zz]
    produces: [b]
"""
    _, findings = check_text(text, file="r.yaml")
    assert [str(f) for f in findings] == [
        "r.yaml:12:19: field 'zz' (operations[0] (f) consumes it) is not declared in fields [undeclared-field]",
        "r.yaml:12:19: operations[0] (f): consumes 'zz', which is not an input and no operation produces "
        "[unproduced-field]",
    ]


# ---- properties -------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe_docs(variants=True))
def test_every_valid_random_recipe_compiles_to_an_acyclic_dag_matching_field_flow(d: dict[str, Any]) -> None:
    recipe, findings = check_text(yaml.safe_dump(d, sort_keys=False), file="random.yaml")
    assert findings == []
    assert recipe is not None
    dag = recipe.dag
    assert nx.is_directed_acyclic_graph(dag)
    assert set(dag.nodes) == {op.id for op in recipe.operations}
    produced_by = {f: op.id for op in recipe.operations for f in op.produces}
    for a in recipe.operations:
        for b in recipe.operations:
            flow = {f for f in b.consumes if produced_by.get(f) == a.id}
            data_edge = dag.has_edge(a.id, b.id) and dag.edges[a.id, b.id]["kind"] in ("data", "both")
            assert data_edge == bool(flow), (a.id, b.id)
            if data_edge:
                assert dag.edges[a.id, b.id]["fields"] == flow
            after_edge = dag.has_edge(a.id, b.id) and dag.edges[a.id, b.id]["kind"] in ("after", "both")
            assert after_edge == (a.id in b.after)
    order = {op_id: i for i, op_id in enumerate(recipe.topo_order)}
    assert all(order[u] < order[v] for u, v in dag.edges)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe_docs(variants=True))
def test_model_round_trip_stays_valid(d: dict[str, Any]) -> None:
    """What recipe_to_dict writes passes the schema and the semantic checks, and reads back equal."""
    r = recipe_from_dict(d)
    again = recipe_to_dict(r)
    recipe, findings = check_text(yaml.safe_dump(again, sort_keys=False), file="again.yaml")
    assert findings == []
    assert recipe is not None
    assert dataclasses.replace(recipe, source=None) == r


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe_docs(min_ops=2))
def test_adding_a_back_edge_is_always_reported_as_a_cycle(d: dict[str, Any]) -> None:
    """Differential: make the first operation run after the last one's descendants; validation must say cycle."""
    r = recipe_from_dict(d)
    first, last = r.topo_order[0], r.topo_order[-1]
    if not nx.has_path(r.dag, first, last):
        d["operations"][r.op_index(first)].setdefault("after", []).append(last)
        assert not any(f.code == "cycle" for f in semantic_findings(recipe_from_dict(d)))
        return
    d["operations"][r.op_index(first)].setdefault("after", []).append(last)
    cycles = [f for f in semantic_findings(recipe_from_dict(d)) if f.code == "cycle"]
    assert len(cycles) == 1
    assert first in cycles[0].message and last in cycles[0].message


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe_docs(min_ops=2, alternatives=False), st.data())
def test_removing_a_produced_field_is_reported_at_every_use(d: dict[str, Any], data: st.DataObject) -> None:
    """Differential: stop producing one field; every consumer and output of it must be named."""
    producing = [op for op in d["operations"] if op["produces"]]
    op = data.draw(st.sampled_from(producing))
    field = data.draw(st.sampled_from(op["produces"]))
    op["produces"].remove(field)
    got = semantic_findings(recipe_from_dict(d))
    consumers = {o["id"] for o in d["operations"] if field in o["consumes"]}
    named = {f.message.split(" (")[1].split(")")[0] for f in got if f.code == "unproduced-field"}
    assert named == consumers
    assert all(f"'{field}'" in f.message for f in got if f.code == "unproduced-field")
    assert any(f.code == "output-not-produced" for f in got) == (field in d["outputs"])
    unused = [f for f in got if f.code == "unused-field"]
    assert (unused != []) == (not consumers and field not in d["outputs"])
    # the lost data edge may also leave a keep_order pair unordered
    assert {f.code for f in got} <= {"unproduced-field", "output-not-produced", "unused-field", "keep-order-unordered"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipe_docs(min_ops=2, alternatives=False), st.data())
def test_producing_a_field_twice_names_both_producers(d: dict[str, Any], data: st.DataObject) -> None:
    producing = [op for op in d["operations"] if op["produces"]]
    first = data.draw(st.sampled_from(producing))
    field = data.draw(st.sampled_from(first["produces"]))
    others = [op for op in d["operations"] if op is not first]
    second = data.draw(st.sampled_from(others))
    second["produces"].append(field)
    dups = [f for f in semantic_findings(recipe_from_dict(d)) if f.code == "duplicate-producer"]
    assert len(dups) == 1
    assert first["id"] in dups[0].message and second["id"] in dups[0].message


def test_unknown_transfer_format_is_a_warning_and_formats_section_extends_the_table() -> None:
    fields = {**BASE["fields"], "cart": {"type": "object", "format": "msgpak", "compression": "zstd"}}
    [f] = semantic_findings(recipe_from_dict(doc(fields=fields)))
    assert (f.code, f.severity) == ("unknown-format", "warning")
    assert f.message.startswith("fields.cart.format: 'msgpak' is not a known format (did you mean 'msgpack'?)")
    fields["cart"] = {"type": "object", "format": "ion", "compression": "xz"}
    d = doc(fields=fields, formats={"ion": {"size_ratio": 0.9}})
    [f] = semantic_findings(recipe_from_dict(d))
    assert f.message.startswith("fields.cart.compression: 'xz' is not a known compression")
