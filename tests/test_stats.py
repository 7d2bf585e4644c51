"""stats.py: known numbers, the two Hodges-Lehmann paths agree, the two bootstraps agree, verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from recipemut.judge import stats
from recipemut.judge.stats import IMPROVES, NO_DIFFERENCE, REGRESSES, Interval, compare, hodges_lehmann, verdict_of


def test_hodges_lehmann_known_numbers() -> None:
    c = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.array([3.0, 5.0, 6.0])
    # all 12 differences t - c: median of sorted [-1,0,1,1,2,2,2,3,3,4,4,5] is 2
    assert hodges_lehmann(c, t).estimate == 2.0


def test_hodges_lehmann_bisection_equals_exhaustive(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    c = rng.lognormal(3, 0.7, 1500)
    t = rng.lognormal(3.1, 0.7, 900)
    exhaustive = hodges_lehmann(c, t)
    monkeypatch.setattr(stats, "PAIRS_LIMIT", 10)
    bisected = hodges_lehmann(c, t)
    for a, b in [(exhaustive.estimate, bisected.estimate), (exhaustive.lo, bisected.lo), (exhaustive.hi, bisected.hi)]:
        assert a == pytest.approx(b, rel=1e-8, abs=1e-8)
    assert exhaustive.lo < exhaustive.estimate < exhaustive.hi


@pytest.mark.parametrize("select_limit", [1, 500, 50_000])
@pytest.mark.parametrize("ties", [False, True])
def test_kth_pairwise_difference_is_exact(select_limit: int, ties: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bracket-and-select path returns exactly the k-th of all sorted pairwise differences,
    with heavy ties too, whether the bracket is narrowed a lot (small limit) or barely."""
    rng = np.random.default_rng(7)
    c = np.sort(rng.integers(0, 5, 700).astype(float) if ties else rng.lognormal(3, 0.7, 700))
    t = np.sort(rng.integers(0, 5, 400).astype(float) if ties else rng.lognormal(3.1, 0.7, 400))
    every = np.sort(np.subtract.outer(t, c).ravel())
    sample = np.sort(t[rng.integers(0, t.size, 2000)] - c[rng.integers(0, c.size, 2000)])
    monkeypatch.setattr(stats, "SELECT_LIMIT", select_limit)
    for k in (1, 2, 137, every.size // 2, every.size - 5, every.size):
        assert stats._kth_pairwise_diff(t, c, k, sample) == every[k - 1], k
        j = max(k - 1, 1)  # a rank and the next, as for the median of an even number of pairs
        assert stats._kth_pairwise_diffs(t, c, j, sample, 2) == (every[j - 1], every[j])
    monkeypatch.setattr(stats, "PAIRS_LIMIT", 10)
    hl = hodges_lehmann(c, t)
    assert hl.estimate == float(np.median(every))


def test_hodges_lehmann_interval_covers_true_shift() -> None:
    rng = np.random.default_rng(4)
    c = rng.normal(100, 10, 3000)
    t = rng.normal(100, 10, 3000) + 5.0
    hl = hodges_lehmann(c, t)
    assert hl.lo < 5.0 < hl.hi
    assert hl.hi - hl.lo < 2.0


def test_median_paired_interval() -> None:
    d = np.arange(1.0, 101.0)  # median 50.5
    iv = stats.median_paired(d)
    assert iv.estimate == 50.5
    # sign-test interval for n=100 at 95%: order statistics 40 and 61 (1-based)
    assert (iv.lo, iv.hi) == (40.0, 61.0)


@pytest.mark.parametrize("paired", [True, False])
def test_linearised_bootstrap_agrees_with_resampling(paired: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    c = rng.lognormal(4, 0.5, 4000)
    t = c * np.where(rng.random(4000) < 0.5, 0.85, 1.0) + rng.normal(0, 2, 4000)
    if not paired:
        t = t[:2500]
    monkeypatch.setattr(stats, "RESAMPLE_LIMIT", 10**12)
    real = compare(c, t, paired=paired, n_boot=2000, rng=np.random.default_rng(1))
    assert real.method == "resample"
    monkeypatch.setattr(stats, "RESAMPLE_LIMIT", 1)
    lin = compare(c, t, paired=paired, n_boot=4000, rng=np.random.default_rng(1))
    assert lin.method == "linearised"
    for name in ("p50", "p95", "mean"):
        a, b = real.deltas[name], lin.deltas[name]
        assert a.estimate == b.estimate
        width = a.hi - a.lo
        assert abs(a.lo - b.lo) < 0.2 * width, name
        assert abs(a.hi - b.hi) < 0.2 * width, name


def test_bootstrap_interval_covers_true_quantile_shift() -> None:
    rng = np.random.default_rng(6)
    base = rng.lognormal(5, 0.4, 30000)
    mutated = base * 0.9  # every quantile drops by 10%
    cmp = compare(base, mutated, paired=True, decide_on="p95")
    true = float(np.quantile(mutated, 0.95) - np.quantile(base, 0.95))
    assert cmp.deltas["p95"].lo <= true <= cmp.deltas["p95"].hi
    assert cmp.verdict == IMPROVES
    # deciding on p95 needs no rank test: skipped unless asked for
    assert cmp.test == "none" and np.isnan(cmp.p_value) and np.isnan(cmp.shift.estimate)
    tested = compare(base, mutated, paired=True, decide_on="p95", with_test=True)
    assert tested.test == "wilcoxon-signed-rank" and tested.p_value < 1e-9
    assert tested.shift.hi < 0


def test_mann_whitney_p_value_is_scipys() -> None:
    rng = np.random.default_rng(7)
    c, t = rng.normal(0, 1, 500), rng.normal(0.3, 1, 400)
    cmp = compare(c, t)
    assert cmp.p_value == pytest.approx(sps.mannwhitneyu(t, c, method="asymptotic").pvalue)
    assert cmp.test == "mann-whitney-u"


def test_verdicts_on_known_samples() -> None:
    rng = np.random.default_rng(8)
    c = rng.lognormal(4, 0.3, 3000)
    assert compare(c, rng.lognormal(4, 0.3, 3000) * 0.8).verdict == IMPROVES
    assert compare(c, rng.lognormal(4, 0.3, 3000) * 1.2).verdict == REGRESSES
    assert compare(c, rng.lognormal(4, 0.3, 3000)).verdict == NO_DIFFERENCE
    # significant but below the minimum effect size
    tiny = compare(c, c * 0.995, paired=True, decide_on="mean", min_effect=0.02)
    assert tiny.deltas["mean"].hi < 0
    assert tiny.verdict == NO_DIFFERENCE
    # higher is better: a drop regresses
    assert compare(c, c * 0.8, paired=True, decide_on="mean", lower_is_better=False).verdict == REGRESSES


def test_verdict_of_rules() -> None:
    assert verdict_of(Interval(-5, -7, -3), base=100, min_effect=0.01) == IMPROVES
    assert verdict_of(Interval(5, 3, 7), base=100, min_effect=0.01) == REGRESSES
    assert verdict_of(Interval(-5, -7, 1), base=100, min_effect=0.01) == NO_DIFFERENCE
    assert verdict_of(Interval(-5, -7, -3), base=100, min_effect=0.01, significant=False) == NO_DIFFERENCE
    assert verdict_of(Interval(-5, -7, -3), base=100, min_effect=0.0, min_effect_abs=6) == NO_DIFFERENCE


def test_identical_samples_and_bad_input() -> None:
    c = np.full(100, 3.0)
    cmp = compare(c, c.copy(), paired=True)
    assert cmp.p_value == 1.0 and cmp.verdict == NO_DIFFERENCE
    assert compare(c, c.copy()).p_value == 1.0
    with pytest.raises(ValueError, match="no finite values"):
        compare(np.array([np.nan]), np.array([1.0]))
    with pytest.raises(ValueError, match="differ in length"):
        compare(np.ones(3), np.ones(4), paired=True)
    with pytest.raises(ValueError, match="decide_on"):
        compare(np.ones(3), np.ones(4), decide_on="p42")


def test_comparison_to_dict_round_numbers() -> None:
    c = np.arange(1.0, 101.0)
    d = compare(c, c + 10, paired=True, decide_on="mean").to_dict()
    assert d["deltas"]["mean"]["delta"] == pytest.approx(10.0)  # type: ignore[index]
    assert d["verdict"] == REGRESSES  # latency up by 10 on a median of 50: worse


@pytest.mark.parametrize("paired", [True, False])
def test_presorted_samples_give_the_same_comparison(paired: bool) -> None:
    """A caller's sorted copies only save the sort; with a value dropped (NaN) they are ignored."""
    rng = np.random.default_rng(9)
    c = rng.lognormal(4, 0.4, 3000)
    t = c * 0.9 + rng.normal(0, 1, 3000) if paired else rng.lognormal(3.9, 0.4, 2000)
    plain = compare(c, t, paired=paired, rng=np.random.default_rng(2)).to_dict()
    given = compare(c, t, paired=paired, rng=np.random.default_rng(2), presorted=(np.sort(c), np.sort(t)))
    assert given.to_dict() == plain
    t_nan = t.copy()
    t_nan[5] = np.nan
    stale = (np.sort(c), np.sort(t))  # sorted before the NaN: must not be used
    with_nan = compare(c, t_nan, paired=paired, rng=np.random.default_rng(2), presorted=stale)
    assert with_nan.to_dict() == compare(c, t_nan, paired=paired, rng=np.random.default_rng(2)).to_dict()
