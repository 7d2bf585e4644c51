"""Nested spans: an operation called from within another, recorded the way tracing records a caller.

``inside: <caller>`` (an operation's key in ``loggen.yaml``) says the operation is called from within
``caller``'s span. The schedule does not change: the callee still starts when its DAG predecessors
have finished, so the caller must be one of its ancestors. What changes is what the log records: the
caller's span starts at its own start and ends when the last of its callees ends (or at its own end,
if later), and every span of a callee carries ``parent_span_id`` = the caller's span id. A caller
that made several calls in a request (a fan-out, retries) encloses its callees in its last-ending
span. Nesting composes: a callee's span, grown by its own callees, grows its caller's.

An operation on a path from the caller to the callee runs inside the caller's recorded span too, so
it must be nested in the caller as well (directly or through another callee): otherwise the
caller's span would hold the time of an operation that is not its callee, and its own time (the
span minus its callees', :mod:`recipemut.logs.nesting`) would count that operation twice.

Vectorised: the caller's span of each callee span is one sort and a ``searchsorted``; the spans grow
one nesting level at a time (deepest first), each level one ``np.maximum.at``.

>>> row, op = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
>>> parent, lat = enclose(row, op, np.array([-1, 0, -1, 0]), np.array([0, 1, 0, 1]),
...                       np.array([0, 10, 5, 8]), np.array([10, 30, 3, 2]))
>>> parent.tolist(), lat.tolist()  # request 0: [0, 10] grows to [0, 40]; request 1: [5, 8] holds [8, 10]
([-1, 0, -1, 2], [40, 30, 5, 2])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np

from recipemut.errors import RecipemutError
from recipemut.recipe.model import Recipe

__all__ = ["callers_in", "depths", "enclose"]


def _problems(recipe: Recipe, inside: Mapping[str, str]) -> list[tuple[str, str]]:
    """``(callee, why it cannot be nested)`` for each ``inside`` the recipe does not allow."""
    dag = recipe.dag
    out: list[tuple[str, str]] = []
    for callee, caller in inside.items():
        if caller == callee:
            out.append((callee, f"{callee!r} cannot be called from within itself"))
        elif caller not in recipe.ops:
            out.append((callee, f"recipe {recipe.name!r} has no operation {caller!r}"))
        elif not nx.has_path(dag, caller, callee):
            out.append(
                (
                    callee,
                    f"{caller!r} does not precede {callee!r} in the recipe's DAG: a caller must be an "
                    f"ancestor of the operations called from within it",
                )
            )
    if out:
        return out

    def nested_in(op_id: str, caller: str) -> bool:
        seen = inside.get(op_id)
        while seen is not None and seen != caller:
            seen = inside.get(seen)
        return seen == caller

    for callee, caller in inside.items():
        between = nx.descendants(dag, caller) & nx.ancestors(dag, callee)
        loose = sorted(b for b in between if not nested_in(b, caller))
        if loose:
            out.append(
                (
                    callee,
                    f"{loose[0]!r} runs between {caller!r} and {callee!r} but is not inside {caller!r}: "
                    f"{caller!r}'s span would hold its time (give it `inside: {caller}` too)",
                )
            )
    return out


def callers_in(
    recipe: Recipe,
    inside: Mapping[str, str],
    *,
    fail: Callable[[str, str], RecipemutError] | None = None,
) -> dict[str, str]:
    """The ``{callee: caller}`` pairs of ``inside`` that ``recipe`` runs.

    Callees that are not operations of ``recipe`` are left out (a ``loggen.yaml`` may serve several
    recipes). With ``fail`` (``callee, message -> error``) the first pair the recipe does not allow
    is raised; without it such pairs are dropped, until the rest is consistent (a canary's own
    recipe, where a mutation removed a caller or an edge, records those calls unnested).
    """
    pairs = {c: k for c, k in inside.items() if c in recipe.ops}
    while True:
        bad = _problems(recipe, pairs)
        if not bad:
            return pairs
        if fail is not None:
            raise fail(*bad[0])
        for callee, _ in bad:
            pairs.pop(callee, None)


def depths(pairs: Mapping[str, str]) -> dict[str, int]:
    """How deep each callee is nested: 1 inside an operation that is nobody's callee, 2 inside a callee, ..."""
    out: dict[str, int] = {}
    for callee in pairs:
        d, at = 0, callee
        while at in pairs and d <= len(pairs):
            d, at = d + 1, pairs[at]
        out[callee] = d
    return out


def enclose(
    row: np.ndarray, op: np.ndarray, caller: np.ndarray, depth: np.ndarray, start: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each span's parent row and the latencies with callers grown to hold their callees.

    ``row`` is each span's request, ``op`` its operation code, ``caller`` the code of the operation
    it is called from within (-1: none) and ``depth`` its nesting depth (:func:`depths`); ``start``
    and ``lat`` are integer ticks. The parent is the caller's last-ending span in the same request
    (-1 where there is none). Spans that hold no callee keep their latency.
    """
    n = int(row.size)
    parent = np.full(n, -1, dtype=np.int64)
    callee = np.flatnonzero(caller >= 0)
    if not callee.size:
        return parent, lat
    end = start + lat
    width = int(max(op.max(), caller.max())) + 1
    key = row.astype(np.int64) * width + op
    order = np.lexsort((end, key))  # by (request, operation), the last-ending span last
    keys = key[order]
    last = np.ones(n, dtype=bool)
    last[:-1] = keys[:-1] != keys[1:]
    keys, rows = keys[last], order[last]
    want = row[callee].astype(np.int64) * width + caller[callee]
    pos = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    found = keys[pos] == want
    kids = callee[found]
    parent[kids] = rows[pos[found]]
    grown = end.copy()
    level = depth[kids]
    for d in range(int(level.max()) if kids.size else 0, 0, -1):  # deepest first: a callee grows, then its caller
        k = kids[level == d]
        np.maximum.at(grown, parent[k], grown[k])
    return parent, grown - start
