"""Logs of blank or tiny lines: the line index keeps entries for non-blank lines only (blank ones are
counted), and a file whose first lines are all tiny junk is given up on before it is indexed whole;
line numbers (blank lines and CRLF counted), counts, ``--strict`` and "not a span log" stay as they were.

The memory these bounds save is measured in ``benchmarks/bench_tiny_lines.py``, not asserted here;
here the index's size is counted (a spy on the reader's ``index_lines``).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from _profile_helpers import line, span
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs import lines as line_scan
from recipemut.logs import native
from recipemut.logs.ingest import read_logs
from recipemut.logs.native import GIVE_UP_AFTER

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "recipe.yaml"


@given(
    pieces=st.lists(st.sampled_from([b"{}", b"{", b"}", b"x", b" ", b"\r", b"\n", b"\r\n", b'{"a":1}']), max_size=60),
    chunk=st.sampled_from([1, 2, 3, 5, 8, 1 << 20]),
    stop=st.sampled_from([None, 1, 2, 5]),
)
@settings(max_examples=300, deadline=None)
def test_an_index_without_blank_lines_is_the_full_index_less_its_blank_and_space_lines(
    pieces: list[bytes], chunk: int, stop: int | None
) -> None:
    data = np.frombuffer(b"".join(pieces), dtype=np.uint8)
    old = line_scan._SCAN_CHUNK
    line_scan._SCAN_CHUNK = chunk  # newlines and CRs falling on chunk edges
    try:
        full = line_scan.index_lines(data)
        got = line_scan.index_lines(data, blank=False, stop_after=stop)
    finally:
        line_scan._SCAN_CHUNK = old
    raw = data.tobytes()
    spaces = [not raw[s:e].strip() for s, e in zip(full.starts.tolist(), full.nexts.tolist(), strict=True)]
    keep = np.flatnonzero(~full.blank & ~np.array(spaces, bool))  # whitespace only: blank to the reader
    k = len(got)
    assert got.numbers is not None
    assert got.numbers.tolist() == (keep[:k] + 1).tolist()
    for col in ("starts", "ends", "nexts", "odd"):
        assert getattr(got, col).tolist() == getattr(full, col)[keep[:k]].tolist(), col
    assert not got.blank.any()
    if stop is None:
        assert (k, got.total) == (keep.size, len(full))
    else:  # stops once that many are found: whole chunks, so maybe more, never fewer
        assert k >= min(stop, keep.size)


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of entries of every index the native reader builds."""
    sizes: list[int] = []
    orig = native.index_lines

    def spy(a: np.ndarray, **kw: object) -> line_scan.Lines:
        got = orig(a, **kw)  # type: ignore[arg-type]
        sizes.append(len(got))
        return got

    monkeypatch.setattr(native, "index_lines", spy)
    return sizes


def test_blank_lines_are_counted_not_indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _spy(monkeypatch)
    s = line(span("r1", "load", 1_700_000_000_000, 5))
    p = tmp_path / "blank.jsonl"
    p.write_bytes((s + "\n").encode() + b"\n\r\n" * 100_000 + (s.replace("load", "left") + "\r\n").encode())
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == [1, 200_002]
    assert (rep.lines_read, rep.blank_lines) == (2, 200_000)
    assert max(sizes) == 2  # an entry per line held 200,002 (a 64 MiB chunk of them: 3.7 GB)


def test_a_file_of_tiny_lines_is_given_up_on_before_it_is_indexed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _spy(monkeypatch)
    monkeypatch.setattr(line_scan, "_SCAN_CHUNK", 4096)
    p = tmp_path / "tiny.jsonl"
    p.write_bytes(b"x\n\r\n" * 200_000)  # a blank line after each: the 1000th x is line 1999
    with pytest.raises(LogError) as e:
        read_logs(p)
    assert e.value.code == "not-a-log"
    said = "the first 1000 non-blank lines are all rejected (through line 1999); first problem at line 1:"
    assert said in str(e.value)
    assert max(sizes) < 5_000  # the whole file's index held 200,000 entries


def test_a_log_that_opens_with_few_tiny_lines_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # exactly GIVE_UP_AFTER junk lines are not "more than" it: read on, as before, the span found
    monkeypatch.setattr(line_scan, "_SCAN_CHUNK", 64)
    p = tmp_path / "few.jsonl"
    s = line(span("r1", "load", 1_700_000_000_000, 5))
    p.write_bytes(b"x\n" * (GIVE_UP_AFTER - 1) + b"\n" + (s + "\n").encode())
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == [GIVE_UP_AFTER + 1]
    assert (rep.lines_read, rep.blank_lines, rep.rejected_total) == (GIVE_UP_AFTER, 1, GIVE_UP_AFTER - 1)


def _mixed(seed: int, n: int) -> tuple[bytes, list[int], list[int], int]:
    """A log mixing spans with blank (LF and CRLF), whitespace and tiny lines, a lone CR in some:
    its bytes, the line numbers of its spans, of its bad lines, and its blank-or-whitespace lines."""
    rng = random.Random(seed)
    out: list[bytes] = []
    good: list[int] = []
    bad: list[int] = []
    blank = 0
    for i in range(n):
        kind = rng.choice(["span", "span", "blank", "crlf", "space", "x", "num", "cr", "brace"])
        if kind == "span":
            body = line(span(f"r{i}", "load", 1_700_000_000_000 + i, 5)).encode()
            good.append(i + 1)
            out.append(body + rng.choice([b"\n", b"\r\n"]))
            continue
        if kind in ("blank", "crlf", "space"):
            blank += 1
        else:
            bad.append(i + 1)
        out.append(
            {
                "blank": b"\n",
                "crlf": b"\r\n",
                "space": b"  \n",
                "x": b"x\n",
                "num": b"7\r\n",
                "cr": b"{\r}\n",
                "brace": b"{\n",
            }[kind]
        )
    return b"".join(out), good, bad, blank


@pytest.mark.parametrize("chunk", [7, 4096])
@pytest.mark.parametrize("seed", [0, 1])
def test_line_numbers_and_counts_of_blank_and_tiny_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, seed: int
) -> None:
    monkeypatch.setattr(line_scan, "_SCAN_CHUNK", chunk)
    data, good, bad, blank = _mixed(seed, 3000)
    p = tmp_path / "mixed.jsonl"
    p.write_bytes(data)
    for kw in ({}, {"memory_budget": "50M"}, {"sample_requests": 1.0}):
        df, rep = read_logs(p, **kw)  # type: ignore[arg-type]
        assert df["source_line"].tolist() == good, kw
        assert (rep.lines_read, rep.blank_lines, rep.rejected_total) == (len(good) + len(bad), blank, len(bad)), kw
        assert {e.line for e in rep.examples} <= set(bad)
        assert min(e.line for e in rep.examples) == bad[0]
    with pytest.raises(LogError) as e:
        read_logs(p, strict=True)
    assert e.value.line == bad[0]


def test_profile_of_blank_lines_says_so_in_one_line(tmp_path: Path) -> None:
    p = tmp_path / "nl.jsonl"
    p.write_bytes(b"\r\n" * 50_000 + b"\n" * 50_000)
    r = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(p), "--store", "off"], env={"COLUMNS": "200"})
    assert r.exit_code == 1
    assert r.output.strip() == f"error: no spans in the logs: {p} has only blank lines"


def test_lines_of_whitespace_are_counted_as_blank_not_indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _spy(monkeypatch)
    s = line(span("r1", "load", 1_700_000_000_000, 5))
    p = tmp_path / "spaces.jsonl"
    p.write_bytes(b" \n\t\r\n" * 50_000 + (s + "\n").encode() + b" " * 300 + b"\n")  # the last one: indexed, stripped
    df, rep = read_logs(p)
    assert df["source_line"].tolist() == [100_001]
    assert (rep.lines_read, rep.blank_lines, rep.rejected_total) == (1, 100_001, 0)
    assert max(sizes) == 2  # an entry per line held 100,002 (26 M lines of " ": 2.5 GB)
