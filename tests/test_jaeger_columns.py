"""The Jaeger reader's typed columns (msgspec structs, arrow) against its per-span reader.

:func:`recipemut.logs.jaeger.parse` builds the raw span frame a column at a time from msgspec's
structs and hands a document they refuse to :func:`~recipemut.logs.jaeger.parse_per_span`, the
span-by-span reader on ``json``. The properties here say that both give exactly the same frame, or
the same error, on random Jaeger documents: clean ones (which the typed path must take itself) and
odd ones (odd JSON types, nulls, non-objects, numbers msgspec refuses, several documents).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from recipemut.errors import LogError
from recipemut.logs import jaeger
from recipemut.logs.common import DEFAULT_ATTRIBUTES

REAL = Path(__file__).parent / "realdata"
DATA = Path(__file__).parent / "data" / "traces"
PATH = Path("t.json")
#: the attributes a mapping would ask for: the defaults, two of the app's, one no span has
ATTRIBUTES = (*DEFAULT_ATTRIBUTES, "app.bytes_in", "app.cache_key", "never.there")
#: tag keys drawn: wanted ones, the ones the reader reads itself, others
TAG_KEYS = ("error", "peer.service", "span.kind", "sampler.type", "sampler.param", "app.bytes_in", "app.cache_key")
TAG_KEYS += ("recipe.operation", "http.method", "None")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def both(data: bytes) -> tuple[Any, Any]:
    """(the reader's frame or error, the per-span reader's), errors as (type, message, file)."""

    def run(reader: Any) -> Any:
        try:
            return reader(data, PATH, ATTRIBUTES)
        except LogError as e:
            return (type(e).__name__, str(e), e.file)

    return run(jaeger.parse), run(jaeger.parse_per_span)


def assert_same(data: bytes) -> None:
    got, want = both(data)
    if isinstance(want, pd.DataFrame):
        assert isinstance(got, pd.DataFrame), got
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    else:
        assert got == want


# ---- clean documents: the JSON types Jaeger writes ----------------------------------------------------------

ids = st.sampled_from(["a1", "A1", "00f", "0000", "b2", "", "É1", "c3"])
clean_ids = ids | st.none()
micros = st.integers(-(2**64), 2**64) | st.sampled_from(
    [0, 1605223981761425, 2**62 // 1000, 2**62 // 1000 + 1, -(2**63)]
)
scalars = (
    st.text(max_size=4)
    | st.sampled_from(["true", "TRUE", "True", "false", "client", "server"])
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
values = scalars | st.lists(scalars, max_size=2) | st.dictionaries(st.text(max_size=2), scalars, max_size=2)


def tag(key_values: st.SearchStrategy[Any] = values) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"key": st.sampled_from(TAG_KEYS)},
        optional={"type": st.sampled_from(["string", "bool", "int64"]), "value": key_values},
    )


tags = st.lists(tag(), max_size=4) | st.dictionaries(st.sampled_from(TAG_KEYS), values, max_size=3) | st.none()
refs = st.fixed_dictionaries(
    {},
    optional={
        "refType": st.sampled_from(["CHILD_OF", "FOLLOWS_FROM", "child_of"]) | st.none() | st.integers(0, 2),
        "traceID": clean_ids | st.sampled_from(["a1", "A1"]),
        "spanID": clean_ids,
    },
)
process = st.fixed_dictionaries(
    {}, optional={"serviceName": st.sampled_from(["svc", "Other", ""]) | st.none(), "tags": tags}
)
span_members = {
    "traceID": clean_ids,
    "spanID": clean_ids,
    "operationName": st.sampled_from(["op", "Op2", ""]) | st.none(),
    "references": st.lists(refs, max_size=4) | st.none(),
    "parentSpanID": clean_ids,
    "startTime": micros
    | st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["12", "x", "1e3"]),
    "duration": micros | st.none() | st.sampled_from(["5", " 7 ", "2.5"]),
    "tags": tags,
    "processID": st.sampled_from(["p1", "p2", "p3", "None"]) | st.none(),
    "process": process | st.none(),
    "logs": st.just([]),
}
clean_span = st.fixed_dictionaries({}, optional=span_members)
processes = st.dictionaries(st.sampled_from(["p1", "p2", "None"]), process | st.none(), max_size=3) | st.none()
clean_trace = st.fixed_dictionaries(
    {"spans": st.lists(clean_span, max_size=4)}, optional={"traceID": clean_ids, "processes": processes}
)
clean_doc = (
    st.fixed_dictionaries({"data": st.lists(clean_trace, max_size=3)}, optional={"total": st.integers(0, 3)})
    | clean_trace
    | st.lists(clean_trace, max_size=3)
    | st.lists(clean_span, max_size=4)
)


#: a span whose references the rule picks from: a CHILD_OF in its trace after a FOLLOWS_FROM in it and
#: a CHILD_OF into another trace, and one with only references into other traces
REFERENCES = {
    "traceID": "T",
    "spans": [
        {
            "spanID": "1",
            "references": [
                {"refType": "CHILD_OF", "traceID": "u", "spanID": "A"},
                {"refType": "FOLLOWS_FROM", "spanID": "B"},
                {"refType": "CHILD_OF", "traceID": "t", "spanID": "C"},
            ],
        },
        {
            "spanID": "2",
            "references": [{"refType": "FOLLOWS_FROM", "traceID": "u", "spanID": "D"}, {"traceID": "v", "spanID": "E"}],
            "parentSpanID": "9",
        },
    ],
}


@SETTINGS
@example(doc=REFERENCES, lines=False, part_bytes=jaeger.PART_BYTES)
@given(doc=clean_doc, lines=st.booleans(), part_bytes=st.sampled_from([jaeger.PART_BYTES, 1, 300]))
def test_clean_documents_are_read_by_the_typed_path_as_span_by_span(doc: Any, lines: bool, part_bytes: int) -> None:
    text = json.dumps(doc)
    data = (text + "\n" + text + "\n").encode() if lines else text.encode()  # two documents, one per line
    default, jaeger.PART_BYTES = jaeger.PART_BYTES, part_bytes  # the query API's traces read in parts this size
    try:
        assert jaeger.typed_tables(data, ATTRIBUTES) is not None  # the typed path reads it itself
        assert_same(data)
    finally:
        jaeger.PART_BYTES = default


# ---- odd documents: anything a JSON exporter might write where the structs want something else ------------

odd_scalars = scalars | st.just(float("nan")) | st.just(float("inf")) | st.integers(-(10**30), 10**30)
odd = (
    odd_scalars
    | st.lists(odd_scalars, max_size=2)
    | st.dictionaries(st.sampled_from(["a", "spanID"]), odd_scalars, max_size=2)
)
odd_tags = st.lists(tag(odd) | odd, max_size=3) | odd
odd_refs = st.lists(
    refs | st.fixed_dictionaries({}, optional={"refType": odd, "traceID": odd, "spanID": odd}) | odd, max_size=2
)
odd_span = st.fixed_dictionaries(
    {},
    optional={
        **span_members,
        "traceID": clean_ids | odd,
        "spanID": clean_ids | odd,
        "operationName": odd,
        "references": odd_refs | odd,
        "parentSpanID": clean_ids | odd,
        "startTime": micros | odd,
        "tags": tags | odd_tags,
        "processID": odd,
        "process": process | odd,
    },
)
odd_process = process | odd | st.fixed_dictionaries({}, optional={"serviceName": odd, "tags": odd_tags})
odd_trace = st.fixed_dictionaries(
    {},
    optional={
        "spans": st.lists(odd_span | clean_span, max_size=3) | odd,
        "traceID": clean_ids | odd,
        "processes": processes | st.dictionaries(st.sampled_from(["p1", "p2"]), odd_process, max_size=2) | odd,
    },
)
odd_doc = (
    st.fixed_dictionaries({}, optional={"data": st.lists(odd_trace | clean_trace, max_size=2) | odd})
    | odd_trace
    | st.lists(odd_trace | clean_trace, max_size=2)
    | st.lists(odd_span | clean_span | odd, max_size=3)
    | odd
)


@SETTINGS
@given(docs=st.lists(odd_doc | clean_doc, min_size=1, max_size=3), sep=st.sampled_from(["\n", " ", "\n\n", "\r\n"]))
def test_odd_documents_give_the_frame_or_error_of_the_per_span_reader(docs: list[Any], sep: str) -> None:
    default, jaeger.PART_BYTES = jaeger.PART_BYTES, 40  # (a refused trace in a later part too)
    try:
        assert_same(sep.join(json.dumps(d) for d in docs).encode())
    finally:
        jaeger.PART_BYTES = default


@pytest.mark.parametrize(
    "text",
    [
        '{"traceID": "a", "spans": [{"spanID": "1", "spanID": "2", "startTime": 5}]}',  # a member twice: the last
        '{"traceID": "a", "spans": [{"spanID": "1", "tags": [{"key": "error", "value": true}, '
        '{"key": "error", "value": false}]}], "processes": {}}',  # a tag twice: the last
        '{"traceID": "a", "spans": [{"spanID": "1", "duration": ' + "9" * 5000 + "}]}",  # beyond Python's int
        '{"traceID": "a", "spans": [{"spanID": "1", "tags": [{"key": "x", "value": NaN}]}]}',  # only json reads NaN
        '{"traceID": "a", "spans": [{"spanID": "\\ud800"}]}',  # a lone surrogate: only json reads it
        '\ufeff{"traceID": "a", "spans": [{"spanID": "B"}]}',  # a byte order mark
        '{"traceID": "a", "spans": []} {"traceID": "b", "spans": [{"spanID": "c"}]}',  # two on a line
        '{"traceID": "a", "spans": [{"spanID": "c"}]}\n{"traceID": "b", "spans": [',  # cut short
        "\n \n",  # nothing
        '\x0c{"traceID": "a", "spans": []}',  # not JSON whitespace
        '{"data": null, "spans": [{"spanID": "c"}]}',  # a trace after all
        '[{"spans": [{"spanID": "c"}]}, {"spans": null}]',
    ],
)
def test_edges_of_json_give_the_per_span_result(text: str) -> None:
    assert_same(text.encode())


def test_the_typed_path_takes_the_real_files_and_reads_them_as_span_by_span() -> None:
    files = [*sorted(REAL.glob("jaeger_*.json")), *sorted(DATA.glob("*.jaeger.json"))]
    typed = [f.name for f in files if jaeger.typed_tables(f.read_bytes(), ATTRIBUTES) is not None]
    assert len(typed) == len(files) - 1 and "jaeger_otlp2jaeger-in.otlp.json" not in typed  # (that one is OTLP)
    for f in files:
        assert_same(f.read_bytes())


def test_a_process_tag_fills_the_attribute_a_span_tag_leaves_null() -> None:
    doc = {
        "traceID": "T",
        "spans": [
            {"spanID": "1", "processID": "p1", "tags": [{"key": "sampler.type", "value": None}]},
            {"spanID": "2", "processID": "p1", "tags": [{"key": "sampler.type", "value": "const"}]},
            {
                "spanID": "3",
                "processID": "p2",
                "references": [{"refType": "FOLLOWS_FROM", "traceID": "u", "spanID": "X"}],
            },
        ],
        "processes": {"p1": {"serviceName": "a", "tags": [{"key": "sampler.type", "value": "probabilistic"}]}},
    }
    data = json.dumps(doc).encode()
    assert jaeger.typed_tables(data, ATTRIBUTES) is not None
    df = jaeger.parse(data, PATH, ATTRIBUTES)

    def values(column: str) -> list[Any]:
        return [None if pd.isna(v) else v for v in df[column]]

    assert values("attr:sampler.type") == ["probabilistic", "const", None]
    assert values("service") == ["a", "a", None]
    assert values("parent_id") == [None, None, "x"] and values("parent_trace_id") == [None, None, "u"]
    assert df["foreign_ref"].tolist() == [False, False, True] and df["trace_id"].tolist() == ["t"] * 3
    assert_same(data)


def test_cli_a_lone_surrogate_in_an_id_is_one_line_naming_the_span(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from recipemut.cli import app

    p = tmp_path / "j.json"
    spans = [{"spanID": "a", "operationName": "op1", "startTime": 1, "duration": 2}]
    spans.append({"spanID": "\ud800", "operationName": "op1", "startTime": 1, "duration": 2})
    p.write_text(json.dumps({"traceID": "t", "spans": spans}), encoding="ascii")
    res = CliRunner().invoke(app, ["profile", str(DATA / "hotrod_routes.yaml"), "--logs", str(p)])
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = res.stderr.strip().splitlines()
    assert lines == [
        f"error: {p}: span 2: spanID holds a lone surrogate (a \\ud800-\\udfff escape not in a pair), which is not text"
    ]
