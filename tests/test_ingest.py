"""Log ingest: the span table, rejected lines with their line numbers, exclusions, formats dispatch."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _profile_helpers import REQUESTS, diamond, line, span, write_lines, write_spans
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipemut.errors import InputFileError, LogError, RecipemutError
from recipemut.files import compressed
from recipemut.logs import detect as detect_module
from recipemut.logs import lines as line_scan
from recipemut.logs import native, traces
from recipemut.logs.checks import classify_line
from recipemut.logs.detect import UTF8_BOM, detect_format
from recipemut.logs.ingest import read_logs
from recipemut.logs.spans import SPAN_SCHEMA

GOOD = line(span("r9", "load", 9000, 1))
GOOD2 = line(span("r8", "load", 8000, 1))


def test_happy_path_columns_dtypes_and_values(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = write_spans(tmp_path / "a.jsonl", REQUESTS)
    with caplog.at_level(logging.INFO, logger="recipemut.logs"):
        df, rep = read_logs(p)
    assert "re-reading in blocks" not in caplog.text  # the one-pass columnar path was enough
    assert list(df.columns) == SPAN_SCHEMA.names
    assert df["start_ms"].dtype == np.float64 and df["latency_ms"].dtype == np.float64
    assert df["recipe_version"].dtype == "Int64" and df["source_line"].dtype == "Int64"
    assert pd.api.types.is_string_dtype(df["request_id"]) and pd.api.types.is_string_dtype(df["op"])
    assert len(df) == len(REQUESTS) == rep.spans_kept == rep.lines_read
    assert df["request_id"].tolist() == [s["request_id"] for s in REQUESTS]
    assert df["latency_ms"].tolist() == [float(s["latency_ms"]) for s in REQUESTS]
    assert df["source_line"].tolist() == list(range(1, len(REQUESTS) + 1))
    assert set(df["source_file"]) == {str(p)}
    assert set(df["variant"]) == {"control"}
    assert df["sample_rate"].tolist() == [s.get("sample_rate", 1.0) for s in REQUESTS]
    assert df["cost_usd"].isna().sum() == sum("cost_usd" not in s for s in REQUESTS)
    assert rep.requests == 5 and rep.rejected_total == 0 and rep.duplicates == 0
    assert rep.time_range_ms == (1000.0, 5065.0)
    assert rep.variants == {"control": 5}
    assert rep.sample_rates == {1.0: 12, 0.5: 4}
    json.dumps(rep.to_dict())  # JSON-ready


def test_line_numbers_survive_blank_lines_crlf_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        line(span("r1", "load", 1, 1)),  # 1
        "",  # 2 blank
        "   ",  # 3 whitespace only
        "not json at all",  # 4
        line(span("r1", "left", 2, 1)),  # 5
        "",  # 6
        line(span("r2", "load", 3, -5)),  # 7 negative latency
        '{"request_id": "r2", "op": "left", "start_ms": 4, "latency_ms": "slow", "status": "ok"}',  # 8
        line(span("r2", "right", 5, 1)),  # 9
    ]
    p = write_lines(tmp_path / "a.jsonl", lines, newline="\r\n")
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == [1, 5, 9]
    assert [(e.line, e.reason) for e in rep.examples] == [(4, "malformed-json"), (7, "bad-latency"), (8, "wrong-type")]
    assert rep.rejected == {"malformed-json": 1, "bad-latency": 1, "wrong-type": 1}
    assert rep.blank_lines == 3 and rep.lines_read == 6
    assert "latency_ms: expected number, got string" in rep.examples[2].message
    assert str(rep.examples[0]).startswith(f"{p}:4: ")


@pytest.mark.parametrize(
    ("text", "reason", "needle"),
    [
        ('{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1', "malformed-json", "not valid JSON"),
        ("[1, 2, 3]", "not-an-object", "array"),
        ('{"request_id": 7, "op": "load", "start_ms": 1, "latency_ms": 1, "status": "ok"}', "wrong-type", "request_id"),
        ('{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1}', "missing-key", "status"),
        (
            '{"request_id": "", "op": "load", "start_ms": 1, "latency_ms": 1, "status": "ok"}',
            "missing-key",
            "request_id",
        ),
        ('{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": -1, "status": "ok"}', "bad-latency", "-1.0"),
        ('{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1e999, "status": "ok"}', "bad-latency", "inf"),
        ('{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": NaN, "status": "ok"}', "bad-latency", "nan"),
        (
            '{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1, "status": "done"}',
            "unknown-status",
            "done",
        ),
        (
            '{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1, "status": "ok", "sample_rate": 2}',
            "bad-sample-rate",
            "2.0",
        ),
        (
            '{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1, "status": "ok", "bytes_in": -4}',
            "bad-value",
            "bytes_in",
        ),
        (
            '{"request_id": "r", "op": "load", "start_ms": 1, "latency_ms": 1, "status": "ok", "recipe_version": 1.5}',
            "wrong-type",
            "recipe_version",
        ),
        ('{"request_id": "r", "request_id": "s", "op": "load"}', "malformed-json", "duplicate key"),
        (GOOD + GOOD, "malformed-json", "more than one JSON value"),
    ],
)
def test_each_kind_of_bad_line_is_named(tmp_path: Path, text: str, reason: str, needle: str) -> None:
    p = write_lines(tmp_path / "a.jsonl", [GOOD, text, GOOD2])
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == [1, 3]
    assert rep.rejected == {reason: 1}
    assert rep.examples[0].line == 2
    assert needle in rep.examples[0].message


def test_invalid_utf8_line_is_rejected_with_its_line(tmp_path: Path) -> None:
    data = (GOOD + "\n").encode() + b'{"request_id": "r\xff", "op": "load"}\n' + (GOOD2 + "\n").encode()
    p = tmp_path / "a.jsonl"
    p.write_bytes(data)
    df, rep = read_logs(p)
    assert rep.rejected == {"bad-encoding": 1} and rep.examples[0].line == 2
    assert df["source_line"].tolist() == [1, 3]


def test_object_spread_over_two_lines_is_two_bad_lines(tmp_path: Path) -> None:
    lines = [GOOD, '{"request_id": "r1", "op": "load",', '"start_ms": 1, "latency_ms": 1, "status": "ok"}', GOOD2]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert df["source_line"].tolist() == [1, 4]
    assert rep.rejected == {"malformed-json": 2}
    assert [e.line for e in rep.examples] == [2, 3]


def test_gzip_reads_like_plain(tmp_path: Path) -> None:
    plain, _ = read_logs(write_spans(tmp_path / "a.jsonl", REQUESTS))
    gz, rep = read_logs(write_spans(tmp_path / "a.jsonl.gz", REQUESTS, gz=True))
    assert rep.spans_kept == len(REQUESTS)
    cols = [c for c in SPAN_SCHEMA.names if c != "source_file"]
    pd.testing.assert_frame_equal(plain[cols], gz[cols])


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    p = tmp_path / "log.txt"
    p.write_bytes(gzip.compress((GOOD + "\n").encode()))
    df, _ = read_logs(p)
    assert df["request_id"].tolist() == ["r9"]


def _bomb(path: Path, member_mib: int, members: int) -> Path:
    """A gzip file of ``members`` identical members, each ``member_mib`` MiB of span lines (ratio ~1000x)."""
    text = (GOOD + "\n").encode()
    one = gzip.compress(text * (member_mib * 1024**2 // len(text)), compresslevel=9)
    path.write_bytes(one * members)
    return path


def test_gzip_bomb_is_refused_before_it_fills_memory(tmp_path: Path) -> None:
    import tracemalloc

    p = _bomb(tmp_path / "bomb.jsonl.gz", 4, 64)  # ~256 MiB of spans in well under 1 MiB
    assert p.stat().st_size < 1024**2
    tracemalloc.start()
    try:
        with pytest.raises(LogError) as e:
            read_logs(p)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.code == "too-large" and e.value.file == str(p)
    msg = str(e.value)
    limit = compressed.gzip_limit(p.stat().st_size)
    assert limit < 100 * 1024**2
    assert "\n" not in msg and msg.startswith(f"{p}: gzip log inflates beyond {limit / 1024**2:.0f} MiB")
    assert "gzip bomb" in msg
    # decompression stops at the limit instead of inflating 256 MiB and copying it
    assert peak < limit + 48 * 1024**2


def test_gzip_with_a_high_ratio_under_the_free_limit_is_read(tmp_path: Path) -> None:
    p = _bomb(tmp_path / "dense.jsonl.gz", 1, 8)  # ratio ~1000x, but only 8 MiB inflated
    _, rep = read_logs(p)
    n = 8 * (1024**2 // (len(GOOD) + 1))
    assert rep.lines_read == n and rep.duplicates == n - 1 and rep.spans_kept == 1  # the same span n times


def test_gzip_limit_scales_with_the_compressed_size() -> None:
    assert compressed.gzip_limit(0) == compressed.GZIP_FREE_BYTES
    assert compressed.gzip_limit(10 * 1024**2) == compressed.MAX_GZIP_RATIO * 10 * 1024**2
    assert compressed.gzip_limit(10 * 1024**4) == compressed.MAX_DECOMPRESSED


def test_several_files_keep_their_own_line_numbers(tmp_path: Path) -> None:
    a = write_spans(tmp_path / "a.jsonl", REQUESTS[:4])
    b = write_lines(tmp_path / "b.jsonl.gz", ["", "oops", *[line(s) for s in REQUESTS[4:8]]], gz=True)
    df, rep = read_logs([a, b])
    assert len(df) == 8 and rep.requests == 2
    assert df["source_file"].tolist() == [str(a)] * 4 + [str(b)] * 4
    assert isinstance(df["source_file"].dtype, pd.CategoricalDtype)  # one value per file, as documented
    assert sorted(df["source_file"].cat.categories) == sorted([str(a), str(b)])
    assert df["source_line"].tolist() == [1, 2, 3, 4, 3, 4, 5, 6]
    assert [(e.file, e.line) for e in rep.examples] == [(str(b), 2)]
    assert rep.files == (str(a), str(b)) and set(rep.formats.values()) == {"native"}


def test_strict_raises_on_the_first_bad_line_in_file_order(tmp_path: Path) -> None:
    lines = [GOOD, GOOD.replace("r9", "r1"), '{"request_id": "r", "op": "x"}', "garbage", GOOD]
    p = write_lines(tmp_path / "a.jsonl", lines)
    read_logs(p)  # fine without --strict
    with pytest.raises(LogError) as e:
        read_logs(p, strict=True)
    assert e.value.line == 3 and e.value.file == str(p)
    assert str(e.value).startswith(f"{p}:3: missing or empty required keys")


def test_not_json_at_all_names_the_file_and_first_problem(tmp_path: Path) -> None:
    p = tmp_path / "text.log"
    p.write_bytes(b"\x01\x02\x03 not json\n" * 20)
    with pytest.raises(LogError) as e:
        read_logs(p)
    assert str(e.value).startswith(f"{p}:1: not a span log: all 20 non-blank lines are rejected")


def test_binary_data_is_not_a_text_log(tmp_path: Path) -> None:
    p = tmp_path / "bin.log"
    p.write_bytes(b"\x00\x01\x02\x03 binary garbage\n" * 20)
    with pytest.raises(InputFileError) as e:
        read_logs(p)
    assert str(e.value) == f"{p}: is not a text log (binary data at byte 0: 0x00)"


def test_every_line_bad_is_an_error(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "a.jsonl", ['{"request_id": "r", "op": "load"}'] * 5)
    with pytest.raises(LogError, match="not a span log") as e:
        read_logs(p)
    assert "missing or empty required keys" in str(e.value)


def test_gives_up_after_a_long_run_of_bad_lines(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "a.log", ["hello world"] * (native.GIVE_UP_AFTER + 500) + [GOOD])
    with pytest.raises(LogError, match=f"the first {native.GIVE_UP_AFTER} non-blank lines are all rejected"):
        read_logs(p)


def test_gives_up_when_the_first_lines_parse_but_are_all_rejected(tmp_path: Path) -> None:
    """The rule holds on the one-pass path too: lines of valid JSON that are not spans."""
    no_key = json.dumps({"request_id": "r1", "start_ms": 1, "latency_ms": 1, "status": "ok"})  # no op
    p = write_lines(tmp_path / "a.jsonl", [no_key] * native.GIVE_UP_AFTER + [GOOD, GOOD2])
    with pytest.raises(LogError, match=r"first 1000 non-blank lines are all rejected .*line 1: .*missing-key") as e:
        read_logs(p)
    assert e.value.line == 1
    q = write_lines(tmp_path / "b.jsonl", [no_key] * (native.GIVE_UP_AFTER - 1) + [GOOD, GOOD2])
    df, rep = read_logs(q)  # one good line among the first thousand: a log with bad lines
    assert len(df) == 2 and rep.rejected == {"missing-key": native.GIVE_UP_AFTER - 1}


def test_a_plain_log_named_like_a_compressed_file_is_read_as_plain(tmp_path: Path) -> None:
    for name in ("a.jsonl.gz", "b.jsonl.bz2", "c.zst", "d.lz4"):
        p = write_spans(tmp_path / name, REQUESTS)
        df, rep = read_logs(p)
        assert len(df) == len(REQUESTS) and rep.rejected_total == 0


def test_a_log_of_one_bad_line_says_so_in_words(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "one.jsonl", ["{oops"])
    with pytest.raises(LogError, match="not a span log: its one non-blank line is rejected; first problem at line 1"):
        read_logs(p)


def test_a_utf8_bom_before_line_1_is_not_part_of_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl"
    write_spans(plain, REQUESTS)
    one = (json.dumps(REQUESTS[0]) + "\n").encode()
    for name, data in (("bom.jsonl", UTF8_BOM + plain.read_bytes()), ("one.jsonl", UTF8_BOM + one)):
        p = tmp_path / name
        p.write_bytes(data)
        g = tmp_path / (name + ".gz")
        g.write_bytes(gzip.compress(data))
        for f in (p, g):
            df, rep = read_logs(f)
            n = len(REQUESTS) if name == "bom.jsonl" else 1
            assert rep.rejected_total == 0 and len(df) == n
            assert df["source_line"].tolist() == list(range(1, n + 1))
            assert df["request_id"].iloc[0] == REQUESTS[0]["request_id"]


def test_broken_objects_are_named_by_line_under_auto_detection(tmp_path: Path) -> None:
    """A file of JSON-looking lines that do not parse is read as native spans, so the error names the
    line, rather than being called an unknown format."""
    for text in (GOOD + GOOD, '{"request_id": oops}', GOOD[:-5]):
        p = write_lines(tmp_path / "x.jsonl", [text])
        with pytest.raises(LogError, match="line 1: not valid JSON") as e:
            read_logs(p)
        assert e.value.line == 1 and e.value.code == "not-a-log"
    assert detect_format(b'{"a": 1}\n') == "native"  # valid JSON of no known format: its line is named too


def test_missing_file_and_directory_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file") as e:
        read_logs(tmp_path / "nope.jsonl")
    assert str(e.value) == f"{tmp_path / 'nope.jsonl'}: no such file"
    with pytest.raises(InputFileError, match="is a directory"):
        read_logs(tmp_path)


def test_empty_log_is_an_error_but_an_empty_file_among_others_is_a_note(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(LogError, match="no spans"):
        read_logs(empty)
    _, rep = read_logs([empty, write_spans(tmp_path / "a.jsonl", REQUESTS)])
    assert any("empty" in n for n in rep.notes)


def test_unknown_ops_and_other_recipes_are_excluded_and_counted(tmp_path: Path) -> None:
    spans = [*REQUESTS, span("r1", "mystery", 1, 1), span("r2", "mystery", 2, 1), span("r1", "ghost", 1, 1)]
    spans.append({**span("q1", "load", 1, 1), "recipe": "billing"})
    df, rep = read_logs(write_spans(tmp_path / "a.jsonl", spans), recipe=diamond())
    assert len(df) == len(REQUESTS)
    assert rep.unknown_ops == {"mystery": 2, "ghost": 1}
    assert rep.other_recipes == {"billing": 1}
    assert rep.excluded_total == 4 and "4 spans excluded" in rep.summary()
    df_all, rep_all = read_logs(tmp_path / "a.jsonl")  # without a recipe nothing is excluded
    assert len(df_all) == len(spans) and rep_all.excluded_total == 0


def test_no_span_of_the_recipe_is_an_error(tmp_path: Path) -> None:
    p = write_spans(tmp_path / "a.jsonl", [{**span("q1", "load", 1, 1), "recipe": "billing"}])
    with pytest.raises(LogError, match=r"no span of recipe 'demo'.*billing"):
        read_logs(p, recipe=diamond())
    billing = [{**span(f"q{i}", "load", 1, 1), "recipe": "billing"} for i in range(1500)]
    many = write_spans(tmp_path / "b.jsonl", billing)
    with pytest.raises(LogError, match=r"found other recipes/operations: billing \(1,500\)"):
        read_logs(many, recipe=diamond())  # counts with their thousands separators, as every count is said


def test_duplicates_keep_the_last_ending_span(tmp_path: Path) -> None:
    spans = [
        span("r1", "load", 1000, 50, cost_usd=1.0),  # ends 1050: kept
        span("r1", "load", 1010, 10, cost_usd=2.0),  # ends 1020: dropped
        span("r1", "left", 1060, 5),
        span("r1", "left", 1060, 5, cost_usd=3.0),  # tie: the later line is kept
    ]
    df, rep = read_logs(write_spans(tmp_path / "a.jsonl", spans))
    assert rep.duplicates == 2
    assert df["source_line"].tolist() == [1, 4]
    assert df["cost_usd"].tolist() == [1.0, 3.0]


def test_sample_rate_fills_only_where_absent(tmp_path: Path) -> None:
    p = write_spans(tmp_path / "a.jsonl", REQUESTS)
    df, rep = read_logs(p, sample_rate=0.1)
    assert df["sample_rate"].tolist() == [s.get("sample_rate", 0.1) for s in REQUESTS]
    assert rep.sample_rate == 0.1 and rep.sample_rates == {0.1: 12, 0.5: 4}
    with pytest.raises(LogError, match="outside"):
        read_logs(p, sample_rate=0.0)


def test_variants_are_counted_per_request(tmp_path: Path) -> None:
    spans = [span("a", "load", 1, 1, variant="canary"), span("a", "left", 2, 1, variant="canary")]
    spans += [span("b", "load", 1, 1), span("c", "load", 1, 1, variant="control")]
    df, rep = read_logs(write_spans(tmp_path / "a.jsonl", spans))
    assert rep.variants == {"control": 2, "canary": 1}
    assert df["variant"].tolist() == ["canary", "canary", "control", "control"]


def test_detect_format() -> None:
    assert detect_format((GOOD + "\n").encode()) == "native"
    assert detect_format(b"garbage\n" + (GOOD + "\n").encode()) == "native"
    assert detect_format(b"\x00\x01binary") == "native"  # not JSON: the native reader names line 1
    assert detect_format(b'{"hello": "world"}\n') == "native"  # an object: the native reader says what it lacks
    assert detect_format(b'[{"hello": "world"}]\n') == "unknown"
    assert detect_format(b'{"resourceSpans": []}') != "native"


def test_unsupported_json_is_an_error(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "a.json", ['[{"hello": "world"}]'])
    with pytest.raises(LogError, match="unsupported log format") as e:
        read_logs(p)
    assert e.value.file == str(p)


def test_json_objects_of_no_known_format_are_named_by_line_and_missing_keys(tmp_path: Path) -> None:
    p = write_lines(tmp_path / "a.json", ['{"hello": "world"}'] * 3)
    with pytest.raises(LogError, match="first problem at line 1: missing or empty required keys request_id") as e:
        read_logs(p)
    assert (e.value.file, e.value.line, e.value.code) == (str(p), 1, "not-a-log")


def test_other_formats_go_to_the_formats_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, str, bool]] = []

    def read_table(
        path: Path, fmt: str, *, recipe: object, mapping: object, strict: bool, tally: object = None
    ) -> tuple[pa.Table, dict[str, int], list[str]]:
        calls.append((path, fmt, strict))
        rows = [span("t1", "load", 1, 2), span("t1", "left", 3, -1)]  # the second is checked and rejected
        table = pa.Table.from_pandas(pd.DataFrame(rows).assign(source_line=[1, 2]), preserve_index=False)
        return table, {"unmapped_spans": 3}, ["2 spans skewed"]

    real_detect = detect_module.detect
    monkeypatch.setattr(detect_module, "detect", lambda head: "fakefmt" if b"fakefmt" in head else real_detect(head))
    monkeypatch.setattr(traces, "read_table", read_table)
    p = write_lines(tmp_path / "t.json", ['{"fakefmt": true}'])
    native = write_spans(tmp_path / "n.jsonl", REQUESTS[:2])
    df, rep = read_logs([p, native], recipe=diamond())
    assert calls == [(p, "fakefmt", False)]
    assert rep.formats == {str(p): "fakefmt", str(native): "native"}
    assert df["request_id"].tolist() == ["t1", "r1", "r1"]
    assert df["sample_rate"].tolist() == [1.0] * 3 and df["variant"].tolist() == ["control"] * 3
    assert rep.rejected == {"bad-latency": 1} and rep.examples[0].line == 2 and rep.examples[0].file == str(p)
    assert rep.format_counts == {"unmapped_spans": 3}
    assert f"{p}: 2 spans skewed" in rep.notes


def test_a_missing_mapping_file_fails_even_with_native_logs(tmp_path: Path) -> None:
    logs = write_spans(tmp_path / "a.jsonl", REQUESTS)
    with pytest.raises(InputFileError) as e:
        read_logs(logs, recipe=diamond(), mapping=tmp_path / "nosuch.yaml")
    assert e.value.file == str(tmp_path / "nosuch.yaml") and e.value.code == "missing-file"


def test_a_mapping_naming_no_operation_of_the_recipe_fails_before_reading(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text("apiVersion: recipemut/v1\nkind: SpanMapping\noperations:\n  - op: nope\n    name: x\n")
    with pytest.raises(RecipemutError) as e:
        read_logs(write_spans(tmp_path / "a.jsonl", REQUESTS), recipe=diamond(), mapping=m)
    assert e.value.file == str(m) and e.value.code == "unknown-op" and e.value.line == 4


def test_a_mapping_with_only_native_logs_is_reported_unused(tmp_path: Path) -> None:
    m = tmp_path / "m.yaml"
    m.write_text("apiVersion: recipemut/v1\nkind: SpanMapping\noperations:\n  - op: load\n    name: x\n")
    logs = write_spans(tmp_path / "a.jsonl", REQUESTS)
    _, rep = read_logs(logs, recipe=diamond(), mapping=m)
    assert rep.notes == (f"mapping {m} not used: native spans name their operation",)
    _, rep = read_logs(logs, recipe=diamond())
    assert rep.notes == ()


def test_the_trace_readers_are_always_there_and_unknown_format_names_are_refused(tmp_path: Path) -> None:
    # the trace readers are a plain import of ingest, not an optional package: an OTLP document is
    # read by them (here it holds no spans), and a format no reader takes is named in the error
    p = write_lines(tmp_path / "t.json", ['{"resourceSpans": []}'])
    with pytest.raises(LogError, match=r"no spans in the logs: .*t\.json holds no OTLP spans"):
        read_logs(p)
    with pytest.raises(LogError, match="unknown trace format 'nosuch'"):
        read_logs(p, log_format="nosuch")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "malformed-json"),
        (b'"just a string"', "not-an-object"),
        (b"\xfe\xff", "bad-encoding"),
        (b'{"status": 200, "path": "/"}', "missing-key"),  # an access log: its keys, before the status's type
        (b'{"op": {"nested": 1}}', "missing-key"),
    ],
)
def test_classify_line(raw: bytes, reason: str) -> None:
    assert classify_line(raw)[0] == reason


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("op", b'{"nested": 1}', "wrong-type"),
        ("start_ms", b"true", "wrong-type"),
        ("start_ms", b"1e999", "bad-start"),
        ("cost_usd", b"1e999", "bad-value"),
        ("op", b'""', "missing-key"),
        ("start_ms", b'""', "wrong-type"),  # empty text is a missing text key, a number's wrong type
    ],
)
def test_classify_line_of_a_whole_span(key: str, value: bytes, reason: str) -> None:
    span = {"request_id": b'"r1"', "op": b'"a"', "start_ms": b"0", "latency_ms": b"1", "status": b'"ok"', key: value}
    raw = b"{" + b", ".join(b'"%s": %s' % (k.encode(), v) for k, v in span.items()) + b"}"
    assert classify_line(raw)[0] == reason


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the native reader's JSON parse (its length is the count)."""
    calls: list[int] = []
    real = native._parse

    def counting(buf: object, block_size: int | None = None, infer: bool = False) -> object:
        calls.append(1)
        return real(buf, block_size, infer=infer)  # type: ignore[arg-type]

    monkeypatch.setattr(native, "_parse", counting)
    return calls


def test_fallback_is_bounded_by_bad_lines_not_file_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parses: list[int]
) -> None:
    monkeypatch.setattr(native, "FALLBACK_BLOCK", 1 << 16)
    good = [line(span(f"r{i}", "load", i, 1.5)) for i in range(20_000)]
    good[12_345] = "broken"
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", good))
    assert len(df) == 19_999 and rep.examples[0].line == 12_346
    blocks = -(-(tmp_path / "a.jsonl").stat().st_size // (1 << 16))
    assert len(parses) < 1 + blocks + 2 * 12  # one pass, one parse per block, ~2 log2(lines per block) bisections


_LINE_KIND = st.sampled_from(["good", "good", "good", "blank", "json", "type", "missing", "neg", "two"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(_LINE_KIND, min_size=1, max_size=40), crlf=st.booleans())
def test_fast_and_fallback_paths_agree_on_any_mix_of_lines(tmp_path: Path, kinds: list[str], crlf: bool) -> None:
    """Whatever the mix, the kept spans are exactly the good lines, with their own line numbers."""
    text = {
        "blank": "",
        "json": '{"request_id": "x", "op"',
        "type": '{"request_id": "x", "op": "load", "start_ms": "1", "latency_ms": 1, "status": "ok"}',
        "missing": '{"request_id": "x", "start_ms": 1, "latency_ms": 1, "status": "ok"}',
        "neg": '{"request_id": "x", "op": "load", "start_ms": 1, "latency_ms": -1, "status": "ok"}',
        "two": GOOD + GOOD,
    }
    lines = [line(span(f"r{i}", "load", i, 1)) if k == "good" else text[k] for i, k in enumerate(kinds)]
    p = write_lines(tmp_path / "mix.jsonl", lines, newline="\r\n" if crlf else "\n")
    good_at = [i + 1 for i, k in enumerate(kinds) if k == "good"]
    bad = sum(k not in ("good", "blank") for k in kinds)
    if not good_at:
        with pytest.raises(LogError):
            read_logs(p)
        return
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == good_at
    assert df["request_id"].tolist() == [f"r{i - 1}" for i in good_at]
    assert rep.rejected_total == bad
    assert sorted(e.line for e in rep.examples) == [e.line for e in rep.examples]


def test_lines_with_stray_whitespace_are_still_spans(tmp_path: Path) -> None:
    lines = ["  " + GOOD, "garbage", "\t" + GOOD2 + "  ", line(span("r7", "load", 1, 1))]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert df["source_line"].tolist() == [1, 3, 4] and df["request_id"].tolist() == ["r9", "r8", "r7"]
    assert rep.rejected == {"malformed-json": 1} and rep.examples[0].line == 2


def test_a_line_longer_than_a_parse_block_is_read(tmp_path: Path) -> None:
    huge = line(span("r1", "load", 1, 1, note="x" * (3 << 20)))  # 3 MB line, unknown key
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", [GOOD, huge, GOOD2]))
    assert df["source_line"].tolist() == [1, 2, 3] and rep.rejected_total == 0


def test_unshaped_bad_lines_cost_no_parse_each(tmp_path: Path, parses: list[int]) -> None:
    lines = [line(span(f"r{i}", "load", i, 1.5)) if i % 50 else "{truncated" for i in range(1, 5001)]
    df, rep = read_logs(write_lines(tmp_path / "a.jsonl", lines))
    assert rep.rejected == {"malformed-json": 100} and len(df) == 4900
    assert [e.line for e in rep.examples] == [50, 100, 150, 200, 250]
    assert len(parses) <= 4  # the 100 bad lines are classified without a parse each


def _lines_reference(data: bytes) -> list[tuple[int, int, int, bool, bool]]:
    """(start, end, next, blank, odd) per line, the slow obvious way."""
    out = []
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        stop = len(data) if nl < 0 else nl
        end = stop - 1 if stop > pos and data[stop - 1 : stop] == b"\r" else stop
        content = data[pos:end]
        blank = not content
        odd = not blank and not (content[:1] == b"{" and content[-1:] == b"}" and b"\r" not in content)
        nxt = min(stop + 1, len(data))
        out.append((pos, end, nxt, blank, odd))
        pos = stop + 1
    return out


@given(
    pieces=st.lists(st.sampled_from([b"{}", b"{", b"}", b"x", b" ", b"\r", b"\n", b"\r\n", b'{"a":1}']), max_size=60),
    chunk=st.sampled_from([1, 2, 3, 5, 8, 1 << 20]),
)
@settings(max_examples=300, deadline=None)
def test_line_scan_matches_a_plain_reading_at_any_chunk_size(pieces: list[bytes], chunk: int) -> None:
    data = b"".join(pieces)
    old = line_scan._SCAN_CHUNK
    line_scan._SCAN_CHUNK = chunk  # newlines and CRs falling on chunk edges
    try:
        got = line_scan.index_lines(np.frombuffer(data, dtype=np.uint8))
    finally:
        line_scan._SCAN_CHUNK = old
    cols = (got.starts, got.ends, got.nexts, got.blank, got.odd)
    rows = list(zip(*(c.tolist() for c in cols), strict=True))
    assert rows == _lines_reference(data)


def test_start_in_nanoseconds_or_an_endless_latency_is_a_rejected_line_not_a_crash(tmp_path: Path) -> None:
    # start_ms written in nanoseconds (a common slip) or a latency of 1e300 ms is finite, but no date:
    # the report's time range and the profile's rate series cannot hold it
    p = write_lines(
        tmp_path / "a.jsonl",
        [
            line(span("r1", "load", 1000, 10)),
            line(span("r1", "left", 1.76e18, 5)),
            line(span("r1", "right", 1010, 1e300)),
            line(span("r1", "join", -1.76e18, 5)),
        ],
    )
    df, rep = read_logs(p)
    assert df["op"].tolist() == ["load"]
    assert [(e.line, e.reason) for e in rep.examples] == [(2, "bad-start"), (3, "bad-latency"), (4, "bad-start")]
    assert "epoch milliseconds" in rep.examples[0].message
    assert rep.time_range_ms == (1000.0, 1010.0)
    assert "1970-01-01T00:00:01.000Z" in rep.summary()
    json.dumps(rep.to_dict())


def test_a_log_in_nanoseconds_is_not_a_span_log(tmp_path: Path) -> None:
    p = write_spans(tmp_path / "ns.jsonl", [span(f"r{i}", "load", 1.76e18 + i, 5) for i in range(3)])
    with pytest.raises(LogError) as e:
        read_logs(p)
    assert str(e.value).startswith(f"{p}:1: not a span log") and "epoch milliseconds" in str(e.value)


def test_one_pass_types_are_inferred_then_converted(tmp_path: Path) -> None:
    """The one-pass read infers types: integers become floats, absent keys nulls, unknown nested keys
    are dropped; a key of the wrong type on every line still rejects every line, named."""
    spans = [
        {"request_id": f"r{i}", "op": "load", "start_ms": 1000 + i, "latency_ms": 2, "status": "ok", "x": {"y": [1]}}
        for i in range(3)
    ]
    df, rep = read_logs(write_lines(tmp_path / "ints.jsonl", [json.dumps(s) for s in spans]))
    assert df["latency_ms"].dtype == np.float64 and df["latency_ms"].tolist() == [2.0] * 3
    assert df["start_ms"].tolist() == [1000.0, 1001.0, 1002.0] and df["cost_usd"].isna().all()
    assert rep.rejected_total == 0 and "x" not in df.columns
    for key, value, reason in (
        ("latency_ms", "2", "wrong-type"),
        ("op", 7, "wrong-type"),
        ("cache_key", {"a": 1}, "wrong-type"),
    ):
        bad = [json.dumps({**s, key: value}) for s in spans]
        with pytest.raises(LogError, match=f"line 1: {key}: expected") as e:
            read_logs(write_lines(tmp_path / "bad.jsonl", bad))
        assert e.value.code == "not-a-log" and reason in str(e.value)
