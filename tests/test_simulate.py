"""simulate.py: trace replay with known numbers, and the differential test against the recorded log."""

from __future__ import annotations

import numpy as np
import pytest
from _suggest_helpers import profile_from_matrices, profile_of_spans, recipe
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut.errors import MutationError
from recipemut.loggen import generate_spans, synthetic_recipe
from recipemut.mutate.mutation import mutate
from recipemut.predict import simulate
from recipemut.predict.simulate import replay
from recipemut.profile.build import ST_ABSENT
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import recipe_from_dict, recipe_to_dict

RNG = np.random.default_rng


def _chain():
    """a -> b by an `after` edge only; c consumes both."""
    return recipe(
        [
            {"id": "a", "consumes": ["x"], "produces": ["ya"], "cost_per_call_usd": 0.001},
            {"id": "b", "consumes": ["x"], "produces": ["yb"], "after": ["a"], "cost_per_call_usd": 0.002},
            {"id": "c", "consumes": ["ya", "yb"], "produces": ["z"]},
        ],
        outputs=("z",),
    )


def test_baseline_replay_known_numbers() -> None:
    r = _chain()
    p = profile_from_matrices(
        r,
        {"a": np.array([10.0, 20.0]), "b": np.array([5.0, 50.0]), "c": np.array([1.0, 2.0])},
        cost={"a": np.array([0.001, 0.001]), "b": np.array([0.002, 0.002]), "c": np.array([0.0, 0.0])},
    )
    rep = replay(r, p, rng=RNG(0))
    assert rep.latency_ms.tolist() == [16.0, 72.0]
    assert rep.cost_usd.tolist() == pytest.approx([0.003, 0.003])
    assert rep.imputed_share == 0.0


def test_parallelize_takes_the_longest_branch() -> None:
    r = _chain()
    p = profile_from_matrices(r, {"a": np.array([10.0, 20.0]), "b": np.array([5.0, 50.0]), "c": np.array([1.0, 2.0])})
    par = mutate(recipe_to_dict(r), [Edit("set", ("operations", "b", "after"), [])])
    rep = replay(par, p, rng=RNG(0), original=r)
    assert rep.latency_ms.tolist() == [11.0, 52.0]  # max(a, b) + c
    assert rep.imputed_share == 0.0


def test_dispatch_gap_is_kept() -> None:
    r = _chain()
    # b started 3 ms after a finished: a gap the DAG does not explain, kept by the replay
    p = profile_from_matrices(
        r,
        {"a": np.array([10.0]), "b": np.array([5.0]), "c": np.array([1.0])},
        start_offset={"a": np.array([0.0]), "b": np.array([13.0]), "c": np.array([18.0])},
    )
    assert replay(r, p, rng=RNG(0)).latency_ms.tolist() == [19.0]
    par = mutate(recipe_to_dict(r), [Edit("set", ("operations", "b", "after"), [])])
    assert replay(par, p, rng=RNG(0), original=r).latency_ms.tolist() == [11.0]  # max(10, 3 + 5) + 1


def test_halt_skips_descendants_and_reorder_imputes_the_guard() -> None:
    # slow `enrich` then guard `check` (after enrich only): moving the guard first saves enrich when it halts
    r = recipe(
        [
            {"id": "enrich", "consumes": ["x"], "produces": ["e"], "cost_per_call_usd": 0.01},
            {"id": "check", "consumes": ["x"], "produces": ["ok"], "after": ["enrich"], "may_halt": True},
            {"id": "finish", "consumes": ["e", "ok"], "produces": ["z"]},
        ],
        outputs=("z",),
    )
    n = 4
    nan = np.nan
    p = profile_from_matrices(
        r,
        {
            "enrich": np.array([100.0, 100.0, 100.0, nan]),
            "check": np.array([5.0, 5.0, 5.0, nan]),
            "finish": np.array([1.0, nan, 1.0, nan]),
        },
        status={"check": np.array(["ok", "halted", "ok", 0]), "enrich": np.array(["ok", "ok", "ok", "error"])},
        cost={"enrich": np.full(n, 0.01)},
    )
    # request 3: enrich errored (and its latency was not recorded)
    p.latency_ms[3, p.col("enrich")] = 50.0
    p.start_offset_ms[3, p.col("enrich")] = 0.0
    base = replay(r, p, rng=RNG(0))
    assert base.latency_ms.tolist() == [106.0, 105.0, 106.0, 50.0]
    assert base.ran[:, base.op_ids.index("finish")].tolist() == [True, False, True, False]
    doc = recipe_to_dict(r)
    re = mutate(
        doc,
        [Edit("set", ("operations", "check", "after"), []), Edit("set", ("operations", "enrich", "after"), ["check"])],
    )
    rep = replay(re, p, rng=RNG(0), original=r)
    # request 1 halts at check now, before enrich: 5 ms and no enrich cost
    assert rep.latency_ms[1] == 5.0
    assert rep.cost_usd[1] == 0.0
    assert rep.latency_ms[0] == 106.0
    # request 3 never ran check (enrich failed first): check is imputed from a donor request
    assert rep.imputed[3, rep.op_ids.index("check")]
    assert rep.imputed_share == pytest.approx(0.25)


def test_substitute_uses_prior_and_is_imputed() -> None:
    r = recipe(
        [{"id": "a", "consumes": ["x"], "produces": ["z"], "equivalence": "a.read", "cost_per_call_usd": 0.01}],
        outputs=("z",),
        alternatives=[
            {
                "id": "a_fast",
                "service": "edge",
                "action": "AFast",
                "consumes": ["x"],
                "produces": ["z"],
                "equivalence": "a.read",
                "expected": {"latency_ms": {"p50": 10, "p95": 20}, "cost_per_call_usd": 0.02},
            }
        ],
    )
    n = 20000
    p = profile_from_matrices(r, {"a": np.full(n, 100.0)})
    sub = mutate(
        recipe_to_dict(r),
        [
            Edit("set", ("operations", "a", "service"), "edge"),
            Edit("set", ("operations", "a", "action"), "AFast"),
            Edit("set", ("operations", "a", "cost_per_call_usd"), 0.02),
        ],
    )
    rep = replay(sub, p, rng=RNG(1), original=r)
    assert rep.imputed_share == 1.0
    assert np.median(rep.latency_ms) == pytest.approx(10.0, rel=0.05)
    assert np.quantile(rep.latency_ms, 0.95) == pytest.approx(20.0, rel=0.05)
    assert rep.cost_usd.mean() == pytest.approx(0.02)
    assert "prior" in rep.notes["a"]


def test_cache_hits_replace_latency_and_cost() -> None:
    r = recipe([{"id": "a", "consumes": ["x"], "produces": ["z"], "deterministic": True}], outputs=("z",))
    keys = np.array([1, 1, 2, 1, 2, 3])
    p = profile_from_matrices(
        r,
        {"a": np.full(6, 40.0)},
        cost={"a": np.full(6, 0.01)},
        cache_key={"a": keys},
        request_start_ms=np.arange(6) * 1000.0,
    )
    cached = mutate(
        recipe_to_dict(r),
        [Edit("set", ("operations", "a", "cache"), {"ttl_s": 60, "max_entries": 100, "hit_latency_ms": 2})],
    )
    rep = replay(cached, p, rng=RNG(0), original=r)
    assert rep.latency_ms.tolist() == [40.0, 2.0, 40.0, 2.0, 2.0, 40.0]
    assert rep.cost_usd.tolist() == pytest.approx([0.01, 0, 0.01, 0, 0, 0.01])
    assert rep.cache_hit_rate["a"] == pytest.approx(0.5)


def test_hedge_cuts_the_tail_and_costs_extra_calls() -> None:
    r = recipe([{"id": "a", "consumes": ["x"], "produces": ["z"]}], outputs=("z",))
    rng = RNG(2)
    lat = np.where(rng.random(20000) < 0.1, 1000.0, 10.0)
    p = profile_from_matrices(r, {"a": lat}, cost={"a": np.full(lat.size, 0.001)})
    hedged = mutate(recipe_to_dict(r), [Edit("set", ("operations", "a", "hedge"), {"after_ms": 50, "max_extra": 1})])
    rep = replay(hedged, p, rng=RNG(3), original=r)
    assert np.all(rep.latency_ms <= lat)
    # a slow call is answered by the duplicate at 50 + 10 ms unless the duplicate is slow too (10%)
    slow = lat == 1000.0
    assert np.mean(rep.latency_ms[slow] == 60.0) == pytest.approx(0.9, abs=0.03)
    assert rep.cost_usd[slow] == pytest.approx(np.full(slow.sum(), 0.002))
    assert rep.cost_usd[~slow] == pytest.approx(np.full((~slow).sum(), 0.001))


def test_missing_span_is_imputed_from_donors() -> None:
    r = _chain()
    p = profile_from_matrices(
        r,
        {"a": np.array([10.0, 10.0, np.nan]), "b": np.array([5.0, 5.0, 5.0]), "c": np.array([1.0, 1.0, 1.0])},
        start_offset={
            "a": np.array([0.0, 0.0, np.nan]),
            "b": np.array([10.0, 10.0, 10.0]),
            "c": np.array([15.0, 15.0, 15.0]),
        },
    )
    rep = replay(r, p, rng=RNG(0))
    assert rep.imputed[:, rep.op_ids.index("a")].tolist() == [False, False, True]
    assert rep.latency_ms.tolist() == [16.0, 16.0, 16.0]


def test_unrecorded_operation_without_prior_is_an_error() -> None:
    r = _chain()
    p = profile_from_matrices(r, {"a": np.array([10.0]), "b": np.array([5.0]), "c": np.array([1.0])})
    p.status[:, p.col("a")] = ST_ABSENT
    p.latency_ms[:, p.col("a")] = np.nan
    with pytest.raises(MutationError) as e:
        replay(r, p, rng=RNG(0))
    assert e.value.message == (  # one request, and what to do about it
        "operation 'a' must run in 1 request, but the logs hold no span and it has no expected latency: check the "
        "mapping (--map) or its action and service against the spans, or give it expected: {latency_ms: {p50: 12, "
        "p95: 25}}"
    )
    two = profile_from_matrices(r, {"a": np.array([np.nan] * 2), "b": np.ones(2), "c": np.ones(2)})
    two.status[:, two.col("a")] = ST_ABSENT
    with pytest.raises(MutationError, match="'a' must run in 2 requests, but"):
        replay(r, two, rng=RNG(0))


def test_sampling_above_the_limit_is_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    r = _chain()
    n = 50
    p = profile_from_matrices(r, {"a": np.arange(n, dtype=float), "b": np.ones(n), "c": np.ones(n)})
    monkeypatch.setattr(simulate, "SAMPLE_LIMIT", 10)
    a = replay(r, p, rng=RNG(0))
    b = replay(r, p, rng=RNG(1))
    assert a.n_requests == 10
    assert a.rows.tolist() == b.rows.tolist()
    assert a.latency_ms.tolist() == (p.e2e_latency_ms[a.rows]).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_differential_unmutated_replay_reproduces_recorded_e2e(seed: int) -> None:
    r = recipe_from_dict(synthetic_recipe(24, seed=seed))
    spans = generate_spans(r, 3000, seed=seed)
    p = profile_of_spans(r, spans)
    rep = replay(r, p, rng=RNG(seed))
    recorded = p.e2e_latency_ms[rep.rows]
    # no span is missing in generated logs: every request must match to float error, which is the
    # spacing of float64 epoch milliseconds (~2.4e-4 ms) once per operation on the path
    atol = float(np.spacing(spans["start_ms"].max())) * len(r.operations)
    np.testing.assert_allclose(rep.latency_ms, recorded, rtol=0, atol=atol)
    assert rep.imputed_share == 0.0
    cost = np.nansum(p.cost_usd[rep.rows], axis=1)
    np.testing.assert_allclose(rep.cost_usd, cost, rtol=1e-9, atol=1e-12)
    # halts and errors really occurred, so the skip semantics were exercised
    assert (p.status == 3).any() and (p.status == 0).any()


def test_busy_time_per_operation_and_service() -> None:
    r = _chain()
    p = profile_from_matrices(r, {"a": np.array([10.0, 20.0]), "b": np.array([5.0, 50.0]), "c": np.array([1.0, 2.0])})
    rep = replay(r, p, rng=RNG(0))
    assert dict(rep.busy_ms) == {"a": 15.0, "b": 27.5, "c": 1.5}
    assert rep.service_busy_ms(r) == {"svc": 44.0}
    # a halted operation's descendants add no busy time (a fresh profile: profiles are values)
    p2 = profile_from_matrices(
        r,
        {"a": np.array([10.0, 20.0]), "b": np.array([5.0, np.nan]), "c": np.array([1.0, np.nan])},
        status={"a": np.array(["ok", "halted"])},
    )
    rep2 = replay(r, p2, rng=RNG(0))
    assert rep2.busy_ms["b"] == 2.5 and rep2.busy_ms["c"] == 0.5


def test_sampled_replay_reads_cache_hits_from_the_full_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    from recipemut.predict.cachesim import hits

    r = recipe([{"id": "a", "consumes": ["x"], "produces": ["z"], "deterministic": True}], outputs=("z",))
    n = 400
    keys = np.arange(n) % 7  # seven keys, each repeated: a full trace hits often
    p = profile_from_matrices(r, {"a": np.full(n, 30.0)}, cache_key={"a": keys}, request_start_ms=np.arange(n) * 100.0)
    cached = mutate(
        recipe_to_dict(r),
        [Edit("set", ("operations", "a", "cache"), {"ttl_s": 3600, "max_entries": 100, "hit_latency_ms": 1})],
    )
    full_hits = hits(np.arange(n) * 100.0, keys, 3600, 100)
    monkeypatch.setattr(simulate, "SAMPLE_LIMIT", 50)
    rep = replay(cached, p, rng=RNG(0), original=r)
    assert rep.n_requests == 50
    # the sample's hits are the full trace's hits on those rows, not a replay of the sample alone
    assert (rep.latency_ms == 1.0).tolist() == full_hits[rep.rows].tolist()


def test_a_replay_base_built_once_gives_the_same_replay_and_refuses_another_profile() -> None:
    from recipemut.predict.simulate import replay_base

    r = _chain()
    p = profile_from_matrices(r, {"a": np.array([10.0, 20.0]), "b": np.array([5.0, 50.0]), "c": np.array([1.0, 2.0])})
    base = replay_base(p, r)
    with_base = replay(r, p, rng=RNG(0), base=base)
    alone = replay(r, p, rng=RNG(0))
    assert with_base.latency_ms.tolist() == alone.latency_ms.tolist()
    assert with_base.cost_usd.tolist() == alone.cost_usd.tolist()
    other = profile_from_matrices(r, {"a": np.array([1.0]), "b": np.array([1.0]), "c": np.array([1.0])})
    with pytest.raises(ValueError, match="another profile"):
        replay(r, other, rng=RNG(0), base=base)
    parallel = recipe([{"id": o, "consumes": ["x"], "produces": [f"y{o}"]} for o in "abc"], outputs=("ya", "yb", "yc"))
    with pytest.raises(ValueError, match="another original"):
        replay(parallel, p, rng=RNG(0), original=parallel, base=base)


# ---- mutations on one operation compose: a cache in front of a substitute -------------------------

_CACHE = {"ttl_s": 3600, "max_entries": 10_000, "hit_latency_ms": 2}
_SUBSTITUTE = [
    Edit("set", ("operations", "enrich", "service"), "catalog-v2"),
    Edit("set", ("operations", "enrich", "action"), "EnrichFast"),
    Edit("set", ("operations", "enrich", "cost_per_call_usd"), 0.002),
]


def _enrich(consumes: tuple[str, ...] = ("x",), alt_consumes: tuple[str, ...] = ("x",), **op: object):
    """`enrich` (100 ms, 0.01 USD a call, deterministic) and a faster, cheaper catalogue alternative."""
    return recipe(
        [
            {
                "id": "enrich",
                "service": "catalog",
                "action": "Enrich",
                "consumes": list(consumes),
                "produces": ["z"],
                "deterministic": True,
                "equivalence": "catalog.enrich",
                "cost_per_call_usd": 0.01,
                **op,
            }
        ],
        inputs=("x", "y"),
        outputs=("z",),
        alternatives=[
            {
                "id": "enrich_fast",
                "service": "catalog-v2",
                "action": "EnrichFast",
                "consumes": list(alt_consumes),
                "produces": ["z"],
                "equivalence": "catalog.enrich",
                "deterministic": True,
                "expected": {"latency_ms": {"p50": 10, "p95": 20}, "cost_per_call_usd": 0.002},
            }
        ],
    )


def _enrich_profile(r, keys: np.ndarray, latency: np.ndarray | None = None):
    n = keys.size
    lat = np.full(n, 100.0) if latency is None else latency
    return profile_from_matrices(
        r,
        {"enrich": lat},
        cost={"enrich": np.full(n, 0.01)},
        cache_key={"enrich": keys},
        request_start_ms=np.arange(n) * 1000.0,
    )


def test_cache_after_substitute_hits_on_the_recorded_keys_and_misses_at_the_substitutes_latency() -> None:
    from recipemut.predict.cachesim import hits

    r = _enrich()
    n = 6000
    keys = np.random.default_rng(5).integers(0, 1000, n)
    p = _enrich_profile(r, keys)
    expected = hits(np.arange(n) * 1000.0, keys, 3600, 10_000)
    assert 0.4 < expected.mean() < 0.8  # both hits and misses, many of each
    cache = [Edit("set", ("operations", "enrich", "cache"), _CACHE)]
    # the same recipe whichever mutation came first
    both = mutate(recipe_to_dict(r), [*_SUBSTITUTE, *cache])
    assert both.operations == mutate(recipe_to_dict(r), [*cache, *_SUBSTITUTE]).operations
    rep = replay(both, p, rng=RNG(2), original=r)
    hit = rep.cost_usd == 0.0
    assert hit.tolist() == expected.tolist()  # keys come from the consumed data, not the implementation
    assert rep.cache_hit_rate["enrich"] == pytest.approx(expected.mean())
    assert (rep.latency_ms[hit] == 2.0).all()
    # misses: the substitute's latency (its prior: p50 10 ms, p95 20 ms) and its cost
    assert np.median(rep.latency_ms[~hit]) == pytest.approx(10.0, rel=0.05)
    assert np.quantile(rep.latency_ms[~hit], 0.95) == pytest.approx(20.0, rel=0.1)
    assert rep.cost_usd[~hit] == pytest.approx(0.002)
    # a hit rests on a recorded key and a declared latency; only the misses are imputed
    assert rep.imputed[:, 0].tolist() == (~expected).tolist()
    assert "substitute" in rep.notes["enrich"] and "cache hit rate" in rep.notes["enrich"]
    # the same hits as the cache alone, in front of the original implementation
    alone = replay(mutate(recipe_to_dict(r), cache), p, rng=RNG(2), original=r)
    assert (alone.latency_ms == 2.0).tolist() == expected.tolist()


def test_a_cache_kept_from_the_original_is_replayed_in_front_of_its_substitute() -> None:
    from recipemut.predict.cachesim import hits

    r = _enrich(cache=_CACHE)
    keys = np.array([1, 1, 2, 1, 2, 3, 3, 4])
    expected = hits(np.arange(keys.size) * 1000.0, keys, 3600, 10_000)
    # recorded under the cache: hits took 2 ms
    p = _enrich_profile(r, keys, latency=np.where(expected, 2.0, 100.0))
    assert replay(r, p, rng=RNG(0)).latency_ms.tolist() == np.where(expected, 2.0, 100.0).tolist()
    rep = replay(mutate(recipe_to_dict(r), _SUBSTITUTE), p, rng=RNG(0), original=r)
    assert (rep.cost_usd == 0.0).tolist() == expected.tolist()
    assert (rep.latency_ms[expected] == 2.0).all() and (rep.latency_ms[~expected] != 2.0).all()


def test_a_substitute_consuming_other_fields_uses_the_recorded_keys_only_where_they_hold() -> None:
    from recipemut.predict.cachesim import hits

    keys = np.array([1, 1, 2, 1, 2, 3])
    expected = hits(np.arange(keys.size) * 1000.0, keys, 3600, 10_000)
    cached = [*_SUBSTITUTE, Edit("set", ("operations", "enrich", "cache"), _CACHE)]
    # recorded on [x, y], the substitute consumes [x]: equal recorded keys still mean equal x
    r = _enrich(consumes=("x", "y"), alt_consumes=("x",))
    sub = mutate(recipe_to_dict(r), [*cached, Edit("set", ("operations", "enrich", "consumes"), ["x"])])
    rep = replay(sub, _enrich_profile(r, keys), rng=RNG(0), original=r)
    assert (rep.cost_usd == 0.0).tolist() == expected.tolist()
    assert "lower bound" in rep.notes["enrich"]
    # recorded on [x], the substitute consumes [y]: the recorded keys say nothing about its calls
    r2 = _enrich(alt_consumes=("y",))
    sub2 = mutate(recipe_to_dict(r2), [*cached, Edit("set", ("operations", "enrich", "consumes"), ["y"])])
    rep2 = replay(sub2, _enrich_profile(r2, keys), rng=RNG(0), original=r2)
    assert (rep2.cost_usd > 0).all() and rep2.cache_hit_rate["enrich"] == 0.0
    assert "no recorded key" in rep2.notes["enrich"]


@settings(max_examples=40, deadline=None)
@given(
    keys=st.lists(st.integers(-1, 6), min_size=1, max_size=60),
    gaps=st.lists(st.floats(0.0, 5000.0), min_size=60, max_size=60),
    ttl_s=st.sampled_from([0.5, 2.0, 30.0]),
)
def test_property_a_substitute_keeps_the_caches_hits(keys: list[int], gaps: list[float], ttl_s: float) -> None:
    from recipemut.predict.cachesim import hits

    k = np.array(keys)
    start = np.cumsum(gaps[: k.size])
    r = _enrich()
    p = profile_from_matrices(
        r,
        {"enrich": np.full(k.size, 100.0)},
        cost={"enrich": np.full(k.size, 0.01)},
        cache_key={"enrich": k},
        request_start_ms=start,
    )
    spec = {**_CACHE, "ttl_s": ttl_s}
    both = mutate(recipe_to_dict(r), [*_SUBSTITUTE, Edit("set", ("operations", "enrich", "cache"), spec)])
    rep = replay(both, p, rng=RNG(0), original=r)
    assert (rep.cost_usd == 0.0).tolist() == hits(start, k, ttl_s, 10_000).tolist()


def test_a_hedge_in_front_of_a_substitute_sends_duplicates_of_the_substitute() -> None:
    r = _enrich()
    n = 20000
    p = _enrich_profile(r, np.full(n, -1))
    sub = mutate(recipe_to_dict(r), _SUBSTITUTE)
    hedge = Edit("set", ("operations", "enrich", "hedge"), {"after_ms": 15, "max_extra": 1})
    both = mutate(recipe_to_dict(r), [*_SUBSTITUTE, hedge])
    alone = replay(sub, p, rng=RNG(4), original=r)
    rep = replay(both, p, rng=RNG(4), original=r)
    # the same substitute calls (same draws); a call still running at 15 ms ends with the duplicate's
    # answer, 15 ms + a substitute call (p50 10 ms), when that is sooner. Drawn from the recorded
    # 100 ms calls instead, no duplicate would ever win.
    assert (rep.latency_ms <= alone.latency_ms).all()
    won = rep.latency_ms < alone.latency_ms
    assert won.mean() > 0.01 and (rep.latency_ms[won] > 15.0).all() and (rep.latency_ms[won] < 100.0).all()
    assert np.quantile(rep.latency_ms, 0.999) < np.quantile(alone.latency_ms, 0.999)
    extra = rep.cost_usd > 0.002 + 1e-12
    assert (extra == (alone.latency_ms > 15.0)).all()  # every call past 15 ms sent one duplicate ...
    assert rep.cost_usd[extra] == pytest.approx(0.004)  # ... at the substitute's price
    assert "substitute" in rep.notes["enrich"] and "hedged after 15 ms" in rep.notes["enrich"]


@settings(max_examples=40, deadline=None)
@given(
    lat_a=st.lists(st.floats(0.5, 500.0), min_size=1, max_size=20),
    k=st.integers(2, 16),
    dedupe=st.booleans(),
)
def test_fanout_fields_change_nothing_on_one_call_per_request(lat_a: list[float], k: int, dedupe: bool) -> None:
    """With one recorded call per request, more calls in flight or a dedupe leave every request as
    recorded: the one call on any number of slots takes its own time, and has nothing to repeat."""
    r = _chain()
    n = len(lat_a)
    p = profile_from_matrices(
        r,
        {"a": np.array(lat_a), "b": np.full(n, 5.0), "c": np.ones(n)},
        cost={"a": np.full(n, 0.001), "b": np.full(n, 0.002), "c": np.zeros(n)},
        cache_key={"a": np.zeros(n, dtype=np.int64)},
    )
    doc = recipe_to_dict(r)
    doc["operations"][0] |= {"concurrency": k, "dedupe": dedupe}
    base = replay(r, p, rng=RNG(0))
    rep = replay(recipe_from_dict(doc), p, rng=RNG(0), original=r)
    assert rep.latency_ms.tolist() == base.latency_ms.tolist()
    assert rep.cost_usd.tolist() == pytest.approx(base.cost_usd.tolist())
    assert rep.imputed_share == 0.0 and "fan-out" in rep.notes["a"]


@pytest.mark.parametrize(("n", "said"), [(1, "must run in 1 request, but"), (3, "must run in 3 requests, but")])
def test_an_operation_never_recorded_says_its_requests_in_words(n: int, said: str) -> None:
    r = recipe([{"id": "a", "consumes": ["x"], "produces": ["y"]}, {"id": "b", "consumes": ["y"]}])
    p = profile_from_matrices(r, {"a": np.full(n, 5.0), "b": np.full(n, np.nan)})
    with pytest.raises(MutationError) as e:
        simulate.replay(r, p, rng=np.random.default_rng(0))
    assert said in e.value.message
