"""Judging a candidate: paired predictions and an offline A/B test on the recorded traffic.

Two questions, two designs (both over the replays of :mod:`recipemut.predict.simulate`):

* **How much does it change?** The *paired* prediction: every replayed request under the mutated
  recipe against the same request under the baseline, with bootstrap intervals for the change in
  p50/p95/p99/mean latency and mean cost (:func:`recipemut.judge.stats.compare`, ``paired=True``).
* **Would an experiment show it?** The *offline A/B*: requests split by a keyed hash of
  ``request_id`` (:func:`treatment_mask`; ``share`` of them, default 10%, are the treatment).
  Treatment requests are taken from the mutated replay, control requests from the baseline
  replay, and compared unpaired, as a live experiment would. Every judged candidate reports, on
  latency, the Mann-Whitney U p-value with the Hodges-Lehmann shift and its interval (and
  bootstrap intervals for p50/p95/p99/mean), and, on cost, a bootstrap interval for the change in
  mean cost per request, CUPED-adjusted (:func:`cuped`: each request's baseline replay is its
  pre-experiment covariate, the standard variance reduction of online experiments), whatever the
  objective. For the objective's own metric: latency decides on the Mann-Whitney/Hodges-Lehmann
  shift, p95 on the bootstrap interval of the change in p95, means (cost, balanced, headroom) on
  the CUPED bootstrap interval.

**Which test decides** (``decided_by``). The A/B on a 10% split is often *underpowered*: a p95
bootstrap on a few hundred treatment requests spans zero even for a large effect that the paired
replay of *every* request pins down. So the verdict is the paired full-sample verdict on the
objective's metric (Wilcoxon signed-rank and the median paired difference for ``latency``, a
paired bootstrap interval otherwise), checked against the A/B:

* both agree: that verdict (``decided_by = "ab+paired"``);
* the A/B says "no significant difference", the paired replay is conclusive: the paired verdict
  (``"paired"``: the split is underpowered for this effect, a live canary needs more traffic);
* the A/B is conclusive, the paired replay is not, or they point in opposite directions:
  "no significant difference" (``"paired"`` / ``"conflict"``): an effect the full replay does not
  confirm is the luck of the split.

**Imputed predictions.** Where the replay had no recorded sample for an operation (e.g. a
substitute whose alternative never ran, drawn from its ``expected`` prior), the paired intervals
are conditional on the prior being right. So they are widened by the prior's uncertainty: every
imputed operation's contribution may be off by ``prior_uncertainty`` (default
:data:`PRIOR_UNCERTAINTY`, 25%) either way, i.e. the latency intervals grow by
``prior_uncertainty x`` the mean milliseconds per request resting on imputed samples
(:func:`imputed_ms`), and the verdict is taken on the widened interval. A large predicted effect
survives; one within the prior's error becomes "no significant difference" (``decided_by =
"imputed"``, a caveat says why). Cost is not widened (an alternative's price is declared, not
drawn). Canary such a change to measure it.

Objectives (all "lower is better"), and the per-request metric each one judges:

* ``latency``: end-to-end latency of the typical request: its level is the median, a change is
  judged on the Hodges-Lehmann shift (A/B) and the median paired difference (replay), both
  estimators of the median request's change;
* ``p95``: end-to-end latency, decided on the change in its 95th percentile;
* ``cost``: cost per request, decided on the change in its mean;
* ``balanced``: ``weight * latency / mean baseline latency + (1 - weight) * cost / mean baseline
  cost`` per request, decided on the change in its mean, i.e. the weighted sum of the relative
  changes in mean latency and mean cost;
* ``headroom``: the busy milliseconds a request costs the *bottleneck* service (the one the
  capacity forecast says crosses its target utilisation first), decided on the change in its
  mean: by Little's law that is the change in the service's utilisation at any request rate, so
  it moves the date it needs more replicas.

Fewer than :data:`MIN_REQUESTS` replayed requests (one) give no interval: a bootstrap of one request
is that request, a zero-width "interval" around a single difference. The verdict is then "too few
requests to judge" (``decided_by = "too-few"``), never "improves" or "regresses"; the predicted
deltas keep their point estimates, their intervals are NaN (``null`` in JSON), as ``evaluate``'s
are for a canary arm of one request.

When the paired point estimates (median, mean and the decisive statistic of the objective's
metric) all move by less than the minimum effect, the verdict is "no significant difference"
without running the statistics (``ab`` is ``None``, intervals collapse to the point), which keeps
evaluating the many small candidates cheap (``decided_by = "skipped"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from recipemut.files.units import ms_text
from recipemut.judge.stats import (
    NO_DIFFERENCE,
    TOO_FEW,
    Comparison,
    Interval,
    compare,
    quantile_sorted,
    verdict_of,
)
from recipemut.predict.simulate import Replay

OBJECTIVES = ("latency", "p95", "cost", "balanced", "headroom")
DEFAULT_SHARE = 0.10
DEFAULT_MIN_EFFECT = 0.01
#: the fewest replayed requests a verdict is given on: an interval needs at least two (module doc)
MIN_REQUESTS = 2
#: how far (relative) an imputed operation's latency may be from its prior (module doc)
PRIOR_UNCERTAINTY = 0.25
#: SipHash key of the A/B split (16 bytes): a salt, so the split is independent of pandas' default
#: key, which the log generator's canary split and samplers use
AB_HASH_KEY = "recipemut-ab\x1fspl"
#: the statistic each objective is decided on (see :func:`recipemut.judge.stats.compare`)
DECIDE_ON: Mapping[str, str] = MappingProxyType(
    {"latency": "shift", "p95": "p95", "cost": "mean", "balanced": "mean", "headroom": "mean"}
)
#: predicted metric name -> (which replay array, which statistic)
PREDICTED: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "latency_p50_ms": ("latency", "p50"),
        "latency_p95_ms": ("latency", "p95"),
        "latency_p99_ms": ("latency", "p99"),
        "latency_mean_ms": ("latency", "mean"),
        "cost_mean_usd": ("cost", "mean"),
    }
)


@dataclass(frozen=True)
class JudgeSettings:
    """How a candidate is judged: the objective and the statistics' settings, built once and handed down.

    ``share`` is the offline A/B's treatment share, ``alpha`` the tests' level, ``min_effect`` the
    smallest relative change worth a verdict, ``prior_uncertainty`` how far an imputed operation may
    be from its prior (module doc), ``service`` the bottleneck service ``headroom`` relieves.

    >>> JudgeSettings(objective="p95").min_effect
    0.01
    >>> JudgeSettings(objective="speed")
    Traceback (most recent call last):
    ...
    ValueError: unknown objective 'speed'; expected one of latency, p95, cost, balanced, headroom
    """

    objective: str = "balanced"
    weight: float = 0.5  # balanced: the weight of latency (1 - weight goes to cost)
    share: float = DEFAULT_SHARE
    alpha: float = 0.05
    min_effect: float = DEFAULT_MIN_EFFECT
    prior_uncertainty: float = PRIOR_UNCERTAINTY
    service: str | None = None

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; expected one of {', '.join(OBJECTIVES)}")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def treatment_mask(request_ids: np.ndarray, share: float) -> np.ndarray:
    """Stable split: a request is in the treatment when the hash of its id falls below ``share``.

    The hash is pandas' SipHash of the id string under recipemut's own key (:data:`AB_HASH_KEY`),
    so the same request always lands in the same arm, run after run and machine after machine,
    and the split is independent of any other hash split of the same ids: a canary (or a log
    sampler) that chose its requests by the unkeyed hash would otherwise leave the control
    requests with hashes only above the canary share, and none of them below ``share``.

    >>> treatment_mask(np.array(["r-1", "r-2", "r-3"]), 1.0).tolist()
    [True, True, True]
    >>> treatment_mask(np.array(["r-1", "r-2", "r-3"]), 0.0).tolist()
    [False, False, False]
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"treatment share must be within [0, 1], got {share}")
    h = np.asarray(pd.util.hash_array(np.asarray(request_ids, dtype=object), hash_key=AB_HASH_KEY), dtype=np.uint64)
    u = (h >> np.uint64(11)).astype(float) / float(1 << 53)
    return np.asarray(u < share)


@dataclass(frozen=True)
class Evaluation:
    """A candidate judged against a baseline."""

    objective: str
    verdict: str
    predicted: Mapping[str, Interval]  # paired deltas (mutated - baseline), keys of PREDICTED
    baseline: Mapping[str, float]  # baseline levels, same keys
    mutated: Mapping[str, float]  # predicted levels under the mutation, same keys
    score: float  # relative change of the objective's metric (negative = better)
    ab: Comparison | None  # the offline A/B on the objective's metric (None: skipped, see module doc)
    ab_cost: Comparison | None  # the offline A/B on cost (bootstrap CI of the mean), reported beside it
    imputed_share: float
    share: float
    notes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ab_latency: Comparison | None = None  # the offline A/B on latency: Mann-Whitney U, Hodges-Lehmann
    paired: Comparison | None = None  # the paired full-replay comparison of the objective's metric
    decided_by: str = "skipped"  # ab+paired | paired | conflict | imputed | skipped | too-few (module doc)
    caveat: str = ""  # why a verdict was downgraded, in words

    def decision(self) -> str:
        """Which test decided the verdict, in words (for the text and markdown reports)."""
        return {
            "ab+paired": "the offline A/B and the paired replay, which agree",
            "paired": "the paired replay of every request (the A/B split alone is underpowered or unconfirmed)",
            "conflict": "neither: the offline A/B and the paired replay disagree",
            "imputed": f"the prior's uncertainty: {self.caveat}",
            "skipped": "no test: no statistic moved by the minimum effect",
            "too-few": f"no test: too few requests to judge ({self.caveat})",
        }.get(self.decided_by, self.decided_by)

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {k: v.to_dict() for k, v in self.predicted.items()}
        d["imputed_share"] = self.imputed_share
        d["score"] = self.score
        d["baseline"] = dict(self.baseline)
        d["ab"] = {
            "treatment_share": self.share,
            "objective": self.ab.to_dict() if self.ab is not None else None,
            "latency": self.ab_latency.to_dict() if self.ab_latency is not None else None,
            "cost": self.ab_cost.to_dict() if self.ab_cost is not None else None,
        }
        p = self.paired
        d["paired"] = (
            None
            if p is None
            else {
                "decide_on": p.decide_on,
                "test": p.test,
                "p_value": p.p_value,
                "interval": p.decisive().to_dict(),
                "verdict": p.verdict,
            }
        )
        d["decided_by"] = self.decided_by
        if self.caveat:
            d["caveat"] = self.caveat
        return d


def objective_values(
    rep: Replay, objective: str, *, weight: float, norm: tuple[float, float], service: str | None = None
) -> np.ndarray:
    """The per-request metric an objective judges (``norm``: the baseline's mean latency and cost;
    ``service``: the bottleneck service whose busy time ``headroom`` minimises)."""
    if objective == "headroom":
        if service is None:
            raise ValueError("the headroom objective needs the bottleneck service")
        busy = rep.service_busy.get(service)
        return busy if busy is not None else np.zeros(rep.n_requests)
    if objective in ("latency", "p95"):
        return rep.latency_ms
    if objective == "cost":
        return rep.cost_usd
    if objective == "balanced":
        lat_n = rep.latency_ms / norm[0] if norm[0] else np.zeros_like(rep.latency_ms)
        cost_n = rep.cost_usd / norm[1] if norm[1] else np.zeros_like(rep.cost_usd)
        return np.asarray(weight * lat_n + (1.0 - weight) * cost_n)
    raise ValueError(f"unknown objective {objective!r}; expected one of {', '.join(OBJECTIVES)}")


def objective_level(
    rep: Replay, objective: str, *, weight: float, norm: tuple[float, float], service: str | None = None
) -> float:
    """The objective's level for a replay (lower is better): the statistic it is decided on
    (:data:`DECIDE_ON`; ``shift`` -> the median, the shift's point proxy) of its per-request metric.
    The one definition: :func:`evaluate`'s score and :func:`recipemut.plan.search.objective_level` use it.

    >>> r = Replay(("a",), np.arange(3), np.array([1.0, 2.0, 9.0]), np.array([1.0, 1.0, 4.0]),
    ...            np.ones((3, 1), dtype=bool), np.zeros((3, 1), dtype=bool))
    >>> [objective_level(r, o, weight=0.5, norm=(4.0, 2.0)) for o in ("latency", "cost", "balanced")]
    [2.0, 2.0, 1.0]
    """
    return _Stats(objective_values(rep, objective, weight=weight, norm=norm, service=service))(DECIDE_ON[objective])


def cuped(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, float]:
    """CUPED adjustment (Deng et al., 2013): ``post - theta * (pre - mean(pre))`` with
    ``theta = cov(post, pre) / var(pre)`` over all units; returns the adjusted values and theta.

    The adjusted metric has the same mean as ``post`` and, when ``pre`` predicts ``post``, a much
    smaller variance: an A/B on it needs far fewer units to see the same effect.

    >>> adj, theta = cuped(np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    >>> adj.tolist(), theta
    ([3.0, 3.0, 3.0], 1.0)
    """
    var = float(np.var(pre))
    # the covariance by hand: np.cov goes through BLAS, whose threads thrash on a busy machine
    cov = float(np.mean((post - post.mean()) * (pre - pre.mean())))
    theta = cov / var if var > 0 else 0.0
    return post - theta * (pre - float(pre.mean())), theta


def _cuped_compare(
    base: np.ndarray,
    mutated: np.ndarray,
    treat: np.ndarray,
    *,
    alpha: float,
    min_effect: float,
    rng: np.random.Generator,
) -> Comparison:
    """Unpaired A/B on the mean of a metric, CUPED-adjusted by each request's baseline value.

    Control requests' outcome is their baseline replay, treatment requests' their mutated replay;
    the covariate of every request is its baseline replay (its pre-experiment value).
    """
    outcome = np.where(treat, mutated, base)
    adj, _ = cuped(base, outcome)
    return compare(adj[~treat], adj[treat], decide_on="mean", alpha=alpha, min_effect=min_effect, rng=rng)


class _Stats:
    """Quantiles and mean of one array, sorting it once (``numpy.quantile``'s linear method)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._sorted: np.ndarray | None = None

    def sorted(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = np.sort(self.x)
        return self._sorted

    def __call__(self, name: str) -> float:
        if name == "mean":
            return float(np.mean(self.x))
        return quantile_sorted(self.sorted(), 0.5 if name == "shift" else int(name[1:]) / 100.0)


def evaluate(
    base: Replay,
    mutated: Replay,
    request_ids: np.ndarray,
    settings: JudgeSettings,
    *,
    rng: np.random.Generator | None = None,
    treatment: np.ndarray | None = None,
) -> Evaluation:
    """Judge ``mutated`` against ``base`` (replays of the same requests; ``request_ids`` aligned
    with the profile's rows) as ``settings`` say.

    ``settings.min_effect`` is relative to the baseline level of the objective's metric;
    ``settings.prior_uncertainty`` widens the intervals of what rests on imputed samples (module
    doc). ``treatment`` is :func:`treatment_mask` of the replayed rows' ids, when the caller judges
    many candidates on the same requests (hashing the ids is the costliest step otherwise).
    """
    objective, weight, share, service = settings.objective, settings.weight, settings.share, settings.service
    alpha, min_effect, prior_uncertainty = settings.alpha, settings.min_effect, settings.prior_uncertainty
    if base.n_requests != mutated.n_requests or not np.array_equal(base.rows, mutated.rows):
        raise ValueError("baseline and mutated replays must cover the same requests")
    rng = rng if rng is not None else np.random.default_rng(0)
    norm = (float(base.latency_ms.mean()), float(base.cost_usd.mean()))
    arrays = {
        "latency": (_Stats(base.latency_ms), _Stats(mutated.latency_ms)),
        "cost": (_Stats(base.cost_usd), _Stats(mutated.cost_usd)),
    }
    baseline = {k: arrays[a][0](s) for k, (a, s) in PREDICTED.items()}
    levels = {k: arrays[a][1](s) for k, (a, s) in PREDICTED.items()}
    b_obj = objective_values(base, objective, weight=weight, norm=norm, service=service)
    m_obj = objective_values(mutated, objective, weight=weight, norm=norm, service=service)
    b_st = arrays["latency"][0] if b_obj is base.latency_ms else _Stats(b_obj)
    m_st = arrays["latency"][1] if m_obj is mutated.latency_ms else _Stats(m_obj)
    stat = DECIDE_ON[objective]
    point = m_st(stat) - b_st(stat)  # the shift's point proxy: the change in median
    base_level = b_st(stat)
    score = point / base_level if base_level else 0.0
    threshold = min_effect * abs(base_level)

    def result(
        verdict: str,
        predicted: Mapping[str, Interval],
        ab: Comparison | None,
        ab_cost: Comparison | None,
        ab_latency: Comparison | None = None,
        paired: Comparison | None = None,
        decided_by: str = "skipped",
        caveat: str = "",
    ) -> Evaluation:
        return Evaluation(
            objective=objective,
            verdict=verdict,
            predicted=MappingProxyType(dict(predicted)),
            baseline=MappingProxyType(baseline),
            mutated=MappingProxyType(levels),
            score=score,
            ab=ab,
            ab_cost=ab_cost,
            imputed_share=mutated.imputed_share,
            share=share,
            notes=mutated.notes,
            ab_latency=ab_latency,
            paired=paired,
            decided_by=decided_by,
            caveat=caveat,
        )

    if base.n_requests < MIN_REQUESTS:  # no interval can be had: say so, never a verdict (module doc)
        n = base.n_requests
        predicted = {k: Interval(levels[k] - baseline[k], math.nan, math.nan, 1 - alpha) for k in PREDICTED}
        why = f"{n:,} request{'s' if n != 1 else ''} replayed, an interval needs at least {MIN_REQUESTS}"
        return result(TOO_FEW, predicted, None, None, decided_by="too-few", caveat=why)
    # skip the statistics only when nothing (median, mean, decisive statistic) moved by the minimum effect
    moved = max(abs(point), abs(m_st("mean") - b_st("mean")), abs(m_st("p50") - b_st("p50")))
    if moved < threshold or moved == 0.0:
        predicted = {
            k: Interval(levels[k] - baseline[k], levels[k] - baseline[k], levels[k] - baseline[k], 1 - alpha)
            for k in PREDICTED
        }
        return result(NO_DIFFERENCE, predicted, None, None)
    lat_decide = "shift" if objective == "latency" else "p95"
    paired_lat = compare(
        base.latency_ms,
        mutated.latency_ms,
        paired=True,
        decide_on=lat_decide,
        alpha=alpha,
        min_effect=min_effect,
        rng=rng,
        with_test=objective == "latency",
        presorted=(arrays["latency"][0].sorted(), arrays["latency"][1].sorted()),
    )
    paired_cost = compare(
        base.cost_usd,
        mutated.cost_usd,
        paired=True,
        decide_on="mean",
        alpha=alpha,
        min_effect=min_effect,
        rng=rng,
        presorted=(arrays["cost"][0].sorted(), arrays["cost"][1].sorted()),
    )
    predicted = {k: (paired_lat if a == "latency" else paired_cost).deltas[s] for k, (a, s) in PREDICTED.items()}
    if objective in ("latency", "p95"):
        paired = paired_lat
    elif objective == "cost":
        paired = paired_cost
    else:
        paired = compare(
            b_obj,
            m_obj,
            paired=True,
            decide_on="mean",
            alpha=alpha,
            min_effect=min_effect,
            rng=rng,
            presorted=(b_st.sorted(), m_st.sorted()),
        )
    # the prior's uncertainty: widen what rests on imputed samples, and judge the widened interval
    w_lat = prior_uncertainty * imputed_ms(mutated)
    paired_verdict, caveat = paired.verdict, ""
    if w_lat > 0:
        predicted = {k: _widen(iv, w_lat) if PREDICTED[k][0] == "latency" else iv for k, iv in predicted.items()}
        balanced = weight * w_lat / norm[0] if norm[0] else 0.0
        w = {"latency": w_lat, "p95": w_lat, "cost": 0.0, "headroom": w_lat}.get(objective, balanced)
        widened = verdict_of(
            _widen(paired.decisive(), w),
            base=base_level,
            min_effect=min_effect,
            significant=paired.decide_on != "shift" or paired.p_value < alpha,
        )
        if widened != paired_verdict:
            caveat = (
                f"{100 * mutated.imputed_share:.0f}% of requests rest on imputed samples "
                f"({ms_text(w_lat / prior_uncertainty)} per request drawn from a prior); "
                f"within the prior's ±{100 * prior_uncertainty:.0f}% the effect is not certain: canary it to measure it"
            )
            paired_verdict = widened
    treat = treatment if treatment is not None else treatment_mask(np.asarray(request_ids)[base.rows], share)
    if treat.sum() < 2 or (~treat).sum() < 2:
        decided_by = "imputed" if caveat else "paired"
        return result(paired_verdict, predicted, None, None, None, paired, decided_by, caveat)
    ab_latency = compare(
        base.latency_ms[~treat],
        mutated.latency_ms[treat],
        decide_on=lat_decide,
        alpha=alpha,
        min_effect=min_effect,
        rng=rng,
        with_test=True,  # the Mann-Whitney p-value and Hodges-Lehmann interval are always reported
    )
    ab_cost = _cuped_compare(base.cost_usd, mutated.cost_usd, treat, alpha=alpha, min_effect=min_effect, rng=rng)
    if objective in ("latency", "p95"):
        ab = ab_latency
    elif objective == "cost":
        ab = ab_cost
    else:
        ab = _cuped_compare(b_obj, m_obj, treat, alpha=alpha, min_effect=min_effect, rng=rng)
    verdict, decided_by = decide(ab.verdict, paired_verdict)
    if caveat:
        decided_by = "imputed"
    return result(verdict, predicted, ab, ab_cost, ab_latency, paired, decided_by, caveat)


def imputed_ms(rep: Replay) -> float:
    """Mean milliseconds per request that rest on imputed samples: each operation's mean busy time
    per request times the share of its runs that were imputed.

    >>> ran = np.ones((4, 2), dtype=bool)
    >>> imp = np.array([[True, False]] * 2 + [[False, False]] * 2)
    >>> r = Replay(("a", "b"), np.arange(4), np.zeros(4), np.zeros(4), ran, imp, busy_ms={"a": 10.0, "b": 5.0})
    >>> imputed_ms(r)
    5.0
    """
    if not rep.imputed.any():  # the common case, without column sums over the (n, k) matrices
        return 0.0
    cols = np.flatnonzero(rep.imputed.any(axis=0))  # count only the few operations with imputed runs
    runs = np.count_nonzero(rep.ran[:, cols], axis=0)
    frac = np.divide(np.count_nonzero(rep.imputed[:, cols], axis=0), runs, out=np.zeros(cols.size), where=runs > 0)
    return float(sum(rep.busy_ms.get(rep.op_ids[j], 0.0) * float(f) for j, f in zip(cols, frac, strict=True) if f > 0))


def _widen(iv: Interval, w: float) -> Interval:
    return Interval(iv.estimate, iv.lo - w, iv.hi + w, iv.level)


def decide(ab_verdict: str, paired_verdict: str) -> tuple[str, str]:
    """The verdict and which test decided it, from the A/B's and the paired replay's (module doc).

    >>> decide("no significant difference", "improves")
    ('improves', 'paired')
    >>> decide("improves", "improves")
    ('improves', 'ab+paired')
    >>> decide("improves", "no significant difference")
    ('no significant difference', 'paired')
    >>> decide("improves", "regresses")
    ('no significant difference', 'conflict')
    """
    if ab_verdict == paired_verdict:
        return ab_verdict, "ab+paired"
    if ab_verdict == NO_DIFFERENCE or paired_verdict == NO_DIFFERENCE:
        return paired_verdict, "paired"
    return NO_DIFFERENCE, "conflict"
