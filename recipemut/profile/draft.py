"""A recipe drafted from logs alone: what ``recipemut import TRACES`` writes for traces with no recipe yet.

Each distinct (service, span name) of the span table (read without a recipe: ``op`` is the span's
name) becomes an operation: ``service`` the span's service, ``action`` its name, the id the name
through :func:`~recipemut.recipe.engines.names.op_id` (``name_service`` when two services share a
name). Its ``after`` list is the order the traces show, in two ways:

- **nesting**: ``b`` ran inside a span of ``a`` (``b``'s parent span is ``a``'s) in at least half of
  the traces that hold both: ``b`` after ``a``, as the profile replays a caller (its own time first,
  then the spans it holds; docs/log-format.md, Nesting);
- **order**: every call of ``b`` started after every call of ``a`` had ended, in at least
  :data:`ORDER_SHARE` of the traces that hold both: ``b`` after ``a``.

Edges are taken strongest first (the share of traces, nesting before order), each only when it
closes no cycle, and the result is reduced transitively, so ``after`` lists only what is not implied.
Operations that overlapped in time with no nesting between them get no edge: they ran side by side.

The traces cannot tell what data a call reads or writes, nor what it does besides: the draft has no
``fields``, and every operation is ``side_effects: idempotent`` (so ``suggest`` never removes a call
it has no reason to think useless, as it would one of the default ``none``), which the header
comment asks the reader to check. The work is per (request, operation) and per pair of operations
met in one request, on at most :data:`MAX_TRACES` requests and :data:`MAX_PAIRS` pairs (a stable choice
by a hash of their ids),
in pandas; the Python loops are over operations and their pairs, never over spans.

>>> import pandas as pd
>>> spans = pd.DataFrame({"request_id": ["t"] * 3, "op": ["get", "post", "async"],
...     "service": ["a", "b", "b"], "start_ms": [0.0, 2.0, 30.0], "latency_ms": [99.0, 94.0, 65.0],
...     "span_id": ["1", "2", "3"], "parent_span_id": [None, "1", "2"]})
>>> d = draft_recipe(spans, name="skew")
>>> [(o["id"], o.get("after")) for o in d.document["operations"]]
[('get', None), ('post', ['get']), ('async', ['post'])]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from recipemut.errors import LogError
from recipemut.files.units import counted, ms_text
from recipemut.recipe.engines.names import UniqueIds, op_id

#: a pair is ordered (``b`` after ``a``) when ``b`` started after ``a`` ended in this share of the traces holding both
ORDER_SHARE = 0.95
#: a pair is nested (``b`` after ``a``) when ``b`` ran inside ``a`` in this share of the traces holding both
NESTED_SHARE = 0.5
#: the requests the edges are read from, at most (the operations and their counts come from every span)
MAX_TRACES = 2000
#: the pairs of operations met in one request the order is read from, at most (a request of k operations has k²)
MAX_PAIRS = 4_000_000
#: a draft of more operations than this is refused: span names that hold ids (``GET /user/123``) name no operation
MAX_OPERATIONS = 1000


@dataclass
class Draft:
    """The drafted recipe (``document``, in the recipe format), and what it was read from."""

    document: dict[str, Any]
    traces: int
    spans: int
    edges_from: int  # the requests the order was read from (at most MAX_TRACES)
    notes: list[str] = field(default_factory=list)


def _text(col: pd.Series) -> pd.Series:
    return col.astype("object").where(col.notna(), "").astype(str)


def _ids(names: pd.Series, services: pd.Series) -> list[str]:
    """Operation ids: the span's name (``op_id``), ``name_service`` where two services share the name. A name
    that is an id already is its operation's first (``a_b`` stays ``a_b``, and ``a b`` is ``a_b_2``): the
    default rule matches a span by id or action, so no id may be another operation's span name."""
    shared = names.duplicated(keep=False).to_numpy()
    wanted = [op_id(f"{n}_{s}" if dup and s else n) for n, s, dup in
              zip(names.tolist(), services.tolist(), shared.tolist(), strict=True)]  # fmt: skip
    exact = [w == n for w, n in zip(wanted, names.tolist(), strict=True)]
    ids = UniqueIds()
    out = {i: ids.take(w) for i, w in enumerate(wanted) if exact[i]}
    out |= {i: ids.take(w) for i, w in enumerate(wanted) if not exact[i]}
    return [out[i] for i in range(len(wanted))]


def _chosen(calls: pd.DataFrame) -> np.ndarray:
    """The requests the order is read from: all, or by a stable hash of their ids, the first
    :data:`MAX_TRACES` whose pairs of operations (k² for k operations) add up to at most :data:`MAX_PAIRS`."""
    k = calls.groupby("request_id", sort=False).size()
    unique = k.index.to_numpy()
    if len(unique) <= MAX_TRACES and int((k.to_numpy() ** 2).sum()) <= MAX_PAIRS:
        return unique
    h = pd.util.hash_array(np.asarray(unique, dtype=object))  # pandas' fixed key: the same choice every run
    order = np.argsort(h, kind="stable")[:MAX_TRACES]
    fits = np.cumsum(k.to_numpy()[order].astype(np.int64) ** 2) <= MAX_PAIRS
    return unique[order[: max(int(fits.sum()), 1)]]


def _pairs(calls: pd.DataFrame) -> pd.DataFrame:
    """Per ordered pair of operations (``a``, ``b``) met in one request: the requests holding both
    (``both``) and those where every call of ``b`` started after every call of ``a`` ended (``before``)."""
    pairs = calls.merge(calls, on="request_id", suffixes=("_a", "_b"))
    pairs = pairs[pairs["key_a"] != pairs["key_b"]]
    # ends and starts are sums of floats: an end equal to the next start may come out an ulp past it
    slack = 4 * np.spacing(np.abs(pairs["start_b"].to_numpy()))
    before = pairs["end_a"].to_numpy() <= pairs["start_b"].to_numpy() + slack
    after = pairs["end_b"].to_numpy() <= pairs["start_a"].to_numpy() + slack  # both: at one instant, no order
    pairs = pairs.assign(before=before & ~after)
    return pairs.groupby(["key_a", "key_b"], sort=False).agg(both=("before", "size"), before=("before", "sum"))


def _nested(spans: pd.DataFrame) -> pd.Series:
    """Per pair (``a``, ``b``): the requests in which a span of ``b`` had a span of ``a`` as its parent."""
    if "span_id" not in spans or "parent_span_id" not in spans:
        return pd.Series(dtype=np.int64)
    child = spans.loc[spans["parent_span_id"].notna(), ["request_id", "parent_span_id", "key", "start"]]
    parent = spans.loc[spans["span_id"].notna(), ["request_id", "span_id", "key", "start", "end"]].drop_duplicates(
        ["request_id", "span_id"]
    )
    link = child.merge(parent, left_on=["request_id", "parent_span_id"], right_on=["request_id", "span_id"],
                       suffixes=("_b", "_a"))  # fmt: skip
    # a link the times deny (a child begun before its parent, or after it ended: a parent cycle the readers
    # broke, ids reused) says nothing of the order
    inside = (link["start_a"] <= link["start_b"]) & (link["start_b"] <= link["end"])
    link = link.loc[inside & (link["key_a"] != link["key_b"]), ["request_id", "key_a", "key_b"]].drop_duplicates()
    # a pair nested both ways in one request (a parent cycle, which the readers break) says no order
    back = link.rename(columns={"key_a": "key_b", "key_b": "key_a"})
    both = link.merge(back, on=["request_id", "key_a", "key_b"], how="left", indicator=True)["_merge"] == "both"
    return link[~both.to_numpy()].groupby(["key_a", "key_b"], sort=False).size()


def _edges(pairs: pd.DataFrame, nested: pd.Series) -> list[tuple[int, int]]:
    """The ``after`` edges (a, b): b after a. Strongest first, none that closes a cycle, reduced transitively."""
    if pairs.empty:
        return []
    table = pairs.assign(nested=nested.reindex(pairs.index, fill_value=0).to_numpy() if len(nested) else 0)
    share_n = table["nested"] / table["both"]
    share_o = table["before"] / table["both"]
    cand = pd.concat([
        pd.DataFrame({"share": share_n[share_n >= NESTED_SHARE], "kind": 0}),
        pd.DataFrame({"share": share_o[(share_o >= ORDER_SHARE) & (share_n < NESTED_SHARE)], "kind": 1}),
    ]).sort_values(["share", "kind"], ascending=[False, True], kind="stable")  # fmt: skip
    edges = [(int(a), int(b)) for a, b in cand.index.tolist()]
    g: nx.DiGraph = nx.DiGraph(edges)
    if not nx.is_directed_acyclic_graph(g):  # orders seen in different traces close a cycle: strongest first
        g = nx.DiGraph()
        for a, b in edges:  # a loop over pairs of operations, not over spans
            if not (g.has_node(a) and g.has_node(b) and nx.has_path(g, b, a)):
                g.add_edge(a, b)
    return _reduced(g)


def _reduced(g: nx.DiGraph) -> list[tuple[int, int]]:
    """The transitive reduction of the DAG ``g``: its edges that no longer path implies. What each node reaches
    is a row of booleans, built in reverse topological order (numpy rows, one pass per node), as networkx's
    reduction took 20 s for 1,000 operations run one after another."""
    nodes = list(nx.topological_sort(g))
    at = {v: i for i, v in enumerate(nodes)}
    n = len(nodes)
    reach = np.zeros((n, n), dtype=bool)
    kept: list[tuple[int, int]] = []
    for i in range(n - 1, -1, -1):  # a loop over operations
        succ = np.array([at[w] for w in g.successors(nodes[i])], dtype=np.int64)
        if not succ.size:
            continue
        via: np.ndarray = np.asarray(reach[succ].any(axis=0))  # reached through a successor: an edge to it is implied
        kept.extend((nodes[i], nodes[j]) for j in succ.tolist() if not via[j])
        reach[i] = via
        reach[i, succ] = True
    return kept


def draft_recipe(spans: pd.DataFrame, *, name: str, source: str = "") -> Draft:
    """The recipe the span table ``spans`` (read without a recipe) suggests; ``name`` its name.

    Raises :class:`~recipemut.errors.LogError` when the spans name more than :data:`MAX_OPERATIONS`
    operations."""
    if spans.empty:
        raise LogError("no span to draft a recipe from", file=source or None, code="no-spans")
    service, op = _text(spans["service"]), _text(spans["op"])
    key_frame = pd.DataFrame({"service": service, "op": op})
    key = key_frame.groupby(["service", "op"], sort=False).ngroup().to_numpy()
    ops = key_frame.drop_duplicates().reset_index(drop=True)  # in the order of ngroup (first seen)
    if len(ops) > MAX_OPERATIONS:
        top = op.value_counts().index[:3].tolist()
        raise LogError(
            f"the spans have {len(ops):,} distinct (service, name) pairs, more than the {MAX_OPERATIONS:,} a "
            f"drafted recipe takes: names that hold ids or paths ({', '.join(map(repr, top))}, ...) name no "
            "operation; write the recipe for the calls that matter and map span names to it with --map",
            file=source or None, code="too-many-operations",
        )  # fmt: skip
    start = spans["start_ms"].to_numpy(dtype=float)
    end = start + spans["latency_ms"].to_numpy(dtype=float)
    frame = pd.DataFrame({"request_id": spans["request_id"].to_numpy(), "key": key, "start": start, "end": end,
                          "latency": spans["latency_ms"].to_numpy(dtype=float)})  # fmt: skip
    for col in ("span_id", "parent_span_id"):
        if col in spans:
            frame[col] = spans[col].to_numpy()
    traces = int(frame["request_id"].nunique())
    calls = frame.groupby(["request_id", "key"], sort=False).agg(start=("start", "min"), end=("end", "max"),
                                                                  n=("start", "size"))  # fmt: skip
    calls = calls.reset_index()
    per_key = calls.groupby("key")["n"]  # every request's calls, before the order's share of them is chosen
    seen = per_key.size().reindex(range(len(ops)), fill_value=0).to_numpy()
    calls_each = per_key.median().reindex(range(len(ops)), fill_value=0).to_numpy()
    chosen = _chosen(calls)
    if len(chosen) < traces:
        part = frame[frame["request_id"].isin(chosen)]
        calls = calls[calls["request_id"].isin(chosen)]
    else:
        part = frame
    edges = _edges(_pairs(calls), _nested(part))

    # per operation: the traces it ran in, calls per trace, its whole span's median, and where it starts
    lat = frame.groupby("key")["latency"].median().reindex(range(len(ops))).to_numpy()
    first = frame.groupby("request_id")["start"].transform("min")
    offset = (frame["start"] - first).groupby(frame["key"]).median().reindex(range(len(ops))).to_numpy()

    g: nx.DiGraph = nx.DiGraph()
    g.add_nodes_from(range(len(ops)))
    g.add_edges_from(edges)
    order = list(nx.lexicographical_topological_sort(g, key=lambda k: (offset[k], k)))
    ids = _ids(ops["op"], ops["service"])
    place = {k: i for i, k in enumerate(order)}
    preds: dict[int, list[int]] = {k: sorted(g.predecessors(k), key=place.__getitem__) for k in order}
    operations: list[dict[str, Any]] = []
    for k in order:  # a loop over operations
        entry: dict[str, Any] = {
            "id": ids[k],
            "service": ops["service"][k] or "unknown",
            "action": ops["op"][k] or ids[k],
            "description": (
                f"seen in {int(seen[k]):,} of {counted(traces, 'trace')}, "
                f"{counted(float(calls_each[k]), 'call')} each, span p50 {ms_text(lat[k])}"
            ),
            "side_effects": "idempotent",
        }
        if preds[k]:
            entry["after"] = [ids[p] for p in preds[k]]
        operations.append(entry)
    document: dict[str, Any] = {
        "apiVersion": "recipemut/v1",
        "kind": "Recipe",
        "name": op_id(name),
        "version": 1,
        "description": f"Drafted from {counted(traces, 'trace')} ({counted(len(spans), 'span')}).",
        "operations": operations,
    }
    notes = []
    if len(chosen) < traces:
        notes.append(f"the order of the operations was read from {len(chosen):,} of the {traces:,} traces")
    return Draft(document, traces, len(spans), len(chosen), notes)


__all__ = ["MAX_OPERATIONS", "MAX_PAIRS", "MAX_TRACES", "NESTED_SHARE", "ORDER_SHARE", "Draft", "draft_recipe"]
