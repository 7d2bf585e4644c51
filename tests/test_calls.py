"""Several calls of one operation per request: the cell they make, the figures per operation, the
N+1 finding; on a synthetic N+1 log shaped like the HotROD demo's driver trace, and on calls that
already overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _profile_helpers import line, write_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from recipemut.logs.ingest import read_logs
from recipemut.predict.simulate import replay
from recipemut.profile.build import ST_OK, Profile, build_profile
from recipemut.profile.calls import fold_calls, n_plus_one
from recipemut.recipe.loader import load_recipe_text

T0 = 1_657_915_862_453.0

#: the driver service of the demo: find the ids of nearby drivers, then fetch each driver (no foreach)
RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: hotrod
version: 1
fields:
  location: {type: string}
  driver_ids: {type: array}
  drivers: {type: array}
inputs: [location]
outputs: [drivers]
operations:
  - id: find_driver_ids
    service: redis
    action: FindDriverIDs
    consumes: [location]
    produces: [driver_ids]
  - id: get_driver
    service: redis
    action: GetDriver
    consumes: [driver_ids]
    produces: [drivers]
    cost_per_call_usd: 0.0001
"""

#: 10 drivers fetched one after another; drivers 2, 5 and 8 time out (30 ms) and are fetched again
LATENCIES = [12.0, 11.0, 30.0, 9.0, 14.0, 10.0, 30.0, 12.0, 8.0, 13.0, 30.0, 11.0, 10.0]
FAILED = {2, 6, 10}


def n_plus_one_lines(rid: str, t0: float, *, attempts: bool = True, gap: float = 0.5) -> list[dict[str, Any]]:
    """One request: find_driver_ids (18 ms), then the 13 serial get_driver calls of :data:`LATENCIES`."""
    out: list[dict[str, Any]] = [
        {"request_id": rid, "op": "find_driver_ids", "span_id": f"{rid}-f", "start_ms": t0, "latency_ms": 18.0}
        | {"status": "ok"}
    ]
    t = t0 + 18.0 + gap
    retry = False
    for i, lat in enumerate(LATENCIES):
        d: dict[str, Any] = {"request_id": rid, "op": "get_driver", "span_id": f"{rid}-g{i}", "start_ms": t}
        d |= {"latency_ms": lat, "status": "error" if i in FAILED else "ok", "items": 1}
        if attempts:
            d["attempt"] = 2 if retry else 1
        retry = i in FAILED
        out.append(d)
        t += lat + gap
    return out


def _profile(tmp_path: Path, lines: list[dict[str, Any]]) -> tuple[Profile, Any]:
    r = load_recipe_text(RECIPE, file="hotrod.yaml")
    df, _ = read_logs(write_lines(tmp_path / "calls.jsonl", [line(d) for d in lines]), recipe=r)
    return build_profile(df, r), r


def test_n_plus_one_calls_are_counted_and_retries_are_not_request_errors(tmp_path: Path) -> None:
    prof, _ = _profile(tmp_path, n_plus_one_lines("r1", T0) + n_plus_one_lines("r2", T0 + 1000))
    c = prof.call_stats("get_driver")
    assert c is not None
    assert (c.requests, c.calls, c.calls_max, c.several) == (2, 26, 13, 2)
    assert (c.retried_errors, c.attempts_max, c.items_per_call) == (6, 2, 1.0)
    assert c.serial and c.concurrency_max == 1
    calls_ms = sum(LATENCIES)
    window = calls_ms + 12 * 0.5
    assert c.sum_ms_mean == pytest.approx(calls_ms) and c.window_ms_mean == pytest.approx(window)
    j = prof.col("get_driver")
    assert prof.latency_ms[:, j] == pytest.approx([window, window])  # the calls' window is the cell
    assert (prof.status[:, j] == ST_OK).all() and prof.stats("get_driver").error_rate == 0.0
    assert prof.n_calls is not None and prof.n_calls[:, j].tolist() == [13, 13]
    assert prof.cost_usd[:, j] == pytest.approx([13 * 0.0001] * 2)  # the declared cost, per call
    assert prof.e2e_latency_ms == pytest.approx([18.5 + window] * 2)
    single = prof.call_stats("find_driver_ids")
    assert single is not None and (single.calls, single.several, single.retried_errors) == (2, 0, 0)


def test_replaying_the_unchanged_recipe_reproduces_the_recorded_time(tmp_path: Path) -> None:
    prof, r = _profile(tmp_path, n_plus_one_lines("r1", T0) + n_plus_one_lines("r2", T0 + 1000))
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert rep.latency_ms == pytest.approx(prof.e2e_latency_ms, rel=0.03)


def test_without_attempts_an_error_the_request_went_on_after_is_a_retried_error(tmp_path: Path) -> None:
    prof, _ = _profile(tmp_path, n_plus_one_lines("r1", T0, attempts=False))
    c = prof.call_stats("get_driver")
    assert c is not None and c.retried_errors == 3 and c.attempts_max == 1
    assert prof.stats("get_driver").error_rate == 0.0


def test_a_failed_last_attempt_is_a_request_error(tmp_path: Path) -> None:
    lines = n_plus_one_lines("r1", T0)
    lines[-1]["status"] = "error"  # the last call fails and nothing follows it
    prof, _ = _profile(tmp_path, lines)
    c = prof.call_stats("get_driver")
    assert c is not None and c.retried_errors == 3
    assert prof.stats("get_driver").error_rate == 1.0


def test_the_n_plus_one_finding_names_the_field_and_the_lines_to_add(tmp_path: Path) -> None:
    prof, r = _profile(tmp_path, n_plus_one_lines("r1", T0))
    (f,) = n_plus_one(r, prof.calls)
    assert (f.op, f.service, f.field, f.line) == ("get_driver", "redis", "driver_ids", 17)
    assert f.add == ("foreach: driver_ids", "concurrency: 1")
    assert f.share_of_e2e == pytest.approx((sum(LATENCIES) + 6) / (18.5 + sum(LATENCIES) + 6))
    s = f.sentence()
    assert "get_driver is called 13.0 times per request" in s and "one after another" in s
    assert "3 failed calls were retried" in s and "no foreach" in s
    json.dumps(f.to_dict())


def test_no_finding_when_the_recipe_already_says_foreach(tmp_path: Path) -> None:
    prof, _ = _profile(tmp_path, n_plus_one_lines("r1", T0))
    text = RECIPE.replace("    cost_per_call_usd: 0.0001\n", "    cost_per_call_usd: 0.0001\n    foreach: driver_ids\n")
    assert n_plus_one(load_recipe_text(text, file="hotrod.yaml"), prof.calls) == []


def overlapping_lines(rid: str, t0: float) -> list[dict[str, Any]]:
    """10 route calls started 2 ms apart, 50 ms each: up to 10 in flight, a 68 ms window for 500 ms of calls."""
    first = {"request_id": rid, "op": "find_driver_ids", "span_id": f"{rid}-f", "start_ms": t0}
    out: list[dict[str, Any]] = [first | {"latency_ms": 18.0, "status": "ok"}]
    for i in range(10):
        d = {"request_id": rid, "op": "get_driver", "span_id": f"{rid}-g{i}", "start_ms": t0 + 20 + 2 * i}
        out.append(d | {"latency_ms": 50.0, "status": "ok"})
    return out


def test_overlapping_calls_report_their_concurrency_and_the_window(tmp_path: Path) -> None:
    prof, r = _profile(tmp_path, overlapping_lines("r1", T0))
    c = prof.call_stats("get_driver")
    assert c is not None and not c.serial
    assert c.concurrency_max == 10 and c.concurrency_mean == pytest.approx(500 / 68)
    assert (c.window_ms_mean, c.sum_ms_mean) == (pytest.approx(68.0), pytest.approx(500.0))
    assert prof.latency_ms[0, prof.col("get_driver")] == pytest.approx(68.0)
    (f,) = n_plus_one(r, prof.calls)
    assert f.add == ("foreach: driver_ids", "concurrency: 10")
    assert "one after another" not in f.sentence() and "up to 10 at once" in f.sentence()
    rep = replay(r, prof, rng=np.random.default_rng(0))
    assert rep.latency_ms == pytest.approx(prof.e2e_latency_ms, rel=0.05)


def test_one_call_per_operation_gives_one_call_figures(tmp_path: Path) -> None:
    lines = [d for d in n_plus_one_lines("r1", T0) if d["span_id"] in ("r1-f", "r1-g0")]
    prof, r = _profile(tmp_path, lines)
    assert all(c.several == 0 and c.calls == 1 and c.serial for c in prof.calls)
    assert n_plus_one(r, prof.calls) == []


calls = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 1), st.integers(0, 40), st.integers(0, 15)), min_size=1, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(calls)
def test_fold_calls_agrees_with_a_call_by_call_count(rows: list[tuple[int, int, int, int]]) -> None:
    req = np.array([r[0] for r in rows])
    col = np.array([r[1] for r in rows])
    start = np.array([float(r[2]) for r in rows])
    lat = np.array([float(r[3]) for r in rows])
    cells = fold_calls(req, col, 2, start, lat, np.zeros(len(rows), bool))
    for i in range(cells.req.shape[0]):
        mine = [j for j in range(len(rows)) if (req[j], col[j]) == (cells.req[i], cells.col[i])]
        assert cells.n_calls[i] == len(mine)
        assert cells.start[i] == min(start[mine])
        assert cells.latency[i] == max(start[mine] + lat[mine]) - min(start[mine])
        # most calls in flight: at some call's start, the calls running then (ends are exclusive)
        most = max(sum(start[o] <= start[j] < start[o] + lat[o] for o in mine) for j in mine)
        assert cells.in_flight_max[i] == max(most, 1)


def test_a_jaeger_trace_of_serial_calls_with_errors_counts_them_all(tmp_path: Path) -> None:
    from test_ingest_calls import _jaeger

    us = int(T0 * 1000)
    spans: list[tuple[str, str, int, int, str | None]] = [("root", "FindDriverIDs", us, 18_000, None)]
    t = us + 18_500
    for i, lat in enumerate(LATENCIES):
        spans.append((f"g{i}", "GetDriver", t, int(lat * 1000), "root"))
        t += int(lat * 1000) + 500
    doc = _jaeger(spans)
    for s in doc["data"][0]["spans"][1:]:
        if int(s["spanID"][1:]) in FAILED:
            s["tags"] = [{"key": "error", "type": "bool", "value": True}]
    p = tmp_path / "trace.json"
    p.write_text(json.dumps(doc))
    r = load_recipe_text(RECIPE, file="hotrod.yaml")
    df, rep = read_logs(p, recipe=r)
    prof = build_profile(df, r)
    c = prof.call_stats("get_driver")
    assert c is not None and (c.calls, c.retried_errors, c.serial) == (13, 3, True)
    assert prof.stats("get_driver").error_rate == 0.0 and rep.duplicates == 0
    rec = replay(r, prof, rng=np.random.default_rng(0))
    assert rec.latency_ms == pytest.approx(prof.e2e_latency_ms, rel=0.03)
    assert [f.op for f in n_plus_one(r, prof.calls)] == ["get_driver"]


def test_one_call_each_with_span_ids_keeps_each_operations_own_figures(tmp_path: Path) -> None:
    """Logged out of (request, operation) order, with span ids: each figure stays on its operation."""
    lines: list[dict[str, Any]] = []
    for i, rid in enumerate(("r2", "r1")):
        t = T0 + 1000 * i
        get = {"request_id": rid, "op": "get_driver", "span_id": f"{rid}-g", "start_ms": t + 20, "latency_ms": 9.0}
        find = {"request_id": rid, "op": "find_driver_ids", "span_id": f"{rid}-f", "start_ms": t, "latency_ms": 18.0}
        lines += [
            get | {"status": "error", "cost_usd": 0.5, "cache_key": f"k{rid}"},
            find | {"status": "ok", "cost_usd": 0.01},
        ]
    prof, _ = _profile(tmp_path, lines)
    assert prof.stats("get_driver").error_rate == 1.0 and prof.stats("find_driver_ids").error_rate == 0.0
    g, f = prof.col("get_driver"), prof.col("find_driver_ids")
    assert prof.cost_usd[:, g] == pytest.approx([0.5, 0.5]) and prof.cost_usd[:, f] == pytest.approx([0.01, 0.01])
    assert (prof.cache_key[:, f] == -1).all() and (prof.cache_key[:, g] >= 0).all()


def test_a_retried_single_call_is_not_an_n_plus_one(tmp_path: Path) -> None:
    """One call tried twice (attempt 1 failed, attempt 2 succeeded) is one call, not two."""
    lines: list[dict[str, Any]] = []
    for i, rid in enumerate(("r1", "r2")):
        t = T0 + 1000 * i
        lines.append(
            {
                "request_id": rid,
                "op": "find_driver_ids",
                "span_id": f"{rid}-f",
                "start_ms": t,
                "latency_ms": 18.0,
                "status": "ok",
            }
        )
        lines.append(
            {
                "request_id": rid,
                "op": "get_driver",
                "span_id": f"{rid}-g1",
                "start_ms": t + 20,
                "latency_ms": 30.0,
                "status": "error",
                "attempt": 1,
            }
        )
        lines.append(
            {
                "request_id": rid,
                "op": "get_driver",
                "span_id": f"{rid}-g2",
                "start_ms": t + 51,
                "latency_ms": 9.0,
                "status": "ok",
                "attempt": 2,
            }
        )
    prof, r = _profile(tmp_path, lines)
    assert n_plus_one(r, prof.calls) == []
    c = prof.call_stats("get_driver")
    assert c is not None and c.retried_errors == 2 and c.attempts_max == 2


def _nested(rid: str, t: float) -> list[dict[str, Any]]:
    """find_driver_ids, then two get_driver calls side by side, each holding a call of get_driver:
    g1 directly (it failed; its caller went on), g2 through a span of find_driver_ids (recursion)."""
    rows = [
        ("f", None, "find_driver_ids", 0.0, 18.0, "ok"),
        ("g1", None, "get_driver", 20.0, 40.0, "ok"),
        ("g1a", "g1", "get_driver", 25.0, 10.0, "error"),
        ("g2", None, "get_driver", 22.0, 30.0, "ok"),
        ("g2f", "g2", "find_driver_ids", 24.0, 20.0, "ok"),
        ("g2fa", "g2f", "get_driver", 26.0, 8.0, "ok"),
    ]
    return [
        {"request_id": rid, "op": op, "span_id": f"{rid}-{sid}", "start_ms": t + start, "latency_ms": lat}
        | {"status": status, "cost_usd": 0.001}
        | ({"parent_span_id": f"{rid}-{parent}"} if parent else {})
        for sid, parent, op, start, lat, status in rows
    ]


def test_a_call_nested_in_a_call_of_its_own_operation_is_part_of_that_call(tmp_path: Path) -> None:
    prof, _ = _profile(tmp_path, _nested("r1", T0) + _nested("r2", T0 + 1000))
    c = prof.call_stats("get_driver")
    assert c is not None
    # two calls (g1, g2), not five: the nested ones are inside them (they said 4 in flight at once)
    assert (c.calls, c.calls_max, c.several, c.concurrency_max) == (4, 2, 2, 2)
    assert (c.retried_errors, prof.stats("get_driver").error_rate) == (0, 0.0)  # g1a's error is g1's to handle
    j = prof.col("get_driver")
    assert prof.n_calls is not None and prof.n_calls[:, j].tolist() == [2, 2]
    assert prof.call_ms is not None and prof.call_ms[:, j] == pytest.approx([50.0, 50.0])  # g1 40 + g2's own 10
    assert prof.cost_usd[:, j] == pytest.approx([0.004, 0.004])  # every span's cost is still the cell's
    assert prof.call_durations("get_driver").tolist() == [[40.0, 10.0], [40.0, 10.0]]  # g1, then g2
    assert prof.call_costs("get_driver") == pytest.approx(np.array([[0.002, 0.002]] * 2))
    f = prof.call_stats("find_driver_ids")
    assert f is not None and (f.calls, f.several) == (4, 2)  # g2f is inside g2, not inside f: a second call


def test_a_real_trace_with_a_call_inside_a_call_of_its_operation_is_no_n_plus_one() -> None:
    from _telemetry_helpers import real

    # jaeger-ui's happyTrace: op2 (span-A, failed) holds another op2 (span-B): one call, not an N+1
    r = load_recipe_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: happy\noperations:\n"
        "  - {id: op1, service: service1, action: op1}\n"
        "  - {id: op2, service: service1, action: op2, after: [op1]}\n"
        "  - {id: op3, service: service1, action: op3, after: [op1]}\n"
        "  - {id: op1_s2, service: service2, action: op1, after: [op2, op3]}\n",
        file="happy.yaml",
    )
    df, _ = read_logs(real("jaeger_ui_criticalpath_happyTrace.json"), recipe=r)
    prof = build_profile(df, r)
    c = prof.call_stats("op2")
    assert c is not None and (c.calls, c.several, c.retried_errors) == (1, 0, 0)
    assert n_plus_one(r, prof.calls) == []
    assert prof.stats("op2").error_rate == 1.0  # the outer call failed
    from recipemut.mutate.operators import OperatorContext
    from recipemut.mutate.operators.fanout import no_foreach_reason

    # suggest's operators do not ask for a foreach either (they said "no foreach (... add `foreach: ...`)")
    assert no_foreach_reason(OperatorContext.build(r, profile=prof), r.ops["op2"]) is None
