"""hedge says why a heavy-tailed operation got no candidate (``suggest --explain``, ``not_proposed``).

Issue 16 asked every operator that can silently propose nothing to say why; a hedge is what a
reader expects for an operation whose p99 is many times its p50, so that is where it speaks.
"""

from __future__ import annotations

import numpy as np
from _operators_helpers import make_profile, mini

from recipemut.mutate.operators import REGISTRY, OperatorContext, hedge, not_proposed
from recipemut.recipe.model import recipe_from_dict

OPS = [{"id": "quote", "consumes": ["id"], "produces": ["v"]}]
#: 400 calls around 10 ms, one in twenty at 300 ms: p99 300 ms, 30x the p50
HEAVY = np.where(np.arange(400) % 20 == 0, 300.0, 9.0 + (np.arange(400) % 7) / 3.0)
TAIL = "a heavy tail (p99 300 ms is 30.0x its p50 10.0 ms)"


def _ctx(lat: np.ndarray, ops: list[dict] | None = None, frozen: bool = False, **options: object) -> OperatorContext:
    doc = mini(ops or OPS, outputs=("v",))
    if frozen:
        doc["constraints"] = {"frozen": ["quote"]}
    r = recipe_from_dict(doc)
    p = make_profile(r, lat.size, latency_ms={"quote": lat})
    return OperatorContext.build(r, doc=doc, profile=p, options=options)


def test_a_heavy_tail_with_a_candidate_or_a_light_tail_says_nothing() -> None:
    ctx = _ctx(HEAVY)
    assert [m.id for m in hedge.generate(ctx)] == ["hedge:quote"]
    assert hedge.why_not(ctx) == {}
    light = _ctx(9.0 + (np.arange(400) % 7) / 3.0)
    assert hedge.generate(light) == [] and hedge.why_not(light) == {}
    assert REGISTRY["hedge"].why_not is not None


def test_a_heavy_tail_without_a_candidate_says_why() -> None:
    assert hedge.why_not(_ctx(HEAVY, [{**OPS[0], "side_effects": "external"}])) == {
        "quote": f"{TAIL}, but external side effects: a duplicate call would repeat an action"
    }
    assert hedge.why_not(_ctx(HEAVY, frozen=True)) == {"quote": f"{TAIL}, but frozen: its calls are not changed"}
    few = HEAVY[:60]
    assert hedge.why_not(_ctx(few)) == {
        "quote": f"{TAIL}, but only 60 ok calls in the logs, under 100 (option hedge_min_calls)"
    }
    small_gain = _ctx(HEAVY, hedge_min_p99_gain=0.99)
    assert hedge.generate(small_gain) == []
    (why,) = hedge.why_not(small_gain).values()
    assert why.startswith(f"{TAIL}, but the best delay (") and why.endswith(
        "less than 99% lower (option hedge_min_p99_gain)"
    ), why
    (reason,) = not_proposed(small_gain, ["hedge"])
    assert reason.sentence().startswith("hedge: quote: a heavy tail (p99 300 ms")
