"""Statistics for judging a change: tests, intervals and a verdict that is never a bare number.

One entry point, :func:`compare`, judges a *treatment* sample against a *control* sample of one
metric (latency in ms, cost in USD, ...) where lower is better (or higher, with
``lower_is_better=False``):

* **unpaired** (an A/B split, a canary): Mann-Whitney U test (``scipy.stats.mannwhitneyu``) and
  the Hodges-Lehmann shift (median of all pairwise differences ``t - c``) with its distribution-free
  Moses confidence interval; the k-th pairwise difference is found by narrowing a bracket with
  counts over sorted arrays, then selecting among the few pairs left in it, never by building the
  ``n_t x n_c`` matrix when it is large;
* **paired** (the same requests replayed under two recipes): Wilcoxon signed-rank test and the
  median of the paired differences with its binomial order-statistic interval.

Either way it adds bootstrap percentile intervals for the change in p50, p95, p99 and mean.
Small samples (``n * n_boot <= 2_000_000``) are resampled for real. Larger ones use the
*linearised* bootstrap: for a quantile, a resample only matters through how many of its draws fall
below the sample quantile (the Bahadur representation), so each resample draws those counts (a
binomial per group, or a 4-cell multinomial over "below in control" x "below in treatment" when
paired) and reads its quantile from the sorted sample at the shifted rank; for the mean it draws
the normal limit of the resampled mean. Same first-order distribution, O(n) instead of
O(n_boot x n). ``tests/test_stats.py`` checks both agree.

The verdict (:func:`verdict_of`): ``improves`` when the decisive interval lies entirely on the good
side of zero, its estimate is at least the minimum effect and (for the shift) the test is
significant; ``regresses`` symmetrically; otherwise ``no significant difference``.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> c = rng.lognormal(4.0, 0.3, 2000)
>>> compare(c, c * 0.8, rng=rng).verdict
'improves'
>>> compare(c, c * 1.001, rng=rng).verdict
'no significant difference'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy import stats as sps

IMPROVES = "improves"
REGRESSES = "regresses"
NO_DIFFERENCE = "no significant difference"
#: too few samples for an interval (a bootstrap of one request is that request: no interval, no verdict)
TOO_FEW = "too few requests to judge"
VERDICTS = (IMPROVES, REGRESSES, NO_DIFFERENCE, TOO_FEW)

#: the bootstrap metrics: name -> quantile level (None = the mean)
METRICS: Mapping[str, float | None] = MappingProxyType({"p50": 0.5, "p95": 0.95, "p99": 0.99, "mean": None})

#: above this many resampled values (n x n_boot) the linearised bootstrap is used
RESAMPLE_LIMIT = 2_000_000
#: above this many pairs the Hodges-Lehmann order statistics are found by bisection
PAIRS_LIMIT = 1_000_000
#: the k-th pairwise difference is selected exactly once at most this many pairs are left in its bracket
SELECT_LIMIT = 50_000


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval at ``level``."""

    estimate: float
    lo: float
    hi: float
    level: float = 0.95

    def to_dict(self) -> dict[str, object]:
        return {"delta": self.estimate, "ci": [self.lo, self.hi], "level": self.level}


@dataclass(frozen=True)
class Comparison:
    """Treatment against control for one metric; deltas are ``treatment - control``."""

    n_control: int
    n_treatment: int
    paired: bool
    test: str  # "mann-whitney-u" | "wilcoxon-signed-rank" | "none" (skipped: p_value and shift NaN)
    p_value: float
    shift: Interval  # Hodges-Lehmann shift (unpaired) or median paired difference
    deltas: Mapping[str, Interval]  # p50, p95, p99, mean
    control: Mapping[str, float]  # the control's p50, p95, p99, mean
    decide_on: str  # "shift" or a key of deltas
    min_effect: float  # relative to the control's level of the decisive metric
    min_effect_abs: float
    alpha: float
    lower_is_better: bool
    verdict: str
    method: str = field(default="resample")  # bootstrap: "resample" | "linearised"

    def decisive(self) -> Interval:
        """The interval the verdict was taken on."""
        return self.shift if self.decide_on == "shift" else self.deltas[self.decide_on]

    def relative(self, name: str) -> float:
        """Relative change of a metric (``shift`` uses the control's median); NaN when the base is 0."""
        est = self.shift.estimate if name == "shift" else self.deltas[name].estimate
        base = self.control["p50" if name == "shift" else name]
        return est / base if base else math.nan

    def to_dict(self) -> dict[str, object]:
        return {
            "n_control": self.n_control,
            "n_treatment": self.n_treatment,
            "paired": self.paired,
            "test": self.test,
            "p_value": self.p_value,
            "shift": self.shift.to_dict(),
            "deltas": {k: v.to_dict() for k, v in self.deltas.items()},
            "control": dict(self.control),
            "decide_on": self.decide_on,
            "min_effect": self.min_effect,
            "min_effect_abs": self.min_effect_abs,
            "alpha": self.alpha,
            "bootstrap": self.method,
            "verdict": self.verdict,
        }


def _as_array(x: object, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise ValueError(f"{name}: no finite values to compare")
    return a


# ---- Hodges-Lehmann --------------------------------------------------------------------------


def _positions(t_sorted: np.ndarray, c_sorted: np.ndarray, d: float) -> np.ndarray:
    """For each ``t_i``, how many ``c_j`` give ``t_i - c_j > d`` (both arrays sorted: the searches stay
    cache-friendly); the number of pairs with ``t_i - c_j <= d`` is ``n_pairs`` minus their sum."""
    return np.searchsorted(c_sorted, t_sorted - d, side="left")


def _pairs_between(t_sorted: np.ndarray, c_sorted: np.ndarray, pos_hi: np.ndarray, pos_lo: np.ndarray) -> np.ndarray:
    """Every ``t_i - c_j`` counted between two bounds, given their :func:`_positions` (``lo < hi``)."""
    n = pos_lo - pos_hi
    total = int(n.sum())
    rows = np.repeat(np.arange(t_sorted.size), n)
    cols = np.repeat(pos_hi - (np.cumsum(n) - n), n) + np.arange(total)
    return t_sorted[rows] - c_sorted[cols]


def _kth_pairwise_diff(t_sorted: np.ndarray, c_sorted: np.ndarray, k: int, sample: np.ndarray) -> float:
    """The k-th smallest (1-based) of all ``t_i - c_j``, exactly, without the ``n_t x n_c`` matrix."""
    return _kth_pairwise_diffs(t_sorted, c_sorted, k, sample, 1)[0]


def _kth_pairwise_diffs(
    t_sorted: np.ndarray, c_sorted: np.ndarray, k: int, sample: np.ndarray, m: int
) -> tuple[float, ...]:
    """The k-th to (k+m-1)-th smallest (1-based) of all ``t_i - c_j``, exactly.

    A bracket ``(lo, hi]`` holding the k-th difference is narrowed by exact counts (O(n log n) each):
    first at quantiles of ``sample`` (random pairwise differences), then at values interpolated
    from the counts (a bisection step whenever that does not halve the bracket), until at most
    :data:`SELECT_LIMIT` differences lie inside; those are listed and the k-th is selected among
    them (``np.partition``), with the next ``m - 1`` ranks when the bracket holds them too (the
    median of an even number of pairs). A handful of counts instead of a few dozen bisections.
    """
    n_pairs = t_sorted.size * c_sorted.size
    if m <= 0:
        return ()
    if k <= 1:
        return (float(t_sorted[0] - c_sorted[-1]), *_kth_pairwise_diffs(t_sorted, c_sorted, 2, sample, m - 1))
    lo, n_lo = -math.inf, 0  # invariant: n_lo = #pairs <= lo < k <= n_hi = #pairs <= hi
    hi, n_hi = math.inf, n_pairs
    pos_lo = np.full(t_sorted.size, c_sorted.size)  # _positions at lo and hi, reused to list the pairs
    pos_hi = np.zeros(t_sorted.size, dtype=pos_lo.dtype)
    span = (float(t_sorted[0] - c_sorted[-1]), float(t_sorted[-1] - c_sorted[0]))

    def probe(d: float) -> None:
        nonlocal lo, n_lo, hi, n_hi, pos_lo, pos_hi
        if not lo < d < hi:
            return
        pos = _positions(t_sorted, c_sorted, d)
        n = n_pairs - int(pos.sum())
        if n < k:
            lo, n_lo, pos_lo = d, n, pos
        else:
            hi, n_hi, pos_hi = d, n, pos

    q = k / n_pairs
    width = 5.0 * math.sqrt(q * (1 - q) / sample.size) + 1e-4
    for b in (max(q - width, 0.0), min(q + width, 1.0)):
        probe(quantile_sorted(sample, b))  # ``sample`` is sorted
    scale = max(abs(span[0]), abs(span[1]), 1e-300)
    while n_hi - n_lo > SELECT_LIMIT:
        f_lo = lo if math.isfinite(lo) else span[0]
        f_hi = hi if math.isfinite(hi) else span[1]
        if f_hi - f_lo <= 1e-10 * scale:  # a block of ties wider than SELECT_LIMIT: the smallest above lo
            j = pos_lo - 1
            tie = float(np.min(t_sorted[j >= 0] - c_sorted[j[j >= 0]]))
            return (tie, *_kth_pairwise_diffs(t_sorted, c_sorted, k + 1, sample, m - 1))
        before = n_hi - n_lo
        for target in (k - SELECT_LIMIT // 4, k + SELECT_LIMIT // 4):
            if n_lo < target < n_hi:
                probe(f_lo + (f_hi - f_lo) * (target - n_lo) / (n_hi - n_lo))
        if n_hi - n_lo > before // 2:  # interpolation did not halve it: bisect
            f_lo = lo if math.isfinite(lo) else span[0]
            f_hi = hi if math.isfinite(hi) else span[1]
            probe(0.5 * (f_lo + f_hi))
    d = _pairs_between(t_sorted, c_sorted, pos_hi, pos_lo)
    inside = min(m, n_hi - k + 1)  # the ranks the bracket holds (the following ones lie above hi)
    ranks = [min(max(j - n_lo, 1), d.size) - 1 for j in range(k, k + inside)]
    part = np.partition(d, ranks)
    found = tuple(float(part[r]) for r in ranks)
    return found + _kth_pairwise_diffs(t_sorted, c_sorted, k + inside, sample, m - inside)


def hodges_lehmann(
    control: np.ndarray, treatment: np.ndarray, *, level: float = 0.95, rng: np.random.Generator | None = None
) -> Interval:
    """Hodges-Lehmann shift ``treatment - control`` with the Moses distribution-free interval.

    >>> hodges_lehmann(np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])).estimate
    10.0
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    c = np.sort(_as_array(control, "control"))
    t = np.sort(_as_array(treatment, "treatment"))
    n1, n2 = t.size, c.size
    n_pairs = n1 * n2
    z = float(sps.norm.ppf(0.5 + level / 2))
    ca = math.floor(n_pairs / 2 - z * math.sqrt(n_pairs * (n1 + n2 + 1) / 12.0))
    k_lo = min(max(ca, 1), n_pairs)
    k_hi = min(max(n_pairs - ca + 1, 1), n_pairs)
    if n_pairs <= PAIRS_LIMIT:
        d = np.sort(np.subtract.outer(t, c).ravel())
        est = float(np.median(d))
        return Interval(est, float(d[k_lo - 1]), float(d[k_hi - 1]), level)
    sample = np.sort(t[rng.integers(0, n1, 20_000)] - c[rng.integers(0, n2, 20_000)])
    if n_pairs % 2:
        est = _kth_pairwise_diff(t, c, (n_pairs + 1) // 2, sample)
    else:
        est = 0.5 * sum(_kth_pairwise_diffs(t, c, n_pairs // 2, sample, 2))
    return Interval(est, _kth_pairwise_diff(t, c, k_lo, sample), _kth_pairwise_diff(t, c, k_hi, sample), level)


def median_paired(diff: np.ndarray, *, level: float = 0.95) -> Interval:
    """Median of paired differences with the binomial (sign-test) order-statistic interval.

    >>> median_paired(np.arange(-5.0, 6.0)).estimate
    0.0
    """
    d = np.sort(_as_array(diff, "differences"))
    n = d.size
    est = float(np.median(d))
    j = int(sps.binom.ppf((1 - level) / 2, n, 0.5))  # lower rank (0-based after -1 below)
    lo_i = max(j - 1, 0)
    hi_i = min(n - j, n - 1)
    return Interval(est, float(d[lo_i]), float(d[hi_i]), level)


# ---- bootstrap ---------------------------------------------------------------------------------


def quantile_sorted(xs: np.ndarray, q: float) -> float:
    """``numpy.quantile(xs, q)`` (linear method) of an already sorted array, in O(1).

    >>> quantile_sorted(np.array([1.0, 2.0, 3.0, 4.0]), 0.5)
    2.5
    """
    pos = q * (xs.size - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, xs.size - 1)
    return float(xs[lo] + (pos - lo) * (xs[hi] - xs[lo]))


def _pct(reps: Mapping[str, np.ndarray], level: float) -> dict[str, tuple[float, float]]:
    """Percentile interval of each metric's replicates, in one ``np.quantile`` call."""
    a = (1 - level) / 2
    names = list(reps)
    bounds = np.quantile(np.stack([reps[n] for n in names]), [a, 1 - a], axis=1)
    return {n: (float(bounds[0, i]), float(bounds[1, i])) for i, n in enumerate(names)}


def _bootstrap_resample(
    c: np.ndarray, t: np.ndarray, paired: bool, n_boot: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of each metric's delta by real resampling (chunked, vectorised)."""
    out: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
    qs = [q for q in METRICS.values() if q is not None]
    chunk = max(1, RESAMPLE_LIMIT // 4 // max(c.size, t.size))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        ic = rng.integers(0, c.size, (b, c.size))
        it = ic if paired else rng.integers(0, t.size, (b, t.size))
        rc, rt = c[ic], t[it]
        dq = np.quantile(rt, qs, axis=1) - np.quantile(rc, qs, axis=1)
        for name, row in zip((k for k, q in METRICS.items() if q is not None), dq, strict=True):
            out[name].append(row)
        out["mean"].append(rt.mean(axis=1) - rc.mean(axis=1))
        done += b
    return {k: np.concatenate(v) for k, v in out.items()}


def _bootstrap_linearised(
    c: np.ndarray, t: np.ndarray, paired: bool, n_boot: int, rng: np.random.Generator, cs: np.ndarray, ts: np.ndarray
) -> dict[str, np.ndarray]:
    """Bootstrap replicates by the Bahadur linearisation (see the module docstring); ``cs``/``ts`` sorted."""
    out: dict[str, np.ndarray] = {}
    nc, nt = c.size, t.size
    for name, q in METRICS.items():
        if q is None:
            if paired:
                d = t - c
                out[name] = rng.normal(d.mean(), d.std(ddof=1) / math.sqrt(nt), n_boot)
            else:
                sd = math.sqrt(c.var(ddof=1) / nc + t.var(ddof=1) / nt)
                out[name] = rng.normal(t.mean() - c.mean(), sd, n_boot)
            continue
        qc, qt = quantile_sorted(cs, q), quantile_sorted(ts, q)
        below_c, below_t = c <= qc, t <= qt
        fc, ft = below_c.mean(), below_t.mean()
        if paired:
            p11 = float(np.mean(below_c & below_t))
            p10, p01 = fc - p11, ft - p11
            probs = np.clip([p11, p10, p01, 1.0 - p11 - p10 - p01], 0.0, 1.0)
            counts = rng.multinomial(nc, probs / probs.sum(), size=n_boot)
            fc_star = (counts[:, 0] + counts[:, 1]) / nc
            ft_star = (counts[:, 0] + counts[:, 2]) / nt
        else:
            fc_star = rng.binomial(nc, fc, n_boot) / nc
            ft_star = rng.binomial(nt, ft, n_boot) / nt
        rc = np.clip(np.rint((q - (fc_star - fc)) * nc - 0.5), 0, nc - 1).astype(np.int64)
        rt = np.clip(np.rint((q - (ft_star - ft)) * nt - 0.5), 0, nt - 1).astype(np.int64)
        # anchor on the interpolated sample quantile so the replicates centre on the estimate
        out[name] = (ts[rt] - ts[_rank(q, nt)] + qt) - (cs[rc] - cs[_rank(q, nc)] + qc)
    return out


def _rank(q: float, n: int) -> int:
    return int(min(max(round(q * n - 0.5), 0), n - 1))


# ---- compare -----------------------------------------------------------------------------------


def verdict_of(
    interval: Interval,
    *,
    base: float,
    min_effect: float,
    min_effect_abs: float = 0.0,
    significant: bool = True,
    lower_is_better: bool = True,
) -> str:
    """``improves`` / ``regresses`` / ``no significant difference`` for one decisive interval.

    >>> verdict_of(Interval(-5.0, -7.0, -3.0), base=100.0, min_effect=0.01)
    'improves'
    >>> verdict_of(Interval(-0.5, -0.7, -0.3), base=100.0, min_effect=0.01)
    'no significant difference'
    """
    threshold = max(min_effect * abs(base), min_effect_abs)
    sign = 1.0 if lower_is_better else -1.0
    est, lo, hi = sign * interval.estimate, sign * interval.lo, sign * interval.hi
    lo, hi = min(lo, hi), max(lo, hi)
    if not significant:
        return NO_DIFFERENCE
    if hi < 0 and -est >= threshold:
        return IMPROVES
    if lo > 0 and est >= threshold:
        return REGRESSES
    return NO_DIFFERENCE


def compare(
    control: object,
    treatment: object,
    *,
    paired: bool = False,
    decide_on: str = "shift",
    alpha: float = 0.05,
    min_effect: float = 0.01,
    min_effect_abs: float = 0.0,
    lower_is_better: bool = True,
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
    with_test: bool | None = None,
    presorted: tuple[np.ndarray, np.ndarray] | None = None,
) -> Comparison:
    """Judge ``treatment`` against ``control`` for one metric (see the module docstring).

    Parameters
    ----------
    control, treatment
        Samples of the metric; non-finite values are dropped (pairwise when ``paired``).
    paired
        The two arrays are the same units (requests) under both arms, in the same order.
    decide_on
        ``"shift"`` (Hodges-Lehmann / median paired difference, with the test's p-value) or one of
        ``p50``, ``p95``, ``p99``, ``mean`` (bootstrap interval).
    alpha
        Significance level; intervals are at ``1 - alpha``.
    min_effect, min_effect_abs
        The smallest change worth a verdict other than "no significant difference": relative to
        the control's level of the decisive metric (its median for ``shift``), and absolute.
    with_test
        Compute the rank test and the shift interval (default: only when deciding on ``shift``,
        the one verdict that needs them); when skipped, ``p_value`` and ``shift`` are NaN.
    presorted
        ``np.sort`` of ``control`` and of ``treatment``, when the caller has them already (used only
        when every value is finite, i.e. nothing was dropped; saves sorting them again).

    Raises
    ------
    ValueError
        When a sample has no finite value, paired arrays differ in length, or ``decide_on`` is
        unknown (programming errors, not user errors).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    level = 1 - alpha
    c_raw = np.asarray(control, dtype=float).ravel()
    t_raw = np.asarray(treatment, dtype=float).ravel()
    if decide_on != "shift" and decide_on not in METRICS:
        raise ValueError(f"decide_on must be 'shift' or one of {sorted(METRICS)}, not {decide_on!r}")
    with_test = decide_on == "shift" if with_test is None else with_test
    nan_iv = Interval(math.nan, math.nan, math.nan, level)
    if paired:
        if c_raw.shape != t_raw.shape:
            raise ValueError(f"paired samples differ in length: {c_raw.size} vs {t_raw.size}")
        ok = np.isfinite(c_raw) & np.isfinite(t_raw)
        c, t = _as_array(c_raw[ok], "control"), _as_array(t_raw[ok], "treatment")
        diff = t - c
        test = "wilcoxon-signed-rank" if with_test else "none"
        p_value, shift = math.nan, nan_iv
        if with_test:
            p_value = float(sps.wilcoxon(diff, zero_method="zsplit").pvalue) if np.any(diff != 0) else 1.0
            shift = median_paired(diff, level=level)
    else:
        c, t = _as_array(c_raw, "control"), _as_array(t_raw, "treatment")
        test = "mann-whitney-u" if with_test else "none"
        p_value, shift = math.nan, nan_iv
    if (
        presorted is not None
        and presorted[0].size == c_raw.size == c.size
        and presorted[1].size == t_raw.size == t.size
    ):
        cs, ts = presorted
    else:
        cs, ts = np.sort(c), np.sort(t)
    if with_test and not paired and min(cs[0], ts[0]) == max(cs[-1], ts[-1]):
        p_value, shift = 1.0, Interval(0.0, 0.0, 0.0, level)
    elif with_test and not paired:
        # U depends on the samples, not their order: sorted, scipy's stable ranking merges two runs
        p_value = float(sps.mannwhitneyu(ts, cs, alternative="two-sided", method="asymptotic").pvalue)
        shift = hodges_lehmann(cs, ts, level=level, rng=rng)
    big = max(c.size, t.size) * n_boot > RESAMPLE_LIMIT
    if big:
        reps = _bootstrap_linearised(c, t, paired, n_boot, rng, cs, ts)
    else:
        reps = _bootstrap_resample(c, t, paired, n_boot, rng)
    control_levels = {
        name: (quantile_sorted(cs, q) if q is not None else float(c.mean())) for name, q in METRICS.items()
    }
    deltas: dict[str, Interval] = {}
    bounds = _pct(reps, level)
    for name, q in METRICS.items():
        est = quantile_sorted(ts, q) - quantile_sorted(cs, q) if q is not None else float(t.mean() - c.mean())
        lo, hi = bounds[name]
        deltas[name] = Interval(est, min(lo, est), max(hi, est), level)
    if decide_on == "shift":
        decisive, base, significant = shift, control_levels["p50"], p_value < alpha
    else:
        decisive, base, significant = deltas[decide_on], control_levels[decide_on], True
    verdict = verdict_of(
        decisive,
        base=base,
        min_effect=min_effect,
        min_effect_abs=min_effect_abs,
        significant=significant,
        lower_is_better=lower_is_better,
    )
    return Comparison(
        n_control=int(c.size),
        n_treatment=int(t.size),
        paired=paired,
        test=test,
        p_value=p_value,
        shift=shift,
        deltas=MappingProxyType(deltas),
        control=MappingProxyType(control_levels),
        decide_on=decide_on,
        min_effect=min_effect,
        min_effect_abs=min_effect_abs,
        alpha=alpha,
        lower_is_better=lower_is_better,
        verdict=verdict,
        method="linearised" if big else "resample",
    )
