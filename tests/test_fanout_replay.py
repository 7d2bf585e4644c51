"""Fan-out replay: scheduling the recorded calls of an operation on k slots, dedupe and batches, the
per-call figures the profile keeps, and the replay of a recipe whose fan-out fields changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _profile_helpers import line, write_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from recipemut.errors import MutationError
from recipemut.logs.ingest import read_logs
from recipemut.predict.fanout import batch_calls, first_of_key, makespan
from recipemut.predict.simulate import Replay, replay
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.loader import load_recipe_text
from recipemut.recipe.model import Recipe

T0 = 1_700_000_000_000.0

RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: fan
version: 1
fields:
  order: {type: string}
  item_ids: {type: array}
  items: {type: array}
inputs: [order]
outputs: [items]
operations:
  - id: list_items
    service: db
    action: ListItems
    consumes: [order]
    produces: [item_ids]
    cost_per_call_usd: 0.001
  - id: get_item
    service: catalog
    action: GetItem
    consumes: [item_ids]
    produces: [items]
    deterministic: true
    equivalence: catalog.get_item
    cost_per_call_usd: 0.0001
    foreach: item_ids
    retry: {max_attempts: 2}
alternatives:
  - id: get_items_batch
    service: catalog
    action: GetItems
    equivalence: catalog.get_item
    consumes: [item_ids]
    produces: [items]
    max_batch: 50
    cost_per_call_usd: 0.0003
    expected: {latency_ms: {p50: 20, p95: 20.0001}}
"""


def request(
    rid: str, t0: float, calls: list[float], *, keys: list[str] | None = None, failed: set[int] = frozenset()
) -> list[dict[str, Any]]:
    """list_items (5 ms), then the get_item calls of ``calls`` (ms) one after another, no gap; a call
    in ``failed`` errs and is tried again (attempt 2) at the same latency."""
    out: list[dict[str, Any]] = [
        {"request_id": rid, "op": "list_items", "span_id": f"{rid}-l", "start_ms": t0, "latency_ms": 5.0}
        | {"status": "ok"}
    ]
    t = t0 + 5.0
    for i, lat in enumerate(calls):
        tries = [("error", 1), ("ok", 2)] if i in failed else [("ok", 1)]
        for status, attempt in tries:
            d: dict[str, Any] = {"request_id": rid, "op": "get_item", "span_id": f"{rid}-g{i}-{attempt}"}
            d |= {"start_ms": t, "latency_ms": lat, "status": status, "attempt": attempt, "items": 1}
            if keys is not None:
                d["cache_key"] = keys[i]
            out.append(d)
            t += lat
    return out


def profile_of(tmp_path: Path, lines: list[dict[str, Any]], text: str = RECIPE) -> tuple[Profile, Recipe]:
    r = load_recipe_text(text, file="fan.yaml")
    df, _ = read_logs(write_lines(tmp_path / "fan.jsonl", [line(d) for d in lines]), recipe=r)
    return build_profile(df, r), r


# ---- scheduling ---------------------------------------------------------------------------------


def test_four_serial_calls_of_10_ms_on_1_2_and_4_slots() -> None:
    d = np.array([[10.0, 10.0, 10.0, 10.0]])
    assert [makespan(d, k).tolist() for k in (1, 2, 3, 4, 9)] == [[40.0], [20.0], [20.0], [10.0], [10.0]]


def test_each_call_goes_to_the_slot_that_frees_first_in_recorded_order() -> None:
    # slots: 8 | 2, then 2 -> slot 2 (free at 2), then 5 -> slot 2 (free at 4): 8 and 9
    assert makespan(np.array([[8.0, 2.0, 2.0, 5.0]]), 2).tolist() == [9.0]
    # NaN-padded rows of different lengths, and a request without calls
    d = np.array([[3.0, 3.0, 3.0], [7.0, np.nan, np.nan], [np.nan, np.nan, np.nan]])
    out = makespan(d, 2)
    assert out[:2].tolist() == [6.0, 7.0] and np.isnan(out[2])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        makespan(np.ones((1, 2)), 0)
    with pytest.raises(ValueError, match="matrix"):
        makespan(np.ones(3), 1)


durations = hnp.arrays(
    float,
    st.tuples(st.integers(1, 6), st.integers(1, 9)),
    elements=st.one_of(st.floats(0.0, 1000.0), st.just(np.nan)),
)


@settings(max_examples=200, deadline=None)
@given(d=durations)
def test_makespan_is_non_increasing_in_k_and_between_the_longest_call_and_their_sum(d: np.ndarray) -> None:
    has = ~np.isnan(d).all(axis=1)
    longest = np.nanmax(np.where(np.isnan(d), -np.inf, d), axis=1)
    total = np.nansum(d, axis=1)
    prev = None
    for k in range(1, d.shape[1] + 2):
        m = makespan(d, k)
        assert np.isnan(m[~has]).all()
        assert (m[has] >= longest[has] - 1e-9).all() and (m[has] <= total[has] + 1e-9).all()
        if prev is not None:
            assert (m[has] <= prev[has] + 1e-9).all()
        prev = m
    assert makespan(d, 1)[has] == pytest.approx(total[has])


def test_dedupe_keeps_the_first_call_of_each_key_and_every_call_without_one() -> None:
    keys = np.array([[7, 7, 8, 7, -1, -1], [1, 2, 3, -1, -1, -1]])
    assert first_of_key(keys).tolist() == [
        [True, False, True, False, True, True],
        [True, True, True, True, True, True],
    ]


def test_13_items_in_batches_of_5_are_3_calls() -> None:
    assert batch_calls(np.array([13.0, 10.0, 1.0, 0.0]), 5).tolist() == [3, 2, 1, 0]
    with pytest.raises(ValueError):
        batch_calls(np.array([1.0]), 0)


# ---- the calls the profile keeps ----------------------------------------------------------------


def test_the_profile_keeps_each_call_with_its_retries_in_start_order(tmp_path: Path) -> None:
    lines = request("r1", T0, [10.0, 20.0, 30.0], keys=["a", "b", "a"], failed={1}) + request(
        "r2", T0 + 1000, [4.0], keys=["c"]
    )
    prof, _ = profile_of(tmp_path, lines)
    d = prof.call_durations("get_item")
    assert d.shape == (2, 3)
    assert d[0].tolist() == [10.0, 40.0, 30.0]  # the retried call: both attempts, on one slot
    assert d[1, 0] == 4.0 and np.isnan(d[1, 1:]).all()
    assert prof.call_costs("get_item")[0].tolist() == pytest.approx([0.0001, 0.0002, 0.0001])
    assert prof.call_items("get_item")[0].tolist() == [1.0, 1.0, 1.0]
    keys = prof.call_keys("get_item")
    assert keys[0, 0] == keys[0, 2] != keys[0, 1] and keys[1, 1] == -1
    assert prof.call_durations("list_items").tolist() == [[5.0], [5.0]]


# ---- replay -------------------------------------------------------------------------------------


def replayed(prof: Profile, original: Recipe, text: str, seed: int = 0) -> Replay:
    return replay(load_recipe_text(text, file="fan.yaml"), prof, rng=np.random.default_rng(seed), original=original)


def with_keys(**changes: Any) -> str:
    """The recipe with ``get_item``'s fan-out keys set to ``changes``."""
    extra = "".join(f"    {k}: {v}\n" for k, v in changes.items())
    return RECIPE.replace("    retry: {max_attempts: 2}\n", "    retry: {max_attempts: 2}\n" + extra)


def test_the_unchanged_fanout_replays_its_recorded_cell(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0] * 4) + request("r2", T0 + 1000, [3.0, 8.0]))
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert rep.latency_ms.tolist() == pytest.approx(prof.e2e_latency_ms.tolist()) == [45.0, 16.0]
    assert rep.cost_usd.tolist() == pytest.approx(prof.e2e_cost_usd.tolist())
    assert "get_item" not in rep.notes and rep.imputed_share == 0.0


def test_more_calls_in_flight_reschedule_the_recorded_calls(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0] * 4) + request("r2", T0 + 1000, [3.0, 8.0]))
    base_cost = prof.e2e_cost_usd.tolist()
    two = replayed(prof, r, with_keys(concurrency=2))
    assert two.latency_ms.tolist() == [5.0 + 20.0, 5.0 + 8.0]
    assert two.cost_usd.tolist() == pytest.approx(base_cost)  # the same calls, the same cost
    assert two.imputed_share == 0.0 and "2 slots" in two.notes["get_item"]
    four = replayed(prof, r, with_keys(concurrency=4))
    assert four.latency_ms.tolist() == [15.0, 13.0]


def test_a_retried_call_keeps_its_attempts_on_its_slot(tmp_path: Path) -> None:
    # calls 10, 10 (failed once: 20 in all), 10, 10 on 2 slots: 10 | 20, then 10 on slot 1 (free at
    # 10) -> 20, then 10 on either slot free at 20 -> 30
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0] * 4, failed={1}))
    assert prof.e2e_latency_ms.tolist() == [55.0]
    rep = replayed(prof, r, with_keys(concurrency=2))
    assert rep.latency_ms.tolist() == [35.0]
    assert rep.cost_usd.tolist() == pytest.approx(prof.e2e_cost_usd.tolist())  # 5 attempts paid


def test_dedupe_drops_repeated_keys_and_their_cost(tmp_path: Path) -> None:
    lines = request("r1", T0, [10.0, 20.0, 30.0, 40.0], keys=["a", "b", "a", "b"])
    lines += request("r2", T0 + 1000, [10.0, 10.0], keys=["c", "d"])
    prof, r = profile_of(tmp_path, lines)
    rep = replayed(prof, r, with_keys(dedupe="true"))
    assert rep.latency_ms.tolist() == [5.0 + 30.0, 5.0 + 20.0]
    assert rep.cost_usd.tolist() == pytest.approx([0.001 + 2 * 0.0001, 0.001 + 2 * 0.0001])
    assert "dedupe drops 2 repeated calls (33%)" in rep.notes["get_item"]
    both = replayed(prof, r, with_keys(dedupe="true", concurrency=2))
    assert both.latency_ms.tolist() == [5.0 + 20.0, 5.0 + 10.0]


def batched() -> str:
    """The recipe with ``get_item`` served by the batched alternative, 5 items a call, at its price."""
    text = with_keys(batch_size=5, substituted_from="get_item").replace("action: GetItem\n", "action: GetItems\n", 1)
    return text.replace("    cost_per_call_usd: 0.0001\n", "", 1)


def test_a_batched_alternative_serves_13_items_in_3_calls_timed_from_its_prior(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0] * 13) + request("r2", T0 + 1000, [10.0] * 4))
    text = batched()
    rep = replayed(prof, r, text)
    # the prior is ~20 ms for every call: 3 serial calls, then 1
    assert rep.latency_ms == pytest.approx([5.0 + 60.0, 5.0 + 20.0], abs=0.01)
    assert rep.cost_usd.tolist() == pytest.approx([0.001 + 3 * 0.0003, 0.001 + 0.0003])
    assert rep.imputed_share == 1.0 and "serves 5 items a call" in rep.notes["get_item"]
    on_two = replayed(prof, r, text.replace("batch_size: 5\n", "batch_size: 5\n    concurrency: 2\n"))
    assert on_two.latency_ms == pytest.approx([5.0 + 40.0, 5.0 + 20.0], abs=0.01)


def test_a_batched_alternative_without_a_prior_is_a_one_line_error(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0] * 3))
    text = batched()
    text = text.replace("    expected: {latency_ms: {p50: 20, p95: 20.0001}}\n", "")
    with pytest.raises(MutationError, match="no expected latency"):
        replayed(prof, r, text)


def test_n_plus_one_calls_with_retries_on_as_many_slots_as_calls_take_the_longest_call(tmp_path: Path) -> None:
    lat = [12.0, 11.0, 30.0, 9.0, 14.0, 10.0, 30.0, 12.0, 8.0, 13.0]
    prof, r = profile_of(tmp_path, request("r1", T0, lat, failed={2, 6}))
    assert prof.e2e_latency_ms.tolist() == [5.0 + sum(lat) + 60.0]  # 13 attempts, one after another
    assert prof.call_durations("get_item").shape == (1, 10)
    rep = replayed(prof, r, with_keys(concurrency=10))
    assert rep.latency_ms.tolist() == [5.0 + 60.0]  # a retried 30 ms call: both attempts on its slot
    assert rep.cost_usd.tolist() == pytest.approx(prof.e2e_cost_usd.tolist())


def test_a_substitute_of_one_call_retried_once_keeps_todays_replay(tmp_path: Path) -> None:
    (tmp_path / "retried").mkdir()
    (tmp_path / "once").mkdir()
    prof, r = profile_of(tmp_path / "retried", request("r1", T0, [10.0], failed={0}))
    once, r1 = profile_of(tmp_path / "once", request("r1", T0, [10.0]))
    text = RECIPE.replace("action: GetItem\n", "action: GetItems\n", 1)
    a, b = replayed(prof, r, text, seed=3), replayed(once, r1, text, seed=3)
    assert a.latency_ms.tolist() == b.latency_ms.tolist()  # the retry does not send it down the fan-out path
    assert "fan-out" not in a.notes["get_item"] and "substitute" in a.notes["get_item"]


# ---- busy time counts every call ----------------------------------------------------------------


def overlapping(rid: str, t0: float, calls: list[float]) -> list[dict[str, Any]]:
    """list_items (5 ms), then the get_item calls of ``calls`` (ms) all started at once."""
    out = request(rid, t0, [])
    for i, lat in enumerate(calls):
        d: dict[str, Any] = {"request_id": rid, "op": "get_item", "span_id": f"{rid}-g{i}", "start_ms": t0 + 5.0}
        out.append(d | {"latency_ms": lat, "status": "ok", "items": 1})
    return out


def test_busy_time_is_the_calls_added_up_not_their_window(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, overlapping("r1", T0, [10.0] * 4) + overlapping("r2", T0 + 1000, [6.0, 2.0]))
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert rep.latency_ms.tolist() == [15.0, 11.0]  # the window: the calls overlap
    assert rep.busy_ms["get_item"] == pytest.approx((40.0 + 8.0) / 2)  # every call keeps catalog busy
    assert rep.busy_ms["list_items"] == 5.0
    assert rep.service_busy["catalog"].tolist() == [40.0, 8.0]


def test_rescheduled_calls_are_busy_for_the_calls_that_run(tmp_path: Path) -> None:
    lines = request("r1", T0, [10.0, 20.0, 30.0, 40.0], keys=["a", "b", "a", "b"])
    prof, r = profile_of(tmp_path, lines)
    assert replay(r, prof, rng=np.random.default_rng(0)).busy_ms["get_item"] == 100.0
    two = replayed(prof, r, with_keys(concurrency=2))
    assert two.latency_ms.tolist() == [5.0 + 60.0] and two.busy_ms["get_item"] == 100.0  # same calls, 2 slots
    deduped = replayed(prof, r, with_keys(dedupe="true", concurrency=2))
    assert deduped.busy_ms["get_item"] == 30.0  # the repeats are not called


def test_a_batched_substitute_is_busy_for_each_of_its_calls(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0] * 13))
    text = batched().replace("batch_size: 5\n", "batch_size: 5\n    concurrency: 3\n")
    rep = replayed(prof, r, text)
    assert rep.latency_ms == pytest.approx([5.0 + 20.0], abs=0.01)  # 3 calls of ~20 ms side by side
    assert rep.busy_ms["get_item"] == pytest.approx(60.0, abs=0.01)  # ... each of them busy


# ---- cache per item key, hedge per call ---------------------------------------------------------

CACHE = "{ttl_s: 60, max_entries: 100, hit_latency_ms: 1}"


def test_a_cache_on_a_fanout_hits_per_item_key_then_the_calls_are_scheduled(tmp_path: Path) -> None:
    lines = request("r1", T0, [10.0] * 4, keys=["a", "b", "c", "d"])
    lines += request("r2", T0 + 1000, [10.0] * 4, keys=["a", "b", "e", "f"])
    prof, r = profile_of(tmp_path, lines)
    rep = replayed(prof, r, with_keys(cache=CACHE))
    # r2: calls a and b hit -> [1, 1, 10, 10] one after another = 22
    assert rep.latency_ms.tolist() == [5.0 + 40.0, 5.0 + 22.0]
    assert rep.cost_usd.tolist() == pytest.approx([0.001 + 4 * 0.0001, 0.001 + 2 * 0.0001])
    assert rep.cache_hit_rate["get_item"] == 0.25 and "per item key" in rep.notes["get_item"]
    assert rep.busy_ms["get_item"] == pytest.approx((40.0 + 22.0) / 2)
    on_two = replayed(prof, r, with_keys(cache=CACHE, concurrency=2))
    # [1, 1, 10, 10] on 2 slots: 1 | 1, then 10 on each: 11
    assert on_two.latency_ms.tolist() == [5.0 + 20.0, 5.0 + 11.0]
    assert on_two.cost_usd.tolist() == pytest.approx(rep.cost_usd.tolist())


def test_a_key_repeated_within_a_request_hits_from_its_second_call(tmp_path: Path) -> None:
    prof, r = profile_of(tmp_path, request("r1", T0, [10.0, 20.0, 30.0, 40.0], keys=["a", "b", "a", "b"]))
    rep = replayed(prof, r, with_keys(cache=CACHE))
    assert rep.latency_ms.tolist() == [5.0 + 10.0 + 20.0 + 1.0 + 1.0]
    assert rep.cache_hit_rate["get_item"] == 0.5
    deduped = replayed(prof, r, with_keys(cache=CACHE, dedupe="true"))  # the repeats are not called at all
    assert deduped.latency_ms.tolist() == [5.0 + 30.0] and deduped.cache_hit_rate["get_item"] == 0.0


def test_the_recorded_overlap_and_gaps_are_kept_when_only_a_cache_is_added(tmp_path: Path) -> None:
    # 4 calls of 10 ms at once (window 10): two hits take 10 * (1 + 1 + 10 + 10) / 40
    lines = overlapping("r1", T0, [10.0] * 4)
    for d, k in zip(lines[1:], "abcd", strict=True):
        d["cache_key"] = k
    later = overlapping("r2", T0 + 1000, [10.0] * 4)
    for d, k in zip(later[1:], "abxy", strict=True):
        d["cache_key"] = k
    prof, r = profile_of(tmp_path, lines + later)
    rep = replayed(prof, r, with_keys(cache=CACHE))
    assert rep.latency_ms.tolist() == pytest.approx([15.0, 5.0 + 10.0 * 22.0 / 40.0])
    assert rep.busy_ms["get_item"] == pytest.approx((40.0 + 22.0) / 2)


def test_a_hedge_on_a_fanout_acts_on_each_calls_tail(tmp_path: Path) -> None:
    lines = [d for i in range(20) for d in request(f"r{i}", T0 + 1000 * i, [10.0] * 4)]
    lines += request("slow", T0 + 30_000, [10.0, 10.0, 10.0, 400.0])
    prof, r = profile_of(tmp_path, lines)
    base = prof.e2e_cost_usd
    for seed in range(5):
        rep = replayed(prof, r, with_keys(hedge="{after_ms: 30, max_extra: 1}"), seed=seed)
        # no call of the fast requests passes 30 ms: no duplicate (their 40 ms window does)
        assert rep.latency_ms[:20].tolist() == [45.0] * 20
        assert rep.cost_usd[:20] == pytest.approx(base[:20])
        # the 400 ms call is sent again at 30 ms: 30 + a recorded call (10 ms, or 400 ms: kept)
        assert rep.latency_ms[20] in (5.0 + 30.0 + 40.0, 5.0 + 430.0)
        assert rep.cost_usd[20] == pytest.approx(base[20] + 0.0001)  # one duplicate paid
        assert "per call" in rep.notes["get_item"]
