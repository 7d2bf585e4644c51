"""Capacity: Little's law per service against a rate forecast, and how a mutation moves it.

1. :func:`outlook` applies Little's law per service: mean concurrency = request rate x busy time
   per request (the service's operations' latency summed over a request, averaged over requests,
   so an operation that runs on 30% of requests counts 30%). Utilisation = concurrency /
   (replicas x concurrency_per_replica). It reports the current peak, the first forecast time at
   which utilisation reaches ``target_utilization`` (for the point forecast, and for the upper and
   lower interval bounds: the earliest and latest plausible dates), and the replicas the forecast
   peak needs at the target.
2. :func:`headroom_change` compares two busy-time maps (before and after a mutation) against the
   same rate forecast — what ``suggest`` shows per mutation, and the ``headroom`` objective.
3. :func:`capacity_report` runs the whole chain from plain arrays: rate series, forecast, one
   outlook per service, and optionally the backtest.

The rate series and its forecast are :mod:`recipemut.forecast.rates`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from recipemut.files.units import days_text
from recipemut.forecast.rates import (
    DAY_S,
    DEFAULT_HORIZON_DAYS,
    DEFAULT_LEVEL,
    Backtest,
    RateForecast,
    RateSeries,
    backtest,
    forecast_rate,
    rate_series,
    utc_datetime,
)
from recipemut.recipe.model import Recipe

#: far-off request starts the JSON lists (the count gives them all)
LEFT_OUT_LISTED = 20
#: level of the Poisson interval of the current peak (the alarm needs its lower bound over the target)
PEAK_LEVEL = 0.95


# ---- capacity: Little's law per service -----------------------------------------------------


@dataclass(frozen=True)
class ServiceOutlook:
    """One service's load now and in the forecast."""

    service: str
    busy_ms: float  # per request
    replicas: int | None  # None: the recipe declares no capacity for it
    concurrency_per_replica: int | None
    target: float | None
    current_peak_rps: float
    current_peak_util: float | None
    status: str  # over-now | crosses | clear | undated | no-capacity
    crossing: datetime | None = None  # point forecast reaches the target
    crossing_earliest: datetime | None = None  # upper bound reaches it
    crossing_latest: datetime | None = None  # lower bound reaches it
    forecast_peak_rps: float | None = None
    forecast_peak_util: float | None = None
    replicas_needed: int | None = None  # for the forecast peak (point) at the target
    replicas_needed_upper: int | None = None  # for the upper bound's peak
    replicas_needed_now: int | None = None  # for the current peak
    #: Poisson interval (:data:`PEAK_LEVEL`) of the current peak, from the logged requests in its bin
    current_peak_rps_lo: float | None = None
    current_peak_rps_hi: float | None = None
    current_peak_sampled: int | None = None  # logged requests in the peak bin

    @property
    def capacity(self) -> int | None:
        if self.replicas is None or self.concurrency_per_replica is None:
            return None
        return self.replicas * self.concurrency_per_replica

    def peak_util_interval(self, nd: int | None = None) -> list[float] | None:
        """The current peak's utilisation interval (Poisson noise of the sampled requests)."""
        cap = self.capacity
        if cap is None or self.current_peak_rps_lo is None or self.current_peak_rps_hi is None:
            return None
        lo, hi = (x * self.busy_ms / 1000.0 / cap for x in (self.current_peak_rps_lo, self.current_peak_rps_hi))
        return [lo, hi] if nd is None else [round(lo, nd), round(hi, nd)]

    def days_to(self, when: datetime | None, now: datetime) -> float | None:
        return None if when is None else (when - now).total_seconds() / DAY_S

    def to_dict(self, now: datetime) -> dict[str, object]:
        iso = lambda d: None if d is None else d.isoformat().replace("+00:00", "Z")  # noqa: E731
        return {
            "service": self.service,
            "busy_ms_per_request": round(self.busy_ms, 4),
            "replicas": self.replicas,
            "concurrency_per_replica": self.concurrency_per_replica,
            "capacity": self.capacity,
            "target_utilization": self.target,
            "current_peak_rps": round(self.current_peak_rps, 6),
            "current_peak_utilization": None if self.current_peak_util is None else round(self.current_peak_util, 6),
            "current_peak_rps_interval": None
            if self.current_peak_rps_lo is None or self.current_peak_rps_hi is None
            else [round(self.current_peak_rps_lo, 6), round(self.current_peak_rps_hi, 6)],
            "current_peak_utilization_interval": self.peak_util_interval(6),
            "current_peak_sampled_requests": self.current_peak_sampled,
            "status": self.status,
            "crossing": iso(self.crossing),
            "crossing_in_days": _round(self.days_to(self.crossing, now)),
            "crossing_earliest": iso(self.crossing_earliest),
            "crossing_latest": iso(self.crossing_latest),
            "forecast_peak_rps": _round(self.forecast_peak_rps),
            "forecast_peak_utilization": _round(self.forecast_peak_util),
            "replicas_needed": self.replicas_needed,
            "replicas_needed_upper": self.replicas_needed_upper,
            "replicas_needed_now": self.replicas_needed_now,
        }


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def _replicas(peak_rps: float, busy_ms: float, per_replica: int, target: float) -> int | None:
    """Replicas that keep ``peak_rps`` at the target; None when the peak is unknown (not a finite number).

    >>> _replicas(10.0, 100.0, 1, 0.5), _replicas(float("nan"), 100.0, 1, 0.5)
    (2, None)
    """
    need = peak_rps * busy_ms / 1000.0 / (per_replica * target) - 1e-9
    return max(1, math.ceil(need)) if math.isfinite(need) else None


def _finite_max(values: np.ndarray) -> float | None:
    """The largest finite value, None when there is none (an interval that could not be computed)."""
    ok = values[np.isfinite(values)]
    return float(ok.max()) if ok.size else None


def _first_at_or_above(values: np.ndarray, threshold: float, index: pd.DatetimeIndex) -> datetime | None:
    hit = values >= threshold
    if not hit.any():
        return None
    return utc_datetime(index[int(np.argmax(hit))])


def poisson_interval(k: int, level: float = PEAK_LEVEL) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson mean from one count.

    >>> [round(x, 2) for x in poisson_interval(30)]
    [20.24, 42.83]
    >>> poisson_interval(0)[0]
    0.0
    """
    from scipy.stats import chi2

    a = 1.0 - level
    lo = 0.0 if k <= 0 else float(chi2.ppf(a / 2, 2 * k)) / 2
    return lo, float(chi2.ppf(1 - a / 2, 2 * k + 2)) / 2


def current_peak(series: RateSeries, level: float = PEAK_LEVEL) -> tuple[float, float, float, int | None]:
    """The highest bin of the last day of history (all of it when shorter): rps, its Poisson interval
    (from the logged requests in the bin, scaled by their mean weight), and that count.

    >>> s = RateSeries(pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC"), np.array([1.0, 2.0]), 3600.0,
    ...                np.array([9, 18]))
    >>> [round(x, 3) for x in current_peak(s)[:3]], current_peak(s)[3]
    ([2.0, 1.185, 3.161], 18)
    """
    hist = series.rps
    if not len(hist):
        return 0.0, 0.0, 0.0, None
    per_day = max(1, round(DAY_S / series.bin_s))
    i = len(hist) - per_day + int(np.argmax(hist[-per_day:])) if len(hist) > per_day else int(np.argmax(hist))
    peak = float(hist[i])
    if series.sampled is None:
        return peak, peak, peak, None
    k = int(series.sampled[i])
    if k == 0:
        return peak, peak, peak, 0
    lo, hi = poisson_interval(k, level)
    return peak, peak * lo / k, peak * hi / k, k


def outlook(
    forecast: RateForecast,
    service: str,
    busy_ms: float,
    *,
    replicas: int | None,
    concurrency_per_replica: int | None,
    target: float | None,
) -> ServiceOutlook:
    """Little's law for one service against a rate forecast.

    The "current peak" is the highest bin of the last day of history (all of it when shorter), with
    the Poisson interval of the logged requests in that bin. A service is "over-now" only when the
    interval's lower bound is at or above the target: the highest of many sparse bins reads high
    by chance, and an alarm must not be sampling noise.
    """
    peak_now, peak_lo, peak_hi, peak_k = current_peak(forecast.history)
    base = ServiceOutlook(
        service, busy_ms, replicas, concurrency_per_replica, target, peak_now, None, "no-capacity",
        current_peak_rps_lo=peak_lo, current_peak_rps_hi=peak_hi, current_peak_sampled=peak_k,
    )  # fmt: skip
    if replicas is None or concurrency_per_replica is None or target is None:
        return base
    capacity = replicas * concurrency_per_replica
    util = lambda rps: rps * busy_ms / 1000.0 / capacity  # noqa: E731
    now_needed = _replicas(peak_now, busy_ms, concurrency_per_replica, target)
    fields: dict[str, object] = {"current_peak_util": util(peak_now), "replicas_needed_now": now_needed}
    if util(peak_lo) >= target:
        fields["status"] = "over-now"
    elif not forecast.dated:
        fields["status"] = "undated"
    if forecast.dated:
        threshold = target * capacity * 1000.0 / busy_ms if busy_ms > 0 else math.inf
        # forecast_rate never returns NaN; a NaN that got here anyway is an unknown, never a number of replicas
        peak, peak_up = _finite_max(forecast.point), _finite_max(forecast.upper)
        fields.update(
            crossing=_first_at_or_above(forecast.point, threshold, forecast.index),
            crossing_earliest=_first_at_or_above(forecast.upper, threshold, forecast.index),
            crossing_latest=_first_at_or_above(forecast.lower, threshold, forecast.index),
            forecast_peak_rps=peak,
            forecast_peak_util=None if peak is None else util(peak),
            replicas_needed=None if peak is None else _replicas(peak, busy_ms, concurrency_per_replica, target),
            replicas_needed_upper=None
            if peak_up is None
            else _replicas(peak_up, busy_ms, concurrency_per_replica, target),
        )
        if "status" not in fields:
            fields["status"] = "crosses" if fields["crossing"] is not None else "clear"
    return replace(base, **fields)  # type: ignore[arg-type]


def service_outlooks(
    forecast: RateForecast, recipe: Recipe, busy_ms: Mapping[str, float]
) -> tuple[ServiceOutlook, ...]:
    """One :class:`ServiceOutlook` per service the recipe uses or declares, sorted by name."""
    names = sorted(set(busy_ms) | set(recipe.services) | {op.service for op in recipe.operations})
    out = []
    for name in names:
        svc = recipe.services.get(name)
        out.append(
            outlook(
                forecast,
                name,
                float(busy_ms.get(name, 0.0)),
                replicas=svc.replicas if svc else None,
                concurrency_per_replica=svc.concurrency_per_replica if svc else None,
                target=svc.target_utilization if svc else None,
            )
        )
    return tuple(out)


# ---- for suggest: how a mutation moves the crossing date and the replicas --------------------


@dataclass(frozen=True)
class HeadroomDelta:
    """One service before and after a mutation."""

    before: ServiceOutlook
    after: ServiceOutlook
    horizon_days: float | None = None  # of the forecast, for "not within the 60-day horizon"

    @property
    def service(self) -> str:
        return self.before.service

    def sentence(self, now: datetime) -> str:
        """``cart: scaling needed in 9.0 days -> 31.0 days; peak replicas 8 -> 5`` (days from ``now``, the
        end of the logs); otherwise e.g. ``cart: scaling needed now (already above target) -> not
        within the 60-day horizon; ...``.

        >>> from datetime import timedelta, timezone
        >>> now = datetime(2025, 12, 7, tzinfo=timezone.utc)
        >>> o = ServiceOutlook("cart", 20.0, 2, 8, 0.7, 10.0, 0.5, "crosses", crossing=now + timedelta(days=9),
        ...                    replicas_needed=8)
        >>> HeadroomDelta(o, replace(o, status="clear", crossing=None, replicas_needed=5), 60.0).sentence(now)
        'cart: scaling needed in 9.0 days -> not within the 60-day horizon; peak replicas 8 -> 5'
        >>> HeadroomDelta(o, replace(o, crossing=now + timedelta(days=31), replicas_needed=5)).sentence(now)
        'cart: scaling needed in 9.0 days -> 31.0 days; peak replicas 8 -> 5'

        When before and after read the same, it is said once:

        >>> clear = replace(o, status="clear", crossing=None)
        >>> HeadroomDelta(clear, replace(clear, replicas_needed=5), 30.0).sentence(now)
        'cart: no scaling needed within the 30-day horizon (nor after this change); peak replicas 8 -> 5'
        """

        def days(o: ServiceOutlook) -> float | None:
            return None if o.status in ("over-now", "undated") else o.days_to(o.crossing, now)

        horizon = f"the {self.horizon_days:g}-day horizon" if self.horizon_days else "the horizon"

        def when(o: ServiceOutlook) -> str:
            if o.status == "over-now":
                return "now (already above target)"
            if o.status == "undated":
                return "undated (no forecast)"
            d = days(o)
            return f"not within {horizon}" if d is None else f"in {days_text(d)}"

        b, a = self.before, self.after
        reps = (
            f"peak replicas {b.replicas_needed} -> {a.replicas_needed}"
            if b.replicas_needed is not None
            else f"replicas for the current peak {b.replicas_needed_now} -> {a.replicas_needed_now}"
        )
        db, da = days(b), days(a)
        if db is not None and da is not None:
            return f"{self.service}: scaling needed in {days_text(db)} -> {days_text(da)}; {reps}"
        wb, wa = when(b), when(a)
        if wb != wa:
            return f"{self.service}: scaling needed {wb} -> {wa}; {reps}"
        if b.status == "over-now":
            return f"{self.service}: scaling needed now (already above target), and still after this change; {reps}"
        if b.status == "undated":
            return f"{self.service}: scaling undated (no forecast), before and after this change; {reps}"
        return f"{self.service}: no scaling needed within {horizon} (nor after this change); {reps}"  # neither crosses


@dataclass(frozen=True)
class HeadroomChange:
    """Per-service crossing/replica changes of a mutation and a scalar score (higher is better)."""

    deltas: tuple[HeadroomDelta, ...]
    score: float
    now: datetime

    def lines(self, *, changed_only: bool = True) -> list[str]:
        """Human sentences, one per service whose busy time the mutation changes."""
        return [
            d.sentence(self.now)
            for d in self.deltas
            if not changed_only or not math.isclose(d.before.busy_ms, d.after.busy_ms, rel_tol=1e-9, abs_tol=1e-9)
        ]

    def to_dict(self) -> dict[str, object]:
        return {
            "score": round(self.score, 6),
            "services": [
                {"service": d.service, "before": d.before.to_dict(self.now), "after": d.after.to_dict(self.now)}
                for d in self.deltas
            ],
            "lines": self.lines(),
        }


def _bottleneck_util(outlooks: Sequence[ServiceOutlook]) -> float:
    vals = [
        o.forecast_peak_util if o.forecast_peak_util is not None else o.current_peak_util
        for o in outlooks
        if o.current_peak_util is not None
    ]
    return max((v for v in vals if v is not None), default=0.0)


def headroom_change(
    forecast: RateForecast,
    recipe: Recipe,
    busy_before: Mapping[str, float],
    busy_after: Mapping[str, float],
) -> HeadroomChange:
    """How a mutation moves each service's crossing date and peak replicas.

    ``busy_before`` / ``busy_after``: mean busy ms per request per service, from the simulation
    of the current and the mutated recipe (same requests). Capacity comes from ``recipe.services``.

    ``score`` is the relative relief of the bottleneck: ``(U_before - U_after) / U_before`` where
    ``U`` is the highest utilisation of any service with declared capacity at the forecast peak (the
    current peak when the forecast is undated). Positive = more headroom, 0 = no change; it is
    what ``suggest --objective headroom`` ranks by.
    """
    before = service_outlooks(forecast, recipe, busy_before)
    after = service_outlooks(forecast, recipe, busy_after)
    u_b, u_a = _bottleneck_util(before), _bottleneck_util(after)
    score = (u_b - u_a) / u_b if u_b > 0 else 0.0
    horizon = len(forecast.index) * forecast.history.bin_s / DAY_S if forecast.dated else None
    deltas = tuple(HeadroomDelta(b, a, horizon) for b, a in zip(before, after, strict=True))
    return HeadroomChange(deltas, score, forecast.now)


# ---- the whole report ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CapacityReport:
    """What ``recipemut forecast`` shows: the rate forecast, each service's outlook, the backtest."""

    recipe: str
    forecast: RateForecast
    services: tuple[ServiceOutlook, ...]
    sample_rate_note: str
    horizon_days: float
    backtest: Backtest | None = None

    def to_dict(self) -> dict[str, object]:
        fc = self.forecast
        now = fc.now
        iso = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731
        hist = fc.history
        return {
            "recipe": self.recipe,
            "now": iso(now),
            "history": {
                "start": iso(utc_datetime(hist.index[0])) if len(hist.index) else None,
                "days": round(hist.history_s / DAY_S, 4),
                "bin_s": hist.bin_s,
                "mean_rps": _round(float(hist.rps.mean()) if len(hist.rps) else 0.0, 6),
                # requests left out as far off (recipemut.profile.build.far_off_starts): how many, their starts
                "left_out_requests": int(hist.left_out_ms.size),
                "left_out_starts": [
                    str(np.datetime64(int(ms), "ms")) + "Z" for ms in hist.left_out_ms[:LEFT_OUT_LISTED]
                ],
            },
            "sampling": self.sample_rate_note,
            "horizon_days": self.horizon_days,
            "model": fc.model,
            "interval_level": fc.level,
            "dated": fc.dated,
            "refused": fc.refused,
            "services": [o.to_dict(now) for o in self.services],
            "backtest": None if self.backtest is None else self.backtest.to_dict(),
        }


def capacity_report(
    recipe: Recipe,
    start_ms: np.ndarray,
    weights: np.ndarray | float | None,
    busy_ms: Mapping[str, float],
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    with_backtest: bool = False,
    sample_rate_note: str = "no tracer sampling declared (sample_rate): every request counted once",
    level: float = DEFAULT_LEVEL,
) -> CapacityReport:
    """Rate series -> forecast -> per-service outlook (-> backtest), from plain arrays."""
    series = rate_series(start_ms, weights)
    fc = forecast_rate(series, horizon_days=horizon_days, level=level)
    outs = service_outlooks(fc, recipe, busy_ms)
    bt = backtest(series, level=level) if with_backtest else None
    return CapacityReport(recipe.name, fc, outs, sample_rate_note, horizon_days, bt)
