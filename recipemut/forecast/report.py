"""The forecast report as data: the JSON document of ``recipemut forecast``, services most urgent first."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from recipemut.forecast.capacity import CapacityReport, ServiceOutlook
from recipemut.forecast.rates import daily_peaks


def report_data(rep: CapacityReport, *, path: str, version: int) -> dict[str, Any]:
    """The JSON document of ``recipemut forecast --format json``."""
    data = rep.to_dict()
    data["recipe"] = {"path": path, "name": rep.recipe, "version": version}
    peaks = daily_peaks(rep.forecast)
    days = pd.DatetimeIndex(peaks.index).strftime("%Y-%m-%d")
    data["daily_peak_rps"] = [
        {"day": day, "point": round(float(p), 6), "lower": round(float(lo), 6), "upper": round(float(hi), 6)}
        for day, p, lo, hi in zip(days, peaks["point"], peaks["lower"], peaks["upper"], strict=True)
    ]
    return data


_ORDER = {"over-now": 0, "crosses": 1, "clear": 2, "undated": 2, "no-capacity": 3}


def urgency_order(services: tuple[ServiceOutlook, ...]) -> list[ServiceOutlook]:
    """Most urgent first: above target now, then by crossing date, then by peak utilisation."""

    def key(o: ServiceOutlook) -> tuple[int, float, float, str]:
        when = o.crossing.timestamp() if o.crossing is not None else math.inf
        util = o.forecast_peak_util if o.forecast_peak_util is not None else (o.current_peak_util or 0.0)
        return (_ORDER.get(o.status, 4), when, -util, o.service)

    return sorted(services, key=key)
