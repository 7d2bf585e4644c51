"""What a plan changes, for a reviewer: a unified diff of the YAML and a structural diff of the DAG.

The unified diff compares the recipe file's text with the text ``apply`` would write
(:func:`recipemut.recipe.yamlio.apply_edits_to_text`: comments and formatting kept), so it is exactly
the change that will land. The structural diff compares the two recipes as graphs: operations
added, removed and changed (which keys, before -> after), fields whose spec changed, and DAG
edges added or removed (with their kind: ``data``, ``after`` or ``both``).

>>> from recipemut.recipe.model import Operation, Recipe
>>> a = Recipe("r", 1, {}, (), (), (Operation("x", "s", "X"), Operation("y", "s", "Y", after=("x",))))
>>> b = Recipe("r", 1, {}, (), (), (Operation("x", "s", "X"), Operation("y", "s", "Y")))
>>> d = structural_diff(a, b)
>>> d.edges_removed, d.ops_changed
((('x', 'y', 'after'),), (('y', (('after', ['x'], []),)),))
>>> print("\\n".join(d.lines()))
~ y: after ['x'] -> []
- edge x -> y (after)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Recipe, op_to_dict

Change = tuple[str, Any, Any]  # key, before, after


@dataclass(frozen=True)
class StructuralDiff:
    """Operations, fields and edges that differ between two recipes."""

    ops_added: tuple[str, ...]
    ops_removed: tuple[str, ...]
    ops_changed: tuple[tuple[str, tuple[Change, ...]], ...]
    fields_changed: tuple[tuple[str, tuple[Change, ...]], ...]
    edges_added: tuple[tuple[str, str, str], ...]
    edges_removed: tuple[tuple[str, str, str], ...]

    @property
    def empty(self) -> bool:
        return not (
            self.ops_added
            or self.ops_removed
            or self.ops_changed
            or self.fields_changed
            or self.edges_added
            or self.edges_removed
        )

    @property
    def changed_ops(self) -> tuple[str, ...]:
        """Operations added or changed (what a picture of the new DAG highlights)."""
        return tuple(sorted({*self.ops_added, *(op for op, _ in self.ops_changed)}))

    def lines(self) -> list[str]:
        """One line per difference: ``+``/``-``/``~`` then what."""
        out = [f"+ operation {op}" for op in self.ops_added]
        out += [f"- operation {op}" for op in self.ops_removed]
        for op, changes in self.ops_changed:
            out.append(f"~ {op}: " + "; ".join(f"{k} {_short(a, k)} -> {_short(b, k)}" for k, a, b in changes))
        for name, changes in self.fields_changed:
            out.append(f"~ field {name}: " + "; ".join(f"{k} {_short(a)} -> {_short(b)}" for k, a, b in changes))
        out += [f"+ edge {a} -> {b} ({k})" for a, b, k in self.edges_added]
        out += [f"- edge {a} -> {b} ({k})" for a, b, k in self.edges_removed]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "operations_added": list(self.ops_added),
            "operations_removed": list(self.ops_removed),
            "operations_changed": {
                op: [{"key": k, "before": a, "after": b} for k, a, b in ch] for op, ch in self.ops_changed
            },
            "fields_changed": {
                name: [{"key": k, "before": a, "after": b} for k, a, b in ch] for name, ch in self.fields_changed
            },
            "edges_added": [{"from": a, "to": b, "kind": k} for a, b, k in self.edges_added],
            "edges_removed": [{"from": a, "to": b, "kind": k} for a, b, k in self.edges_removed],
        }


def _short(v: Any, key: str = "") -> str:
    """A value as the YAML diff below it writes it, in one line: ``{ttl_s: 3600, max_entries: 50}``, not
    Python's ``{'ttl_s': 3600.0, ...}``; text quoted; a price (a ``*_usd`` key) in dollars, as every other
    cost is said (``$0.00004``, not ``4e-05``); cut at 60 characters.

    >>> _short({"ttl_s": 3600.0, "max_entries": 50, "on": ["a", "b"]}), _short("pricing"), _short(None)
    ("{ttl_s: 3600, max_entries: 50, on: ['a', 'b']}", "'pricing'", '(none)')
    >>> _short(0.0009, "cost_per_call_usd"), _short(4e-05, "cost_per_call_usd"), _short(None, "cost_per_call_usd")
    ('$0.0009', '$0.00004', '(none)')
    """
    if key.endswith("_usd") and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return "$" + format(Decimal(repr(float(v))), "f")  # the shortest repr's digits, as the recipe writes a price
    s = _flow(v) if v is not None else "(none)"
    return s if len(s) <= 60 else s[:57] + "..."


def _flow(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v) if isinstance(v, str) else str(v)


_LISTS = ("consumes", "produces", "after")


def _changes(a: dict[str, Any], b: dict[str, Any]) -> tuple[Change, ...]:
    keys = [k for k in a if k != "id"] + [k for k in b if k not in a and k != "id"]
    out = []
    for k in keys:
        default: list[Any] | None = [] if k in _LISTS else None
        va, vb = a.get(k, default), b.get(k, default)
        if va != vb:
            out.append((k, va, vb))
    return tuple(out)


def structural_diff(before: Recipe, after: Recipe) -> StructuralDiff:
    """The structural difference between two recipes (see the module docstring)."""
    ops_b, ops_a = before.ops, after.ops
    added = tuple(op.id for op in after.operations if op.id not in ops_b)
    removed = tuple(op.id for op in before.operations if op.id not in ops_a)
    changed = []
    for op in after.operations:
        if op.id in ops_b and ops_b[op.id] != op:
            ch = _changes(op_to_dict(ops_b[op.id]), op_to_dict(op))
            if ch:
                changed.append((op.id, ch))
    fields = []
    for name, spec in after.fields.items():
        old = before.fields.get(name)
        if old is not None and old != spec:
            ch = tuple(
                (k, getattr(old, k), getattr(spec, k))
                for k in ("type", "format", "compression")
                if getattr(old, k) != getattr(spec, k)
            )
            if ch:
                fields.append((name, ch))
    gb, ga = before.dag, after.dag
    e_b = {(u, v): d.get("kind", "data") for u, v, d in gb.edges(data=True)}
    e_a = {(u, v): d.get("kind", "data") for u, v, d in ga.edges(data=True)}
    edges_added = tuple((u, v, k) for (u, v), k in sorted(e_a.items()) if e_b.get((u, v)) != k)
    edges_removed = tuple((u, v, k) for (u, v), k in sorted(e_b.items()) if e_a.get((u, v)) != k)
    return StructuralDiff(added, removed, tuple(changed), tuple(fields), edges_added, edges_removed)


_last_edited: list[tuple[str, list[Edit], str, str]] = []  # the last (text, edits, source, result)


def edited_text(text: str, edits: Sequence[Edit], *, source: str = "<recipe>") -> str:
    """The text ``apply`` would write for these edits (round-trip YAML keeping comments).

    The last answer is remembered: a report in two formats asks twice for the same text, and the
    round trip costs seconds per megabyte of recipe.
    """
    from recipemut.recipe.yamlio import apply_edits_to_text

    key = copy.deepcopy(list(edits))
    if _last_edited:
        t, e, s, result = _last_edited[0]
        if s == source and e == key and t == text:
            return result
    result = apply_edits_to_text(text, list(edits), source=source)
    _last_edited[:] = [(text, key, source, result)]
    return result
