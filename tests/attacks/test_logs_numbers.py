"""Numbers in logs that are not plausible: too long for Python, not finite, absurdly large, in seconds.

An integer of more than 4,300 digits in a trace was a ``ValueError`` traceback (Python's int-string
limit); ``cost_usd: 1e308`` was kept and made ``suggest`` fail later ("no finite values to
compare"); ``sample_rate: NaN`` was read as 1; a log with start_ms in seconds was profiled in 1970
with 0 rejected lines. Each is now a rejected line naming the key (or, for a whole file in seconds,
one error that says so).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from _profile_helpers import REQUESTS, line, span, write_recipe
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.checks import MAX_LATENCY_MS, MAX_VALUES
from recipemut.logs.ingest import read_logs

ROOT = Path(__file__).resolve().parents[2]
ZIPKIN = ROOT / "recipes" / "zipkin_simple_db"
OTLP = ROOT / "tests" / "realdata" / "otlp_proto_examples_trace.json"
JAEGER = ROOT / "tests" / "realdata" / "jaeger_anonymizer_trace_success.json"
BIG = "9" * 5000
runner = CliRunner()


def _write(tmp_path: Path, extra: list[str]) -> Path:
    p = tmp_path / "logs.jsonl"
    p.write_text("".join(line(s) + "\n" for s in REQUESTS) + "".join(x + "\n" for x in extra))
    return p


def test_an_integer_of_5000_digits_in_a_bad_native_line_is_classified(tmp_path: Path) -> None:
    p = _write(tmp_path, ['{"x": ' + BIG + ', "op": "a"'])
    df, rep = read_logs(p)
    assert len(df) == len(REQUESTS) and rep.rejected == {"malformed-json": 1}


@pytest.mark.parametrize("key", ["cost_usd", "latency_ms", "start_ms"])
def test_an_integer_of_5000_digits_in_a_native_span_is_refused(tmp_path: Path, key: str) -> None:
    bad = line(span("z", "load", 1000, 5, cost_usd=1)).replace(f'"{key}":', f'"{key}":{BIG},"was":', 1)
    df, rep = read_logs(_write(tmp_path, [bad]))
    assert len(df) == len(REQUESTS) and rep.rejected_total == 1
    assert rep.examples[0].message.startswith(f"{key} is inf")


@pytest.mark.parametrize("key", ["timestamp", "duration"])
def test_an_integer_of_5000_digits_in_a_zipkin_trace_is_refused(tmp_path: Path, key: str) -> None:
    spans = json.loads((ZIPKIN / "trace.json").read_text())
    spans[0][key] = "BIG"
    trace = tmp_path / "trace.json"
    trace.write_text(json.dumps(spans).replace('"BIG"', BIG))
    args = ["profile", str(ZIPKIN / "recipe.yaml"), "--logs", str(trace), "--map", str(ZIPKIN / "mapping.yaml")]
    res = runner.invoke(app, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 0, res.stderr
    assert "1 span without id, start or duration (or with one negative or out of range) dropped" in res.stderr


@pytest.mark.parametrize("path", [OTLP, JAEGER], ids=["otlp", "jaeger"])
def test_an_integer_of_5000_digits_in_a_trace_attribute_is_no_traceback(tmp_path: Path, path: Path) -> None:
    text = path.read_text()
    trace = tmp_path / path.name
    # a number where a string or number goes: an attribute value / a tag value
    if path == OTLP:
        doc = json.loads(text)
        attrs = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0].setdefault("attributes", [])
        attrs.append({"key": "recipe.version", "value": {"intValue": "BIG"}})
    else:
        doc = json.loads(text)
        doc[0]["tags"].append({"key": "recipe.version", "type": "int64", "value": "BIG"})
    trace.write_text(json.dumps(doc).replace('"BIG"', BIG))
    res = runner.invoke(app, ["profile", str(write_recipe(tmp_path / "r.yaml")), "--logs", str(trace)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.stderr and "4300" not in res.stderr


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cost_usd", "1e308"),
        ("cost_usd", str(MAX_VALUES["cost_usd"] * 10)),
        ("cpu_ms", "1e300"),
        ("mem_mb", "1e200"),
        ("bytes_in", "1e20"),
        ("bytes_out", "1e300"),
        ("cost_usd", "NaN"),
        ("bytes_in", "Infinity"),
    ],
)
def test_an_implausible_or_non_finite_value_is_a_rejected_line_naming_its_key(
    tmp_path: Path, key: str, value: str
) -> None:
    bad = line(span("z", "load", 1000, 5, **{key: 1})).replace(f'"{key}":1', f'"{key}":{value}')
    df, rep = read_logs(_write(tmp_path, [bad]))
    assert len(df) == len(REQUESTS)
    assert rep.rejected == {"bad-value": 1}
    assert rep.examples[0].message.startswith(f"{key} is "), rep.examples[0]


def test_cost_1e308_no_longer_breaks_suggest(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path / "recipe.yaml")
    bad = line(span("z", "load", 1000, 5)).replace('"status"', '"cost_usd":1e308,"status"')
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(_write(tmp_path, [bad]))])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "no finite values" not in res.output + res.stderr
    assert "cost_usd is 1e+308" in res.stderr


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "0", "1.5"])
def test_a_sample_rate_that_is_not_a_number_in_0_1_is_a_rejected_line(tmp_path: Path, value: str) -> None:
    bad = line(span("z", "load", 1000, 5, sample_rate=0.5)).replace('"sample_rate":0.5', f'"sample_rate":{value}')
    df, rep = read_logs(_write(tmp_path, [bad]))
    assert rep.rejected == {"bad-sample-rate": 1}
    assert not df["sample_rate"].isna().any() and set(df["sample_rate"]) == {1.0, 0.5}


def test_a_latency_over_30_days_is_a_rejected_line(tmp_path: Path) -> None:
    df, rep = read_logs(_write(tmp_path, [line(span("z", "load", 1000, MAX_LATENCY_MS * 1.5))]))
    assert rep.rejected == {"bad-latency": 1} and "(over 30 days)" in rep.examples[0].message
    assert math.isfinite(df["latency_ms"].sum())


def test_a_line_with_start_ms_in_seconds_is_rejected_and_says_so(tmp_path: Path) -> None:
    now_ms = 1_763_942_652_129.0
    good = [line(span(f"r{i}", "load", now_ms + i, 5)) for i in range(3)]
    p = tmp_path / "logs.jsonl"
    p.write_text("\n".join([*good, line(span("s", "load", now_ms / 1000, 5))]) + "\n")
    df, rep = read_logs(p)
    assert len(df) == 3 and rep.rejected == {"bad-start": 1}
    assert rep.examples[0].message == (
        "start_ms is 1763942652.129: seconds, not epoch milliseconds (1970-01-21T09:59:02.652Z as "
        "milliseconds, 2025-11-24T00:04:12.129Z as seconds; write start_ms = seconds * 1000)"
    )


def test_a_log_in_seconds_is_one_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "logs.jsonl"
    p.write_text("".join(line(span(f"r{i}", "load", 1_763_942_652.0 + i, 5)) + "\n" for i in range(5)))
    with pytest.raises(LogError) as e:
        read_logs(p)
    assert "not a span log" in str(e.value) and "seconds, not epoch milliseconds" in str(e.value)
