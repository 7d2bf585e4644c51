"""A gzip or zstd log cut short (rotated or copied while it was written) reads alike on every path: its
complete lines are read, the cut last line is rejected as cut with one warning naming the file and what
was recovered, and ``--strict`` refuses it. Before, the whole read kept only what preceded the last
16 MiB read (58,199 of 91,811 recoverable spans of a 3 MB cut zstd log), and the streamed read,
``convert``, the Dask engine and every gzip read refused the file."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.files import compressed
from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.logs.sample import EXPANSION, content_size
from recipemut.logs.stream import line_chunks
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
DATA = gzip.decompress((ROOT / "recipes" / "checkout" / "logs.jsonl.gz").read_bytes())  # 17.6 MB, 57,102 lines
WIDE = {"COLUMNS": "200"}
runner = CliRunner()


def _pack(kind: str, data: bytes) -> bytes:
    return gzip.compress(data) if kind == "gzip" else pa.compress(data, "zstd", asbytes=True)


#: after a whole stream, the magic of another gzip member or zstd frame, then garbage: a damaged stream
# a gzip member with a good header and a bad first block (reserved type 3): one whose header is bad is
# junk after the stream, as gzip -dc prints what precedes it (tests/test_reads_review7.py)
_BAD_NEXT = {
    "gzip": b"\x1f\x8b\x08\x00" + bytes(6) + b"\x07" + b"no frame here" * 10,
    "zstd": b"\x28\xb5\x2f\xfd" + b"no frame here" * 10,
}


def _cut(tmp_path: Path, kind: str, share: float = 0.4) -> Path:
    packed = _pack(kind, DATA)
    p = tmp_path / f"cut.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    p.write_bytes(packed[: int(len(packed) * share)])
    return p


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_every_reader_reads_the_complete_lines_of_a_cut_log(tmp_path: Path, kind: str) -> None:
    cut = _cut(tmp_path, kind)
    whole_df, whole = read_logs(cut, memory_budget="off")
    lines = whole.lines_read - 1  # the complete lines; the cut one is rejected
    if kind == "gzip":  # all zlib recovers
        assert lines == zlib.decompressobj(31).decompress(cut.read_bytes()).count(b"\n")
    else:  # all zstd could decompress: at most one block (128 KiB, ~450 lines) short of the cut's share
        assert abs(lines - 0.4 * 57_102) < 460
    assert whole.spans_kept == lines and dict(whole.rejected) == {"cut-short": 1}
    (rejection,) = whole.examples
    assert rejection.line == lines + 1 and f"the {kind} stream ends early, inside this line" in rejection.message
    assert f"the {lines:,} complete lines before it" in rejection.message

    _, streamed = read_logs(cut, sample_requests=0.5)  # in chunks
    assert (streamed.lines_read, dict(streamed.rejected), streamed.examples) == (
        whole.lines_read, dict(whole.rejected), whole.examples)  # fmt: skip

    recipe = load_recipe(RECIPE)
    for logs in (str(cut), cut.as_uri()):  # a local file in chunks; a URL's content whole
        _, dask, _ = read_partitioned([logs], recipe=recipe, engine="local")
        assert dask.lines_read == whole.lines_read and dask.spans_kept == whole.spans_kept
        (r,) = dask.examples
        assert (r.line, r.message) == (rejection.line, rejection.message)

    out = tmp_path / "x.parquet"
    r = runner.invoke(app, ["convert", str(cut), "-o", str(out)], env=WIDE)
    assert r.exit_code == 0, r.stderr
    assert pq.ParquetFile(out).metadata.num_rows == len(whole_df)


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
@pytest.mark.parametrize("extra", [[], ["--sample-requests", "0.5"], ["--engine", "dask"]])
def test_a_cut_log_warns_once_naming_the_file_and_what_was_recovered(
    tmp_path: Path, kind: str, extra: list[str]
) -> None:
    cut = _cut(tmp_path, kind)
    r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(cut), "-q", *extra], env=WIDE)
    assert r.exit_code == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert len(said) == 1, said
    assert said[0].startswith(f"warning: rejected {cut}:") and f"the {kind} stream ends early" in said[0]
    assert "complete lines before it" in said[0] and "MiB of content) are recovered" in said[0]


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_strict_refuses_a_cut_log_on_every_path(tmp_path: Path, kind: str) -> None:
    cut = _cut(tmp_path, kind)
    lines = set()
    for args in (
        ["profile", str(RECIPE), "--logs", str(cut)],
        ["profile", str(RECIPE), "--logs", str(cut), "--sample-requests", "0.5"],
        ["profile", str(RECIPE), "--logs", str(cut), "--engine", "dask"],
        ["convert", str(cut), "-o", str(tmp_path / "x.parquet")],
    ):
        r = runner.invoke(app, [*args, "--strict"], env=WIDE)
        assert r.exit_code == 1, (args, r.stderr)
        (line,) = r.stderr.strip().splitlines()
        lines.add(line)
    (line,) = lines
    assert line.startswith(f"error: {cut}:") and f"the {kind} stream ends early" in line
    assert line.endswith("[cut-short] (--strict)")


def test_a_cut_between_two_lines_is_said_too(tmp_path: Path) -> None:
    # two gzip members, the second cut inside its header: the content read ends with a whole line
    head, rest = DATA[:300_000].rsplit(b"\n", 1)[0] + b"\n", DATA[300_000:400_000]
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(gzip.compress(head) + gzip.compress(rest)[:12])
    n = head.count(b"\n")
    df, rep = read_logs(p)
    assert len(df) == n and rep.lines_read == n + 1
    (r,) = rep.examples
    assert r.line == n + 1 and "the gzip stream ends early, here, after a complete line" in r.message
    chunks = list(line_chunks(p, str(p), chunk_bytes=1 << 16))
    assert isinstance(chunks[-1][0], compressed.CutShort) and chunks[-1][0] == b"" and chunks[-1][1] == n


def test_several_gzip_members_read_whole(tmp_path: Path) -> None:
    p = tmp_path / "two.jsonl.gz"
    p.write_bytes(gzip.compress(DATA[:1000]) + b"\0\0" + gzip.compress(DATA[1000:500_000]))
    data, cut = compressed.inflate(p)
    assert data == DATA[:500_000] and cut is None


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_corrupt_stream_is_still_an_error_on_every_path(tmp_path: Path, kind: str) -> None:
    p = tmp_path / f"bad.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    # damaged, not cut: a second member or frame whose header is followed by garbage (bare junk is ignored)
    p.write_bytes(_pack(kind, DATA[:2_000_000]) + _BAD_NEXT[kind])
    for sample in (None, 0.5):
        with pytest.raises(LogError, match=f"not a readable {kind} file"):
            read_logs(p, sample_requests=sample, memory_budget="off")


def _unreadable(tmp_path: Path, kind: str) -> dict[str, Path]:
    """Small logs whose stream cannot be read, within their first 64 KiB (the head the Dask engine
    reads while it plans): cut before the first byte of content, corrupted mid-stream, damaged at the end."""
    packed, ext = _pack(kind, DATA[:40_000]), "gz" if kind == "gzip" else "zst"
    mid = len(packed) // 2
    flipped = bytes(b ^ 0x5A for b in packed[mid : mid + 16])
    made = {
        "cut": packed[:8],
        "mid": packed[:mid] + flipped + packed[mid + 16 :],
        "end": _pack(kind, DATA[:2_000_000]) + _BAD_NEXT[kind],
    }
    out = {}
    for case, blob in made.items():
        out[case] = tmp_path / f"{case}.jsonl.{ext}"
        out[case].write_bytes(blob)
    return out


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_an_unreadable_stream_is_worded_alike_by_every_engine_and_url(tmp_path: Path, kind: str) -> None:
    # the Dask engine said 'cannot be read (Truncated compressed stream)', code unreadable, of a zstd log
    # that the local engine calls 'not a readable zstd file (...)', code bad-gzip
    fsspec = pytest.importorskip("fsspec")
    recipe, memory = load_recipe(RECIPE), fsspec.filesystem("memory")
    for case, p in _unreadable(tmp_path, kind).items():
        with pytest.raises(LogError) as local:
            read_logs(p, memory_budget="off")
        said = str(local.value).removeprefix(f"{p}: ")
        assert said.startswith(f"not a readable {kind} file (") and local.value.code == "bad-gzip", (case, said)
        memory.pipe(f"/truncated-logs/{p.name}", p.read_bytes())
        for logs in (str(p), p.as_uri(), f"memory:///truncated-logs/{p.name}"):  # a path, a file:// URL, storage
            with pytest.raises(LogError) as dask:
                read_partitioned([logs], recipe=recipe, engine="local")
            assert (str(dask.value), dask.value.code) == (f"{logs}: {said}", "bad-gzip"), (case, logs)
    memory.rm("/truncated-logs", recursive=True)


def test_the_dask_engine_words_an_unreadable_zstd_log_as_the_local_one(tmp_path: Path) -> None:
    p = _unreadable(tmp_path, "zstd")["cut"]
    errors = set()
    for engine in ("local", "dask"):
        r = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(p), "--engine", engine], env=WIDE)
        assert r.exit_code == 1 and "Traceback" not in r.output, r.output
        (line,) = r.stderr.strip().splitlines()
        errors.add(line)
    assert errors == {f"error: {p}: not a readable zstd file (Truncated compressed stream)"}


def test_a_cut_gzip_log_is_not_sized_by_its_last_bytes(tmp_path: Path) -> None:
    # a cut gzip file ends in compressed data, not in a trailer: read as one, its last four bytes said
    # 4.4 GiB for 3 MB and the default budget sampled the log
    p = tmp_path / "cut.jsonl.gz"
    packed = gzip.compress(DATA)
    for end in range(len(packed) // 2, len(packed) // 2 + 64):
        if int.from_bytes(packed[end - 4 : end], "little") > compressed.gzip_limit(end):
            break
    p.write_bytes(packed[:end])
    assert content_size(p, "gzip", end) == int(end * compressed.GZIP_RATIO)


def _cuts_in_the_old_window(packed: bytes, count: int) -> list[int]:
    """Cut points of ``packed`` whose last four bytes, read as ISIZE, are over twice GZIP_RATIO times the
    cut's size yet within its gzip_limit (100x): the window a trailer was believed in before."""
    found = []
    for end in range(len(packed) // 2, len(packed)):
        said = int.from_bytes(packed[end - 4 : end], "little")
        if 2 * compressed.GZIP_RATIO * end < said <= compressed.gzip_limit(end):
            found.append(end)
            if len(found) == count:
                break
    return found


def test_a_cut_gzip_log_whose_last_bytes_look_like_a_size_is_not_sized_by_them(tmp_path: Path) -> None:
    # the last bytes of a cut file are compressed data: any value up to 100x its size was taken as its
    # size (14% of cuts at 6 MB: /tmp/r1/cutbig.jsonl.gz, 5,980,561 bytes, was 597,338,377 and sampled
    # at 0.66 under a 1G budget); past twice the ratio logs compress to, the ratio stands in
    packed = gzip.compress(DATA)
    ends = _cuts_in_the_old_window(packed, 3)
    assert len(ends) == 3
    p = tmp_path / "cut.jsonl.gz"
    for end in ends:
        p.write_bytes(packed[:end])
        assert content_size(p, "gzip", end) == int(end * compressed.GZIP_RATIO), end
    # a budget above what the log takes, below what its last bytes said: read whole, not sampled
    end = ends[0]
    p.write_bytes(packed[:end])
    said = int.from_bytes(packed[end - 4 : end], "little")
    budget = 2 * compressed.GZIP_RATIO * end * EXPANSION
    assert budget < said * EXPANSION
    df, rep = read_logs(p, memory_budget=str(int(budget)))
    assert rep.sample is None
    assert len(df) == zlib.decompressobj(31).decompress(packed[:end]).count(b"\n")  # every complete line


def test_a_wrapped_trailer_is_held_to_the_same_bound() -> None:
    # over 42.9 MB ISIZE may have wrapped: raised by 4 GiBs toward the ratio, then held to twice it
    size = 50_000_000
    for said in (3_500_000_000, 1_200_000_000):  # nearest GZIP_RATIO x size unwrapped, yet over 22x
        assert compressed.gzip_content_size(said.to_bytes(4, "little"), size) == size * compressed.GZIP_RATIO
    assert compressed.gzip_content_size((900_000_000).to_bytes(4, "little"), size) == 900_000_000  # 18x: taken


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_a_stream_cut_before_its_first_byte_is_unreadable(tmp_path: Path, kind: str) -> None:
    p = tmp_path / f"tiny.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    p.write_bytes(_pack(kind, DATA)[: 12 if kind == "gzip" else 100])  # before its first block ends
    with compressed.open_decompressed(p) as f, pytest.raises(compressed.STREAM_ERRORS):
        f.read()  # not an empty content: nothing could be read
    for sample in (None, 0.5):
        with pytest.raises(LogError, match=f"not a readable {kind} file"):
            read_logs(p, sample_requests=sample, memory_budget="off")
