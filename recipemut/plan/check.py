"""Checking a plan's mutations against what their operators really do, before anything is written.

A plan file is data anyone can write. ``apply`` trusts none of it: each mutation must name a known
operator (its id beginning ``<operator>:``), non-empty targets of the kinds the operator takes (an
operation, an alternative of the catalogue, a declared field) that exist in the recipe, satisfy the
operator's validity conditions (``cache`` only a deterministic operation without external side
effects, ...), and hold only edits of the shapes the operator declares next to its code
(``EDITS`` in each ``recipemut/mutate/operators/<name>.py``, see :class:`recipemut.mutate.mutation.EditForm`),
including the one edit that makes it what it is (``eliminate`` removes its target). Values are
checked where the operator derives them: ``substitute`` copies its alternative's catalogue entry, the
``after`` entries ``parallelize``, ``reorder`` and ``eliminate`` carry over name operations that ran
before, and so on. The result is then validated and checked against the recipe's constraints by
``apply`` (the same :func:`recipemut.recipe.constraints.check_structure` ``suggest`` uses).

Mutations are checked in plan order, each on the document the earlier ones left (as ``suggest``
computed them).

>>> from recipemut.mutate.mutation import Edit
>>> from recipemut.plan.planfile import PlannedMutation
>>> doc = {"operations": [{"id": "a", "service": "s", "action": "A", "deterministic": True}]}
>>> ok = PlannedMutation("cache:a", "cache", ("a",), "", (Edit("set", ("operations", "a", "cache"), {"ttl_s": 1}),))
>>> plan_edit_violations(doc, [ok])
[]
>>> bad = PlannedMutation("cache:a", "cache", ("a",), "", (Edit("set", ("operations", "a", "service"), "x"),))
>>> for problem in plan_edit_violations(doc, [bad]):
...     print(problem)
mutation 'cache:a' sets operations.a.service, which cache never does (cache makes only: set operations.a.cache)
mutation 'cache:a' lacks the edit every cache makes: set operations.a.cache
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx

from recipemut.errors import MutationError, PlanError
from recipemut.mutate.mutation import Condition, EditForm, EditShape, Mutation, Slot, ValueRule
from recipemut.plan.planfile import PlannedMutation
from recipemut.recipe.edits import Edit, apply_edits

__all__ = ["check_plan_edits", "mutation_violations", "plan_edit_violations"]

_VERB = {"set": "sets", "remove": "removes", "append": "appends to", "prune": "prunes"}


def check_plan_edits(doc: Mapping[str, Any], mutations: Sequence[PlannedMutation], *, source: str) -> None:
    """Refuse, in one line naming ``source``, a plan whose mutations do not hold to their operators."""
    problems = plan_edit_violations(doc, mutations)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PlanError(f"refusing the plan: {problems[0]}{more}; nothing was written", file=source,
                        code="edit-out-of-scope")


def plan_edit_violations(doc: Mapping[str, Any], mutations: Sequence[PlannedMutation | Mutation]) -> list[str]:
    """Why ``mutations``, applied in order to ``doc``, are not what their operators make (empty: they are).

    Checking stops at the first mutation found wrong: the documents after it mean nothing.
    """
    current: Mapping[str, Any] = doc
    for m in mutations:
        problems = mutation_violations(current, m)
        if problems:
            return problems
        try:
            current = apply_edits(dict(current), m.edits)
        except MutationError as e:
            return [f"mutation {m.id!r}: {e.message}"]
    return []


def mutation_violations(doc: Mapping[str, Any], m: PlannedMutation | Mutation) -> list[str]:
    """Why ``m`` is not a mutation its operator makes on ``doc`` (empty: it is)."""
    from recipemut.mutate.operators import REGISTRY

    spec = REGISTRY.get(m.operator)
    if spec is None:
        return [f"mutation {m.id!r}: unknown operator {m.operator!r} (known: {', '.join(REGISTRY)})"]
    if not m.id.startswith(f"{m.operator}:"):
        return [f"mutation {m.id!r}: its id does not begin with its operator's name ({m.operator}:)"]
    if not m.targets:
        return [f"mutation {m.id!r} names no target"]
    if any(not t for t in m.targets):
        return [f"mutation {m.id!r} has an empty target"]
    env = _Env(doc, tuple(m.targets))
    best: list[str] | None = None
    best_fits = False
    for form in spec.edits:
        problems, fits = _form_violations(env, m, form)
        if not problems:
            return []
        if best is None or (fits and not best_fits):
            best, best_fits = problems, fits
    return best or [f"mutation {m.id!r}: {m.operator} declares no edits"]


class _Env:
    """The document a mutation is checked on, with the lookups the rules need (robust to any content)."""

    def __init__(self, doc: Mapping[str, Any], targets: tuple[str, ...]) -> None:
        self.doc = doc
        self.targets = targets
        self.ops = _by_id(doc.get("operations"))
        self.alts = _by_id(doc.get("alternatives"))
        fields = doc.get("fields")
        self.fields = {str(k) for k in fields} if isinstance(fields, Mapping) else set()
        self._dag: nx.DiGraph | None = None

    def target(self, i: int) -> str:
        return self.targets[i] if i < len(self.targets) else ""

    def dag(self) -> nx.DiGraph:
        """``after`` and data edges of the operations (a cycle is left for the validator to report)."""
        if self._dag is None:
            g = nx.DiGraph()
            g.add_nodes_from(self.ops)
            producers: dict[str, list[str]] = {}
            for oid, op in self.ops.items():
                for f in _names(op.get("produces")):
                    producers.setdefault(f, []).append(oid)
            for oid, op in self.ops.items():
                g.add_edges_from((a, oid) for a in _names(op.get("after")) if a in self.ops)
                g.add_edges_from((p, oid) for f in _names(op.get("consumes")) for p in producers.get(f, ()) if p != oid)
            self._dag = g
        return self._dag

    def precedes(self, i: int) -> set[str]:
        t = self.target(i)
        return set(nx.ancestors(self.dag(), t)) if t in self.ops else set()

    def successors(self, i: int) -> set[str]:
        t = self.target(i)
        return {oid for oid, op in self.ops.items() if t in _names(op.get("after"))}

    def fields_of(self, i: int) -> set[str]:
        op = self.ops.get(self.target(i), {})
        return set(_names(op.get("consumes"))) | set(_names(op.get("produces")))


def _by_id(items: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {x["id"]: x for x in items if isinstance(x, Mapping) and isinstance(x.get("id"), str)}


def _names(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _fmt(path: Sequence[Any]) -> str:
    return ".".join(map(str, path)) or "the whole document"


def _form_violations(env: _Env, m: PlannedMutation | Mutation, form: EditForm) -> tuple[list[str], bool]:
    """Problems of ``m`` as a mutation of ``form``, and whether its targets fit the form at all."""
    n, kinds = len(env.targets), form.targets
    if n < len(kinds) or (n > len(kinds) and form.more is None):
        want = f"{len(kinds)}{' or more' if form.more else ''}"
        return [f"mutation {m.id!r}: {m.operator} takes {want} targets ({', '.join(kinds)}), not {n}"], False
    for i, t in enumerate(env.targets):
        kind = kinds[i] if i < len(kinds) else form.more
        known = {"operation": env.ops, "alternative": env.alts, "field": env.fields}[kind or "operation"]
        if t not in known:
            where = {"operation": "operation", "alternative": "alternative (catalogue entry)",
                     "field": "declared field"}[kind or "operation"]
            return [f"mutation {m.id!r}: target {t!r}: no {where} {t!r} in the recipe"], False
    problems = [p for c in form.conditions for p in _condition(env, m, c)]
    if problems:
        return problems, True
    seen: set[EditShape] = set()
    for e in m.edits:
        shape, why = _match(env, e, form)
        if shape is None:
            problems.append(f"mutation {m.id!r} {_VERB.get(e.op, e.op)} {_fmt(e.path)}, {why(m)}")
        else:
            seen.add(shape)
    problems += [f"mutation {m.id!r} lacks the edit every {m.operator} makes: {_render(env, s)}"
                 for s in form.edits if s.required and s not in seen]
    return problems, True


def _render(env: _Env, shape: EditShape) -> str:
    """A shape with the mutation's targets filled in (``remove operations.audit``)."""
    steps = [env.target(p.index) if isinstance(p, Slot) and p.kind == "target" else str(p) for p in shape.path]
    return f"{shape.op} {'.'.join(steps)}"


def _condition(env: _Env, m: PlannedMutation | Mutation, c: Condition) -> list[str]:
    def op(i: int) -> Mapping[str, Any]:
        return env.ops.get(env.target(i), {})

    t = env.target(c.index)
    effects = str(op(c.index).get("side_effects", "none"))
    never = f"mutation {m.id!r}: {m.operator} is never made on"
    if c.kind == "deterministic" and op(c.index).get("deterministic") is not True:
        return [f"{never} {t!r}, which is not deterministic"]
    if c.kind == "not-external" and effects == "external":
        return [f"{never} {t!r}, which has external side effects"]
    if c.kind == "no-effects" and (effects != "none" or op(c.index).get("may_halt") is True):
        return [f"{never} {t!r}, which has side effects ({effects}) or may halt"]
    if c.kind == "not-both-external" and all(str(op(i).get("side_effects")) == "external" for i in (0, 1)):
        return [f"{never} {env.target(0)!r} and {env.target(1)!r}, which both have external side effects"]
    if c.kind == "foreach" and not isinstance(op(c.index).get("foreach"), str):
        return [f"{never} {t!r}, which has no foreach (one call per request)"]
    if c.kind == "same-equivalence":
        mine, theirs = op(0).get("equivalence"), env.alts.get(env.target(1), {}).get("equivalence")
        if mine is None or mine != theirs:
            return [f"{never} {env.target(0)!r} and {env.target(1)!r}, which share no equivalence tag"]
    return []


def _match(env: _Env, e: Edit, form: EditForm) -> tuple[EditShape | None, Any]:
    """The shape of ``form`` that ``e`` is, or ``None`` and a function giving the reason it is none."""
    on_path = [s for s in form.edits if s.op == e.op and _path_matches(env, s.path, e.path)]
    for s in on_path:
        if _value_ok(env, s.value, e):
            return s, None
    if on_path:
        rule = on_path[0].value
        return None, lambda m: f"to {_short(e.value)}, not a value {m.operator} gives it ({_describe(env, rule)})"
    touched = {str(x) for x in e.path[1:2]} & ({*env.targets} | set().union(
        *(env.successors(i) | env.fields_of(i) for i in range(len(env.targets)))))
    if not touched:
        return None, lambda m: f"outside its targets ({', '.join(env.targets)})"
    makes = "; ".join(_render(env, s) for s in form.edits)
    return None, lambda m: f"which {m.operator} never does ({m.operator} makes only: {makes})"


def _path_matches(env: _Env, pattern: tuple[str | Slot, ...], path: Sequence[Any]) -> bool:
    if len(pattern) != len(path):
        return False
    for pat, step in zip(pattern, path, strict=True):
        if not isinstance(step, str):
            return False
        if isinstance(pat, str):
            if step != pat:
                return False
        elif pat.kind == "target":
            if step != env.target(pat.index):
                return False
        elif pat.kind == "successor":
            if step not in env.successors(pat.index):
                return False
        elif step not in env.fields_of(pat.index):  # field-of
            return False
    return True


def _lookup(entry: Mapping[str, Any], keys: tuple[tuple[str | int, ...], ...]) -> tuple[bool, Any]:
    """The value at the first of ``keys`` present in ``entry`` (``(False, None)`` when none is)."""
    for key in keys:
        node: Any = entry
        for k in key:
            if not isinstance(node, Mapping) or k not in node:
                break
            node = node[k]
        else:
            return True, node
    return False, None


def _same(a: Any, b: Any) -> bool:
    """Equal as the recipe means it (``True`` is not ``1``)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _value_ok(env: _Env, rule: ValueRule | None, e: Edit) -> bool:
    v = e.value
    if rule is None:
        return e.op in ("remove", "prune")
    if rule.kind == "mapping":
        return isinstance(v, Mapping)
    if rule.kind == "string":
        return isinstance(v, str)
    if rule.kind == "target":
        return v == env.target(rule.index)
    if rule.kind == "precedes":
        return isinstance(v, str) and v in env.precedes(rule.index)
    if rule.kind == "after-without":
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            return False
        base = set(_names(env.ops.get(str(e.path[1]), {}).get("after"))) - {env.target(rule.index)}
        return base <= set(v) <= base | env.precedes(rule.index)
    if rule.kind == "true":
        return v is True
    if rule.kind == "count":
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            return False
        if not rule.keys:
            return True
        found, most = _lookup(env.alts.get(env.target(rule.index), {}), rule.keys)
        return found and isinstance(most, int) and not isinstance(most, bool) and v <= most
    if rule.kind == "current":
        found, x = _lookup(env.ops.get(env.target(rule.index), {}), rule.keys)
        return found and _same(v, x)
    found, x = _lookup(env.alts.get(env.target(rule.index), {}), rule.keys)
    if rule.kind == "alternative-lacks":
        return not found
    return found and _same(v, x)  # alternative


def _describe(env: _Env, rule: ValueRule | None) -> str:
    t = env.target(rule.index) if rule is not None else ""
    keys = " or ".join(".".join(map(str, k)) for k in rule.keys) if rule is not None else ""
    return {
        None: "no value",
        "mapping": "a mapping",
        "string": "a string",
        "target": f"{t!r}",
        "precedes": f"an operation that runs before {t!r}",
        "after-without": f"the list without {t!r}, plus operations that ran before it",
        "alternative": f"the {keys} of alternative {t!r}",
        "current": f"the current {keys} of {t!r}",
        "alternative-lacks": f"only when alternative {t!r} states no {keys}",
        "count": f"a whole number of at least 2{f', at most the {keys} of alternative {t!r}' if keys else ''}",
        "true": "true",
    }[rule.kind if rule is not None else None]
