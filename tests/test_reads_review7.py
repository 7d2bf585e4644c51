"""A review of the morning's low-level reading (review 7): a sparse file's hole is left out of the memory
estimate only for native JSONL, whose reader skips it; the readers that hold a trace file whole refuse
a hole of 64 MiB or more before allocating it (a 600 MiB hole, 151 KB on disk, peaked at 3.96 GB then
failed 'not valid JSON'); one read-to-size helper says a cut file's display name; the long-line scan
over holes and cuts; gzip content before a bad member is read, the member reported as trailing junk.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
from _telemetry_helpers import write_json
from test_formats_otlp_parts import _docs
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files import compressed
from recipemut.files.compressed import HOLE_BYTES, SparseHole, TrailingJunk, big_hole, inflate
from recipemut.logs import lines, otlpfast, sample
from recipemut.logs.common import read_bytes
from recipemut.logs.lines import Snapshot, pread_exact

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
HOLE = 100 << 20  # over the 64 MiB limit

needs_scanner = pytest.mark.skipif(not otlpfast.available(), reason="the fast-otlp extra (numba) is not installed")


def _holed(path: Path, head: bytes, hole: int, tail: bytes) -> Path:
    """``head``, then ``hole`` bytes never written (a hole of the file system), then ``tail``."""
    with path.open("wb") as f:
        f.write(head)
        f.seek(len(head) + hole)
        f.write(tail)
    st = path.stat()
    if st.st_blocks * 512 >= st.st_size:
        pytest.skip("this file system does not keep holes")
    return path


def _otlp_holed(tmp_path: Path, hole: int = HOLE) -> Path:
    """A Collector file (one export a line) with a hole between two of its lines (/tmp/rv7/otlphole.py)."""
    src = write_json(tmp_path / "src.json", _docs(40, 6), lines=True)
    data = src.read_bytes()
    half = data.rfind(b"\n", 0, len(data) // 2) + 1
    return _holed(tmp_path / "holed.json", data[:half], hole, b"\n" + data[half:])


def _native_holed(tmp_path: Path) -> Path:
    import gzip

    with gzip.open(ROOT / "recipes" / "checkout" / "logs.jsonl.gz", "rb") as f:
        lines = b"".join(f.readline() for _ in range(3000))
    return _holed(tmp_path / "holed.jsonl", lines, HOLE, b"\n")


# ---- 1. the memory estimate and the readers of whole files -------------------------------------------


def test_only_native_jsonl_has_its_hole_left_out_of_the_estimate(tmp_path: Path) -> None:
    otlp_file = _otlp_holed(tmp_path)
    size = otlp_file.stat().st_size
    assert sample.plain_format(otlp_file) == "otlp"
    assert sample.estimated_memory([otlp_file], {otlp_file: ""}, {otlp_file: "otlp"}) == int(size * sample.EXPANSION)
    native = _native_holed(tmp_path)
    assert sample.plain_format(native) == "native"
    assert sample.estimated_memory([native], {native: ""}, {native: "native"}) < native.stat().st_size
    assert sample.plain_format(native, "zipkin") == "zipkin"  # --log-format says what reads it


def test_a_sparse_otlp_file_is_sampled_by_its_size_a_native_one_by_its_data(tmp_path: Path) -> None:
    """The OTLP readers hold the hole (or refuse it): counted as its data only, it was left unsampled."""
    otlp_file = _otlp_holed(tmp_path)
    sampler, why = sample.sampler_for([otlp_file], None, "200M")
    assert sampler is not None and sampler.fraction < 1, why
    native = _native_holed(tmp_path)
    assert sample.sampler_for([native], None, "200M") == (None, "")
    sampler, why = sample.sampler_for([native], None, "200M", log_format="otlp")
    assert sampler is not None, why


def test_big_hole_finds_the_first_hole_of_the_limit_or_more(tmp_path: Path) -> None:
    p = _holed(tmp_path / "h", b"x" * 10, 8 << 20, b"y" * 10)  # a short hole: read (a line of NULs)
    fd = os.open(p, os.O_RDONLY)
    try:
        assert big_hole(fd, p.stat().st_size) is None
    finally:
        os.close(fd)
    q = _holed(tmp_path / "q", b"x" * 10, HOLE, b"y")
    fd = os.open(q, os.O_RDONLY)
    try:
        hole = big_hole(fd, q.stat().st_size)
        assert hole is not None and hole.at <= 4096 and hole.at + hole.length >= 10 + HOLE - 4096
        assert big_hole(fd, 1000) is None  # only the bytes asked about
    finally:
        os.close(fd)
    tail = tmp_path / "t"
    tail.write_bytes(b"{}\n")
    os.truncate(tail, HOLE)  # a hole to the end of the file
    fd = os.open(tail, os.O_RDONLY)
    try:
        hole = big_hole(fd, HOLE)
        assert hole is not None and hole.at + hole.length == HOLE
    finally:
        os.close(fd)


@needs_scanner
def test_the_fast_path_refuses_a_hole_before_it_allocates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _otlp_holed(tmp_path)

    def no_alloc(size: int) -> None:
        raise AssertionError(f"{size:,} bytes allocated for a file with a hole")

    monkeypatch.setattr(pa, "allocate_buffer", no_alloc)
    with pytest.raises(InputFileError) as e:
        otlpfast._read_plain(p)
    assert e.value.file == str(p)
    assert "cannot read: a hole of " in e.value.message and " bytes at byte " in e.value.message


@pytest.mark.parametrize("fmt", ["zipkin", "jaeger"])
def test_the_document_readers_refuse_a_hole_before_they_read(tmp_path: Path, fmt: str) -> None:
    head = b'[{"traceId": "a", "id": "b", "localEndpoint": {}}, ' if fmt == "zipkin" else b'{"data": [{"traceID": "a", '
    p = _holed(tmp_path / f"{fmt}.json", head, HOLE, b'"spans": []}]}\n')
    with pytest.raises(SparseHole) as e:
        inflate(p)
    assert e.value.at < len(head) + 4096 and e.value.length >= HOLE - 4096
    with pytest.raises(InputFileError) as f:
        read_bytes(p)
    assert f.value.file == str(p) and f.value.message.startswith("cannot read: a hole of ")


@pytest.mark.parametrize("scanner", [True, False], ids=["fast-path", "msgspec"])
def test_profile_says_in_one_line_where_the_otlp_file_s_hole_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scanner: bool
) -> None:
    if not scanner:
        monkeypatch.setattr(otlpfast, "available", lambda: False)
    elif not otlpfast.available():
        pytest.skip("the fast-otlp extra (numba) is not installed")
    p = _otlp_holed(tmp_path)
    res = CliRunner().invoke(
        app, ["profile", str(RECIPE), "--logs", str(p), "--memory-budget", "300M"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    err = [x for x in res.output.splitlines() if x.strip()]
    assert len(err) == 1 and "holed.json: cannot read: a hole of " in err[0] and " at byte " in err[0], res.output


def test_a_short_hole_is_read_as_before(tmp_path: Path) -> None:
    """Under the limit, a hole is read (its NULs are then the parser's to refuse)."""
    p = _holed(tmp_path / "short.json", b"[", HOLE_BYTES - (1 << 20), b"]")
    data, cut = inflate(p)
    assert cut is None and len(data) == p.stat().st_size


# ---- 2. one read-to-size helper -------------------------------------------------------------------------


def test_pread_exact_fills_the_view_across_short_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "f"
    p.write_bytes(bytes(range(256)) * 40)
    real = os.preadv

    def three_at_a_time(fd: int, buffers: list, offset: int, *args: int) -> int:
        return real(fd, [memoryview(buffers[0])[:3]], offset, *args)

    monkeypatch.setattr(os, "preadv", three_at_a_time)
    out = bytearray(1000)
    fd = os.open(p, os.O_RDONLY)
    try:
        pread_exact(fd, memoryview(out), 77, "shown.log", 10240)
        assert bytes(out) == p.read_bytes()[77:1077]
        os.truncate(p, 500)
        with pytest.raises(InputFileError) as e:
            pread_exact(fd, memoryview(out), 0, "shown.log", 10240)
    finally:
        os.close(fd)
    assert e.value.file == "shown.log" and e.value.code == "file-changed"
    assert "it was 10,240 bytes, now 500" in e.value.message


@needs_scanner
@pytest.mark.parametrize("block", [4096, 1 << 24], ids=["cut-between-two-reads", "cut-after-the-last-read"])
def test_an_otlp_file_cut_on_standard_input_is_named_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """The fast path's cut message names the file as the user gave it (``<stdin>``), not its copy."""
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", 0)
    monkeypatch.setattr(otlpfast, "READ_BYTES", block)
    data = write_json(tmp_path / "export.json", _docs(40, 6), lines=True).read_bytes()
    real = os.preadv
    done: list[int] = []

    def read_then_cut(fd: int, buffers: list, offset: int, *args: int) -> int:
        got = real(fd, buffers, offset, *args)
        if not done and os.fstat(fd).st_size == len(data):
            done.append(got)
            with open(f"/proc/self/fd/{fd}", "r+b") as f:  # the copy, whatever its name
                f.truncate(1000)
        return got

    monkeypatch.setattr(os, "preadv", read_then_cut)
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", "-"], input=data, env={"COLUMNS": "200"})
    assert done, "the copy of standard input was not read by the fast path"
    assert res.exit_code == 1, res.output
    err = [x for x in res.output.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith("error: <stdin>: changed while it was read"), res.output
    assert f"it was {len(data):,} bytes, now 1,000" in err[0], res.output


# ---- 3. the long-line scan's probe ---------------------------------------------------------------------


def test_the_scan_of_a_small_file_allocates_no_more_than_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe was a 16 MiB bytearray on every open, whatever the file's size."""
    sizes: list[int] = []

    def spy(n: int = 0) -> bytearray:
        sizes.append(n)
        return bytearray(n)

    monkeypatch.setattr(lines, "bytearray", spy, raising=False)
    p = tmp_path / "one.jsonl"
    p.write_bytes(b'{"request_id": "r"}\n' * 5)
    with Snapshot.open(str(p), "one.jsonl") as snap:
        assert snap.long == []
    assert sizes and max(sizes) <= p.stat().st_size


def _bytes_read_by_open(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[int, int]], int]:
    asked: list[int] = []
    real = os.preadv

    def count(fd: int, buffers: list[memoryview], at: int) -> int:
        asked.append(sum(len(b) for b in buffers))
        return real(fd, buffers, at)

    monkeypatch.setattr(os, "preadv", count)
    with Snapshot.open(str(path), path.name) as snap:
        found = snap.long
    monkeypatch.setattr(os, "preadv", real)
    return found, sum(asked)


@pytest.mark.parametrize("where", [0.45, 0.5, 0.55, 0.7])
def test_a_block_whose_only_line_end_is_near_its_middle_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: float
) -> None:
    """The forward probe doubled past the middle to the block's end, then the backward probe read back
    to the line end: one and a half blocks (at 0.5: 119 bytes of a 64-byte block). Now a probe that
    would pass the middle reads the rest of the block, which holds the last line end too."""
    monkeypatch.setattr(lines, "_READ_BLOCK", 64)
    monkeypatch.setattr(lines, "_PROBE", 4)
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 30)
    body = bytearray(b"x" * 128)  # two blocks, each with one line end
    for block in (0, 64):
        body[block + int(64 * where)] = 10
    p = tmp_path / "mid.jsonl"
    p.write_bytes(bytes(body))
    found, read = _bytes_read_by_open(p, monkeypatch)
    ends = [i for i, b in enumerate(body) if b == 10]
    spans = zip([0, ends[0] + 1, ends[1] + 1], [ends[0], ends[1], len(body)], strict=True)
    assert found == [(a, b) for a, b in spans if b - a > 30]
    assert read <= len(body)


def test_a_log_of_short_lines_is_still_read_a_probe_a_block_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line ends at every few bytes: one probe from each end of each block, as before."""
    monkeypatch.setattr(lines, "_READ_BLOCK", 4096)
    monkeypatch.setattr(lines, "_PROBE", 16)
    p = tmp_path / "short.jsonl"
    p.write_bytes(b"{}\n" * 10_000)
    found, read = _bytes_read_by_open(p, monkeypatch)
    assert found == [] and read <= 2 * 16 * (30_000 // 4096 + 1)


# ---- 4. gzip: content, then a member that is none -----------------------------------------------------

CONTENT = b'{"request_id": "r"}\n' * 30
MEMBER = gzip.compress(CONTENT, mtime=0)
EMPTY = gzip.compress(b"", mtime=0)
BAD_HEADERS = {
    "not-deflate": b"\x1f\x8bxxxxxxxx",  # /tmp/rv7/gzcut.py
    "method-9": b"\x1f\x8b\x09\x00" + bytes(6) + b"\x03\x00",
    "reserved-flags": b"\x1f\x8b\x08\xe0" + bytes(6) + b"\x03\x00",
}


def _read_all(data: bytes, size: int = 4096) -> tuple[bytes, BaseException | None]:
    g = compressed._Gunzip(io.BytesIO(data))
    out = bytearray()
    try:
        while k := g.readinto(buf := bytearray(size)):
            out += buf[:k]
    except compressed.STREAM_ERRORS as e:
        return bytes(out), e
    return bytes(out), None


@pytest.mark.parametrize("bad", list(BAD_HEADERS.values()), ids=list(BAD_HEADERS))
@pytest.mark.parametrize(
    "before", [MEMBER, MEMBER + EMPTY * 10, EMPTY * 3 + MEMBER + MEMBER], ids=["one", "empties", "two"]
)
@pytest.mark.parametrize("read_in", [1 << 20, 7], ids=["1MiB", "7B"])
def test_content_then_a_bad_member_reads_the_content_and_reports_the_junk(
    monkeypatch: pytest.MonkeyPatch, bad: bytes, before: bytes, read_in: int
) -> None:
    """It returned 0 bytes, then zlib's 'unknown compression method' (the CLI: 'not a readable gzip file')."""
    monkeypatch.setattr(compressed._Gunzip, "_IN", read_in)
    content = gzip.decompress(before)
    got, why = _read_all(before + bad)
    assert got == content
    assert isinstance(why, TrailingJunk) and why.at == len(before), why


def test_a_bad_member_after_content_is_junk_to_inflate(tmp_path: Path) -> None:
    p = tmp_path / "bad.gz"
    p.write_bytes(MEMBER + BAD_HEADERS["not-deflate"])
    data, why = inflate(p)
    assert bytes(data) == CONTENT and isinstance(why, TrailingJunk) and why.at == len(MEMBER)


def test_a_stream_error_after_content_returns_the_content_first() -> None:
    """A member with a good header and a bad block (reserved type 3): the read gives the bytes before it,
    the next read raises zlib's error (it was raised at once, the read's bytes lost)."""
    corrupt = b"\x1f\x8b\x08\x00" + bytes(6) + b"\x07\x00\x00\x00"
    g = compressed._Gunzip(io.BytesIO(MEMBER + corrupt))
    buf = bytearray(4096)
    assert g.readinto(buf) == len(CONTENT) and bytes(buf[: len(CONTENT)]) == CONTENT
    with pytest.raises(zlib.error):
        g.readinto(buf)


def test_profile_reads_the_lines_before_a_bad_member_and_warns_of_the_junk(tmp_path: Path) -> None:
    with gzip.open(ROOT / "recipes" / "checkout" / "logs.jsonl.gz", "rb") as f:
        log = b"".join(f.readline() for _ in range(500))
    body = gzip.compress(log, mtime=0)
    p = tmp_path / "bad.jsonl.gz"
    p.write_bytes(body + BAD_HEADERS["not-deflate"])
    args = ["profile", str(RECIPE), "--logs", str(p), "--format", "json"]
    for extra in ([], ["--sample-requests", "0.99"]):  # read whole, and streamed in chunks
        res = CliRunner().invoke(app, args + extra, env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert f"not gzip from byte {len(body):,} of the file" in res.stderr, res.stderr
        assert "the 500 complete lines before them" in res.stderr, res.stderr
        assert json.loads(res.stdout)["ingest"]["lines_read"] >= 500
    res = CliRunner().invoke(app, [*args, "--strict"], env={"COLUMNS": "200"})
    assert res.exit_code == 1 and "(--strict)" in res.output and "unknown compression method" not in res.output
