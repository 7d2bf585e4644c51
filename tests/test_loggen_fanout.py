"""The generator's real-shaped logs: fan-out over lists, batches, calls in flight, retries, dedupe and
branches, read back by ingest and the profile as the parameters asked."""

from __future__ import annotations

import heapq
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import RecipemutError
from recipemut.loggen import generate_spans, params_from_dict, write_jsonl
from recipemut.loggen.fanout import list_schedule
from recipemut.loggen.items import list_items, list_sizes
from recipemut.loggen.params import FieldParams
from recipemut.logs.ingest import read_logs
from recipemut.logs.spans import CALL_SCHEMA, SPAN_SCHEMA
from recipemut.profile.build import ST_ERROR, build_profile
from recipemut.recipe.model import Recipe, recipe_from_dict

runner = CliRunner()


def _recipe(fetch: dict[str, Any], *, tail: dict[str, Any] | None = None) -> Recipe:
    """find_ids (one call) -> fetch (the operation under test, over `ids`) [-> tail]."""
    ops: list[dict[str, Any]] = [
        {"id": "find_ids", "service": "db", "action": "Find", "consumes": ["q"], "produces": ["ids"]},
        {"id": "fetch", "service": "db", "action": "Get", "consumes": ["ids"], "produces": ["rows"]} | fetch,
    ]
    fields: dict[str, Any] = {"q": {"type": "string"}, "ids": {"type": "array"}, "rows": {"type": "array"}}
    if tail is not None:
        ops.append(tail)
        fields.update({f: {"type": "string"} for f in tail["produces"]})
    return recipe_from_dict(
        {
            "apiVersion": "recipemut/v1",
            "kind": "Recipe",
            "name": "fan",
            "version": 1,
            "fields": fields,
            "inputs": ["q"],
            "outputs": [ops[-1]["produces"][0]],
            "operations": ops,
        }
    )


def _params(items: dict[str, Any], fetch: dict[str, Any] | None = None) -> Any:
    return params_from_dict(
        {
            "defaults": {"error_prob": 0.0, "tail_share": 0.0},
            "operations": {"fetch": fetch or {}},
            "fields": {"ids": items},
        }
    )


def _calls(df: pd.DataFrame, op: str = "fetch") -> pd.DataFrame:
    return df[df["op"] == op].assign(end=lambda d: d["start_ms"] + d["latency_ms"])


def _greedy(durations: list[float], k: int) -> float:
    """Reference list scheduling: each call, in order, on the slot that frees first; the makespan."""
    free = [0.0] * k
    heapq.heapify(free)
    end = 0.0
    for d in durations:
        t = heapq.heappop(free) + d
        end = max(end, t)
        heapq.heappush(free, t)
    return end


def test_a_recipe_without_fanout_keys_gets_no_call_columns() -> None:
    r = _recipe({})
    df = generate_spans(r, 50, seed=1)
    assert list(df.columns) == SPAN_SCHEMA.names


def test_serial_fanout_makes_one_call_per_item_and_its_cell_is_the_sum_of_its_calls() -> None:
    r = _recipe({"foreach": "ids"})
    df = generate_spans(r, 300, seed=2, params=_params({"items_mean": 7, "items_dist": "fixed"}))
    assert set(CALL_SCHEMA.names) - {"parent_span_id"} <= set(df.columns)
    calls = _calls(df)
    per = calls.groupby("request_id").agg(
        n=("op", "size"), first=("start_ms", "min"), last=("end", "max"), total=("latency_ms", "sum")
    )
    assert (per["n"] == 7).all()
    assert (calls["items"] == 1).all() and (calls["attempt"] == 1).all()
    assert calls["span_id"].is_unique
    np.testing.assert_allclose(per["last"] - per["first"], per["total"], atol=1e-3)
    # the calls start when find_ids ends, one after another
    found = _calls(df, "find_ids").set_index("request_id")["end"]
    np.testing.assert_allclose(per["first"], found.loc[per.index], atol=1e-3)

    prof = build_profile(df, r)
    c = prof.call_stats("fetch")
    assert c is not None
    assert c.calls_mean == 7.0 and c.serial and c.concurrency_max == 1
    assert c.window_ms_mean == pytest.approx(c.sum_ms_mean, rel=1e-6)


@pytest.mark.parametrize("k", [2, 3, 8])
def test_concurrency_k_shortens_the_cell_as_list_scheduling_says(k: int) -> None:
    r = _recipe({"foreach": "ids", "concurrency": k})
    df = generate_spans(r, 200, seed=3, params=_params({"items_mean": 7, "items_dist": "fixed"}))
    calls = _calls(df).sort_values(["request_id", "start_ms"], kind="stable")
    for _rid, g in list(calls.groupby("request_id"))[:40]:
        window = g["end"].max() - g["start_ms"].min()
        # the calls in item order are the span ids' order of appearance in the log
        durations = _calls(df).loc[g.index.sort_values(), "latency_ms"].tolist()
        assert window == pytest.approx(_greedy(durations, k), abs=1e-3)
    prof = build_profile(df, r)
    c = prof.call_stats("fetch")
    assert c is not None and c.concurrency_max == min(k, 7)
    serial = build_profile(
        generate_spans(
            _recipe({"foreach": "ids"}), 200, seed=3, params=_params({"items_mean": 7, "items_dist": "fixed"})
        ),
        _recipe({"foreach": "ids"}),
    )
    assert prof.call_stats("fetch").window_ms_mean < serial.call_stats("fetch").window_ms_mean  # type: ignore[union-attr]


def test_list_schedule_examples() -> None:
    call_req = np.array([0, 0, 0, 0, 1])
    dur = np.array([4, 1, 2, 3, 5])
    ready = np.array([10, 0])
    assert list_schedule(call_req, dur, ready, 1).tolist() == [10, 14, 15, 17, 0]
    assert list_schedule(call_req, dur, ready, 2).tolist() == [10, 10, 11, 13, 0]
    assert list_schedule(call_req, dur, ready, 9).tolist() == [10, 10, 10, 10, 0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 50), min_size=1, max_size=9), min_size=1, max_size=6),
    st.integers(1, 10),
)
def test_list_schedule_agrees_with_a_reference_greedy(lists: list[list[int]], k: int) -> None:
    call_req = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
    dur = np.array([d for x in lists for d in x], dtype=np.int64)
    start = list_schedule(call_req, dur, np.zeros(len(lists), dtype=np.int64), k)
    end = start + dur
    for i, durations in enumerate(lists):
        assert int(end[call_req == i].max()) == _greedy([float(d) for d in durations], k)
        # never more than k calls in flight
        s, e = start[call_req == i], end[call_req == i]
        assert max(int(((s <= t) & (e > t)).sum()) for t in s) <= k


def test_batches_make_ceil_items_over_batch_size_calls_and_the_items_add_up() -> None:
    r = _recipe({"foreach": "ids", "batch_size": 4, "concurrency": 2})
    params = _params({"items_mean": 9, "items_dist": "poisson"}, {"per_item_ms": 3.0})
    df = generate_spans(r, 400, seed=4, params=params)
    calls = _calls(df)
    per = calls.groupby("request_id").agg(n=("op", "size"), items=("items", "sum"), most=("items", "max"))
    assert (per["n"] == np.ceil(per["items"] / 4)).all()
    assert (per["most"] <= 4).all()
    assert per["items"].mean() == pytest.approx(9, rel=0.1)
    # a batch of 4 takes about 3 * 4 ms more than its single-item body (median 20 ms)
    med = calls.groupby("items")["latency_ms"].median()
    assert med[4] - med[1] == pytest.approx(9.0, abs=4.0)
    c = build_profile(df, r).call_stats("fetch")
    assert c is not None and c.items_per_call == pytest.approx(calls["items"].mean())


@pytest.mark.parametrize("dist", ["poisson", "geometric", "fixed"])
def test_list_sizes_follow_their_distribution(dist: str) -> None:
    uid = np.arange(20_000, dtype=np.uint64)
    sizes = list_sizes("ids", FieldParams(items_mean=6.0, items_dist=dist), uid)
    assert sizes.min() >= 1
    assert sizes.mean() == pytest.approx(6.0, rel=0.03)
    if dist == "fixed":
        assert set(sizes.tolist()) == {6}
    capped = list_sizes("ids", FieldParams(items_mean=6.0, items_max=4, items_dist=dist), uid)
    assert capped.max() <= 4
    # a function of the request: the same request, the same list
    assert (list_sizes("ids", FieldParams(items_mean=6.0, items_dist=dist), uid[::-1]) == sizes[::-1]).all()


def test_retries_follow_failed_attempts_and_a_call_fails_only_when_its_last_attempt_does() -> None:
    r = _recipe({"foreach": "ids", "retry": {"max_attempts": 3}})
    p_err = 0.3
    df = generate_spans(
        r, 2000, seed=5, params=_params({"items_mean": 5, "items_dist": "fixed"}, {"error_prob": p_err})
    )
    calls = _calls(df)
    assert set(calls["attempt"]) == {1, 2, 3}
    # calls = attempts of 1: each followed by attempt 2 exactly when it failed
    first = calls[calls["attempt"] == 1]
    n_calls = len(first)
    assert n_calls == 2000 * 5 - 5 * int((_calls(df, "find_ids")["status"] != "ok").sum())
    failed_1 = int((first["status"] == "error").sum())
    assert int((calls["attempt"] == 2).sum()) == failed_1
    assert failed_1 / n_calls == pytest.approx(p_err, abs=0.02)
    final_errors = int(((calls["attempt"] == 3) & (calls["status"] == "error")).sum())
    assert final_errors / n_calls == pytest.approx(p_err**3, abs=0.01)
    # an attempt starts when the one before it ends
    calls = calls.sort_values(["request_id", "start_ms"], kind="stable")
    nxt = calls.groupby("request_id")["start_ms"].shift(-1)
    again = calls["status"].eq("error") & calls["attempt"].lt(3)
    np.testing.assert_allclose(nxt[again], calls["end"][again], atol=1e-3)

    prof = build_profile(df, r)
    c = prof.call_stats("fetch")
    assert c is not None and c.attempts_max == 3
    assert c.retried_errors == int(((calls["status"] == "error") & (calls["attempt"] < 3)).sum())
    # a request fails where some call failed three times
    failed_requests = calls.loc[(calls["attempt"] == 3) & (calls["status"] == "error"), "request_id"].nunique()
    j = prof.op_ids.index("fetch")
    assert int((prof.status[:, j] == ST_ERROR).sum()) == failed_requests


def test_a_retry_without_foreach_is_one_call_with_attempts() -> None:
    r = _recipe({"retry": {"max_attempts": 2}})
    df = generate_spans(r, 1000, seed=6, params=_params({}, {"error_prob": 0.5}))
    calls = _calls(df)
    assert "items" not in df.columns  # no fan-out: no line carries items
    per = calls.groupby("request_id")["attempt"].max()
    assert set(per) == {1, 2}
    assert (per == 2).mean() == pytest.approx(0.5, abs=0.05)


def test_dedupe_drops_repeated_items_before_calling() -> None:
    items = {"items_mean": 12, "items_dist": "fixed", "universe": 8, "zipf": 1.0}
    plain = _recipe({"foreach": "ids", "deterministic": True})
    dd = _recipe({"foreach": "ids", "deterministic": True, "dedupe": True})
    a = _calls(generate_spans(plain, 300, seed=7, params=_params(items)))
    b = _calls(generate_spans(dd, 300, seed=7, params=_params(items)))
    assert (a.groupby("request_id").size() == 12).all()
    # without dedupe a small universe repeats keys within a request; with it, never
    assert a.duplicated(["request_id", "cache_key"]).any()
    assert not b.duplicated(["request_id", "cache_key"]).any()
    # the same lists: the deduplicated calls are the distinct keys of each request
    distinct = a.groupby("request_id")["cache_key"].nunique()
    got = b.groupby("request_id").size()
    assert got.tolist() == distinct.loc[got.index].tolist()


def test_list_items_from_a_universe_repeat_and_unique_ones_do_not() -> None:
    uid = np.arange(100, dtype=np.uint64)
    sizes = np.full(100, 10)
    req, ids = list_items("ids", FieldParams(universe=5), uid, sizes)
    assert len(set(ids.tolist())) <= 5 and (np.bincount(req) == 10).all()
    _, ids = list_items("ids", FieldParams(), uid, sizes)
    assert len(set(ids.tolist())) == 1000


def test_when_runs_on_its_share_of_requests_and_a_branch_not_taken_runs_nothing_below_it() -> None:
    tail = {"id": "notify", "service": "sms", "action": "S", "consumes": ["rows"], "produces": ["sms"]}
    r = _recipe({"when": "customer opted in"}, tail=tail)
    params = params_from_dict({"defaults": {"error_prob": 0.0}, "operations": {"fetch": {"when_prob": 0.3}}})
    df = generate_spans(r, 4000, seed=8, params=params)
    ran = df.groupby("op")["request_id"].nunique()
    assert ran["find_ids"] == 4000
    assert ran["fetch"] / 4000 == pytest.approx(0.3, abs=0.03)
    # notify consumes what fetch produces: it runs exactly where the branch was taken
    assert set(df.loc[df["op"] == "notify", "request_id"]) == set(df.loc[df["op"] == "fetch", "request_id"])
    # the branch is a function of the request: another recipe takes it on the same requests
    other = generate_spans(_recipe({"when": "customer opted in", "concurrency": 1}), 4000, seed=8, params=params)
    assert set(other.loc[other["op"] == "fetch", "request_id"]) == set(df.loc[df["op"] == "fetch", "request_id"])


def test_a_mutated_recipe_sees_the_same_lists() -> None:
    items = {"items_mean": 6, "universe": 50}
    a = _calls(generate_spans(_recipe({"foreach": "ids"}), 200, seed=9, params=_params(items)))
    b = _calls(generate_spans(_recipe({"foreach": "ids", "concurrency": 4}), 200, seed=9, params=_params(items)))
    assert (a.groupby("request_id").size() == b.groupby("request_id").size()).all()


def test_generated_fanout_log_read_back_by_profile(tmp_path: Path) -> None:
    recipe_text = """\
apiVersion: recipemut/v1
kind: Recipe
name: fan
version: 1
fields:
  q: {type: string}
  ids: {type: array}
  rows: {type: array}
inputs: [q]
outputs: [rows]
operations:
  - id: find_ids
    service: db
    action: Find
    consumes: [q]
    produces: [ids]
  - id: fetch
    service: db
    action: Get
    consumes: [ids]
    produces: [rows]
    foreach: ids
    concurrency: 3
    retry: {max_attempts: 2}
services:
  db: {replicas: 2, concurrency_per_replica: 8}
"""
    (tmp_path / "recipe.yaml").write_text(recipe_text)
    (tmp_path / "loggen.yaml").write_text(
        "defaults: {error_prob: 0}\n"
        "operations:\n  fetch: {error_prob: 0.1}\n"
        "fields:\n  ids: {items_mean: 8, items_dist: fixed}\n"
    )
    out = tmp_path / "logs.jsonl"
    res = runner.invoke(app, ["generate", str(tmp_path / "recipe.yaml"), "-n", "1000", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()[:3]]
    assert "items" not in lines[0] and lines[0]["attempt"] == 1  # find_ids: one call, no items key
    res = runner.invoke(app, ["profile", str(tmp_path / "recipe.yaml"), "--logs", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    calls = {c["op"]: c for c in json.loads(res.stdout)["calls"]}
    fetch = calls["fetch"]
    # 8 calls per request, plus a retry for each failed first attempt (10%)
    assert fetch["calls_mean"] == pytest.approx(8 * 1.1, rel=0.03)
    assert fetch["concurrency_max"] == 3 and not fetch["serial"]
    assert fetch["attempts_max"] == 2
    assert fetch["retried_errors"] / 8000 == pytest.approx(0.1, abs=0.015)
    assert fetch["items_per_call"] == 1.0
    spans, _ = read_logs(out)
    assert len(spans) == sum(1 for _ in out.open())


def test_write_jsonl_round_trips_the_call_columns(tmp_path: Path) -> None:
    r = _recipe({"foreach": "ids", "batch_size": 2})
    df = generate_spans(r, 50, seed=10, params=_params({"items_mean": 5}))
    write_jsonl(df, tmp_path / "x.jsonl")
    back, _ = read_logs(tmp_path / "x.jsonl", recipe=r)
    key = ["request_id", "span_id"]
    a = df.sort_values(key).reset_index(drop=True)
    b = back.sort_values(key).reset_index(drop=True)
    for c in ("span_id", "attempt", "items", "start_ms", "latency_ms", "status"):
        assert (
            a[c].astype(object).where(a[c].notna(), None).tolist()
            == b[c].astype(object).where(b[c].notna(), None).tolist()
        ), c


@pytest.mark.parametrize(
    ("doc", "expect"),
    [
        ({"fields": {"ids": {"items_dist": "zipf"}}}, "expected one of poisson, geometric, fixed"),
        ({"operations": {"a": {"when_prob": 1.5}}}, "at most 1"),
        ({"fields": {"ids": {"items_mean": 0.5}}}, "at least one item"),
    ],
)
def test_bad_list_and_branch_parameters_are_errors(doc: dict[str, Any], expect: str) -> None:
    with pytest.raises(RecipemutError, match=expect):
        params_from_dict(doc)


def test_cell_end_is_the_last_call_end_and_successors_start_then() -> None:
    tail = {"id": "post", "service": "s", "action": "P", "consumes": ["rows"], "produces": ["done"]}
    r = _recipe({"foreach": "ids", "concurrency": 2}, tail=tail)
    df = generate_spans(r, 100, seed=11, params=_params({"items_mean": 4}))
    last = _calls(df).groupby("request_id")["end"].max()
    post = _calls(df, "post").set_index("request_id")["start_ms"]
    np.testing.assert_allclose(post.loc[last.index], last, atol=1e-3)
    assert math.isclose(float((post.loc[last.index] - last).abs().max()), 0.0, abs_tol=1e-3)
