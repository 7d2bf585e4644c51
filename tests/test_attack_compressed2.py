"""Compressed logs an attacker found misread (second pass): a zstd file opening with a skippable frame,
junk after a whole gzip or zstd stream, a gzip file cut just after a member's header (its size estimate),
a stream cut inside its first line, and a read-only output folder for ``convert``."""

from __future__ import annotations

import gzip
import io
import os
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError, LogError
from recipemut.files import compressed
from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.recipe.loader import load_recipe
from recipemut.usecases import partition
from recipemut.usecases.inputs import LogSource

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
DATA = gzip.decompress((ROOT / "recipes" / "checkout" / "logs.jsonl.gz").read_bytes())[:600_000]
DATA = DATA[: DATA.rfind(b"\n") + 1]  # whole lines
LINES = DATA.count(b"\n")
WIDE = {"COLUMNS": "200"}
runner = CliRunner()


def _zstd(data: bytes) -> bytes:
    return pa.compress(data, "zstd", asbytes=True)


def _skippable(payload: bytes, nibble: int = 0) -> bytes:
    return struct.pack("<II", 0x184D2A50 + nibble, len(payload)) + payload


@pytest.mark.parametrize("nibble", [0, 15])
def test_a_zstd_log_opening_with_a_skippable_frame_is_read(tmp_path: Path, nibble: int) -> None:
    # refused on every path: "is not a text log (binary data at byte 5: 0x00)"
    p = tmp_path / "skip.jsonl.zst"
    p.write_bytes(_skippable(b"S" * 16, nibble) + _zstd(DATA))
    assert compressed.packed_with(p) == "zstd" and compressed.compressed_with(p.read_bytes()[:8]) == (
        "zstd",
        "zstd -dc",
    )
    df, rep = read_logs(p, memory_budget="off")
    assert len(df) == LINES and not rep.rejected
    _, sampled = read_logs(p, sample_requests=0.5)
    assert sampled.lines_read == LINES
    _, dask, _ = read_partitioned([str(p)], recipe=load_recipe(RECIPE), engine="local")
    assert dask.spans_kept == LINES
    out = tmp_path / "x.parquet"
    r = runner.invoke(app, ["convert", str(p), "-o", str(out)], env=WIDE)
    assert r.exit_code == 0, r.stderr
    assert pq.ParquetFile(out).metadata.num_rows == LINES


def _junk(tmp_path: Path, kind: str, data: bytes = DATA) -> tuple[Path, int]:
    packed = gzip.compress(data, mtime=0) if kind == "gzip" else _zstd(data)
    p = tmp_path / f"junk.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    p.write_bytes(packed + b"GARBAGE not compressed at all\n" * 8)
    return p, len(packed)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_junk_after_a_whole_stream_keeps_the_content_on_every_path(tmp_path: Path, kind: str) -> None:
    # "not a readable gzip file (Error -3 ... incorrect header check)", "(ZSTD ... Unknown frame descriptor)"
    p, at = _junk(tmp_path, kind)
    df, rep = read_logs(p, memory_budget="off")
    assert len(df) == LINES and dict(rep.rejected) == {"cut-short": 1}
    (r,) = rep.examples
    assert r.line == LINES + 1 and f"followed by bytes that are not {kind} from byte {at:,} of the file" in r.message
    _, streamed = read_logs(p, sample_requests=0.5)
    assert (streamed.lines_read, streamed.examples) == (rep.lines_read, rep.examples)
    recipe = load_recipe(RECIPE)
    for logs in (str(p), p.as_uri()):  # chunks; a URL's whole content
        _, dask, _ = read_partitioned([logs], recipe=recipe, engine="local")
        assert dask.spans_kept == LINES and [e.message for e in dask.examples] == [r.message]
    out = tmp_path / "x.parquet"
    res = runner.invoke(app, ["convert", str(p), "-o", str(out)], env=WIDE)
    assert res.exit_code == 0, res.stderr
    assert pq.ParquetFile(out).metadata.num_rows == LINES


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
@pytest.mark.parametrize("extra", [[], ["--sample-requests", "0.5"], ["--engine", "dask"]])
def test_junk_is_said_once_and_refused_under_strict(tmp_path: Path, kind: str, extra: list[str]) -> None:
    p, at = _junk(tmp_path, kind)
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(p), "-q", *extra], env=WIDE)
    assert r.exit_code == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(said) == 1 and said[0].startswith(f"warning: rejected {p}:") and f"byte {at:,}" in said[0], said
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(p), "--strict", *extra], env=WIDE)
    assert r.exit_code == 1 and f"byte {at:,}" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_junk_after_a_last_line_without_its_newline_keeps_that_line(tmp_path: Path, kind: str) -> None:
    p, _ = _junk(tmp_path, kind, DATA.rstrip(b"\n"))
    df, _ = read_logs(p, memory_budget="off")
    _, streamed = read_logs(p, sample_requests=1.0)
    assert len(df) == LINES and streamed.spans_kept == LINES


def test_zero_padding_after_a_gzip_stream_is_no_junk(tmp_path: Path) -> None:
    p = tmp_path / "pad.jsonl.gz"
    p.write_bytes(gzip.compress(DATA) + b"\0" * 1000)
    assert compressed.inflate(p) == (DATA, None)


def test_zstd_frames_end_walks_frames_and_skippable_frames() -> None:
    whole = _skippable(b"meta") + _zstd(DATA) + _skippable(b"") + _zstd(b"{}\n")
    assert compressed.zstd_frames_end(io.BytesIO(whole), len(whole)) == len(whole)
    assert compressed.zstd_frames_end(io.BytesIO(whole + b"junk"), len(whole) + 4) == len(whole)
    first = len(_skippable(b"meta")) + len(_zstd(DATA))
    assert compressed.zstd_frames_end(io.BytesIO(whole[:-3]), len(whole) - 3) == first + 8  # the last frame cut


def test_a_gzip_file_ending_in_a_member_header_is_not_sized_by_it() -> None:
    # a file cut just after the next member's 10-byte header: its last 4 bytes (MTIME's top, XFL, OS) say
    # about 50 MB whatever the file, believed for any file of 2.3 to 50 MB
    size = 5_000_000
    header = b"\x1f\x8b\x08\x00" + (1_700_000_000).to_bytes(4, "little") + b"\x00\x03"  # as gzip(1) writes it
    assert compressed.gzip_content_size(header[-4:], size) == int.from_bytes(header[-4:], "little")  # 4 bytes: fooled
    assert compressed.gzip_content_size(b"\0" * 20 + header, size) == size * compressed.GZIP_RATIO
    trailer = (40_000_000).to_bytes(4, "little")
    assert compressed.gzip_content_size(b"\1" * 6 + trailer, size) == 40_000_000  # a real trailer still counts


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_stream_cut_inside_its_first_line_is_not_a_readable_file(tmp_path: Path, kind: str) -> None:
    # a gzip file cut 130 bytes into its first line said ":1: not a span log: its one non-blank line is
    # rejected; ... the 0 complete lines before it (0 B of content) are recovered"; cut in its header,
    # "not a readable gzip file (...)": one message for a log with no line to read
    first = b'{"pad": "' + os.urandom(150_000).hex().encode() + b'"}\n'  # 300 KB, compressed to about half
    packed = gzip.compress(first + DATA, mtime=0) if kind == "gzip" else _zstd(first + DATA)
    p = tmp_path / f"c.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    p.write_bytes(packed[:100_000])
    got, cut = compressed.inflate(p)
    assert 0 < len(got) < len(first) and cut is not None  # part of the first line alone
    for read in (lambda: read_logs(p, memory_budget="off"), lambda: read_logs(p, sample_requests=0.5)):
        with pytest.raises(LogError, match=f"^{p}: not a readable {kind} file .*inside its first line"):
            read()
    r = runner.invoke(app, ["convert", str(p), "-o", str(tmp_path / "x.parquet")], env=WIDE)
    assert r.exit_code == 1 and f"not a readable {kind} file" in r.stderr and "not a span log" not in r.stderr


def test_convert_into_a_folder_it_cannot_write_is_one_line_before_any_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as uid 65534 into a mode-555 folder: a 55-line PermissionError traceback from the spool's mkdtemp,
    # after the log was read
    log = tmp_path / "a.jsonl"
    log.write_bytes(DATA)
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro else real(p, mode, **kw))
    read: list[str] = []
    monkeypatch.setattr(partition, "_spool_logs", lambda *a, **k: read.append("read") or pytest.fail("read"))
    r = runner.invoke(app, ["convert", str(log), "-o", f"{ro}/"], env=WIDE)
    assert r.exit_code == 1 and r.stderr.strip() == f"error: --out {ro}/: cannot write there (permission denied)"
    assert not read


def test_a_spool_folder_that_cannot_be_made_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: object, **k: object) -> None:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".spool-x.convert"))

    monkeypatch.setattr(partition, "SpoolFolder", refuse)
    with pytest.raises(InputFileError, match="cannot write there \\(permission denied\\)"):
        partition.write_days(LogSource.of([str(tmp_path / "a.jsonl")]), tmp_path)


# ---- a reviewer's second look at the readers above ----------------------------------------------


def test_a_skippable_frame_states_no_content_size(tmp_path: Path) -> None:
    """Its size bytes were read as a frame header's (a 0xE0 payload: 1.8e19 bytes): a small log sampled to nothing."""
    head = _skippable(b"S" * 0xE0)
    assert compressed.zstd_frame_content_size(head + _zstd(DATA)) is None
    p = tmp_path / "skip.jsonl.zst"
    p.write_bytes(head + _zstd(DATA))
    df, rep = read_logs(p)  # the default budget: the estimate is the stated ratio, not exabytes
    assert len(df) == LINES and rep.sample is None


def test_junk_far_before_the_end_of_a_zstd_log_adds_no_stale_content(tmp_path: Path) -> None:
    """Only a read that might reach the file's end was zeroed: junk 18 MB before it left an earlier
    read's bytes in the buffer, read as content (lines counted twice)."""
    content = DATA * (20_000_000 // len(DATA) + 1)  # over one 16 MiB read
    p = tmp_path / "junk.jsonl.zst"
    p.write_bytes(_zstd(content) + b"\x01" + os.urandom(18_000_000))
    out, cut = compressed.inflate(p)
    assert isinstance(cut, compressed.TrailingJunk) and bytes(out) == content


def test_a_gzip_member_after_long_zero_padding_is_read(tmp_path: Path) -> None:
    """Only one 1 MiB read was taken after a member's zeros: a member after 2 MiB of them was dropped unsaid."""
    half = DATA.rfind(b"\n", 0, len(DATA) // 2) + 1
    p = tmp_path / "padded.jsonl.gz"
    p.write_bytes(gzip.compress(DATA[:half]) + b"\0" * (2 << 20) + gzip.compress(DATA[half:]))
    out, cut = compressed.inflate(p)
    assert cut is None and bytes(out) == DATA
