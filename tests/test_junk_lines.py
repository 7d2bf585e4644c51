"""Junk lines after a log's first spans: rejected in bulk (numpy and arrow, Python work per distinct line
shape, not per line), with the report the line-by-line reading gives: counts per reason (in the order
the reasons come), the first examples of each reason with their messages, the first rejection, the
spans kept and their line numbers.

The line-by-line reading is the same reader with its bulk step switched off (``native._Junk`` then
takes no line, and every junk line goes through ``classify_line`` one by one, as before). The time and
memory saved are measured in ``benchmarks/bench_tiny_lines.py``; here calls and index entries are counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from _profile_helpers import line, span
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs import lines as line_scan
from recipemut.logs import native
from recipemut.logs.distributed import plan_partitions, read_partition
from recipemut.logs.ingest import read_logs
from recipemut.logs.native import GIVE_UP_AFTER, read_native
from recipemut.logs.report import Rejects

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "recipe.yaml"


def _span(i: int) -> bytes:
    return line(span(f"r{i}", "load", 1_700_000_000_000 + i, 5)).encode()


def _one_by_one(self: object, a: np.ndarray, starts: np.ndarray, *_: object) -> np.ndarray:
    """``_Junk.__call__`` switched off: it takes no line, so each is read line by line."""
    return np.zeros(starts.size, bool)


def _read(data: bytes) -> dict[str, Any]:
    """Everything ``read_native`` says of ``data``: rows, line numbers, counts, rejections (or its error)."""
    rej = Rejects("f.jsonl")
    try:
        table, nums, n_read, n_blank = read_native(pa.py_buffer(data), "f.jsonl", rej)
        got: dict[str, Any] = {"rows": table.to_pylist(), "lines": nums.tolist(), "read": n_read, "blank": n_blank}
    except LogError as e:
        got = {"error": str(e)}
    got["counts"] = list(rej.counts.items())  # in the order the reasons came
    got["examples"] = {r: [str(e) for e in ex] for r, ex in rej.examples.items()}
    got["first"] = str(rej.first)
    return got


#: lines of every kind the reader tells apart; ``{i}`` is the line's index (distinct junk)
KINDS: dict[str, list[bytes]] = {
    "span": [b"SPAN"],
    "junk": [
        b"x",
        b"x{i}",
        b"1",
        b"{i}",
        b"-{i}",
        b"[1]",
        b"[{i}, 2]",
        b'"s"',
        b'"s{i}"',
        b"null",
        b"nul",
        b"true",
        b"NaN",
        b"-Infinity",
        b"01",
        b"1 2",
        b"}{",
        b"]",
        b"-",
        b"\x1c",
        b"\x01x",
        b"x\ry",
        b"\xc3\xa9{i}",
        b'[{"a1": 1, "a2": 2}]',
        b'[{"a1": 1, "a1": 2}]',
        b"{i}e999",
        b"\\u0031",
    ],
    "blank": [b"", b"\r"],
    "spaces": [b"   ", b"\t \x0b\x0c", b" " * 300, b" " * 600],
    "bad-utf8": [b"\xff", b"x\xff", b"  \xc3", b"{i}\xed\xa0\x80", b'{"op": "\xff"}', b"\xef\xbb\xbf1"],
    "deep": [b"[" * 600, b"x" + b"[" * 600, b"{" * 520 + b"}" * 520, b" " * 600 + b"["],
    "bad-object": [
        b"{",
        b'{"request_id": 1}',
        b" {} ",
        b"{\r}",
        b'{"op":"a","op":"b"}',
        b'{"latency_ms":1e999}',
        b"{" + b" " * 600 + b"}",
    ],
}


@st.composite
def logs(draw: st.DrawFn) -> bytes:
    """A log of spans mixed with every kind of other line, CRLF and LF, its last line ended or not."""
    head = draw(st.sampled_from([0, 3, GIVE_UP_AFTER + 1]))  # spans first: more than GIVE_UP_AFTER non-blank lines
    kinds = draw(st.lists(st.sampled_from(list(KINDS)), min_size=1, max_size=80))
    out = [_span(i) + b"\n" for i in range(head)]
    for i, kind in enumerate(kinds, start=head):
        body = draw(st.sampled_from(KINDS[kind])).replace(b"{i}", str(i).encode())
        body = _span(i) if body == b"SPAN" else body
        out.append(body + draw(st.sampled_from([b"\n", b"\r\n"])))
    data = b"".join(out)
    return data[:-1] if draw(st.booleans()) and data.endswith(b"\n") else data


@given(data=logs(), chunk=st.sampled_from([7, 64, 1 << 20]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_bulk_rejection_gives_the_report_of_the_line_by_line_reading(
    monkeypatch: pytest.MonkeyPatch, data: bytes, chunk: int
) -> None:
    with monkeypatch.context() as m:
        m.setattr(line_scan, "_SCAN_CHUNK", chunk)  # lines taken in one scan chunk, kept in the next
        bulk = _read(data)
        m.setattr(native._Junk, "__call__", _one_by_one)
        one_by_one = _read(data)
    assert bulk == one_by_one


def test_a_spread_of_the_same_junk_is_read_with_python_work_per_shape_not_per_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[bytes] = []
    orig = native.classify_line

    def counted(raw: bytes, parser_message: str = "") -> tuple[str, str]:
        calls.append(raw)
        return orig(raw, parser_message)

    sizes: list[int] = []
    index = native.index_lines

    def spied(a: np.ndarray, **kw: Any) -> line_scan.Lines:
        got = index(a, **kw)
        sizes.append(len(got))
        return got

    monkeypatch.setattr(native, "classify_line", counted)
    monkeypatch.setattr(native, "index_lines", spied)
    monkeypatch.setattr(line_scan, "_SCAN_CHUNK", 4096)
    junk = [b"x", b"x%d", b"1", b"%d", b"[1]", b'"s"', b"null"]
    n = 1001 + 7 * 10_000
    body = b"".join(_span(i) + b"\n" for i in range(1001))
    body += b"".join((j % i if b"%" in j else j) + b"\n" for i in range(1001, n) for j in junk[i % 7 : i % 7 + 1])
    got = _read(body + _span(n) + b"\n")
    assert got["lines"] == [*range(1, 1002), n + 1]
    assert got["counts"] == [("malformed-json", 20_000), ("not-an-object", 50_000)]
    assert got["examples"]["malformed-json"][:2] == [
        f"f.jsonl:{k}: not valid JSON at column 1: Expecting value [malformed-json]" for k in (1002, 1003)
    ]
    assert got["first"] == "f.jsonl:1002: not valid JSON at column 1: Expecting value [malformed-json]"
    # per line, 70,000 calls and an index of 71,002 entries; per shape and scan chunk, a few hundred
    assert len(calls) < 2_000
    assert max(sizes) < 3_000  # the first lines scanned for the early give-up: whole 4 KiB chunks


def test_a_block_of_bad_objects_between_lines_of_spaces_is_read(tmp_path: Path) -> None:
    # a block in which more than 16 parses failed is read line by line (_sift): the lines of
    # whitespace between its lines came along into a buffer indexed with them, and the line numbers
    # no longer matched (IndexError out of read_logs)
    rows = []
    for i in range(60):
        rows += [_span(2 * i), b"   ", _span(2 * i + 1), b'{"request_id": 1}']
    p = tmp_path / "spaced.jsonl"
    p.write_bytes(b"\n".join(rows) + b"\n")
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == [k for i in range(60) for k in (4 * i + 1, 4 * i + 3)]
    assert (rep.rejected_total, rep.blank_lines, rep.lines_read) == (60, 60, 180)


def test_bad_utf8_in_a_line_left_out_of_the_index_is_not_put_on_the_span_before_it() -> None:
    spans = b"".join(_span(i) + b"\n" for i in range(GIVE_UP_AFTER + 1))
    got = _read(spans + b"x\xff\n" * 3 + b"[\xff]\n" + _span(5000) + b"\n" + b"x\n")
    assert got["lines"] == [*range(1, GIVE_UP_AFTER + 2), GIVE_UP_AFTER + 6]
    assert got["counts"] == [("bad-encoding", 4), ("malformed-json", 1)]
    said = f"f.jsonl:{GIVE_UP_AFTER + 2}: invalid UTF-8 at byte 2 of the line [bad-encoding]"
    assert got["examples"]["bad-encoding"][0] == said


@pytest.mark.parametrize("kw", [{}, {"memory_budget": "50M"}, {"sample_requests": 1.0}])
def test_every_read_path_reports_the_junk_after_the_spans(tmp_path: Path, kw: dict[str, Any]) -> None:
    p = tmp_path / "junk.jsonl"
    spans = b"".join(_span(i) + b"\n" for i in range(GIVE_UP_AFTER + 1))
    p.write_bytes(spans + b"x\n1\n[1]\n" * 20_000 + _span(99_999) + b"\n")
    df, rep = read_logs(p, **kw)
    assert df["source_line"].tolist() == [*range(1, GIVE_UP_AFTER + 2), GIVE_UP_AFTER + 60_002]
    assert dict(rep.rejected) == {"malformed-json": 20_000, "not-an-object": 40_000}
    x_lines, value_lines = [1002, 1005, 1008, 1011, 1014], [1003, 1004, 1006, 1007, 1009]
    assert [e.line for e in rep.examples] == sorted(x_lines + value_lines)


def test_profile_reads_a_log_of_spans_then_junk(tmp_path: Path) -> None:
    p = tmp_path / "junk.jsonl"
    spans = [json.dumps({**span(f"r{i}", "load_cart", 1.7e12 + i, 5), "recipe": "checkout"}) for i in range(1001)]
    p.write_bytes(("\n".join(spans) + "\n").encode() + b"x\n" * 50_000)
    r = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(p), "--store", "off"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "50,000 rejected lines" in r.output


def test_a_partition_counts_its_lines_from_what_its_reader_counted(tmp_path: Path) -> None:
    p = tmp_path / "parts.jsonl"
    data = b"".join(_span(i) + (b"\n\n" if i % 3 else b"\n") + b"x\n" for i in range(3000)) + b"x"  # last unended
    p.write_bytes(data)
    parts = plan_partitions([p], partition_bytes=50_000)
    assert len(parts) > 3
    got = [read_partition(part, ["load"], None, 1.0) for part in parts]
    assert sum(g.lines_in[part.index] for g, part in zip(got, parts, strict=True)) == data.count(b"\n")
    assert sum(g.lines_read for g in got) == 3000 * 2 + 1


@st.composite
def later_chunks(draw: st.DrawFn) -> bytes:
    """A later chunk of a log that opens with more than GIVE_UP_AFTER junk lines, then a mix."""
    junk = draw(st.sampled_from([b"x\n", b"1\n", b"[1]\r\n", b'{"request_id": 1}\n', b"\xff\n"]))
    return junk * (GIVE_UP_AFTER + draw(st.integers(1, 50))) + draw(logs())


@given(data=later_chunks())
@settings(max_examples=60, deadline=None)
def test_a_later_chunk_is_read_as_the_same_lines_after_a_span_are_in_a_whole_file(data: bytes) -> None:
    """A later chunk that opens with a stretch of junk gives what those lines give in a whole read of
    the file (one span before them, so the file is a log): rows, line numbers, counts and examples."""
    from recipemut.logs.stream import merge_rejects, read_chunk

    whole, pieces = Rejects("f.jsonl"), Rejects("f.jsonl")
    head = _span(0) + b"\n"
    t1, n1, r1, b1 = read_native(pa.py_buffer(head + data), "f.jsonl", whole)
    part = Rejects("f.jsonl")
    t2, n2, r2, b2 = read_chunk(memoryview(data), "f.jsonl", part, first=False)
    merge_rejects(pieces, part, 1)
    assert t1.slice(1).to_pylist() == t2.to_pylist()
    assert n1[1:].tolist() == (n2 + 1).tolist()
    assert (r1 - 1, b1) == (r2, b2)
    assert whole.counts == pieces.counts
    assert whole.examples == pieces.examples
    assert whole.first == pieces.first
    with pytest.raises(LogError) as e:  # giving up, as a file's first chunk does
        read_chunk(memoryview(data), "f.jsonl", Rejects("f.jsonl"), first=True)
    assert e.value.code == "not-a-log"


def test_a_later_chunk_of_junk_is_read_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not :data:`GIVE_UP_AFTER` lines at a time (64 MiB of ``x``: 14.1 CPU s and 1,186 MB that way)."""
    from recipemut.logs import stream

    calls: list[bool] = []

    def counted(*args: Any, give_up: bool = True) -> Any:
        calls.append(give_up)
        return read_native(*args, give_up=give_up)

    monkeypatch.setattr(stream, "read_native", counted)
    data = b"x\n" * (5 * GIVE_UP_AFTER) + _span(1) + b"\n" + b"x\n" * (3 * GIVE_UP_AFTER)
    rej = Rejects("f.jsonl")
    table, nums, n_read, n_blank = stream.read_chunk(memoryview(data), "f.jsonl", rej, first=False)
    assert calls == [False]
    assert (table.num_rows, nums.tolist(), n_read, n_blank) == (1, [5 * GIVE_UP_AFTER + 1], 8 * GIVE_UP_AFTER + 1, 0)
    assert rej.counts == {"malformed-json": 8 * GIVE_UP_AFTER}
