"""The span mapping file: loading with located errors, rules, attribute columns, status and sampling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _telemetry_helpers import EXAMPLE, otlp_doc, otlp_span, recipe, write_json

from recipemut.errors import InputFileError
from recipemut.logs import traces as formats
from recipemut.logs.mapping import MappingError, load_mapping
from recipes import checkout_ops

HEAD = "apiVersion: recipemut/v1\nkind: SpanMapping\n"
R = recipe(checkout_ops("load_cart", "price", "charge"))


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "mapping.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    return p


def test_example_mapping_loads() -> None:
    m = load_mapping(EXAMPLE / "mapping.yaml")
    assert [r.op for r in m.rules] == ["insert_book", "insert_revinfo", "insert_book_aud"]
    assert m.rules[0].line == 10 and m.rules[0].attributes[0].key == "sql.query"
    assert m.defaults and "sql.query" in m.attributes() and "http.status_code" in m.attributes()


@pytest.mark.parametrize(
    ("body", "line", "match"),
    [
        ("operations:\n  - op: x\n    nmae: y\n", 5, "unknown key 'nmae' \\(did you mean 'name'\\?\\)"),  # its own line
        ("operations:\n  - op: x\n    name_regex: '(unclosed'\n", 5, "bad regular expression"),
        ("defaults: true\ndefaults: false\n", 4, "duplicate key 'defaults'"),
        ("sampling: {attribute: a, as: percent}\n", 3, "percent"),
        ("operations: [\n", None, "not valid YAML"),
    ],
)
def test_bad_mapping_files_name_file_and_line(tmp_path, body, line, match) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(MappingError, match=match) as e:
        load_mapping(p)
    assert e.value.file == str(p)
    if line is not None:
        assert e.value.line == line


def test_missing_mapping_file_and_unknown_operation(tmp_path) -> None:
    with pytest.raises(InputFileError, match="no such mapping file"):
        load_mapping(tmp_path / "nope.yaml")
    p = _write(tmp_path, "operations:\n  - op: load_kart\n    name: GetCart\n")
    doc = write_json(tmp_path / "t.json", otlp_doc({"cart": [otlp_span("a" * 32, "1", "GetCart", 10**18, 10**6)]}))
    with pytest.raises(MappingError, match="'load_kart' names no operation of recipe 'demo'") as e:
        formats.read(doc, recipe=R, mapping=p)
    assert e.value.line == 4


def _spans(tmp_path: Path) -> Path:
    t = "b" * 32
    spans = {
        "gateway": [
            otlp_span(t, "01", "POST /cart/{id}", 10**18, 9 * 10**6, kind=2),
            otlp_span(
                t,
                "02",
                "grpc.Pricing/Quote",
                10**18 + 10**6,
                4 * 10**6,
                parent="01",
                kind=3,
                attrs={
                    "peer.service": "pricing",
                    "app.key": "k-42",
                    "net.bytes_in": 1200,
                    "net.bytes_out": 80,
                    "app.cost": 0.0002,
                    "app.sampled_one_in": 20,
                },
            ),
            otlp_span(
                t,
                "03",
                "charge-v2",
                10**18 + 5 * 10**6,
                3 * 10**6,
                parent="01",
                kind=3,
                attrs={"http.status_code": 503},
            ),
            otlp_span(t, "04", "GetCart", 10**18 + 10**5, 10**6, parent="01", kind=1, attrs={"app.halt": True}),
        ]
    }
    return write_json(tmp_path / "t.json", otlp_doc(spans))


def test_rules_attributes_status_and_sampling(tmp_path) -> None:
    m = _write(
        tmp_path,
        """
operations:
  - op: price
    name_glob: "grpc.Pricing/*"
    service: pricing          # the client span's peer
  - op: charge
    name_regex: "^charge"
    kind: client
  - op: load_cart
    name: GetCart
    attributes:
      app.halt: true
attributes:
  cache_key: app.key
  bytes_in: net.bytes_in
  bytes_out: net.bytes_out
  cost_usd: app.cost
sampling: {attribute: app.sampled_one_in, as: one_in_n}
status:
  error: [{attribute: http.status_code, min: 500}]
  halted: [{attribute: app.halt, equals: true}]
""",
    )
    df, counts, notes = formats.read(_spans(tmp_path), recipe=R, mapping=m)
    rows = df.set_index("op")
    assert sorted(rows.index) == ["charge", "load_cart", "price"]
    assert rows.loc["price", "service"] == "pricing"
    assert rows.loc["price", "cache_key"] == "k-42"
    assert rows.loc["price", "bytes_in"] == 1200 and rows.loc["price", "bytes_out"] == 80
    assert rows.loc["price", "cost_usd"] == pytest.approx(0.0002)
    assert rows.loc["charge", "status"] == "error"
    assert rows.loc["load_cart", "status"] == "halted"
    assert rows.loc["price", "status"] == "ok"
    assert df["sample_rate"].tolist() == pytest.approx([0.05] * 3)  # the trace's rate, 1 in 20
    assert counts["unmapped_spans"] == 1 and "'POST /cart/{id}' (gateway) x1" in notes[-1]


def test_first_rule_wins_and_defaults_can_be_switched_off(tmp_path) -> None:
    m = _write(
        tmp_path,
        """
defaults: false
operations:
  - op: charge
    name_glob: "*"
    attributes:
      http.status_code: {in: [503, 504]}
  - op: price
    attributes:
      app.key: {exists: true}
""",
    )
    df, counts, _ = formats.read(_spans(tmp_path), recipe=R, mapping=m)
    assert sorted(df["op"]) == ["charge", "price"]
    # GetCart would match load_cart by default, but defaults are off
    assert counts["unmapped_spans"] == 2


def test_mapping_as_json_file(tmp_path) -> None:
    p = tmp_path / "m.json"
    body = {
        "apiVersion": "recipemut/v1",
        "kind": "SpanMapping",
        "operations": [{"op": "price", "name_regex": "Quote$"}],
    }
    p.write_text(json.dumps(body), encoding="utf-8")
    df, _, _ = formats.read(_spans(tmp_path), recipe=R, mapping=p)
    # defaults still apply, but GetCart runs in "gateway" here, not in load_cart's service "cart"
    assert df["op"].tolist() == ["price"]


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "operation:\n  - op: x\n",
            3,
            "(top level): unknown key 'operation' (did you mean 'operations'?); the keys allowed here: apiVersion, "
            "kind, description, defaults, operations, attributes, sampling, status, merge",
        ),
        (
            "operations:\n  - op: x\n    attributes:\n      sql.query: {regexp: '^insert'}\n",
            6,
            "operations/0/attributes/sql.query: unknown key 'regexp' (did you mean 'regex'?); an attribute test is a "
            "plain value (equals) or a mapping of equals, in, regex, glob, min, max, exists",
        ),
        (
            "operations:\n  - op: x\n    attributes:\n      sql.query: {regex: 5}\n",
            6,
            "operations/0/attributes/sql.query/regex: expected a string, got an integer",
        ),
        (
            "operations:\n  - op: x\n    attributes:\n      sql.query: {}\n",
            6,
            "operations/0/attributes/sql.query: no condition given: write one of equals, in, regex, glob, min, max, "
            "exists",
        ),
        (
            "status:\n  error:\n    - attribute: code\n      minimum: 500\n",
            6,
            "status/error/0: unknown key 'minimum' (did you mean 'min'?); the keys allowed here: attribute, equals, "
            "in, regex, glob, min, max, exists",
        ),
    ],
)
def test_a_schema_error_names_the_key_at_its_line_the_close_key_and_the_keys_allowed(
    tmp_path, body, line, message
) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(MappingError) as e:
        load_mapping(p)
    assert (e.value.message, e.value.line) == (message, line)
