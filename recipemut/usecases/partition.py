"""Convert, streamed: into a folder of one Parquet file per day of request start (UTC)
(:func:`write_days`), or into one Parquet file (:func:`write_file`); either sorted by request.

Pass 1 reads the logs as ingest reads them when it samples: a native JSONL log (plain, gzip, zstd)
in chunks of :data:`recipemut.logs.stream.CHUNK_BYTES` (:func:`~recipemut.logs.stream.checked_chunks`:
the same checks, line numbers and rejected lines), a Parquet log in record batches, any other
format (OTLP, Jaeger, Zipkin, standard input) whole, one file at a time. Each chunk's checked rows
(numbered in ingest order, :data:`SEQ`) are appended to a spool file (Arrow IPC, lz4) of the day
their *span* starts, and each request's first span start is kept (one row per request and a few
chunks, merged at the end). The spool is a temporary folder on the output's disk: inside the output
folder (``.spool-*.convert/``), beside the one file (``.NAME.*.convert/``), locked while in use and
removed with signals held off, a killed run's removed by the next (:mod:`~recipemut.usecases.convert_spool`); at most
:data:`OPEN_SPOOLS` spool files are open at once (a day may take several, read back in order).
``--sample-requests`` (or ``--memory-budget``, by ingest's rule: :func:`~recipemut.logs.sample.sampler_for`)
samples each chunk as ingest does; ``--sample-rate`` fills ``sample_rate`` in trace files read whole too.

Pass 2 takes the days from the last to the first: a spool holds the spans of its day's requests
and the late spans of requests begun on an earlier day (a request never starts after one of its
spans), so those rows are carried back to their request's day. A day holds the rows of the
requests that began that day, sorted by (request start, request id, ingest order): a request's
spans together, in the order of the logs. For a folder it is written as ``spans-YYYY-MM-DD.parquet``
(:func:`~recipemut.files.write.atomic_files`: every day to a temporary file in the spool, all renamed
into the folder once the last is written, none on a failure; a link where a day goes is refused,
never followed). Either way duplicates are dropped by ingest's rule
(:func:`~recipemut.logs.spans.keep_calls`, right on one day since a request is all in its day), so
a folder holds the rows one file holds and the report counts the same duplicates (reading either
drops them anyway: the rows would only be larger files). For one file, the day is conformed to
the schema the in-memory conversion wrote (:func:`~recipemut.usecases.onefile.one_file_schema`)
and kept as an Arrow IPC part; then the parts, first day first, are written through one
``ParquetWriter`` in row groups of
:data:`~recipemut.logs.parquet.BATCH_ROWS` rows (as the in-memory conversion cut them; a row group
may hold the end of a day and the start of the next) into a temporary file renamed over the target
(:mod:`recipemut.usecases.onefile`).

Memory holds one chunk, then one day (and the requests' first starts), never the whole log.
``sample_rate`` (``--sample-rate``, else 1) and ``variant`` (``control``) are filled in where a span
carries none, as ingest fills them.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import InputFileError, LogError
from recipemut.files.progress import BYTES, NO_PROGRESS, Progress
from recipemut.files.write import atomic_files, cannot_write
from recipemut.logs.checks import check_spans
from recipemut.logs.detect import detect_format, misnamed_parquet
from recipemut.logs.emptysample import empty_sample, no_spans, nothing_read
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import BATCH_ROWS, expand_logs, is_parquet, parquet_batches, parquet_bytes
from recipemut.logs.report import IngestReport, Rejection, Rejects, frozen_counts
from recipemut.logs.sample import Sampler, reading_stage, sampler_for
from recipemut.logs.sources import (
    STDIN_NAME,
    check_file,
    is_stdin,
    read_head,
    refuse_binary,
    refuse_compressed,
    refuse_other_kind,
)
from recipemut.logs.spans import (
    CALL_SCHEMA,
    DEFAULT_VARIANT,
    PARSE_SCHEMA,
    SPAN_SCHEMA,
    call_columns,
    factorize,
    keep_calls,
)
from recipemut.logs.stream import DiskTicks, checked_chunks
from recipemut.usecases.convert_spool import SpoolFolder, folder_locked
from recipemut.usecases.inputs import LogSource
from recipemut.usecases.onefile import assemble_parts, conform_day, one_file_schema

if TYPE_CHECKING:
    from recipemut.recipe.model import Recipe

DAY_MS = 86_400_000
#: spool files open at once (one per day written to lately): a log of many days never runs out of file
#: descriptors (macOS allows 256 by default, Linux 1,024)
OPEN_SPOOLS = 64
#: the temporary folder a conversion into a folder spools into, inside it (``.spool-XXXXXXXX.convert/``)
SPOOL_PREFIX = ".spool-"
#: the spool's column of ingest order (a running row number over every log), never written out
SEQ = "ingest_row"
#: the columns written, in the order of the one-file convert (call columns only when some span has one)
_SOURCE = pa.schema([pa.field("source_file", pa.string()), pa.field("source_line", pa.int64())])
#: the spool's rows: the parsed columns, where each comes from, the ingest order
_SPOOL = pa.schema([*PARSE_SCHEMA, *_SOURCE, pa.field(SEQ, pa.int64())])


@dataclass(frozen=True)
class DaysWritten:
    """What :func:`write_days` or :func:`write_file` wrote: rows, columns, bytes, the ingest report,
    the day files (none for one file)."""

    rows: int
    columns: tuple[str, ...]
    size_bytes: int
    report: IngestReport
    files: tuple[Path, ...]
    replaced: tuple[Path, ...] = ()  # day files that were in the folder and were written over
    others: tuple[Path, ...] = ()  # Parquet files in the folder left as they were (--logs FOLDER reads them too)


@dataclass
class _Tally:
    """What pass 1 counted, for the report."""

    lines_read: int = 0
    blank: int = 0
    rows: int = 0
    duplicates: int = 0  # dropped by the reader of a trace file (read whole)
    format_counts: dict[str, int] = field(default_factory=dict)  # what the readers of trace files counted


@dataclass
class _Spooled:
    """What pass 1 left: the spool's days, each request's first start, the columns to write, the
    files that gave spans (in order), and what the report needs."""

    spool: _Spool
    days: list[int]
    requests: pa.Table
    columns: list[str]
    sources: list[str]
    tally: _Tally
    rejects: list[Rejects]
    formats: dict[str, str]
    notes: list[str]
    sampler: Sampler | None
    sampled_by: str  # why: --sample-requests, or the memory budget's sentence
    auto_sampled: bool  # by the memory budget, not --sample-requests
    fill: float


@dataclass
class _Written:
    """What pass 2 wrote and counted (after duplicates were dropped, when they were)."""

    rows: int = 0
    size: int = 0
    duplicates: int = 0
    span_ids: bool = False
    first_ms: float = float("inf")
    last_ms: float = float("-inf")
    variants: dict[str, int] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    rates: dict[float, int] = field(default_factory=dict)


def _file_chunks(
    source: LogSource, path: Path, name: str, rej: Rejects, tally: _Tally, chunk_bytes: int | None,
    on_chunk: Callable[[int], None] | None = None,
) -> Iterator[pa.Table]:
    """The checked rows of one log as :data:`PARSE_SCHEMA` tables with their ``source_line``."""
    check_file(path, name)
    head = read_head(path, name)
    fmt = source.log_format
    if is_parquet(head) and fmt in ("auto", "native"):
        for table, lines in parquet_batches(path, name, batch_bytes=chunk_bytes):
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
        refuse_other_kind(head, name)
        chunks = checked_chunks(path, name, rej, strict=source.strict, chunk_bytes=chunk_bytes, on_chunk=on_chunk)
        for table, lines, r, b in chunks:
            tally.lines_read += r
            tally.blank += b
            yield table.append_column("source_line", pa.array(lines, pa.int64()))
        return
    raise _NotStreamed


class _NotStreamed(Exception):
    """A log of a trace format: read whole by ``read_logs``."""


def _whole(source: LogSource, path: Path, recipe: Recipe | None) -> tuple[pa.Table, IngestReport]:
    df, rep = read_logs(
        [path], recipe=recipe, strict=source.strict, log_format=source.log_format, mapping=source.mapping,
        memory_budget="off", sample_rate=source.sample_rate,
    )  # fmt: skip
    table = pa.Table.from_pandas(df, preserve_index=False)
    cols = []
    for f in PARSE_SCHEMA:
        cols.append(table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type))
    out = pa.table(cols, schema=PARSE_SCHEMA)
    return out.append_column("source_line", table.column("source_line").cast(pa.int64()).fill_null(0)), rep


class _Spool:
    """Spool files of the days of span start, appended chunk by chunk (Arrow IPC, lz4: written and
    read back several times faster than zstd Parquet, for about twice the space).

    At most :data:`OPEN_SPOOLS` are open at once: a day written to when that many are open closes the
    one written to least recently, and a day written to again after its file was closed goes on in a
    new segment file; :meth:`read` reads a day's segments in the order they were written (ingest
    order, as the rows were appended)."""

    def __init__(self, folder: Path, schema: pa.Schema) -> None:
        self.folder, self.schema = folder, schema
        self.writers: OrderedDict[int, tuple[pa.NativeFile, pa.ipc.RecordBatchFileWriter]] = OrderedDict()
        self.segments: dict[int, list[Path]] = {}

    def paths(self, day: int) -> list[Path]:
        """The day's segment files, in the order written."""
        return self.segments.get(day, [])

    def _open(self, day: int) -> pa.ipc.RecordBatchFileWriter:
        while len(self.writers) >= max(OPEN_SPOOLS, 1):
            for f in self.writers.popitem(last=False)[1][::-1]:  # the writer, then its file
                f.close()
        seg = self.segments.setdefault(day, [])
        path = self.folder / f".day-{day}-{len(seg)}.arrow"  # dot-named: --logs never lists it
        sink = pa.OSFile(str(path), "wb")
        seg.append(path)
        w = pa.ipc.new_file(sink, self.schema, options=pa.ipc.IpcWriteOptions(compression="lz4"))
        self.writers[day] = (sink, w)
        return w

    def add(self, table: pa.Table) -> None:
        day = np.floor(table.column("start_ms").to_numpy(zero_copy_only=False) / DAY_MS).astype(np.int64)
        for d in np.unique(day).tolist():
            if d in self.writers:
                self.writers.move_to_end(d)
                w = self.writers[d][1]
            else:
                w = self._open(d)
            w.write_table(table.filter(pa.array(day == d)))

    def read(self, day: int) -> pa.Table:
        parts = []
        for path in self.paths(day):
            with pa.OSFile(str(path)) as src:
                parts.append(pa.ipc.open_file(src).read_all())
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def close(self, *, failing: bool = False) -> list[int]:
        """The days spooled, every writer closed (when ``failing``, one failing to flush again is not said twice)."""
        while self.writers:
            for f in self.writers.popitem(last=False)[1][::-1]:  # the writer, then its file
                with contextlib.suppress(OSError) if failing else contextlib.nullcontext():
                    f.close()
        return sorted(self.segments)


def _requests(parts: list[pa.Table]) -> pa.Table:
    """Each request's first span start, from the per-chunk aggregates."""
    if not parts:
        return pa.table({"request_id": pa.array([], pa.large_string()), "first": pa.array([], pa.float64())})
    t = pa.concat_tables(parts).group_by("request_id").aggregate([("first", "min")])
    return t.rename_columns(["request_id", "first"])


def _chunk_requests(table: pa.Table) -> pa.Table:
    t = table.select(["request_id", "start_ms"]).group_by("request_id").aggregate([("start_ms", "min")])
    return t.rename_columns(["request_id", "first"])


def spool_rows(table: pa.Table, name: str, *, fill: float, first_row: int, fraction: float | None = None) -> pa.Table:
    """Checked rows of the log ``name`` (:data:`PARSE_SCHEMA` and ``source_line``) as the spool holds
    them: ``sample_rate`` filled in with ``fill`` where a span carries none (times a request sample's
    ``fraction``) and ``variant`` with ``control``, as ingest fills them; ``source_file`` ``name``;
    :data:`SEQ` the ingest order, from ``first_row``."""
    rate = pc.fill_null(table.column("sample_rate"), fill)
    if fraction is not None:
        rate = pc.multiply(rate, fraction)
    table = table.set_column(table.schema.get_field_index("sample_rate"), "sample_rate", rate)
    i = table.schema.get_field_index("variant")
    table = table.set_column(i, "variant", pc.fill_null(table.column(i), DEFAULT_VARIANT))
    i = table.schema.get_field_index("source_line")
    table = table.add_column(i, "source_file", pa.repeat(pa.scalar(name, pa.string()), table.num_rows))
    # ingest order, global: a request's spans are put back in it whichever day's spool they went to
    table = table.append_column(SEQ, pa.array(np.arange(first_row, first_row + table.num_rows)))
    return table.select(_SPOOL.names).cast(_SPOOL)


def _spool_logs(
    source: LogSource, work: Path, chunk_bytes: int | None, progress: Progress = NO_PROGRESS,
    recipe: Recipe | None = None,
) -> _Spooled:
    """Pass 1: every log, chunk by chunk, checked, sampled and appended to the spool of its spans' day;
    ``progress`` is told the bytes read, chunk by chunk (the stage ``reading logs``)."""
    files = expand_logs(list(source.paths))
    if not files:
        raise LogError("no log file given", code="no-logs")
    fill = 1.0 if source.sample_rate is None else float(source.sample_rate)
    schema = _SPOOL
    tally = _Tally()
    rejects: list[Rejects] = []
    formats: dict[str, str] = {}
    notes: list[str] = []
    nothing: dict[str, str] = {}  # the files that held no line: why (ingest's words)
    seen_calls: set[str] = set()
    sources: dict[str, None] = {}
    req_parts: list[pa.Table] = []
    spool = _Spool(work, schema)

    with contextlib.ExitStack() as stack:
        from recipemut.logs.sources import stdin_copy

        real_files = [stack.enter_context(stdin_copy()) if is_stdin(p) else p for p in files]
        sampler, sampled_by = sampler_for(
            real_files, source.sample_requests, source.memory_budget, fill_rate=fill, log_format=source.log_format
        )

        def add(table: pa.Table, name: str) -> None:
            if sampler is not None:
                kept, lines = sampler.take(table.drop_columns(["source_line"]), table.column("source_line").to_numpy())
                table = kept.append_column("source_line", pa.array(lines, pa.int64()))
            if not table.num_rows:
                return
            fraction = sampler.fraction if sampler is not None else None
            table = spool_rows(table, name, fill=fill, first_row=tally.rows, fraction=fraction)
            for c in CALL_SCHEMA.names:
                if c not in seen_calls and c in table.column_names and table.column(c).null_count < table.num_rows:
                    seen_calls.add(c)
            sources[name] = None
            tally.rows += table.num_rows
            req_parts.append(_chunk_requests(table))
            if len(req_parts) >= 16:  # one row per request and a few chunks, not per chunk
                req_parts[:] = [_requests(req_parts)]
            spool.add(table)

        sizes = [real.stat().st_size if real.is_file() else 0 for real in real_files]
        progress.task(reading_stage(sampler.fraction if sampler else None, sampled_by), sum(sizes), unit=BYTES)
        try:
            for p, real, size in zip(files, real_files, sizes, strict=True):
                ticks = DiskTicks(progress, real, size)
                name = STDIN_NAME if is_stdin(p) else str(p)
                rej = Rejects(name)
                rejects.append(rej)
                try:
                    fmt = "native"
                    head = b""
                    check_file(real, name)  # a FIFO or a device refused before it is opened (it hung here)
                    with contextlib.suppress(OSError), open(real, "rb") as f:
                        head = f.read(4)
                    if is_parquet(head):
                        fmt = "parquet"
                    read_before, blank_before = tally.lines_read, tally.blank
                    chunk = chunk_bytes or (sampler.chunk_bytes if sampler is not None else None)  # the budget's
                    for table in _file_chunks(source, real, name, rej, tally, chunk, ticks):
                        add(table, name)
                    if tally.lines_read == read_before:  # ingest's words for a file that holds nothing
                        nothing[name] = nothing_read(tally.blank - blank_before, parquet=fmt == "parquet")
                except _NotStreamed:
                    table, rep = _whole(source, real, recipe)
                    fmt = next(iter(rep.formats.values()), "unknown")
                    tally.lines_read += rep.lines_read
                    for reason, n in rep.rejected.items():
                        rej.counts[reason] = rej.counts.get(reason, 0) + n
                    for e in rep.examples:
                        rej.examples.setdefault(e.reason, []).append(e)
                    notes.extend(rep.notes)
                    tally.duplicates += rep.duplicates
                    for k, n in rep.format_counts.items():
                        tally.format_counts[k] = tally.format_counts.get(k, 0) + n
                    add(table, name)
                formats[name] = fmt
                ticks.finish()
        except BaseException:
            spool.close(failing=True)
            raise
        days = spool.close()
    if tally.rows == 0:
        _nothing_to_write(sampler, sampled_by, rejects, nothing)
    columns = [c for c in SPAN_SCHEMA.names if c in schema.names or c in _SOURCE.names]
    columns += [c for c in CALL_SCHEMA.names if c in seen_calls]
    return _Spooled(
        spool,
        days,
        _requests(req_parts),
        columns,
        list(sources),
        tally,
        rejects,
        formats,
        notes,
        sampler,
        sampled_by,
        source.sample_requests is None,
        fill,
    )


def _nothing_to_write(
    sampler: Sampler | None, sampled_by: str, rejects: list[Rejects], nothing: dict[str, str]
) -> None:
    """Raise why no span is left to write, in the words ``profile`` gives: a request sample that kept
    none (:func:`~recipemut.logs.emptysample.empty_sample`: the fraction, and the option that chose it),
    logs that hold nothing (``no spans in the logs: a.jsonl is empty``), else the first rejected line."""
    total = sampler.counts.merged().num_rows if sampler is not None else 0
    if sampler is not None and total:
        raise empty_sample(sampler.fraction, total, sampled_by)
    if len(nothing) == len(rejects):
        raise no_spans(", ".join(f"{name} {what}" for name, what in nothing.items()))
    first = next((r.first for r in rejects if r.first is not None), None)
    where = f"; first problem at {first.file}:{first.line}: {first.message} [{first.reason}]" if first else ""
    raise LogError(f"no span to write{where}", code="no-spans")


def _report(sp: _Spooled, out: _Written) -> IngestReport:
    """The ingest report of a streamed conversion: what ``read_logs`` would say of the same logs."""
    counts: dict[str, int] = {}
    examples: list[Rejection] = []
    for r in sp.rejects:
        for k, v in r.counts.items():
            counts[k] = counts.get(k, 0) + v
        examples.extend(e for ex in r.examples.values() for e in ex)
    order = {name: i for i, name in enumerate(sp.formats)}  # as ingest: the files in the order given
    examples.sort(key=lambda e: (order.get(e.file, 0), e.line))
    notes = list(sp.notes)
    if out.duplicates:
        notes.append(
            f"{out.duplicates} duplicate spans dropped (the same span_id twice, or the same (request_id, op) "
            "on lines without span_id); the last-ending one was kept"
            if out.span_ids
            else f"{out.duplicates} duplicate (request_id, op) spans dropped; the last-ending one was kept"
        )
    sample = None
    if sp.sampler is not None:
        sample = sp.sampler.result(sp.requests.num_rows, automatic=sp.auto_sampled, reason=sp.sampled_by)
        notes.append(sample.summary(written=True))
    return IngestReport(
        files=tuple(sp.formats), formats=MappingProxyType(sp.formats), lines_read=sp.tally.lines_read,
        blank_lines=sp.tally.blank, spans_kept=out.rows, rejected=frozen_counts(counts), examples=tuple(examples),
        requests=sp.requests.num_rows, time_range_ms=(out.first_ms, out.last_ms),
        variants=frozen_counts(out.variants), recipe_versions=frozen_counts(out.versions),
        unknown_ops=frozen_counts(), other_recipes=frozen_counts(), duplicates=out.duplicates + sp.tally.duplicates,
        sample_rate=sp.fill, sample_rates=frozen_counts(out.rates), format_counts=frozen_counts(sp.tally.format_counts),
        notes=tuple(notes), sample=sample,
    )  # fmt: skip


def day_path(folder: Path, day: int) -> Path:
    """The file of ``day`` (days since the epoch, UTC) in ``folder``: ``spans-YYYY-MM-DD.parquet``."""
    return folder / f"spans-{datetime.fromtimestamp(day * DAY_MS / 1000, UTC):%Y-%m-%d}.parquet"


def write_days(
    source: LogSource, folder: Path, *, chunk_bytes: int | None = None, progress: Progress = NO_PROGRESS,
    force: bool = False, recipe: Recipe | None = None,
) -> DaysWritten:
    """Convert ``source`` into ``folder``, one file a day, duplicates dropped as for one file (see the
    module doc); ``progress`` is told the bytes read, then the days written. Once the logs are read,
    a day file to write that is there already is refused unless ``force``
    (:func:`~recipemut.usecases.overwrite.refuse_existing_days`: nothing is written); with it, the
    Parquet files already in the folder are said: those written over (``replaced``) and those left
    (``others``)."""
    from recipemut.usecases.overwrite import refuse_existing_days

    written: list[Path] = []
    # the spool in the folder (the days' disk, not a tmpfs): dot-named Arrow IPC files --logs FOLDER never reads,
    # removed on any exit; a temporary file a day in it, all renamed in once all are written, never via planted links
    try:  # made before any log is read: a folder that cannot take it is said in one line (a race past convert's check)
        spool_dir = SpoolFolder(folder, SPOOL_PREFIX)  # locked; the stale ones a killed conversion left removed
    except OSError as e:
        raise InputFileError(f"{folder}: cannot write there ({(e.strerror or str(e)).lower()})", code="out") from None
    with (
        contextlib.ExitStack() as held,  # the folder's lock, once the logs are read (folder_locked)
        spool_dir as tmp,
        atomic_files(follow=False, what="day file", tmp_dir=Path(tmp), kept="the day files of a folder") as days,
    ):

        def day_file(day: int, table: pa.Table) -> int:
            data = parquet_bytes(table)
            path = day_path(folder, day)
            days.write(path, data)
            written.append(path)
            return len(data)

        try:  # the log readers say their own errors: an OSError here is the spool's, a write (a full disk)
            sp = _spool_logs(source, Path(tmp), chunk_bytes, progress, recipe)
        except OSError as e:
            raise cannot_write(folder, e) from None
        # the days written are those a request began on (each keeps a span): known before any is written
        first = np.floor(sp.requests.column("first").to_numpy(zero_copy_only=False) / DAY_MS).astype(np.int64)
        held.enter_context(folder_locked(folder, noted=not spool_dir.locked))  # through the renames: no run mixed in
        try:
            before = set(expand_logs([folder], note_skipped=False))  # the output, not a log: nothing to note
        except InputFileError:  # no Parquet file there yet
            before = set()
        refuse_existing_days(folder, [day_path(folder, d) for d in np.unique(first).tolist()], force=force)
        progress.task("writing the days", len(sp.days), unit="days")
        out = _write_out(sp, day_file, dedupe=True, progress=progress)
        spool_dir.commit(days, release=held)  # renames, spool removed, lock released: signals held off over all
    written.reverse()
    replaced, others = tuple(p for p in written if p in before), tuple(sorted(before - set(written)))
    return DaysWritten(out.rows, tuple(sp.columns), out.size, _report(sp, out), tuple(written), replaced, others)


def sorted_day(parts: list[pa.Table], requests: pa.Table) -> pa.Table:
    """One day's rows (its requests' spans, from its spool and later days') sorted by (request start,
    request id, ingest order)."""
    t = pa.concat_tables(parts)
    at = pc.index_in(t.column("request_id"), value_set=requests.column("request_id"))
    first = pc.take(requests.column("first"), at)
    order = pc.sort_indices(
        pa.table({"first": first, "request_id": t.column("request_id"), SEQ: t.column(SEQ)}),
        sort_keys=[("first", "ascending"), ("request_id", "ascending"), (SEQ, "ascending")],
    )
    if bool((np.diff(order.to_numpy()) == 1).all()):  # in order already (a generated log): not copied
        return t.combine_chunks()  # one chunk, as take gives: the Parquet writer cuts the same pages
    return t.take(order)


class _ByDay:
    """The requests (``request_id``, ``first``) in order of their day of first start: a day's requests
    are a slice, so a day's rows are looked up among that day's requests (then the day before's,
    then the earlier ones'), not all of the log's every day (1,100 days of 300,000 requests took
    46 s in those lookups)."""

    def __init__(self, requests: pa.Table) -> None:
        day = np.floor(requests.column("first").to_numpy() / DAY_MS).astype(np.int64)
        order = np.argsort(day, kind="stable")
        self.requests, self.day = requests.take(pa.array(order)), day[order]

    def _bounds(self, lo: int, hi: int) -> tuple[int, int]:
        return int(np.searchsorted(self.day, lo, "left")), int(np.searchsorted(self.day, hi, "left"))

    def of(self, lo: int, hi: int) -> pa.Table:
        """The requests begun on the days ``lo`` to ``hi`` (excluded)."""
        i, j = self._bounds(lo, hi)
        return self.requests.slice(i, j - i)

    def days_of(self, ids: pa.ChunkedArray, d: int) -> np.ndarray:
        """The day each of the spans ``ids`` (of day ``d``'s spool: requests begun that day or before)
        belongs to: its request's day of first start."""
        out = np.full(len(ids), d, np.int64)
        left = np.arange(len(ids))
        for lo, hi in ((d, d + 1), (d - 1, d), (int(self.day[0]) if len(self.day) else d, d - 1)):
            i, j = self._bounds(lo, hi)
            if not len(left) or j <= i:
                continue
            at = pc.index_in(ids.take(pa.array(left)), value_set=self.requests.column("request_id").slice(i, j - i))
            found = np.asarray(pc.is_valid(at).to_numpy(zero_copy_only=False), dtype=bool)
            out[left[found]] = self.day[i + np.asarray(pc.fill_null(at, 0).to_numpy(zero_copy_only=False))[found]]
            left = left[~found]
        return out


def _write_out(
    sp: _Spooled, sink: Callable[[int, pa.Table], int], *, dedupe: bool, progress: Progress = NO_PROGRESS
) -> _Written:
    """Pass 2: the days, last first, each row carried to its request's day, sorted, duplicates dropped
    when ``dedupe`` (as ingest drops them: a request's spans are all in its day), handed to ``sink``
    (which returns the bytes it wrote)."""
    by_day = _ByDay(sp.requests)
    carry: dict[int, list[pa.Table]] = {}
    out = _Written()
    for d in sorted(set(sp.days) | set(np.unique(by_day.day).tolist()), reverse=True):
        parts = carry.pop(d, [])
        if d in sp.days:
            progress.advance()
            t = sp.spool.read(d)
            rd = by_day.days_of(t.column("request_id"), d)
            for e in np.unique(rd[rd != d]).tolist():
                carry.setdefault(e, []).append(t.filter(pa.array(rd == e)))
            parts.append(t.filter(pa.array(rd == d)) if (rd != d).any() else t)
            del t
        parts = [p for p in parts if p.num_rows]
        if not parts:
            continue
        t = sorted_day(parts, by_day.of(d, d + 1)).select(sp.columns)
        del parts
        per_req = (
            t.select(["request_id", "variant"])
            .group_by("request_id", use_threads=False)
            .aggregate([("variant", "first")])
        )
        _add(out.variants, per_req.column("variant_first"))
        if dedupe:
            keep, span_ids = _kept(t)
            out.span_ids = out.span_ids or span_ids
            if not keep.all():
                out.duplicates += int((~keep).sum())
                t = t.filter(pa.array(keep))
        starts = t.column("start_ms")
        out.first_ms = min(out.first_ms, pc.min(starts).as_py())
        out.last_ms = max(out.last_ms, pc.max(pc.add(starts, pc.fill_null(t.column("latency_ms"), 0.0))).as_py())
        out.rows += t.num_rows
        _add(out.versions, t.column("recipe_version"), int)
        _add(out.rates, t.column("sample_rate"), float)
        out.size += sink(d, t)
    return out


def _kept(t: pa.Table) -> tuple[np.ndarray, bool]:
    """Ingest's duplicate rule (:func:`~recipemut.logs.spans.keep_calls`) on one day's rows, and
    whether some span had a ``span_id``."""
    req, _ = factorize(t.column("request_id"))
    ops, op_names = factorize(t.column("op"))
    span_ids = "span_id" in t.column_names and t.column("span_id").null_count < t.num_rows
    spans = factorize(t.column("span_id"))[0] if span_ids else None
    start = t.column("start_ms").to_numpy()
    end = start + t.column("latency_ms").to_numpy()
    return keep_calls(req, ops, spans, end, len(op_names)), span_ids


def write_file(
    source: LogSource, path: Path, *, chunk_bytes: int | None = None, progress: Progress = NO_PROGRESS,
    recipe: Recipe | None = None,
) -> DaysWritten:
    """Convert ``source`` into the one Parquet file ``path``, streamed: passes 1 and 2 as for a folder
    (duplicates dropped as ingest drops them), each day's sorted rows kept as an Arrow IPC part in a
    temporary folder beside ``path``; then the parts, first day first, are written through one
    :class:`pyarrow.parquet.ParquetWriter` into a temporary file beside ``path`` (row groups of
    :data:`~recipemut.logs.parquet.BATCH_ROWS` rows, the last shorter) renamed over ``path``. On
    any error (Ctrl-C included) the temporary file and folder are removed and ``path`` is as it
    was. ``progress`` is told the bytes read, the days sorted, then the writing (:func:`one_file_table`:
    the same file of one log's rows held in memory). Raises :class:`OSError` when the file or its parts
    cannot be written."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    with SpoolFolder(folder, f".{target.name}.") as tmp:
        work = Path(tmp)
        sp = _spool_logs(source, work, chunk_bytes, progress, recipe)
        progress.task("sorting the days", len(sp.days), unit="days")
        schema = one_file_schema(sp.columns, sp.sources)
        names = pa.array(sp.sources, pa.string())
        parts: dict[int, Path] = {}

        def day_part(day: int, table: pa.Table) -> int:
            part = work / f".part-{day}.arrow"
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            with pa.OSFile(str(part), "wb") as f, pa.ipc.new_file(f, schema, options=options) as w:
                w.write_table(conform_day(table, schema, names), max_chunksize=BATCH_ROWS)
            parts[day] = part
            return 0

        out = _write_out(sp, day_part, dedupe=True, progress=progress)
        progress.task(f"writing {target.name}")
        for d in sp.days:  # the spool is read: its space is the parts' now
            for seg in sp.spool.paths(d):
                seg.unlink()
        size = assemble_parts(target, schema, [parts[d] for d in sorted(parts)], BATCH_ROWS)
    return DaysWritten(out.rows, tuple(sp.columns), size, _report(sp, out), ())


def one_file_table(table: pa.Table, name: str, *, fill: float = 1.0) -> tuple[pa.Table, int]:
    """The table :func:`write_file` writes of one log whose checked rows are in memory (``table``:
    :data:`PARSE_SCHEMA` and ``source_line``; no request sample), ``name`` in ``source_file``, by its
    steps in one go: filled as spooled (:func:`spool_rows`), sorted by request (:func:`sorted_day`; a
    request's day follows from its first start, so the days are in order), duplicates dropped by
    ingest's rule, conformed to the one file's schema, in the chunks of the day parts (a day's rows,
    :data:`~recipemut.logs.parquet.BATCH_ROWS` at most), where the Parquet writer cuts its pages: the
    same bytes; and how many duplicates were dropped."""
    t = spool_rows(table, name, fill=fill, first_row=0)
    columns = [*SPAN_SCHEMA.names, *call_columns(t)]
    requests = _chunk_requests(t)
    t = sorted_day([t], requests).select(columns)
    keep, _ = _kept(t)
    if not keep.all():
        t = t.filter(pa.array(keep))
    first = pc.take(requests.column("first"), pc.index_in(t.column("request_id"), value_set=requests.column(0)))
    day = np.floor(first.to_numpy(zero_copy_only=False) / DAY_MS)
    chunks, at = [], 0
    for end in [*(np.flatnonzero(np.diff(day)) + 1).tolist(), len(day)]:  # each day's end
        chunks += [t.slice(a, min(BATCH_ROWS, end - a)) for a in range(at, end, BATCH_ROWS)]
        at = end
    t = pa.concat_tables(chunks) if len(chunks) > 1 else t
    return conform_day(t, one_file_schema(columns, [name]), pa.array([name], pa.string())), int((~keep).sum())


def _add(into: dict, values: pa.ChunkedArray | pa.Array, kind: type = str) -> None:  # type: ignore[type-arg,unused-ignore]
    vc = pc.value_counts(values)
    for v, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(), strict=True):
        if v is not None:
            into[kind(v)] = into.get(kind(v), 0) + int(c)


__all__ = [
    "DAY_MS", "SEQ", "DaysWritten", "day_path", "one_file_schema", "one_file_table", "sorted_day", "spool_rows",
    "write_days", "write_file",
]  # fmt: skip
