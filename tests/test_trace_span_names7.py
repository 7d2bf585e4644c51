"""A rejected span of a trace file (OTLP, Jaeger, Zipkin, a run history) is named by its position in
the file, ``zipkin.json: span #3``, never as ``zipkin.json:3`` (a line that holds something else);
in ``--format json`` its ``line`` is null and ``span`` gives the position. Native logs keep
``file:line`` and their examples' keys as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _telemetry_helpers import EXAMPLE, otlp_doc, otlp_span, recipe, write_json
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.ingest import read_logs
from recipemut.logs.report import Rejection, Rejects
from recipemut.recipe.loader import load_recipe

TRACES = Path(__file__).parent / "data" / "traces"
LONG_NS = 10**14  # a duration (Zipkin/Jaeger: microseconds) over 30 days: bad-latency
runner = CliRunner()


def _zipkin(tmp_path: Path, bad: tuple[int, ...] = (2,)) -> Path:
    """The shipped Zipkin example, pretty-printed, with the spans at ``bad`` (0-based) lasting too long."""
    doc = json.loads((EXAMPLE / "trace.json").read_text(encoding="utf-8"))
    for i in bad:
        doc[i]["duration"] = LONG_NS
    return write_json(tmp_path / "zipkin.json", doc)


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line)


def _profile(*args: str) -> object:
    return runner.invoke(app, ["profile", *args, "-q"], env={"COLUMNS": "200"})


# --- the report's words -------------------------------------------------------------------------


def test_a_span_rejection_is_named_by_its_position_not_as_a_line() -> None:
    r = Rejection("zipkin.json", 3, "bad-latency", "latency_ms is 1e11 (over 30 days)", unit="span")
    assert str(r) == "zipkin.json: span #3: latency_ms is 1e11 (over 30 days) [bad-latency]"
    assert r.to_dict() == {
        "file": "zipkin.json", "line": None, "span": 3, "reason": "bad-latency",
        "message": "latency_ms is 1e11 (over 30 days)",
    }  # fmt: skip


def test_a_line_rejection_keeps_its_words_and_keys() -> None:
    r = Rejection("a.jsonl", 7, "bad-latency", "latency_ms is -3.0")
    assert str(r) == "a.jsonl:7: latency_ms is -3.0 [bad-latency]"
    assert r.to_dict() == {"file": "a.jsonl", "line": 7, "reason": "bad-latency", "message": "latency_ms is -3.0"}


def test_the_strict_refusal_names_the_span_or_the_line() -> None:
    span = Rejection("z.json", 3, "bad-latency", "latency_ms is 1e11", unit="span").strict_error()
    assert isinstance(span, LogError)
    assert (span.file, span.line, span.code) == ("z.json", None, "bad-latency")
    assert str(span) == "z.json: span #3: latency_ms is 1e11 [bad-latency] (--strict)"
    line = Rejection("a.jsonl", 7, "bad-latency", "latency_ms is -3.0").strict_error()
    assert (line.file, line.line) == ("a.jsonl", 7)
    assert str(line) == "a.jsonl:7: latency_ms is -3.0 [bad-latency] (--strict)"


def test_a_tally_of_spans_gives_span_rejections_in_file_order() -> None:
    rej = Rejects("t.json", unit="span")
    for n in (9, 4, 12):
        rej.add(n, "bad-latency", f"latency of span {n}")
    assert [str(e) for e in rej.examples["bad-latency"]] == [
        "t.json: span #4: latency of span 4 [bad-latency]",
        "t.json: span #9: latency of span 9 [bad-latency]",
        "t.json: span #12: latency of span 12 [bad-latency]",
    ]
    assert rej.first is not None and rej.first.unit == "span" and rej.first.line == 4


def test_an_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unit"):
        Rejects("t.json", unit="row")


# --- read_logs: every trace format, and native logs unchanged ------------------------------------


def test_read_logs_names_a_zipkin_span_by_position(tmp_path: Path) -> None:
    z = _zipkin(tmp_path)
    assert _line_of(z, str(LONG_NS)) != 3  # the bug's wrong line would point elsewhere
    _, rep = read_logs([z], recipe=load_recipe(EXAMPLE / "recipe.yaml"), mapping=EXAMPLE / "mapping.yaml")
    (ex,) = rep.examples
    assert ex.to_dict()["span"] == 3 and ex.to_dict()["line"] is None
    assert str(ex).startswith(f"{z}: span #3: latency_ms is ")


def test_read_logs_names_a_jaeger_span_by_position(tmp_path: Path) -> None:
    doc = json.loads((TRACES / "hotrod_n_plus_one.jaeger.json").read_text(encoding="utf-8"))
    (doc["data"][0] if "data" in doc else doc)["spans"][3]["duration"] = LONG_NS
    j = write_json(tmp_path / "jaeger.json", doc)
    _, rep = read_logs(
        [j], recipe=load_recipe(TRACES / "hotrod_drivers.yaml"), mapping=TRACES / "hotrod_drivers.mapping.yaml"
    )
    (ex,) = rep.examples
    assert (ex.unit, ex.line, ex.reason) == ("span", 4, "bad-latency")
    assert str(ex).startswith(f"{j}: span #4: ")


def _otlp(tmp_path: Path, *, lines: bool) -> tuple[Path, object]:
    t0 = 1_700_000_000_000_000_000
    spans = [
        otlp_span("a" * 32, "1" * 16, "load", t0, 5_000_000),
        otlp_span("a" * 32, "2" * 16, "save", t0, LONG_NS * 1000),  # ns: over 30 days
    ]
    ops = recipe([{"id": "load", "service": "svc"}, {"id": "save", "service": "svc"}])
    doc = otlp_doc({"svc": spans})
    path = tmp_path / "onezero.json"
    return (write_json(path, [doc], lines=True) if lines else write_json(path, doc)), ops


@pytest.mark.parametrize("lines", [True, False], ids=["one-line", "pretty"])
def test_read_logs_names_an_otlp_span_by_position(tmp_path: Path, lines: bool) -> None:
    path, ops = _otlp(tmp_path, lines=lines)
    _, rep = read_logs([path], recipe=ops)
    (ex,) = rep.examples
    assert (ex.unit, ex.line, ex.reason) == ("span", 2, "bad-latency")
    assert str(ex).startswith(f"{path}: span #2: latency_ms is ")


def test_every_span_rejected_names_spans_not_lines(tmp_path: Path) -> None:
    z = _zipkin(tmp_path, bad=(0, 1, 2, 4))  # the four spans of operations (span #4 maps to none)
    with pytest.raises(LogError) as e:
        read_logs([z], recipe=load_recipe(EXAMPLE / "recipe.yaml"), mapping=EXAMPLE / "mapping.yaml")
    assert e.value.line is None
    assert str(e.value).startswith(
        f"{z}: not a span log: all 4 spans of the recipe's operations are rejected (of 5 read); "
        "first problem at span #1: latency_ms is"
    )
    assert "line" not in str(e.value)
    path, ops = _otlp(tmp_path, lines=True)
    only = write_json(tmp_path / "only.json", [json.loads(path.read_text())], lines=True)
    doc = json.loads(only.read_text())
    del doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]  # only the long span is left
    write_json(only, [doc], lines=True)
    with pytest.raises(
        LogError, match=r"only.json: not a span log: its one span is rejected; first problem at span #1: "
    ):
        read_logs([only], recipe=ops)


def test_a_native_log_keeps_its_line_numbers(tmp_path: Path) -> None:
    good = {"request_id": "r1", "op": "load", "start_ms": 1763942652129, "latency_ms": 4.0, "status": "ok"}
    log = tmp_path / "a.jsonl"
    log.write_text("\n".join(json.dumps(d) for d in (good, {**good, "request_id": "r2", "latency_ms": -4.0})) + "\n")
    _, rep = read_logs([log], recipe=None)
    (ex,) = rep.examples
    assert ex.unit == "line" and str(ex) == f"{log}:2: latency_ms is -4.0 [bad-latency]"
    assert set(ex.to_dict()) == {"file", "line", "reason", "message"}


# --- the CLI: the warning, --strict and --format json ---------------------------------------------


def test_profile_warns_strict_refuses_and_json_gives_the_span(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _zipkin(tmp_path)
    base = [str(EXAMPLE / "recipe.yaml"), "--logs", "zipkin.json", "--map", str(EXAMPLE / "mapping.yaml")]
    warned = _profile(*base)
    assert warned.exit_code == 0, warned.output
    assert "warning: rejected zipkin.json: span #3: latency_ms is 100000000000.0 (over 30 days) [bad-latency]" in (
        warned.stderr
    )
    assert "zipkin.json:3" not in warned.stderr
    strict = _profile(*base, "--strict")
    assert strict.exit_code == 1
    assert strict.stderr.strip().splitlines()[-1] == (
        "error: zipkin.json: span #3: latency_ms is 100000000000.0 (over 30 days) [bad-latency] (--strict)"
    )
    as_json = _profile(*base, "-f", "json")
    assert as_json.exit_code == 0, as_json.output
    (ex,) = json.loads(as_json.stdout)["ingest"]["examples"]
    assert ex == {
        "file": "zipkin.json", "line": None, "span": 3, "reason": "bad-latency",
        "message": "latency_ms is 100000000000.0 (over 30 days)",
    }  # fmt: skip


def test_profile_of_a_sampled_trace_file_names_the_span(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    _zipkin(tmp_path)
    got = _profile(
        str(EXAMPLE / "recipe.yaml"), "--logs", "zipkin.json", "--map", str(EXAMPLE / "mapping.yaml"),
        "--sample-requests", "1",
    )  # fmt: skip
    assert got.exit_code == 0, got.output
    assert "rejected zipkin.json: span #3: latency_ms" in got.stderr


def test_a_run_history_names_its_step_by_position(tmp_path: Path) -> None:
    gha = Path(__file__).parent.parent / "recipes" / "gha-flask-publish"
    rows = (gha / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    doc = json.loads(rows[1])
    doc["jobs"][1]["completed_at"] = "2027-02-01T00:00:00Z"  # months after it started: over 30 days
    runs = tmp_path / "runs.jsonl"
    runs.write_text("\n".join([rows[0], json.dumps(doc), *rows[2:]]) + "\n", encoding="utf-8")
    _, rep = read_logs([runs], recipe=load_recipe(gha / "workflow.yml"))
    (ex,) = rep.examples
    assert (ex.unit, ex.line, ex.reason) == ("span", len(json.loads(rows[0])["jobs"]) + 2, "bad-latency")
    assert str(ex).startswith(f"{runs}: span #{ex.line}: latency_ms is ")


def test_span_positions_run_on_across_the_documents_of_an_otlp_file(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000_000_000
    first = otlp_doc({"svc": [otlp_span("a" * 32, f"{i:016x}", "load", t0, 5_000_000) for i in (1, 2)]})
    second = otlp_doc(
        {"svc": [otlp_span("b" * 32, "3" * 16, "load", t0, 5_000_000), otlp_span("b" * 32, "4" * 16, "save", t0, -1)]}
    )
    second["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["endTimeUnixNano"] = str(t0 + LONG_NS * 1000)
    path = write_json(tmp_path / "export.jsonl", [first, second], lines=True)
    _, rep = read_logs([path], recipe=recipe([{"id": "load", "service": "svc"}, {"id": "save", "service": "svc"}]))
    (ex,) = rep.examples
    assert str(ex).startswith(f"{path}: span #4: latency_ms is ")  # the 2nd span of line 2
