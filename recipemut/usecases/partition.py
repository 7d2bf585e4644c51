"""Convert into a folder, streamed: one Parquet file per day of request start (UTC), sorted by request.

Pass 1 reads the logs as ingest reads them when it samples: a native JSONL log (plain, gzip, zstd)
in chunks of :data:`recipemut.logs.stream.CHUNK_BYTES` (:func:`~recipemut.logs.stream.checked_chunks`:
the same checks, line numbers and rejected lines), a Parquet log in record batches, any other
format (OTLP, Jaeger, Zipkin, standard input) whole, one file at a time. Each chunk's checked rows
are appended to a spool file (zstd Parquet, in a temporary folder) of the day their *span* starts,
and each request's first span start is kept (one row per request and chunk, merged at the
end).

Pass 2 writes the days from the last to the first: a spool holds the spans of its day's requests
and the late spans of requests begun on an earlier day (a request never starts after one of its
spans), so those rows are carried back to their request's day. Each day file holds the rows of the
requests that began that day, sorted by (request start, request id), ingest order kept within a
request; it is written atomically as ``spans-YYYY-MM-DD.parquet``.

Memory holds one chunk, then one day (and the requests' first starts), never the whole log.
Duplicate spans are kept (a request's spans are all in one file, so reading the folder drops them
as reading the logs does); ``--sample-rate`` fills ``sample_rate`` where a span carries none.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from recipemut.errors import LogError
from recipemut.files.write import atomic_write
from recipemut.logs.checks import check_spans
from recipemut.logs.detect import detect_format, misnamed_parquet
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import expand_logs, is_parquet, parquet_batches, parquet_bytes
from recipemut.logs.report import IngestReport, Rejection, Rejects, frozen_counts
from recipemut.logs.sample import Sampler
from recipemut.logs.sources import (
    STDIN_NAME,
    check_file,
    is_stdin,
    read_head,
    refuse_binary,
    refuse_compressed,
)
from recipemut.logs.spans import CALL_SCHEMA, PARSE_SCHEMA, SPAN_SCHEMA
from recipemut.logs.stream import checked_chunks
from recipemut.usecases.inputs import LogSource

DAY_MS = 86_400_000
#: the columns written, in the order of the one-file convert (call columns only when some span has one)
_SOURCE = pa.schema([pa.field("source_file", pa.string()), pa.field("source_line", pa.int64())])


@dataclass(frozen=True)
class DaysWritten:
    """What :func:`write_days` wrote: rows, columns, bytes, the ingest report, the day files."""

    rows: int
    columns: tuple[str, ...]
    size_bytes: int
    report: IngestReport
    files: tuple[Path, ...]


@dataclass
class _Tally:
    """What pass 1 counted, for the report."""

    lines_read: int = 0
    blank: int = 0
    rows: int = 0
    first_ms: float = float("inf")
    last_ms: float = float("-inf")


def _file_chunks(
    source: LogSource, path: Path, name: str, rej: Rejects, tally: _Tally, chunk_bytes: int | None
) -> Iterator[pa.Table]:
    """The checked rows of one log as :data:`PARSE_SCHEMA` tables with their ``source_line``."""
    check_file(path, name)
    head = read_head(path, name)
    fmt = source.log_format
    if is_parquet(head) and fmt in ("auto", "native"):
        for table, lines in parquet_batches(path, name):
            tally.lines_read += table.num_rows
            keep = check_spans(table, lines, rej)
            if source.strict and rej.first is not None:
                bad = rej.first
                raise LogError(f"{bad.message} [{bad.reason}] (--strict)", file=name, line=bad.line, code=bad.reason)
            yield table.filter(pa.array(keep)).append_column("source_line", pa.array(lines[keep]))
        return
    if fmt in ("auto", "native") and (misnamed := misnamed_parquet(name, head)):
        raise LogError(misnamed, file=name, code="not-parquet")
    refuse_compressed(head, name)
    refuse_binary(head, name)
    if fmt == "native" or (fmt == "auto" and (detect_format(head) == "native" or not head.strip())):
        for table, lines, r, b in checked_chunks(path, name, rej, strict=source.strict, chunk_bytes=chunk_bytes):
            tally.lines_read += r
            tally.blank += b
            yield table.append_column("source_line", pa.array(lines, pa.int64()))
        return
    raise _NotStreamed


class _NotStreamed(Exception):
    """A log of a trace format: read whole by ``read_logs``."""


def _whole(source: LogSource, path: Path) -> tuple[pa.Table, IngestReport]:
    df, rep = read_logs(
        [path], strict=source.strict, log_format=source.log_format, mapping=source.mapping, memory_budget="off"
    )
    table = pa.Table.from_pandas(df, preserve_index=False)
    cols = []
    for f in PARSE_SCHEMA:
        cols.append(table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type))
    out = pa.table(cols, schema=PARSE_SCHEMA)
    return out.append_column("source_line", table.column("source_line").cast(pa.int64()).fill_null(0)), rep


class _Spool:
    """Spool files, one a day of span start, appended chunk by chunk."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.folder, self.schema = folder, schema
        self.writers: dict[int, pq.ParquetWriter] = {}

    def add(self, table: pa.Table) -> None:
        day = np.floor(table.column("start_ms").to_numpy(zero_copy_only=False) / DAY_MS).astype(np.int64)
        for d in np.unique(day).tolist():
            w = self.writers.get(d)
            if w is None:
                w = self.writers[d] = pq.ParquetWriter(self.folder / f"{d}.parquet", self.schema, compression="zstd")
            w.write_table(table.filter(pa.array(day == d)))

    def close(self) -> list[int]:
        for w in self.writers.values():
            w.close()
        return sorted(self.writers)


def _requests(parts: list[pa.Table]) -> pa.Table:
    """Each request's first span start, from the per-chunk aggregates."""
    if not parts:
        return pa.table({"request_id": pa.array([], pa.large_string()), "first": pa.array([], pa.float64())})
    t = pa.concat_tables(parts).group_by("request_id").aggregate([("first", "min")])
    return t.rename_columns(["request_id", "first"])


def _chunk_requests(table: pa.Table) -> pa.Table:
    t = table.select(["request_id", "start_ms"]).group_by("request_id").aggregate([("start_ms", "min")])
    return t.rename_columns(["request_id", "first"])


def write_days(source: LogSource, folder: Path, *, chunk_bytes: int | None = None) -> DaysWritten:
    """Convert ``source`` into ``folder``, one file a day (see the module doc)."""
    files = expand_logs(list(source.paths))
    if not files:
        raise LogError("no log file given", code="no-logs")
    fill = 1.0 if source.sample_rate is None else float(source.sample_rate)
    sampler = (
        Sampler(source.sample_requests) if source.sample_requests is not None and source.sample_requests < 1 else None
    )
    schema = PARSE_SCHEMA.append(_SOURCE.field("source_file")).append(_SOURCE.field("source_line"))
    tally = _Tally()
    rejects: list[Rejects] = []
    formats: dict[str, str] = {}
    notes: list[str] = []
    seen_calls: set[str] = set()
    req_parts: list[pa.Table] = []
    with tempfile.TemporaryDirectory(prefix="recipemut-convert-") as tmp:
        spool = _Spool(Path(tmp), schema)

        def add(table: pa.Table, name: str) -> None:
            if sampler is not None:
                kept, lines = sampler.take(table.drop_columns(["source_line"]), table.column("source_line").to_numpy())
                table = kept.append_column("source_line", pa.array(lines, pa.int64()))
            if not table.num_rows:
                return
            rate = pc.fill_null(table.column("sample_rate"), fill)
            if sampler is not None:
                rate = pc.multiply(rate, sampler.fraction)
            table = table.set_column(table.schema.get_field_index("sample_rate"), "sample_rate", rate)
            i = table.schema.get_field_index("source_line")
            table = table.add_column(i, "source_file", pa.repeat(pa.scalar(name, pa.string()), table.num_rows))
            table = table.select(schema.names).cast(schema)
            for c in CALL_SCHEMA.names:
                if c not in seen_calls and c in table.column_names and table.column(c).null_count < table.num_rows:
                    seen_calls.add(c)
            starts = table.column("start_ms")
            ends = pc.add(starts, pc.fill_null(table.column("latency_ms"), 0.0))
            tally.first_ms = min(tally.first_ms, pc.min(starts).as_py())
            tally.last_ms = max(tally.last_ms, pc.max(ends).as_py())
            tally.rows += table.num_rows
            req_parts.append(_chunk_requests(table))
            spool.add(table)

        with contextlib.ExitStack() as stack:
            from recipemut.logs.sources import stdin_copy

            for p in files:
                name = STDIN_NAME if is_stdin(p) else str(p)
                real = stack.enter_context(stdin_copy()) if is_stdin(p) else p
                rej = Rejects(name)
                rejects.append(rej)
                try:
                    fmt = "native"
                    head = b""
                    with contextlib.suppress(OSError), open(real, "rb") as f:
                        head = f.read(4)
                    if is_parquet(head):
                        fmt = "parquet"
                    for table in _file_chunks(source, real, name, rej, tally, chunk_bytes):
                        add(table, name)
                except _NotStreamed:
                    table, rep = _whole(source, real)
                    fmt = next(iter(rep.formats.values()), "unknown")
                    tally.lines_read += rep.lines_read
                    for reason, n in rep.rejected.items():
                        rej.counts[reason] = rej.counts.get(reason, 0) + n
                    for e in rep.examples:
                        rej.examples.setdefault(e.reason, []).append(e)
                    notes.extend(rep.notes)
                    add(table, name)
                formats[name] = fmt
        days = spool.close()
        requests = _requests(req_parts)
        req_parts.clear()
        keep_cols = [c for c in SPAN_SCHEMA.names if c in schema.names or c in _SOURCE.names]
        keep_cols += [c for c in CALL_SCHEMA.names if c in seen_calls]
        written, size, variants, versions, rates = _write_out(Path(tmp), days, requests, folder, keep_cols)
    if tally.rows == 0:
        first = next((r.first for r in rejects if r.first is not None), None)
        where = f"; first problem at {first.file}:{first.line}: {first.message} [{first.reason}]" if first else ""
        raise LogError(f"no span to write{where}", code="no-spans")
    counts: dict[str, int] = {}
    examples: list[Rejection] = []
    for r in rejects:
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0) + v
        examples.extend(e for ex in r.examples.values() for e in ex)
    examples.sort(key=lambda e: (e.file, e.line))
    report = IngestReport(
        files=tuple(formats), formats=MappingProxyType(formats), lines_read=tally.lines_read, blank_lines=tally.blank,
        spans_kept=tally.rows, rejected=frozen_counts(counts), examples=tuple(examples),
        requests=requests.num_rows, time_range_ms=(tally.first_ms, tally.last_ms), variants=frozen_counts(variants),
        recipe_versions=frozen_counts(versions), unknown_ops=frozen_counts(), other_recipes=frozen_counts(),
        duplicates=0, sample_rate=fill, sample_rates=frozen_counts(rates), notes=tuple(notes),
        sample=sampler.result(requests.num_rows, reason=f"--sample-requests {sampler.fraction:g}") if sampler else None,
    )  # fmt: skip
    return DaysWritten(tally.rows, tuple(keep_cols), size, report, tuple(written))


def _write_out(
    spool: Path, days: list[int], requests: pa.Table, folder: Path, columns: list[str]
) -> tuple[list[Path], int, dict[str, int], dict[int, int], dict[float, int]]:
    """Pass 2: the day files, last day first, each row carried to its request's day."""
    req_day = np.floor(requests.column("first").to_numpy() / DAY_MS).astype(np.int64)
    carry: dict[int, list[pa.Table]] = {}
    written: list[Path] = []
    size = 0
    variants: dict[str, int] = {}
    versions: dict[int, int] = {}
    rates: dict[float, int] = {}
    for d in sorted(set(days) | set(np.unique(req_day).tolist()), reverse=True):
        parts = carry.pop(d, [])
        if d in days:
            t = pq.read_table(spool / f"{d}.parquet")
            at = pc.index_in(t.column("request_id"), value_set=requests.column("request_id")).to_numpy()
            rd = req_day[at]
            for e in np.unique(rd[rd != d]).tolist():
                carry.setdefault(e, []).append(t.filter(pa.array(rd == e)))
            parts.append(t.filter(pa.array(rd == d)) if (rd != d).any() else t)
        parts = [p for p in parts if p.num_rows]
        if not parts:
            continue
        t = pa.concat_tables(parts)
        at = pc.index_in(t.column("request_id"), value_set=requests.column("request_id"))
        first = pc.take(requests.column("first"), at)
        order = pc.sort_indices(
            pa.table({"first": first, "request_id": t.column("request_id"), "row": pa.array(np.arange(t.num_rows))}),
            sort_keys=[("first", "ascending"), ("request_id", "ascending"), ("row", "ascending")],
        )
        t = t.take(order).select(columns)
        data = parquet_bytes(t)
        path = folder / f"spans-{datetime.fromtimestamp(d * DAY_MS / 1000, UTC):%Y-%m-%d}.parquet"
        atomic_write(path, data)
        written.append(path)
        size += len(data)
        per_req = (
            t.select(["request_id", "variant"])
            .group_by("request_id", use_threads=False)
            .aggregate([("variant", "first")])
        )
        _add(variants, pc.fill_null(per_req.column("variant_first"), "control"))
        _add(versions, t.column("recipe_version"), int)
        _add(rates, t.column("sample_rate"), float)
    written.reverse()
    return written, size, variants, versions, rates


def _add(into: dict, values: pa.ChunkedArray | pa.Array, kind: type = str) -> None:  # type: ignore[type-arg,unused-ignore]
    vc = pc.value_counts(values)
    for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
        if v is not None:
            into[kind(v)] = into.get(kind(v), 0) + int(c)


__all__ = ["DAY_MS", "DaysWritten", "write_days"]
