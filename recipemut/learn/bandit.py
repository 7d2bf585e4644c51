"""Learning which operators pay off: Thompson sampling over operators (and operator x kind).

Each *arm* is an operator (``cache``, ``parallelize``, ...) and, where the store has enough
evidence, an operator on a kind of target (``cache`` on the ``pricing`` service). An arm's belief
that its next mutation pays off is a Beta posterior, starting from Beta(1, 1):

* an **observed** effect (evaluate: a canary promoted with a positive gain = success; rolled back
  = failure; held = no evidence) counts with weight 1;
* a **simulated** effect (suggest: verdict ``improves`` = success, ``regresses`` or ``no significant
  difference`` = failure; a candidate rejected before its replay, or too few requests to judge, is no
  evidence) counts with weight :data:`SIM_WEIGHT` (0.2): replay is evidence, but cheaper and less sure.

An (operator, kind) arm uses its own evidence once it has at least :data:`MIN_KIND_WEIGHT` of it,
on top of a prior worth :data:`KIND_PRIOR_STRENGTH` pseudo-observations centred on the operator's
posterior mean; below that it shares the operator's posterior.

Choosing: with probability ``floor`` (default 0.1) an arm is picked uniformly at random, otherwise
the arm whose posterior draw is highest (Thompson sampling). So every arm keeps a selection
probability of at least ``floor / arms``: no operator starves, and one that was unlucky early
gets more chances. On a stream where one of four operators pays off 70% of the time and the others
10%, the bandit picks the good one in at least 75% of rounds 51-150 (tests/test_bandit.py,
20 seeds), while each of the others is still tried.

``order_candidates`` turns this into the order in which ``suggest --budget`` evaluates its
candidates: slot by slot, choose an arm, take that arm's next candidate (candidates of one arm
keep their given order).

>>> import numpy as np
>>> b = Bandit.from_evidence([Evidence("cache", None, 1.0, "observed")] * 8)
>>> round(b.posterior_mean("cache"), 3), round(b.posterior_mean("reorder"), 3)
(0.9, 0.5)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import numpy as np

from recipemut.learn.store import Evidence, Store, default_path

#: weight of a simulated verdict relative to an observed effect
SIM_WEIGHT = 0.2
#: evidence an (operator, kind) arm needs before it stops sharing its operator's posterior
MIN_KIND_WEIGHT = 3.0
#: pseudo-observations the operator's posterior lends an (operator, kind) arm as its prior
KIND_PRIOR_STRENGTH = 2.0
DEFAULT_FLOOR = 0.1

Arm = tuple[str, str | None]  # (operator, kind or None)


def _frozen(d: Mapping[Any, tuple[float, float]] | None = None) -> Mapping[Any, tuple[float, float]]:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class Bandit:
    """Beta posteriors per operator and per (operator, kind); immutable — ``update`` returns a new one."""

    operators: Mapping[str, tuple[float, float]] = field(default_factory=_frozen)  # (successes, failures)
    kinds: Mapping[tuple[str, str], tuple[float, float]] = field(default_factory=_frozen)
    floor: float = DEFAULT_FLOOR
    sim_weight: float = SIM_WEIGHT

    @classmethod
    def from_evidence(
        cls, evidence: Iterable[Evidence], *, floor: float = DEFAULT_FLOOR, sim_weight: float = SIM_WEIGHT
    ) -> Bandit:
        """Fold store evidence into posteriors."""
        return cls(floor=floor, sim_weight=sim_weight).update(evidence)

    def update(self, evidence: Iterable[Evidence]) -> Bandit:
        """A new bandit with ``evidence`` added (success in [0, 1], weighted by its source)."""
        ops = dict(self.operators)
        kinds = dict(self.kinds)
        for e in evidence:
            w = 1.0 if e.source == "observed" else self.sim_weight
            s, f = ops.get(e.operator, (0.0, 0.0))
            ops[e.operator] = (s + w * e.success, f + w * (1.0 - e.success))
            if e.kind is not None:
                s, f = kinds.get((e.operator, e.kind), (0.0, 0.0))
                kinds[(e.operator, e.kind)] = (s + w * e.success, f + w * (1.0 - e.success))
        return Bandit(_frozen(ops), _frozen(kinds), self.floor, self.sim_weight)

    def beta(self, operator: str, kind: str | None = None) -> tuple[float, float]:
        """The Beta(a, b) posterior of an arm."""
        s, f = self.operators.get(operator, (0.0, 0.0))
        a, b = 1.0 + s, 1.0 + f
        if kind is None:
            return a, b
        ks, kf = self.kinds.get((operator, kind), (0.0, 0.0))
        if ks + kf < MIN_KIND_WEIGHT:
            return a, b
        m = a / (a + b)
        return 1.0 + KIND_PRIOR_STRENGTH * m + ks, 1.0 + KIND_PRIOR_STRENGTH * (1.0 - m) + kf

    def posterior_mean(self, operator: str, kind: str | None = None) -> float:
        a, b = self.beta(operator, kind)
        return a / (a + b)

    def choose(self, arms: Sequence[Arm], rng: np.random.Generator) -> int:
        """Index of the arm to try next: uniform with probability ``floor``, else Thompson sampling."""
        if not arms:
            raise ValueError("no arms to choose from")
        if rng.random() < self.floor:
            return int(rng.integers(len(arms)))
        ab = np.array([self.beta(op, kind) for op, kind in arms])
        draws = rng.beta(ab[:, 0], ab[:, 1])
        return int(np.argmax(draws))

    def selection_probabilities(self, arms: Sequence[Arm], rng: np.random.Generator, draws: int = 4000) -> np.ndarray:
        """Monte Carlo estimate of how often each arm would be chosen next (for ``stats``)."""
        if not arms:
            return np.zeros(0)
        ab = np.array([self.beta(op, kind) for op, kind in arms])
        samples = rng.beta(ab[:, 0][:, None], ab[:, 1][:, None], size=(len(arms), draws))
        wins = np.bincount(np.argmax(samples, axis=0), minlength=len(arms)) / draws
        return np.asarray(self.floor / len(arms) + (1.0 - self.floor) * wins)


class HasOperator(Protocol):
    @property
    def operator(self) -> str: ...


C = TypeVar("C", bound=HasOperator)


def order_candidates(
    candidates: Sequence[C],
    rng: np.random.Generator,
    bandit: Bandit | None = None,
    *,
    kind_of: Callable[[C], str | None] | None = None,
) -> list[C]:
    """Order candidates for a budgeted evaluation: slot by slot, the bandit picks an arm and its next candidate.

    ``kind_of`` maps a candidate to its kind (e.g. ``lambda m: mutation_kind(m, recipe)``); without it
    arms are operators. Candidates of one arm keep their relative order.

    >>> from collections import namedtuple
    >>> M = namedtuple("M", "id operator")
    >>> cands = [M("a1", "reorder"), M("c1", "cache"), M("a2", "reorder"), M("c2", "cache")]
    >>> good = Bandit.from_evidence([Evidence("cache", None, 1.0, "observed")] * 30, floor=0.0)
    >>> [m.id for m in order_candidates(cands, np.random.default_rng(0), good)]
    ['c1', 'c2', 'a1', 'a2']
    """
    b = bandit or Bandit()
    queues: dict[Arm, list[C]] = {}
    for c in candidates:
        queues.setdefault((c.operator, kind_of(c) if kind_of else None), []).append(c)
    heads = {arm: 0 for arm in queues}
    out: list[C] = []
    while len(out) < len(candidates):
        live = [arm for arm in queues if heads[arm] < len(queues[arm])]
        arm = live[b.choose(live, rng)]
        out.append(queues[arm][heads[arm]])
        heads[arm] += 1
    return out


def mutation_kind(mutation: Any, recipe: Any) -> str | None:
    """The kind of a mutation's target: the service of its first target operation in ``recipe``
    (the recipe it was made from), ``"field"`` for a field, None when neither."""
    ops = getattr(recipe, "ops", {})
    fields = getattr(recipe, "fields", {})
    for t in getattr(mutation, "targets", ()):
        if t in ops:
            return str(ops[t].service)
        if t in fields:
            return "field"
    return None


def load_bandit(path: str | os.PathLike[str] | None = None, *, recipe: str | None = None, **kw: Any) -> Bandit:
    """The bandit learned from the store (a fresh one when the store is disabled or absent)."""
    p = path if path is not None else default_path()
    if p is None or not os.path.exists(p):
        return Bandit(**kw)
    with Store.open(p) as s:
        return Bandit.from_evidence(s.evidence(recipe=recipe), **kw)
