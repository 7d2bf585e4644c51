"""Cache replay: literal cases, and a differential check against a plain per-call reference."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut.predict import cachesim


def _reference(times: list[float], keys: list[int], ttl_s: float, max_entries: int, policy: str) -> list[bool]:
    """The documented semantics, written as the obvious loop over calls in time order."""
    ttl = ttl_s * 1000.0
    calls = sorted((i for i in range(len(times)) if keys[i] >= 0), key=lambda i: (keys[i], times[i], i))
    hit = [False] * len(times)
    stored: dict[int, float] = {}  # key -> time the entry was stored / last used (access)
    entries: list[tuple[float, float]] = []  # live intervals
    for i in calls:
        k, t = keys[i], times[i]
        if k in stored and t < stored[k] + ttl:
            hit[i] = True
            if policy == "access":
                stored[k] = t
        else:
            stored[k] = t
    # live intervals for the peak (same definition as the module's)
    by_key: dict[int, list[int]] = {}
    for i in calls:
        by_key.setdefault(keys[i], []).append(i)
    for idx in by_key.values():
        start = None
        for j, i in enumerate(idx):
            if not hit[i]:
                if start is not None:
                    entries.append(start)
                start = (times[i], times[i] + ttl)
            if policy == "access":
                start = (start[0], times[i] + ttl) if start else None
            if j == len(idx) - 1 and start is not None:
                entries.append(start)
    peak = max((sum(1 for s, e in entries if s <= s0 < e) for s0, _ in entries), default=0)
    if peak > max_entries:
        counts = Counter(keys[i] for i in calls)
        admitted = {k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_entries]}
        hit = [h and keys[i] in admitted for i, h in enumerate(hit)]
    return hit


def test_expire_after_write_literal() -> None:
    t = np.array([0, 1000, 2999, 3000, 3001, 6500], dtype=float)
    k = np.array([1, 1, 1, 1, 1, 1])
    assert cachesim.hits(t, k, ttl_s=3, max_entries=5).tolist() == [False, True, True, False, True, False]


def test_expire_after_access_slides() -> None:
    t = np.array([0, 2000, 4000, 6000, 9500], dtype=float)
    k = np.array([1, 1, 1, 1, 1])
    assert cachesim.hits(t, k, 3, 5, policy="access").tolist() == [False, True, True, True, False]
    assert cachesim.hits(t, k, 3, 5, policy="write").tolist() == [False, True, False, True, False]


def test_unordered_input_is_replayed_in_time_order() -> None:
    t = np.array([2000, 0, 1000], dtype=float)
    k = np.array([4, 4, 4])
    assert cachesim.hits(t, k, 10, 5).tolist() == [True, False, True]


def test_absent_keys_and_nan_times_never_hit() -> None:
    t = np.array([0, 1, np.nan, 2], dtype=float)
    k = np.array([-1, -1, 3, 3])
    r = cachesim.replay(t, k, 10, 5)
    assert r.hits.tolist() == [False, False, False, False]
    assert r.calls == 1


def test_capacity_binds_lfu_admission() -> None:
    # key 1 requested 3 times, key 2 twice, key 3 twice; all live at once (peak 3) but room for 1
    t = np.array([0, 1, 2, 3, 4, 5, 6], dtype=float)
    k = np.array([1, 2, 3, 1, 2, 3, 1])
    r = cachesim.replay(t, k, 60, 1)
    assert r.peak_entries == 3 and r.capacity_bound
    assert r.hits.tolist() == [False, False, False, True, False, False, True]
    unbounded = cachesim.replay(t, k, 60, 3)
    assert not unbounded.capacity_bound
    assert unbounded.hits.tolist() == [False, False, False, True, True, True, True]
    assert unbounded.hit_rate == pytest.approx(4 / 7)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        cachesim.hits(np.zeros(2), np.zeros(3, dtype=int), 1, 1)
    with pytest.raises(ValueError):
        cachesim.hits(np.zeros(2), np.zeros(2, dtype=int), 0, 1)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.tuples(st.integers(0, 20_000), st.integers(-1, 6)), max_size=60),
    ttl_s=st.sampled_from([0.5, 1.0, 2.5, 7.0]),
    max_entries=st.integers(0, 8),
    policy=st.sampled_from(["write", "access"]),
)
def test_matches_reference(data: list[tuple[int, int]], ttl_s: float, max_entries: int, policy: str) -> None:
    times = [float(t) for t, _ in data]
    keys = [k for _, k in data]
    got = cachesim.hits(np.array(times, dtype=float), np.array(keys, dtype=np.int64), ttl_s, max_entries, policy=policy)  # type: ignore[arg-type]
    assert got.tolist() == _reference(times, keys, ttl_s, max_entries, policy)


def test_choose_prefers_shortest_ttl_close_to_best() -> None:
    rng = np.random.default_rng(1)
    # 20 keys, each called every 20 s for an hour: a 30 s TTL already catches about every other call
    n = 3600
    t = np.sort(rng.uniform(0, 3_600_000, n))
    k = rng.integers(0, 20, n)
    c = cachesim.choose(t, k, ttls_s=(1, 30, 300, 3600), max_entries_cap=1000)
    assert c is not None
    rates = dict(c.tried)
    assert rates[1] < rates[30] < rates[300] <= rates[3600]
    assert c.replay.hit_rate >= 0.9 * max(rates.values())
    assert all(rates[t] < 0.9 * max(rates.values()) for t in rates if t < c.ttl_s)
    assert c.max_entries >= 20 and not c.replay.capacity_bound


def test_choose_none_without_keys() -> None:
    assert cachesim.choose(np.zeros(3), np.full(3, -1)) is None


def test_large_input_runs_vectorised() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    t = np.sort(rng.uniform(0, 86_400_000, n))
    k = rng.zipf(1.3, n) % 50_000
    r = cachesim.replay(t, k, 300, 100_000)
    assert 0.0 < r.hit_rate < 1.0
    # every key's first call is a miss
    first = np.unique(k, return_index=True)[1]
    assert not r.hits[first].any()


def test_merge_fallback_gives_the_same_pointers(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    t = rng.uniform(0, 50_000, 3000).round(3)
    k = rng.integers(-1, 40, 3000)
    fast = cachesim.hits(t, k, 2.5, 1000)
    monkeypatch.setattr(cachesim, "_next_by_offsets", lambda *a: None)
    assert cachesim.hits(t, k, 2.5, 1000).tolist() == fast.tolist()
    assert cachesim.hits(t, k, 2.5, 1000).tolist() == _reference(t.tolist(), k.tolist(), 2.5, 1000, "write")


def test_choose_skips_when_no_cache_could_pay() -> None:
    t = np.arange(100, dtype=float)
    k = np.r_[np.arange(97), 0, 0, 0]  # at most 3% of calls could ever hit
    assert cachesim.choose(t, k, min_hit_rate=0.05) is None
    assert cachesim.choose(t, k, min_hit_rate=0.02) is not None
