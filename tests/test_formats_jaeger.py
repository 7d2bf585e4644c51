"""Jaeger JSON: the query-API, UI, legacy and anonymizer shapes of the real fixtures, and their warts."""

from __future__ import annotations

import json

import pytest
from _telemetry_helpers import real, recipe

from recipemut.logs import traces as formats
from recipes import checkout_ops


def test_happy_trace_by_hand() -> None:
    # happyTrace.json: X(op1, 1..10us), A(op2, 2..6, error), B(op2, 4..5), C(op3, 3..7), D(op1 on service2, 8..9)
    df, counts, notes = formats.read(real("jaeger_ui_criticalpath_happyTrace.json"), recipe=None)
    assert formats.detect_file(real("jaeger_ui_criticalpath_happyTrace.json")) == "jaeger"
    assert len(df) == 5 and counts["traces"] == 1
    assert sorted(df["service"].unique()) == ["service1", "service2"]
    assert sorted(df["op"].unique()) == ["op1", "op2", "op3"]
    assert df["latency_ms"].tolist() == pytest.approx([0.009, 0.004, 0.001, 0.004, 0.001])
    assert df["start_ms"].tolist() == pytest.approx([0.001, 0.002, 0.004, 0.003, 0.008])
    assert df["status"].tolist() == ["ok", "error", "ok", "ok", "ok"]  # error tag as the string "true"
    assert df["request_id"].unique().tolist() == ["trace-123"]
    nonzero = {k: v for k, v in counts.items() if v}
    # X holds A (op2) and C (op3): X is charged its own time; D (op1 in op1) and B (op2 in op2) are not
    assert nonzero == {"spans_read": 5, "spans_mapped": 5, "traces": 1, "own_time_charged": 1}
    assert notes == [
        "1 span holds spans of other operations: each is charged its own time (its span minus the time those cover)"
    ]


def test_anonymizer_span_list_with_inline_process() -> None:
    # trace_success.json: a list of spans with "process" inline; 267037 us and 32782 us
    df, counts, _ = formats.read(real("jaeger_anonymizer_trace_success.json"), recipe=None)
    assert df["latency_ms"].tolist() == pytest.approx([267.037, 32.782])
    assert df["start_ms"].iloc[0] == pytest.approx(1605223981761.425)
    assert df["service"].tolist() == ["16af988c443cff37", "3c220036602f839e"]
    assert df["status"].tolist() == ["ok", "error"]
    assert counts["parent_missing"] == 1  # the first span's parent 492770a15935810f is not in the file


def test_model_fixture_duplicate_ids_and_cross_trace_reference() -> None:
    # ui_01.json: span "2" appears twice with different operations; span "4" references trace 00ff
    df, counts, notes = formats.read(real("jaeger_ui_model_fixture_ui_01.json"), recipe=None)
    assert len(df) == 5
    assert counts["duplicate_span_ids"] == 1
    assert counts["parent_in_other_trace"] == 1
    assert counts["duplicate_spans"] == 0
    assert sorted(df["service"].unique()) == ["service-x", "service-y"]
    assert df.loc[df["op"] == "preserveParentID-test", "latency_ms"].item() == pytest.approx(0.004)
    assert (df["status"] == "error").sum() == 1  # the bool tag error=true
    assert any("another trace" in n for n in notes) and any("1 span reuses another span's id" in n for n in notes)


def test_parent_cycle_is_broken_and_counted() -> None:
    df, counts, notes = formats.read(real("jaeger_ui_contract_parent-cycle.legacy.json"), recipe=None)
    assert counts["parent_cycle"] == 2
    assert len(df) == 2  # both kept, as roots
    assert df["latency_ms"].tolist() == [34.0, 34.0]
    assert any("cycle" in n for n in notes)


def test_children_longer_than_parent_are_flagged_not_changed() -> None:
    # send: 189..225 us; "async task 1": 192..232 (ends after its parent); "shorter than parent": 194..202
    df, counts, _ = formats.read(real("jaeger_ui_stats_traceWithOverlappingChildren.json"), recipe=None)
    assert counts["child_outlives_parent"] == 1
    assert counts["clock_skew_corrected"] == 0
    assert df["latency_ms"].tolist() == pytest.approx([0.036, 0.040, 0.008])


def test_query_api_shape_process_sampler_tags_and_skew(tmp_path) -> None:
    doc = {
        "data": [
            {
                "traceID": "abc",
                "spans": [
                    {
                        "traceID": "abc",
                        "spanID": "1",
                        "operationName": "GetCart",
                        "references": [],
                        "startTime": 1_000_000,
                        "duration": 5_000,
                        "tags": [],
                        "processID": "p1",
                    },
                    {
                        "traceID": "abc",
                        "spanID": "2",
                        "operationName": "PriceItems",
                        "references": [{"refType": "CHILD_OF", "traceID": "abc", "spanID": "1"}],
                        "startTime": 999_000,  # 1 ms before its parent: another host's clock
                        "duration": 2_000,
                        "tags": [{"key": "error", "type": "bool", "value": True}],
                        "processID": "p2",
                    },
                ],
                "processes": {
                    "p1": {
                        "serviceName": "cart",
                        "tags": [
                            {"key": "sampler.type", "type": "string", "value": "probabilistic"},
                            {"key": "sampler.param", "type": "float64", "value": 0.001},
                        ],
                    },
                    "p2": {"serviceName": "pricing", "tags": []},
                },
            }
        ],
        "total": 0,
        "errors": None,
    }
    p = tmp_path / "q.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    r = recipe(checkout_ops("load_cart", "price"))
    df, counts, _ = formats.read(p, recipe=r)
    assert df["op"].tolist() == ["load_cart", "price"]
    assert counts["clock_skew_corrected"] == 1
    assert df["start_ms"].tolist() == pytest.approx([1000.0, 1000.0])  # child moved to its parent's start
    assert df["latency_ms"].tolist() == pytest.approx([5.0, 2.0])  # durations untouched
    assert df["sample_rate"].tolist() == pytest.approx([0.001, 0.001])  # the trace's rate, from p1's sampler
    assert df["status"].tolist() == ["ok", "error"]


def test_wrong_shape_is_a_log_error(tmp_path) -> None:
    from recipemut.errors import LogError

    p = tmp_path / "j.json"
    p.write_text(json.dumps({"data": [{"traceID": "a", "spans": 3}]}), encoding="utf-8")
    with pytest.raises(LogError, match="trace 0"):
        formats.read(p, "jaeger", recipe=None)


# ---- odd values where real exporters write lists, objects, strings and numbers ----------------------------


def _happy_with(tmp_path, edit) -> object:  # type: ignore[no-untyped-def]
    """happyTrace.json after ``edit(doc)``, written to a file."""
    doc = json.loads(real("jaeger_ui_criticalpath_happyTrace.json").read_text())
    edit(doc)
    p = tmp_path / "j.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return p


def _set(*path: object):  # type: ignore[no-untyped-def]
    """An edit that sets the value at the end of ``path`` (keys, then the value)."""
    *keys, value = path

    def edit(doc) -> None:  # type: ignore[no-untyped-def]
        for k in keys[:-1]:
            doc = doc[k]
        doc[keys[-1]] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("spans", 1, "references", 7), r"span 2: references is a JSON number, expected a list"),
        (_set("spans", 1, "references", {"spanID": "span-X"}), r"span 2: references is a JSON object, expected a list"),
        (_set("spans", 0, "tags", 7), r"span 1: tags is a JSON number, expected a list"),
        (_set("spans", 0, "tags", "error"), r"span 1: tags is a JSON string, expected a list"),
        (_set("processes", 7), r"trace 0: processes is a JSON number, expected an object"),
        (_set("processes", [{"serviceName": "service1"}]), r"trace 0: processes is a JSON list, expected an object"),
        (_set("processes", "p1", "x"), r"trace 0: process 'p1' is a JSON string, expected an object"),
        (_set("processes", "p1", "tags", True), r"trace 0: process 'p1': tags is a JSON boolean, expected a list"),
        (_set("processes", "p1", "serviceName", {"name": "service1"}), r"span 1: serviceName is a JSON object"),
        (_set("spans", 0, "spanID", {"high": 1}), r"span 1: spanID is a JSON object, expected a string"),
        (_set("spans", 0, "operationName", ["op1"]), r"span 1: operationName is a JSON list, expected a string"),
        (_set("spans", 1, "references", 0, "spanID", ["span-X"]), r"span 2: references\[0\].spanID is a JSON list"),
    ],
)
def test_a_part_of_the_wrong_json_type_is_a_log_error_naming_it(tmp_path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    from recipemut.errors import LogError

    p = _happy_with(tmp_path, edit)
    with pytest.raises(LogError, match=message) as e:
        formats.read(p, recipe=None)
    assert e.value.file == str(p)


@pytest.mark.parametrize("key", ["startTime", "duration"])
@pytest.mark.parametrize("value", [10**30, -(10**30), "1e20", 1e300])
def test_a_time_beyond_146_years_makes_the_span_invalid(tmp_path, key: str, value) -> None:  # type: ignore[no-untyped-def]
    p = _happy_with(tmp_path, _set("spans", 4, key, value))
    df, counts, notes = formats.read(p, recipe=None)
    assert counts["invalid_spans"] == 1 and "span #5" in notes[0]
    assert len(df) == 4


def test_harmless_odd_values_are_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def edit(doc) -> None:  # type: ignore[no-untyped-def]
        doc["processes"]["p1"]["serviceName"] = 7  # a number: read as JSON writes it
        doc["spans"][0]["tags"] = [None, 3, {"key": "span.kind", "value": "server"}]  # non-objects skipped
        doc["spans"][1]["references"] = None
        doc["spans"][2]["process"] = "p1"  # not an inline process: processID still names it

    df, _, _ = formats.read(_happy_with(tmp_path, edit), recipe=None)
    assert len(df) == 5 and "7" in df["service"].tolist()


def test_cli_a_wrong_part_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from recipemut.cli import app

    r = tmp_path / "r.yaml"
    r.write_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: happy\nversion: 1\nfields: {}\ninputs: []\noutputs: []\n"
        "operations:\n  - {id: op1, service: service1, action: call, consumes: [], produces: []}\n"
    )
    p = _happy_with(tmp_path, _set("processes", 7))
    res = CliRunner().invoke(app, ["profile", str(r), "--logs", str(p)])
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert f"error: {p}: trace 0: processes is a JSON number, expected an object" in res.stderr
