"""Ingest of several calls per operation: span ids tell calls from duplicates; attempts and items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _profile_helpers import line, span, write_lines
from _telemetry_helpers import recipe

from recipemut.logs.ingest import read_logs
from recipemut.logs.spans import CALL_SCHEMA, SPAN_SCHEMA

T0 = 1_763_942_652_000.0


def test_calls_with_span_ids_are_all_kept(tmp_path: Path) -> None:
    lines = [
        line(span("r1", "load", T0, 10, span_id="a", attempt=1, items=1)),
        line(span("r1", "load", T0 + 10, 12, span_id="b", attempt=1, items=1)),
        line(span("r1", "load", T0 + 22, 9, span_id="c", parent_span_id="root", attempt=1, items=2)),
    ]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert len(df) == 3 and rep.duplicates == 0 and rep.spans_kept == 3
    assert list(df.columns) == SPAN_SCHEMA.names + CALL_SCHEMA.names
    assert df["span_id"].tolist() == ["a", "b", "c"]
    assert df["parent_span_id"].isna().tolist() == [True, True, False]
    assert df["attempt"].dtype == "Int64" and df["items"].tolist() == [1, 1, 2]


def test_the_same_span_id_twice_is_a_duplicate(tmp_path: Path) -> None:
    lines = [
        line(span("r1", "load", T0, 10, span_id="a")),
        line(span("r1", "load", T0, 14, span_id="a")),  # the same call logged twice: the later end is kept
        line(span("r1", "load", T0 + 20, 5, span_id="b")),
        line(span("r2", "load", T0, 3, span_id="a")),  # the same id in another request is another call
    ]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert rep.duplicates == 1
    assert df["latency_ms"].tolist() == [14.0, 5.0, 3.0]
    assert any("same span_id twice" in n for n in rep.notes)
    assert list(df.columns) == [*SPAN_SCHEMA.names, "span_id"]  # only the call columns some line carries


def test_lines_without_span_id_keep_the_one_call_rule(tmp_path: Path) -> None:
    lines = [line(span("r1", "load", T0, 10)), line(span("r1", "load", T0 + 1, 30)), line(span("r1", "x", T0, 1))]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert rep.duplicates == 1 and df["latency_ms"].tolist() == [30.0, 1.0]
    assert list(df.columns) == SPAN_SCHEMA.names  # a log without the call keys gives today's frame
    assert rep.notes == ("1 duplicate (request_id, op) spans dropped; the last-ending one was kept",)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"attempt": 0}, "attempt is 0.0: expected an integer, at least 1"),
        ({"attempt": 1.5}, "attempt is 1.5: expected an integer, at least 1"),
        ({"items": -1}, "items is -1.0: expected an integer, at least 0"),
    ],
)
def test_bad_attempts_and_items_are_rejected_with_their_line(
    tmp_path: Path, extra: dict[str, Any], message: str
) -> None:
    lines = [line(span("r1", "load", T0, 10, span_id="a")), line(span("r1", "load", T0, 10, span_id="b", **extra))]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert len(df) == 1 and rep.rejected == {"bad-value": 1}
    (ex,) = rep.examples
    assert (ex.line, ex.message) == (2, message)


def test_a_span_id_of_the_wrong_type_is_rejected(tmp_path: Path) -> None:
    lines = [line(span("r1", "load", T0, 10)), line(span("r2", "load", T0, 10, span_id=7))]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert len(df) == 1 and rep.rejected == {"wrong-type": 1}
    assert rep.examples[0].message == "span_id: expected string, got number (7)"


def _jaeger(spans: list[tuple[str, str, int, int, str | None]]) -> dict[str, Any]:
    """One Jaeger trace: (span id, operation name, start us, duration us, parent id) per span."""
    return {
        "data": [
            {
                "traceID": "t1",
                "spans": [
                    {
                        "traceID": "t1",
                        "spanID": sid,
                        "operationName": name,
                        "references": []
                        if parent is None
                        else [{"refType": "CHILD_OF", "traceID": "t1", "spanID": parent}],
                        "startTime": start,
                        "duration": dur,
                        "tags": [],
                        "processID": "p1",
                    }
                    for sid, name, start, dur, parent in spans
                ],
                "processes": {"p1": {"serviceName": "redis", "tags": []}},
            }
        ]
    }


def test_a_trace_keeps_every_span_of_an_operation_as_a_call(tmp_path: Path) -> None:
    us = int(T0 * 1000)
    doc = _jaeger(
        [("root", "FindNearest", us, 60_000, None)]
        + [(f"g{i}", "GetDriver", us + 1000 + 5000 * i, 4000, "root") for i in range(10)]
    )
    p = tmp_path / "trace.json"
    p.write_text(json.dumps(doc))
    r = recipe([{"id": "get_driver", "service": "redis", "action": "GetDriver"}])
    df, rep = read_logs(p, recipe=r)
    assert len(df) == 10 and rep.duplicates == 0
    assert df["span_id"].tolist() == [f"g{i}" for i in range(10)]
    assert set(df["parent_span_id"]) == {"root"}
    assert "attempt" not in df.columns  # traces carry no attempts
