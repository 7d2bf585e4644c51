"""The checkout recipe the tests share, in the forms they need; a test that needs a variant builds it
from one of these with a small explicit change.

Import from a test module as ``from recipes import CHECKOUT_TEXT, checkout_ops`` (pytest puts
``tests/`` on ``sys.path``). ``tests/conftest.py`` offers :data:`CHECKOUT_TEXT` written to a file as
the ``checkout_file`` fixture.

* :data:`CHECKOUT_EXAMPLE` — the shipped example (``recipe.yaml``, ``logs.jsonl.gz``, ``loggen.yaml``):
  the recipe users see, for end-to-end runs.
* :data:`CHECKOUT_FIXTURE` — ``tests/data/recipes/checkout.yaml``: five operations and every section
  (alternatives, constraints), with known line and column positions for the loader's tests.
* :data:`CHECKOUT_TEXT` — three operations with full-line and end-of-line comments, a quoted name
  and a habit ``after`` edge: the recipe the apply, history and crash tests write back.
* :func:`checkout_ops` — the operations as the trace-format and span-mapping tests name them
  (``load_cart`` on ``cart`` runs ``GetCart``, ...), for recipes whose fields do not matter.
* :data:`SHOP_SCENARIO` — six operations with one obvious win per operator, for the operator
  and search tests.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT_EXAMPLE = ROOT / "recipes" / "checkout"
CHECKOUT_FIXTURE = Path(__file__).parent / "data" / "recipes" / "checkout.yaml"

CHECKOUT_TEXT = """\
# checkout recipe — owned by the payments team
apiVersion: recipemut/v1
kind: Recipe
name: "checkout"          # quoted on purpose
version: 4
fields:
  order_id: {type: string}
  user_id:  {type: string}   # aligned by hand
  cart:     {type: object, format: json}
  risk:     {type: number}
  receipt:  {type: object}
inputs:  [order_id, user_id]
outputs: [receipt]
operations:
  - id: load_cart           # reads the cart
    service: cart
    action: GetCart
    consumes: [order_id]
    produces: [cart]
    deterministic: true
    cost_per_call_usd: 0.0001

  # fraud scoring waits for the cart out of habit
  - id: score_fraud
    service: fraud
    action: Score
    consumes: [user_id]
    produces: [risk]
    after: [load_cart]
    cost_per_call_usd: 0.0004
  - id: charge
    service: payments
    action: Charge
    consumes: [cart, risk]
    produces: [receipt]
    side_effects: external
    cost_per_call_usd: 0.002
services:
  cart: {replicas: 4, concurrency_per_replica: 32, target_utilization: 0.7}
  fraud: {replicas: 2, concurrency_per_replica: 16, target_utilization: 0.7}
  payments: {replicas: 2, concurrency_per_replica: 8, target_utilization: 0.6}
# end of recipe
"""


def checkout_doc() -> dict[str, Any]:
    """:data:`CHECKOUT_TEXT` as plain data (a fresh copy: change it freely)."""
    doc: dict[str, Any] = yaml.safe_load(CHECKOUT_TEXT)
    return doc


#: operation id -> (service, action), as the trace-format tests' spans name them
CHECKOUT_OPS: dict[str, tuple[str, str]] = {
    "load_cart": ("cart", "GetCart"),
    "price": ("pricing", "PriceItems"),
    "charge": ("payments", "Charge"),
}


def checkout_ops(*ids: str, service: str | None = None) -> list[dict[str, Any]]:
    """The named checkout operations as ``{"id", "service", "action"}`` dicts, in the order given;
    ``service`` puts them all on one service (as a trace whose spans all come from one process).

    >>> checkout_ops("load_cart", "charge", service="db")
    [{'id': 'load_cart', 'service': 'db', 'action': 'GetCart'}, {'id': 'charge', 'service': 'db', 'action': 'Charge'}]
    """
    return [{"id": i, "service": service or CHECKOUT_OPS[i][0], "action": CHECKOUT_OPS[i][1]} for i in ids]


SHOP_SCENARIO: dict[str, Any] = {
    "apiVersion": "recipemut/v1",
    "kind": "Recipe",
    "name": "shop",
    "version": 3,
    "fields": {
        "order_id": {"type": "string"},
        "user_id": {"type": "string"},
        "cart": {"type": "object", "format": "json"},
        "risk": {"type": "number"},
        "stock_ok": {"type": "boolean"},
        "quote": {"type": "object"},
        "trace": {"type": "object"},
        "receipt": {"type": "object"},
    },
    "inputs": ["order_id", "user_id"],
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
        },
        {
            "id": "score_fraud",
            "service": "fraud",
            "action": "Score",
            "consumes": ["user_id"],
            "produces": ["risk"],
            "after": ["load_cart"],
            "side_effects": "none",
        },
        {"id": "price", "service": "pricing", "action": "Price", "consumes": ["cart"], "produces": ["quote", "trace"]},
        {
            "id": "check_stock",
            "service": "stock",
            "action": "Check",
            "consumes": ["order_id"],
            "produces": ["stock_ok"],
            "may_halt": True,
            "after": ["price"],
        },
        {"id": "audit", "service": "audit", "action": "Log", "consumes": ["quote"], "produces": []},
        {
            "id": "charge",
            "service": "payments",
            "action": "Charge",
            "consumes": ["quote", "risk", "stock_ok"],
            "produces": ["receipt"],
            "side_effects": "external",
        },
    ],
    "services": {
        s: {"replicas": 2, "concurrency_per_replica": 16, "target_utilization": 0.7}
        for s in ("cart", "cart-edge", "fraud", "pricing", "stock", "audit", "payments")
    },
    "alternatives": [
        {
            "id": "load_cart_edge",
            "service": "cart-edge",
            "action": "GetCartV2",
            "consumes": ["order_id"],
            "produces": ["cart"],
            "equivalence": "cart.read",
            "deterministic": True,
            "expected": {"latency_ms": {"p50": 5, "p95": 12}, "cost_per_call_usd": 0.00012},
        },
    ],
    "constraints": {"slo": {"latency_p95_ms": 800}, "frozen": ["charge"]},
}


def shop_doc() -> dict[str, Any]:
    """:data:`SHOP_SCENARIO` (a fresh copy: change it freely)."""
    return copy.deepcopy(SHOP_SCENARIO)
