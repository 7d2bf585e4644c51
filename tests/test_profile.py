"""build_profile: known numbers on a handcrafted diamond, critical paths against a naive walk, rate bins."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from _profile_helpers import REQUESTS, diamond, span, write_spans
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut.errors import LogError
from recipemut.logs.ingest import read_logs
from recipemut.profile.build import (
    ST_ABSENT,
    ST_ERROR,
    ST_HALTED,
    ST_OK,
    Profile,
    build_profile,
    cost_contributors,
    critical_paths,
    latency_contributors,
    rate_bin_for,
    rate_series,
)

NAN = np.nan


@pytest.fixture(scope="module")
def prof(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    p = write_spans(tmp_path_factory.mktemp("logs") / "a.jsonl", REQUESTS)
    spans, _ = read_logs(p, recipe=diamond())
    return build_profile(spans, diamond())


def test_matrices(prof: Profile) -> None:
    assert prof.op_ids == ("load", "left", "right", "join")
    assert prof.request_ids.tolist() == ["r1", "r2", "r3", "r4", "r5"]
    np.testing.assert_array_equal(
        prof.latency_ms,
        [[10, 30, 50, 5], [20, 40, 10, 10], [5, NAN, NAN, NAN], [10, 10, 20, NAN], [10, 30, 50, 5]],
    )
    np.testing.assert_array_equal(prof.start_offset_ms[0], [0, 10, 10, 60])
    np.testing.assert_array_equal(prof.start_offset_ms[2], [0, NAN, NAN, NAN])
    np.testing.assert_array_equal(prof.request_start_ms, [1000, 2000, 3000, 4000, 5000])
    np.testing.assert_array_equal(prof.status[2], [ST_HALTED, ST_ABSENT, ST_ABSENT, ST_ABSENT])
    np.testing.assert_array_equal(prof.status[3], [ST_OK, ST_ERROR, ST_OK, ST_ABSENT])
    assert prof.status.dtype == np.int8
    np.testing.assert_array_equal(prof.e2e_latency_ms, [65, 70, 5, 30, 65])
    np.testing.assert_array_equal(prof.sample_rate, [1, 1, 1, 1, 0.5])
    assert prof.variant.tolist() == ["control"] * 5
    ck = prof.cache_key[:, 0]
    assert ck[0] == ck[1] != ck[2] and ck[0] >= 0 and ck[3] == ck[4] == -1
    assert (prof.cache_key[:, 1:] == -1).all()
    np.testing.assert_array_equal(prof.bytes_in[:, 0], [100, 300, NAN, NAN, NAN])


def test_cost_uses_logged_cost_else_the_declared_one(prof: Profile) -> None:
    # load logs 0.002 once; the recipe declares 0.001 per call for the other calls
    np.testing.assert_allclose(prof.cost_usd[:, 0], [0.002, 0.001, 0.001, 0.001, 0.001])
    assert np.isnan(prof.cost_usd[2, 1])  # did not run: no cost
    np.testing.assert_allclose(prof.e2e_cost_usd, [0.212, 0.211, 0.001, 0.211, 0.211])


def test_critical_paths(prof: Profile) -> None:
    expected = [[1, 0, 1, 1], [1, 1, 0, 1], [1, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 1]]
    np.testing.assert_array_equal(prof.critical.astype(int), expected)
    assert prof.critical_path == ("load", "right", "join")
    assert prof.critical_path_share == pytest.approx(0.4)


def test_op_stats(prof: Profile) -> None:
    load, left, right, join = (prof.stats(o) for o in ("load", "left", "right", "join"))
    assert (load.count, left.count, right.count, join.count) == (5, 4, 4, 3)
    assert load.service == "s1" and right.service == "s3"
    assert load.p50_ms == 10.0
    assert load.p95_ms == pytest.approx(np.percentile([10, 20, 5, 10, 10], 95))
    assert load.p99_ms == pytest.approx(np.percentile([10, 20, 5, 10, 10], 99))
    assert load.mean_ms == pytest.approx(11.0)
    assert load.halt_rate == pytest.approx(0.2) and load.error_rate == 0.0
    assert left.error_rate == pytest.approx(0.25) and left.run_share == pytest.approx(0.8)
    assert (load.critical_share, left.critical_share, right.critical_share, join.critical_share) == pytest.approx(
        (1.0, 0.2, 0.6, 0.6)
    )
    assert load.cost_mean_usd == pytest.approx(0.0012)
    assert right.cost_share == pytest.approx(0.8 / 0.846)
    assert load.bytes_in_mean == 200.0 and load.bytes_out_mean == 2000.0 and load.cpu_mean_ms == 5.0
    assert np.isnan(join.cpu_mean_ms)  # never logged
    d = load.to_dict()
    assert d["op"] == "load" and d["count"] == 5 and left.to_dict()["cpu_mean_ms"] is None


def test_tail_contributors(prof: Profile) -> None:
    # p95 of e2e [65, 70, 5, 30, 65] is 69: only r2 is in the tail, its critical path load, left, join
    assert [s.op for s in latency_contributors(prof, 3)] == ["left", "load", "join"]
    assert prof.stats("left").tail_ms == 40.0 and prof.stats("right").tail_ms == 0.0
    assert prof.stats("left").tail_share == pytest.approx(40 / 70)
    assert [s.op for s in cost_contributors(prof, 2)] == ["right", "left"]


def test_e2e_percentiles(prof: Profile) -> None:
    e = prof.e2e_percentiles()
    assert e["p50"] == 65.0 and e["p95"] == pytest.approx(69.0) and e["mean"] == pytest.approx(47.0)


def test_rate_series_is_scaled_by_sample_rate(prof: Profile) -> None:
    assert prof.rate_bin_s == 10.0  # logs span 4 s
    assert prof.rate.tolist() == [pytest.approx(6 / 10)]  # 4 requests + 1 sampled at 0.5 in one 10 s bin
    assert str(prof.rate.index.tz) == "UTC"


def test_rate_bin_rule() -> None:
    assert [rate_bin_for(s) for s in (0, 3599, 3600, 86399, 86400, 6 * 86400, 29 * 86400, 31 * 86400)] == [
        10.0,
        10.0,
        60.0,
        60.0,
        300.0,
        300.0,
        900.0,
        3600.0,
    ]


def test_rate_series_keeps_empty_bins_and_aligns_to_the_epoch() -> None:
    t = np.array([61_000.0, 62_000.0, 250_000.0])
    s = rate_series(t, np.array([1.0, 1.0, 4.0]), 60.0)
    assert s.index[0] == pd.Timestamp(60_000, unit="ms", tz="UTC")
    assert s.tolist() == pytest.approx([2 / 60, 0, 0, 4 / 60])
    assert (s.index[1] - s.index[0]) == pd.Timedelta(seconds=60)


def test_rate_bin_can_be_given(tmp_path: Path) -> None:
    spans, _ = read_logs(write_spans(tmp_path / "a.jsonl", REQUESTS), recipe=diamond())
    p = build_profile(spans, diamond(), rate_bin_s=1.0)
    assert p.rate_bin_s == 1.0 and len(p.rate) == 5 and p.rate.sum() == pytest.approx(6.0)


def test_unknown_ops_are_ignored_and_no_known_span_is_an_error() -> None:
    spans = pd.DataFrame([span("r1", "load", 0, 5), span("r1", "mystery", 0, 500)])
    p = build_profile(spans, diamond())
    assert p.n_requests == 1 and p.e2e_latency_ms.tolist() == [5.0]
    with pytest.raises(LogError, match="no span"):
        build_profile(pd.DataFrame([span("r1", "mystery", 0, 5)]), diamond())


def test_duplicate_spans_use_the_last_ending() -> None:
    spans = pd.DataFrame([span("r1", "load", 0, 50), span("r1", "load", 10, 5)])
    p = build_profile(spans, diamond())
    assert p.latency_ms[0, 0] == 50.0


def test_plain_pandas_frame_works_too() -> None:
    """Frames built by hand (object dtype, no optional columns) give the same numbers as ingest's."""
    frame = pd.DataFrame(REQUESTS)
    frame = frame.drop(columns=["cache_key"])
    p = build_profile(frame, diamond())
    np.testing.assert_array_equal(p.e2e_latency_ms, [65, 70, 5, 30, 65])
    assert (p.cache_key == -1).all() and p.sample_rate.tolist() == [1, 1, 1, 1, 0.5]


def _naive_critical(end: np.ndarray, preds: list[list[int]]) -> np.ndarray:
    n, k = end.shape
    out = np.zeros((n, k), bool)
    for r in range(n):
        ran = [j for j in range(k) if not np.isnan(end[r, j])]
        if not ran:
            continue
        cur: int | None = max(ran, key=lambda j: (end[r, j], -j))
        while cur is not None:
            out[r, cur] = True
            cand = [p for p in preds[cur] if not np.isnan(end[r, p])]
            cur = max(cand, key=lambda p: (end[r, p], -preds[cur].index(p))) if cand else None
    return out


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 7),
    n=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
)
def test_critical_paths_match_a_naive_walk(k: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = [(i, j) for i in range(k) for j in range(i + 1, k) if rng.random() < 0.4]
    g = nx.DiGraph(edges)
    g.add_nodes_from(range(k))
    preds = [sorted(g.predecessors(j)) for j in range(k)]
    end = rng.integers(0, 20, size=(n, k)).astype(float)  # integer ends make ties likely
    end[rng.random((n, k)) < 0.3] = np.nan
    got = critical_paths(end, preds)
    np.testing.assert_array_equal(got, _naive_critical(end, preds))
    # a critical path is a chain: each critical op but the first has a critical predecessor
    for r in range(n):
        on = np.flatnonzero(got[r])
        assert sum(not any(got[r, p] for p in preds[j]) for j in on) <= 1
