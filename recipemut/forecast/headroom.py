"""Headroom: how a mutation moves each service's capacity crossing date and replica count.

:class:`Headroom` holds the capacity forecast of the recorded traffic and the busy time of the
baseline *replay* (so a mutation's busy time, from its own replay, is compared with the same
model on both sides). It names the bottleneck service, the one the ``headroom`` objective
relieves, and says in sentences what a candidate or a plan changes.

The bottleneck is the service with declared capacity that crosses its target first. Every service
sees the same rate forecast, so by Little's law its utilisation over its target is, at any time,
``rate x busy / (capacity x target)``: the services cross in the order of ``busy / (capacity x
target)``, and that *load* (read at the forecast peak, or at the current peak when the forecast is
undated) both ranks them and says how close the first one is, one scale for every service.
:meth:`Headroom.pressure` computes it for any recipe and replay, so the search re-picks the
bottleneck after every step (:data:`recipemut.plan.search.Bottleneck`); the plan's headroom is the
earliest crossing over all services, before and after (:meth:`Headroom.first_crossing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recipemut.errors import RecipemutError
from recipemut.files.units import days_text
from recipemut.forecast.capacity import HeadroomChange, ServiceOutlook, headroom_change, service_outlooks
from recipemut.forecast.demand import forecast_from_profile
from recipemut.plan.search import Candidate, SearchResult
from recipemut.predict.simulate import Replay
from recipemut.profile.build import Profile
from recipemut.profile.busy import busy_by_service
from recipemut.recipe.model import Recipe


class Headroom:
    """The capacity forecast of ``original``'s recorded traffic, and what mutations change in it.

    Without enough history for a forecast (or a degenerate series) there is none: ``note`` says
    why, and every change is ``None``.
    """

    def __init__(self, original: Recipe, baseline: Replay, prof: Profile, *, sample: Any = None) -> None:
        self.original = original
        self.note = ""
        self.forecast: Any = None
        try:  # sampled at ingest (``sample``): the rate counts every request, as forecast's does
            self.forecast, _ = forecast_from_profile(prof, original, sample=sample)
        except (RecipemutError, ValueError) as e:  # too little history, a degenerate series
            self.note = f"no capacity forecast: {e}"
        # busy time from the baseline *replay*, as every mutation's: the same model on both sides
        self.before = baseline.service_busy_ms(original)

    def bottleneck(self) -> str:
        """The service with declared capacity that crosses its target first under the original recipe
        (module doc): the first to need more replicas, what ``--objective headroom`` relieves first.

        Raises :class:`~recipemut.errors.RecipemutError` without a forecast or without a service
        of declared capacity.
        """
        return self._first(self.before).service

    def pressure(self, recipe: Recipe, rep: Replay) -> tuple[str, float]:
        """The service that crosses its target first under ``recipe`` replayed as ``rep``, and its
        load (utilisation over target at the forecast peak; lower is better): a
        :data:`recipemut.plan.search.Bottleneck`, what the search re-picks after every step.

        Raises as :meth:`bottleneck`.
        """
        o = self._first(self._busy(recipe, rep.busy_ms))
        return o.service, _load(o) or 0.0

    def _busy(self, recipe: Recipe, busy_ms: Mapping[str, float]) -> dict[str, float]:
        """Mean busy ms per request per service of a replay under ``recipe``, on the services of the
        baseline too (a substitute may bring a new service, an eliminated one leaves 0)."""
        after = busy_by_service(busy_ms, recipe)
        return {k: after.get(k, 0.0) for k in set(self.before) | set(after)}

    def _outlooks(self, busy: Mapping[str, float]) -> tuple[ServiceOutlook, ...]:
        if self.forecast is None:
            raise RecipemutError(
                f"--objective headroom needs a capacity forecast, and there is none ({self.note}); "
                "choose another objective",
                code="no-forecast",
            )
        return service_outlooks(self.forecast, self.original, busy)

    def _first(self, busy: Mapping[str, float]) -> ServiceOutlook:
        """The outlook of the service that crosses first (the highest load; ties: by name)."""
        ranked = [(-load, o.service, o) for o in self._outlooks(busy) if (load := _load(o)) is not None]
        if not ranked:
            raise RecipemutError(
                "--objective headroom needs services with declared capacity (services: replicas, "
                "concurrency_per_replica) in the recipe",
                file=self.original.source,
                code="no-capacity",
            )
        return min(ranked, key=lambda t: t[:2])[2]

    def first_crossing(self, result: SearchResult) -> dict[str, Any] | None:
        """The plan's headroom: the service that crosses its target first before and after the plan
        of ``result``, each as ``{"service", "status", "crossing", "crossing_in_days", "load"}``
        (None without a forecast or a service of declared capacity)."""
        if self.forecast is None:
            return None
        try:
            before = self._first(self.before)
            after = self._first(self._busy(result.plan_recipe, result.plan_replay.busy_ms))
        except RecipemutError:
            return None
        now = self.forecast.now

        def one(o: ServiceOutlook) -> dict[str, Any]:
            d = o.to_dict(now)
            return {k: d[k] for k in ("service", "status", "crossing", "crossing_in_days")} | {
                "load": round(_load(o) or 0.0, 6)
            }

        return {"before": one(before), "after": one(after), "sentence": self._crossing_sentence(before, after)}

    def _crossing_sentence(self, before: ServiceOutlook, after: ServiceOutlook) -> str:
        """``first to need replicas: audit in 12.0 days -> tax in 27.0 days`` (``now``: the end of the logs)."""
        assert self.forecast is not None
        now, fc = self.forecast.now, self.forecast
        horizon = len(fc.index) * fc.history.bin_s / 86400.0 if fc.dated else None

        def when(o: ServiceOutlook) -> str:
            if o.status == "over-now":
                return f"{o.service} now (already above target)"
            if o.status == "undated":
                return f"{o.service}, undated (no forecast)"
            days = o.days_to(o.crossing, now)
            if days is None:
                return f"none within the {horizon:g}-day horizon ({o.service} closest)" if horizon else "none"
            return f"{o.service} in {days_text(days)}"

        return f"first to need replicas: {when(before)} -> {when(after)}"

    def change(self, recipe: Recipe, busy_ms: Mapping[str, float]) -> HeadroomChange | None:
        """The :class:`~recipemut.forecast.capacity.HeadroomChange` of a replay's busy time per
        operation under ``recipe`` (None without a forecast or busy time)."""
        if self.forecast is None or not busy_ms:
            return None
        after = self._busy(recipe, busy_ms)  # the same services on both sides
        before = {k: self.before.get(k, 0.0) for k in after}
        return headroom_change(self.forecast, self.original, before, after)

    @staticmethod
    def _moved(h: HeadroomChange) -> list[str]:
        """Sentences of the services whose crossing date or replica count the change moves."""
        out = []
        for d in h.deltas:
            b, a = d.before, d.after
            if b.capacity is None:
                continue  # no declared capacity (e.g. a substitute's new service): nothing to date
            key = lambda o: (o.status, o.crossing, o.replicas_needed, o.replicas_needed_now)  # noqa: E731
            if key(b) != key(a):
                out.append(d.sentence(h.now))
        return out

    def lines(self, c: Candidate) -> list[str]:
        """What one candidate moves, a sentence per service (none without a forecast)."""
        h = self.change(c.mutation.recipe, c.busy_ms)
        return self._moved(h) if h is not None else []

    def plan_lines(self, result: SearchResult) -> list[str]:
        """What the whole plan of ``result`` moves, a sentence per service (none for an empty plan);
        under ``headroom`` led by the plan's headroom, the earliest crossing over all services before
        and after (:meth:`first_crossing`)."""
        h = self.change(result.plan_recipe, result.plan_replay.busy_ms) if result.plan else None
        moved = self._moved(h) if h is not None else []
        first = self.first_crossing(result) if result.objective == "headroom" and result.plan else None
        return [first["sentence"], *moved] if first is not None else moved


def _load(o: ServiceOutlook) -> float | None:
    """Utilisation over target at the forecast peak (the current peak when undated): the order in
    which services cross (module doc). None without declared capacity."""
    util = o.forecast_peak_util if o.forecast_peak_util is not None else o.current_peak_util
    if o.capacity is None or util is None or not o.target:
        return None
    return util / o.target
