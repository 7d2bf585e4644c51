"""OTLP JSON: real fixtures, the proto JSON mapping's variants, malformed parts; the compiled scanner (an extra)
against the msgspec reader."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from _telemetry_helpers import otlp_doc, otlp_span, real, recipe, write_json

from recipemut.errors import InputFileError, LogError
from recipemut.logs import otlp, otlpfast
from recipemut.logs import traces as formats
from recipemut.logs.common import DEFAULT_ATTRIBUTES
from recipemut.logs.spans import SPAN_SCHEMA
from recipes import checkout_ops

#: tests of the compiled scanner (the fast-otlp extra) and of when it is used
needs_scanner = pytest.mark.skipif(not otlpfast.available(), reason="numba (the fast-otlp extra) is not installed")

T1 = "0af7651916cd43dd8448eb211c80319c"
T2 = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("columnar", [pytest.param(True, marks=needs_scanner), False])
def test_proto_example_trace_by_hand(columnar, monkeypatch) -> None:
    # examples/trace.json: one server span, 1544712660000000000 -> 1544712661000000000 ns = 1000 ms
    if not columnar:
        monkeypatch.setattr(otlpfast, "parse_arrow", lambda *args, **kw: None)
    assert otlpfast.read_raw(real("otlp_proto_examples_trace.json"), ())[1] == ("columnar" if columnar else "msgspec")
    df, counts, notes = formats.read(real("otlp_proto_examples_trace.json"), recipe=None)
    assert list(df.columns) == SPAN_SCHEMA.names
    assert len(df) == 1
    row = df.iloc[0]
    assert row["request_id"] == "5b8efff798038103d269b633813fc60c"  # upper-case hex normalised
    assert row["op"] == "I'm a server span"
    assert row["service"] == "my.service"
    assert row["start_ms"] == 1544712660000.0
    assert row["latency_ms"] == 1000.0
    assert row["status"] == "ok"
    assert row["source_line"] == 1
    # its parent EEE19B7EC3C1B173 is not in the file
    assert counts["parent_missing"] == 1 and counts["spans_read"] == 1 and counts["traces"] == 1
    assert any("absent from the file" in n for n in notes)


def test_jaeger_fixture_duplicate_span_is_dropped_and_counted() -> None:
    # otlp2jaeger-in.json carries the same span twice: 1706678909209712000 -> ...835000 ns = 0.123 ms
    df, counts, _ = formats.read(real("jaeger_otlp2jaeger-in.otlp.json"), recipe=None)
    assert counts["spans_read"] == 2
    assert counts["duplicate_spans"] == 1
    assert len(df) == 1
    assert df["latency_ms"].iloc[0] == pytest.approx(0.123)
    assert df["service"].iloc[0] == "telemetrygen"
    assert df["op"].iloc[0] == "okey-dokey-0"


def test_nanoseconds_as_strings_or_numbers_give_the_same_table(tmp_path) -> None:
    spans = [otlp_span(T1, "a1", "GetCart", 1_700_000_000_123_456_789, 12_345_678)]
    p_str = write_json(tmp_path / "s.json", otlp_doc({"cart": spans}))
    spans_n = [otlp_span(T1, "a1", "GetCart", 1_700_000_000_123_456_789, 12_345_678, as_numbers=True)]
    p_num = write_json(tmp_path / "n.json", otlp_doc({"cart": spans_n}))
    a, _, _ = formats.read(p_str, recipe=None)
    b, _, _ = formats.read(p_num, recipe=None)
    assert a["latency_ms"].iloc[0] == pytest.approx(12.345678)
    assert a["start_ms"].iloc[0] == pytest.approx(1_700_000_000_123.456789)
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        ({"code": 2, "message": "boom"}, 2, "error"),
        ({"code": "STATUS_CODE_ERROR"}, "SPAN_KIND_SERVER", "error"),
        ({"code": 1}, 3, "ok"),
        ({}, 1, "ok"),
    ],
)
def test_status_and_kind_variants(tmp_path, status, kind, expected) -> None:
    span = otlp_span(T1, "a1", "x", 10**18, 10**6, status=status, kind=kind)
    p = write_json(tmp_path / "t.json", otlp_doc({"svc": [span]}))
    df, _, _ = formats.read(p, recipe=None)
    assert df["status"].tolist() == [expected]


def test_default_mapping_and_unmapped_summary(tmp_path) -> None:
    r = recipe(checkout_ops("load_cart", "price"))
    spans_cart = [
        otlp_span(T1, "c1", "GetCart", 10**18, 5 * 10**6),  # by action
        otlp_span(T2, "c2", "load_cart", 10**18, 7 * 10**6),  # by id
        otlp_span(T2, "c3", "healthz", 10**18, 10**6),  # unmapped
        otlp_span(T2, "c4", "healthz", 10**18, 10**6),  # unmapped
    ]
    spans_pricing = [
        otlp_span(T1, "p1", "whatever", 10**18, 3 * 10**6, attrs={"recipe.operation": "price"}),  # by attribute
        otlp_span(T1, "p2", "GetCart", 10**18, 3 * 10**6),  # right name, wrong service
    ]
    p = write_json(tmp_path / "t.json", otlp_doc({"cart": spans_cart, "pricing": spans_pricing}))
    df, counts, notes = formats.read(p, recipe=r)
    assert df["op"].tolist() == ["load_cart", "load_cart", "price"]
    assert df["service"].tolist() == ["cart", "cart", "pricing"]
    assert df["request_id"].tolist() == [T1, T2, T1]
    assert df["recipe"].unique().tolist() == ["demo"]
    assert counts["unmapped_spans"] == 3 and counts["spans_mapped"] == 3
    (note,) = [n for n in notes if "map to no operation" in n]
    assert "'healthz' (cart) x2" in note and "'GetCart' (pricing) x1" in note


def test_sampling_from_tracestate_attribute_or_caller(tmp_path) -> None:
    spans = [
        # OTel probability sampling: th:c -> rejection threshold 0xc/16 -> keeps 1/4
        otlp_span(T1, "a1", "x", 10**18, 10**6, trace_state="ot=th:c;rv:123"),
        otlp_span(T1, "a2", "y", 10**18, 10**6, parent="a1"),
        otlp_span(T2, "b1", "x", 10**18, 10**6, attrs={"sampling.probability": 0.5}),
    ]
    spans_other = [otlp_span("77" * 16, "c1", "x", 10**18, 10**6)]
    p = write_json(tmp_path / "t.json", otlp_doc({"svc": spans, "other": spans_other}))
    df, counts, _ = formats.read(p, recipe=None, sample_rate=0.1)
    rates = dict(zip(df["source_line"], df["sample_rate"], strict=True))
    assert rates[1] == pytest.approx(0.25) and rates[2] == pytest.approx(0.25)  # the whole trace
    assert rates[3] == pytest.approx(0.5)
    assert rates[4] == pytest.approx(0.1)  # the caller's rate where the trace carries none
    assert counts["sample_rate_from_trace"] == 2
    df2, _, _ = formats.read(p, recipe=None)
    assert np.isnan(df2["sample_rate"].iloc[3])


def _many_spans_doc(n_traces: int = 40) -> list[dict]:
    rng = np.random.default_rng(7)
    docs = []
    for t in range(n_traces):
        tid = f"{t:032x}"
        root = otlp_span(tid, f"{t:08x}00000000", "root", 10**18 + t * 10**9, 50 * 10**6, kind=2)
        kids = [
            otlp_span(
                tid,
                f"{t:08x}{k:08x}",
                ["GetCart", "PriceItems", "Charge"][k % 3],
                10**18 + t * 10**9 + int(rng.integers(0, 10**7)),
                int(rng.integers(10**5, 10**7)),
                parent=f"{t:08x}00000000",
                kind=3,
                status={"code": 2} if k == 4 else {},
                attrs={"peer.service": "db", "app.cache_key": f"k{k}", "http.response_content_length": 100 * k},
            )
            for k in range(1, 6)
        ]
        docs.append(otlp_doc({"checkout": [root, *kids]}, resource_attrs={"deployment.environment": "prod"}))
    return docs


@needs_scanner
def test_columnar_and_document_readers_agree(tmp_path) -> None:
    p = write_json(tmp_path / "export.json", _many_spans_doc(), lines=True)
    attrs = (*DEFAULT_ATTRIBUTES, "app.cache_key", "http.response_content_length", "deployment.environment")
    fast = otlpfast.parse_arrow(p, attrs)
    assert fast is not None
    slow = otlp.parse(p.read_bytes(), p, attrs)
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), slow.reset_index(drop=True), check_dtype=False)
    raw, how = otlpfast.read_raw(p, attrs)
    assert how == "columnar" and len(raw) == 240


def test_gzip_and_line_delimited_exports_read_end_to_end(tmp_path) -> None:
    plain = write_json(tmp_path / "export.json", _many_spans_doc(), lines=True)
    gz = tmp_path / "export.bin"  # detection by content, not by name
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, ca, _ = formats.read(plain, recipe=None)
    b, cb, _ = formats.read(gz, recipe=None)
    assert formats.detect_file(gz) == "otlp"
    assert ca == cb
    assert len(a) == 240 and a["request_id"].nunique() == 40
    assert (a["status"] == "error").sum() == 40
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))


@needs_scanner
def test_irregular_files_fall_back_to_the_document_reader(tmp_path) -> None:
    docs = _many_spans_doc(3)
    p = tmp_path / "pretty.json"
    p.write_text("\n".join(json.dumps(d, indent=2) for d in docs), encoding="utf-8")
    raw, how = otlpfast.read_raw(p, DEFAULT_ATTRIBUTES)
    assert how == "columnar" and len(raw) == 18  # pretty-printed is fine
    # times as strings in one export and as numbers in the next: the scan takes both
    mixed = [otlp_doc({"a": [otlp_span(T1, "a1", "x", 10**18, 10**6)]})]
    mixed.append(otlp_doc({"a": [otlp_span(T2, "b1", "x", 10**18, 2 * 10**6, as_numbers=True)]}))
    p2 = write_json(tmp_path / "mixed.json", mixed, lines=True)
    raw, how = otlpfast.read_raw(p2, DEFAULT_ATTRIBUTES)
    assert how == "columnar" and raw["dur_ns"].tolist() == [10**6, 2 * 10**6]
    # what the scan declines, the document reader reads: a time that is not an integer, an array value
    # in an attribute the mapping reads, Jaeger's {"result": ...} wrapper
    late = otlp_doc({"a": [otlp_span(T1, "a1", "x", 10**18, 10**6)]})
    late["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["endTimeUnixNano"] = "1.000000000001e18"
    array = otlp_doc({"a": [otlp_span(T1, "a1", "x", 10**18, 10**6)]})
    array["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"] = [
        {"key": "peer.service", "value": {"arrayValue": {"values": [{"stringValue": "db"}]}}}
    ]
    wrapped = {"result": otlp_doc({"a": [otlp_span(T1, "a1", "x", 10**18, 10**6)]})}
    for name, doc in (("late", late), ("array", array), ("wrapped", wrapped)):
        raw, how = otlpfast.read_raw(write_json(tmp_path / f"{name}.json", [doc], lines=True), DEFAULT_ATTRIBUTES)
        assert how == "msgspec" and len(raw) == 1, name


def test_errors_name_the_file_and_place(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceSpans": [\n  {"resource": }\n]}', encoding="utf-8")
    with pytest.raises(LogError) as e:
        formats.read(bad, "otlp", recipe=None)
    assert e.value.file == str(bad) and e.value.line == 2
    shape = write_json(tmp_path / "shape.json", {"resourceSpans": {"oops": 1}})
    with pytest.raises(LogError, match="resourceSpans"):
        formats.read(shape, "otlp", recipe=None)
    with pytest.raises(InputFileError, match="no such file"):
        formats.read(tmp_path / "nope.json", recipe=None)
    native = tmp_path / "native.jsonl"
    native.write_text('{"request_id": "r", "op": "a"}\n', encoding="utf-8")
    with pytest.raises(LogError, match="not an OTLP, Jaeger or Zipkin"):
        formats.read(native, recipe=None)


def _one(**span_fields) -> dict:
    doc = otlp_doc({"a": [otlp_span(T1, "a1", "x", 10**18, 10**6)]})
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(span_fields)
    return doc


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d["resourceSpans"][0].update(scopeSpans=5), "resourceSpans[0].scopeSpans: expected a list"),
        (lambda d: d["resourceSpans"][0]["scopeSpans"].append(7), "resourceSpans[0].scopeSpans[1]: expected an object"),
        (lambda d: d["resourceSpans"][0]["scopeSpans"][0].update(spans="abc"), "scopeSpans[0].spans: expected a list"),
        (lambda d: d["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(attributes=3), "span 1: attributes"),
        (
            lambda d: d["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(traceId={"a": 1}),
            "span 1: traceId is a JSON object, expected a string",
        ),
        (
            lambda d: d["resourceSpans"][0]["scopeSpans"][0]["spans"][0].update(name=["GetCart"]),
            "span 1: name is a JSON list, expected a string",
        ),
    ],
)
def test_malformed_parts_are_errors_that_say_where(tmp_path, edit, where) -> None:
    """What no exporter writes is one clear error naming the file and the part, never a traceback."""
    doc = _one()
    edit(doc)
    path = write_json(tmp_path / "odd.json", [doc], lines=True)
    with pytest.raises(LogError) as e:
        formats.read(path, "otlp", recipe=None)
    assert where in str(e.value) and e.value.file == str(path)


def test_odd_values_the_scanner_reads_or_declines_are_read_alike_by_the_document_reader(tmp_path) -> None:
    """A resource that is not an object, attribute entries that are not objects, a doubleValue that is
    not a number, a time too large for a float: read (the odd part ignored or null), not a crash."""
    cases = {
        "resource": _one(),
        "entries": _one(attributes=[1, {"key": "peer.service", "value": {"stringValue": "db"}}]),
        "double": _one(attributes=[{"key": "peer.service", "value": {"doubleValue": "abc"}}]),
        "infinite": _one(startTimeUnixNano=1e400),
        "huge": _one(startTimeUnixNano=10**30),
        "overflow": _one(startTimeUnixNano="-9000000000000000000", endTimeUnixNano="9000000000000000000"),
        "keys": _one(
            attributes=[{"key": ["x"]}, {"key": {"k": 1}}, {"key": "peer.service", "value": {"stringValue": "db"}}]
        ),
    }
    cases["resource"]["resourceSpans"][0]["resource"] = "x"
    cases["keys"]["resourceSpans"][0]["resource"]["attributes"].append({"key": ["service.name"]})
    got = {}
    for name, doc in cases.items():
        path = write_json(tmp_path / f"{name}.json", [doc], lines=True)
        got[name] = otlp.parse(path.read_bytes(), path, DEFAULT_ATTRIBUTES)
        fast = otlpfast.parse_arrow(path, DEFAULT_ATTRIBUTES)
        if fast is not None:  # where the scanner reads it, both readers agree
            pd.testing.assert_frame_equal(fast, got[name], check_dtype=False)
    assert got["resource"]["service"].isna().all()
    assert got["entries"]["peer_service"].tolist() == ["db"]
    assert got["double"]["peer_service"].isna().all()
    assert got["infinite"]["start_ns"].tolist() == [-1]  # no start: dropped and counted by normalisation
    assert got["huge"]["start_ns"].tolist() == [-1]  # beyond int64, as the scanner's range
    assert got["overflow"]["dur_ns"].tolist() == [-1]  # end - start beyond int64: no duration
    assert got["keys"]["peer_service"].tolist() == ["db"]


@pytest.mark.parametrize(
    "value",
    [
        {"arrayValue": [1]},
        {"arrayValue": {"values": 5}},
        {"kvlistValue": [1]},
        {"kvlistValue": {"values": [1, {"key": ["k"]}, {"value": {"stringValue": "no key"}}]}},
    ],
)
@pytest.mark.parametrize("on", ["resource", "span"])
def test_array_and_kvlist_values_of_another_shape_are_read_not_a_traceback(tmp_path, value, on) -> None:
    """The scanner declines these (a complex value) and sends the file to the document reader, which
    read them with .get and a dict: AttributeError or TypeError (also on a resource attribute that
    is not wanted). Now the malformed part is no value."""
    doc = _one(attributes=[{"key": "recipe.operation", "value": value}] if on == "span" else [])
    doc["resourceSpans"][0]["resource"]["attributes"].append({"key": "recipe.operation", "value": value})
    doc["resourceSpans"][0]["resource"]["attributes"].append({"key": "other", "value": value})
    path = write_json(tmp_path / "odd.json", [doc], lines=True)
    assert otlpfast.parse_arrow(path, DEFAULT_ATTRIBUTES) is None  # declined: only the document reader reads it
    df, _, _ = formats.read(path, "otlp", recipe=None)
    assert df["service"].tolist() == ["a"]


def test_a_bool_value_that_is_not_a_json_boolean_is_no_value_not_true(tmp_path) -> None:
    """The scanner declines {"boolValue": "false"}; the document reader took bool("false"): true."""
    for i, b in enumerate(("false", "true", 0, 1, [])):
        path = write_json(
            tmp_path / f"b{i}.json",
            [_one(attributes=[{"key": "recipe.variant", "value": {"boolValue": b}}])],
            lines=True,
        )
        assert otlpfast.parse_arrow(path, DEFAULT_ATTRIBUTES) is None
        assert otlp.parse(path.read_bytes(), path, DEFAULT_ATTRIBUTES)["attr:recipe.variant"].isna().all(), b
    assert [otlp.any_value({"boolValue": b}) for b in (True, False, None)] == [True, False, False]


def test_a_trace_state_that_is_an_object_is_an_error_not_a_python_repr(tmp_path) -> None:
    path = write_json(tmp_path / "ts.json", [_one(traceState={"a": 1})], lines=True)
    with pytest.raises(LogError, match="span 1: traceState is a JSON object, expected a string"):
        otlp.parse(path.read_bytes(), path, DEFAULT_ATTRIBUTES)


def test_json_nested_too_deeply_is_an_error_with_its_line(tmp_path) -> None:
    path = tmp_path / "deep.json"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(json.dumps(_one()) + "\n" + '{"resourceSpans": ' + deep + "}\n", encoding="utf-8")
    with pytest.raises(LogError, match="nested too deeply") as e:
        otlp.parse(path.read_bytes(), path, DEFAULT_ATTRIBUTES)
    assert e.value.line == 2


@needs_scanner
def test_columnar_and_document_paths_give_the_same_span_table(tmp_path, monkeypatch) -> None:
    docs = _many_spans_doc(12)
    compact = write_json(tmp_path / "compact.json", docs, lines=True)
    assert otlpfast.read_raw(compact, DEFAULT_ATTRIBUTES)[1] == "columnar"
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "apiVersion: recipemut/v1\nkind: SpanMapping\n"
        "operations:\n  - op: big_charge\n    name: Charge\n"
        "    attributes:\n      http.response_content_length: {min: 300}\n"
        "attributes: {bytes_out: http.response_content_length, cache_key: app.cache_key}\n",
        encoding="utf-8",
    )
    r = recipe(
        [
            *checkout_ops("load_cart", "price", "charge", service="db"),
            {"id": "big_charge", "service": "db", "action": "ChargeBig"},
        ]
    )
    a, ca, _ = formats.read(compact, recipe=r, mapping=mapping)
    monkeypatch.setattr(otlpfast, "parse_arrow", lambda *args, **kw: None)  # force the json document reader
    assert otlpfast.read_raw(compact, DEFAULT_ATTRIBUTES)[1] == "msgspec"
    b, cb, _ = formats.read(compact, recipe=r, mapping=mapping)
    assert ca == cb
    pd.testing.assert_frame_equal(a.drop(columns="source_file"), b.drop(columns="source_file"))
    # Charge spans are k = 2 (200 bytes: default rule -> charge) and k = 5 (500 bytes: the rule -> big_charge)
    assert (a["op"] == "big_charge").sum() == 12 and (a["op"] == "charge").sum() == 12
    assert set(a.loc[a["op"] == "big_charge", "bytes_out"]) == {500.0}
    assert sorted(a["bytes_out"].unique()) == [100.0, 200.0, 300.0, 400.0, 500.0]
    assert a["cache_key"].str.startswith("k").all()


@needs_scanner
def test_later_exports_richer_than_the_first_still_read_columnar(tmp_path) -> None:
    # the first line's schema has no attributes at all; later lines carry some: arrow retries with inference
    docs = [otlp_doc({"a": [otlp_span(T1, "a1", "x", 10**18, 10**6)]})]
    docs.append(
        otlp_doc({"a": [otlp_span(T2, "b1", "x", 10**18, 2 * 10**6, attrs={"recipe.operation": "op", "n": 3})]})
    )
    p = write_json(tmp_path / "export.json", docs, lines=True)
    raw, how = otlpfast.read_raw(p, DEFAULT_ATTRIBUTES)
    assert how == "columnar"
    assert raw["attr:recipe.operation"].tolist()[1] == "op" and pd.isna(raw["attr:recipe.operation"].tolist()[0])
    pd.testing.assert_frame_equal(raw, otlp.parse(p.read_bytes(), p, DEFAULT_ATTRIBUTES), check_dtype=False)


@needs_scanner
def test_small_files_go_to_the_document_reader_and_large_ones_to_the_scanner(tmp_path, monkeypatch) -> None:
    plain = write_json(tmp_path / "export.json", _many_spans_doc(), lines=True)
    gz = tmp_path / "export.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    size = plain.stat().st_size
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", size + 1)
    assert otlpfast.read_raw(plain, DEFAULT_ATTRIBUTES)[1] == "msgspec"
    assert otlpfast.read_raw(gz, DEFAULT_ATTRIBUTES)[1] == ("columnar" if gz.stat().st_size * 8 > size else "msgspec")
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", size)
    fast, how = otlpfast.read_raw(plain, DEFAULT_ATTRIBUTES)
    assert how == "columnar"
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", 1 << 40)
    slow, how = otlpfast.read_raw(plain, DEFAULT_ATTRIBUTES)
    assert how == "msgspec"
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
