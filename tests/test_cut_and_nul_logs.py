"""A plain log cut while it is read (logrotate's ``copytruncate``), and a log whose tail is one huge
line of NUL bytes (a crash, a sparse file): one line naming the file, or a rejected line, never a
crash, and memory bounded whatever the line's length.

The cut is made at a fixed point of the read (a hook between the size check and the read), so the
tests do not race a timer. Memory is measured with ``tracemalloc`` (numpy's and Python's buffers are
traced; the former memory map was not, but the copy of the long line the slow path made was).
"""

from __future__ import annotations

import gzip
import os
import tracemalloc
from pathlib import Path

import pytest
from _log_helpers import write_with_hole
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.logs.ingest import read_logs
from recipemut.logs.lines import MAX_LINE_BYTES, Snapshot
from recipemut.logs.native import read_native
from recipemut.logs.report import Rejects
from recipemut.logs.stream import LongLine, line_chunks, read_chunk

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
N_SPANS = 3000


def _spans(n: int = N_SPANS) -> bytes:
    with gzip.open(ROOT / "recipes" / "checkout" / "logs.jsonl.gz", "rb") as f:
        out = b"".join(f.readline() for _ in range(n))
    assert out.count(b"\n") == n
    return out


def _log(tmp_path: Path, copies: int = 1) -> Path:
    p = tmp_path / "app.jsonl"
    p.write_bytes(_spans() * copies)
    return p


def _cut_before(monkeypatch: pytest.MonkeyPatch, method: str, path: Path, to: int = 1000) -> None:
    """Cut ``path`` to ``to`` bytes just before ``Snapshot.<method>`` runs (after the size is taken)."""
    real = getattr(Snapshot, method)

    def cut_then(self: Snapshot, *args: object) -> object:
        os.truncate(path, to)
        return real(self, *args)

    monkeypatch.setattr(Snapshot, method, cut_then)


@pytest.mark.parametrize("method", ["_long_ranges", "read", "stream"])
def test_a_log_cut_while_it_is_read_is_one_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """Cut before the line-end pass, before the scan's read, or before the parse reads it again:
    it was a SIGBUS (a mapped page past the new end) or a ValueError from ``_bad_utf8``."""
    p = _log(tmp_path, 4)
    size = p.stat().st_size
    _cut_before(monkeypatch, method, p)
    with pytest.raises(InputFileError) as e:
        read_native(str(p), str(p), Rejects(str(p)))
    assert e.value.code == "file-changed"
    assert f"changed while it was read: it was {size:,} bytes, now 1,000" in str(e.value)


def test_a_log_cut_before_the_slow_path_reads_it_again_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = tmp_path / "app.jsonl"
    # every line shaped {...}, one of a wrong type: the one-pass parse fails, the slow path reads them again
    p.write_bytes(_spans() + b'{"request_id": "r", "latency_ms": "12"}\n' + _spans())
    calls = []
    real = Snapshot.read

    def second_read_cut(self: Snapshot) -> object:
        calls.append(1)
        if len(calls) == 2:
            os.truncate(p, 1000)
        return real(self)

    monkeypatch.setattr(Snapshot, "read", second_read_cut)
    with pytest.raises(InputFileError, match="changed while it was read"):
        read_native(str(p), str(p), Rejects(str(p)))


def test_a_log_that_grows_while_it_is_read_is_read_as_it_was_when_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log appended to (the usual case) is read up to its size when it was opened, parse included."""
    p = _log(tmp_path)
    real = Snapshot.stream

    def append_then(self: Snapshot) -> object:
        with p.open("ab") as f:
            f.write(_spans(10))
        return real(self)

    monkeypatch.setattr(Snapshot, "stream", append_then)
    rej = Rejects(str(p))
    table, _, n_read, n_blank = read_native(str(p), str(p), rej)
    assert (table.num_rows, n_read, n_blank, rej.total) == (N_SPANS, N_SPANS, 0, 0)


def test_profile_says_in_one_line_that_the_log_was_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _log(tmp_path, 4)
    _cut_before(monkeypatch, "read", p)
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(p), "--memory-budget", "off"],
                             env={"COLUMNS": "200"})  # fmt: skip
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    err = [x for x in res.output.splitlines() if x.strip()]
    assert len(err) == 1 and "app.jsonl: changed while it was read" in err[0], res.output


def test_a_streamed_log_cut_between_two_chunks_is_one_error(tmp_path: Path) -> None:
    """``--sample-requests`` and the memory budget read chunks: a cut read up to the cut silently."""
    p = _log(tmp_path, 4)
    chunks = line_chunks(p, str(p), chunk_bytes=1 << 16)
    next(chunks)
    os.truncate(p, 100_000)
    with pytest.raises(InputFileError, match=r"changed while it was read: it was [\d,]+ bytes, now 100,000"):
        for _ in chunks:
            pass


def _nul_tail(tmp_path: Path, nuls: int, after: bytes = b"") -> Path:
    """Spans, then ``nuls`` NUL bytes (a hole: nothing written), then ``after``."""
    return write_with_hole(tmp_path / "crashed.jsonl", _spans(), nuls, after)


NULS = 300 << 20  # over MAX_LINE_BYTES: one line, rejected unread


def test_a_sparse_nul_tail_is_one_rejected_line_read_in_bounded_memory(tmp_path: Path) -> None:
    """It was copied whole (``bytes(...)``, then ``strip``) to be rejected as "not valid JSON at column 1":
    1 GiB of NULs took 3.3 GB; 20 GB ran past 9.3 GB until killed."""
    p = _nul_tail(tmp_path, NULS)
    rej = Rejects(str(p))
    tracemalloc.start()
    try:
        table, nums, n_read, n_blank = read_native(str(p), str(p), rej)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak
    assert (table.num_rows, nums[-1], n_read, n_blank) == (N_SPANS, N_SPANS, N_SPANS + 1, 0)
    assert rej.counts == {"malformed-json": 1}
    assert str(rej.first) == (f"{p}:{N_SPANS + 1}: a line of {NULS:,} bytes, longer than the 64 MiB a line may hold "
                              "(not read) [malformed-json]")  # fmt: skip


def test_lines_after_a_long_line_keep_their_numbers(tmp_path: Path) -> None:
    p = _nul_tail(tmp_path, MAX_LINE_BYTES + 1, b"\n" + _spans(5) + b"x\n")
    rej = Rejects(str(p))
    table, nums, n_read, n_blank = read_native(str(p), str(p), rej)
    assert table.num_rows == N_SPANS + 5
    assert nums[-5:].tolist() == list(range(N_SPANS + 2, N_SPANS + 7))
    assert (n_read, n_blank) == (N_SPANS + 7, 0)
    assert [e.line for e in rej.examples["malformed-json"]] == [N_SPANS + 1, N_SPANS + 7]
    assert "a line of 67,108,865 bytes" in rej.examples["malformed-json"][0].message


def test_a_line_of_the_limit_is_read(tmp_path: Path) -> None:
    """Only a line over the limit is left unread; one of the limit goes to the reader (and is rejected there)."""
    p = tmp_path / "x.jsonl"
    p.write_bytes(_spans(3) + b"x" * MAX_LINE_BYTES + b"\n" + _spans(2))
    with Snapshot.open(str(p), str(p)) as snap:
        assert snap.long == []
    rej = Rejects(str(p))
    table, _, n_read, _ = read_native(str(p), str(p), rej)
    assert (table.num_rows, n_read) == (5, 6)
    assert "Expecting value" in rej.examples["malformed-json"][0].message


def test_a_streamed_nul_tail_is_one_rejected_line_read_in_bounded_memory(tmp_path: Path) -> None:
    """The chunks carried the open line whole, each chunk copying it again: 1 GiB of NULs took 4.4 GB and 30 s."""
    p = _nul_tail(tmp_path, NULS, b"\n" + _spans(4))
    tracemalloc.start()
    try:
        got = []
        for chunk, offset in line_chunks(p, str(p), chunk_bytes=1 << 20):
            rej = Rejects(str(p))
            table, _, n_read, _ = read_chunk(chunk, str(p), rej, first=offset == 0)
            got.append((type(chunk), offset, table.num_rows, n_read, rej.total))
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 160 << 20, peak  # the open line (64 MiB at most) and one buffer of it, not the 300 MiB line
    long = [g for g in got if g[0] is LongLine]
    assert long == [(LongLine, N_SPANS, 0, 1, 1)]
    assert sum(g[2] for g in got) == N_SPANS + 4


@pytest.mark.parametrize("kw", [{"memory_budget": "off"}, {"sample_requests": 0.5}, {"sample_requests": 1.0}])
def test_every_read_path_rejects_the_nul_tail_as_one_line(tmp_path: Path, kw: dict[str, object]) -> None:
    """Whole, and streamed in chunks (a sample; the hole no longer weighs in the memory estimate)."""
    p = _nul_tail(tmp_path, NULS)
    df, rep = read_logs(p, **kw)  # type: ignore[arg-type]
    assert len(df) == N_SPANS if kw.get("sample_requests") != 0.5 else 0 < len(df) < N_SPANS  # a sample
    assert dict(rep.rejected) == {"malformed-json": 1}
    assert rep.examples[0].line == N_SPANS + 1 and "longer than the 64 MiB" in rep.examples[0].message


def test_a_log_opening_with_a_byte_order_mark_is_not_read_whole_either(tmp_path: Path) -> None:
    """Its mark was taken off a copy of the whole file (``read_bytes``): the NUL tail came along."""
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + _spans())
    os.truncate(p, p.stat().st_size + NULS)
    tracemalloc.start()
    try:
        df, rep = read_logs(p, memory_budget="off")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak
    assert len(df) == N_SPANS and int(df["source_line"].min()) == 1
    assert dict(rep.rejected) == {"malformed-json": 1} and rep.examples[0].line == N_SPANS + 1


def test_a_byte_order_mark_is_not_part_of_line_one(tmp_path: Path) -> None:
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + _spans(3))
    rej = Rejects(str(p))
    table, nums, n_read, n_blank = read_native(str(p), str(p), rej)
    assert (table.num_rows, nums.tolist(), n_read, n_blank, rej.total) == (3, [1, 2, 3], 3, 0, 0)


def test_a_log_with_junk_lines_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The slow path takes the bytes the scan read (the memory map was mapped again; a copy would be read again)."""
    p = tmp_path / "app.jsonl"
    p.write_bytes(_spans() + b"x\n" + _spans())
    calls = []
    real = Snapshot.read

    def counted(self: Snapshot) -> object:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(Snapshot, "read", counted)
    table, _, n_read, _ = read_native(str(p), str(p), Rejects(str(p)))
    assert (len(calls), table.num_rows, n_read) == (1, 2 * N_SPANS, 2 * N_SPANS + 1)


def test_a_log_that_grows_while_it_is_streamed_is_read_as_it_was_when_opened(tmp_path: Path) -> None:
    """The streamed path (budget chunks, --sample-requests, convert) stops at the size the log had
    when it was opened, as the whole read does: it read on to whatever the writer had appended."""
    from recipemut.logs.stream import line_chunks

    p = tmp_path / "grow.jsonl"
    p.write_bytes(b'{"a":1}\n' * 200_000)
    lines = 0
    for i, (chunk, _) in enumerate(line_chunks(p, str(p), chunk_bytes=1 << 20)):
        lines += bytes(chunk).count(b"\n")
        if i == 0:
            with p.open("ab") as f:
                f.write(b'{"b":2}\n' * 100_000)
    assert lines == 200_000
