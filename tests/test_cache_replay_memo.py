"""The cache replay memo: a search's candidates reuse a replay only when its inputs are the same.

``cachesim.ReplayMemo`` returns what a fresh ``cachesim.replay`` returns (settings and calls
equal), and the simulator keeps one on each ``ReplayBase`` (one profile): entries of one profile
are never read for another, even through a memo shared by mistake.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from _suggest_helpers import profile_from_matrices, recipe

from recipemut.mutate.mutation import mutate
from recipemut.predict import cachesim, simulate
from recipemut.predict.cachesim import CacheReplay, ReplayMemo
from recipemut.predict.simulate import Replay, replay, replay_base
from recipemut.profile.build import Profile
from recipemut.recipe.edits import Edit
from recipemut.recipe.model import Recipe, recipe_to_dict

TTLS = (2.0, 30.0, 600.0)
CAPS = (3, 10_000)
FRACTIONS = (1.0, 0.4)
POLICIES: tuple[cachesim.Policy, ...] = ("write", "access")


def _calls(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """An hour of calls on Zipf-like keys, some without a key and some without a time."""
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, 3_600_000.0, n))
    keys = np.minimum(rng.zipf(1.3, n), 60).astype(np.int64)
    keys[rng.random(n) < 0.05] = -1
    times[rng.random(n) < 0.02] = np.nan
    return times, keys


def _same(a: CacheReplay, b: CacheReplay) -> bool:
    fields = [f.name for f in dataclasses.fields(CacheReplay) if f.name != "hits"]
    return a.hits.tolist() == b.hits.tolist() and all(getattr(a, f) == getattr(b, f) for f in fields)


def test_the_memo_returns_a_fresh_replay_for_every_ttl_capacity_fraction_and_policy() -> None:
    times, keys = _calls(1)
    grid = list(itertools.product(TTLS, CAPS, FRACTIONS, POLICIES))
    fresh = {s: cachesim.replay(times, keys, s[0], s[1], fraction=s[2], policy=s[3]) for s in grid}
    # every setting matters on these calls, so an entry read under another setting would be wrong
    for i in range(4):
        assert any(
            not _same(fresh[a], fresh[b])
            for a in grid
            for b in grid
            if a[i] != b[i] and all(a[m] == b[m] for m in range(4) if m != i)
        ), f"setting {i} changes nothing"
    memo = ReplayMemo(size=len(grid))
    for _ in range(2):
        for s in grid:
            got = memo.replay(times.copy(), keys.copy(), s[0], s[1], fraction=s[2], policy=s[3])
            assert _same(got, fresh[s]), s
    assert (memo.computed, memo.reused) == (len(grid), len(grid))


def test_other_calls_are_replayed_not_read_from_an_entry() -> None:
    times, keys = _calls(2)
    memo = ReplayMemo()
    memo.replay(times, keys, 30.0, 10_000)
    ok = np.flatnonzero(np.isfinite(times) & (keys >= 0))
    hit = ok[memo.replay(times, keys, 30.0, 10_000).hits[ok]]
    later = times.copy()
    later[hit[0]] += 31_000.0  # a hit moved past its entry's TTL
    other_key = keys.copy()
    other_key[hit[1]] = 10_000  # a hit under a key never seen
    for t, k in ((later, keys), (times, other_key)):
        got = memo.replay(t, k, 30.0, 10_000)
        want = cachesim.replay(t, k, 30.0, 10_000)
        assert _same(got, want)
        assert not _same(got, cachesim.replay(times, keys, 30.0, 10_000))
    assert memo.computed == 3
    # NaN times are equal inputs: the same calls again are read from the entry
    memo.replay(times.copy(), keys.copy(), 30.0, 10_000)
    assert memo.reused == 2 and memo.computed == 3


def test_a_named_input_is_reused_under_its_name_only() -> None:
    (t1, k1), (t2, k2) = _calls(3), _calls(4)
    memo = ReplayMemo()
    first = memo.replay(t1, k1, 60.0, 100, inputs_id=("column", 0))
    assert _same(memo.replay(t1, k1, 60.0, 100, inputs_id=("column", 0)), first)
    assert _same(memo.replay(t2, k2, 60.0, 100, inputs_id=("column", 1)), cachesim.replay(t2, k2, 60.0, 100))
    assert (memo.computed, memo.reused) == (2, 1)


def test_the_memo_is_bounded_in_entries_and_bytes() -> None:
    memo = ReplayMemo(size=3)
    inputs = [_calls(s, n=500) for s in range(6)]
    for t, k in inputs:
        memo.replay(t, k, 30.0, 100)
    assert len(memo) == 3
    memo.replay(*inputs[0], 30.0, 100)  # the oldest was dropped: replayed again
    assert (memo.computed, memo.reused) == (7, 0)
    memo.replay(*inputs[5], 30.0, 100)  # a recent one stayed
    assert memo.reused == 1
    small = ReplayMemo(max_bytes=10_000)  # one entry of 500 calls holds 8,500 bytes
    for t, k in inputs:
        small.replay(t, k, 30.0, 100)
        assert len(small) == 1 and small.nbytes <= 10_000


def test_a_caller_changing_its_hits_or_its_inputs_leaves_the_entry_alone() -> None:
    times, keys = _calls(5)
    want = cachesim.replay(times, keys, 60.0, 100).hits.copy()
    memo = ReplayMemo()
    got = memo.replay(times, keys, 60.0, 100).hits
    got[:] = True
    kept_t, kept_k = times.copy(), keys.copy()
    times[:], keys[:] = 0.0, 1  # the caller's arrays, reused for something else
    again = memo.replay(kept_t, kept_k, 60.0, 100).hits
    assert again.tolist() == want.tolist() and memo.reused == 1
    again[:] = False
    assert memo.replay(kept_t, kept_k, 60.0, 100).hits.tolist() == want.tolist()


# ---- the simulator: one memo per replay base ----------------------------------------------------

_CACHE_A = {"ttl_s": 3600, "max_entries": 100, "hit_latency_ms": 1}
_CACHE_B = {"ttl_s": 3, "max_entries": 100, "hit_latency_ms": 1}


def _chain() -> Recipe:
    return recipe(
        [
            {"id": "a", "consumes": ["x"], "produces": ["y"], "deterministic": True},
            {"id": "b", "consumes": ["y"], "produces": ["z"], "deterministic": True},
        ],
        outputs=("z",),
    )


def _profile(r: Recipe, n: int, b_keys: np.ndarray) -> Profile:
    """Requests a second apart; ``a`` takes 5 s (one key: a cache on it hits from the second call)."""
    return profile_from_matrices(
        r,
        {"a": np.full(n, 5000.0), "b": np.full(n, 20.0)},
        cost={"a": np.full(n, 0.01), "b": np.full(n, 0.02)},
        cache_key={"a": np.zeros(n, dtype=np.int64), "b": b_keys},
        request_start_ms=np.arange(n) * 1000.0,
    )


def _cached(r: Recipe, *ops: str) -> Recipe:
    conf = {"a": _CACHE_A, "b": _CACHE_B}
    return mutate(recipe_to_dict(r), [Edit("set", ("operations", o, "cache"), conf[o]) for o in ops])


def _equal(x: Replay, y: Replay) -> bool:
    return (
        x.latency_ms.tolist() == y.latency_ms.tolist()
        and x.cost_usd.tolist() == y.cost_usd.tolist()
        and dict(x.cache_hit_rate) == dict(y.cache_hit_rate)
    )


def test_candidates_moving_a_caches_calls_get_their_own_replay() -> None:
    r = _chain()
    p = _profile(r, 40, np.full(40, 9, dtype=np.int64))
    b_only, both = _cached(r, "b"), _cached(r, "a", "b")  # a cache on `a` moves b's calls earlier
    base = replay_base(p, r)
    for cand in (b_only, both, b_only, both):
        shared = replay(cand, p, rng=np.random.default_rng(0), original=r, base=base)
        alone = replay(cand, p, rng=np.random.default_rng(0), original=r)
        assert _equal(shared, alone)
    # the two candidates' caches on b answer different calls: an entry read across them would be wrong
    one = replay(b_only, p, rng=np.random.default_rng(0), original=r)
    two = replay(both, p, rng=np.random.default_rng(0), original=r)
    assert one.cache_hit_rate["b"] != two.cache_hit_rate["b"]
    # b_only, both, both's cache on a, then all three again
    assert (base.cache_replays.computed, base.cache_replays.reused) == (3, 3)


@pytest.mark.parametrize("sampled", [False, True])
def test_two_profiles_never_share_entries(monkeypatch: pytest.MonkeyPatch, sampled: bool) -> None:
    r = _chain()
    n = 60
    rng = np.random.default_rng(6)
    p1 = _profile(r, n, rng.integers(0, 3, n))
    p2 = _profile(r, n, rng.integers(0, 3, n))  # the same shape, other keys
    if sampled:  # the full trace is replayed, under the name of the profile's column
        monkeypatch.setattr(simulate, "SAMPLE_LIMIT", 40)
    cand = _cached(r, "b")
    b1, b2 = replay_base(p1, r), replay_base(p2, r)
    assert b1.sampled is sampled and b1.cache_replays is not b2.cache_replays
    want = [replay(cand, p, rng=np.random.default_rng(0), original=r) for p in (p1, p2)]
    assert want[0].cache_hit_rate["b"] != want[1].cache_hit_rate["b"]
    # even a memo shared by two bases (a base copied with another profile) keeps them apart
    b2 = dataclasses.replace(b2, cache_replays=b1.cache_replays)
    for _ in range(2):
        for p, b, w in ((p1, b1, want[0]), (p2, b2, want[1])):
            assert _equal(replay(cand, p, rng=np.random.default_rng(0), original=r, base=b), w)
    assert (b1.cache_replays.computed, b1.cache_replays.reused) == (2, 2)
