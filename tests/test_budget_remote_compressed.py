"""The memory budget counts gzip and zstd logs in object storage (recipemut/logs/distributed.py
plan_partitions, _fraction; recipemut/files/compressed.py gzip_content_size, zstd_frame_content_size):
by a gzip file's trailer and a zstd frame's header, read by small ranged reads, and a stated ratio of
the compressed size when they cannot say. Object storage is fsspec's in-memory filesystem here (a
``file://`` URL is a local file, counted by its path as it always was)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.compressed import GZIP_RATIO, ZSTD_MAGIC, gzip_content_size, zstd_frame_content_size
from recipemut.logs.distributed import plan_partitions, read_partitioned
from recipemut.logs.sample import ZSTD_RATIO
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe

fsspec = pytest.importorskip("fsspec")

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
FOLDER = "/budget-remote-compressed"


def _zstd(data: bytes) -> bytes:
    """zstd as the ``zstd`` tool writes a file: one frame whose header holds the content size."""
    return pa.Codec("zstd").compress(data, asbytes=True)


def _zstd_streamed(data: bytes) -> bytes:
    """zstd as a stream is written (a pipe, a logger): no content size in the frame header."""
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as z:
        z.write(data)
    return sink.getvalue().to_pybytes()


@pytest.fixture(scope="module")
def content() -> bytes:
    """The first 20,000 lines of the shipped checkout log (about 1,400 requests)."""
    return b"".join(gzip.decompress(LOGS.read_bytes()).splitlines(keepends=True)[:20_000])


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe(RECIPE)


@pytest.fixture
def store() -> Iterator[object]:
    fs = fsspec.filesystem("memory")
    yield fs
    if fs.exists(FOLDER):
        fs.rm(FOLDER, recursive=True)


def _put(fs: object, name: str, blob: bytes) -> str:
    fs.pipe(f"{FOLDER}/{name}", blob)  # type: ignore[attr-defined]
    return f"memory:/{FOLDER}/{name}"


# ---- the figures read from a trailer or a frame header ------------------------------------------------


@pytest.mark.parametrize("n", [100, 300, 70_000])  # a size field of 1, 2 (less 256) and 4 bytes
def test_zstd_frame_content_size_is_what_the_frame_holds(n: int) -> None:
    assert zstd_frame_content_size(_zstd(b"x" * n)[:18]) == n
    assert zstd_frame_content_size(_zstd_streamed(b"x" * n)[:18]) is None
    assert zstd_frame_content_size(gzip.compress(b"x" * n)[:18]) is None


def test_zstd_frame_content_size_reads_8_byte_sizes_after_a_window_and_dictionary() -> None:
    eight = ZSTD_MAGIC + bytes([0xE0]) + (5 << 32).to_bytes(8, "little")  # single segment, 8-byte size
    with_dict = ZSTD_MAGIC + bytes([0x81, 0x50, 0x07]) + (123_456).to_bytes(4, "little")  # window, 1-byte dict id
    assert zstd_frame_content_size(eight) == 5 << 32
    assert zstd_frame_content_size(with_dict) == 123_456
    assert zstd_frame_content_size(with_dict[:-1]) is None  # cut short


def test_gzip_content_size_from_the_trailer_or_the_stated_ratio(content: bytes) -> None:
    one = gzip.compress(content)
    assert gzip_content_size(one[-4:], len(one)) == len(content)
    members = one + gzip.compress(content[:100])  # two members: the trailer is the last one's (100 bytes)
    assert gzip_content_size(members[-4:], len(members)) == int(len(members) * GZIP_RATIO)
    # a file that may hold more than 4 GiB: ISIZE (the size modulo 4 GiB) raised by whole 4 GiBs
    size = 1 << 30  # 1 GiB of gzip
    for true in (10 * size, 12 * size + 12_345, 9 * size):  # within 2 GiB of GZIP_RATIO times its size: exact
        assert gzip_content_size((true % (1 << 32)).to_bytes(4, "little"), size) == true
    # a last member's 100 bytes: taken as near GZIP_RATIO times the size as ISIZE allows
    assert abs(gzip_content_size((100).to_bytes(4, "little"), size) - GZIP_RATIO * size) <= 1 << 31
    assert gzip_content_size(b"", 10) == 10 * GZIP_RATIO  # no trailer


# ---- the partitions in object storage carry their content's size --------------------------------------


def test_partitions_in_object_storage_hold_their_content_size(store: object, content: bytes) -> None:
    streamed = _zstd_streamed(content)
    members = gzip.compress(content) + gzip.compress(content[:100])
    cases = {
        "a.jsonl.gz": (gzip.compress(content), len(content)),
        "a.jsonl.zst": (_zstd(content), len(content)),
        "streamed.jsonl.zst": (streamed, len(streamed) * ZSTD_RATIO),  # no size in the frame: the stated ratio
        "members.jsonl.gz": (members, int(len(members) * GZIP_RATIO)),  # the last member's trailer: the ratio
    }
    for name, (blob, expected) in cases.items():
        [part] = plan_partitions([_put(store, name, blob)])
        assert (part.kind, part.end, part.content) == ("packed", len(blob), expected), name


def test_the_estimate_grows_with_the_content(store: object, content: bytes) -> None:
    half = content[: content.rindex(b"\n", 0, len(content) // 2) + 1]
    for pack in (gzip.compress, _zstd):
        small, whole = (
            plan_partitions([_put(store, f"{n}.log", pack(c))])[0] for n, c in (("h", half), ("w", content))
        )
        assert (small.content, whole.content) == (len(half), len(content)), pack


# ---- a small budget samples them as it samples the same file by path --------------------------------


@pytest.mark.parametrize("pack", [gzip.compress, _zstd], ids=["gzip", "zstd"])
def test_a_small_budget_samples_compressed_logs_in_object_storage(
    store: object, content: bytes, recipe: Recipe, tmp_path: Path, pack: object
) -> None:
    blob = pack(content)  # type: ignore[operator]
    local = tmp_path / "logs.jsonl.packed"
    local.write_bytes(blob)
    budget = str(int(len(content) * 2.7) // 10)  # about a tenth of the estimate
    _, by_path, _ = read_partitioned([local], recipe=recipe, engine="local", memory_budget=budget)
    assert by_path.sample is not None and by_path.sample.automatic and 0.05 < by_path.sample.fraction < 0.15
    for url in (_put(store, "logs.jsonl.packed", blob), f"file://{local}"):
        _, rep, _ = read_partitioned([url], recipe=recipe, engine="local", memory_budget=budget)
        assert rep.sample is not None and rep.sample.automatic, url
        assert (rep.sample.fraction, rep.sample.requests_kept) == (by_path.sample.fraction,
                                                                    by_path.sample.requests_kept), url  # fmt: skip
    _, whole, _ = read_partitioned([_put(store, "again.jsonl.packed", blob)], recipe=recipe, engine="local",
                                   memory_budget=str(len(content) * 3))  # fmt: skip
    assert whole.sample is None  # within a budget that holds it: every request


def test_profile_engine_dask_samples_a_gzip_log_in_object_storage(
    store: object, content: bytes, tmp_path: Path
) -> None:
    """The command as a user runs it on a cluster (an in-process one here: it sees the in-memory files)."""
    distributed = pytest.importorskip("distributed")
    url = _put(store, "day.jsonl.gz", gzip.compress(content))
    local = tmp_path / "day.jsonl.gz"
    local.write_bytes(gzip.compress(content))
    budget = str(int(len(content) * 2.7) // 10)
    args = ["profile", str(RECIPE), "--format", "json", "--memory-budget", budget]
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as c:
        r = CliRunner().invoke(app, [*args, "--logs", url, "--engine", "dask", "--scheduler", c.scheduler_address])
    here = CliRunner().invoke(app, [*args, "--logs", str(local)])
    assert r.exit_code == 0 and here.exit_code == 0, r.output
    got, want = json.loads(r.stdout)["ingest"]["sampling"], json.loads(here.stdout)["ingest"]["sampling"]
    assert got is not None and got["automatic"], r.stdout[-400:]
    assert (got["fraction"], got["requests_kept"]) == (want["fraction"], want["requests_kept"])
