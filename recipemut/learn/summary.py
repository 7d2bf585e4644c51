"""What the store has learned, as one document: ``recipemut stats``' data.

Per operator: the store's statistics (:class:`~recipemut.learn.store.OperatorStats`) beside the
bandit's belief and how often it would pick the operator first; per recipe version, the profiles
kept. A store file that does not exist yet reads as an empty store (nothing is created).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recipemut.learn.bandit import Bandit
from recipemut.learn.store import OperatorStats, ProfiledVersion, Store, StoreError

#: table -> rows, for a store that holds nothing yet
EMPTY_COUNTS = ("recipe_versions", "profiles", "suggestions", "observations")


def stats_data(
    path: Path,
    stats: list[OperatorStats],
    bandit: Bandit,
    counts: dict[str, int],
    profiled: list[ProfiledVersion] | None = None,
) -> dict[str, Any]:
    """The JSON document of ``recipemut stats --format json``.

    ``next_pick_probability`` is estimated with a fixed random seed, so the same store gives the
    same document.
    """
    arms = [(s.operator, None) for s in stats]
    probs = bandit.selection_probabilities(arms, np.random.default_rng(0)) if arms else np.zeros(0)
    return {
        "store": str(path),
        "counts": counts,
        "operators": [
            {
                **s.to_dict(),
                "bandit": {
                    "alpha": round(bandit.beta(s.operator)[0], 4),
                    "beta": round(bandit.beta(s.operator)[1], 4),
                    "posterior_mean": round(bandit.posterior_mean(s.operator), 4),
                    "next_pick_probability": round(float(p), 4),
                },
            }
            for s, p in zip(stats, probs, strict=True)
        ],
        "profiled_versions": [v.to_dict() for v in profiled or ()],
    }


def _named(recipe: str) -> str:
    """A recipe name for a message, cut so the reason after it is always read."""
    return repr(recipe if len(recipe) <= 80 else recipe[:80] + "...")


def store_summary(path: Path, *, recipe: str | None = None) -> dict[str, Any]:
    """:func:`stats_data` of the store at ``path`` (only what was learned on ``recipe``, when given).

    Raises :class:`~recipemut.learn.store.StoreError` for a file that is not a usable store.
    """
    if not path.exists():
        if recipe is not None:  # as for a store that holds other recipes: a name is not silently nothing
            raise StoreError(f"--recipe {_named(recipe)}: no such recipe in the store (there is no store here yet)",
                             file=str(path), code="store-no-recipe")  # fmt: skip
        return {"store": str(path), "counts": dict.fromkeys(EMPTY_COUNTS, 0), "operators": [], "profiled_versions": []}
    with Store.open(path) as s:
        if recipe is not None and recipe not in (names := s.recipes()):
            held = f"its recipes: {', '.join(names)}" if names else "it holds no recipe yet"
            raise StoreError(f"--recipe {_named(recipe)}: no such recipe in the store ({held})", file=str(path),
                             code="store-no-recipe")  # fmt: skip
        return stats_data(
            path,
            s.operator_stats(recipe=recipe),
            Bandit.from_evidence(s.evidence(recipe=recipe)),
            s.counts(recipe=recipe),
            s.profiled_versions(recipe=recipe),
        )


def versions_seen(data: dict[str, Any]) -> str:
    """The recipe versions of :func:`stats_data`'s document, for ``stats``' first line: every version
    suggest, evaluate or profile recorded (``counts.recipe_versions``), and how many of them were
    profiled (the rows of the ``profiled recipe versions`` table) when any was.

    >>> versions_seen({"counts": {"recipe_versions": 3}, "profiled_versions": [{}, {}]})
    '3 recipe versions seen (2 profiled)'
    >>> versions_seen({"counts": {"recipe_versions": 1}, "profiled_versions": []})
    '1 recipe version seen'
    """
    n, profiled = data["counts"]["recipe_versions"], len(data.get("profiled_versions") or ())
    return f"{n} recipe version{'' if n == 1 else 's'} seen" + (f" ({profiled} profiled)" if profiled else "")
