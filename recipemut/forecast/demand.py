"""What the forecast needs from a profile: request start times, their weights, busy time per service.

``suggest`` calls :func:`forecast_from_profile` once before comparing mutations; ``forecast``
builds its report from :func:`demand_from_profile` and says which sample rate scaled the rates
(:func:`sampling_note`).
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from recipemut.forecast.rates import DEFAULT_HORIZON_DAYS, DEFAULT_LEVEL, RateForecast, forecast_rate, rate_series
from recipemut.profile.build import Profile, far_off_note, far_off_starts
from recipemut.profile.busy import busy_ms_per_request
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class DemandInputs:
    """What the forecast needs from the logs: request starts, their weights, busy ms per service."""

    start_ms: np.ndarray  # (n,) epoch ms of each request's first span
    weights: np.ndarray  # (n,) 1 / sample_rate
    busy_ms: Mapping[str, float]
    sample_rates: np.ndarray  # distinct sample rates seen, for the report
    left_out_warned: int = 0  # far-off requests the profile already warned about (Profile.rate_left_out)


def sampling_note(sample_rates: np.ndarray, override: float | None) -> str:
    """Say which tracer sample rate (the spans' ``sample_rate``) scaled the request rates.

    ``override`` is ``--sample-rate``: ingest gives it to spans that carry no ``sample_rate``. The
    words name the tracer and ``sample_rate`` so that they cannot be read as the note of a sample
    taken at ingest (``--sample-requests``, the memory budget), printed beside them, which leaves
    this note as it is: the rate series counts every request either way.

    >>> sampling_note(np.array([1.0]), None)
    'no tracer sampling declared (sample_rate): every logged request counts once'
    >>> sampling_note(np.array([0.1]), 0.1)
    'rates scaled by 1/0.1 (tracer sample rate 0.1 from --sample-rate)'
    >>> sampling_note(np.array([0.01]), None)
    "rates scaled by 1/0.01 (tracer sample rate 0.01 from the logs' sample_rate)"
    """
    rates = np.unique(np.asarray(sample_rates, dtype=np.float64))
    if rates.size == 1 and override is not None and np.isclose(rates[0], override):
        return f"rates scaled by 1/{override:g} (tracer sample rate {override:g} from --sample-rate)"
    if rates.size == 0 or np.allclose(rates, 1.0):
        return "no tracer sampling declared (sample_rate): every logged request counts once"
    if rates.size == 1:
        return f"rates scaled by 1/{rates[0]:g} (tracer sample rate {rates[0]:g} from the logs' sample_rate)"
    tail = f"; {override:g} from --sample-rate where a span had none" if override is not None else ""
    return (
        f"each request scaled by 1/its tracer sample_rate ({rates.min():g} to {rates.max():g}, "
        f"{rates.size} distinct rates){tail}"
    )


def demand_from_profile(profile: Profile, recipe: Recipe) -> DemandInputs:
    """Request starts, weights and busy time per service from a :class:`~recipemut.profile.build.Profile`.

    Busy time counts every call: an operation called several times in a request adds the sum of
    its calls' times (``Profile.call_ms``) to its service, not the calls' window. Requests that start far
    off (:func:`~recipemut.profile.build.far_off_starts`) count in neither: the rate series leaves them out too.
    """
    rates = np.asarray(profile.sample_rate, dtype=np.float64)
    weights = 1.0 / np.clip(np.nan_to_num(rates, nan=1.0), 1e-12, None)
    op_service = {op.id: op.service for op in recipe.operations}
    # a request far off in time (a clock years wrong) is out of the forecast: its rate and its busy time
    ok = ~far_off_starts(profile.request_start_ms)
    call_ms = None if profile.call_ms is None else profile.call_ms[ok]
    busy = busy_ms_per_request(profile.latency_ms[ok], profile.op_ids, op_service, weights[ok], call_ms=call_ms)
    starts = np.asarray(profile.request_start_ms, dtype=np.float64)
    return DemandInputs(starts, weights, busy, np.unique(rates), profile.rate_left_out)


#: the ingest samples whose far-off starts were warned about (each is one reading of the logs)
_WARNED: weakref.WeakSet[Any] = weakref.WeakSet()


def with_every_request(demand: DemandInputs, sample: Any) -> DemandInputs:
    """``demand`` with the request starts and weights of every request when the logs were sampled by
    request at ingest (``sample``: the ingest report's :class:`~recipemut.logs.sample.RequestSample`,
    or None): the rate series then counts every request, not the sample scaled up by 1/fraction.
    Far-off starts among them (:func:`~recipemut.profile.build.far_off_starts`) are warned about here
    when the sample held none (the profile warned otherwise); the rate series leaves them out."""
    if sample is None or not sample.start_ms.size:
        return demand
    far = far_off_starts(sample.start_ms)
    if far.any() and not demand.left_out_warned and sample not in _WARNED:  # the profile had none to warn about
        _WARNED.add(sample)  # once a reading: report forecasts twice (suggest's headroom, then its own)
        log.warning("%s", far_off_note(sample.start_ms, far))
    rates = np.where(np.isfinite(sample.rates) & (sample.rates > 0), sample.rates, 1.0)
    return dataclasses.replace(demand, start_ms=sample.start_ms, weights=1.0 / rates, sample_rates=np.unique(rates))


def forecast_from_profile(
    profile: Profile, recipe: Recipe, *, horizon_days: float = DEFAULT_HORIZON_DAYS, level: float = DEFAULT_LEVEL,
    sample: Any = None,
) -> tuple[RateForecast, dict[str, float]]:
    """The rate forecast of a profile's traffic and the current busy ms per request per service.

    What ``suggest`` computes once, before comparing mutations with :func:`headroom_change`;
    ``sample`` as in :func:`with_every_request`.
    """
    d = with_every_request(demand_from_profile(profile, recipe), sample)
    fc = forecast_rate(rate_series(d.start_ms, d.weights), horizon_days=horizon_days, level=level)
    return fc, dict(d.busy_ms)
