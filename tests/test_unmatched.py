"""A span mapping rule that takes no span is a warning naming it (file:line, operation) and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _telemetry_helpers import EXAMPLE, otlp_doc, otlp_span, recipe, skew_recipe, write_json
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.ingest import read_logs
from recipemut.logs.unmatched import Unmatched, no_span_operations
from recipemut.usecases.inputs import with_mismatches
from recipes import checkout_ops

HEAD = "apiVersion: recipemut/v1\nkind: SpanMapping\n"
R = recipe(checkout_ops("load_cart", "price", "charge"))
SHIPPED = (EXAMPLE / "mapping.yaml").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPEMUT_STORE", "off")


def _profile(mapping: Path, *extra: str) -> tuple[str, str]:
    args = ["profile", str(EXAMPLE / "recipe.yaml"), "--logs", str(EXAMPLE / "trace.json"), "--map", str(mapping)]
    res = CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    return res.stdout, " ".join(res.stderr.split())


def _shipped(tmp_path: Path, old: str, new: str) -> Path:
    assert old in SHIPPED
    p = tmp_path / "m.yaml"
    p.write_text(SHIPPED.replace(old, new), encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("service: app_db", "service: app-db", "(no span's service matches 'app-db'; did you mean 'app_db'?)"),
        ("name: insert", "name: Insert", "(no span is named 'Insert'; did you mean 'insert'?)"),
    ],
)
def test_a_mistyped_rule_is_named_with_its_line_operation_and_the_close_value(tmp_path, old, new, why) -> None:
    m = _shipped(tmp_path, old, new)
    _, err = _profile(m)
    for line, op in ((10, "insert_book"), (15, "insert_revinfo"), (20, "insert_book_aud")):
        assert f"warning: {m}:{line}: mapping rule for '{op}' matched no span of the traces {why}" in err, err
    # the spans the rules missed are ambiguous: the note says the rules exist, not "add a mapping rule"
    assert "the mapping's rules for insert_book, insert_revinfo, insert_book_aud took none of them" in err
    assert "add a mapping rule" not in err
    assert err.count("warning:") == 3, err  # one typo, one warning per rule: not the operations' too


def test_an_operation_is_left_unsaid_only_when_its_every_rule_took_no_span(tmp_path) -> None:
    """A rule's ``says_op`` marks an operation none of whose rules took a span: its own warning is left out."""
    m = _mapping(tmp_path, "operations:\n  - op: load_cart\n    name: GetCart\n  - op: load_cart\n    name: Cart\n")
    _, report = read_logs([_trace(tmp_path, "t.json", "GetCart")], recipe=R, mapping=m)
    assert [(u.line, u.says_op) for u in report.unmatched] == [(6, False)]  # the rule at line 4 took the span
    m = _mapping(tmp_path, "operations:\n  - op: load_cart\n    name: GetCart\n  - op: price\n    name: Cart\n")
    _, report = read_logs([_trace(tmp_path, "t.json", "GetCart")], recipe=R, mapping=m)
    assert [(u.line, u.says_op) for u in report.unmatched] == [(6, True)]  # price's one rule
    seen = {"price", "charge"}
    missed = (Unmatched("rule", "load_cart", "...", str(m), 4, says_op=True),)
    assert no_span_operations(R, seen, unknown={}, unmapped={}, rules=missed) == ()
    other = (Unmatched("rule", "load_cart", "...", str(m), 6, says_op=False),)  # another rule took its spans
    assert [u.op for u in no_span_operations(R, seen, unknown={}, unmapped={}, rules=other)] == ["load_cart"]


def test_a_regex_written_as_a_plain_value_is_said_to_be_compared_whole(tmp_path) -> None:
    m = _shipped(tmp_path, r"sql.query: {regex: '^insert into api_book \('}", r"sql.query: '^insert into api_book \('")
    out, err = _profile(m, "--format", "json")
    assert (
        f"warning: {m}:10: mapping rule for 'insert_book' matched no span of the traces (no span's attribute "
        r"'sql.query' equals '^insert into api_book \(': a plain value is compared whole (equals); a pattern is "
        r"written sql.query: {regex: '^insert into api_book \('})" in err
    ), err
    assert f"{m}:15" not in err  # the other rules took their spans
    unmatched = json.loads(out)["ingest"]["unmatched"]
    # the operation whose only rule missed its spans is not said again: the rule's warning is the cause
    assert [(u["kind"], u["op"], u["file"], u["line"]) for u in unmatched] == [("rule", "insert_book", str(m), 10)]
    assert "has no span" not in err, err


def test_the_shipped_mapping_draws_no_warning(tmp_path) -> None:
    out, err = _profile(EXAMPLE / "mapping.yaml", "--format", "json")
    assert "warning" not in err and json.loads(out)["ingest"]["unmatched"] == []


def _trace(tmp_path: Path, name: str, span_name: str) -> Path:
    spans = {"cart": [otlp_span("a" * 32, "1", span_name, 10**18, 10**6, attrs={"db.table": "carts"})]}
    return write_json(tmp_path / name, otlp_doc(spans))


def _mapping(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "mapping.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    return p


def test_a_rule_is_judged_on_every_file_together(tmp_path) -> None:
    m = _mapping(tmp_path, "operations:\n  - op: load_cart\n    name: LoadCart\n")
    one, two = _trace(tmp_path, "1.json", "GetCart"), _trace(tmp_path, "2.json", "LoadCart")
    _, report = read_logs([one, two], recipe=R, mapping=m)
    assert report.unmatched == ()  # the rule took file 2's span
    _, report = read_logs([one], recipe=R, mapping=m)
    assert [str(u) for u in report.unmatched] == [
        f"{m}:4: mapping rule for 'load_cart' matched no span of the traces (no span is named 'LoadCart')"
    ]


def test_a_rule_whose_spans_an_earlier_rule_took_and_one_whose_conditions_never_meet(tmp_path) -> None:
    m = _mapping(
        tmp_path,
        "operations:\n"
        "  - op: load_cart\n    name_glob: '*Cart'\n"
        "  - op: price\n    name: GetCart\n"
        "  - op: charge\n    name: GetCart\n    attributes:\n      db.table: orders\n      app.key: {exists: true}\n"
        "  - op: charge\n    kind: producer\n",
    )
    _, report = read_logs([_trace(tmp_path, "t.json", "GetCart")], recipe=R, mapping=m)
    assert [str(u) for u in report.unmatched] == [
        f"{m}:6: mapping rule for 'price' took no span: the 1 span it matches was taken by an earlier rule "
        "(the first rule that matches a span wins)",
        f"{m}:8: mapping rule for 'charge' matched no span of the traces (no span's attribute 'db.table' equals "
        "'orders'; no span has the attribute 'app.key')",
        f"{m}:13: mapping rule for 'charge' matched no span of the traces (no span is of kind producer; their kinds: "
        "server)",
    ]


# ---- an operation of the recipe with no span --------------------------------------------------------

SKEW = Path(__file__).parent / "realdata" / "zipkin_lens_skew.json"
SKEW_RECIPE = skew_recipe("asynch")


def test_an_operation_without_spans_is_named_with_the_close_span_name(tmp_path) -> None:
    r = tmp_path / "skew.yaml"
    r.write_text(SKEW_RECIPE, encoding="utf-8")
    res = CliRunner().invoke(app, ["profile", str(r), "--logs", str(SKEW), "-f", "json"], env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    said = f"warning: {r}:14: operation 'asynch' (serviceb) has no span in the logs; did you mean 'async' (serviceb)?"
    assert said in " ".join(res.stderr.split()), res.stderr
    unmatched = json.loads(res.stdout)["ingest"]["unmatched"]
    assert [(u["kind"], u["op"], u["line"]) for u in unmatched] == [("operation", "asynch", 14)]


def test_an_operation_renamed_in_the_recipe_is_matched_to_the_native_log_operation(tmp_path) -> None:
    log = tmp_path / "l.jsonl"
    rows = [{"request_id": f"r{i}", "op": op, "start_ms": 1.7e12 + i, "latency_ms": 3.0, "status": "ok"}
            for i in range(3) for op in ("load_cart", "price_items")]
    log.write_text("".join(json.dumps(x) + "\n" for x in rows), encoding="utf-8")
    ops = checkout_ops("load_cart", "price")
    spans, report = read_logs([log], recipe=recipe(ops))
    said = [str(u) for u in with_mismatches(report, spans, recipe(ops)).unmatched]
    assert said == [f"operation 'price' ({ops[1]['service']}) has no span in the logs; did you mean 'price_items'?"]
