"""Mutation operators: small pure functions ``generate(ctx) -> list[Mutation]`` in an explicit registry.

:data:`REGISTRY` maps an operator's name to its :class:`OperatorSpec` (name, one-line summary for
``--help``, generator). The CLI's ``--operators`` choices and help come from it; adding an operator
is one module and one entry here. Every operator states its validity conditions and its exact
edits in its module docstring; an operator may also say why it proposes nothing for a target
(``why_not``; :func:`not_proposed` collects those reasons for ``suggest --explain``). The generated
candidates of ``reorder``, ``substitute``, ``parallelize`` and ``eliminate`` pass
:func:`recipemut.recipe.constraints.check_structure` by construction.

>>> list(REGISTRY)
['reorder', 'substitute', 'parallelize', 'datapipe', 'cache', 'hedge', 'eliminate', 'fanout', 'batch', 'dedupe']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from recipemut.mutate.mutation import Mutation
from recipemut.mutate.operators import (
    batch,
    cache,
    datapipe,
    dedupe,
    eliminate,
    fanout,
    hedge,
    parallelize,
    reorder,
    substitute,
)
from recipemut.mutate.operators._base import DEFAULT_OPTIONS, NotProposed, OperatorContext, OperatorSpec

log = logging.getLogger(__name__)

REGISTRY: dict[str, OperatorSpec] = {
    m.NAME: OperatorSpec(
        name=m.NAME,
        summary=m.SUMMARY,
        generate=m.generate,
        needs_profile=needs,
        edits=m.EDITS,
        why_not=why_not,
    )
    for m, needs, why_not in (
        (reorder, False, reorder.why_not),
        (substitute, False, substitute.why_not),
        (parallelize, False, parallelize.why_not),
        (datapipe, True, datapipe.not_proposed),
        (cache, True, cache.why_not),
        (hedge, True, hedge.why_not),
        (eliminate, False, eliminate.why_not),
        (fanout, True, fanout.why_not),
        (batch, True, batch.why_not),
        (dedupe, True, dedupe.why_not),
    )
}


def generate_all(ctx: OperatorContext, operators: Iterable[str] | None = None) -> list[Mutation]:
    """Candidates of the given operators (all by default), in registry order; ids are unique.

    Raises ``KeyError`` for an unknown operator name (the CLI restricts choices to the registry).
    Once ``ctx``'s deadline has passed (:meth:`OperatorContext.expired`), no further operator is
    asked (and an operator stops between operations): the candidates found so far are returned.
    """
    names = list(REGISTRY) if operators is None else list(operators)
    out: list[Mutation] = []
    seen: set[str] = set()
    for name in names:
        spec = REGISTRY[name]
        if ctx.expired():
            break
        if spec.needs_profile and ctx.profile is None:
            log.info("operator %s skipped: it needs a profile", name)
            continue
        for m in spec.generate(ctx):
            if m.id not in seen:
                seen.add(m.id)
                out.append(m)
    return out


def not_proposed(ctx: OperatorContext, operators: Iterable[str] | None = None) -> list[NotProposed]:
    """Why the given operators (all by default) propose nothing for some targets, in registry order.

    Only operators with a ``why_not`` say anything; an operator that needs a profile says nothing
    without one (it is skipped, as :func:`generate_all` skips it).
    """
    names = list(REGISTRY) if operators is None else list(operators)
    out: list[NotProposed] = []
    for name in names:
        spec = REGISTRY[name]
        if spec.why_not is None or (spec.needs_profile and ctx.profile is None):
            continue
        out.extend(NotProposed(name, target, why) for target, why in spec.why_not(ctx).items())
    return out


__all__ = [
    "DEFAULT_OPTIONS",
    "REGISTRY",
    "NotProposed",
    "OperatorContext",
    "OperatorSpec",
    "generate_all",
    "not_proposed",
]
