"""suggest's capacity forecast on logs sampled by request: cases found in review
(recipemut/forecast/demand.py, forecast/headroom.py, usecases/suggest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recipemut.forecast.headroom import Headroom
from recipemut.predict.simulate import replay
from recipemut.usecases.forecast import build_report
from recipemut.usecases.inputs import LogSource, load_inputs

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"


@pytest.fixture(scope="module")
def sampled():  # type: ignore[no-untyped-def]
    return load_inputs(RECIPE, LogSource.of(LOGS, sample_requests=0.3, memory_budget="off"))


def test_headroom_forecasts_the_rate_of_every_request_as_forecast_does(sampled) -> None:  # type: ignore[no-untyped-def]
    # under --sample-requests, forecast's rate series counts every request (the ingest note says so),
    # but suggest's headroom forecast was built from the sampled requests scaled by 1/0.3: another
    # series, so suggest and forecast dated the same crossing differently
    assert sampled.report.sample is not None and sampled.report.sample.requests_kept < 3964
    r, prof = sampled.recipe, sampled.profile
    hr = Headroom(r, replay(r, prof, rng=np.random.default_rng(0)), prof, sample=sampled.report.sample)
    whole = build_report(sampled).forecast.history
    assert hr.forecast is not None
    assert hr.forecast.history.bin_s == whole.bin_s
    assert np.array_equal(hr.forecast.history.sampled, whole.sampled)
    # every request in the series' full bins (3,923 of 3,964), not the 1,195 kept
    assert int(hr.forecast.history.sampled.sum()) > 3 * sampled.report.sample.requests_kept
    np.testing.assert_allclose(hr.forecast.history.rps, whole.rps)


class _Made(Exception):
    """Raised by the spy once suggest has made its Headroom."""


def test_suggest_hands_the_sample_to_headroom(monkeypatch: pytest.MonkeyPatch) -> None:
    import recipemut.usecases.suggest as flow
    from recipemut.plan.search import SearchSettings

    seen: list[object] = []

    def spy(*args: object, sample: object = None) -> None:
        seen.append(sample)
        raise _Made

    monkeypatch.setattr(flow, "Headroom", spy)
    inputs = load_inputs(RECIPE, LogSource.of(LOGS, sample_requests=0.3, memory_budget="off"), document=True)
    with pytest.raises(_Made):
        flow.suggest(inputs, SearchSettings(), store=None)
    assert inputs.report.sample is not None and seen == [inputs.report.sample]
