"""Constraint validation of a candidate mutation: is the mutated recipe still a recipe we may run?

Three checks, all pure and all returning a list of human-readable reasons (empty = valid), so a
rejected candidate keeps *why* it was rejected (``suggest --explain``):

* :func:`check_valid`: the mutated document passes the validation ``apply`` runs before it writes
  (the JSON Schema, then the semantic rules: :func:`recipemut.recipe.loader.check_document`), so
  no candidate is shown that ``apply`` would refuse (a recipe left without operations, a value out
  of its range);
* :func:`check_structure` compares the mutated recipe with the original: ids unique, the DAG
  acyclic, every consumed field an input or produced by exactly one *other* operation (which then
  precedes the consumer, since producer -> consumer is a DAG edge), every output produced, every
  ``frozen`` operation untouched, every ``keep_order`` pair still ordered, and every control
  dependency kept (a side-effecting operation that a guard preceded is still preceded by it).
* :func:`check_predicted` checks a prediction against the SLO and cost budget.

What "frozen" means here: the operation exists, its definition (the :class:`~recipemut.recipe.model.Operation`
value: service, action, fields, ``after``, cache, ...) is identical, and its *ordering* is
identical: the same set of operations runs before it (ancestors) and after it (descendants). The
transitive definition is deliberate: an operator that re-routes an ``after`` edge around a frozen
operation without changing what runs before or after it does not touch it.

What "keep_order" means here: for a pair ``[a, b]`` there must be no path ``b -> ... -> a``, and a
path ``a -> ... -> b`` present in the original must still be present. (A pair the original does not
order is the validator's business, not a mutation's.)

What "control dependency" means here: a guard (``may_halt``) stops its DAG descendants on the
requests it halts. An operation with side effects (``idempotent`` or ``external``) that the guard
preceded, directly or through other operations, must still be preceded by it, whatever the edges
that said so (``after`` or data): otherwise it would run for requests the guard rejects (stock
reserved for an order about to be refused as fraud).

>>> from recipemut.recipe.model import recipe_from_dict
>>> doc = {"fields": {"x": {"type": "string"}, "y": {"type": "string"}}, "inputs": ["x"], "outputs": ["y"],
...        "operations": [{"id": "a", "service": "s", "action": "A", "consumes": ["x"], "produces": ["y"]}]}
>>> r = recipe_from_dict(doc)
>>> check_structure(r, r)
[]
>>> check_structure(r, recipe_from_dict({**doc, "operations": []}))
["output 'y' is not produced by any operation"]
>>> from dataclasses import replace
>>> check_predicted(replace(r, constraints=replace(r.constraints, latency_p95_ms=100.0)), 120.0, 0.0)
['predicted p95 latency 120.0 ms exceeds the SLO of 100 ms']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import networkx as nx

from recipemut.files.units import ms_text, usd_text
from recipemut.recipe.loader import recipe_schema, schema_findings, schema_validator
from recipemut.recipe.model import Recipe
from recipemut.recipe.validate import semantic_findings

__all__ = [
    "check_predicted",
    "check_structure",
    "check_valid",
    "control_dependency_violations",
    "data_dependency_violations",
    "frozen_violations",
    "keep_order_violations",
]


def _cycle(g: nx.DiGraph) -> list[str] | None:
    try:
        edges = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    nodes = [str(u) for u, _v, *_ in edges]
    return [*nodes, nodes[0]]


def data_dependency_violations(recipe: Recipe) -> list[str]:
    """Consumed fields with no producer, fields produced twice, outputs never produced.

    A consumed field's producer is a DAG predecessor of its consumer by construction of the DAG, so
    "produced by exactly one other operation" is "produced by an operation that precedes it".
    """
    reasons: list[str] = []
    counts = Counter(f for op in recipe.operations for f in op.produces)
    for f, n in sorted(counts.items()):
        if n > 1:
            who = ", ".join(op.id for op in recipe.operations if f in op.produces)
            reasons.append(f"field '{f}' is produced by {n} operations ({who})")
    inputs = set(recipe.inputs)
    for op in recipe.operations:
        for f in op.consumes:
            if f in inputs:
                continue
            src = recipe.producers.get(f)
            if src is None:
                reasons.append(f"operation '{op.id}' consumes '{f}', which is neither an input nor produced")
            elif src == op.id:
                reasons.append(f"operation '{op.id}' consumes '{f}', which only it produces")
    for f in recipe.outputs:
        if f not in counts and f not in inputs:
            reasons.append(f"output '{f}' is not produced by any operation")
    return reasons


def frozen_violations(original: Recipe, mutated: Recipe) -> list[str]:
    """Frozen operations of ``original`` that ``mutated`` removed, changed or re-ordered."""
    reasons: list[str] = []
    og, mg = original.dag, mutated.dag
    for fid in original.constraints.frozen:
        before = original.ops.get(fid)
        if before is None:
            continue  # an unknown frozen id is the validator's finding
        after = mutated.ops.get(fid)
        if after is None:
            reasons.append(f"frozen operation '{fid}' was removed")
            continue
        if after != before:
            reasons.append(f"frozen operation '{fid}' was changed")
        for name, fn in (("before", nx.ancestors), ("after", nx.descendants)):
            old, new = fn(og, fid), fn(mg, fid)
            if old != new:
                lost, gained = sorted(old - new), sorted(new - old)
                parts = [f"no longer {', '.join(lost)}"] if lost else []
                parts += [f"now also {', '.join(gained)}"] if gained else []
                reasons.append(f"frozen operation '{fid}': what runs {name} it changed ({'; '.join(parts)})")
    return reasons


def keep_order_violations(original: Recipe, mutated: Recipe) -> list[str]:
    """``keep_order`` pairs of ``original`` that ``mutated`` no longer orders (or reverses)."""
    reasons: list[str] = []
    og, mg = original.dag, mutated.dag
    for a, b in original.constraints.keep_order:
        if a not in og or b not in og:
            continue  # the validator reports unknown ids
        if a not in mg or b not in mg:
            gone = a if a not in mg else b
            reasons.append(f"keep_order [{a}, {b}]: operation '{gone}' was removed")
            continue
        if nx.has_path(mg, b, a):
            reasons.append(f"keep_order [{a}, {b}]: '{b}' now runs before '{a}'")
        elif nx.has_path(og, a, b) and not nx.has_path(mg, a, b):
            reasons.append(f"keep_order [{a}, {b}]: '{b}' no longer waits for '{a}'")
    return reasons


def control_dependency_violations(original: Recipe, mutated: Recipe) -> list[str]:
    """Side-effecting operations of ``original`` that a guard (``may_halt``) preceded and that
    ``mutated`` no longer runs after that guard (both still present; the original's flags count)."""
    reasons: list[str] = []
    og, mg = original.dag, mutated.dag
    for gid in original.topo_order:
        if not original.ops[gid].may_halt or gid not in mg:
            continue
        before, still = nx.descendants(og, gid), nx.descendants(mg, gid)
        for sid in original.topo_order:
            op = original.ops[sid]
            if op.side_effects != "none" and sid in before and sid in mg and sid not in still:
                reasons.append(
                    f"control dependency: '{sid}' (side_effects: {op.side_effects}) no longer waits for guard "
                    f"'{gid}' (may_halt), so it would run for requests '{gid}' halts"
                )
    return reasons


def check_structure(original: Recipe, mutated: Recipe) -> list[str]:
    """Reasons why ``mutated`` is not a valid mutation of ``original`` (empty list: valid).

    Checks, in order: unique ids, acyclicity (the cycle is printed ``a -> b -> a``), data
    dependencies and outputs (:func:`data_dependency_violations`), frozen operations
    (:func:`frozen_violations`), keep_order pairs (:func:`keep_order_violations`) and control
    dependencies of guards (:func:`control_dependency_violations`). The
    constraints are the *original's*: a mutation may not relax its own constraints.
    """
    reasons: list[str] = []
    dup = sorted(i for i, n in Counter(op.id for op in mutated.operations).items() if n > 1)
    if dup:
        reasons.append(f"duplicate operation ids: {', '.join(dup)}")
    for op in mutated.operations:
        unknown = [d for d in op.after if d not in mutated.ops]
        if unknown:
            ops = "operation" + "s" * (len(unknown) > 1)
            reasons.append(f"operation '{op.id}' is after unknown {ops} {', '.join(unknown)}")
    cycle = _cycle(mutated.dag)
    if cycle is not None:
        reasons.append(f"cycle: {' -> '.join(cycle)}")
        return reasons  # ordering checks are meaningless on a cyclic graph
    reasons.extend(data_dependency_violations(mutated))
    reasons.extend(frozen_violations(original, mutated))
    reasons.extend(keep_order_violations(original, mutated))
    reasons.extend(control_dependency_violations(original, mutated))
    return reasons


def check_valid(before: Mapping[str, Any], after: Mapping[str, Any], mutated: Recipe) -> list[str]:
    """The errors for which ``apply`` would refuse the document ``after`` (``mutated`` is its recipe),
    each ``message [code]``: :func:`recipemut.recipe.loader.check_document`'s, warnings left out.

    ``after`` is ``before``, a document that passed that validation, edited: it shares every part the
    edits left alone (:func:`recipemut.mutate.mutation.edited_document`). The schema is checked on
    what is not ``before``'s own: each top-level value that changed, and of a changed list or mapping
    of items (``operations``, ``fields``, ...) its own keywords (at least one operation) and the items
    that changed, so a candidate's check costs what its edits changed, not the recipe's size (the
    findings are the same: a test compares them). The semantic rules read the whole recipe.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> doc = {"apiVersion": "recipemut/v1", "kind": "Recipe", "name": "r",
    ...        "operations": [{"id": "a", "service": "s", "action": "A"}]}
    >>> empty = {**doc, "operations": []}
    >>> check_valid(doc, empty, recipe_from_dict(empty))
    ['operations: a recipe needs at least one operation [no-operations]']
    """
    errors = list(_changed_schema_errors(before, after))
    found = schema_findings(after, {}, file="", errors=errors) if errors else []
    if not any(f.code != "unknown-key" for f in found):
        found += semantic_findings(mutated)
    return [f"{f.message} [{f.code}]" for f in found if f.severity == "error"]


def _changed_schema_errors(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[jsonschema.ValidationError]:
    """The schema's errors of ``after`` where it is not ``before``'s (:func:`check_valid`)."""
    v, schema = schema_validator(), recipe_schema()
    props = schema["properties"]
    if after.keys() != before.keys():  # the top level's own keywords: required keys, unknown ones
        yield from v.descend(after, {**schema, "properties": dict.fromkeys(props, True)})
    for key, value in after.items():
        old, sub = before.get(key), props.get(key)
        if value is old or sub is None:
            continue
        if isinstance(value, list) and isinstance(old, list) and isinstance(sub.get("items"), dict):
            kept = {id(x) for x in old}
            parts: list[tuple[Any, Any]] = [(i, x) for i, x in enumerate(value) if id(x) not in kept]
            each, shell = sub["items"], {**sub, "items": True}
        elif isinstance(value, dict) and isinstance(old, dict) and isinstance(sub.get("additionalProperties"), dict):
            parts = [(k, x) for k, x in value.items() if x is not old.get(k)]
            each, shell = sub["additionalProperties"], {**sub, "additionalProperties": True}
        else:
            yield from v.descend(value, sub, path=key)
            continue
        yield from v.descend(value, shell, path=key)
        for at, item in parts:
            for e in v.descend(item, each, path=at):
                e.path.appendleft(key)
                yield e


def check_predicted(recipe: Recipe, p95_ms: float, cost_per_request_usd: float) -> list[str]:
    """Reasons why a predicted p95 latency / cost per request breaks the recipe's SLO or budget.

    A NaN prediction is a reason too (nothing can be promised about it).
    """
    reasons: list[str] = []
    c = recipe.constraints
    if c.latency_p95_ms is not None:
        if math.isnan(p95_ms):
            reasons.append("predicted p95 latency is unknown (NaN); the SLO cannot be checked")
        elif p95_ms > c.latency_p95_ms:
            slo = ms_text(c.latency_p95_ms, decimals=None)
            reasons.append(f"predicted p95 latency {ms_text(p95_ms)} exceeds the SLO of {slo}")
    if c.max_cost_per_request_usd is not None:
        if math.isnan(cost_per_request_usd):
            reasons.append("predicted cost per request is unknown (NaN); the budget cannot be checked")
        elif cost_per_request_usd > c.max_cost_per_request_usd:
            reasons.append(
                f"predicted cost {usd_text(cost_per_request_usd, unit=False)} USD/request exceeds the budget of "
                f"{c.max_cost_per_request_usd:g} USD/request"
            )
    return reasons
