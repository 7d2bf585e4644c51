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
