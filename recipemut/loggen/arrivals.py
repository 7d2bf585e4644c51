"""Request arrivals: a non-homogeneous Poisson process with daily/weekly cycles and growth."""

from __future__ import annotations

import numpy as np

#: 2025-11-24T00:00:00Z, a Monday: the default start of generated logs.
DEFAULT_START_MS = 1_763_942_400_000.0
DAY_MS = 86_400_000.0
#: UTC hour at which the daily cycle peaks.
DEFAULT_PEAK_HOUR = 15.0


def _shape(
    t_ms: np.ndarray,
    start_ms: float,
    diurnal_amplitude: float,
    weekly_amplitude: float,
    growth_per_day: float,
    peak_hour: float,
    top_days: float = 0.0,
) -> np.ndarray:
    """The rate's shape, up to a constant: the growth term is taken relative to day ``top_days`` (the
    window's last day when traffic grows), so ``(1 + g) ** days`` never overflows (11 ** 3660 is inf)."""
    hours = (t_ms / 3_600_000.0) % 24.0
    # day of week with Monday = 0 (the epoch, 1970-01-01, was a Thursday)
    weekday = ((t_ms / DAY_MS) + 3.0) % 7.0
    days = (t_ms - start_ms) / DAY_MS
    daily = 1.0 + diurnal_amplitude * np.cos(2 * np.pi * (hours - peak_hour) / 24.0)
    weekly = 1.0 + weekly_amplitude * np.cos(2 * np.pi * (weekday - 2.5) / 7.0)  # peak Wednesday noon
    return np.asarray(daily * weekly * np.exp((days - top_days) * np.log1p(growth_per_day)))


def _top_days(growth_per_day: float, duration_s: float) -> float:
    """The day the growth term is taken relative to: the window's end when traffic grows, else its start."""
    return duration_s / 86_400.0 if growth_per_day > 0 else 0.0


def _grid(start_ms: float, duration_s: float) -> np.ndarray:
    steps = max(int(duration_s // 60), 1)  # one point a minute
    return np.linspace(start_ms, start_ms + duration_s * 1000.0, steps + 1)


def rate_function(
    t_ms: np.ndarray | float,
    *,
    n_requests: int,
    start_ms: float = DEFAULT_START_MS,
    duration_s: float = 14 * 86400,
    diurnal_amplitude: float = 0.6,
    weekly_amplitude: float = 0.0,
    growth_per_day: float = 0.0,
    peak_hour: float = DEFAULT_PEAK_HOUR,
) -> np.ndarray:
    """Expected arrival rate (requests per second, before sampling) at epoch-ms times ``t_ms``.

    ``rate(t) = c * (1 + D cos(2π (hour(t) - peak_hour) / 24)) * (1 + W cos(2π (weekday(t) - 2.5) / 7))
    * (1 + growth_per_day) ** days_since_start``, with ``c`` such that the rate integrates to
    ``n_requests`` over the window; hours are UTC, weekday 0 is Monday. Extrapolating beyond the
    window is what a forecast should find.

    >>> r = rate_function(np.array([DEFAULT_START_MS, DEFAULT_START_MS + 7 * DAY_MS]),
    ...                   n_requests=10_000, duration_s=14 * 86400, growth_per_day=0.1)
    >>> round(float(r[1] / r[0]), 4) == round(1.1 ** 7, 4)
    True
    """
    args = (start_ms, diurnal_amplitude, weekly_amplitude, growth_per_day, peak_hour)
    top = _top_days(growth_per_day, duration_s)
    g = _grid(start_ms, duration_s)
    total_ms = float(np.trapezoid(_shape(g, *args, top), g))
    c = n_requests / (total_ms / 1000.0)
    return np.asarray(c * _shape(np.asarray(t_ms, dtype=float), *args, top))


def poisson_arrivals(
    rng: np.random.Generator,
    n: int,
    start_ms: float,
    duration_s: float,
    args: tuple[float, float, float, float, float],
) -> np.ndarray:
    """``n`` sorted arrival times (epoch ms) of the NHPP conditioned on ``n`` events (inverse CDF)."""
    g = _grid(start_ms, duration_s)
    lam = _shape(g, *args, _top_days(args[3], duration_s))
    cum = np.concatenate([[0.0], np.cumsum((lam[1:] + lam[:-1]) / 2.0 * np.diff(g))])
    u = np.sort(rng.random(n)) * cum[-1]
    return np.asarray(np.interp(u, cum, g))
