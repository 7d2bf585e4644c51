"""The hedged-request latency model: what duplicating a slow call after a delay does to latency.

A hedged operation (``hedge: {after_ms, max_extra}``) sends the same request again when no answer
has come after ``after_ms`` (the ``i``-th extra at ``i * after_ms``, at most ``max_extra`` extras),
and takes the first answer. With the original call's latency ``L1`` and independent draws ``L2..``
from the operation's own latency distribution, the hedged latency is
``min(L1, after + L2, 2 * after + L3, ...)`` over the extras actually sent; an extra is sent only
when no answer has arrived by its send time, and every extra is a call paid for (cost, load).

Independence of the duplicate's latency is the model's main assumption: it holds for tails caused
by a slow replica, GC pause or queueing on one instance, not for a request that is slow everywhere
(a big payload). The prediction is optimistic exactly as far as tails are request-specific.

>>> import numpy as np
>>> lat = np.array([10.0, 50.0, 400.0, np.nan])
>>> out, extra = hedged_latency(lat, 100.0, np.random.default_rng(0), np.array([20.0]))
>>> out.tolist()[:3], extra.tolist()
([10.0, 50.0, 120.0], [0, 0, 1, 0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: An operation's tail is heavy enough to hedge when p99 / p50 is at least this.
HEAVY_TAIL_RATIO = 4.0
#: Fewest ok calls an operation needs before a hedge is proposed (p99 needs data).
MIN_CALLS = 100
#: Delays tried, as quantiles of the operation's own latency.
DEFAULT_QUANTILES: tuple[float, ...] = (0.9, 0.95, 0.99)
#: Most extra calls per call a proposed hedge may add on average.
MAX_EXTRA_RATE = 0.1


def hedged_latency(
    lat: np.ndarray,
    after_ms: float,
    rng: np.random.Generator,
    samples: np.ndarray,
    *,
    max_extra: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Latency of each call under a hedge, and the number of extra calls it sent.

    ``lat``: the calls' recorded latencies (NaN where the operation did not run: stays NaN, no
    extra). ``samples``: the operation's latency distribution the duplicates draw from.
    Vectorised over calls; the loop is over the (few) extras.
    """
    lat = np.asarray(lat, dtype=np.float64)
    pool = np.asarray(samples, dtype=np.float64)
    pool = pool[np.isfinite(pool)]
    if pool.size == 0:
        raise ValueError("hedged_latency needs at least one finite latency sample")
    out = lat.copy()
    extra = np.zeros(lat.shape, dtype=np.int64)
    for i in range(1, max_extra + 1):
        send_at = i * after_ms
        sent = out > send_at  # NaN compares False: no extra for calls that did not run
        if not sent.any():
            break
        dup = send_at + rng.choice(pool, size=int(sent.sum()))
        out[sent] = np.minimum(out[sent], dup)
        extra[sent] += 1
    return out, extra


@dataclass(frozen=True)
class HedgeChoice:
    """The delay chosen for a hedge and the predicted effect on the operation's own latency."""

    after_ms: float
    quantile: float
    p50_ms: float
    p99_before_ms: float
    p99_after_ms: float
    extra_rate: float  # extra calls per call


def choose(
    lat: np.ndarray,
    *,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    max_extra_rate: float = MAX_EXTRA_RATE,
    seed: int = 0,
) -> HedgeChoice | None:
    """Pick the delay (a quantile of the op's own latency) that minimises its predicted p99.

    Only delays sending at most ``ceil(max_extra_rate (n - 1))`` extra calls for ``n`` calls are
    considered: the calls above an interpolated quantile ``q`` of ``n`` latencies are
    ``ceil((1 - q) (n - 1))``, which can be one over ``(1 - q) n``, so a cap of ``max_extra_rate n``
    kept or refused the p90 delay under a 10% cap by the sample size alone. ``None`` when none
    improves the p99. Deterministic for a given ``seed``.
    """
    x = np.asarray(lat, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    p50, p99 = (float(v) for v in np.quantile(x, [0.5, 0.99]))
    best: HedgeChoice | None = None
    allowed = math.ceil(max_extra_rate * (x.size - 1) - 1e-9)  # extra calls; 1e-9: 0.1 * 1000 is not 100.0...1
    for q in sorted(quantiles):
        after = float(np.quantile(x, q))
        out, extra = hedged_latency(x, after, np.random.default_rng(seed), x)
        rate = float(extra.mean())
        new_p99 = float(np.quantile(out, 0.99))
        if int(extra.sum()) > allowed or new_p99 >= p99:
            continue
        if best is None or new_p99 < best.p99_after_ms:
            best = HedgeChoice(after, q, p50, p99, new_p99, rate)
    return best
