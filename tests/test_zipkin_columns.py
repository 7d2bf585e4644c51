"""Zipkin reader, differential: the columnar reading (:mod:`recipemut.logs.zipkinfast`, msgspec
structs and arrow columns) gives the raw span frame of the per-span reader
(:func:`recipemut.logs.zipkin.parse_spans`, the reader it hands what it declines), and
:func:`recipemut.logs.zipkin.parse` gives that reader's frame or error on any document: generated
spans of valid shape (every one of which the columnar reading must take) and odd ones (values of
the wrong type, parts of the wrong shape, JSON only Python reads, bytes that are not UTF-8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from _telemetry_helpers import EXAMPLE, real
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from recipemut.errors import LogError
from recipemut.logs import traces, zipkin, zipkinfast
from recipemut.logs.common import DEFAULT_ATTRIBUTES

PATH = Path("z.json")
#: the tags the frame keeps: the defaults (``peer.service`` among them), a key any value is written
#: to, the error tag itself, and a repeated key (kept once)
ATTRS = (*DEFAULT_ATTRIBUTES, "app.key", "error", "app.key", "app.é")
TAG_KEYS = ["app.key", "error", "peer.service", "recipe.operation", "app.é", "http.url", ""]

# ---- strategies --------------------------------------------------------------------------------------

#: characters that lower-case differently in Python and in arrow's per-code-point mapping (İ, Σ),
#: that JSON escapes, non-ASCII and astral ones
ALPHABET = ["a", "F", "0", " ", '"', "\\", "/", "\n", "\t", "\x01", "é", "ß", "İ", "Σ", "中", "😀", "\u2028"]
texts = st.text(st.sampled_from(ALPHABET), max_size=5)
NUMBERS = [0, -0.0, 0.0, 1, -1, 1.5, -2.5, 1e300, 2**53 + 1, 2**62 // 1000, 2**62 // 1000 + 1, 2**63 - 1]
NUMBERS += [2**63, 2**64, -(2**63) - 1, 10**30, 1706678909209712]
numbers = st.one_of(
    st.sampled_from(NUMBERS), st.integers(-(2**66), 2**66), st.floats(allow_nan=False, allow_infinity=False)
)
scalars = st.one_of(texts, numbers, st.booleans(), st.none())
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=6
)


@st.composite
def hex_ids(draw: st.DrawFn) -> str:
    n = draw(st.sampled_from([16, 32]))
    digits = f"{draw(st.integers(0, 16**n - 1)):0{n}x}"
    return digits.upper() if draw(st.booleans()) else digits


ids = st.one_of(hex_ids(), texts, st.sampled_from(["", "0", "ABC"]))
KINDS = ["CLIENT", "SERVER", "PRODUCER", "consumer", "Internal", "", "İX"]
TIMES = ["1500", "-3", " 12 ", "1_000", "1e3", "2.5", "x", "inf", "nan", ""]


def _maybe(draw: st.DrawFn, span: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    """Set ``span[key]`` to a drawn value, or leave it out."""
    if draw(st.booleans()):
        span[key] = draw(values)


def _sometimes(odd: bool, usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` values, and (``odd``) one time in four ``other`` ones."""
    return st.one_of(usual, usual, usual, other) if odd else usual


@st.composite
def spans(draw: st.DrawFn, odd: bool) -> Any:
    """One span: of a shape the columnar reading takes, or (``odd``) of any shape."""
    if odd and draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(scalars, st.lists(scalars, max_size=2)))  # not a span object
    named = _sometimes(odd, st.one_of(ids, scalars), json_values)
    span: dict[str, Any] = {}
    for key in ("traceId", "id", "parentId", "name"):
        _maybe(draw, span, key, named)
    _maybe(draw, span, "kind", st.one_of(st.sampled_from(KINDS), json_values))
    times = st.one_of(st.integers(0, 2**52), numbers, st.sampled_from(TIMES), st.booleans(), st.none())
    for key in ("timestamp", "duration"):
        _maybe(draw, span, key, _sometimes(odd, times, json_values))
    for key in ("localEndpoint", "remoteEndpoint"):
        endpoint = st.fixed_dictionaries({}, optional={"serviceName": named, "ipv4": st.just("10.0.0.1")})
        _maybe(draw, span, key, st.one_of(st.none(), _sometimes(odd, endpoint, json_values)))
    tags = st.dictionaries(st.sampled_from(TAG_KEYS), json_values, max_size=4)
    _maybe(draw, span, "tags", st.one_of(st.none(), _sometimes(odd, tags, json_values)))
    _maybe(draw, span, "shared", json_values)
    _maybe(draw, span, "annotations", st.lists(st.fixed_dictionaries({"timestamp": numbers, "value": texts})))
    keys = list(span)
    return {k: span[k] for k in draw(st.permutations(keys))} if keys else span


@st.composite
def documents(draw: st.DrawFn, odd: bool) -> bytes:
    """A Zipkin file: a list of spans or of traces (odd: any mix, several documents, bad bytes)."""
    listed = st.lists(spans(odd), max_size=8)
    shape = draw(
        st.sampled_from(["spans", "traces"] * (3 if odd else 1) + (["mixed", "object", "several"] if odd else []))
    )
    doc: Any
    if shape == "spans":
        doc = draw(listed)
    elif shape == "traces":
        doc = draw(st.lists(listed, max_size=4))
    elif shape == "mixed":
        doc = draw(st.lists(st.one_of(spans(odd), listed), max_size=4))
    else:
        doc = {"data": draw(listed)}
    ascii_only = draw(st.booleans())
    indent = draw(st.sampled_from([None, 1]))
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=indent)
    if shape == "several":
        text += "\n" + json.dumps(draw(listed), ensure_ascii=ascii_only)
    data = draw(st.sampled_from(["", " \r\n\t"])) + text + draw(st.sampled_from(["", "\n", " \t"]))
    raw = data.encode("utf-8", "surrogatepass")  # (a lone surrogate: bytes that are not UTF-8)
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    if odd:
        fault = draw(st.sampled_from(["none"] * 6 + ["cut", "byte", "nan", "surrogate"]))
        at = draw(st.integers(0, len(raw)))
        if fault == "cut":
            raw = raw[:at]
        elif fault == "byte":  # anywhere: in a skipped member or key too, which msgspec does not check
            raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00"])) + raw[at:]
        elif fault == "nan":
            raw = raw.replace(b"1.5", b"NaN", 1).replace(b"-2.5", b"-Infinity", 1)
        elif fault == "surrogate":
            raw = raw.replace(b'"a', b'"\\ud800a', 1)
        event(f"fault: {fault}")
    event(f"shape: {shape}")
    return raw


# ---- the comparison --------------------------------------------------------------------------------------


def outcome(read: Any, data: bytes) -> tuple[str, Any]:
    """A reader's frame, or its error as (type, message and fields)."""
    try:
        return "frame", read(data, PATH, ATTRS)
    except Exception as e:  # (compared, whatever it is)
        return "error", (type(e).__name__, str(e), getattr(e, "line", None), getattr(e, "column", None))


def assert_same(got: tuple[str, Any], want: tuple[str, Any]) -> None:
    assert got[0] == want[0], (got, want)
    if got[0] == "frame":
        pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)
    else:
        assert got[1] == want[1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents(odd=False), st.sampled_from([1, 2, 3, zipkinfast.PART_SPANS]))
def test_the_columns_take_every_span_of_valid_shape_and_give_the_per_span_frame(data: bytes, part: int) -> None:
    with mock.patch.object(zipkinfast, "PART_SPANS", part):  # spans decoded a part at a time
        table = zipkinfast.parse_table(data, PATH, ATTRS)
    assert table is not None, data  # a document of valid shape is never handed to the per-span reader
    want = zipkin.parse_spans(data, PATH, ATTRS)
    pd.testing.assert_frame_equal(table.to_pandas(), want, check_exact=True)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(documents(odd=True))
def test_any_document_gives_the_frame_or_the_error_of_the_per_span_reader(data: bytes) -> None:
    got = outcome(zipkin.parse, data)
    want = outcome(zipkin.parse_spans, data)
    event(f"{want[0]}, columns {'declined' if zipkinfast.parse_table(data, PATH, ATTRS) is None else 'taken'}")
    assert_same(got, want)


# ---- examples: what the columns take, what they hand on -----------------------------------------------


def _no_per_span(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("read span by span")

    monkeypatch.setattr(zipkin, "parse_spans", refuse)


@pytest.mark.parametrize(
    "path",
    [
        real("zipkin_lens_simple-db-p6.json"),
        real("zipkin_lens_skew.json"),
        real("zipkin_v2_jaeger_testdata_02.json"),
        EXAMPLE / "trace.json",
    ],
    ids=lambda p: p.name,
)
def test_real_files_are_read_as_columns_with_the_per_span_frame(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    want = zipkin.parse_spans(data, path, ATTRS)
    _no_per_span(monkeypatch)
    pd.testing.assert_frame_equal(zipkin.parse(data, path, ATTRS), want, check_exact=True)


def test_many_spans_with_tags_on_some_and_odd_values_in_a_column(monkeypatch: pytest.MonkeyPatch) -> None:
    # columns built over thousands of spans: tags, endpoints and parents on some spans only, a number
    # where an id is text, text and floats where a time is a number: still columns, same frame
    doc = []
    for i in range(3000):
        span: dict[str, Any] = {"traceId": f"{i // 7:032X}", "id": f"{i:016x}", "name": f"op{i % 5}"}
        if i % 7:
            span["parentId"] = f"{i - i % 7:016x}" if i % 3 else 0
        if i % 2:
            span["tags"] = {"app.key": [i, 1.5, None][i % 3], "error": ""} if i % 4 == 1 else {"http.url": "/"}
        if i % 5:
            span["localEndpoint"] = {"serviceName": f"svc{i % 3}"}
        if i % 11 == 0:
            span["remoteEndpoint"] = {"serviceName": "" if i % 2 else "db"}
            span.setdefault("tags", {})["peer.service"] = "cache"
        span["timestamp"] = [1_700_000_000_000_000 + i, f"{i}", 1.5e15][i % 3] if i % 13 else None
        span["duration"] = [120, 7.9, True, "12", 10**30][i % 5]
        span["kind"] = ["CLIENT", "server", None, 2][i % 4]
        span["shared"] = [True, None, "false", 0][i % 4]
        doc.append(span)
    doc[17]["id"] = 17
    data = json.dumps(doc).encode()
    want = zipkin.parse_spans(data, PATH, ATTRS)
    _no_per_span(monkeypatch)
    monkeypatch.setattr(zipkinfast, "PART_SPANS", 1000)  # three parts: the index runs on across them
    got = zipkin.parse(data, PATH, ATTRS)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got["span_id"].iloc[17] == "17" and pd.isna(got["parent_id"].iloc[3])  # 0: no parent
    assert got["dur_ns"].tolist()[:5] == [120_000, 7_000, -1, 12_000, -1]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"id": "a"}, {"id": {"x": 1}}]', "span 2: id is a JSON object, expected a string"),
        (b'[{"id": "a", "localEndpoint": {"serviceName": ["s"]}}]', "span 1: localEndpoint.serviceName is a JSON list"),
        (b'[{"id": "a"}, null]', "span 2: expected a span object"),
        (b'{"data": []}', "Zipkin document: expected a JSON list of spans"),
        (b'[{"id": "a", "zz": "\xff"}]', "not UTF-8 text (byte 21 of the line is 0xff)"),
        (b'[{"id": "a"}, ]', "not valid JSON"),
        (b"", "empty trace file"),
    ],
)
def test_errors_name_the_span_or_the_byte_as_before(data: bytes, message: str) -> None:
    assert zipkinfast.parse_table(data, PATH, ATTRS) is None
    with pytest.raises(LogError) as e:
        zipkin.parse(data, PATH, ATTRS)
    assert message in str(e.value) and e.value.file == str(PATH)


@pytest.mark.parametrize(
    "data",
    [
        b'[{"id": "a"}]\n[{"id": "b"}]',  # two documents (JSON lines)
        b'[{"id": "a", "timestamp": NaN}]',  # JSON only Python reads
        b'[{"id": "\\ud800a", "name": "x"}]',  # a lone surrogate escape
        b'[{"id": "a", "localEndpoint": "frontend"}, {"id": "b", "tags": []}]',  # parts Python reads as absent
        b'[{"id": "a", "timestamp": 1e400}]',  # beyond a double
    ],
)
def test_what_the_columns_decline_is_read_span_by_span(data: bytes) -> None:
    assert zipkinfast.parse_table(data, PATH, ATTRS) is None
    assert_same(outcome(zipkin.parse, data), outcome(zipkin.parse_spans, data))


def test_the_span_table_through_normalisation_is_as_before(tmp_path: Path) -> None:
    # the skew fixture end to end: merged halves, corrected clock, same table read either way
    p = real("zipkin_lens_skew.json")
    table, counts, notes = traces.read_table(p, "zipkin", recipe=None)
    assert counts["shared_merged"] == 1 and counts["clock_skew_corrected"] == 1
    two = tmp_path / "two.json"  # the same spans as two documents: read span by span
    spans = json.loads(p.read_bytes())
    two.write_text(json.dumps(spans[:2]) + "\n" + json.dumps(spans[2:]), encoding="utf-8")
    assert zipkinfast.parse_table(two.read_bytes(), two, ATTRS) is None
    table2, counts2, notes2 = traces.read_table(two, "zipkin", recipe=None)
    assert table2.drop_columns(["source_file"]).equals(table.drop_columns(["source_file"]))
    assert counts2 == counts and [n.replace(str(two), str(p)) for n in notes2] == notes


@pytest.mark.parametrize("key", ["\\d", 'a"b', "x\x01"], ids=["backslash", "quote", "control"])
def test_a_tag_name_msgspec_cannot_name_is_read_span_by_span(key: str) -> None:
    """A mapping may read a tag whose name holds a backslash, a quote or a control character: the
    struct of wanted tags cannot name it, so the per-span reader reads the file (a fuzz test found
    a ValueError traceback)."""
    span = {"traceId": "a", "id": "1", "name": "n", "timestamp": 1_700_000_000_000_000, "duration": 5,
            "localEndpoint": {"serviceName": "s"}, "tags": {key: "v"}}
    data = json.dumps([span]).encode()
    got = zipkin.parse(data, Path("z.json"), [key])
    assert got.equals(zipkin.parse_spans(data, Path("z.json"), [key]))
