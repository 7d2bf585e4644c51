"""Nested spans: an operation is charged its own time, and the unchanged recipe replays the recorded end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _telemetry_helpers import EXAMPLE, real
from hypothesis import given
from hypothesis import strategies as st

from recipemut.logs import traces
from recipemut.logs.ingest import read_logs
from recipemut.logs.nesting import cycle_rows, outermost_same, own_time, parent_rows, preorder, replay_starts
from recipemut.predict.simulate import replay
from recipemut.profile.build import build_profile
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe, recipe_from_dict


def _recipe(ops: list[dict[str, Any]], name: str = "nest") -> Recipe:
    return recipe_from_dict(
        {
            "apiVersion": "recipemut/v1",
            "kind": "Recipe",
            "name": name,
            "version": 1,
            "fields": {},
            "inputs": [],
            "outputs": [],
            "operations": [{"service": "s", "action": o["id"], "consumes": [], "produces": [], **o} for o in ops],
        }
    )


def _own(spans: list[tuple[float, float, int, int]]) -> list[float]:
    """Own times of (start, latency, parent row, op) spans."""
    a = np.array(spans, dtype=float)
    own, _ = own_time(a[:, 0], a[:, 1], parent=a[:, 2].astype(np.int64), op=a[:, 3].astype(np.int64))
    return own.tolist()


# ---- own time on hand-made trees --------------------------------------------------------------


def test_parent_with_two_serial_children() -> None:
    # A [0, 100] calls B [10, 40] then C [50, 90]: A's own time is 100 - 30 - 40
    assert _own([(0, 100, -1, 0), (10, 30, 0, 1), (50, 40, 0, 2)]) == [30.0, 30.0, 40.0]


def test_overlapping_children_count_once() -> None:
    # B [10, 50] and C [30, 70] overlap: together they cover [10, 70], 60 ms
    assert _own([(0, 100, -1, 0), (10, 40, 0, 1), (30, 40, 0, 2)]) == [40.0, 40.0, 40.0]


def test_grandchild_through_an_unmapped_span() -> None:
    # A [0, 100] -> U [5, 95] (no operation) -> C [20, 60]: C is charged to A; U keeps its time
    assert _own([(0, 100, -1, 0), (5, 90, 0, -1), (20, 40, 1, 1)]) == [60.0, 90.0, 40.0]


def test_grandchild_through_a_mapped_child_is_the_childs() -> None:
    # A [0, 100] -> B [10, 90] -> C [20, 50]: B holds C, A holds B (and C inside it)
    assert _own([(0, 100, -1, 0), (10, 80, 0, 1), (20, 30, 1, 2)]) == [20.0, 50.0, 30.0]


def test_child_outside_the_parents_window_is_clipped() -> None:
    # B [80, 150] outlives A [0, 100]: only [80, 100] is A's; C [120, 130] is wholly outside: nothing
    assert _own([(0, 100, -1, 0), (80, 70, 0, 1), (120, 10, 0, 2)]) == [80.0, 70.0, 10.0]


def test_same_operation_nested_is_not_charged() -> None:
    own, charged = own_time(
        np.array([0.0, 10.0]), np.array([100.0, 50.0]), parent=np.array([-1, 0]), op=np.array([3, 3])
    )
    assert own.tolist() == [100.0, 50.0] and charged.tolist() == [False, False]


def test_parents_are_found_within_the_request_and_cycles_are_named() -> None:
    # request 0: rows 0 (id 7) <- 1; request 1: row 2 names id 7, which is in request 0 only
    assert parent_rows(np.array([0, 0, 1]), np.array([7, 8, 9]), np.array([-1, 7, 7])).tolist() == [-1, 0, -1]
    assert cycle_rows(np.array([1, 0, 0, -1])).tolist() == [0, 1]


def test_nested_spans_move_after_their_owner() -> None:
    # A runs its own 30 ms first; B and C keep their order and the 10 ms between them is A's, not a gap
    own, start, k = replay_starts(
        np.array([0.0, 10.0, 50.0, 60.0]),
        np.array([100.0, 30.0, 40.0, 10.0]),
        parent=np.array([-1, 0, 0, 2]),
        op=np.array([0, 1, 2, 3]),
    )
    assert own.tolist() == [30.0, 30.0, 30.0, 10.0]
    assert start.tolist() == [0.0, 30.0, 60.0, 90.0] and k == 2  # D moves with C, then after C's own 10 ms


@st.composite
def _trees(draw: st.DrawFn) -> tuple[list[tuple[float, float, int, int]], float]:
    """A root holding serial children, each holding serial grandchildren, every span its own operation."""
    spans: list[tuple[float, float, int, int]] = [(0.0, 0.0, -1, 0)]
    t = 0.0
    for _ in range(draw(st.integers(0, 4))):
        t += draw(st.integers(0, 20))
        child = len(spans)
        spans.append((t, 0.0, 0, child))
        c0 = t
        for _ in range(draw(st.integers(0, 3))):
            t += draw(st.integers(0, 10))
            d = draw(st.integers(1, 30))
            spans.append((t, float(d), child, len(spans)))
            t += d
        t += draw(st.integers(0, 10))
        spans[child] = (c0, t - c0, 0, child)
    t += draw(st.integers(1, 20))
    spans[0] = (0.0, t, -1, 0)
    return spans, t


@given(_trees())
def test_own_times_of_a_tree_add_up_to_the_root(tree: tuple[list[tuple[float, float, int, int]], float]) -> None:
    spans, root = tree
    own = _own(spans)
    assert sum(own) == pytest.approx(root)
    assert all(0 <= o <= s[1] for o, s in zip(own, spans, strict=True))


# ---- native logs with parent_span_id: profile and replay ---------------------------------------


def _native(tmp_path: Path, rows: list[tuple[str, str, str | None, float, float]]) -> Path:
    p = tmp_path / "nested.jsonl"
    lines = [
        {
            "request_id": "r1",
            "op": op,
            "span_id": sid,
            "parent_span_id": parent,
            "start_ms": 1_763_942_652_000 + start,
            "latency_ms": lat,
            "status": "ok",
        }
        for op, sid, parent, start, lat in rows
    ]
    p.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return p


def _replayed(r: Recipe, spans: Any) -> tuple[Any, float]:
    prof = build_profile(spans, r)
    return prof, float(replay(r, prof, rng=np.random.default_rng(0)).latency_ms[0])


def test_native_serial_children_replay_as_recorded(tmp_path: Path) -> None:
    r = _recipe([{"id": "a"}, {"id": "b", "after": ["a"]}, {"id": "c", "after": ["b"]}])
    log = _native(tmp_path, [("a", "s1", None, 0, 100), ("b", "s2", "s1", 10, 30), ("c", "s3", "s1", 50, 40)])
    spans, _ = read_logs(log, recipe=r)
    prof, replayed = _replayed(r, spans)
    assert prof.latency_ms[0].tolist() == [30.0, 30.0, 40.0]
    assert prof.e2e_latency_ms.tolist() == [100.0]
    assert replayed == pytest.approx(100.0)  # 100 + 30 + 40 = 170 when a is charged its whole span


def test_native_overlapping_children_of_a_fork_replay_as_recorded(tmp_path: Path) -> None:
    r = _recipe([{"id": "a"}, {"id": "b", "after": ["a"]}, {"id": "c", "after": ["a"]}])
    log = _native(tmp_path, [("a", "s1", None, 0, 100), ("b", "s2", "s1", 10, 40), ("c", "s3", "s1", 30, 40)])
    spans, _ = read_logs(log, recipe=r)
    prof, replayed = _replayed(r, spans)
    assert prof.latency_ms[0].tolist() == [40.0, 40.0, 40.0]
    assert replayed == pytest.approx(100.0)


def test_native_log_without_parents_is_unchanged(tmp_path: Path) -> None:
    r = _recipe([{"id": "a"}, {"id": "b", "after": ["a"]}])
    log = _native(tmp_path, [("a", "s1", None, 0, 100), ("b", "s2", None, 10, 30)])
    spans, _ = read_logs(log, recipe=r)
    assert build_profile(spans, r).latency_ms[0].tolist() == [100.0, 30.0]


# ---- traces --------------------------------------------------------------------------------------


def _zipkin(tmp_path: Path, spans: list[tuple[str, str | None, str, str, int, int]]) -> Path:
    p = tmp_path / "z.json"
    doc = [
        {
            "traceId": "t1",
            "id": sid,
            **({"parentId": parent} if parent else {}),
            "name": name,
            "timestamp": 1_000_000 + start,
            "duration": dur,
            "localEndpoint": {"serviceName": svc},
        }
        for sid, parent, name, svc, start, dur in spans
    ]
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def test_trace_grandchild_through_an_unmapped_span(tmp_path: Path) -> None:
    # a [0, 100 ms] -> http (unmapped) [5, 95] -> c [20, 60]: c's parent becomes a, a is charged its own time
    r = _recipe([{"id": "a"}, {"id": "c", "after": ["a"]}])
    log = _zipkin(
        tmp_path,
        [
            ("aa", None, "a", "s", 0, 100_000),
            ("bb", "aa", "http", "s", 5_000, 90_000),
            ("cc", "bb", "c", "s", 20_000, 40_000),
        ],
    )
    table, counts, notes = traces.read_table(log, recipe=r)
    assert table.column("parent_span_id").to_pylist() == [None, "aa"]
    assert counts["own_time_charged"] == 1 and counts["unmapped_spans"] == 1
    assert "1 span holds spans of other operations: each is charged its own time" in notes[-2]
    spans, report = read_logs(log, recipe=r)
    assert report.format_counts["own_time_charged"] == 1
    prof, replayed = _replayed(r, spans)
    assert prof.latency_ms[0].tolist() == pytest.approx([60.0, 40.0])
    assert replayed == pytest.approx(100.0)


def test_real_zipkin_trace_with_nested_spans(tmp_path: Path) -> None:
    # zipkin-lens skew.json: get (servicea, 99.4 ms) calls post (94.5 ms, served by serviceb) which
    # starts async (65.0 ms). Charged their whole spans one after another the replay said 259.0 ms
    # against 99.4 ms recorded (+160%).
    r = _recipe(
        [
            {"id": "get", "service": "servicea"},
            {"id": "post", "service": "serviceb", "after": ["get"]},
            {"id": "async", "service": "serviceb", "after": ["post"]},
        ]
    )
    spans, report = read_logs(real("zipkin_lens_skew.json"), recipe=r)
    assert report.format_counts["own_time_charged"] == 2
    prof, replayed = _replayed(r, spans)
    # epoch milliseconds in a float64 hold about 0.2 us
    assert prof.latency_ms[0].tolist() == pytest.approx([99.411 - 94.539, 94.539 - 65.0, 65.0], abs=1e-3)
    assert prof.e2e_latency_ms[0] == pytest.approx(99.411, abs=1e-3)
    assert replayed == pytest.approx(prof.e2e_latency_ms[0], rel=0.05)
    assert replayed == pytest.approx(99.411, abs=1e-3)


def test_real_simple_db_with_the_server_span_as_an_operation(tmp_path: Path) -> None:
    # the shipped example with its server span "http:/book" (252.0 ms) mapped to an operation that
    # runs first: the four database calls are inside it. Whole spans replayed: 263.6 ms.
    doc = (EXAMPLE / "recipe.yaml").read_text(encoding="utf-8")
    doc = doc.replace(
        "operations:\n",
        "operations:\n  - id: handle\n    service: bootifulmeters\n    action: http:/book\n"
        "    consumes: []\n    produces: []\n",
    ).replace("    produces: [book_id]\n", "    produces: [book_id]\n    after: [handle]\n")
    services = "services:\n  bootifulmeters: {replicas: 1}\n  app_db:"
    (tmp_path / "recipe.yaml").write_text(doc.replace("services:\n  app_db:", services), encoding="utf-8")
    r = load_recipe(tmp_path / "recipe.yaml")
    spans, report = read_logs(EXAMPLE / "trace.json", recipe=r, mapping=EXAMPLE / "mapping.yaml")
    assert report.format_counts["own_time_charged"] == 1
    prof, replayed = _replayed(r, spans)
    assert prof.latency_ms[0, prof.col("handle")] == pytest.approx(252.016 - 11.616, abs=1e-3)
    assert prof.e2e_latency_ms[0] == pytest.approx(252.016, abs=1e-3)
    assert replayed == pytest.approx(252.016, abs=1e-3)


def test_shipped_simple_db_example_is_unchanged() -> None:
    # its four calls sit side by side in an unmapped server span: nothing to charge
    r = load_recipe(EXAMPLE / "recipe.yaml")
    spans, report = read_logs(EXAMPLE / "trace.json", recipe=r, mapping=EXAMPLE / "mapping.yaml")
    assert report.format_counts.get("own_time_charged", 0) == 0
    prof, replayed = _replayed(r, spans)
    assert prof.latency_ms[0].tolist() == pytest.approx([6.051, 2.414, 2.033, 1.118])
    # the last call ends at 498.305 + 1.118 ms past the second, the first starts at 391.810 (Zipkin's microseconds):
    # 107.613 ms; the profile's offsets were epoch differences, and this said 107.612873046875
    assert replayed == pytest.approx(107.613, abs=1e-9)


# ---- calls of an operation nested in calls of the same operation ---------------------------------


def test_a_call_inside_a_call_of_its_operation_belongs_to_the_outermost() -> None:
    # 0 (op 1) > 1 (op 2) > 2 (op 1) > 3 (op 1); 4 (op 1) a root of its own; 5 (op 2) under 4
    parent, op = np.array([-1, 0, 1, 2, -1, 4]), np.array([1, 2, 1, 1, 1, 2])
    assert outermost_same(parent, op).tolist() == [0, 1, 0, 0, 4, 5]


@st.composite
def forests(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 40))
    parent = [draw(st.integers(-1, i - 1)) for i in range(n)]  # a parent before its child: no cycle
    perm = draw(st.permutations(range(n)))  # rows in any order
    where = {old: new for new, old in enumerate(perm)}
    shuffled = np.full(n, -1, dtype=np.int64)
    for old, p in enumerate(parent):
        shuffled[where[old]] = where[p] if p >= 0 else -1
    return shuffled, np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=np.int64)


@given(forests())
def test_outermost_same_agrees_with_a_walk_up_each_row(forest: tuple[np.ndarray, np.ndarray]) -> None:
    parent, op = forest
    first, size = preorder(parent)
    want = []
    for i in range(len(parent)):
        top, a = i, int(parent[i])
        while a >= 0:
            assert first[a] < first[i] < first[a] + size[a]  # an ancestor holds its place
            top = a if op[a] == op[i] else top
            a = int(parent[a])
        want.append(top)
    assert sorted(first.tolist()) == list(range(len(parent)))
    assert outermost_same(parent, op).tolist() == want
