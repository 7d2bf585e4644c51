"""The scan for lines longer than :data:`~recipemut.logs.lines.MAX_LINE_BYTES` reads a block's first and
last line end only, forward from its start and back from its end: the ranges it finds are those a
scan of every byte finds, wherever the line ends fall against the blocks and the reads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recipemut.errors import InputFileError
from recipemut.logs import lines
from recipemut.logs.lines import Snapshot


def _every_byte(data: bytes, start: int, limit: int) -> list[tuple[int, int]]:
    """The long lines of ``data`` (from ``start``) by looking at every line end."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    ends = ends[ends >= start]
    firsts = np.concatenate([[start], ends + 1])
    lasts = np.concatenate([ends, [len(data)]])
    return [(int(a), int(b)) for a, b in zip(firsts, lasts, strict=True) if b - a > limit]


@pytest.fixture
def small_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 64 bytes, reads of 4 growing to 64, lines over 100 bytes long: the real sizes scaled down."""
    monkeypatch.setattr(lines, "_READ_BLOCK", 64)
    monkeypatch.setattr(lines, "_PROBE", 4)
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 100)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(0, 400), max_size=30), bom=st.booleans(), last_end=st.booleans())
def test_the_long_ranges_are_those_of_every_byte(
    tmp_path: Path, small_sizes: None, lengths: list[int], bom: bool, last_end: bool
) -> None:
    body = b"\n".join(bytes([ord("a") + i % 26]) * n for i, n in enumerate(lengths))
    data = (b"\xef\xbb\xbf" if bom else b"") + body + (b"\n" if last_end and lengths else b"")
    p = tmp_path / "log.jsonl"
    p.write_bytes(data)
    with Snapshot.open(str(p), "log.jsonl") as snap:
        assert snap.long == _every_byte(data, 3 if bom else 0, 100)


def test_a_log_of_short_lines_is_barely_read_by_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short lines: the scan reads a few KiB a 16 MiB block (it read every byte, then :meth:`read` again)."""
    p = tmp_path / "log.jsonl"
    p.write_bytes(b'{"request_id": "r"}\n' * 2_000_000)  # 40 MB: three blocks
    asked = []
    real = os.preadv

    def count(fd: int, buffers: list[memoryview], at: int) -> int:
        asked.append(sum(len(b) for b in buffers))
        return real(fd, buffers, at)

    monkeypatch.setattr(os, "preadv", count)
    with Snapshot.open(str(p), "log.jsonl") as snap:
        assert snap.long == []
    assert sum(asked) <= 6 * lines._PROBE


@pytest.fixture
def hole_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 8 KiB, reads of 16 growing, lines over 10,000 bytes long: scaled to the file system's
    4 KiB holes (/tmp/rv7/holes.py, the reviewer's)."""
    monkeypatch.setattr(lines, "_READ_BLOCK", 8192)
    monkeypatch.setattr(lines, "_PROBE", 16)
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 10_000)


_PIECES = st.one_of(
    st.tuples(st.just("hole"), st.integers(1, 7)),  # that many 4 KiB blocks never written
    st.tuples(
        st.just("data"),
        st.sampled_from([1, 100, 4095, 4096, 8191, 8192, 12_000, 20_000]),
        st.lists(st.floats(0, 1, exclude_max=True), max_size=3),  # where its line ends fall
    ),
)


def _write_holed(path: Path, pieces: list[tuple], tail_hole: int) -> bytes:
    """Data and holes one after another (a hole: a seek past the end, then data after it), a hole of
    ``tail_hole`` bytes to end with; the file's bytes as a reader sees them (holes read as NULs)."""
    with path.open("wb") as f:
        pos = 0
        for piece in pieces:
            if piece[0] == "hole":
                pos += 4096 * piece[1]
                f.seek(pos)
            else:
                body = bytearray(b"x" * piece[1])
                for at in piece[2]:
                    body[int(at * piece[1])] = 10
                f.write(body)
                pos += piece[1]
        f.truncate(pos + tail_hole)
    return path.read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(_PIECES, min_size=1, max_size=7), tail=st.sampled_from([0, 0, 4096 * 5]))
def test_the_long_ranges_over_holes_are_those_of_every_byte(
    tmp_path: Path, hole_sizes: None, pieces: list[tuple], tail: int
) -> None:
    """A sparse file: holes (skipped unread with SEEK_DATA) before, between and after data, at every
    place against the blocks; the ranges and the bytes :meth:`Snapshot.read` gives are every byte's."""
    p = tmp_path / "sparse.jsonl"
    data = _write_holed(p, pieces, tail)
    with Snapshot.open(str(p), "sparse.jsonl") as snap:
        assert snap.long == _every_byte(data, 0, 10_000)
        got = snap.read()
    want = bytearray()
    at = 0
    for s, e in snap.long:
        want += data[at:s]
        at = e
    want += data[at:] + (b"\n" if snap.long and snap.long[-1][1] == len(data) else b"")
    assert got.tobytes() == bytes(want)


@pytest.mark.parametrize("after_reads", [1, 2, 4])
@pytest.mark.parametrize("to", [0, 5000, 40_000, 70_000])
def test_a_log_cut_during_the_scan_is_one_error(
    tmp_path: Path, hole_sizes: None, monkeypatch: pytest.MonkeyPatch, after_reads: int, to: int
) -> None:
    """Cut (copytruncate) after the scan's first, second or fourth read, to several offsets (in a hole,
    in data, at the start): the open says the file changed, whatever read or seek meets the cut."""
    p = tmp_path / "cut.jsonl"
    size = len(_write_holed(p, [("data", 20_000, [0.5]), ("hole", 3), ("data", 20_000, []), ("hole", 2),
                                ("data", 12_000, [0.1, 0.9])], 4096))  # fmt: skip
    assert to < size
    real = os.preadv
    reads: list[int] = []

    def read_then_cut(fd: int, buffers: list, offset: int, *args: int) -> int:
        got = real(fd, buffers, offset, *args)
        reads.append(got)
        if len(reads) == after_reads:
            os.truncate(p, to)
        return got

    monkeypatch.setattr(os, "preadv", read_then_cut)
    with pytest.raises(InputFileError) as e:
        Snapshot.open(str(p), "cut.jsonl").close()
    assert len(reads) >= after_reads
    assert e.value.code == "file-changed" and e.value.file == "cut.jsonl"
    assert f"it was {size:,} bytes, now {to:,}" in e.value.message
