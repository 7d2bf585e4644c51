"""The replay of the unchanged recipe against the time the logs recorded, and why they differ.

Replayed as it is, a recipe gives each request the end to end its logs recorded wherever they follow
the recipe's order (:mod:`recipemut.predict.simulate`). When the logs show an operation starting
before one the recipe runs it after had ended (the two overlapped), the replay runs them one after
the other and the baseline grows by the overlap: every prediction then starts from a time the logs
never showed. :func:`order_check` compares the two and, when they differ materially (by more than
:data:`MATERIAL_SHARE` of the recorded time and :data:`MATERIAL_MS`, at p50 or on average), names
the pairs the recipe orders that overlapped (:func:`overlaps`), and where the recipe orders them.

>>> o = Overlap("a", "b", requests=1, ran=2, by_ms=30.0, added_ms=15.0, via="after: [a]", line=None)
>>> print(o.words("r.yaml"))  # doctest: +NORMALIZE_WHITESPACE
b started before a ended in 1 of 2 requests (50%), by 30.0 ms on average
(the recipe orders them by b's `after: [a]`, r.yaml)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from recipemut.errors import MutationError
from recipemut.files.units import counted, ms_text
from recipemut.predict.simulate import Replay, replay
from recipemut.profile.build import Profile
from recipemut.recipe.model import Recipe

__all__ = [
    "MATERIAL_MS",
    "MATERIAL_SHARE",
    "OVERLAP_MS",
    "OrderCheck",
    "Overlap",
    "order_check",
    "overlaps",
    "pair_words",
]

#: the replay differs materially from the recorded time by more than this share of it ...
MATERIAL_SHARE = 0.05
#: ... and more than this many milliseconds
MATERIAL_MS = 0.5
#: an operation started before its predecessor ended by more than this (epoch milliseconds in a float
#: hold about 0.2 us: less is the clock's rounding, not an overlap)
OVERLAP_MS = 1e-3
#: pairs named in the sentence (every pair is in the JSON)
SHOWN = 3


@dataclass(frozen=True)
class Overlap:
    """Two operations the recipe runs one after the other (``before`` -> ``after``, a DAG edge) that
    overlapped in the logs: ``after`` started before ``before`` ended."""

    before: str
    after: str
    requests: int  # requests in which they overlapped
    ran: int  # requests in which both ran
    by_ms: float  # mean overlap over those requests
    added_ms: float  # mean overlap over every request: about what the replay adds through this pair
    via: str  # what in the recipe orders them: "after: [a]", "consumes: [x]" or both
    line: int | None  # where: the later operation's `after` or `consumes` in the recipe

    def words(self, path: str) -> str:
        """What the logs show of this pair, and where the recipe orders it."""
        where = f"{path}:{self.line}" if self.line else path
        return (
            f"{self.after} started before {self.before} ended in {self.requests:,} of {self.ran:,} requests "
            f"({100 * self.requests / self.ran:.0f}%), by {ms_text(self.by_ms)} on average "
            f"(the recipe orders them by {self.after}'s `{self.via}`, {where})"
        )

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class OrderCheck:
    """The replay of the unchanged recipe beside the recorded end to end, on the requests replayed."""

    replayed_p50_ms: float
    recorded_p50_ms: float
    replayed_mean_ms: float
    recorded_mean_ms: float
    requests: int  # requests replayed
    imputed_share: float  # share of them resting on a span drawn from another request
    overlaps: tuple[Overlap, ...]  # the ordered pairs that overlapped, most time added first

    def sentence(self, path: str) -> str:
        """The warning: the two times, the pairs that overlapped and the fix, in one sentence."""
        stat, rep, rec = "p50", self.replayed_p50_ms, self.recorded_p50_ms
        if not _differs(rep, rec):
            stat, rep, rec = "mean", self.replayed_mean_ms, self.recorded_mean_ms
        pct = f" ({100 * (rep - rec) / rec:+.0f}%)" if rec > 0 else ""
        head = f"the replay of the unchanged recipe gives {stat} {ms_text(rep)} where the logs recorded {ms_text(rec)}"
        head += pct
        if not self.overlaps:
            drawn = (
                f" ({100 * self.imputed_share:.0f}% of the requests replayed rest on spans drawn from other requests)"
                if self.imputed_share > 0
                else ""
            )
            return f"{head}; no two operations it runs one after the other overlapped in the logs{drawn}"
        pairs = "; ".join(o.words(path) for o in self.overlaps[:SHOWN])
        more = len(self.overlaps) - SHOWN
        pairs += f"; and {counted(more, 'more pair')} (--format json lists them)" if more > 0 else ""
        return (
            f"{head}: it runs one after the other operations that overlapped in the logs, so every prediction "
            f"starts from a time the logs never showed: {pairs}. If they do run side by side, fix that order in "
            "the recipe (the later operation's `after` or `consumes`)"
        )

    def to_dict(self, path: str) -> dict[str, object]:
        """JSON-ready, with the warning's sentence as ``message``."""
        out: dict[str, object] = {k: v for k, v in self.__dict__.items() if k != "overlaps"}
        return {**out, "overlaps": [o.to_dict() for o in self.overlaps], "message": self.sentence(path)}


def pair_words(found: tuple[Overlap, ...]) -> str:
    """The pairs that overlapped, for a clause that says why (``""`` for none).

    >>> pair_words((Overlap("some", "another", 1, 1, 34.0, 34.0, "consumes: [x]", 7),))
    'some and another'
    """
    more = ", ..." if len(found) > SHOWN else ""
    return ", ".join(f"{o.before} and {o.after}" for o in found[:SHOWN]) + more


def _differs(replayed: float, recorded: float) -> bool:
    """Whether a replayed time differs materially from the recorded one.

    >>> _differs(68.0, 34.1), _differs(34.2, 34.1), _differs(0.9, 0.5)
    (True, False, False)
    """
    return abs(replayed - recorded) > max(MATERIAL_SHARE * abs(recorded), MATERIAL_MS)


def _via(recipe: Recipe, before: str, after: str) -> tuple[str, int | None]:
    """What orders ``after`` behind ``before`` in the recipe (its ``after``, its ``consumes`` of a field
    ``before`` produces, or both), and the line of the first of those."""
    edge = recipe.dag.edges[before, after]
    i = recipe.op_index(after)
    parts, keys = [], []
    if edge["kind"] in ("after", "both"):
        parts.append(f"after: [{before}]")
        keys.append("after")
    if edge["kind"] in ("data", "both"):
        parts.append(f"consumes: [{', '.join(sorted(edge['fields']))}]")
        keys.append("consumes")
    return " and ".join(parts), recipe.position("operations", i, keys[0])[0]


def overlaps(recipe: Recipe, profile: Profile, rows: np.ndarray | None = None) -> tuple[Overlap, ...]:
    """The pairs the recipe orders (its DAG's edges) whose operations overlapped in the logs, over
    ``rows`` of the profile (default: every request), the pair adding most time first. Vectorised
    over requests; one pass per edge of the recipe.
    """
    start = profile.start_offset_ms if rows is None else profile.start_offset_ms[rows]
    end = start + (profile.latency_ms if rows is None else profile.latency_ms[rows])
    n = int(start.shape[0])
    col = {op: j for j, op in enumerate(profile.op_ids)}
    found: list[Overlap] = []
    for before, after in recipe.dag.edges:
        if before not in col or after not in col or not n:
            continue
        by = end[:, col[before]] - start[:, col[after]]  # NaN where either did not run
        ran = ~np.isnan(by)
        hit = ran & (np.nan_to_num(by, nan=0.0) > OVERLAP_MS)
        k = int(hit.sum())
        if k:
            via, line = _via(recipe, before, after)
            found.append(
                Overlap(before, after, k, int(ran.sum()), float(by[hit].mean()), float(by[hit].sum() / n), via, line)
            )
    return tuple(sorted(found, key=lambda o: (-o.added_ms, o.after, o.before)))


def order_check(recipe: Recipe, profile: Profile, baseline: Replay | None = None) -> OrderCheck | None:
    """The replay of the unchanged ``recipe`` against the end to end ``profile`` recorded, when the two
    differ materially (None when they agree, or when the recipe cannot be replayed unchanged: an
    operation neither logged nor given an ``expected`` prior).

    ``baseline`` is that replay when the caller has one (``suggest``'s); without it, one is run with
    a fixed seed.
    """
    if baseline is None:
        try:
            baseline = replay(recipe, profile, rng=np.random.default_rng(0))
        except MutationError:
            return None
    recorded = profile.e2e_latency_ms[baseline.rows]
    got = baseline.latency_ms
    if not got.size:
        return None
    p50 = float(np.percentile(got, 50)), float(np.percentile(recorded, 50))
    mean = float(np.mean(got)), float(np.mean(recorded))
    if not any(math.isfinite(a) and _differs(a, b) for a, b in (p50, mean)):
        return None
    return OrderCheck(
        replayed_p50_ms=p50[0],
        recorded_p50_ms=p50[1],
        replayed_mean_ms=mean[0],
        recorded_mean_ms=mean[1],
        requests=baseline.n_requests,
        imputed_share=baseline.imputed_share,
        overlaps=overlaps(recipe, profile, baseline.rows),
    )
