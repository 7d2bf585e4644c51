"""Headroom: how a mutation moves each service's capacity crossing date and replica count.

:class:`Headroom` holds the capacity forecast of the recorded traffic and the busy time of the
baseline *replay* (so a mutation's busy time, from its own replay, is compared with the same
model on both sides). It names the bottleneck service, the one the ``headroom`` objective
relieves, and says in sentences what a candidate or a plan changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recipemut.errors import RecipemutError
from recipemut.forecast.capacity import HeadroomChange, headroom_change, service_outlooks
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

    def __init__(self, original: Recipe, baseline: Replay, prof: Profile) -> None:
        self.original = original
        self.note = ""
        self.forecast: Any = None
        try:
            self.forecast, _ = forecast_from_profile(prof, original)
        except (RecipemutError, ValueError) as e:  # too little history, a degenerate series
            self.note = f"no capacity forecast: {e}"
        # busy time from the baseline *replay*, as every mutation's: the same model on both sides
        self.before = baseline.service_busy_ms(original)

    def bottleneck(self) -> str:
        """The service whose forecast peak utilisation is closest to (or furthest past) its target:
        the first to need more replicas, what ``--objective headroom`` relieves.

        Raises :class:`~recipemut.errors.RecipemutError` without a forecast or without a service
        of declared capacity.
        """
        if self.forecast is None:
            raise RecipemutError(
                f"--objective headroom needs a capacity forecast, and there is none ({self.note}); "
                "choose another objective",
                code="no-forecast",
            )
        best: tuple[float, str] | None = None
        for o in service_outlooks(self.forecast, self.original, self.before):
            util = o.forecast_peak_util if o.forecast_peak_util is not None else o.current_peak_util
            if o.capacity is None or util is None or not o.target:
                continue
            load = util / o.target  # how close to its own target: the first to need replicas
            if best is None or load > best[0]:
                best = (load, o.service)
        if best is None:
            raise RecipemutError(
                "--objective headroom needs services with declared capacity (services: replicas, "
                "concurrency_per_replica) in the recipe",
                file=self.original.source,
                code="no-capacity",
            )
        return best[1]

    def change(self, recipe: Recipe, busy_ms: Mapping[str, float]) -> HeadroomChange | None:
        """The :class:`~recipemut.forecast.capacity.HeadroomChange` of a replay's busy time per
        operation under ``recipe`` (None without a forecast or busy time)."""
        if self.forecast is None or not busy_ms:
            return None
        after = busy_by_service(busy_ms, recipe)
        keys = set(self.before) | set(after)  # a substitute may bring a new service: same services on both sides
        before = {k: self.before.get(k, 0.0) for k in keys}
        after = {k: after.get(k, 0.0) for k in keys}
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
        """What the whole plan of ``result`` moves, a sentence per service (none for an empty plan)."""
        h = self.change(result.plan_recipe, result.plan_replay.busy_ms) if result.plan else None
        return self._moved(h) if h is not None else []
