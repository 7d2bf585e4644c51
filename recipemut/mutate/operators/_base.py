"""What every operator shares: its input (:class:`OperatorContext`), its registry entry
(:class:`OperatorSpec`) and small helpers to build minimal, id-addressed edits."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import networkx as nx

from recipemut.mutate.mutation import EditForm, Mutation, has_aliases, mutate
from recipemut.predict import cachesim, hedgemodel
from recipemut.predict.bytesmodel import BytesFit
from recipemut.predict.bytesmodel import fit as fit_bytes
from recipemut.profile.build import Profile
from recipemut.recipe.constraints import control_dependency_violations, frozen_violations, keep_order_violations
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Recipe, recipe_to_dict

#: Options every operator understands, with their defaults (``OperatorContext.options`` overrides).
DEFAULT_OPTIONS: Mapping[str, Any] = MappingProxyType(
    {
        "cache_ttls_s": cachesim.DEFAULT_TTLS_S,
        "cache_max_entries": 100_000,
        "cache_min_hit_rate": 0.05,
        "cache_hit_latency_ms": 1.0,
        "hedge_tail_ratio": hedgemodel.HEAVY_TAIL_RATIO,
        "hedge_min_p99_gain": 0.1,
        "hedge_quantiles": hedgemodel.DEFAULT_QUANTILES,
        "hedge_max_extra_rate": hedgemodel.MAX_EXTRA_RATE,
        "hedge_min_calls": hedgemodel.MIN_CALLS,
        "datapipe_min_saving_ms": 1.0,
        "reorder_shrink_ratio": 0.5,
        "reorder_shrink_min_bytes": 1024.0,
        "fanout_max_concurrency": 16,
        "fanout_tolerance": 0.05,
        "fanout_min_gain_ms": 1.0,
        "batch_quantile": 0.95,
        "dedupe_min_saved_share": 0.02,
        "seed": 0,
    }
)


@dataclass(frozen=True)
class OperatorContext:
    """Everything an operator may look at. Immutable; build it with :meth:`build`.

    ``doc`` is the recipe document the edits address (plain data: the loaded file's document when
    the caller has it, so edits match the user's file, else ``recipe_to_dict(recipe)``).
    ``deadline``, when given, says whether the time to generate candidates has run out: it is asked
    before each operation an operator assesses (:func:`assessed`) and before each operator
    (:func:`~recipemut.mutate.operators.generate_all`); once it says yes, nothing more is assessed,
    the candidates and reasons found so far stand, and :attr:`cut` is true.
    """

    recipe: Recipe
    doc: Mapping[str, Any]
    profile: Profile | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: per-operation assessments already made on this context (see :func:`assessed`), so that an
    #: operator's candidates and its reasons for proposing nothing come from one pass
    memo: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, repr=False)
    deadline: Callable[[], bool] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        recipe: Recipe,
        *,
        doc: Mapping[str, Any] | None = None,
        profile: Profile | None = None,
        options: Mapping[str, Any] | None = None,
        deadline: Callable[[], bool] | None = None,
    ) -> OperatorContext:
        return cls(
            recipe=recipe,
            doc=doc if doc is not None else recipe_to_dict(recipe),
            profile=profile,
            options=MappingProxyType(dict(options or {})),
            deadline=deadline,
        )

    def expired(self) -> bool:
        """Whether the deadline has passed (never without one); once it has, :attr:`cut` is true."""
        if _CUT in self.memo:
            return True
        if self.deadline is None or not self.deadline():
            return False
        self.memo[_CUT] = True
        return True

    @property
    def cut(self) -> bool:
        """Whether the deadline stopped the generation of candidates on this context (some operations
        or operators were not asked; the candidates and reasons found before it stand)."""
        return _CUT in self.memo

    def option(self, name: str) -> Any:
        """An option's value (the caller's, else the default in :data:`DEFAULT_OPTIONS`)."""
        return self.options.get(name, DEFAULT_OPTIONS[name])

    @cached_property
    def bytes_fits(self) -> Mapping[str, BytesFit]:
        """Latency-vs-bytes fits of the profile (empty without a profile); computed once."""
        return MappingProxyType(fit_bytes(self.profile) if self.profile is not None else {})

    @cached_property
    def frozen(self) -> frozenset[str]:
        return frozenset(self.recipe.constraints.frozen)

    @cached_property
    def ordered(self) -> frozenset[str]:
        """Operations named in a ``keep_order`` pair."""
        return frozenset(x for pair in self.recipe.constraints.keep_order for x in pair)

    @cached_property
    def topo_index(self) -> Mapping[str, int]:
        """Each operation's place in the recipe's topological order."""
        return MappingProxyType({op_id: i for i, op_id in enumerate(self.recipe.topo_order)})

    @cached_property
    def guards(self) -> frozenset[str]:
        """Operations that may halt the request (``may_halt``)."""
        return frozenset(op.id for op in self.recipe.operations if op.may_halt)

    @cached_property
    def _doc_ops(self) -> Mapping[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        for item in self.doc.get("operations") or ():
            if isinstance(item, Mapping):
                out.setdefault(item.get("id"), item)  # type: ignore[arg-type]
        return out

    def doc_op(self, op_id: str) -> Mapping[str, Any]:
        """The document mapping of an operation by id (:func:`doc_op`, indexed once per context)."""
        try:
            return self._doc_ops[op_id]
        except KeyError:
            raise KeyError(op_id) from None

    @cached_property
    def aliased(self) -> bool:
        """Whether the document reaches one mapping or list twice (a YAML alias): its mutations are
        then built on a deep copy (:func:`~recipemut.mutate.mutation.mutate`)."""
        return has_aliases(self.doc)

    @cached_property
    def unconstrained(self) -> bool:
        """Whether the recipe has no ``frozen`` operation, no ``keep_order`` pair and no guard
        (``may_halt``): then no candidate can break an ordering constraint (:func:`mutation_ordering_problems`)."""
        c = self.recipe.constraints
        return not (c.frozen or c.keep_order or self.guards)

    def observed(self, op_id: str) -> bool:
        """Whether the profile has calls of this operation."""
        return self.profile is not None and op_id in self.profile.op_ids


@dataclass(frozen=True)
class OperatorSpec:
    """A registry entry: the name the CLI shows, a one-line help, the generator, and the forms of the
    edits it makes (what a plan's mutation of this operator may hold)."""

    name: str
    summary: str
    generate: Callable[[OperatorContext], list[Mutation]]
    needs_profile: bool = False
    edits: tuple[EditForm, ...] = ()
    #: why the operator proposes nothing for some targets: ``{target: reason}`` (None: it never says)
    why_not: Callable[[OperatorContext], Mapping[str, str]] | None = None


@dataclass(frozen=True)
class NotProposed:
    """Why an operator proposes nothing for one target (an operation or a field), in a sentence."""

    operator: str
    target: str
    reason: str

    def sentence(self) -> str:
        """``fanout: get_driver: no foreach (...)``."""
        return f"{self.operator}: {self.target}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"operator": self.operator, "target": self.target, "reason": self.reason}


# ---- helpers ------------------------------------------------------------------------------------


def make_mutation(
    ctx: OperatorContext, operator: str, key: str, targets: Sequence[str], description: str, edits: Iterable[Edit]
) -> Mutation:
    """A :class:`Mutation` with id ``operator:key``, whose mutated recipe is built from the edits when
    first asked for (:class:`~recipemut.mutate.mutation.Mutation`)."""
    es = tuple(edits)
    doc, source, aliased = ctx.doc, ctx.recipe.source, ctx.aliased
    return Mutation(
        id=f"{operator}:{key}",
        operator=operator,
        targets=tuple(targets),
        description=description,
        edits=es,
        build=lambda: mutate(doc, es, source=source, aliased=aliased),
    )


def set_on_operation(ctx: OperatorContext, operator: str, op_id: str, key: str, value: Any, reason: str) -> Mutation:
    """The mutation ``operator:op_id`` that sets ``key`` of operation ``op_id`` to ``value``; ``reason`` is its
    description, a sentence without its full stop."""
    return make_mutation(ctx, operator, op_id, (op_id,), reason + ".", [Edit("set", ("operations", op_id, key), value)])


def doc_op(doc: Mapping[str, Any], op_id: str, section: str = "operations") -> Mapping[str, Any]:
    """The document mapping of an operation (or alternative) by id."""
    for item in doc.get(section) or ():
        if isinstance(item, Mapping) and item.get("id") == op_id:
            return item
    raise KeyError(op_id)


class DagView:
    """A recipe's DAG as a candidate leaves it, without copying it: ``g`` less the node ``gone`` and
    the edges ``cut``, plus the edges added since (:meth:`add_edge`). Copying a 500-operation DAG
    for each of its 1,000 candidates was most of the time ``suggest`` took to generate them.

    >>> g = nx.DiGraph([("a", "b"), ("b", "c")])
    >>> v = DagView(g, cut=[("b", "c")])
    >>> v.has_path("a", "c"), v.has_path("a", "b")
    (False, True)
    >>> v.add_edge("a", "c")
    >>> v.has_path("a", "c"), DagView(g, gone="b").has_path("a", "c")
    (True, False)
    """

    def __init__(self, g: nx.DiGraph, *, gone: str | None = None, cut: Iterable[tuple[str, str]] = ()) -> None:
        self.g, self.gone, self.cut = g, gone, frozenset(cut)
        self._succ: dict[str, list[str]] = {}
        self._pred: dict[str, list[str]] = {}

    def __contains__(self, node: object) -> bool:
        return node in self.g and node != self.gone

    def add_edge(self, u: str, v: str) -> None:
        self._succ.setdefault(u, []).append(v)
        self._pred.setdefault(v, []).append(u)

    def _next(self, u: str) -> Iterable[str]:
        for v in self.g.successors(u):
            if v != self.gone and (u, v) not in self.cut:
                yield v
        yield from self._succ.get(u, ())

    def _prev(self, v: str) -> Iterable[str]:
        for u in self.g.predecessors(v):
            if u != self.gone and (u, v) not in self.cut:
                yield u
        yield from self._pred.get(v, ())

    def has_path(self, source: str, target: str) -> bool:
        """Whether ``target`` can be reached from ``source`` (``networkx.has_path``'s answer and errors:
        a search from both ends, so a short path is found without walking the whole DAG)."""
        for node in (source, target):
            if node not in self:
                raise nx.NodeNotFound(f"Either source {source} or target {target} is not in G")
        if source == target:
            return True
        ahead, behind = {source}, {target}
        front, back = [source], [target]
        while front and back:
            grow_front = len(front) <= len(back)
            step, seen, other = (self._next, ahead, behind) if grow_front else (self._prev, behind, ahead)
            layer: list[str] = []
            for u in front if grow_front else back:
                for v in step(u):
                    if v in other:
                        return True
                    if v not in seen:
                        seen.add(v)
                        layer.append(v)
            if grow_front:
                front = layer
            else:
                back = layer
        return False


def rewire_after(
    ctx: OperatorContext, g: DagView, op_id: str, drop: Sequence[str], inherit: Iterable[str]
) -> list[Edit]:
    """Edits on ``op_id``'s ``after`` list in ``ctx.doc``: remove ``drop`` and append each of ``inherit``
    that would not otherwise precede ``op_id`` once the dropped edges are gone (``g`` is that graph;
    the edges appended are added to it).

    Removals address the dropped name itself, not its index, so they stay right when another
    mutation's edits changed the list first (``apply --only`` applies a subset of a plan). When the
    list ends up empty the ``after`` key is pruned: no ``after: []`` is left behind, yet the key stays
    when ``apply --only`` left out another mutation that removed the list's other names.
    """
    current = list(ctx.doc_op(op_id).get("after") or ())
    edits = [Edit("remove", ("operations", op_id, "after", d)) for d in drop if d in current]
    kept = [d for d in current if d not in drop]
    for p in inherit:
        if p == op_id or p in kept or g.has_path(p, op_id):
            continue
        edits.append(Edit("append", ("operations", op_id, "after"), p))
        kept.append(p)
        g.add_edge(p, op_id)
    if edits and not kept:
        edits.append(Edit("prune", ("operations", op_id, "after")))
    return edits


def kept_guards(recipe: Recipe, via: str, succ: str, *, guards: Collection[str]) -> list[str]:
    """Guards (``may_halt``) before ``via`` that ``succ`` must keep waiting for when its wait on ``via``
    goes: control dependencies, so only when ``succ`` or anything after it has side effects.
    ``guards`` are the recipe's (:attr:`OperatorContext.guards`): a recipe without any is spared the
    walk of the DAG.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> r = recipe_from_dict({"fields": {"i": {}, "ok": {}, "x": {}, "y": {}}, "inputs": ["i"], "outputs": ["y"],
    ...     "operations": [{"id": "g", "service": "s", "action": "G", "consumes": ["i"], "produces": ["ok"],
    ...                     "may_halt": True},
    ...                    {"id": "a", "service": "s", "action": "A", "consumes": ["ok"], "produces": ["x"]},
    ...                    {"id": "b", "service": "s", "action": "B", "consumes": ["i"], "produces": ["y"],
    ...                     "after": ["a"], "side_effects": "idempotent"}]})
    >>> kept_guards(r, "a", "b", guards=("g",)), kept_guards(r, "a", "b", guards=())
    (['g'], [])
    """
    if not guards:
        return []
    g = recipe.dag
    if all(recipe.ops[x].side_effects == "none" for x in (succ, *nx.descendants(g, succ))):
        return []
    before = nx.ancestors(g, via)
    return [p for p in recipe.topo_order if p in before and recipe.ops[p].may_halt]


def mutation_ordering_problems(ctx: OperatorContext, m: Mutation) -> list[str]:
    """``frozen``, ``keep_order`` and guard control-dependency violations of a candidate (operators
    respect all three). A recipe without any of the three has none, and its candidate's recipe is
    not built to say so (:attr:`OperatorContext.unconstrained`)."""
    if ctx.unconstrained:
        return []
    original, mutated = ctx.recipe, m.recipe
    return (
        frozen_violations(original, mutated)
        + keep_order_violations(original, mutated)
        + control_dependency_violations(original, mutated)
    )


def keep_if_ordered(ctx: OperatorContext, m: Mutation, out: list[Mutation], kept: list[str], refusal: str) -> None:
    """Add the candidate ``m`` to ``out``; when it breaks a ``frozen``, ``keep_order`` or guard
    constraint (:func:`mutation_ordering_problems`), add ``"<refusal> (<problems>)"`` to ``kept`` instead."""
    ordering = mutation_ordering_problems(ctx, m)
    if ordering:
        kept.append(f"{refusal} ({'; '.join(ordering)})")
    else:
        out.append(m)


def fmt_fields(names: Iterable[str]) -> str:
    """``[a, b]`` for a sentence (``[]`` when empty)."""
    return "[" + ", ".join(names) + "]"


_CUT = "deadline passed"  # the memo's mark: generation on this context stopped at its deadline

#: what an operator's per-operation assessment gives: its candidate(s), why there is none, or nothing to say
Assessment = Mutation | Sequence[Mutation] | str | None


def assessed(
    ctx: OperatorContext, assess: Callable[[OperatorContext, str], Assessment]
) -> tuple[list[Mutation], dict[str, str]]:
    """``assess`` run once per operation (in topological order) on ``ctx``: the candidates, and the reasons.

    The result is kept on the context, so an operator's ``generate`` and ``why_not`` share one pass.
    Once the context's deadline has passed (:meth:`OperatorContext.expired`), the operations left are
    not assessed: what was found before stands.
    """
    if assess not in ctx.memo:
        found: list[Mutation] = []
        reasons: dict[str, str] = {}
        for op_id in ctx.recipe.topo_order:
            if ctx.expired():
                break
            got = assess(ctx, op_id)
            if isinstance(got, str):
                reasons[op_id] = got
            elif isinstance(got, Mutation):
                found.append(got)
            elif got is not None:
                found.extend(got)
        ctx.memo[assess] = (found, reasons)
    found, reasons = ctx.memo[assess]
    return list(found), dict(reasons)



def assessing(
    assess: Callable[[OperatorContext, str], Assessment], *, needs_profile: bool, generate: str, why_not: str
) -> tuple[Callable[[OperatorContext], list[Mutation]], Callable[[OperatorContext], Mapping[str, str]]]:
    """An operator's ``generate`` and ``why_not``, both read off one :func:`assessed` pass of ``assess``.

    ``generate`` and ``why_not`` are their docstrings. With ``needs_profile``, ``generate`` proposes nothing
    without a profile (``why_not`` is not asked then: :func:`~recipemut.mutate.operators.not_proposed` skips it).
    """

    def generate_(ctx: OperatorContext) -> list[Mutation]:
        if needs_profile and ctx.profile is None:
            return []
        return assessed(ctx, assess)[0]

    def why_not_(ctx: OperatorContext) -> Mapping[str, str]:
        return assessed(ctx, assess)[1]

    generate_.__doc__, why_not_.__doc__ = generate, why_not
    return generate_, why_not_
