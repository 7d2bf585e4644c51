"""The request rate: a series from the logs, its forecast, and how well the forecast did.

Every step is a pure function over arrays:

1. :func:`rate_series` bins request start times into a requests-per-second series, each request
   weighted by ``1 / sample_rate`` (sampled logs stand for more traffic than they hold). The bin
   fits the logs' span: hourly from two days of history up, finer below (only full bins are kept).
2. :func:`forecast_rate` models ``log(rate)`` (growth is multiplicative, and so is the daily cycle
   on top of it) with statsmodels: STL (one daily period) or MSTL (daily + weekly, from three weeks
   of history) takes the seasonal pattern out, a linear trend with AR(1) errors (SARIMAX) forecasts
   the rest with prediction intervals, and the last seasonal cycle is added back. Under two days of history
   (two daily cycles are the least that separates growth from the daily swing) it refuses to
   forecast and says so.
3. :func:`backtest` holds out the last days of the series, forecasts them from the rest and scores
   the forecast, so a reader knows how far to trust a date.

What the rate means for each service's capacity is :mod:`recipemut.forecast.capacity`.

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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from recipemut.profile.build import far_off_starts

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


def utc_datetime(ts: pd.Timestamp) -> datetime:
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

    >>> bin_label(3600), bin_label(300), bin_label(7200), bin_label(45), bin_label(756.788)
    ('hourly', '5-minute', '2-hour', '45-second', '12.6-minute')
    """
    if bin_s == HOUR_S:
        return "hourly"
    if bin_s % HOUR_S == 0:
        return f"{bin_s / HOUR_S:g}-hour"
    if bin_s % 60 == 0:
        return f"{bin_s / 60:g}-minute"
    if bin_s > 60:  # a short log's bin, off the ladder: 756.788-second read as no unit a person uses
        return f"{bin_s / 60:.1f}-minute"
    return f"{bin_s:.3g}-second"


def history_words(seconds: float) -> str:
    """How long a history is: in hours under a day (``0.2 h``, not ``0.0 days``), else in days.

    >>> history_words(757.4), history_words(18 * 86400)
    ('0.2 h', '18.0 days')
    """
    return f"{seconds / HOUR_S:.1f} h" if seconds < DAY_S else f"{seconds / DAY_S:.1f} days"


@dataclass(frozen=True, eq=False)
class RateSeries:
    """Requests per second in equal full bins; ``index`` holds the UTC start of each bin.

    ``sampled`` is the number of logged requests in each bin (before weighting by
    ``1 / sample_rate``), for the Poisson noise of a bin's rate; None when unknown. ``left_out_ms``:
    the starts (epoch ms, sorted) of the requests left out as far off
    (:func:`recipemut.profile.build.far_off_starts`).
    """

    index: pd.DatetimeIndex
    rps: np.ndarray
    bin_s: float
    sampled: np.ndarray | None = None
    left_out_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def history_s(self) -> float:
        """Time covered by the series, in seconds."""
        return float(len(self.rps) * self.bin_s)

    @property
    def end(self) -> datetime:
        """End of the last bin: the forecast's "now"."""
        if len(self.index) == 0:
            return datetime.fromtimestamp(0, tz=timezone.utc)
        return utc_datetime(self.index[-1] + pd.Timedelta(seconds=self.bin_s))


def rate_series(
    start_ms: np.ndarray, weights: np.ndarray | float | None = None, *, bin_s: float | None = None
) -> RateSeries:
    """Bin request start times (epoch ms) into requests per second, weighting each request.

    ``weights`` is ``1 / sample_rate`` per request (or one number for all). Requests that start far
    outside the bulk of the others (:func:`recipemut.profile.build.far_off_starts`: a clock off by
    years) are left out, their starts kept in ``left_out_ms``; the profile warns about them. The bin is
    :func:`choose_bin_s` of the span and the number of requests. Only bins wholly inside
    the logs' time range (give or take 2%) are kept, so a half-covered first or last bin does not
    read as a dip; when the span is shorter than two bins, one bin covers it all.

    >>> s = rate_series(np.array([0.0, 500.0, 1000.0, 59_000.0, 60_000.0, 119_000.0]), 10.0, bin_s=60)
    >>> s.rps.round(3).tolist()
    [0.667, 0.333]
    """
    t = np.asarray(start_ms, dtype=np.float64)
    w = np.broadcast_to(np.asarray(1.0 if weights is None else weights, dtype=np.float64), t.shape)
    far = far_off_starts(t)
    if far.any():
        kept = _binned(t[~far], w[~far], bin_s)
        return replace(kept, left_out_ms=np.sort(t[far]))
    return _binned(t, w, bin_s)


def _binned(t: np.ndarray, w: np.ndarray, bin_s: float | None) -> RateSeries:
    if t.size == 0:
        return RateSeries(pd.DatetimeIndex([], tz="UTC"), np.zeros(0), float(bin_s or 60.0))
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
            else f"{_too_coarse(series)}, so no date is given"
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
        future = np.column_stack([np.ones(steps), (n + np.arange(steps)) / day])
        floor = poisson_log_var(series)
        steady = _residual_var(adjusted, exog) < STEADY_FRACTION * floor
        if not steady:
            fit = SARIMAX(adjusted, exog=exog, order=(1, 0, 0), mle_regression=False).fit(disp=False)
            frame = fit.get_forecast(steps, exog=future).summary_frame(alpha=1.0 - level)
            trend = frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(), frame["mean_ci_upper"].to_numpy()
    if steady or not _sound(*trend):
        trend = trend_with_floor(adjusted, exog, future, floor, level)
        how = (
            "linear trend by least squares, interval from the logged counts' Poisson noise (the rate is too steady "
            "for SARIMAX: its interval came out degenerate)"
        )
    else:
        how = "linear trend with AR(1) errors (statsmodels SARIMAX)"
    future_season = np.zeros(steps)
    for k, p in enumerate(periods):
        last = seasonal[n - p :, k]
        future_season += last[np.arange(steps) % p]
    mean, lo, hi = (a + future_season for a in trend)
    start = series.index[-1] + pd.Timedelta(seconds=bin_s)
    index = pd.date_range(start, periods=steps, freq=pd.Timedelta(seconds=bin_s))
    to_rate = lambda a: np.maximum(np.exp(a) - eps, 0.0)  # noqa: E731
    model = f"log rate: {'MSTL' if len(periods) > 1 else 'STL'} ({_season_names(periods, bin_s)}) + {how}"
    log.debug("forecast %s: %d bins of %.0fs ahead", model, steps, bin_s)
    return RateForecast(series, index, to_rate(mean), to_rate(lo), to_rate(hi), level, periods, model)


#: a seasonally adjusted series whose residual variance (around its linear trend) is below this share
#: of the counts' Poisson variance is "steady" (clockwork traffic, a synthetic load): SARIMAX's
#: variance estimate then collapses to ~0 and its interval comes back NaN or absurdly narrow
STEADY_FRACTION = 1e-3


def poisson_log_var(series: RateSeries) -> float:
    """The variance ``log(rate)`` has from counting alone: ``1 / k`` for ``k`` logged requests in a bin
    (delta method), averaged over the bins; the least noise a log of sampled or random arrivals shows.

    >>> s = RateSeries(pd.date_range("2025-01-01", periods=2, freq="h", tz="UTC"), np.ones(2), 3600.0,
    ...                np.array([100, 25]))
    >>> round(poisson_log_var(s), 4)
    0.025
    """
    k = series.sampled if series.sampled is not None else series.rps * series.bin_s
    k = np.asarray(k, dtype=np.float64)
    return float(np.mean(1.0 / np.maximum(k, 1.0))) if k.size else 1.0


def _residual_var(y: np.ndarray, x: np.ndarray) -> float:
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    r = y - x @ beta
    return float(r @ r / max(1, len(y) - x.shape[1]))


def _sound(mean: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """A usable trend forecast: every value finite and the interval around the point."""
    ok = np.isfinite(mean).all() and np.isfinite(lo).all() and np.isfinite(hi).all()
    return bool(ok and (lo <= mean + 1e-12).all() and (hi >= mean - 1e-12).all())


def trend_with_floor(
    y: np.ndarray, x: np.ndarray, future: np.ndarray, floor_var: float, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point and ``level`` prediction interval of a least-squares linear trend whose noise variance is at
    least ``floor_var``: the fallback when SARIMAX's interval is unusable. The interval includes the
    uncertainty of the intercept and slope (``x0' (X'X)^-1 x0``), like SARIMAX's.

    >>> t = np.arange(48.0)
    >>> mean, lo, hi = trend_with_floor(np.zeros(48), np.column_stack([np.ones(48), t / 24]),
    ...                                 np.column_stack([np.ones(2), (48 + np.arange(2)) / 24]), 0.01, 0.95)
    >>> mean.round(6).tolist(), bool((hi - mean > 0.19).all() and (hi - mean < 0.23).all())
    ([0.0, 0.0], True)
    """
    from scipy.stats import t as student_t

    n, k = x.shape
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    s2 = max(_residual_var(y, x), floor_var)
    xtx_inv = np.linalg.pinv(x.T @ x)
    var = s2 * (1.0 + np.einsum("ij,jk,ik->i", future, xtx_inv, future))
    q = float(student_t.ppf(0.5 + level / 2, max(1, n - k)))
    mean = future @ beta
    half = q * np.sqrt(var)
    return mean, mean - half, mean + half


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


def _too_coarse(series: RateSeries) -> str:
    """Why bins too wide for the daily cycle give no date: the bin the logged requests need (at the widest, a
    day, whose bins may still hold fewer than :data:`MIN_SAMPLED_PER_BIN`)."""
    if series.bin_s >= DAY_S:
        return (f"too few logged requests: even a day's bin holds fewer than {MIN_SAMPLED_PER_BIN} of them, too "
                "coarse for the daily cycle")
    return (f"too few logged requests: a bin would need {series.bin_s / HOUR_S:g} h to hold {MIN_SAMPLED_PER_BIN} of "
            "them, too coarse for the daily cycle")


def backtest(series: RateSeries, *, holdout_frac: float = 0.2, level: float = DEFAULT_LEVEL) -> Backtest:
    """Hold out the last ``holdout_frac`` of the series (whole days, at least one), forecast it, score it."""
    per_day = max(1, round(DAY_S / series.bin_s))
    total_days = len(series.rps) // per_day
    hold_days = max(1, round(total_days * holdout_frac))
    n_hold = hold_days * per_day
    sampled = None if series.sampled is None else series.sampled[:-n_hold]
    train = (
        RateSeries(series.index[:-n_hold], series.rps[:-n_hold], series.bin_s, sampled)
        if n_hold < len(series.rps)
        else None
    )
    if train is None or train.history_s < MIN_HISTORY_S or series.bin_s > MAX_DATED_BIN_S:
        have = series.history_s / DAY_S
        why = (  # sparse traffic over many days: the bins, not the days, are what is short
            _too_coarse(series)
            if series.bin_s > MAX_DATED_BIN_S
            else f"{have:.1f} days of history: a backtest needs {MIN_HISTORY_S / DAY_S:.0f} days to train plus "
            f"{hold_days} held out"
        )
        return Backtest(max(0.0, have - hold_days), float(hold_days), None, None, None, refused=why)
    fc = forecast_rate(train, horizon_days=hold_days, level=level)
    actual = series.rps[-n_hold:]
    pred = fc.point[:n_hold]
    nz = actual > 0
    mape = float(np.mean(np.abs(pred[nz] - actual[nz]) / actual[nz]) * 100) if nz.any() else None
    peak = float(actual.max())
    peak_err = (float(pred.max()) - peak) / peak * 100 if peak > 0 else None
    inside = (actual >= fc.lower[:n_hold]) & (actual <= fc.upper[:n_hold])
    return Backtest(train.history_s / DAY_S, float(hold_days), mape, peak_err, float(inside.mean()))


# ---- reading a forecast ----------------------------------------------------------------------


def horizon_end(forecast: RateForecast) -> datetime:
    """End of the forecast horizon."""
    if not len(forecast.index):
        return forecast.now
    return utc_datetime(forecast.index[-1] + pd.Timedelta(seconds=forecast.history.bin_s))


def daily_peaks(forecast: RateForecast) -> pd.DataFrame:
    """Per forecast day (UTC): the peak of the point forecast and of the interval's bounds, in rps."""
    if not forecast.dated:
        return pd.DataFrame(columns=["point", "lower", "upper"], index=pd.DatetimeIndex([], tz="UTC"))
    frame = pd.DataFrame(
        {"point": forecast.point, "lower": forecast.lower, "upper": forecast.upper}, index=forecast.index
    )
    return frame.groupby(forecast.index.floor("D")).max()


def _round(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)
