"""Reading logs robustly: a plain OTLP file read by the compiled scanner's fast path is read, never
memory-mapped, and one cut while it is read is one line naming it (a mapped page past the new end was
a SIGBUS, which ends the process); a sparse log's memory estimate counts what it holds, not its
apparent size; a gzip stream of many (empty) members is read in time linear in its bytes; a recipe
(or a span mapping) given to ``--logs`` is named as one, told by its header.

The cut is made at a fixed point of the read (a hook on the read itself), so the tests race no timer.
"""

from __future__ import annotations

import gzip
import json
import mmap
import os
import random
import zlib
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
from _log_helpers import write_with_hole
from _telemetry_helpers import write_json
from test_formats_otlp_parts import ATTRS, _docs
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files import compressed
from recipemut.files.compressed import TrailingJunk, inflate, open_decompressed
from recipemut.logs import otlp, otlpfast, sample
from recipemut.logs.ingest import read_logs
from recipemut.logs.sources import HEAD_BYTES, recipemut_kind, refuse_other_kind

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"

needs_scanner = pytest.mark.skipif(not otlpfast.available(), reason="the fast-otlp extra (numba) is not installed")


@pytest.fixture
def export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Collector file (one export a line) that the fast path reads, whatever its size."""
    monkeypatch.setattr(otlpfast, "SCAN_BYTES", 0)
    return write_json(tmp_path / "export.json", _docs(40, 6), lines=True)


def _cut_after_read(monkeypatch: pytest.MonkeyPatch, path: Path, to: int = 1000) -> None:
    """Cut ``path`` to ``to`` bytes right after the first ``preadv`` of it returns."""
    real = os.preadv
    done: list[int] = []

    def read_then_cut(fd: int, buffers: list, offset: int, *args: int) -> int:
        got = real(fd, buffers, offset, *args)
        if not done:
            done.append(got)
            os.truncate(path, to)
        return got

    monkeypatch.setattr(os, "preadv", read_then_cut)


@needs_scanner
@pytest.mark.parametrize("block", [4096, 1 << 24], ids=["cut-between-two-reads", "cut-after-the-last-read"])
def test_a_plain_otlp_file_cut_while_the_fast_path_reads_it_is_one_error(
    export: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Cut between two reads (the next comes short) or after the only one (the file is then shorter)."""
    size = export.stat().st_size
    assert size > 2 * 4096
    monkeypatch.setattr(otlpfast, "READ_BYTES", block)
    _cut_after_read(monkeypatch, export)
    with pytest.raises(InputFileError) as e:
        otlpfast.read_raw(export, ATTRS)
    assert e.value.code == "file-changed"
    assert f"changed while it was read: it was {size:,} bytes, now 1,000" in str(e.value)


@needs_scanner
def test_profile_says_in_one_line_that_the_otlp_file_was_cut(export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cut_after_read(monkeypatch, export)
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(export)], env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    err = [x for x in res.output.splitlines() if x.strip()]
    assert len(err) == 1 and "export.json: changed while it was read" in err[0], res.output


@needs_scanner
def test_the_fast_path_never_maps_a_plain_file(export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_map(*args: object, **kwargs: object) -> None:
        raise AssertionError("a plain OTLP file was memory-mapped")

    monkeypatch.setattr(pa, "memory_map", no_map)
    monkeypatch.setattr(mmap, "mmap", no_map)
    raw, how = otlpfast.read_raw(export, ATTRS)
    assert how == "columnar"
    pd.testing.assert_frame_equal(raw, otlp.parse(export.read_bytes(), export, ATTRS), check_dtype=False)


@needs_scanner
def test_an_otlp_file_appended_to_while_it_is_read_is_read_as_it_was_when_opened(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = export.read_bytes()
    real = os.preadv

    def read_then_append(fd: int, buffers: list, offset: int, *args: int) -> int:
        with export.open("ab") as f:
            f.write(whole)
        return real(fd, buffers, offset, *args)

    monkeypatch.setattr(os, "preadv", read_then_append)
    raw, how = otlpfast.read_raw(export, ATTRS)
    assert how == "columnar"
    pd.testing.assert_frame_equal(raw, otlp.parse(whole, export, ATTRS), check_dtype=False)


def test_a_plain_file_beyond_the_limit_is_left_to_the_document_reader(
    export: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlpfast, "MAX_BYTES", 1000)
    assert otlpfast._load(export) is None


# ---- the memory estimate of a sparse file ---------------------------------------------------------

HOLE = 100 << 20  # over the 64 MiB a line may hold: the native reader rejects the line unread


def _lines(n: int = 3000) -> bytes:
    with gzip.open(ROOT / "recipes" / "checkout" / "logs.jsonl.gz", "rb") as f:
        return b"".join(f.readline() for _ in range(n))


def _sparse(tmp_path: Path, hole: int = HOLE, after: bytes = b"") -> Path:
    """3,000 spans, then ``hole`` NUL bytes never written (a hole), then ``after``."""
    p = write_with_hole(tmp_path / "s.jsonl", _lines(), hole, after)
    st = p.stat()
    if st.st_blocks * 512 >= st.st_size:
        pytest.skip("this file system does not keep holes")
    return p


def test_a_sparse_log_counts_its_data_not_its_hole(tmp_path: Path) -> None:
    data = len(_lines())
    p = _sparse(tmp_path)
    assert sample.read_size(p, p.stat().st_size) <= data + 4096  # the data and the rest of its last block
    assert sample.estimated_memory([p], {p: ""}, {p: "native"}) <= (data + 4096) * sample.EXPANSION
    (tmp_path / "q").mkdir()
    q = _sparse(tmp_path / "q", after=b"\n" + _lines(10))  # data after the hole counts too
    assert data < sample.read_size(q, q.stat().st_size) <= data + 2 * 4096 + len(_lines(10)) + 1


def test_a_hole_shorter_than_the_line_limit_counts_whole(tmp_path: Path) -> None:
    """A line of NULs under 64 MiB is read and held: its hole counts."""
    p = _sparse(tmp_path, hole=8 << 20, after=b"\n" + _lines(10))
    assert sample.read_size(p, p.stat().st_size) == p.stat().st_size


def test_a_log_that_is_not_sparse_counts_its_size(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(_lines() * 3)
    assert sample.read_size(p, p.stat().st_size) == p.stat().st_size
    assert sample.estimated_memory([p], {p: ""}) == int(p.stat().st_size * sample.EXPANSION)


def test_a_sparse_log_under_the_budget_is_read_whole_its_hole_one_rejected_line(tmp_path: Path) -> None:
    """Counted by its apparent size (270 MiB against a 250 MiB budget), it was sampled to 0.92 with a note."""
    p = _sparse(tmp_path)
    res = CliRunner().invoke(
        app, ["profile", str(RECIPE), "--logs", str(p), "--memory-budget", "250M", "--format", "json"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "sampled" not in res.stderr, res.stderr
    assert "s.jsonl:3001: a line of 104,857,60" in res.stderr and "(not read)" in res.stderr, res.stderr
    ingest = json.loads(res.stdout)["ingest"]
    assert (ingest["spans_kept"], ingest["rejected_total"], ingest["requests"]) == (3000, 1, 209), ingest
    assert (ingest["sampling"], ingest["request_sample"], ingest["notes"]) == (None, 1.0, []), ingest
    assert ingest["examples"][0]["line"] == 3001


# ---- gzip streams of many members -------------------------------------------------------------------


def _read_gz(path: Path) -> bytes:
    data, cut = inflate(path)
    assert cut is None, cut
    return bytes(data)


@pytest.mark.parametrize(
    "member",
    [lambda b: gzip.compress(b, mtime=0), lambda b: gzip.compress(b, compresslevel=0)],
    ids=["empty-fixed-block", "empty-stored-block"],
)
def test_many_empty_members_read_as_one_member_of_the_same_content(tmp_path: Path, member) -> None:
    """Empty members (some skipped as a run, stored-block ones decompressed one by one) around a real
    log, and zero padding between members: the content of the log gzipped in one member."""
    log = _lines(300)
    many = tmp_path / "many.jsonl.gz"
    many.write_bytes(member(b"") * 5000 + gzip.compress(log[:20_000]) + b"\0" * 3000 + member(b"") * 5000
                     + gzip.compress(log[20_000:]) + member(b"") * 300)  # fmt: skip
    one = tmp_path / "one.jsonl.gz"
    one.write_bytes(gzip.compress(log))
    assert _read_gz(many) == _read_gz(one) == log
    with open_decompressed(many) as f:  # read in small pieces, across member and read boundaries
        pieces = iter(lambda: f.read(777), b"")
        assert b"".join(pieces) == log


class _Counted:
    """A zlib decompressor that adds up the compressed bytes handed to it (into ``fed``)."""

    def __init__(self, fed: list[int], wbits: int) -> None:
        self.z, self.fed = zlib.decompressobj(wbits), fed

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        self.fed[0] += len(data)
        return self.z.decompress(data, max_length)

    def __getattr__(self, name: str) -> object:
        return getattr(self.z, name)


@pytest.mark.parametrize("level", [9, 0], ids=["empty-fixed-block", "empty-stored-block"])
def test_many_members_are_handed_to_zlib_in_bytes_linear_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: int
) -> None:
    """800,000 empty members (16 MB) took 87 s for profile: each member's decompressor was handed (and
    copied) the rest of a 1 MiB read, 8e11 bytes in all. Counted, not timed: a handful of times the
    file's bytes."""
    fed = [0]
    monkeypatch.setattr(compressed, "zlib", SimpleNamespace(
        decompressobj=lambda wbits: _Counted(fed, wbits), error=zlib.error, MAX_WBITS=zlib.MAX_WBITS))  # fmt: skip
    p = tmp_path / "e.gz"
    p.write_bytes(gzip.compress(b"", compresslevel=level) * 40_000 + gzip.compress(_lines(100)))
    assert _read_gz(p) == _lines(100)
    assert fed[0] < 8 * p.stat().st_size, fed[0]


def test_empty_members_then_a_real_log_give_the_real_logs_spans(tmp_path: Path) -> None:
    log = _lines(300)
    p = tmp_path / "app.jsonl.gz"
    p.write_bytes(gzip.compress(b"") * 100_000 + gzip.compress(log))
    plain = tmp_path / "app.jsonl"
    plain.write_bytes(log)
    df, rep = read_logs(p, memory_budget="off")
    want, _ = read_logs(plain, memory_budget="off")
    assert len(df) == 300 and rep.rejected_total == 0
    pd.testing.assert_frame_equal(df.drop(columns="source_file"), want.drop(columns="source_file"))


def test_junk_and_a_cut_after_many_members_are_still_told(tmp_path: Path) -> None:
    log = _lines(50)
    body = gzip.compress(b"") * 3000 + gzip.compress(log)
    junk = tmp_path / "junk.gz"
    junk.write_bytes(body + b"not gzip")
    data, cut = inflate(junk)
    assert bytes(data) == log and isinstance(cut, TrailingJunk) and cut.at == len(body)
    short = tmp_path / "cut.gz"
    short.write_bytes((body + gzip.compress(log))[: len(body) + 200])
    data, cut = inflate(short)
    assert isinstance(cut, EOFError) and bytes(data).startswith(log) and len(data) > len(log)


# ---- recipemut's own YAML files given to --logs -------------------------------------------------------


def _long_recipe(tmp_path: Path) -> Path:
    """The checkout recipe with 2,000 more fields: its ``operations:`` key starts past the first 64 KiB."""
    text = RECIPE.read_text()
    pad = "".join(f"  padding_field_with_a_long_name_{i:04d}: {{type: string}}\n" for i in range(2000))
    p = tmp_path / "long.yaml"
    p.write_text(text.replace("\nfields:\n", "\nfields:\n" + pad, 1))
    assert p.read_bytes().index(b"\noperations:") > HEAD_BYTES
    return p


@pytest.mark.parametrize("command", ["profile", "convert"])
def test_a_recipe_whose_operations_come_late_is_named_as_one(tmp_path: Path, command: str) -> None:
    r = _long_recipe(tmp_path)
    args = ["profile", str(RECIPE), "--logs", str(r)] if command == "profile" else [
        "convert", str(r), "-o", str(tmp_path / "x.parquet")]  # fmt: skip
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.output
    err = [x for x in res.output.splitlines() if x.strip()]
    assert len(err) == 1, res.output
    assert f"{r}: is a recipe (YAML), not a log: give it as the command's first argument" in err[0], res.output


@pytest.mark.parametrize(
    "header",
    [
        "apiVersion: recipemut/v1\nkind: Recipe\n",
        "# a comment\n---\nkind: 'Recipe'   # quoted, a comment after it\n",
        'apiVersion: "recipemut/v1"\n',  # kind past the head: a recipemut document of this length is a recipe
    ],
    ids=["header", "quoted-kind", "version-only"],
)
def test_a_recipe_is_told_by_its_header(header: str) -> None:
    head = (header + "name: x\nfields:\n" + "  f: {type: string}\n" * 5000).encode()[:HEAD_BYTES]
    with pytest.raises(InputFileError, match="is a recipe \\(YAML\\), not a log"):
        refuse_other_kind(head, "r.yaml")


def test_a_span_mapping_given_to_logs_is_named_as_one(tmp_path: Path) -> None:
    m = tmp_path / "mapping.yaml"
    m.write_text(
        "apiVersion: recipemut/v1\nkind: SpanMapping\noperations:\n  - match: {name: GetCart}\n    op: load_cart\n"
    )
    res = CliRunner().invoke(app, ["profile", str(RECIPE), "--logs", str(m)], env={"COLUMNS": "200"})
    assert res.exit_code == 1, res.output
    assert f"{m}: is a span mapping (YAML), not a log: give it to --map" in res.output, res.output


@pytest.mark.parametrize("junk", [b"kind: Recipe\n", b"apiVersion: recipemut/v1\n"])
def test_a_log_with_a_junk_header_line_is_still_a_log(tmp_path: Path, junk: bytes) -> None:
    """The header rule needs a first line that is not a JSON object, as the ``operations:`` rule does."""
    log = tmp_path / "l.jsonl"
    spans = _lines(40).splitlines(keepends=True)
    log.write_bytes(b"".join(spans[:20]) + junk + b"".join(spans[20:]))
    df, rep = read_logs(log, memory_budget="off")
    assert len(df) == 40 and sum(rep.rejected.values()) == 1 and rep.examples[0].line == 21


def test_yaml_that_is_not_recipemut_s_is_no_recipe() -> None:
    for head in (b"apiVersion: v1\nkind: Pod\n", b"kind: Task\n", b"  kind: Recipe\n", b"kind: Recipes\n"):
        assert recipemut_kind(head) == "", head


@pytest.mark.parametrize("seed", range(6))
def test_members_of_every_size_read_back_across_reads_and_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Members of 0 to 6,000 bytes (stored, fixed and dynamic blocks), zero padding between some, read
    4 KiB of the file at a time (members and padding cut by every read) into pieces of every size."""
    rng = random.Random(seed)
    monkeypatch.setattr(compressed._Gunzip, "_IN", 4096)
    text = _lines(200)
    parts, stream = [], b""
    spans = []  # each member's first byte and end in the stream
    for _ in range(600):
        at = rng.randrange(len(text))
        part = text[at : at + rng.choice([0, 0, 1, 30, 700, 6000])]
        parts.append(part)
        member = gzip.compress(part, compresslevel=rng.choice([0, 1, 9]), mtime=0)
        spans.append((len(stream), len(stream) + len(member)))
        stream += member
        if rng.random() < 0.1:
            stream += b"\0" * rng.choice([1, 2, 5000])
    p = tmp_path / "many.gz"
    p.write_bytes(stream)
    want = b"".join(parts)
    assert _read_gz(p) == want
    with open_decompressed(p) as f:
        got = []
        while piece := f.read(rng.choice([1, 7, 100, 5000, 70_000])):
            got.append(piece)
    assert b"".join(got) == want
    for _ in range(20):  # cut anywhere: in a member, on a boundary, in padding
        at = rng.randrange(len(stream) // 2, len(stream))
        cut = tmp_path / "cut.gz"
        cut.write_bytes(stream[:at])
        data, why = inflate(cut)
        whole = b"".join(part for part, (_, end) in zip(parts, spans, strict=True) if end <= at)
        assert bytes(data).startswith(whole) and want.startswith(bytes(data)), at
        if any(first < at < end for first, end in spans):  # in a member: a cut, said
            assert isinstance(why, EOFError), (at, why)
        else:  # between members: the stream ends there
            assert why is None and bytes(data) == whole, (at, why)
