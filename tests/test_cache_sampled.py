"""The cache replay on a sample of the requests predicts the full traffic's hits (issue 18).

Request sampling keeps whole requests by a hash of ``request_id``, so a cache's calls are thinned
by the fraction F and a key repeats less often within a TTL. The replay corrects for it with a TTL
of T / F (and the same capacity); these tests read one generated checkout log whole and as a 25%
sample, through the real ingest, and compare the hit rates.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from _profile_helpers import line, write_lines
from test_fanout_replay import RECIPE, request, with_keys

from recipemut.loggen import generate_spans, load_params, write_jsonl
from recipemut.logs.ingest import read_logs
from recipemut.mutate.mutation import mutate
from recipemut.mutate.operators import cache as cache_op
from recipemut.mutate.operators._base import OperatorContext
from recipemut.predict import cachesim, simulate
from recipemut.predict.simulate import replay
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe, load_recipe_text
from recipemut.recipe.model import Recipe, recipe_to_dict
from recipemut.usecases.inputs import LogSource, load_inputs

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"
F = 0.25
OP = "lookup_tax"  # deterministic, keyed on shipping_address (Zipf over a universe): its keys repeat


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Profile, Profile]:
    recipe = load_recipe(CHECKOUT / "recipe.yaml")
    spans = generate_spans(recipe, 16_000, seed=5, params=load_params(CHECKOUT / "loggen.yaml"), duration_s=86_400)
    log = tmp_path_factory.mktemp("cache_sampled") / "logs.jsonl"
    write_jsonl(spans, log)
    full = load_inputs(CHECKOUT / "recipe.yaml", LogSource.of(log, memory_budget="off")).profile
    sample = load_inputs(CHECKOUT / "recipe.yaml", LogSource.of(log, sample_requests=F)).profile
    assert full is not None and sample is not None
    return full, sample


def _calls(p: Profile) -> tuple[np.ndarray, np.ndarray]:
    j = p.col(OP)
    return p.request_start_ms + np.nan_to_num(p.start_offset_ms[:, j], nan=0.0), p.cache_key[:, j]


def test_the_profile_of_a_sample_carries_its_fraction(profiles: tuple[Profile, Profile]) -> None:
    full, sample = profiles
    assert full.request_fraction == 1.0
    assert sample.request_fraction == F
    assert 0.2 * full.n_requests < sample.n_requests < 0.3 * full.n_requests


@pytest.mark.parametrize("ttl_s", [60.0, 300.0, 3600.0])
@pytest.mark.parametrize("binding", [False, True])
def test_replay_of_the_sample_gives_the_full_logs_hit_rate(
    profiles: tuple[Profile, Profile], ttl_s: float, binding: bool
) -> None:
    full, sample = profiles
    t_full, k_full = _calls(full)
    peak = cachesim.replay(t_full, k_full, ttl_s, 10**9).peak_entries
    # a capacity a fifth of the peak binds (LFU admission): it is not to be scaled by F
    cap = max(peak // 5, 1) if binding else 10**9
    whole = cachesim.replay(t_full, k_full, ttl_s, cap)
    assert whole.capacity_bound is binding
    t, k = _calls(sample)
    corrected = cachesim.replay(t, k, ttl_s, cap, fraction=sample.request_fraction)
    thinned = cachesim.replay(t, k, ttl_s, cap)
    assert corrected.ttl_s == ttl_s and corrected.fraction == F
    assert corrected.hit_rate == pytest.approx(whole.hit_rate, abs=0.03)
    assert thinned.hit_rate < whole.hit_rate - 0.06  # the bias the correction removes
    if not binding:  # the longer TTL restores the live entries: the peak is the full traffic's
        assert corrected.peak_entries == pytest.approx(whole.peak_entries, rel=0.25)


def test_expire_after_access_is_corrected_alike(profiles: tuple[Profile, Profile]) -> None:
    full, sample = profiles
    whole = cachesim.replay(*_calls(full), 300.0, 10**9, policy="access")
    corrected = cachesim.replay(*_calls(sample), 300.0, 10**9, policy="access", fraction=F)
    assert corrected.hit_rate == pytest.approx(whole.hit_rate, abs=0.03)


def test_fraction_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        cachesim.replay(np.zeros(2), np.zeros(2, np.int64), 60.0, 10, fraction=0.0)


def _operator_hit_rate(p: Profile) -> tuple[float, str]:
    recipe = load_recipe(CHECKOUT / "recipe.yaml")
    ctx = OperatorContext.build(recipe, profile=p)
    (m,) = [m for m in cache_op.generate(ctx) if OP in m.targets]
    found = re.search(r"with a (\S+) s TTL .* answers (\d+\.\d)% of them", m.description)
    assert found is not None, m.description
    return float(found.group(2)) / 100.0, found.group(1)


def test_the_cache_operator_judges_the_sample_as_the_full_log(profiles: tuple[Profile, Profile]) -> None:
    full, sample = profiles
    rate_full, ttl_full = _operator_hit_rate(full)
    rate_sample, ttl_sample = _operator_hit_rate(sample)
    assert ttl_sample == ttl_full
    assert rate_sample == pytest.approx(rate_full, abs=0.03)


@pytest.mark.parametrize("rows", [None, 2_000])  # every profiled request, or the replay's own subsample
def test_the_simulator_replays_the_samples_cache_as_the_full_logs(
    profiles: tuple[Profile, Profile], rows: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, sample = profiles
    if rows is not None:  # the replay reads its rows' hits from a replay of every profiled request
        monkeypatch.setattr(simulate, "SAMPLE_LIMIT", rows)
    recipe = load_recipe(CHECKOUT / "recipe.yaml")
    spec = {"ttl_s": 300, "max_entries": 10_000, "hit_latency_ms": 1}
    cached = mutate(recipe_to_dict(recipe), [Edit("set", ("operations", OP, "cache"), spec)])
    rng = np.random.default_rng
    on_full = replay(cached, full, rng=rng(1), original=recipe).cache_hit_rate[OP]
    on_sample = replay(cached, sample, rng=rng(1), original=recipe).cache_hit_rate[OP]
    assert on_sample == pytest.approx(on_full, abs=0.03)
    assert on_full > 0.1  # enough repeats for the comparison to mean something


# ---- a fan-out operation: each call's key, replayed per call (predict/percall.py) ---------------

T0 = 1_700_000_000_000.0
CACHE = "{ttl_s: 60, max_entries: 100, hit_latency_ms: 1}"


def _fanout_profile(tmp_path: Path, fraction: float) -> tuple[Profile, Recipe]:
    """Four requests 100 s apart, each calling ``get_item`` for the keys a and b."""
    lines = [d for i in range(4) for d in request(f"r{i}", T0 + i * 100_000, [10.0, 10.0], keys=["a", "b"])]
    r = load_recipe_text(RECIPE, file="fan.yaml")
    df, _ = read_logs(write_lines(tmp_path / "fan.jsonl", [line(d) for d in lines]), recipe=r)
    return build_profile(df, r, request_fraction=fraction), r


@pytest.mark.parametrize("rows", [None, 3])  # every profiled request, or the replay's own subsample
@pytest.mark.parametrize(("fraction", "per_request"), [(1.0, [0, 0, 0, 0]), (0.25, [0, 1, 1, 0])])
def test_a_fanout_cache_on_a_sample_replays_repeats_across_requests_with_ttl_over_f(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int | None, fraction: float, per_request: list[int]
) -> None:
    if rows is not None:
        monkeypatch.setattr(simulate, "SAMPLE_LIMIT", rows)
    prof, r = _fanout_profile(tmp_path, fraction)
    cached = load_recipe_text(with_keys(cache=CACHE), file="fan.yaml")
    rep = replay(cached, prof, rng=np.random.default_rng(0), original=r)
    # 100 s apart, a 60 s TTL never hits; on a 25% sample it is replayed as 240 s: r1 and r2 hit,
    # r3 (300 s after r0's miss) misses again
    replayed = simulate.sample_rows(4, rows)
    assert rep.cache_hit_rate["get_item"] == pytest.approx(np.mean(np.array(per_request)[replayed]))
