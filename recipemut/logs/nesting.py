"""Nested spans: an operation is charged its own time, not the time of the calls it waits for.

A span of operation A often holds spans of other operations: a caller's span includes its callees'
(``A = [0, 100]`` calls ``B = [20, 70]``). Replayed one after the other through the recipe, A's
whole span plus B's would count B twice. So A's *own time* is its span minus the time its mapped
descendants of other operations cover: the union of their intervals, clipped to A's span
(``100 - 50 = 50`` ms above). A descendant is charged to its nearest ancestor that is a span of an
operation, through spans that are not (an unmapped server span between a client call and the calls
it makes); a span nested in a span of its own operation (recursion) is left inside it.

Everything is vectorised over spans: parents are found by sorting ``(request, span id)`` keys,
the walk to the nearest mapped ancestor is one array look-up per tree level, and the union of the
intervals charged to each span is one sort, a running maximum per span and a ``bincount``.

>>> start, lat = np.array([0.0, 20.0]), np.array([100.0, 50.0])
>>> own, charged = own_time(start, lat, parent=np.array([-1, 0]), op=np.array([0, 1]))
>>> own.tolist(), charged.tolist()
([50.0, 50.0], [True, False])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "charge_frame",
    "cycle_rows",
    "frame_parents",
    "levels",
    "nearest_mapped",
    "outermost_same",
    "own_time",
    "parent_rows",
    "preorder",
    "replay_starts",
    "union_length",
]


def parent_rows(req: np.ndarray, span: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Row of each row's parent: the first row of the same request whose span code is its parent code.

    ``req`` are request codes; ``span`` and ``parent`` codes of span ids in one code space (-1 for
    none). A parent that is not in the rows, or the row itself, gives -1.

    >>> parent_rows(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 2]), np.array([-1, 0, 2, 3])).tolist()
    [-1, 0, 3, -1]
    """
    n = int(req.shape[0])
    out = np.full(n, -1, dtype=np.int64)
    has = np.flatnonzero(parent >= 0)
    own = np.flatnonzero(span >= 0)
    if not len(has) or not len(own):
        return out
    base = int(max(span.max(), parent.max())) + 1
    key = req.astype(np.int64) * base + span
    order = own[np.lexsort((own, key[own]))]  # by key, first row first
    keys = key[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, rows = keys[first], order[first]
    want = req[has].astype(np.int64) * base + parent[has]
    pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    found = keys[pos] == want
    out[has[found]] = rows[pos[found]]
    out[out == np.arange(n)] = -1
    return out


def cycle_rows(parent: np.ndarray) -> np.ndarray:
    """The rows on a parent cycle (sorted), by pointer doubling.

    >>> cycle_rows(np.array([-1, 0, 3, 2, 2])).tolist(), cycle_rows(np.array([1, 2, -1])).tolist()
    ([2, 3], [])
    """
    n = int(parent.shape[0])
    anc = parent.astype(np.int64, copy=True)
    active = np.flatnonzero(anc >= 0)
    for _ in range(int(np.ceil(np.log2(n + 1))) + 1):  # 2^k jumps >= n + 1: beyond any chain's root
        if not len(active):
            break
        nxt = anc[anc[active]]
        anc[active] = nxt
        active = active[nxt >= 0]
    return np.unique(anc[active])


def nearest_mapped(parent: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """For each mapped row, its nearest mapped proper ancestor (-1 for none, and for unmapped rows).

    ``parent`` has no cycle (see :func:`cycle_rows`). One look-up per tree level.

    >>> nearest_mapped(np.array([-1, 0, 1, 2]), np.array([True, False, True, True])).tolist()
    [-1, -1, 0, 2]
    """
    n = int(parent.shape[0])
    anc = np.full(n, -1, dtype=np.int64)
    todo = np.flatnonzero(mapped & (parent >= 0))
    cur = parent[todo]
    for _ in range(n):
        if not len(todo):
            break
        hit = mapped[cur]
        anc[todo[hit]] = cur[hit]
        todo, cur = todo[~hit], parent[cur[~hit]]
        up = cur >= 0
        todo, cur = todo[up], cur[up]
    return anc


def union_length(owner: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int) -> np.ndarray:
    """Per owner ``0..n-1``, the length of the union of the intervals ``[lo, hi)`` it owns.

    >>> union_length(np.array([0, 0, 0, 1]), np.array([0.0, 5.0, 20.0, 1.0]),
    ...              np.array([10.0, 12.0, 25.0, 2.0]), 3).tolist()
    [17.0, 1.0, 0.0]
    """
    return _Charges.of(owner, lo, hi, n).covered


@dataclass(frozen=True)
class _Charges:
    """Intervals charged to their owners, sorted by owner and start, with what each adds to the union."""

    order: np.ndarray  # rows of the given intervals, sorted
    covered: np.ndarray  # (n,) per owner: the union's length
    before: np.ndarray  # per sorted interval: the union's length up to its start

    @classmethod
    def of(cls, owner: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int) -> _Charges:
        """Each interval adds what reaches beyond the running maximum of the ends before it (overlaps
        merge, gaps stay out)."""
        order = np.flatnonzero(hi > lo)
        if not len(order):
            return cls(order, np.zeros(n), np.zeros(0))
        order = order[np.lexsort((lo[order], owner[order]))]
        o, lo, hi = owner[order], lo[order], hi[order]
        reach = pd.Series(hi).groupby(o).cummax().to_numpy()  # the furthest end so far, per owner
        first = np.ones(len(o), dtype=bool)
        first[1:] = o[1:] != o[:-1]
        prev = np.empty_like(reach)
        prev[1:] = reach[:-1]
        prev[first] = -np.inf
        adds = np.maximum(hi - np.maximum(lo, prev), 0.0)
        upto = pd.Series(adds).groupby(o).cumsum().to_numpy() - adds  # the union before this interval
        before = upto - np.maximum(prev - lo, 0.0)  # less what of it lies after this start
        return cls(order, np.bincount(o, weights=adds, minlength=n), before)


def own_time(
    start: np.ndarray, latency: np.ndarray, *, parent: np.ndarray, op: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each span's own time and which spans were charged less than their span.

    ``parent`` is the row of each span's parent (-1 for roots; no cycles), ``op`` the operation code
    of each span (-1 for a span of no operation: it is walked through, and keeps its latency). A
    span's descendants of other operations, each charged to its nearest mapped ancestor, are taken
    off its latency (their union, clipped to its span). Spans charged nothing keep their latency as
    it was, bit for bit.

    >>> start = np.array([0.0, 10.0, 30.0, 40.0, 90.0])  # A holds B and, through an unmapped span, C
    >>> lat = np.array([100.0, 30.0, 40.0, 30.0, 20.0])   # B and C overlap; D runs past A's end
    >>> own, charged = own_time(start, lat, parent=np.array([-1, 0, 0, 2, 0]), op=np.array([0, 1, -1, 2, 3]))
    >>> own.tolist(), charged.tolist()  # A: 100 - |[10, 40) u [40, 70)| - |[90, 100)| = 30
    ([30.0, 30.0, 40.0, 30.0, 20.0], [True, False, False, False, False])
    """
    own, _, charged = _nest(start, latency, parent, op)
    return own, charged


def replay_starts(
    start: np.ndarray, latency: np.ndarray, *, parent: np.ndarray, op: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`own_time` and starts a replay can take: each charged span first, its nested spans after.

    A replay runs an operation's whole latency before its successors start, and keeps the gaps the
    logs show between them. So a charged span runs its own time from its start, and each span it
    holds moves later by the part of that own time recorded after the nested span's start (its
    subtree with it): the gaps between nested spans, which the owner's own time holds already, are
    not counted twice, and the last nested span ends where the owner did. Spans of no operation
    (``op`` -1) and roots do not move.

    Returns ``(own time, start, spans charged)``.

    >>> own, moved, k = replay_starts(np.array([0.0, 10.0, 50.0]), np.array([100.0, 30.0, 40.0]),
    ...                               parent=np.array([-1, 0, 0]), op=np.array([0, 1, 2]))
    >>> own.tolist(), moved.tolist(), k  # A runs 30 ms, then B for 30 and C for 40: 100 ms as recorded
    ([30.0, 30.0, 40.0], [0.0, 30.0, 60.0], 1)
    """
    own, shift, charged = _nest(start, latency, parent, op)
    n = int(start.shape[0])
    total = np.zeros(n)
    if not shift.any():
        return own, start, int(charged.sum())
    # breadth first from the roots, one tree level a pass (a span in a parent cycle is never reached and
    # does not move)
    for kids in levels(parent)[1:]:
        total[kids] = total[parent[kids]] + shift[kids]
    return own, np.where(total != 0, start + total, start), int(charged.sum())


def levels(parent: np.ndarray) -> list[np.ndarray]:
    """The forest ``parent`` (-1: a root) level by level from its roots, each level's rows grouped by their
    parent in the order of the level above: the children of a level found by binary search in the rows
    sorted by parent, each row visited once, never a loop over rows (a row on a parent cycle is in none).

    >>> [lv.tolist() for lv in levels(np.array([-1, 0, 0, 1, -1]))]
    [[0, 4], [1, 2], [3]]
    """
    order = np.argsort(parent, kind="stable")
    by_parent = parent[order]
    out = [np.flatnonzero(parent < 0)]
    while True:
        lo = np.searchsorted(by_parent, out[-1], "left")
        counts = np.searchsorted(by_parent, out[-1], "right") - lo
        if not counts.any():
            return out
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        out.append(order[np.repeat(lo, counts) + offsets])


def _nest(
    start: np.ndarray, latency: np.ndarray, parent: np.ndarray, op: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Own times, each span's move relative to its owner (see :func:`replay_starts`), charged spans."""
    n = int(start.shape[0])
    mapped = op >= 0
    anc = nearest_mapped(parent, mapped)
    kid = np.flatnonzero(anc >= 0)
    owner = anc[kid]
    other = op[owner] != op[kid]
    kid, owner = kid[other], owner[other]
    end = start + latency
    lo = np.maximum(start[kid], start[owner])
    hi = np.minimum(end[kid], end[owner])
    ch = _Charges.of(owner, lo, hi, n)
    charged = ch.covered > 0
    own = np.where(charged, np.maximum(latency - ch.covered, 0.0), latency)
    shift = np.zeros(n)
    k, o = kid[ch.order], owner[ch.order]
    own_before = (lo[ch.order] - start[o]) - ch.before  # the owner's own time recorded before this start
    shift[k] = np.maximum(own[o] - own_before, 0.0)
    return own, shift, charged


def frame_parents(spans: pd.DataFrame, req: np.ndarray) -> np.ndarray | None:
    """The row of each row's parent in a span table (``span_id`` / ``parent_span_id``, within its
    request, ``req`` the rows' request codes), -1 for none and for the rows of a parent cycle (broken:
    they are roots). None for a table without parent ids.
    """
    if "parent_span_id" not in spans.columns or "span_id" not in spans.columns or not len(spans):
        return None
    parents = spans["parent_span_id"]
    if not bool(parents.notna().any()):
        return None
    ids = pd.concat([spans["span_id"], parents], ignore_index=True)
    codes, _ = pd.factorize(ids, use_na_sentinel=True)
    n = len(spans)
    row = parent_rows(req.astype(np.int64), codes[:n].astype(np.int64), codes[n:].astype(np.int64))
    row[cycle_rows(row)] = -1
    return row


def preorder(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's place in a depth-first walk of the forest ``parent`` (no cycles): ``(first, size)``,
    so row ``a`` is an ancestor of row ``d`` exactly when ``first[a] < first[d] < first[a] + size[a]``.

    One pass per tree level down (the children of a level by binary search in the rows sorted by
    parent), one up (subtree sizes added to the parents), never a loop over rows.

    >>> first, size = preorder(np.array([-1, 0, 0, 1, -1]))  # 0 holds 1 (which holds 3) and 2; 4 alone
    >>> first.tolist(), size.tolist()
    ([0, 1, 3, 2, 4], [4, 2, 1, 1, 1])
    """
    n = int(parent.shape[0])
    walk = levels(parent)  # each level grouped by parent, as the level above
    size = np.ones(n, dtype=np.int64)
    for kids in reversed(walk[1:]):
        np.add.at(size, parent[kids], size[kids])
    first = np.zeros(n, dtype=np.int64)
    roots = walk[0]
    first[roots] = np.cumsum(size[roots]) - size[roots]
    for kids in walk[1:]:  # after its parent, and after the subtrees of its siblings before it
        up = parent[kids]
        before = np.cumsum(size[kids]) - size[kids]
        group = np.ones(len(kids), dtype=bool)
        group[1:] = up[1:] != up[:-1]
        before -= np.maximum.accumulate(np.where(group, before, 0))
        first[kids] = first[up] + 1 + before
    return first, size


def outermost_same(parent: np.ndarray, op: np.ndarray) -> np.ndarray:
    """For each row, the outermost of its ancestors that is a span of its own operation (a nested call
    of the operation, through spans of any other: recursion), or the row itself when none is.

    ``parent`` has no cycle. Rows sorted by (operation, depth-first place): a row is nested when a
    row of its operation before it holds it (the running maximum of their subtrees' ends reaches past
    its place), and its outermost holder is the last row of its operation before it that is not nested.

    >>> outermost_same(np.array([-1, 0, 1, 2, -1]), np.array([7, 8, 7, 7, 7])).tolist()  # 0 > 1 > 2 > 3
    [0, 1, 0, 0, 4]
    """
    n = int(parent.shape[0])
    first, size = preorder(parent)
    code = pd.factorize(op)[0].astype(np.int64)
    rows = np.lexsort((first, code))
    span = n + 1  # a place or an end is at most n: one operation's ends never reach the next one's
    ends = code[rows] * span + first[rows] + size[rows]
    reach = np.maximum.accumulate(ends)
    before = np.empty(n, dtype=np.int64)
    before[:1] = -1
    before[1:] = reach[:-1]
    nested = before > code[rows] * span + first[rows]
    last = np.maximum.accumulate(np.where(nested, 0, np.arange(n)))  # the row of each operation comes first
    out = np.empty(n, dtype=np.int64)
    out[rows] = rows[last]
    return out


def charge_frame(
    spans: pd.DataFrame,
    req: np.ndarray,
    op: np.ndarray,
    start: np.ndarray,
    latency: np.ndarray,
    parent: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`replay_starts` of the rows of a span table, told apart by ``span_id`` / ``parent_span_id``.

    ``req`` and ``op`` are the rows' request and operation codes. Every row is a span of an
    operation: readers of trace formats give a span's nearest enclosing span of an operation as its
    ``parent_span_id``. ``parent``: the rows' :func:`frame_parents`, when the caller has them. A
    table without parent ids gives ``latency`` and ``start`` back as they are.
    Returns ``(own time, start, spans charged)``.
    """
    row = frame_parents(spans, req) if parent is None else parent
    if row is None:
        return latency, start, 0
    return replay_starts(start, latency, parent=row, op=op.astype(np.int64))
