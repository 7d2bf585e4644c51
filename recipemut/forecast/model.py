"""Predictive scaling: forecast the request rate, and say when each service crosses its target.

The pipeline, every step a pure function over arrays:

1. :func:`rate_series` bins request start times into a requests-per-second series, each request
   weighted by ``1 / sample_rate`` (sampled logs stand for more traffic than they hold). The bin
   fits the logs' span: hourly from two days of history up, finer below (only full bins are kept).
2. :func:`forecast_rate` models ``log(rate)`` (growth is multiplicative, and so is the daily cycle
   on top of it) with statsmodels: STL (one daily period) or MSTL (daily + weekly, from three weeks
   of history) takes the seasonal pattern out, a linear trend with AR(1) errors (SARIMAX) forecasts
   the rest with prediction intervals, and the last seasonal cycle is added back. Under two days of history
   (two daily cycles are the least that separates growth from the daily swing) it refuses to
   forecast and says so.
3. :func:`outlook` applies Little's law per service: mean concurrency = request rate x busy time
   per request (the service's operations' latency summed over a request, averaged over requests,
   so an operation that runs on 30% of requests counts 30%). Utilisation = concurrency /
   (replicas x concurrency_per_replica). It reports the current peak, the first forecast time at
   which utilisation reaches ``target_utilization`` (for the point forecast, and for the upper and
   lower interval bounds: the earliest and latest plausible dates), and the replicas the forecast
   peak needs at the target.
4. :func:`headroom_change` compares two busy-time maps (before and after a mutation) against the
   same rate forecast — what ``suggest`` shows per mutation, and the ``headroom`` objective.

>>> import numpy as np
>>> hours = np.arange(0, 3 * 24 * 3600 * 1000, 1000.0 * 36)  # 100 requests an hour for 3 days
>>> s = rate_series(hours)
>>> s.bin_s, len(s.rps), round(float(s.rps.mean()) * 3600)
(3600.0, 72, 100)
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from recipemut.profile.build import Profile
from recipemut.profile.busy import busy_ms_per_request
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)

DAY_S = 86400.0
HOUR_S = 3600.0
#: least history for a dated forecast: two daily cycles separate growth from the daily swing
MIN_HISTORY_S = 2 * DAY_S
#: from this much history the weekly cycle is modelled too (three weekly cycles)
WEEKLY_HISTORY_S = 21 * DAY_S
DEFAULT_HORIZON_DAYS = 30.0
DEFAULT_LEVEL = 0.95


# ---- the request-rate series -----------------------------------------------------------------


def _py(ts: pd.Timestamp) -> datetime:
    """A timestamp as a ``datetime``, rounded down to the microsecond (a datetime holds no nanoseconds;
    pandas would warn about dropping them, e.g. for a span of sub-second traces)."""
    return ts.floor("us").to_pydatetime()


#: least sampled (logged) requests a bin should hold on average: below it a bin's rate is mostly
#: Poisson noise (30 requests: +-18%), and the peak bin of a day reads far above the true peak
MIN_SAMPLED_PER_BIN = 30
#: bin widths to choose from; every one divides a day, so the daily cycle is a whole number of bins
BIN_LADDER_S = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0, 21600.0, 43200.0, 86400.0)
#: widest bin a dated forecast is made on (four bins a day still show the daily cycle)
MAX_DATED_BIN_S = 6 * HOUR_S
#: level of the Poisson interval of the current peak (the alarm needs its lower bound over the target)
PEAK_LEVEL = 0.95


def choose_bin_s(span_s: float, n_sampled: int | None = None) -> float:
    """A bin width that fits the logs' span and holds enough sampled requests.

    At least hourly from two days of history, 5 min from 6 h, else 1 min; then widened (within
    :data:`BIN_LADDER_S`) until a bin holds :data:`MIN_SAMPLED_PER_BIN` logged requests on average,
    so heavily sampled logs do not turn into a series of near-empty, noisy bins.

    >>> choose_bin_s(3 * DAY_S), choose_bin_s(DAY_S), choose_bin_s(3600)
    (3600.0, 300.0, 60.0)
    >>> choose_bin_s(20 * HOUR_S, n_sampled=1000)  # 300 s bins would hold 4 requests each
    3600.0
    """
    if span_s >= MIN_HISTORY_S:
        base = HOUR_S
    elif span_s >= 6 * HOUR_S:
        base = 300.0
    else:
        base = 60.0
    need = MIN_SAMPLED_PER_BIN * span_s / n_sampled if n_sampled else 0.0
    want = max(base, need)
    return next((b for b in BIN_LADDER_S if b >= want), BIN_LADDER_S[-1])


def bin_label(bin_s: float) -> str:
    """``hourly``, ``5-minute``, ``2-hour``, ...

    >>> bin_label(3600), bin_label(300), bin_label(7200), bin_label(45)
    ('hourly', '5-minute', '2-hour', '45-second')
    """
    if bin_s == HOUR_S:
        return "hourly"
    if bin_s % HOUR_S == 0:
        return f"{bin_s / HOUR_S:g}-hour"
    if bin_s % 60 == 0:
        return f"{bin_s / 60:g}-minute"
    return f"{bin_s:g}-second"


@dataclass(frozen=True, eq=False)
class RateSeries:
    """Requests per second in equal full bins; ``index`` holds the UTC start of each bin.

    ``sampled`` is the number of logged requests in each bin (before weighting by
    ``1 / sample_rate``), for the Poisson noise of a bin's rate; None when unknown.
    """

    index: pd.DatetimeIndex
    rps: np.ndarray
    bin_s: float
    sampled: np.ndarray | None = None

    @property
    def history_s(self) -> float:
        """Time covered by the series, in seconds."""
        return float(len(self.rps) * self.bin_s)

    @property
    def end(self) -> datetime:
        """End of the last bin: the forecast's "now"."""
        if len(self.index) == 0:
            return datetime.fromtimestamp(0, tz=timezone.utc)
        return _py(self.index[-1] + pd.Timedelta(seconds=self.bin_s))


def rate_series(
    start_ms: np.ndarray, weights: np.ndarray | float | None = None, *, bin_s: float | None = None
) -> RateSeries:
    """Bin request start times (epoch ms) into requests per second, weighting each request.

    ``weights`` is ``1 / sample_rate`` per request (or one number for all). The bin is
    :func:`choose_bin_s` of the span and the number of requests. Only bins wholly inside
    the logs' time range (give or take 2%) are kept, so a half-covered first or last bin does not
    read as a dip; when the span is shorter than two bins, one bin covers it all.

    >>> s = rate_series(np.array([0.0, 500.0, 1000.0, 59_000.0, 60_000.0, 119_000.0]), 10.0, bin_s=60)
    >>> s.rps.round(3).tolist()
    [0.667, 0.333]
    """
    t = np.asarray(start_ms, dtype=np.float64)
    if t.size == 0:
        return RateSeries(pd.DatetimeIndex([], tz="UTC"), np.zeros(0), float(bin_s or 60.0))
    w = np.broadcast_to(np.asarray(1.0 if weights is None else weights, dtype=np.float64), t.shape)
    lo, hi = float(t.min()), float(t.max())
    span_s = (hi - lo) / 1000.0
    b = float(bin_s) if bin_s else choose_bin_s(span_s, int(t.size))
    bms = b * 1000.0
    slack = 0.02  # a bin counts as full when the logs miss at most 2% of it at either end
    first = math.ceil(lo / bms - slack) * bms
    n_full = math.floor((hi - first) / bms + slack)
    if n_full >= 2:
        keep = (t >= first) & (t < first + n_full * bms)
        codes = ((t[keep] - first) // bms).astype(np.int64)
        counts = np.bincount(codes, weights=w[keep], minlength=n_full)[:n_full]
        sampled = np.bincount(codes, minlength=n_full)[:n_full]
        rps = counts / b
        index = pd.date_range(pd.Timestamp(first, unit="ms", tz="UTC"), periods=n_full, freq=pd.Timedelta(seconds=b))
        return RateSeries(index, rps, b, sampled)
    width_s = max(span_s, 1.0)
    return RateSeries(
        pd.DatetimeIndex([pd.Timestamp(lo, unit="ms", tz="UTC").floor("us")]), np.array([w.sum() / width_s]), width_s,
        np.array([t.size]),
    )  # fmt: skip


# ---- the rate forecast -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RateForecast:
    """A forecast of requests per second, with a prediction interval, or the reason there is none."""

    history: RateSeries
    index: pd.DatetimeIndex  # UTC start of each future bin
    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    seasonal_periods: tuple[int, ...]
    model: str
    refused: str | None = None  # why no forecast was made (too little history)

    @property
    def dated(self) -> bool:
        """True when the forecast may be used to put a date on anything."""
        return self.refused is None and len(self.point) > 0

    @property
    def now(self) -> datetime:
        return self.history.end


def _season_names(periods: Sequence[int], bin_s: float) -> str:
    names = {round(DAY_S / bin_s): "daily", round(7 * DAY_S / bin_s): "weekly"}
    return " + ".join(names.get(p, f"{p}-bin") for p in periods)


def forecast_rate(
    series: RateSeries,
    *,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    level: float = DEFAULT_LEVEL,
) -> RateForecast:
    """Forecast ``series`` ``horizon_days`` ahead with trend, daily (and weekly) seasonality.

    ``log(rate + one request per bin)`` is decomposed by STL/MSTL; the seasonally adjusted part is
    a linear trend (exponential growth) with AR(1) errors, fitted and forecast by statsmodels'
    ``SARIMAX`` with the trend's coefficients in the state vector, so the ``level`` prediction
    interval widens with the uncertainty of the growth rate as well as the bin-to-bin noise. The
    last cycle of each seasonal component is repeated on top; the daily shape is taken as known.

    An ETS / Holt model was tried first: its trend smoothing chased noise on hourly bins (on two of
    six generated 14-day logs the growth rate came out 15-40% off, or the interval exploded), while
    the global trend with AR errors stayed within 4% on all six.
    """
    empty = np.zeros(0)
    no_index = pd.DatetimeIndex([], tz="UTC")
    if series.history_s < MIN_HISTORY_S or series.bin_s > MAX_DATED_BIN_S:
        hours = series.history_s / HOUR_S
        why = (
            f"only {hours:.1f} h of history; at least {MIN_HISTORY_S / HOUR_S:.0f} h (two daily cycles) "
            "are needed to tell growth from the daily cycle, so no date is given"
            if series.history_s < MIN_HISTORY_S
            else f"too few logged requests: a bin would need {series.bin_s / HOUR_S:g} h to hold "
            f"{MIN_SAMPLED_PER_BIN} of them, too coarse for the daily cycle, so no date is given"
        )
        return RateForecast(series, no_index, empty, empty, empty, level, (), "none", refused=why)
    from statsmodels.tsa.seasonal import MSTL, STL
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    bin_s = series.bin_s
    day = round(DAY_S / bin_s)
    periods: tuple[int, ...] = (day,) if series.history_s < WEEKLY_HISTORY_S else (day, 7 * day)
    eps = 1.0 / bin_s
    y = pd.Series(np.log(series.rps + eps))
    n = len(y)
    steps = max(1, round(horizon_days * DAY_S / bin_s))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(periods) == 1:
            seasonal = np.asarray(STL(y, period=periods[0], robust=True).fit().seasonal, dtype=np.float64)[:, None]
        else:
            seasonal = np.asarray(MSTL(y, periods=periods).fit().seasonal, dtype=np.float64).reshape(n, -1)
        adjusted = y.to_numpy() - seasonal.sum(axis=1)
        # intercept and slope (per day) as exogenous regressors kept in the state vector
        # (mle_regression=False), so the interval includes the uncertainty of the growth rate
        exog = np.column_stack([np.ones(n), np.arange(n) / day])
        fit = SARIMAX(adjusted, exog=exog, order=(1, 0, 0), mle_regression=False).fit(disp=False)
        future = np.column_stack([np.ones(steps), (n + np.arange(steps)) / day])
        frame = fit.get_forecast(steps, exog=future).summary_frame(alpha=1.0 - level)
    future_season = np.zeros(steps)
    for k, p in enumerate(periods):
        last = seasonal[n - p :, k]
        future_season += last[np.arange(steps) % p]
    mean = frame["mean"].to_numpy() + future_season
    lo = frame["mean_ci_lower"].to_numpy() + future_season
    hi = frame["mean_ci_upper"].to_numpy() + future_season
    start = series.index[-1] + pd.Timedelta(seconds=bin_s)
    index = pd.date_range(start, periods=steps, freq=pd.Timedelta(seconds=bin_s))
    to_rate = lambda a: np.maximum(np.exp(a) - eps, 0.0)  # noqa: E731
    model = (
        f"log rate: {'MSTL' if len(periods) > 1 else 'STL'} ({_season_names(periods, bin_s)}) + "
        "linear trend with AR(1) errors (statsmodels SARIMAX)"
    )
    log.debug("forecast %s: %d bins of %.0fs ahead", model, steps, bin_s)
    return RateForecast(series, index, to_rate(mean), to_rate(lo), to_rate(hi), level, periods, model)


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


def _replicas(peak_rps: float, busy_ms: float, per_replica: int, target: float) -> int:
    concurrency = peak_rps * busy_ms / 1000.0
    return max(1, math.ceil(concurrency / (per_replica * target) - 1e-9))


def _first_at_or_above(values: np.ndarray, threshold: float, index: pd.DatetimeIndex) -> datetime | None:
    hit = values >= threshold
    if not hit.any():
        return None
    return _py(index[int(np.argmax(hit))])


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
        peak = float(forecast.point.max())
        peak_hi = float(forecast.upper.max())
        fields.update(
            crossing=_first_at_or_above(forecast.point, threshold, forecast.index),
            crossing_earliest=_first_at_or_above(forecast.upper, threshold, forecast.index),
            crossing_latest=_first_at_or_above(forecast.lower, threshold, forecast.index),
            forecast_peak_rps=peak,
            forecast_peak_util=util(peak),
            replicas_needed=_replicas(peak, busy_ms, concurrency_per_replica, target),
            replicas_needed_upper=_replicas(peak_hi, busy_ms, concurrency_per_replica, target),
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


# ---- backtest --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    """How well the model forecast the last part of the logs from the rest."""

    train_days: float
    holdout_days: float
    mape: float | None  # mean absolute percentage error over held-out bins (percent)
    peak_error: float | None  # (forecast peak - actual peak) / actual peak (percent)
    coverage: float | None  # share of held-out bins inside the prediction interval
    refused: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "train_days": round(self.train_days, 3),
            "holdout_days": round(self.holdout_days, 3),
            "mape_percent": _round(self.mape, 2),
            "peak_error_percent": _round(self.peak_error, 2),
            "interval_coverage": _round(self.coverage, 3),
            "refused": self.refused,
        }


def backtest(series: RateSeries, *, holdout_frac: float = 0.2, level: float = DEFAULT_LEVEL) -> Backtest:
    """Hold out the last ``holdout_frac`` of the series (whole days, at least one), forecast it, score it."""
    per_day = max(1, round(DAY_S / series.bin_s))
    total_days = len(series.rps) // per_day
    hold_days = max(1, round(total_days * holdout_frac))
    n_hold = hold_days * per_day
    train = RateSeries(series.index[:-n_hold], series.rps[:-n_hold], series.bin_s) if n_hold < len(series.rps) else None
    if train is None or train.history_s < MIN_HISTORY_S or series.bin_s > MAX_DATED_BIN_S:
        have = series.history_s / DAY_S
        return Backtest(
            max(0.0, have - hold_days), float(hold_days), None, None, None,
            refused=f"{have:.1f} days of history: a backtest needs {MIN_HISTORY_S / DAY_S:.0f} days to train "
            f"plus {hold_days} held out",
        )  # fmt: skip
    fc = forecast_rate(train, horizon_days=hold_days, level=level)
    actual = series.rps[-n_hold:]
    pred = fc.point[:n_hold]
    nz = actual > 0
    mape = float(np.mean(np.abs(pred[nz] - actual[nz]) / actual[nz]) * 100) if nz.any() else None
    peak = float(actual.max())
    peak_err = (float(pred.max()) - peak) / peak * 100 if peak > 0 else None
    inside = (actual >= fc.lower[:n_hold]) & (actual <= fc.upper[:n_hold])
    return Backtest(train.history_s / DAY_S, float(hold_days), mape, peak_err, float(inside.mean()))


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
        """``cart: scaling needed in 9 days -> 31 days; peak replicas 8 -> 5`` (days from ``now``, the
        end of the logs); otherwise e.g. ``cart: scaling needed now (already above target) -> not
        within the 60-day horizon; ...``.

        >>> from datetime import timedelta
        >>> now = datetime(2025, 12, 7, tzinfo=timezone.utc)
        >>> o = ServiceOutlook("cart", 20.0, 2, 8, 0.7, 10.0, 0.5, "crosses", crossing=now + timedelta(days=9),
        ...                    replicas_needed=8)
        >>> HeadroomDelta(o, replace(o, status="clear", crossing=None, replicas_needed=5), 60.0).sentence(now)
        'cart: scaling needed in 9 days -> not within the 60-day horizon; peak replicas 8 -> 5'
        >>> HeadroomDelta(o, replace(o, crossing=now + timedelta(days=31), replicas_needed=5)).sentence(now)
        'cart: scaling needed in 9 days -> 31 days; peak replicas 8 -> 5'

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
            return f"not within {horizon}" if d is None else f"in {d:.0f} days"

        b, a = self.before, self.after
        reps = (
            f"peak replicas {b.replicas_needed} -> {a.replicas_needed}"
            if b.replicas_needed is not None
            else f"replicas for the current peak {b.replicas_needed_now} -> {a.replicas_needed_now}"
        )
        db, da = days(b), days(a)
        if db is not None and da is not None:
            return f"{self.service}: scaling needed in {db:.0f} days -> {da:.0f} days; {reps}"
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
                "start": iso(_py(hist.index[0])) if len(hist.index) else None,
                "days": round(hist.history_s / DAY_S, 4),
                "bin_s": hist.bin_s,
                "mean_rps": _round(float(hist.rps.mean()) if len(hist.rps) else 0.0, 6),
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
    sample_rate_note: str = "no sampling declared: every request counted once",
    level: float = DEFAULT_LEVEL,
) -> CapacityReport:
    """Rate series -> forecast -> per-service outlook (-> backtest), from plain arrays."""
    series = rate_series(start_ms, weights)
    fc = forecast_rate(series, horizon_days=horizon_days, level=level)
    outs = service_outlooks(fc, recipe, busy_ms)
    bt = backtest(series, level=level) if with_backtest else None
    return CapacityReport(recipe.name, fc, outs, sample_rate_note, horizon_days, bt)


def horizon_end(forecast: RateForecast) -> datetime:
    """End of the forecast horizon."""
    if not len(forecast.index):
        return forecast.now
    return _py(forecast.index[-1] + pd.Timedelta(seconds=forecast.history.bin_s))


__all__ = [
    "DAY_S",
    "MIN_HISTORY_S",
    "Backtest",
    "CapacityReport",
    "HeadroomChange",
    "HeadroomDelta",
    "RateForecast",
    "RateSeries",
    "ServiceOutlook",
    "backtest",
    "bin_label",
    "busy_ms_per_request",
    "capacity_report",
    "choose_bin_s",
    "current_peak",
    "forecast_rate",
    "headroom_change",
    "horizon_end",
    "outlook",
    "poisson_interval",
    "rate_series",
    "service_outlooks",
]


# ---- inputs from the span table or the profile ---------------------------------------------


@dataclass(frozen=True, eq=False)
class DemandInputs:
    """What the forecast needs from the logs: request starts, their weights, busy ms per service."""

    start_ms: np.ndarray  # (n,) epoch ms of each request's first span
    weights: np.ndarray  # (n,) 1 / sample_rate
    busy_ms: Mapping[str, float]
    sample_rates: np.ndarray  # distinct sample rates seen, for the report


def sampling_note(sample_rates: np.ndarray, override: float | None) -> str:
    """Say which sample rate scaled the request rates.

    ``override`` is ``--sample-rate``: ingest gives it to spans that carry no ``sample_rate``.

    >>> sampling_note(np.array([1.0]), None)
    'no sampling declared: every logged request counts once'
    >>> sampling_note(np.array([0.1]), 0.1)
    'rates scaled by 1/0.1 (sample rate 0.1 from --sample-rate)'
    >>> sampling_note(np.array([0.01]), None)
    "rates scaled by 1/0.01 (sample rate 0.01 from the logs' sample_rate)"
    """
    rates = np.unique(np.asarray(sample_rates, dtype=np.float64))
    if rates.size == 1 and override is not None and np.isclose(rates[0], override):
        return f"rates scaled by 1/{override:g} (sample rate {override:g} from --sample-rate)"
    if rates.size == 0 or np.allclose(rates, 1.0):
        return "no sampling declared: every logged request counts once"
    if rates.size == 1:
        return f"rates scaled by 1/{rates[0]:g} (sample rate {rates[0]:g} from the logs' sample_rate)"
    tail = f"; {override:g} from --sample-rate where a span had none" if override is not None else ""
    return (
        f"each request scaled by 1/its sample_rate ({rates.min():g} to {rates.max():g}, "
        f"{rates.size} distinct rates){tail}"
    )


def demand_from_profile(profile: Profile, recipe: Recipe) -> DemandInputs:
    """Request starts, weights and busy time per service from a :class:`~recipemut.profile.build.Profile`."""
    rates = np.asarray(profile.sample_rate, dtype=np.float64)
    weights = 1.0 / np.clip(np.nan_to_num(rates, nan=1.0), 1e-12, None)
    op_service = {op.id: op.service for op in recipe.operations}
    busy = busy_ms_per_request(profile.latency_ms, profile.op_ids, op_service, weights)
    return DemandInputs(np.asarray(profile.request_start_ms, dtype=np.float64), weights, busy, np.unique(rates))


def daily_peaks(forecast: RateForecast) -> pd.DataFrame:
    """Per forecast day (UTC): the peak of the point forecast and of the interval's bounds, in rps."""
    if not forecast.dated:
        return pd.DataFrame(columns=["point", "lower", "upper"], index=pd.DatetimeIndex([], tz="UTC"))
    frame = pd.DataFrame(
        {"point": forecast.point, "lower": forecast.lower, "upper": forecast.upper}, index=forecast.index
    )
    return frame.groupby(forecast.index.floor("D")).max()


# ---- one-call helpers for suggest ------------------------------------------------------------


def forecast_from_profile(
    profile: Profile, recipe: Recipe, *, horizon_days: float = DEFAULT_HORIZON_DAYS, level: float = DEFAULT_LEVEL
) -> tuple[RateForecast, dict[str, float]]:
    """The rate forecast of a profile's traffic and the current busy ms per request per service.

    What ``suggest`` computes once, before comparing mutations with :func:`headroom_change`.
    """
    d = demand_from_profile(profile, recipe)
    fc = forecast_rate(rate_series(d.start_ms, d.weights), horizon_days=horizon_days, level=level)
    return fc, dict(d.busy_ms)
