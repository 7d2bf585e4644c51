"""Mutation operators: small pure functions ``generate(ctx) -> list[Mutation]`` in an explicit registry.

:data:`REGISTRY` maps an operator's name to its :class:`OperatorSpec` (name, one-line summary for
``--help``, generator). The CLI's ``--operators`` choices and help come from it; adding an operator
is one module and one entry here. Every operator states its validity conditions and its exact
edits in its module docstring; the generated candidates of ``reorder``, ``substitute``,
``parallelize`` and ``eliminate`` pass :func:`recipemut.recipe.constraints.check_structure` by construction.

>>> list(REGISTRY)
['reorder', 'substitute', 'parallelize', 'datapipe', 'cache', 'hedge', 'eliminate']
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from recipemut.mutate.mutation import Mutation
from recipemut.mutate.operators import cache, datapipe, eliminate, hedge, parallelize, reorder, substitute
from recipemut.mutate.operators._base import DEFAULT_OPTIONS, OperatorContext, OperatorSpec

log = logging.getLogger(__name__)

REGISTRY: dict[str, OperatorSpec] = {
    m.NAME: OperatorSpec(name=m.NAME, summary=m.SUMMARY, generate=m.generate, needs_profile=needs, edits=m.EDITS)
    for m, needs in (
        (reorder, False),
        (substitute, False),
        (parallelize, False),
        (datapipe, True),
        (cache, True),
        (hedge, True),
        (eliminate, False),
    )
}


def generate_all(ctx: OperatorContext, operators: Iterable[str] | None = None) -> list[Mutation]:
    """Candidates of the given operators (all by default), in registry order; ids are unique.

    Raises ``KeyError`` for an unknown operator name (the CLI restricts choices to the registry).
    """
    names = list(REGISTRY) if operators is None else list(operators)
    out: list[Mutation] = []
    seen: set[str] = set()
    for name in names:
        spec = REGISTRY[name]
        if spec.needs_profile and ctx.profile is None:
            log.info("operator %s skipped: it needs a profile", name)
            continue
        for m in spec.generate(ctx):
            if m.id not in seen:
                seen.add(m.id)
                out.append(m)
    return out


__all__ = ["DEFAULT_OPTIONS", "REGISTRY", "OperatorContext", "OperatorSpec", "generate_all"]
