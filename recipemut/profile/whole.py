"""A profile of a sample given the whole log's per-operation figures.

The partitioned engines (:mod:`recipemut.logs.distributed`) bring back the spans of the sampled
requests, which :func:`~recipemut.profile.build.build_profile` turns into the request matrices replay
needs, and the whole log's :class:`~recipemut.logs.distributed.LogFigures`. :func:`with_log_figures`
puts the latter in the profile: each operation's count, p50/p95/p99 (from the merged histograms),
means, error and halt rates, run share and cost share are those of every span of the log; the
critical-path figures (critical share, tail time) stay the sample's, and the request-rate series
counts every request.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from recipemut.logs.distributed import LogFigures
from recipemut.profile.build import Profile, far_off_note, far_off_starts, rate_bin_for, rate_series
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)


def with_log_figures(profile: Profile, figures: LogFigures, recipe: Recipe, *, per_operation: bool = True) -> Profile:
    """``profile`` (built on the sample) with the whole log's per-operation figures and rate series.

    When some span carries a ``span_id`` or ``parent_span_id`` (``figures.calls``), the profile folds
    calls per request and charges nested spans their own time, which per-span figures cannot
    follow: the per-operation figures then stay the sample's, and only the rate series changes.
    ``per_operation=False`` keeps them the sample's too: the profile was built on some of the
    variants only (a canary's spans left out), and the whole log's figures count every variant.
    """
    rate = profile.rate
    bin_s = profile.rate_bin_s
    left_out = profile.rate_left_out
    if figures.start_ms.size:
        far = far_off_starts(figures.start_ms)
        if far.any() and not left_out:  # the profile warned when its sample held them
            log.warning("%s", far_off_note(figures.start_ms, far))
        left_out = max(left_out, int(far.sum()))
        starts = figures.start_ms[~far]
        bin_s = rate_bin_for((float(starts.max()) - float(starts.min())) / 1000.0)
        rates = np.where(np.isfinite(figures.rates) & (figures.rates > 0), figures.rates, 1.0)[~far]
        rate = rate_series(starts, 1.0 / rates, bin_s)
    if figures.calls or not per_operation:
        return dataclasses.replace(profile, rate=rate, rate_bin_s=bin_s, rate_left_out=left_out)
    col = {op: j for j, op in enumerate(figures.ops)}
    declared = np.array([recipe.ops[op].cost_per_call_usd or np.nan for op in figures.ops], dtype=float)
    priced = figures.sums["cost_usd"] + np.nan_to_num(declared) * (figures.count - figures.nonnull["cost_usd"])
    n_priced = np.where(np.isnan(declared), figures.nonnull["cost_usd"], figures.count)
    with np.errstate(invalid="ignore", divide="ignore"):
        cost_mean = np.where(n_priced > 0, priced / np.maximum(n_priced, 1), np.nan)
    total_cost = float(priced.sum())
    n = max(figures.requests_total, 1)
    ops = []
    for s in profile.ops:
        j = col[s.op]
        ops.append(
            dataclasses.replace(
                s,
                count=int(figures.count[j]),
                p50_ms=float(figures.p50[j]),
                p95_ms=float(figures.p95[j]),
                p99_ms=float(figures.p99[j]),
                mean_ms=float(figures.means["latency_ms"][j]),
                cost_mean_usd=float(cost_mean[j]),
                cpu_mean_ms=float(figures.means["cpu_ms"][j]),
                bytes_in_mean=float(figures.means["bytes_in"][j]),
                bytes_out_mean=float(figures.means["bytes_out"][j]),
                mem_mean_mb=float(figures.means["mem_mb"][j]),
                error_rate=float(figures.error_rate[j]),
                halt_rate=float(figures.halt_rate[j]),
                run_share=float(figures.count[j] / n),
                cost_share=float(priced[j] / total_cost) if total_cost > 0 else 0.0,
            )
        )
    return dataclasses.replace(profile, ops=tuple(ops), rate=rate, rate_bin_s=bin_s, rate_left_out=left_out)


__all__ = ["with_log_figures"]
