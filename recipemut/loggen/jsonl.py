"""The native JSONL writer: Arrow kernels build the lines, the file is replaced atomically."""

from __future__ import annotations

import gzip
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import InputFileError
from recipemut.files.write import cannot_write, note_written

#: the characters a JSON line cannot hold raw: written as spaces (``generate -o x.parquet`` does the same)
CONTROL = r"[\x00-\x1f]"


def _json_values(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as JSON texts (``null`` for nulls), computed by Arrow kernels."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = arr.type
    text = pa.large_string()
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if len(arr) > 64:
            codes = pc.dictionary_encode(arr)
            if len(codes.dictionary) * 4 < len(arr):  # few distinct values: quote each once
                return pc.fill_null(_json_values(codes.dictionary).take(codes.indices), pa.scalar("null", text))
        s = arr.cast(text)
        if pc.any(pc.match_substring_regex(s, r'["\\\x00-\x1f]')).as_py():  # rare: escape what JSON needs
            s = pc.replace_substring(s, "\\", "\\\\")
            s = pc.replace_substring(s, '"', '\\"')
            s = pc.replace_substring_regex(s, CONTROL, " ")  # control characters become spaces
        q = pa.scalar('"', text)
        s = pc.binary_join_element_wise(q, s, q, pa.scalar("", text))
    elif pa.types.is_floating(t):
        s = pc.if_else(pc.is_finite(arr), pc.cast(arr, text), pa.scalar(None, text))
    elif pa.types.is_boolean(t):
        s = pc.if_else(arr, pa.scalar("true", text), pa.scalar("false", text))
    else:
        s = pc.cast(arr, text)
    return pc.fill_null(s, pa.scalar("null", text))


#: optional call columns written only on the lines that carry them (``items`` on a fan-out's calls)
_LEFT_OUT_WHEN_NULL = frozenset(("span_id", "parent_span_id", "attempt", "items"))


def write_jsonl(df: pd.DataFrame, path: str | os.PathLike[str]) -> int:
    """Write a span table as JSON lines (gzip when ``path`` ends in ``.gz``, zstd when in ``.zst``), atomically.

    Columns that are null throughout (``source_file``, ``sample_rate`` when not sampled, ...)
    are left out; other nulls are written as ``null``, except those of the optional call columns
    (``items`` of a span that is not a fan-out's call): their key is left out of that line.
    Returns the number of lines written.
    """
    p = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    drop = {"source_file", "source_line"} | {c for c in table.column_names if table.column(c).null_count == len(table)}
    names = [c for c in table.column_names if c not in drop]
    parts: list[Any] = []
    skip = False
    for i, c in enumerate(names):
        key = pa.scalar(("{" if i == 0 else ",") + '"' + c + '":', pa.large_string())
        col = table.column(c).combine_chunks()
        if i and c in _LEFT_OUT_WHEN_NULL and col.null_count:  # the key only on the lines that have a value
            joined = pc.binary_join_element_wise(key, _json_values(col), pa.scalar("", pa.large_string()))
            parts.append(pc.if_else(pc.is_valid(col), joined, pa.scalar(None, pa.large_string())))
            skip = True
            continue
        parts.append(key)
        parts.append(_json_values(col))
    parts.append(pa.scalar("}\n", pa.large_string()))
    if len(table) and names:
        lines = pc.binary_join_element_wise(
            *parts, pa.scalar("", pa.large_string()), null_handling="skip" if skip else "emit_null"
        )
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
        data = memoryview(lines.buffers()[2])[int(offsets[0]) : int(offsets[-1])]
    else:
        data = memoryview(b"")
    try:
        mode = stat.S_IMODE(os.stat(p).st_mode)  # an existing file keeps its permissions
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as e:
        raise InputFileError(f"cannot write here: {e.strerror}", file=str(p), code="write") from None
    try:
        with os.fdopen(fd, "wb") as raw:
            if p.suffix.lower() == ".gz":  # the case generate's written_suffix takes too
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
                    gz.write(data)
            elif p.suffix.lower() == ".zst":  # pyarrow's codec, as recipemut reads zstd: one frame, its size stated
                raw.write(pa.compress(data, "zstd", asbytes=True))
            else:
                raw.write(data)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
        note_written(p)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):  # a full disk fails at write() (again at close's flush): one line
            raise cannot_write(p, e) from None
        raise
    return len(table)
