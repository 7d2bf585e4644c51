"""The recipe model: immutable values and the DAG compiled from them.

A :class:`Recipe` is built from plain data (the parsed YAML) by :func:`recipe_from_dict`, and turned
back into plain data by :func:`recipe_to_dict`. Mutations never change a recipe: they build a new
one (``dataclasses.replace`` or a round trip through plain data).

The DAG has one node per operation id. An edge ``a -> b`` exists when ``b`` consumes a field that
``a`` produces (``kind="data"``, ``fields`` lists them) or ``a`` is in ``b.after``
(``kind="after"``); when both hold, ``kind="both"``.

>>> r = recipe_from_dict({
...     "apiVersion": "recipemut/v1", "kind": "Recipe", "name": "demo", "version": 1,
...     "fields": {"a": {"type": "string"}, "b": {"type": "string"}},
...     "inputs": ["a"], "outputs": ["b"],
...     "operations": [{"id": "f", "service": "s", "action": "F", "consumes": ["a"], "produces": ["b"]}],
... })
>>> r.topo_order
('f',)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import networkx as nx

API_VERSION = "recipemut/v1"
SIDE_EFFECTS = ("none", "idempotent", "external")

#: A path into the recipe document, e.g. ``("operations", 3, "consumes", 0)``.
DocPath = tuple[str | int, ...]
#: Where each document path starts in the file: path -> (line, column), both 1-based.
Positions = Mapping[DocPath, tuple[int, int]]


@dataclass(frozen=True)
class FieldSpec:
    """A typed field of the per-request sheet."""

    name: str
    type: str
    format: str | None = None
    compression: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class CacheSpec:
    """A cache in front of an operation: key = its consumed fields."""

    ttl_s: float
    max_entries: int
    hit_latency_ms: float = 1.0


@dataclass(frozen=True)
class HedgeSpec:
    """Send a duplicate request after ``after_ms`` if no answer yet, at most ``max_extra`` extra."""

    after_ms: float
    max_extra: int = 1


@dataclass(frozen=True)
class RetrySpec:
    """A failed call is tried again, up to ``max_attempts`` attempts in all (each attempt is its own span)."""

    max_attempts: int = 1


@dataclass(frozen=True)
class Expected:
    """A prior for an operation never observed in logs (catalogue alternatives)."""

    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    cost_per_call_usd: float | None = None


@dataclass(frozen=True)
class Operation:
    """One service operation of the recipe (or a catalogue alternative)."""

    id: str
    service: str
    action: str
    consumes: tuple[str, ...] = ()
    produces: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    equivalence: str | None = None
    deterministic: bool = False
    side_effects: str = "none"  # none | idempotent | external
    may_halt: bool = False
    cost_per_call_usd: float | None = None
    cache: CacheSpec | None = None
    hedge: HedgeSpec | None = None
    substituted_from: str | None = None
    expected: Expected | None = None
    description: str | None = None
    # fan-out, retries and branches: the defaults are "one call per request, one attempt, always runs"
    foreach: str | None = None  # one call per item of this consumed list field
    concurrency: int = 1  # calls of one request in flight at once (with foreach)
    batch_size: int = 1  # items per call (with foreach)
    max_batch: int | None = None  # the most items one call of this action takes (a batched form)
    retry: RetrySpec | None = None  # attempts per call
    dedupe: bool = False  # identical items of one request are fetched once (with foreach)
    when: str | None = None  # a branch: runs on some requests only

    @property
    def max_attempts(self) -> int:
        """Attempts per call at most (1 without ``retry``)."""
        return self.retry.max_attempts if self.retry is not None else 1

    @property
    def fans_out(self) -> bool:
        """Whether one request calls this operation once per item of a list field."""
        return self.foreach is not None


@dataclass(frozen=True)
class Service:
    """Capacity of one service."""

    name: str
    replicas: int = 1
    concurrency_per_replica: int = 1
    target_utilization: float = 0.7

    @property
    def capacity(self) -> int:
        """Concurrent requests the service can hold at 100% utilisation."""
        return self.replicas * self.concurrency_per_replica


@dataclass(frozen=True)
class Constraints:
    """What no mutation may break."""

    latency_p95_ms: float | None = None
    max_cost_per_request_usd: float | None = None
    frozen: tuple[str, ...] = ()
    keep_order: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Variant:
    """A canary traffic split: a named variant of the recipe receiving ``share`` of requests."""

    name: str
    share: float
    recipe: Mapping[str, Any]  # the variant's full recipe document (plain data)


@dataclass(frozen=True)
class Recipe:
    """An immutable, structurally valid recipe. Semantic validity is checked by ``validate``."""

    name: str
    version: int
    fields: Mapping[str, FieldSpec]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    operations: tuple[Operation, ...]
    services: Mapping[str, Service] = field(default_factory=lambda: MappingProxyType({}))
    alternatives: tuple[Operation, ...] = ()
    constraints: Constraints = field(default_factory=Constraints)
    variants: tuple[Variant, ...] = ()
    formats: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: MappingProxyType({})
    )  # overrides of the data-pipeline format table
    api_version: str = API_VERSION
    kind: str = "Recipe"
    source: str | None = None  # file it was loaded from (for messages)
    positions: Positions = field(default_factory=lambda: MappingProxyType({}), compare=False)
    #: the :class:`~recipemut.recipe.engines.base.Imported` it was read from, when ``source`` is a
    #: workflow engine's file (Argo, Tekton, ...): engine, anchors for write-back; else ``None``
    imported: Any = field(default=None, compare=False, repr=False)

    # ---- lookups -------------------------------------------------------------------------
    @cached_property
    def ops(self) -> Mapping[str, Operation]:
        """Operations by id (first wins when ids are duplicated; validation reports that)."""
        out: dict[str, Operation] = {}
        for op in self.operations:
            out.setdefault(op.id, op)
        return MappingProxyType(out)

    @cached_property
    def producers(self) -> Mapping[str, str]:
        """Field name -> id of the (first) operation producing it."""
        out: dict[str, str] = {}
        for op in self.operations:
            for f in op.produces:
                out.setdefault(f, op.id)
        return MappingProxyType(out)

    @cached_property
    def dag(self) -> nx.DiGraph:
        """The compiled DAG (may contain a cycle if the recipe is invalid)."""
        return build_dag(self.operations)

    @cached_property
    def topo_order(self) -> tuple[str, ...]:
        """Operation ids in a deterministic topological order (lexicographic tie-break).

        Raises ``networkx.NetworkXUnfeasible`` on a cycle; validate first.
        """
        index = {op.id: i for i, op in enumerate(self.operations)}
        return tuple(nx.lexicographical_topological_sort(self.dag, key=lambda n: index.get(n, 0)))

    def position(self, *path: str | int) -> tuple[int | None, int | None]:
        """(line, column) of a document path, falling back to the nearest known ancestor."""
        p: DocPath = tuple(path)
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return (None, None)
            p = p[:-1]

    def op_index(self, op_id: str) -> int:
        """Index of an operation in ``operations`` (document order)."""
        for i, op in enumerate(self.operations):
            if op.id == op_id:
                return i
        raise KeyError(op_id)


def build_dag(operations: Sequence[Operation]) -> nx.DiGraph:
    """Compile operations into a DiGraph of data edges plus ``after`` edges.

    >>> ops = [Operation("a", "s", "A", produces=("x",)),
    ...        Operation("b", "s", "B", consumes=("x",), after=("a",))]
    >>> g = build_dag(ops)
    >>> g.edges["a", "b"]["kind"], sorted(g.edges["a", "b"]["fields"])
    ('both', ['x'])
    """
    g = nx.DiGraph()
    producers: dict[str, str] = {}
    for op in operations:
        g.add_node(op.id)
        for f in op.produces:
            producers.setdefault(f, op.id)
    for op in operations:
        for f in op.consumes:
            src = producers.get(f)
            if src is None or src == op.id:
                continue
            if g.has_edge(src, op.id):
                g.edges[src, op.id]["fields"].add(f)
            else:
                g.add_edge(src, op.id, kind="data", fields={f})
        for dep in op.after:
            if dep not in g or dep == op.id:
                continue
            if g.has_edge(dep, op.id):
                if g.edges[dep, op.id]["kind"] == "data":
                    g.edges[dep, op.id]["kind"] = "both"
            else:
                g.add_edge(dep, op.id, kind="after", fields=set())
    return g


# ---- plain data <-> model -------------------------------------------------------------------


def _tuple(v: Iterable[Any] | None) -> tuple[Any, ...]:
    return tuple(v) if v is not None else ()


def _op_from_dict(d: Mapping[str, Any]) -> Operation:
    cache = d.get("cache")
    hedge = d.get("hedge")
    retry = d.get("retry")
    exp = d.get("expected")
    lat = (exp or {}).get("latency_ms") or {}
    return Operation(
        id=str(d["id"]),
        service=str(d.get("service", "")),
        action=str(d.get("action", "")),
        consumes=_tuple(d.get("consumes")),
        produces=_tuple(d.get("produces")),
        after=_tuple(d.get("after")),
        equivalence=d.get("equivalence"),
        deterministic=bool(d.get("deterministic", False)),
        side_effects=str(d.get("side_effects", "none")),
        may_halt=bool(d.get("may_halt", False)),
        cost_per_call_usd=d.get("cost_per_call_usd"),
        cache=CacheSpec(
            ttl_s=float(cache["ttl_s"]),
            max_entries=int(cache["max_entries"]),
            hit_latency_ms=float(cache.get("hit_latency_ms", 1.0)),
        )
        if cache
        else None,
        hedge=HedgeSpec(after_ms=float(hedge["after_ms"]), max_extra=int(hedge.get("max_extra", 1)))
        if hedge
        else None,
        substituted_from=d.get("substituted_from"),
        expected=Expected(
            latency_p50_ms=lat.get("p50"),
            latency_p95_ms=lat.get("p95"),
            cost_per_call_usd=exp.get("cost_per_call_usd"),
        )
        if exp
        else None,
        description=d.get("description"),
        foreach=d.get("foreach"),
        concurrency=int(d.get("concurrency", 1)),
        batch_size=int(d.get("batch_size", 1)),
        max_batch=int(d["max_batch"]) if d.get("max_batch") is not None else None,
        retry=RetrySpec(max_attempts=int(retry.get("max_attempts", 1))) if retry is not None else None,
        dedupe=bool(d.get("dedupe", False)),
        when=d.get("when"),
    )


def recipe_from_dict(
    data: Mapping[str, Any], *, source: str | None = None, positions: Positions | None = None
) -> Recipe:
    """Build a :class:`Recipe` from plain data that already passed the JSON Schema."""
    fields = {
        str(name): FieldSpec(
            name=str(name),
            type=str((spec or {}).get("type", "string")),
            format=(spec or {}).get("format"),
            compression=(spec or {}).get("compression"),
            description=(spec or {}).get("description"),
        )
        for name, spec in (data.get("fields") or {}).items()
    }
    services = {
        str(name): Service(
            name=str(name),
            replicas=int((spec or {}).get("replicas", 1)),
            concurrency_per_replica=int((spec or {}).get("concurrency_per_replica", 1)),
            target_utilization=float((spec or {}).get("target_utilization", 0.7)),
        )
        for name, spec in (data.get("services") or {}).items()
    }
    c = data.get("constraints") or {}
    constraints = Constraints(
        latency_p95_ms=(c.get("slo") or {}).get("latency_p95_ms"),
        max_cost_per_request_usd=c.get("max_cost_per_request_usd"),
        frozen=_tuple(c.get("frozen")),
        keep_order=tuple(tuple(pair) for pair in (c.get("keep_order") or ())),
    )
    variants = tuple(
        Variant(name=str(v["name"]), share=float(v["share"]), recipe=v.get("recipe") or {})
        for v in (data.get("variants") or ())
    )
    return Recipe(
        name=str(data.get("name", "")),
        version=int(data.get("version", 1)),
        fields=MappingProxyType(fields),
        inputs=_tuple(data.get("inputs")),
        outputs=_tuple(data.get("outputs")),
        operations=tuple(_op_from_dict(o) for o in (data.get("operations") or ())),
        services=MappingProxyType(services),
        alternatives=tuple(_op_from_dict(o) for o in (data.get("alternatives") or ())),
        constraints=constraints,
        variants=variants,
        formats=MappingProxyType(dict(data.get("formats") or {})),
        api_version=str(data.get("apiVersion", API_VERSION)),
        kind=str(data.get("kind", "Recipe")),
        source=source,
        positions=MappingProxyType(dict(positions or {})),
    )


def op_to_dict(op: Operation) -> dict[str, Any]:
    d: dict[str, Any] = {"id": op.id, "service": op.service, "action": op.action}
    if op.description:
        d["description"] = op.description
    d["consumes"] = list(op.consumes)
    d["produces"] = list(op.produces)
    if op.after:
        d["after"] = list(op.after)
    if op.equivalence is not None:
        d["equivalence"] = op.equivalence
    if op.deterministic:
        d["deterministic"] = True
    if op.side_effects != "none":
        d["side_effects"] = op.side_effects
    if op.may_halt:
        d["may_halt"] = True
    if op.when is not None:
        d["when"] = op.when
    if op.foreach is not None:
        d["foreach"] = op.foreach
    if op.batch_size != 1:
        d["batch_size"] = op.batch_size
    if op.concurrency != 1:
        d["concurrency"] = op.concurrency
    if op.dedupe:
        d["dedupe"] = True
    if op.retry is not None:
        d["retry"] = {"max_attempts": op.retry.max_attempts}
    if op.max_batch is not None:
        d["max_batch"] = op.max_batch
    if op.cost_per_call_usd is not None:
        d["cost_per_call_usd"] = op.cost_per_call_usd
    if op.cache is not None:
        d["cache"] = {
            "ttl_s": op.cache.ttl_s,
            "max_entries": op.cache.max_entries,
            "hit_latency_ms": op.cache.hit_latency_ms,
        }
    if op.hedge is not None:
        d["hedge"] = {"after_ms": op.hedge.after_ms, "max_extra": op.hedge.max_extra}
    if op.substituted_from is not None:
        d["substituted_from"] = op.substituted_from
    if op.expected is not None:
        e = op.expected
        exp: dict[str, Any] = {}
        lat = {k: v for k, v in (("p50", e.latency_p50_ms), ("p95", e.latency_p95_ms)) if v is not None}
        if lat:
            exp["latency_ms"] = lat
        if e.cost_per_call_usd is not None:
            exp["cost_per_call_usd"] = e.cost_per_call_usd
        d["expected"] = exp
    return d


def recipe_to_dict(r: Recipe) -> dict[str, Any]:
    """Plain data for a recipe (the inverse of :func:`recipe_from_dict`, modulo defaults)."""
    d: dict[str, Any] = {
        "apiVersion": r.api_version,
        "kind": r.kind,
        "name": r.name,
        "version": r.version,
        "fields": {
            f.name: {
                k: v
                for k, v in (
                    ("type", f.type),
                    ("format", f.format),
                    ("compression", f.compression),
                    ("description", f.description),
                )
                if v is not None
            }
            for f in r.fields.values()
        },
        "inputs": list(r.inputs),
        "outputs": list(r.outputs),
        "operations": [op_to_dict(op) for op in r.operations],
    }
    if r.services:
        d["services"] = {
            s.name: {
                "replicas": s.replicas,
                "concurrency_per_replica": s.concurrency_per_replica,
                "target_utilization": s.target_utilization,
            }
            for s in r.services.values()
        }
    if r.alternatives:
        d["alternatives"] = [op_to_dict(a) for a in r.alternatives]
    c = r.constraints
    cd: dict[str, Any] = {}
    if c.latency_p95_ms is not None:
        cd["slo"] = {"latency_p95_ms": c.latency_p95_ms}
    if c.max_cost_per_request_usd is not None:
        cd["max_cost_per_request_usd"] = c.max_cost_per_request_usd
    if c.frozen:
        cd["frozen"] = list(c.frozen)
    if c.keep_order:
        cd["keep_order"] = [list(p) for p in c.keep_order]
    if cd:
        d["constraints"] = cd
    if r.formats:
        d["formats"] = {k: dict(v) for k, v in r.formats.items()}
    if r.variants:
        d["variants"] = [{"name": v.name, "share": v.share, "recipe": dict(v.recipe)} for v in r.variants]
    return d
