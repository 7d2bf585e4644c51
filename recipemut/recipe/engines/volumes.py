"""Storage several steps share (Argo volumes, Tekton workspaces) as fields of the recipe.

Steps that pass data through a shared volume state no parameter or result between them, yet the
later one needs what the earlier one wrote. An importer lists each step's :class:`Mount` (the
field prefix of the storage, e.g. ``volume.work`` or ``workspace.source``, and whether the step
writes it) and :func:`link` turns them into fields, following the order the engine states:

* A field has exactly one producer (``validate``: ``duplicate-producer``) and an operation never
  consumes what it produces, so the volume is a chain of **versions**: the writers of a volume
  (read-write mounts), in the DAG's topological order, produce ``<key>.1``, ``<key>.2``, ...
  (type ``bytes``).
* Every step that mounts the volume consumes the versions of its *nearest* writers: the writers
  that run before it (by the engine's ordering or data) with no other such writer after them. So
  a reader or a writer after a writer stays after it by a data edge (``parallelize`` may not drop
  it); two writers the engine runs side by side stay side by side; two readers after one writer
  consume the same version and may be parallelized (Bernstein: neither writes).
* A writer after a reader (the reader must finish before the volume changes under it) cannot be
  a data edge, since a reader writes nothing: the pair goes to ``constraints.keep_order``
  ``[reader, writer]``, which no mutation may break.
* A volume mounted by one step only is no field: nothing is shared.
* Sub-paths: two mounts of one volume share it when one's ``subPath`` holds the other's (a mount
  without ``subPath`` holds them all); mounts of ``src`` and ``cache`` do not. The parts of a
  volume that the same steps mount the same way are one field: ``<key>`` when the volume has one
  such part, else ``<key>.<subPath>`` of the part's first sub-path.

:func:`link` only turns orderings the engine states into data edges (a step reads the versions
of writers the engine already runs before it): it never orders two steps the engine runs side by
side, and when it cannot tell (a cycle) it adds nothing.

>>> from recipemut.recipe.engines.build import Step
>>> steps = [Step("w", "s", "W", ()), Step("r1", "s", "R1", (), after=[("w", ())]),
...          Step("r2", "s", "R2", (), after=[("r1", ())]), Step("clean", "s", "C", (), after=[("r2", ())])]
>>> link(steps, [Mount("w", "volume.v", True, ()), Mount("r1", "volume.v", False, ()),
...              Mount("r2", "volume.v", False, ()), Mount("clean", "volume.v", True, ())],
...      lambda name, at: name)
[('r1', 'clean'), ('r2', 'clean')]
>>> [(s.id, s.consumes, s.produces) for s in steps]  # doctest: +NORMALIZE_WHITESPACE
[('w', [], ['volume.v.1']), ('r1', ['volume.v.1'], []), ('r2', ['volume.v.1'], []),
 ('clean', ['volume.v.1'], ['volume.v.2'])]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx

from recipemut.recipe.engines.base import Imported
from recipemut.recipe.engines.build import Builder, Step
from recipemut.recipe.model import DocPath


@dataclass(frozen=True)
class Mount:
    """A step's use of shared storage: ``key`` its field prefix, ``writes`` read-write, ``at`` where stated."""

    step: str
    key: str
    writes: bool
    at: DocPath
    sub: str = ""  # the mount's subPath ("" the whole volume)


def _parts(sub: str) -> tuple[str, ...]:
    return tuple(p for p in sub.split("/") if p not in ("", "."))


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One sub-path holds the other (``()`` is the whole volume)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _fields(mounts: list[Mount]) -> dict[str, dict[str, Mount]]:
    """Field prefix -> the steps that mount that part of the storage (a read-write mount wins)."""
    by_key: dict[str, list[Mount]] = {}
    for m in mounts:
        by_key.setdefault(m.key, []).append(m)
    out: dict[str, dict[str, Mount]] = {}
    for key, ms in by_key.items():
        groups: dict[frozenset[tuple[str, bool]], tuple[tuple[str, ...], dict[str, Mount]]] = {}
        for region in sorted({_parts(m.sub) for m in ms}):
            users: dict[str, Mount] = {}
            for m in ms:
                if _overlap(_parts(m.sub), region) and (m.step not in users or (m.writes and not users[m.step].writes)):
                    users[m.step] = m
            if len(users) > 1:
                groups.setdefault(frozenset((n, u.writes) for n, u in users.items()), (region, users))
        for region, users in groups.values():
            name = _safe(key if len(groups) == 1 or not region else f"{key}.{'.'.join(region)}")
            while name in out:  # sub-paths "a.b" and "a/b"
                name += "_"
            out[name] = users
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _order(steps: list[Step]) -> nx.DiGraph | None:
    """The steps' DAG (ordering and data edges), or None when it has a cycle (``validate`` reports it)."""
    g = nx.DiGraph()
    g.add_nodes_from(s.id for s in steps)
    producer = {f: s.id for s in steps for f in s.produces}
    for s in steps:
        g.add_edges_from((d, s.id) for d, _ in s.after if d in g and d != s.id)
        g.add_edges_from((producer[f], s.id) for f in s.consumes if f in producer and producer[f] != s.id)
    return g if nx.is_directed_acyclic_graph(g) else None


def link(steps: list[Step], mounts: list[Mount], declare: Callable[[str, DocPath], str]) -> list[tuple[str, str]]:
    """Add the volumes' version fields to the steps' consumes/produces; return the ``keep_order`` pairs.

    ``declare(name, at)`` declares a ``bytes`` field where the mount that writes it is stated.
    """
    by_key = _fields(mounts)
    if not by_key:
        return []
    g = _order(steps)
    if g is None:
        return []
    index = {s.id: i for i, s in enumerate(steps)}
    topo = list(nx.lexicographical_topological_sort(g, key=index.__getitem__))
    anc = {n: nx.ancestors(g, n) for n in {n for u in by_key.values() for n in u}}
    step_of = {s.id: s for s in steps}
    pairs: list[tuple[str, str]] = []
    for key, users in by_key.items():
        ordered = [n for n in topo if n in users]
        writers = [n for n in ordered if users[n].writes]
        version = {w: declare(f"{key}.{k}", users[w].at) for k, w in enumerate(writers, 1)}
        for n in ordered:
            before = [w for w in writers if w in anc[n]]
            nearest = [w for w in before if not any(w in anc[w2] for w2 in before)]
            step_of[n].consumes.extend(version[w] for w in nearest)
            if n in version:
                step_of[n].produces.append(version[n])
                covered = set().union(*(anc[w] for w in before))
                pairs.extend((r, n) for r in ordered if r in anc[n] and not users[r].writes and r not in covered)
    return list(dict.fromkeys(pairs))


def keep_order(imported: Imported, pairs: list[tuple[str, str]], b: Builder) -> None:
    """Add the pairs :func:`link` returned to the document's ``constraints.keep_order``, at the writers' lines."""
    if not pairs:
        return
    constraints = imported.document.setdefault("constraints", {})
    kept = constraints.setdefault("keep_order", [])
    path_of = {s.id: s.path for s in b.steps}
    positions = dict(imported.positions)
    for reader, writer in pairs:
        at = b.pos(path_of[writer])
        if at is not None:
            positions[("constraints", "keep_order", len(kept))] = at
            positions.setdefault(("constraints", "keep_order"), at)
            positions.setdefault(("constraints",), at)
        kept.append([reader, writer])
    imported.positions = positions


__all__ = ["Mount", "keep_order", "link"]
