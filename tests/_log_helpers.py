"""Helpers for the tests of logs with holes: a crash's NUL-filled tail, a sparse file."""

from __future__ import annotations

import os
from pathlib import Path


def write_with_hole(path: Path, data: bytes, hole: int, after: bytes = b"") -> Path:
    """``data``, then ``hole`` NUL bytes never written (a hole, on a file system that keeps them), then ``after``."""
    path.write_bytes(data)
    os.truncate(path, path.stat().st_size + hole)
    if after:
        with path.open("ab") as f:
            f.write(after)
    return path
