"""A gzip log cut just after a member's fixed header ends in that header, whose last four bytes
(MTIME's high half, XFL, OS) are no ISIZE: the memory estimate takes the stated ratio instead
(recipemut/logs/sample.py stream_content_size, recipemut/files/compressed.py gzip_content_size)."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

from recipemut.files.compressed import GZIP_RATIO
from recipemut.logs.sample import content_size, stream_content_size

_R = random.Random(7)  # a log's variety: it compresses some 5 to 10 times, as real ones do (not 30 times)
LOG = b"".join(
    b'{"request_id":"%s","op":"a","start_ms":%.3f,"latency_ms":%.2f,"status":"ok"}\n'
    % (_R.randbytes(8).hex().encode(), 1.7e12 + _R.random() * 1e9, _R.random() * 500)
    for _ in range(400)
)


def _cut_after_next_header(path: Path) -> int:
    member = gzip.compress(LOG, mtime=0)
    # the next member's header, with MTIME, XFL and OS such that its last four bytes read as a believable size
    believable = 5 * (len(member) + 10)
    header = b"\x1f\x8b\x08\x00" + (believable << 16).to_bytes(4, "little") + b"\x00\x00"
    assert int.from_bytes(header[-4:], "little") == believable
    path.write_bytes(member + header)
    return len(member) + 10


def test_a_gzip_cut_after_a_member_header_is_estimated_at_the_ratio(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    size = _cut_after_next_header(path)
    assert content_size(path, "gzip", size) == int(size * GZIP_RATIO)  # not the header's bytes, 5x the size
    with open(path, "rb") as f:
        assert stream_content_size(f, "gzip", size) == int(size * GZIP_RATIO)


def test_a_whole_gzip_is_still_estimated_at_its_trailer(tmp_path: Path) -> None:
    path = tmp_path / "whole.jsonl.gz"
    data = gzip.compress(LOG, mtime=0)
    path.write_bytes(data)
    assert content_size(path, "gzip", len(data)) == len(LOG)
    assert stream_content_size(io.BytesIO(data), "gzip", len(data)) == len(LOG)
