"""Streaming native ingest: chunks of whole lines give the rows, line numbers and rejections of the
whole-file read; gzip and a byte-order mark are read through; the first lines all bad still say
"not a span log"."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from _profile_helpers import diamond, line, span, write_lines

from recipemut.errors import LogError
from recipemut.logs import stream
from recipemut.logs.checks import check_spans
from recipemut.logs.detect import UTF8_BOM
from recipemut.logs.ingest import read_logs
from recipemut.logs.native import read_native
from recipemut.logs.report import Rejects
from recipemut.logs.sample import Sampler
from recipemut.logs.stream import line_chunks, read_native_sampled


def _mixed_lines(n: int) -> list[str]:
    out: list[str] = []
    for i in range(n):
        out.append(line(span(f"r{i}", "load", 1_700_000_000_000 + i, 5 + i % 3)))
        if i % 37 == 5:
            out.append("{not json")
        if i % 53 == 7:
            out.append("")
        if i % 41 == 9:
            out.append(line(span(f"r{i}", "left", 1_700_000_000_000 + i, -1)))  # bad latency
    return out


@pytest.mark.parametrize("gz", [False, True])
def test_chunks_give_the_rows_lines_and_rejections_of_the_whole_read(tmp_path: Path, gz: bool) -> None:
    lines = _mixed_lines(600)
    path = write_lines(tmp_path / "a.jsonl", lines, gz=gz)
    whole_rej = Rejects(str(path))
    data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    table, nums, n_read, n_blank = read_native(pa.py_buffer(data), str(path), whole_rej)
    keep = check_spans(table, nums, whole_rej)
    rej = Rejects(str(path))
    got = read_native_sampled(path, str(path), rej, Sampler(1.0), chunk_bytes=2000)
    assert got.lines.tolist() == nums[keep].tolist()
    assert got.table.column("request_id").to_pylist() == table.filter(keep).column("request_id").to_pylist()
    assert (got.lines_read, got.blank) == (n_read, n_blank)
    assert rej.counts == whole_rej.counts and rej.total > 0
    assert {k: [e.line for e in v] for k, v in rej.examples.items()} == {
        k: [e.line for e in v] for k, v in whole_rej.examples.items()
    }
    assert rej.first is not None and whole_rej.first is not None and rej.first.line == whole_rej.first.line


def test_line_chunks_cut_after_line_ends_and_drop_a_bom(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl"
    p.write_bytes(UTF8_BOM + b"a\n" + b"x" * 50 + b"\nb\r\nc")
    chunks = [(bytes(c), o) for c, o in line_chunks(p, str(p), chunk_bytes=8)]
    assert b"".join(c for c, _ in chunks) == b"a\n" + b"x" * 50 + b"\nb\r\nc"
    assert all(bytes(c).endswith(b"\n") for c, _ in chunks[:-1])
    assert [o for _, o in chunks] == [0, 1, 2, 3][: len(chunks)]


def test_sampled_read_with_small_chunks_equals_the_default_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [line(span(f"r{i // 4}", op, 1_700_000_000_000 + i, 3)) for i, op in
             zip(range(2000), ["load", "left", "right", "join"] * 500, strict=True)]  # fmt: skip
    p = write_lines(tmp_path / "c.jsonl", lines)
    big, rep_big = read_logs(p, recipe=diamond(), sample_requests=0.3)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 4096)
    small, rep_small = read_logs(p, recipe=diamond(), sample_requests=0.3)
    assert small["request_id"].tolist() == big["request_id"].tolist()
    assert small["source_line"].tolist() == big["source_line"].tolist()
    assert rep_small.sample is not None and rep_big.sample is not None
    assert rep_small.sample.requests_total == rep_big.sample.requests_total == 500
    np.testing.assert_array_equal(np.sort(rep_small.sample.start_ms), np.sort(rep_big.sample.start_ms))


def test_first_lines_all_bad_is_not_a_span_log_and_strict_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "CHUNK_BYTES", 4096)
    p = write_lines(tmp_path / "d.jsonl", ['{"a": 1}'] * 1500 + [line(span("r1", "load", 1_700_000_000_000, 1))])
    with pytest.raises(LogError, match="not a span log"):
        read_logs(p, sample_requests=0.5)
    q = write_lines(tmp_path / "e.jsonl", [line(span(f"r{i}", "load", 1_700_000_000_000, 1)) for i in range(900)]
                    + ["{bad"])  # fmt: skip
    with pytest.raises(LogError) as e:
        read_logs(q, sample_requests=0.5, strict=True)
    assert e.value.line == 901
