"""What every operator shares: its input (:class:`OperatorContext`), its registry entry
(:class:`OperatorSpec`) and small helpers to build minimal, id-addressed edits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import networkx as nx

from recipemut.mutate.mutation import EditForm, Mutation, mutate
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
    """

    recipe: Recipe
    doc: Mapping[str, Any]
    profile: Profile | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: per-operation assessments already made on this context (see :func:`assessed`), so that an
    #: operator's candidates and its reasons for proposing nothing come from one pass
    memo: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def build(
        cls,
        recipe: Recipe,
        *,
        doc: Mapping[str, Any] | None = None,
        profile: Profile | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> OperatorContext:
        return cls(
            recipe=recipe,
            doc=doc if doc is not None else recipe_to_dict(recipe),
            profile=profile,
            options=MappingProxyType(dict(options or {})),
        )

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
    """A :class:`Mutation` with id ``operator:key`` and the mutated recipe built from the edits."""
    es = tuple(edits)
    return Mutation(
        id=f"{operator}:{key}",
        operator=operator,
        targets=tuple(targets),
        description=description,
        edits=es,
        recipe=mutate(dict(ctx.doc), es, source=ctx.recipe.source),
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


def rewire_after(
    doc: Mapping[str, Any], g: nx.DiGraph, op_id: str, drop: Sequence[str], inherit: Iterable[str]
) -> list[Edit]:
    """Edits on ``op_id``'s ``after`` list: remove ``drop`` and append each of ``inherit`` that would
    not otherwise precede ``op_id`` once the dropped edges are gone (``g`` is that graph).

    Removals address the dropped name itself, not its index, so they stay right when another
    mutation's edits changed the list first (``apply --only`` applies a subset of a plan). When the
    list ends up empty the ``after`` key is pruned: no ``after: []`` is left behind, yet the key stays
    when ``apply --only`` left out another mutation that removed the list's other names.
    """
    current = list(doc_op(doc, op_id).get("after") or ())
    edits = [Edit("remove", ("operations", op_id, "after", d)) for d in drop if d in current]
    kept = [d for d in current if d not in drop]
    for p in inherit:
        if p == op_id or p in kept or nx.has_path(g, p, op_id):
            continue
        edits.append(Edit("append", ("operations", op_id, "after"), p))
        kept.append(p)
        g.add_edge(p, op_id)
    if edits and not kept:
        edits.append(Edit("prune", ("operations", op_id, "after")))
    return edits


def kept_guards(recipe: Recipe, via: str, succ: str) -> list[str]:
    """Guards (``may_halt``) before ``via`` that ``succ`` must keep waiting for when its wait on ``via``
    goes: control dependencies, so only when ``succ`` or anything after it has side effects.

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> r = recipe_from_dict({"fields": {"i": {}, "ok": {}, "x": {}, "y": {}}, "inputs": ["i"], "outputs": ["y"],
    ...     "operations": [{"id": "g", "service": "s", "action": "G", "consumes": ["i"], "produces": ["ok"],
    ...                     "may_halt": True},
    ...                    {"id": "a", "service": "s", "action": "A", "consumes": ["ok"], "produces": ["x"]},
    ...                    {"id": "b", "service": "s", "action": "B", "consumes": ["i"], "produces": ["y"],
    ...                     "after": ["a"], "side_effects": "idempotent"}]})
    >>> kept_guards(r, "a", "b")
    ['g']
    """
    g = recipe.dag
    if all(recipe.ops[x].side_effects == "none" for x in (succ, *nx.descendants(g, succ))):
        return []
    before = nx.ancestors(g, via)
    return [p for p in recipe.topo_order if p in before and recipe.ops[p].may_halt]


def ordering_problems(ctx: OperatorContext, mutated: Recipe) -> list[str]:
    """``frozen``, ``keep_order`` and guard control-dependency violations of a candidate (operators
    respect all three)."""
    original = ctx.recipe
    return (
        frozen_violations(original, mutated)
        + keep_order_violations(original, mutated)
        + control_dependency_violations(original, mutated)
    )


def keep_if_ordered(ctx: OperatorContext, m: Mutation, out: list[Mutation], kept: list[str], refusal: str) -> None:
    """Add the candidate ``m`` to ``out``; when it breaks a ``frozen``, ``keep_order`` or guard
    constraint (:func:`ordering_problems`), add ``"<refusal> (<problems>)"`` to ``kept`` instead."""
    ordering = ordering_problems(ctx, m.recipe)
    if ordering:
        kept.append(f"{refusal} ({'; '.join(ordering)})")
    else:
        out.append(m)


def fmt_fields(names: Iterable[str]) -> str:
    """``[a, b]`` for a sentence (``[]`` when empty)."""
    return "[" + ", ".join(names) + "]"


def ms(x: float) -> str:
    return f"{x:.1f} ms" if x < 100 else f"{x:.0f} ms"


#: what an operator's per-operation assessment gives: its candidate(s), why there is none, or nothing to say
Assessment = Mutation | Sequence[Mutation] | str | None


def assessed(
    ctx: OperatorContext, assess: Callable[[OperatorContext, str], Assessment]
) -> tuple[list[Mutation], dict[str, str]]:
    """``assess`` run once per operation (in topological order) on ``ctx``: the candidates, and the reasons.

    The result is kept on the context, so an operator's ``generate`` and ``why_not`` share one pass.
    """
    if assess not in ctx.memo:
        found: list[Mutation] = []
        reasons: dict[str, str] = {}
        for op_id in ctx.recipe.topo_order:
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
