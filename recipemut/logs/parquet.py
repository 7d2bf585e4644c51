"""Parquet logs: the span table written and read as Parquet, and directories or globs of Parquet files.

A Parquet log holds the columns of the span table (:data:`~recipemut.logs.spans.SPAN_SCHEMA` and
those of :data:`~recipemut.logs.spans.CALL_SCHEMA` that some span carries), one row a span, as
``recipemut convert`` writes it (:func:`parquet_bytes`). It is told by its content (``PAR1`` at both
ends, :func:`is_parquet`), never its name, and read in record batches of at most
:data:`READ_BATCH_ROWS` rows (:func:`parquet_batches`), so that a sampler sees one batch at a time.
Its string columns are read as dictionaries, and a file that would grow in memory beyond the limit
a gzip log is held to (:func:`~recipemut.files.compressed.gzip_limit` of its size: 64 MiB, or 100
times the file) is refused before it does (a row group of one long value repeated on millions of
rows is a few KB on disk). Each batch is conformed to
:data:`~recipemut.logs.spans.PARSE_SCHEMA`: a missing required column, a column of the wrong kind
(text where a number belongs, or the reverse) or a file that is not readable Parquet (truncated,
say) is one :class:`~recipemut.errors.LogError` naming the file and the column. A span's "line" is
its row number in the file (from 1); ``source_file``/``source_line`` written by ``convert`` are not
read back (the Parquet file is the source).

:func:`expand_logs` turns a directory into the Parquet files under it and a glob pattern into the
files it matches, so either may be given as ``--logs``.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recipemut.errors import InputFileError, LogError, os_reason
from recipemut.files.compressed import gzip_limit
from recipemut.logs.sources import PARQUET_SUFFIXES
from recipemut.logs.spans import INT_COLS, PARSE_SCHEMA, REQUIRED

#: the columns whose NaN is kept (and rejected by the checks, as in JSONL), not read as null: the
#: integer columns and the required numbers
NAN_KEPT = frozenset((*INT_COLS, "start_ms", "latency_ms"))

MAGIC = b"PAR1"
#: rows per row group written
BATCH_ROWS = 1 << 20
#: rows per record batch read (a batch is checked for its expanded size before it is expanded)
READ_BATCH_ROWS = 1 << 16
#: ... and about the bytes a batch holds when no memory budget sets them (a sampled read: its chunk)
READ_BATCH_BYTES = 64 << 20
#: the bytes read at a time from a row group read as plain strings (pages, not whole column chunks)
PAGE_BUFFER_BYTES = 1 << 20
#: the most log files a folder or a glob may name: each is opened, checked and read on its own, so
#: 100,000 one-line files took 245 s and 2.6 GB (the dask engine: past 300 s); concatenate or convert them
MAX_LOG_FILES = 10_000
_GLOB_CHARS = frozenset("*?[")
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst")


def is_parquet(head: bytes) -> bool:
    """Whether a file's first bytes open a Parquet file.

    >>> is_parquet(b"PAR1\\x15\\x04"), is_parquet(b'{"op": "a"}')
    (True, False)
    """
    return head[:4] == MAGIC


def is_parquet_file(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return is_parquet(f.read(4))
    except OSError:
        return False


def expand_logs(paths: Sequence[Path], *, note_skipped: bool = True) -> list[Path]:
    """Each directory replaced by the Parquet files under it (sorted, recursively; by suffix or by
    content: :func:`list_folder`), each glob pattern that names no file by the files it matches
    (sorted: :func:`glob_files`). Raises :class:`InputFileError` for a directory with no Parquet file, a
    pattern that matches nothing, and either naming more than :data:`MAX_LOG_FILES` files. The other
    files of a directory (a JSONL log beside the Parquet ones; not those named ``.*`` or ``_*``) are
    skipped, and the linked folders in it not followed: both said in a warning unless ``note_skipped``
    is false (:meth:`FolderListing.logs`)."""
    out: list[Path] = []
    for p in paths:
        before = len(out)
        if p.is_dir():
            out.extend(list_folder(p).logs(note=note_skipped))
        elif not p.exists() and _GLOB_CHARS & set(str(p)):
            matched = glob_files(p, str(p))
            if not matched:
                raise InputFileError(
                    "no such file (and no file matches it as a pattern)", file=str(p), code="missing-file"
                )
            out.extend(matched)
        else:
            out.append(p)
        refuse_too_many(len(out) - before, str(p))
    return out


@dataclass(frozen=True)
class FolderListing:
    """What a folder given as logs holds (:func:`list_folder`), each list sorted: its ``parquet``
    files (by suffix or content), the ``others`` (skipped by :func:`expand_logs`; a ``file://`` URL
    of a folder holding no Parquet file reads them as JSONL) and the ``linked`` folders in it, which
    are not followed (a loop would be listed for ever)."""

    folder: Path
    parquet: list[Path]
    others: list[Path]
    linked: list[Path]

    def logs(self, *, note: bool = True) -> list[Path]:
        """The Parquet files the folder is read as, what is left out said (:meth:`note`) unless not
        ``note``; a folder holding none is one :class:`InputFileError` naming it (of JSONL logs, with the
        quoted glob that reads them)."""
        if not self.parquet:
            raise InputFileError(_not_parquet_folder(self.folder), file=str(self.folder), code="not-a-file")
        if note:
            self.note()
        return self.parquet

    def note(self, *, others: bool = True) -> None:
        """Warn of what is left out: the ``others`` (unless read, ``others=False``) and the linked folders."""
        if others and self.others:
            logging.getLogger(__name__).warning(skipped_note(self.folder, self.others))
        if self.linked:
            logging.getLogger(__name__).warning(skipped_note(self.folder, self.linked, linked=True))


def list_folder(folder: Path) -> FolderListing:
    """The files under ``folder``, found once (one walk, not through a linked folder), and the linked
    folders it holds: not those named ``.*`` or ``_*`` (``_SUCCESS``, ``.part-0.parquet.crc``), nor
    those in a folder so named (Spark's ``_temporary/``, a spool ``.spool-*.convert/`` a killed convert
    left), as pyarrow's dataset discovery leaves them out, nor a link to nothing. A folder so named is
    not walked at all (``os.walk`` pruned in place), however many files it holds; each list is sorted.
    The one listing both engines read a folder by (:func:`expand_logs`, and
    :func:`recipemut.logs.urls.local_files` for a ``file://`` URL).

    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for name in ("b.parquet", "a.jsonl", "_SUCCESS"):
    ...         _ = (Path(d) / name).write_bytes(b"")
    ...     os.symlink(d, Path(d) / "up")
    ...     got = list_folder(Path(d))
    ...     [[f.name for f in fs] for fs in (got.parquet, got.others, got.linked)]
    [['b.parquet'], ['a.jsonl'], ['up']]
    """
    found: list[Path] = []
    linked: list[Path] = []
    for top, folders, names in os.walk(folder, followlinks=False, onerror=_unlisted):  # a folder it cannot list: said
        at = Path(top)
        walked = []
        for name in folders:  # a folder named .* or _* is pruned here: never walked (a large _temporary/, a spool)
            if name.startswith((".", "_")):
                continue
            if os.path.islink(os.path.join(top, name)):  # a link to a folder: listed, not followed
                linked.append(at / name)
            else:
                walked.append(name)
        folders[:] = walked
        found.extend(at / name for name in names if not name.startswith((".", "_")))
    parquet: list[Path] = []
    others: list[Path] = []
    for f in sorted(found):  # a link to nothing (or a FIFO, a socket) is no file: left out
        try:
            regular = f.is_file()
        except OSError as e:  # in a folder that can be listed, not entered: never a log skipped in silence
            raise InputFileError(f"cannot read: {os_reason(e)}", file=str(f), code="unreadable") from None
        if regular:
            (parquet if f.suffix.lower() in PARQUET_SUFFIXES or is_parquet_file(f) else others).append(f)
    return FolderListing(folder, parquet, others, sorted(linked))


def _unlisted(e: OSError) -> None:
    """``os.walk``'s ``onerror``: a folder of the logs that cannot be listed is one error naming it, never a
    folder of logs left out in silence."""
    raise InputFileError(f"cannot read: {os_reason(e)}", file=str(e.filename), code="unreadable")


def skipped_note(folder: Path, skipped: Sequence[Path], *, linked: bool = False) -> str:
    """What a folder read for its Parquet files left out: the first few other files (or, ``linked``,
    the linked folders it does not follow), how many.

    >>> print(skipped_note(Path("days"), [Path("days/a.jsonl")]).split(": a folder")[0])
    days: 1 file that is not Parquet was skipped (a.jsonl)
    >>> print(skipped_note(Path("days"), [Path("days/old")], linked=True))
    days: 1 linked folder was not followed (old): name it on --logs too to read their files
    """
    names = ", ".join(str(f.relative_to(folder)) for f in skipped[:3])
    more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    if linked:
        what = "1 linked folder was" if len(skipped) == 1 else f"{len(skipped)} linked folders were"
        them = "it" if len(skipped) == 1 else "them"
        return f"{folder}: {what} not followed ({names}{more}): name {them} on --logs too to read their files"
    what = "1 file that is not Parquet was" if len(skipped) == 1 else f"{len(skipped)} files that are not Parquet were"
    return (
        f"{folder}: {what} skipped ({names}{more}): a folder is read for its Parquet files; name the others on "
        "--logs too (or convert them)"
    )


def _not_parquet_folder(folder: Path) -> str:
    """What a folder holding no Parquet file is: of JSONL logs (plain, gzip, zstd), the quoted glob
    that reads them (``*.jsonl*`` when they are of several kinds: plain, gzip, zstd); else not a log file.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for name in ("a.jsonl.gz", "b.jsonl.gz", "notes.txt"):
    ...         _ = (Path(d) / name).write_bytes(b"")
    ...     print(_not_parquet_folder(Path(d)).replace(d, "DIR"))
    is a directory of JSONL logs, not a log file: --logs 'DIR/*.jsonl.gz' reads them (quoted: recipemut expands it)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for name in ("a.jsonl", "b.jsonl.gz"):
    ...         _ = (Path(d) / name).write_bytes(b"")
    ...     print(_not_parquet_folder(Path(d)).replace(d, "DIR"))
    is a directory of JSONL logs, not a log file: --logs 'DIR/*.jsonl*' reads them (quoted: recipemut expands it)
    """
    kinds: dict[tuple[str, bool], int] = {}
    for n, f in enumerate(folder.rglob("*.jsonl*")):
        suffix = next((s for s in _JSONL_SUFFIXES if f.name.lower().endswith(s)), None)
        if suffix is not None and f.is_file() and not f.name.startswith((".", "_")):
            kinds[suffix, f.parent != folder] = kinds.get((suffix, f.parent != folder), 0) + 1
        if n >= MAX_LOG_FILES:
            break
    if not kinds:
        return "is a directory, not a log file (and holds no Parquet file)"
    suffix, nested = max(kinds, key=lambda k: kinds[k])
    if len({s for s, _ in kinds}) > 1:  # plain and compressed: one pattern for all of them
        suffix, nested = ".jsonl*", any(n for _, n in kinds)
    pattern = shlex.quote(f"{folder}/{'**/' if nested else ''}*{suffix}")
    return f"is a directory of JSONL logs, not a log file: --logs {pattern} reads them (quoted: recipemut expands it)"


def bad_pattern(e: ValueError, name: str) -> LogError:
    """The one line of a glob pathlib cannot read (``**`` inside a name: ``logs/**x.parquet``).

    >>> bad_pattern(ValueError("'**' can only be an entire path component"), "a/**x").message.split(";")[0]
    "is not a pattern recipemut can read ('**' can only be an entire path component)"
    """
    example = "file:///data/**/*.parquet" if name.startswith("file://") else "logs/**/*.parquet"
    return LogError(f"is not a pattern recipemut can read ({e}); ** stands for whole folders: '{example}'",
                    file=name, code="bad-pattern")  # fmt: skip


def glob_files(pattern: Path, name: str) -> list[Path]:
    """The regular files ``pattern`` matches, sorted (a link to a file is that file), ``**`` matching
    any folders below: pathlib's glob from the folders before the first pattern, which does not descend
    into linked folders (``glob.glob`` did: ``logs/**/*.jsonl`` beside ``loop -> ..`` ran for ever). A
    pattern pathlib cannot read (``**`` inside a name) is :func:`bad_pattern`'s line naming ``name``.
    The one glob of both engines, by path and by ``file://`` URL."""
    parts = pattern.parts
    at = next(i for i, part in enumerate(parts) if _GLOB_CHARS & set(part))
    base = Path(*parts[:at]) if at else Path(".")
    try:
        return sorted(f for f in base.glob(str(Path(*parts[at:]))) if f.is_file())
    except ValueError as e:  # pathlib's: '**' inside a name
        raise bad_pattern(e, name) from None


def refuse_too_many(found: int, name: str) -> None:
    """Refuse a folder or glob ``name`` that names more than :data:`MAX_LOG_FILES` log files.

    >>> try:
    ...     refuse_too_many(10_001, "logs/*.jsonl")
    ... except InputFileError as e:
    ...     print(e.message.split(";")[0])
    names 10,001 log files, more than the 10,000 recipemut reads at once
    """
    if found > MAX_LOG_FILES:
        raise InputFileError(
            f"names {found:,} log files, more than the {MAX_LOG_FILES:,} recipemut reads at once; concatenate them "
            "(cat, zstd -c) or convert them into a few Parquet files (recipemut convert)",
            file=name,
            code="too-many-files",
        )


def _kind_ok(have: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_dictionary(have):
        have = have.value_type
    if pa.types.is_null(have):
        return True
    if pa.types.is_large_string(want) or pa.types.is_string(want):
        return pa.types.is_string(have) or pa.types.is_large_string(have)
    return pa.types.is_integer(have) or pa.types.is_floating(have)


def check_schema(schema: pa.Schema, name: str) -> None:
    """Refuse, in one :class:`LogError` naming the file and the column, a Parquet log whose schema
    cannot hold spans: a required column missing, a span column given twice, or of the wrong kind
    (text where a number belongs or the reverse; a list, struct, map, decimal, timestamp, binary or
    boolean column where text or a number belongs). Columns recipemut does not read may be of any type."""
    missing = [k for k in REQUIRED if k not in schema.names]
    if missing:
        raise LogError(
            f"Parquet log without the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            "(a span needs request_id, op, start_ms, latency_ms, status)",
            file=name,
            code="missing-column",
        )
    for f in PARSE_SCHEMA:
        at = schema.get_all_field_indices(f.name)
        if len(at) > 1:
            raise LogError(f"Parquet column {f.name!r} is there {len(at)} times", file=name, code="wrong-type")
        if at and not _kind_ok(schema.field(at[0]).type, f.type):
            raise _wrong_kind(f.name, schema.field(at[0]).type, f.type, name)


def _wrong_kind(column: str, have: pa.DataType, want: pa.DataType, name: str) -> LogError:
    kind = "text" if pa.types.is_large_string(want) or pa.types.is_string(want) else "a number"
    return LogError(f"Parquet column {column!r} is {have}, not {kind}", file=name, code="wrong-type")


def _open(path: Path, name: str, *, dictionaries: bool = True) -> pq.ParquetFile:
    """The Parquet file at ``path``, its columns checked; its string columns are read as dictionaries
    (so that a value repeated on many rows is held once until :func:`conform`, bounded, expands it),
    or, not ``dictionaries``, as plain strings a page at a time (no column chunk read whole first)."""
    try:
        schema = pq.read_schema(str(path))
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
        raise LogError(f"not a readable Parquet file ({e})", file=name, code="bad-parquet") from None
    check_schema(schema, name)  # first: read_dictionary naming a list or struct column is a KeyError
    strings = [f.name for f in PARSE_SCHEMA if pa.types.is_large_string(f.type) and f.name in schema.names]
    try:
        if dictionaries:
            return pq.ParquetFile(str(path), read_dictionary=strings)
        return pq.ParquetFile(str(path), pre_buffer=False, buffer_size=PAGE_BUFFER_BYTES)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
        raise LogError(f"not a readable Parquet file ({e})", file=name, code="bad-parquet") from None


def stored_bytes(meta: pq.FileMetaData, groups: Sequence[int] | None = None) -> int:
    """The uncompressed bytes of a Parquet file's span columns (its footer's column chunk sizes), in
    ``groups`` (its row groups' numbers) or in all of them."""
    wanted = set(PARSE_SCHEMA.names)
    return sum(
        meta.row_group(g).column(c).total_uncompressed_size
        for g in (range(meta.num_row_groups) if groups is None else groups)
        for c in range(meta.num_columns)
        if meta.row_group(g).column(c).path_in_schema in wanted
    )


def dictionary_page_size(source: Path | None, chunk: pq.ColumnChunkMetaData) -> int | None:
    """The uncompressed bytes of a column chunk's dictionary page (no value of the chunk's dictionary
    is longer), from its page header in ``source`` (Thrift compact protocol: field 1 the page type, 2
    for a dictionary page, field 2 that size); None when it cannot be told.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     pq.write_table(pa.table({"op": ["x" * 5000] * 10}), f"{d}/a.parquet")
    ...     meta = pq.ParquetFile(f"{d}/a.parquet").metadata
    ...     dictionary_page_size(Path(d) / "a.parquet", meta.row_group(0).column(0))
    5004
    """
    offset = chunk.dictionary_page_offset
    if source is None or not chunk.has_dictionary_page or offset is None:
        return None
    try:
        with open(source, "rb") as f:
            f.seek(offset)
            head = f.read(16)
    except OSError:
        return None
    values: list[int] = []
    i = 0
    for _ in range(2):
        if i >= len(head) or head[i] != 0x15:  # field id delta 1, type i32
            return None
        i, v, shift = i + 1, 0, 0
        while True:
            if i >= len(head) or shift > 35:
                return None
            b, i = head[i], i + 1
            v, shift = v | (b & 0x7F) << shift, shift + 7
            if not b & 0x80:
                break
        values.append((v >> 1) ^ -(v & 1))  # zigzag
    kind, size = values
    return size if kind == 2 and size >= 0 else None


def read_plan(
    meta: pq.FileMetaData, columns: Sequence[str], batch_rows: int, batch_bytes: int, source: Path | None = None
) -> list[tuple[list[int], bool, int]]:
    """How each row group is read, as runs of consecutive row groups read alike: ``(row groups, as
    dictionaries, rows a batch)``. A batch holds about ``batch_bytes``: the rows that many bytes make
    at the group's own bytes a row (its column chunks' uncompressed sizes over its rows, plus 8 bytes
    a column), at most ``batch_rows``, at least one. A group whose span columns hold more than
    ``batch_bytes`` and whose text is wide (``batch_rows`` rows of it hold more than ``batch_bytes``) is
    read as plain strings a page at a time: read as dictionaries, its distinct values (every request
    id of 40 KB, say) were gathered into one dictionary held for the whole group. Its rows a batch
    then count each text column's dictionary page (:func:`dictionary_page_size` in ``source``: no
    value it expands to is longer), so that a value repeated on many rows cannot grow a batch past
    the bound; a group whose dictionary page cannot be told is read as dictionaries. Other groups are
    read as dictionaries (a value repeated on many rows held once, so that :func:`grown_bytes` finds
    a Parquet bomb before it grows).

    >>> import io
    >>> sink = io.BytesIO()
    >>> pq.write_table(pa.table({"request_id": ["x" * 1000] * 100}), sink, use_dictionary=False)
    >>> read_plan(pq.ParquetFile(sink).metadata, ["request_id"], 1 << 16, 10_000)
    [([0], False, 9)]
    >>> read_plan(pq.ParquetFile(sink).metadata, ["request_id"], 1 << 16, 10 << 20)
    [([0], True, 65536)]
    """
    wanted = set(columns)
    strings = {f.name for f in PARSE_SCHEMA if pa.types.is_large_string(f.type)}
    runs: list[tuple[list[int], bool, int]] = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        chunks = [group.column(c) for c in range(group.num_columns) if group.column(c).path_in_schema in wanted]
        stored = sum(c.total_uncompressed_size for c in chunks)
        per_row = stored / max(group.num_rows, 1) + 8 * len(chunks)
        rows = int(max(1, min(batch_rows, batch_bytes // max(per_row, 1))))
        if rows >= group.num_rows:  # the whole group in one batch, whatever the batch size
            rows = batch_rows
        text = [c for c in chunks if c.path_in_schema in strings]
        plain = False
        if stored > batch_bytes and sum(c.total_uncompressed_size for c in text) * batch_rows > batch_bytes * max(
            group.num_rows, 1
        ):  # wide text: 65,536 rows of it are more than a batch's bytes
            sizes = [dictionary_page_size(source, c) if c.has_dictionary_page else 0 for c in text]
            if all(n is not None for n in sizes):  # a row may take its columns' largest dictionary values
                plain, per_row = True, max(per_row, 8 * len(chunks) + sum(n or 0 for n in sizes))
                rows = int(max(1, min(batch_rows, batch_bytes // max(per_row, 1))))
        if runs and runs[-1][1:] == (not plain, rows):
            runs[-1][0].append(g)
        else:
            runs.append(([g], not plain, rows))
    return runs


def grown_bytes(batch: pa.RecordBatch | pa.Table) -> int:
    """Bytes ``batch`` takes once :func:`conform` has expanded it: a dictionary column counts each
    row's value (the dictionary's lengths taken at the indices, no string built), others their own size.

    >>> t = pa.table({"op": pa.DictionaryArray.from_arrays(pa.array([0, 0, 0]), pa.array(["x" * 100]))})
    >>> grown_bytes(t)
    324
    """
    total = 0
    for col in batch.columns:
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        for c in chunks:
            if pa.types.is_dictionary(c.type):
                values = pc.sum(pc.take(pc.binary_length(c.dictionary).cast(pa.int64()), c.indices)).as_py()
                total += (values or 0) + 8 * len(c)
            else:
                total += c.nbytes
    return total


def too_large(name: str, limit: int, size: int, what: str) -> LogError:
    """The error of a Parquet log that grows beyond ``limit`` bytes (``what``: where it was seen)."""
    return LogError(
        f"Parquet log grows beyond {limit / 2**20:,.0f} MiB {what} (over {limit // max(size, 1)}x its {size} "
        "bytes, the limit a gzip log is held to); refusing it as a possible Parquet bomb",
        file=name,
        code="too-large",
    )


def _cast(col: pa.Array | pa.ChunkedArray, to: pa.DataType, column: str, name: str) -> pa.Array | pa.ChunkedArray:
    """``col`` cast to ``to``. An integer too large for a float64 to hold exactly (over 2**53, which
    a checked cast refuses for the whole column) is rounded to the nearest float64, as a JSON parser
    reads the same digits: every bound :func:`~recipemut.logs.checks.check_spans` holds a number to is
    below 2**53, so the row it is on is rejected with the reason and message its JSONL line gets
    (``latency_ms is 4.611686018427388e+18 (over 30 days)``), not the file."""
    try:
        return col.cast(to)
    except pa.ArrowInvalid as e:
        if pa.types.is_integer(col.type) and pa.types.is_floating(to):
            return col.cast(to, safe=False)
        raise LogError(f"Parquet column {column!r} cannot be read ({e})", file=name, code="wrong-type") from None
    except (pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise LogError(f"Parquet column {column!r} cannot be read ({e})", file=name, code="wrong-type") from None


def conform(batch: pa.Table, name: str) -> pa.Table:
    """A batch of a Parquet log as a :data:`~recipemut.logs.spans.PARSE_SCHEMA` table (absent columns null).

    NaN in an optional number is null (as pandas writes an absent value); in ``start_ms`` or
    ``latency_ms`` it stays NaN, so that the row is rejected as its JSONL line is (``latency_ms is nan
    [bad-latency]``), not as a missing key."""
    cols: list[pa.Array | pa.ChunkedArray] = []
    for f in PARSE_SCHEMA:
        if f.name not in batch.column_names:
            cols.append(pa.nulls(batch.num_rows, f.type))
            continue
        col = batch.column(f.name)
        if not _kind_ok(col.type, f.type):  # "12.5" or True is no latency: refused, not cast
            raise _wrong_kind(f.name, col.type, f.type, name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        col = _cast(col, f.type, f.name, name)
        if pa.types.is_floating(f.type) and f.name not in NAN_KEPT and col.null_count < len(col):
            nan = pc.is_nan(col)
            if pc.any(nan).as_py():
                col = pc.if_else(nan, pa.scalar(None, f.type), col)
        cols.append(col)
    return pa.table(cols, schema=PARSE_SCHEMA)


def parquet_batches(
    path: Path, name: str, batch_rows: int = READ_BATCH_ROWS, batch_bytes: int | None = None
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """The spans of a Parquet log in batches of at most ``batch_rows`` rows and about ``batch_bytes``
    bytes (default :data:`READ_BATCH_BYTES`; a memory budget's chunk,
    :attr:`~recipemut.logs.sample.Sampler.chunk_bytes`): each a :data:`PARSE_SCHEMA` table and its
    row numbers (from 1). Row groups are read in slices sized by their own bytes a row
    (:func:`read_plan`), so that wide rows (request ids of 40 KB) come a few hundred at a time, not
    a row group at a time; small batches are joined up to both bounds.

    Held to the limit a gzip log is (:func:`~recipemut.files.compressed.gzip_limit` of the file's
    size): the column chunks' uncompressed sizes (the footer's) are checked before any is read, and
    each batch's expanded size (:func:`grown_bytes`) before it is expanded; past the limit, one
    :class:`LogError` (``too-large``)."""
    pf = _open(path, name)
    size = path.stat().st_size
    limit = gzip_limit(size)
    meta = pf.metadata
    columns = [f.name for f in PARSE_SCHEMA if f.name in pf.schema_arrow.names]
    if stored_bytes(meta) > limit:
        raise too_large(name, limit, size, "uncompressed")
    batch_bytes = batch_bytes or READ_BATCH_BYTES
    plan = read_plan(meta, columns, batch_rows, batch_bytes, path)
    plain = _open(path, name, dictionaries=False) if not all(d for _, d, _ in plan) else None
    row = grown = held = held_bytes = 0
    pending: list[pa.RecordBatch] = []

    def joined() -> pa.Table:
        table = conform(pa.Table.from_batches(pending), name)
        return table.combine_chunks() if len(pending) > 1 else table

    def batches() -> Iterator[pa.RecordBatch]:
        for run, dictionaries, rows in plan:
            reader = pf if dictionaries or plain is None else plain
            yield from reader.iter_batches(batch_size=rows, row_groups=run, columns=columns, use_threads=True)

    try:
        # batches do not cross row groups read as dictionaries: small ones are joined up to
        # ``batch_rows`` rows and ``batch_bytes``, so 10,000 row groups of one row are one batch, not 10,000
        for batch in batches():
            if batch.num_rows == 0:
                continue
            nbytes = grown_bytes(batch)
            grown += nbytes
            if grown > limit:
                raise too_large(name, limit, size, "in memory")
            if pending and (held + batch.num_rows > batch_rows or held_bytes + nbytes > batch_bytes):
                table = joined()
                yield table, np.arange(row + 1, row + table.num_rows + 1, dtype=np.int64)
                row, pending, held, held_bytes = row + table.num_rows, [], 0, 0
            pending.append(batch)
            held += batch.num_rows
            held_bytes += nbytes
        if pending:
            table = joined()
            yield table, np.arange(row + 1, row + table.num_rows + 1, dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
        raise LogError(f"not a readable Parquet file ({e})", file=name, code="bad-parquet") from None


def read_parquet(path: Path, name: str) -> tuple[pa.Table, np.ndarray]:
    """A whole Parquet log: the :data:`PARSE_SCHEMA` table and its row numbers."""
    parts = list(parquet_batches(path, name))
    if not parts:
        return PARSE_SCHEMA.empty_table(), np.zeros(0, np.int64)
    return pa.concat_tables([t for t, _ in parts]), np.concatenate([n for _, n in parts])


def write_parquet(table: pa.Table, where: str | Path | pa.NativeFile, *, row_group_rows: int = BATCH_ROWS) -> None:
    """``table`` (the span table as arrow) written as a Parquet file to ``where`` (a path or a sink):
    zstd, dictionary-encoded strings, row groups of ``row_group_rows`` rows (the last shorter)."""
    pq.write_table(table, where, compression="zstd", row_group_size=row_group_rows, use_dictionary=True)


def parquet_bytes(table: pa.Table, *, row_group_rows: int = BATCH_ROWS) -> bytes:
    """``table`` (the span table as arrow) as the bytes of a Parquet file (:func:`write_parquet`)."""
    sink = pa.BufferOutputStream()
    write_parquet(table, sink, row_group_rows=row_group_rows)
    return sink.getvalue().to_pybytes()


__all__ = [
    "BATCH_ROWS",
    "MAGIC",
    "MAX_LOG_FILES",
    "READ_BATCH_BYTES",
    "READ_BATCH_ROWS",
    "FolderListing",
    "bad_pattern",
    "check_schema",
    "conform",
    "dictionary_page_size",
    "expand_logs",
    "glob_files",
    "grown_bytes",
    "is_parquet",
    "is_parquet_file",
    "list_folder",
    "parquet_batches",
    "parquet_bytes",
    "read_parquet",
    "read_plan",
    "refuse_too_many",
    "skipped_note",
    "stored_bytes",
    "too_large",
    "write_parquet",
]
