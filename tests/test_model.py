"""Model: plain data <-> Recipe, and the compiled DAG."""

from __future__ import annotations

import dataclasses

import networkx as nx
import pytest

from recipemut.recipe.model import Operation, build_dag, recipe_from_dict, recipe_to_dict

DOC = {
    "apiVersion": "recipemut/v1",
    "kind": "Recipe",
    "name": "checkout",
    "version": 4,
    "fields": {
        "order_id": {"type": "string"},
        "cart": {"type": "object", "format": "json"},
        "quote": {"type": "object", "format": "json", "compression": "gzip"},
        "receipt": {"type": "object"},
    },
    "inputs": ["order_id"],
    "outputs": ["receipt"],
    "operations": [
        {
            "id": "load_cart",
            "service": "cart",
            "action": "GetCart",
            "consumes": ["order_id"],
            "produces": ["cart"],
            "equivalence": "cart.read",
            "deterministic": True,
            "cost_per_call_usd": 0.0001,
            "cache": {"ttl_s": 600, "max_entries": 20000, "hit_latency_ms": 1.0},
        },
        {
            "id": "price",
            "service": "pricing",
            "action": "PriceItems",
            "consumes": ["cart"],
            "produces": ["quote"],
            "hedge": {"after_ms": 150, "max_extra": 1},
        },
        {
            "id": "charge",
            "service": "payments",
            "action": "Charge",
            "consumes": ["quote"],
            "produces": ["receipt"],
            "after": ["load_cart"],
            "side_effects": "external",
        },
    ],
    "services": {"cart": {"replicas": 4, "concurrency_per_replica": 32, "target_utilization": 0.7}},
    "alternatives": [
        {
            "id": "load_cart_fast",
            "service": "cart-edge",
            "action": "GetCartV2",
            "consumes": ["order_id"],
            "produces": ["cart"],
            "equivalence": "cart.read",
            "expected": {"latency_ms": {"p50": 9, "p95": 25}, "cost_per_call_usd": 0.00012},
        }
    ],
    "constraints": {
        "slo": {"latency_p95_ms": 800},
        "max_cost_per_request_usd": 0.02,
        "frozen": ["charge"],
        "keep_order": [["price", "charge"]],
    },
}


def test_round_trip_plain_data_is_stable() -> None:
    r = recipe_from_dict(DOC)
    assert recipe_to_dict(r) == DOC
    assert recipe_from_dict(recipe_to_dict(r)) == r


def test_recipe_is_immutable() -> None:
    r = recipe_from_dict(DOC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.fields["x"] = r.fields["cart"]  # type: ignore[index]


def test_dag_edges_carry_kind_and_fields() -> None:
    g = recipe_from_dict(DOC).dag
    assert g.edges["load_cart", "price"] == {"kind": "data", "fields": {"cart"}}
    assert g.edges["price", "charge"] == {"kind": "data", "fields": {"quote"}}
    assert g.edges["load_cart", "charge"] == {"kind": "after", "fields": set()}


def test_topo_order_and_lookups() -> None:
    r = recipe_from_dict(DOC)
    assert r.topo_order == ("load_cart", "price", "charge")
    assert r.producers["quote"] == "price"
    assert r.ops["charge"].side_effects == "external"
    assert r.services["cart"].capacity == 128
    assert r.constraints.keep_order == (("price", "charge"),)
    assert r.alternatives[0].expected is not None and r.alternatives[0].expected.latency_p95_ms == 25


def test_position_falls_back_to_nearest_ancestor() -> None:
    r = recipe_from_dict(DOC, positions={("operations",): (10, 1), ("operations", 1): (20, 5)})
    assert r.position("operations", 1, "consumes", 0) == (20, 5)
    assert r.position("operations", 0) == (10, 1)
    assert r.position("fields") == (None, None)


def test_build_dag_with_cycle_is_reported_by_networkx() -> None:
    ops = [
        Operation("a", "s", "A", produces=("x",), after=("b",)),
        Operation("b", "s", "B", consumes=("x",)),
    ]
    g = build_dag(ops)
    assert not nx.is_directed_acyclic_graph(g)
    assert g.edges["a", "b"]["kind"] == "data" and g.edges["b", "a"]["kind"] == "after"


def test_fan_out_keys_default_to_one_call_one_attempt_always() -> None:
    op = recipe_from_dict(DOC).ops["price"]
    assert (op.foreach, op.concurrency, op.batch_size, op.max_batch, op.retry, op.dedupe, op.when) == (
        None,
        1,
        1,
        None,
        None,
        False,
        None,
    )
    assert op.max_attempts == 1 and not op.fans_out
    # no default is written back: an existing recipe's plain data is unchanged
    assert "foreach" not in recipe_to_dict(recipe_from_dict(DOC))["operations"][1]


def test_fan_out_keys_round_trip() -> None:
    data = {
        **DOC,
        "fields": {**DOC["fields"], "item_ids": {"type": "array"}},  # type: ignore[dict-item]
        "operations": [
            {
                **DOC["operations"][0],  # type: ignore[index]
                "consumes": ["order_id", "item_ids"],
                "when": "the cart is not empty",
                "foreach": "item_ids",
                "batch_size": 20,
                "concurrency": 4,
                "dedupe": True,
                "retry": {"max_attempts": 3},
                "max_batch": 50,
            },
            *DOC["operations"][1:],  # type: ignore[index]
        ],
    }
    r = recipe_from_dict(data)
    op = r.ops["load_cart"]
    assert (op.foreach, op.concurrency, op.batch_size, op.max_batch, op.dedupe, op.when) == (
        "item_ids",
        4,
        20,
        50,
        True,
        "the cart is not empty",
    )
    assert op.max_attempts == 3 and op.fans_out
    assert recipe_to_dict(r) == data
    assert recipe_from_dict(recipe_to_dict(r)) == r
