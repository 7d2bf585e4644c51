"""Intervals for a change in a rate (a share of requests that erred, or halted), canary against primary.

A rate is a proportion: its change is ``p_treatment - p_control``, which lies in ``[-1, 1]``, and a
bootstrap of 0/1 values is a poor interval for it with few requests or rare events (one canary
request gave a halt rate of 50% "−50%..+134%", and none gave NaN). :func:`rate_change` uses
Newcombe's hybrid score interval (Wilson's score interval of each proportion, combined; Newcombe
1998, method 10; ``statsmodels.stats.proportion.confint_proportions_2indep(method="newcomb")``):
defined for any counts (zero events, one request), never outside ``[-1, 1]``, and close to its level
where the Wald interval is not.

>>> iv = rate_change(np.zeros(2400), np.r_[1.0, 0.0])  # 1 of 2 canary requests halted, none of 2,400
>>> round(iv.estimate, 3), round(iv.lo, 3), round(iv.hi, 3)
(0.5, 0.095, 0.905)
"""

from __future__ import annotations

import numpy as np
from statsmodels.stats.proportion import confint_proportions_2indep

from recipemut.judge.stats import Interval


def rate_change(control: np.ndarray, treatment: np.ndarray, *, level: float = 0.95) -> Interval:
    """``mean(treatment) - mean(control)`` of two 0/1 samples with its Newcombe interval at ``level``,
    clipped to what the treatment's rate can be (``[-p_control, 1 - p_control]``).

    >>> rate_change(np.array([0.0, 1.0, 0.0, 0.0]), np.array([1.0, 1.0])).estimate
    0.75
    """
    c = np.asarray(control, dtype=float)
    t = np.asarray(treatment, dtype=float)
    n_c, n_t = int(c.size), int(t.size)
    k_c, k_t = float(c.sum()), float(t.sum())
    p_c, p_t = k_c / n_c, k_t / n_t
    lo, hi = confint_proportions_2indep(k_t, n_t, k_c, n_c, method="newcomb", compare="diff", alpha=1 - level)
    est = p_t - p_c
    lo = min(max(float(lo), -p_c), est) + 0.0  # + 0.0: no -0.0 ("-0.00%") when the primary's rate is 0
    hi = max(min(float(hi), 1 - p_c), est)
    return Interval(est, lo, hi, level)
