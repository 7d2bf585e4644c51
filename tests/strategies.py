"""Hypothesis strategies for random *valid* recipe documents (plain dicts in the DESIGN.md format).

Import from a test module as ``from strategies import recipe_docs, recipes`` (pytest puts ``tests/``
on ``sys.path`` because the folder has no ``__init__.py``).

A document is valid by construction:

* operations are generated in a topological order: an operation consumes only recipe inputs or
  fields produced by an *earlier* operation, and its ``after`` names only earlier operations, so
  the DAG (data edges plus ``after`` edges) is acyclic;
* every field is produced by exactly one operation and no input is produced;
* every field used anywhere is declared in ``fields``; every output is produced;
* ids are unique across operations and alternatives; every service used is declared;
* an alternative shares its original's ``equivalence`` tag and consumes/produces the same fields;
* ``keep_order`` pairs ``[a, b]`` have ``a`` upstream of ``b`` in the DAG; ``frozen`` names
  existing operations; ``variants`` shares are in (0, 1) and sum below 1.

Generated operation ids look like ``load_3`` and fields like ``cart_2`` (the number makes them
unique; the word varies so that lexicographic tie-breaks are exercised).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

_VERBS = ("load", "price", "score", "charge", "render", "fetch", "check", "enrich", "notify", "resize")
_NOUNS = ("cart", "quote", "user", "image", "features", "token", "receipt", "score", "thumb", "meta")
_SERVICES = ("cart", "pricing", "fraud", "payments", "media", "ml", "notify", "auth")
_TYPES = ("string", "integer", "number", "boolean", "object", "array")
_FORMATS = ("json", "msgpack", "protobuf", "arrow")
_COMPRESSIONS = ("none", "gzip", "zstd")
_SIDE_EFFECTS = ("none", "idempotent", "external")

_money = st.floats(min_value=0.0, max_value=0.01, allow_nan=False, allow_infinity=False)
_ms = st.floats(min_value=0.5, max_value=2000.0, allow_nan=False, allow_infinity=False)


def _camel(word: str) -> str:
    return "".join(part.capitalize() for part in word.split("_"))


@st.composite
def _field_spec(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": draw(st.sampled_from(_TYPES))}
    if spec["type"] in ("object", "array") and draw(st.booleans()):
        spec["format"] = draw(st.sampled_from(_FORMATS))
        if draw(st.booleans()):
            spec["compression"] = draw(st.sampled_from(_COMPRESSIONS))
    if draw(st.integers(0, 4)) == 0:
        spec["description"] = draw(st.sampled_from(("the sheet value", "set by the caller", "internal")))
    return spec


@st.composite
def _subset(draw: st.DrawFn, items: list[str], max_size: int) -> list[str]:
    if not items:
        return []
    return draw(st.lists(st.sampled_from(items), max_size=max_size, unique=True))


@st.composite
def recipe_docs(
    draw: st.DrawFn,
    *,
    min_ops: int = 1,
    max_ops: int = 12,
    alternatives: bool = True,
    variants: bool = False,
) -> dict[str, Any]:
    """A random valid recipe document (plain dict, as parsed from YAML).

    ``alternatives`` adds a substitution catalogue (sometimes); ``variants`` adds canary splits.
    """
    n_inputs = draw(st.integers(1, 3))
    n_ops = draw(st.integers(min_ops, max_ops))
    counter = iter(range(10_000))

    inputs = [
        f"{draw(st.sampled_from(('order_id', 'user_id', 'request', 'asset_id')))}_{next(counter)}"
        for _ in range(n_inputs)
    ]
    fields: dict[str, dict[str, Any]] = {name: {"type": "string"} for name in inputs}
    available: list[str] = list(inputs)
    producer: dict[str, str] = {}
    ancestors: dict[str, set[str]] = {}
    produced: list[str] = []
    ops: list[dict[str, Any]] = []
    services_used: set[str] = set()

    for i in range(n_ops):
        op_id = f"{draw(st.sampled_from(_VERBS))}_{next(counter)}"
        # the first operation always produces something, so a recipe always has an output
        n_prod = draw(st.integers(1 if i == 0 else 0, 2))
        prods = [f"{draw(st.sampled_from(_NOUNS))}_{next(counter)}" for _ in range(n_prod)]
        cons = draw(_subset(available, 3))
        after = draw(_subset([o["id"] for o in ops], 2))
        deps = {producer[f] for f in cons if f in producer} | set(after)
        ancestors[op_id] = deps.union(*(ancestors[d] for d in deps))
        service = draw(st.sampled_from(_SERVICES))
        services_used.add(service)
        op: dict[str, Any] = {
            "id": op_id,
            "service": service,
            "action": _camel(op_id.rsplit("_", 1)[0]) + str(i),
            "consumes": cons,
            "produces": prods,
        }
        if after or draw(st.booleans()):
            op["after"] = after
        if draw(st.booleans()):
            op["equivalence"] = f"{service}.{op_id.rsplit('_', 1)[0]}"
        deterministic = draw(st.booleans())
        if deterministic or draw(st.booleans()):
            op["deterministic"] = deterministic
        side = draw(st.sampled_from(_SIDE_EFFECTS))
        if side != "none" or draw(st.booleans()):
            op["side_effects"] = side
        if draw(st.integers(0, 3)) == 0:
            op["may_halt"] = True
        if draw(st.booleans()):
            op["cost_per_call_usd"] = draw(_money)
        if deterministic and side != "external" and draw(st.integers(0, 4)) == 0:
            op["cache"] = {
                "ttl_s": draw(st.integers(1, 3600)),
                "max_entries": draw(st.integers(1, 100_000)),
                "hit_latency_ms": draw(st.floats(0.0, 5.0, allow_nan=False)),
            }
        if side != "external" and draw(st.integers(0, 5)) == 0:
            op["hedge"] = {"after_ms": draw(_ms), "max_extra": draw(st.integers(1, 3))}
        if draw(st.integers(0, 5)) == 0:
            op["description"] = f"{op['action']} on {service}"
        for f in prods:
            fields[f] = draw(_field_spec())
        available.extend(prods)
        producer.update(dict.fromkeys(prods, op_id))
        produced.extend(prods)
        ops.append(op)

    outputs = draw(st.lists(st.sampled_from(produced), min_size=1, max_size=min(3, len(produced)), unique=True))

    alts: list[dict[str, Any]] = []
    if alternatives:
        for op in draw(_subset([o["id"] for o in ops], 3)):
            orig = next(o for o in ops if o["id"] == op)
            tag = orig.get("equivalence") or f"{orig['service']}.{op.rsplit('_', 1)[0]}"
            orig["equivalence"] = tag
            service = draw(st.sampled_from((*_SERVICES, f"{orig['service']}-edge")))
            services_used.add(service)
            alt: dict[str, Any] = {
                "id": f"{op}_alt{next(counter)}",
                "service": service,
                "action": orig["action"] + "V2",
                "equivalence": tag,
                "consumes": list(orig["consumes"]),
                "produces": list(orig["produces"]),
            }
            if draw(st.booleans()):
                alt["deterministic"] = bool(orig.get("deterministic", False))
            if draw(st.booleans()):
                p50 = draw(_ms)
                alt["expected"] = {
                    "latency_ms": {"p50": p50, "p95": p50 * draw(st.floats(1.0, 5.0))},
                    "cost_per_call_usd": draw(_money),
                }
            alts.append(alt)

    services = {
        s: {
            "replicas": draw(st.integers(1, 16)),
            "concurrency_per_replica": draw(st.integers(1, 64)),
            "target_utilization": draw(st.floats(0.3, 0.95)),
        }
        for s in sorted(services_used)
    }

    doc: dict[str, Any] = {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": draw(st.sampled_from(("checkout", "media", "features", "demo"))),
        "version": draw(st.integers(1, 50)),
        "fields": fields,
        "inputs": inputs,
        "outputs": outputs,
        "operations": ops,
        "services": services,
    }
    if alts:
        doc["alternatives"] = alts

    ids = [o["id"] for o in ops]
    constraints: dict[str, Any] = {}
    if draw(st.booleans()):
        constraints["slo"] = {"latency_p95_ms": draw(st.floats(10.0, 5000.0))}
    if draw(st.booleans()):
        constraints["max_cost_per_request_usd"] = draw(st.floats(0.001, 1.0))
    if draw(st.booleans()):
        constraints["frozen"] = draw(_subset(ids, 2))
    ordered = [(a, b) for b in ids for a in sorted(ancestors[b])]
    if ordered and draw(st.booleans()):
        pairs = draw(st.lists(st.sampled_from(ordered), min_size=1, max_size=2, unique=True))
        constraints["keep_order"] = [[a, b] for a, b in pairs]
    if constraints:
        doc["constraints"] = constraints

    if variants and draw(st.booleans()):
        n = draw(st.integers(1, 2))
        shares = draw(st.lists(st.floats(0.01, 0.45), min_size=n, max_size=n))
        doc["variants"] = [
            {
                "name": f"canary{k}",
                "share": round(s, 4),
                "recipe": copy.deepcopy({k2: v for k2, v in doc.items() if k2 != "variants"}),
            }
            for k, s in enumerate(shares)
        ]
    return doc


@st.composite
def recipes(draw: st.DrawFn, **kwargs: Any) -> Any:
    """A random valid :class:`recipemut.recipe.model.Recipe` (built from :func:`recipe_docs`)."""
    from recipemut.recipe.model import recipe_from_dict

    return recipe_from_dict(draw(recipe_docs(**kwargs)))
