"""State graphs of engines that say "go to state X next" (Step Functions, Serverless Workflow).

A state machine's transitions (``Next``, ``Default``, a Choice rule's ``Next``, a Serverless
Workflow ``transition`` or ``then``) make a directed graph that may loop (polling: a Choice goes
back to an earlier state). A recipe is a DAG, so :func:`walk` keeps the transitions a depth-first
search from the start state finds going forward and reports the others (the loops) as back edges,
then visits the states in a topological order, telling each one which operations it runs after
and on which condition it runs at all (the Choice rules on every path to it, ``None`` when one
path reaches it unconditionally).

>>> m = {"A": [Edge("B", ("A", "Next"))], "B": [Edge("C", ("B", 0), "x > 1"), Edge("D", ("B", "Default"), "otherwise")],
...      "C": [Edge("A", ("C", "Next"))], "D": []}
>>> seen = []
>>> def visit(name, preds, when):
...     seen.append((name, sorted(preds), when))
...     return {name}
>>> w = walk(m, "A", visit, entry=set())
>>> sorted(w.exits), w.back_edges, w.order
(['C', 'D'], [('C', Edge(target='A', at=('C', 'Next'), when=None, default=False))], ['A', 'B', 'C', 'D'])
>>> seen
[('A', [], None), ('B', ['A'], None), ('C', ['B'], 'x > 1'), ('D', ['B'], 'otherwise')]
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from recipemut.recipe.engines.base import Imported
from recipemut.recipe.engines.build import WHEN_MAX, when_text
from recipemut.recipe.model import DocPath

_TOP = re.compile(r"^\$?\.([A-Za-z_][A-Za-z0-9_\-]*)")


@dataclass(frozen=True)
class Edge:
    """A transition to ``target``; ``at`` is the engine-document path of the key naming it; ``when`` its rule.

    ``default``: the transition taken when no other rule of its state holds (a Choice's ``Default``),
    which makes the state's rules cover every case.
    """

    target: str
    at: DocPath
    when: str | None = None
    default: bool = False


@dataclass
class Walk:
    """What :func:`walk` found: the operations the machine ends with, the loops it left out, the visit order."""

    exits: set[str] = field(default_factory=set)
    back_edges: list[tuple[str, Edge]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)


Visit = Callable[[str, set[str], "str | None"], set[str]]


def _forward(machine: dict[str, list[Edge]], start: str) -> tuple[list[str], list[tuple[str, Edge]]]:
    """States reachable from ``start`` in depth-first discovery order, and the edges that go back (loops)."""
    order: list[str] = [start]
    seen = {start}
    on_stack = {start}
    back: list[tuple[str, Edge]] = []
    stack: list[tuple[str, int]] = [(start, 0)]
    while stack:
        node, i = stack[-1]
        edges = machine.get(node, [])
        if i >= len(edges):
            stack.pop()
            on_stack.discard(node)
            continue
        stack[-1] = (node, i + 1)
        edge = edges[i]
        if edge.target not in machine:
            continue
        if edge.target in on_stack:
            back.append((node, edge))
        elif edge.target not in seen:
            seen.add(edge.target)
            on_stack.add(edge.target)
            order.append(edge.target)
            stack.append((edge.target, 0))
    return order, back


Atom = tuple[str, int]  # (state whose transition it is, the transition's index there)
Paths = frozenset[frozenset[Atom]]  # the ways a state is reached: each a set of conditions that all hold
#: most distinct condition paths kept per state (machines of many unmerged choices grow them fast)
MAX_PATHS = 64
#: most steps :func:`_simplify` may take on one state (paths cubed times conditions per way
#: squared); beyond it the paths are kept as they come (a longer ``when``, never a wrong one): a
#: ladder of Choices without ``Default`` makes ways of hundreds of conditions each
SIMPLIFY_BUDGET = 50_000
#: ways kept past that budget (the shortest; the text shows a few at most)
UNSIMPLIFIED_PATHS = 8
#: most conditions one way keeps: a longer way ends in :data:`MORE` ("…"), so a ladder of a
#: thousand Choices costs what one of 32 does (the ``when`` text is cut at 500 characters anyway)
MAX_CONDITIONS = 32
#: the condition standing for those a way leaves out past :data:`MAX_CONDITIONS` (never merged away)
MORE: Atom = ("", -1)


def _simplify(paths: set[frozenset[Atom]], groups: dict[str, int]) -> set[frozenset[Atom]]:
    """Drop a Choice from paths that reach the state through every one of its transitions."""
    longest = max((len(p) for p in paths), default=0)
    if len(paths) ** 3 * longest**2 > SIMPLIFY_BUDGET:
        return set(sorted(paths, key=lambda p: (len(p), sorted(p)))[:UNSIMPLIFIED_PATHS])
    changed = True
    while changed and paths:
        changed = False
        if frozenset() in paths:
            return {frozenset()}
        for path in sorted(paths, key=lambda p: sorted(p)):
            for src, _ in sorted(path):
                rest = path - {a for a in path if a[0] == src}
                arms = {a for p in paths if p - {x for x in p if x[0] == src} == rest for a in p if a[0] == src}
                if len(arms) >= groups.get(src, 0) > 0:
                    paths = {p for p in paths if p - {x for x in p if x[0] == src} != rest} | {rest}
                    changed = True
                    break
            if changed:
                break
    return set(sorted(paths, key=lambda p: (len(p), sorted(p)))[:MAX_PATHS])


def _text(paths: set[frozenset[Atom]], texts: dict[Atom, str], order: dict[Atom, int]) -> str | None:
    """The ways as one ``when`` of at most :data:`~recipemut.recipe.engines.build.WHEN_MAX` characters."""
    if not paths or frozenset() in paths:
        return None
    ways = sorted(paths, key=lambda p: (len(p), sorted(order[a] for a in p)))
    parts: list[str] = []
    size = 0
    for p in ways:
        if size > WHEN_MAX:
            break
        parts.append(" and ".join(texts[a] for a in sorted(p, key=order.__getitem__)))
        size += len(parts[-1]) + 6
    parts = sorted(dict.fromkeys(parts), key=parts.index)
    return when_text(parts[0] if len(parts) == 1 else " or ".join(f"({t})" for t in parts))


def walk(machine: dict[str, list[Edge]], start: str, visit: Visit, *, entry: set[str], when: str | None = None) -> Walk:
    """Visit the states reachable from ``start`` in topological order of the forward transitions.

    ``visit(name, preds, when)`` gets the operations the state runs after (``entry`` for the start
    state; a state that is not an operation passes its own ``preds`` on) and the condition on
    which it runs: the rules of the transitions on the ways to it, ``None`` when it runs whatever
    they say (a state reached through every branch of a Choice runs always). It returns the
    operations the states after it run after. Transitions to a state not in ``machine`` are
    ignored (the caller reports them).
    """
    order, back = _forward(machine, start)
    back_set = {(src, id(e)) for src, e in back}
    indeg = dict.fromkeys(order, 0)
    for src in order:
        for e in machine.get(src, []):
            if e.target in indeg and (src, id(e)) not in back_set:
                indeg[e.target] += 1
    texts: dict[Atom, str] = {}
    groups: dict[str, int] = {}
    for src in order:
        conditional = [e for e in machine.get(src, []) if e.when is not None]
        exhaustive = len(conditional) == len(machine.get(src, [])) and any(e.default for e in conditional)
        groups[src] = len(conditional) if exhaustive else 0
        for i, e in enumerate(machine.get(src, [])):
            if e.when is not None:
                texts[(src, i)] = e.when
    start_paths: set[frozenset[Atom]] = {frozenset()}
    if when is not None:
        texts[("", 0)] = when
        start_paths = {frozenset({("", 0)})}
    texts[MORE] = "…"
    rank = {n: i for i, n in enumerate(order)}
    text_order = {a: i for i, a in enumerate(texts)}
    ready = [(rank[start], start)]
    topo: list[str] = []
    incoming: dict[str, list[tuple[set[str], set[frozenset[Atom]]]]] = {start: [(set(entry), start_paths)]}
    out = Walk(back_edges=back)
    while ready:
        _, node = heapq.heappop(ready)
        topo.append(node)
        arrivals = incoming.get(node, [])
        preds = set().union(*(p for p, _ in arrivals)) if arrivals else set()
        paths = _simplify(set().union(*(c for _, c in arrivals)) if arrivals else {frozenset()}, groups)
        after = visit(node, preds, _text(paths, texts, text_order))
        edges = machine.get(node, [])
        forward = [(i, e) for i, e in enumerate(edges) if e.target in indeg and (node, id(e)) not in back_set]
        if not forward:
            out.exits |= after
        for i, e in forward:
            onward = paths if e.when is None else {p | {(node, i) if len(p) < MAX_CONDITIONS else MORE} for p in paths}
            incoming.setdefault(e.target, []).append((set(after), onward))
            indeg[e.target] -= 1
            if indeg[e.target] == 0:
                heapq.heappush(ready, (rank[e.target], e.target))
    out.order = topo
    return out


def top_field(path: Any) -> str | None:
    """The top-level field a JSONPath or jq path names: ``$.order.id`` and ``.order.id`` give ``order``.

    >>> top_field("$.order.id"), top_field(".pets"), top_field("$"), top_field("$$.Map.Item.Value"), top_field(3)
    ('order', 'pets', None, None, None)
    """
    if not isinstance(path, str):
        return None
    m = _TOP.match(path.strip())
    return m.group(1) if m else None


def dotted_field(path: Any) -> str | None:
    """The field a plain JSONPath or jq path names in full: ``$.customer.transactions`` -> ``customer.transactions``.

    >>> dotted_field("$.customer.transactions"), dotted_field("${ .customer.transactions }"), dotted_field("$[0]")
    ('customer.transactions', 'customer.transactions', None)
    """
    if not isinstance(path, str):
        return None
    text = path.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1].strip()
    m = re.fullmatch(r"\$?((?:\.[A-Za-z_][A-Za-z0-9_\-]*)+)", text)
    return m.group(1)[1:] if m else None


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty one (engine files hold anything anywhere)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else an empty one."""
    return value if isinstance(value, list) else []


def merge_notes(imported: Imported, notes: dict[str, list[str]]) -> None:
    """Append what an importer noted about an operation to its ``description`` (after the builder's own)."""
    for op in imported.document["operations"]:
        extra = notes.get(op["id"])
        if extra:
            op["description"] = "; ".join([*filter(None, [op.get("description")]), *extra])


__all__ = ["Edge", "Walk", "as_dict", "as_list", "dotted_field", "merge_notes", "top_field", "walk"]
