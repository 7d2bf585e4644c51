"""files/compressed: compression told by content, one cap, streams inflated only up to a limit."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from recipemut.files import compressed


def test_compression_is_told_by_content_not_by_name(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl.gz"  # named .gz, but plain
    plain.write_bytes(b'{"op": "a"}\n')
    packed = tmp_path / "packed.jsonl"
    packed.write_bytes(gzip.compress(b'{"op": "a"}\n'))
    assert not compressed.is_gzip_file(plain) and compressed.is_gzip_file(packed)
    assert compressed.read_head(plain, 5) == compressed.read_head(packed, 5) == b'{"op"'
    with compressed.open_decompressed(packed) as f:
        assert f.read() == b'{"op": "a"}\n'


def test_other_compressions_are_named_with_their_command() -> None:
    assert compressed.compressed_with(b"\xfd7zXZ\x00rest") == ("xz", "xz -dc")
    assert compressed.compressed_with(gzip.compress(b"x")) is None  # gzip is read, not refused


def test_inflate_stops_one_byte_past_the_limit(tmp_path: Path) -> None:
    p = tmp_path / "big.gz"
    p.write_bytes(gzip.compress(b"a" * 10_000))
    data, cut = compressed.inflate(p, 100)
    assert len(data) == 101 and cut is None  # over the limit: the caller refuses it
    data, cut = compressed.inflate(p)
    assert len(data) == 10_000 and cut is None


def test_a_stream_cut_before_its_first_chunk_or_broken_raises(tmp_path: Path) -> None:
    # a cut stream gives every byte decompressed before the cut (tests/test_truncated_logs.py); one cut
    # before its first byte of content raises
    whole = gzip.compress(bytes(range(256)) * 4000)
    p = tmp_path / "cut.gz"
    p.write_bytes(whole[:12])
    with pytest.raises(EOFError):
        compressed.inflate(p)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(compressed.GZIP_MAGIC + b"\x08\x00garbage")
    with pytest.raises(compressed.STREAM_ERRORS):
        compressed.inflate(broken)


def test_one_cap_bounds_every_limit() -> None:
    assert compressed.gzip_limit(10**15) == compressed.MAX_DECOMPRESSED
    assert compressed.gunzip_head(b"not gzip") == b""
    assert compressed.gunzip_head(zlib.compress(b"x")) == b""  # zlib, not gzip framing


def test_a_small_plain_file_is_read_under_an_address_space_limit(tmp_path: Path) -> None:
    """inflate asked read() for the whole 16 GiB cap, which sets that much aside first: any plain trace
    file failed with MemoryError under `ulimit -v` (an attacker's finding)."""
    import subprocess
    import sys

    p = tmp_path / "t.json"
    p.write_bytes(b'{"resourceSpans": []}')
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "from recipemut.files.compressed import inflate\n"
        "data, err = inflate(sys.argv[1])\n"
        "assert data == b'{\"resourceSpans\": []}' and err is None, data\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
