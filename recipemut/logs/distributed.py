"""The partitioned engines: a log read partition by partition into mergeable partials, in this
process or on a Dask cluster, then merged on the client.

:func:`plan_partitions` cuts the logs into :class:`Partition` s: runs of a Parquet file's row groups
that take about :data:`PARTITION_BYTES` in memory,
each byte range of :data:`PARTITION_BYTES` of a plain native JSONL file (a line belongs to the
range its first byte is in), each gzip or zstd file whole. Local paths, folders and globs of Parquet
files, and object-storage URLs (``s3://``, ``gs://``, ... through fsspec, when the filesystem
package is installed) are accepted (:mod:`recipemut.logs.urls` finds them). :func:`read_partition`
is the one function a worker runs: it
reads, parses and checks its partition and returns its :class:`~recipemut.logs.partials.Partial`.
:func:`read_partitioned` maps it over the partitions (``engine="dask"``: on the cluster at
``scheduler``, or on an in-process ``LocalCluster`` when there is none; ``engine="local"``: one
after another here), merges the partials, and returns the spans of the sampled requests (the span
table, for replay), the ingest report, and the whole log's :class:`LogFigures` (per-operation
counts, percentiles from the merged histograms, means; every request's first start). A
:class:`~recipemut.files.progress.Progress` it is given counts the partitions as they are read (on
Dask, as each task completes). The memory budget counts gzip and zstd logs in object storage by the
content size their trailer or frame header gives (:func:`plan_partitions` reads it).

The Dask packages are imported only here, and only when the engine is ``dask``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from recipemut.errors import LogError
from recipemut.files.compressed import (
    STREAM_ERRORS,
    InflatesTooFar,
    compressed_with,
    decompressing,
    gzip_limit,
    is_gzip,
    is_zstd,
)
from recipemut.files.progress import NO_PROGRESS, Progress
from recipemut.logs.checks import check_spans
from recipemut.logs.daskclient import dask_client
from recipemut.logs.detect import UTF8_BOM, detect_format, misnamed_parquet
from recipemut.logs.emptysample import all_rejected, empty_sample, no_recipe_spans, no_spans, nothing_read
from recipemut.logs.native import GIVE_UP_AFTER, not_a_log
from recipemut.logs.parquet import (
    PAGE_BUFFER_BYTES,
    READ_BATCH_BYTES,
    READ_BATCH_ROWS,
    check_schema,
    conform,
    grown_bytes,
    is_parquet,
    read_plan,
    too_large,
)
from recipemut.logs.partials import SUMMED, Partial, hist_quantiles, merge, partial_of
from recipemut.logs.partreport import finish
from recipemut.logs.report import IngestReport, Rejects
from recipemut.logs.sample import (
    EXPANSION,
    PARQUET_ROW_BYTES,
    floor_note,
    parquet_memory,
    sample_fraction,
    stream_content_size,
)
from recipemut.logs.sources import HEAD_BYTES, check_file, refuse_binary, too_far, unreadable
from recipemut.logs.stream import line_chunks, merge_rejects, read_chunk
from recipemut.logs.urls import as_url, expand_sources, local_path, open_source
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)

ENGINES = ("local", "dask")
#: bytes of a plain JSONL file per partition
PARTITION_BYTES = 64 << 20
#: the most bytes a line of a plain JSONL file may run past its partition's end (or into its start)
MAX_LINE_BYTES = 256 << 20
#: the most partitions a Parquet file of small row groups is cut into (:func:`_parquet_parts`)
FILE_PARTITIONS = 8
#: seconds to wait for a scheduler to answer before giving up
CONNECT_TIMEOUT_S = 5.0
#: the unit the reading stage counts in (:class:`~recipemut.files.progress.Progress`)
PARTITIONS = "partitions"


@dataclass(frozen=True)
class Partition:
    """One unit of work: ``kind`` ``jsonl`` (bytes ``start``..``end``), ``packed`` (a gzip or zstd file, whole:
    bytes 0..``end``) or ``parquet`` (``groups`` row groups from ``start``, whose first row is row ``end + 1``
    of the file)."""

    index: int
    source: str  # a local path or a URL
    name: str  # what messages call it
    kind: str
    start: int = 0
    end: int = 0
    rows: int = 0  # a Parquet file's rows (on each of its partitions): what the memory budget counts
    groups: int = 1  # a Parquet partition's row groups (small ones are joined: _parquet_parts)
    weight: int = 0  # about the bytes it takes in memory: small partitions are read by one Dask task
    content: int = 0  # a gzip or zstd file in object storage: its content's bytes, as its trailer or frame
    # header says (_content_size), what the memory budget counts (a local file's is counted by its path)


def plan_partitions(paths: Sequence[str | Path], partition_bytes: int = PARTITION_BYTES) -> list[Partition]:
    """The partitions of the logs, in file order (see the module doc)."""
    import pyarrow.parquet as pq

    parts: list[Partition] = []
    for source in expand_sources(paths):
        if (local := local_path(source)) is not None:  # by name or by file:// URL: no FIFO, no device
            check_file(local)
        try:
            with open_source(source) as f:
                head = f.read(8)
                size = f.seek(0, 2)
                if is_parquet(head):
                    meta = pq.ParquetFile(f).metadata
                    check_schema(meta.schema.to_arrow_schema(), source)  # here, not on a worker: one line
                    per_row = max(PARQUET_ROW_BYTES, parquet_memory(meta) // max(meta.num_rows, 1))  # wide rows: more
                    rows = max(1, partition_bytes // per_row)  # about partition_bytes in memory
                    parts.extend(_parquet_parts(meta, source, len(parts), rows))
                elif misnamed := misnamed_parquet(source, head):  # as the local engines say it, not read as JSONL
                    raise LogError(misnamed, file=source, code="not-parquet")
                elif is_gzip(head) or is_zstd(head):  # a compressed stream cannot be cut: one partition
                    kind = "gzip" if is_gzip(head) else "zstd"
                    content = stream_content_size(f, kind, size)  # read here, on the file already open,
                    refuse_uncut(source, _text_head(f, size, kind, source))  # which reading its head may close
                    parts.append(Partition(len(parts), source, source, "packed", 0, size, weight=partition_bytes,
                                           content=content))  # fmt: skip
                elif (packed := compressed_with(head)) is not None:
                    raise LogError(f"{packed[0]}-compressed; decompress it first ({packed[1]})", file=source,
                                   code="compressed")  # fmt: skip
                else:
                    refuse_uncut(source, _text_head(f, size, "", source))
                    for a in range(0, max(size, 1), partition_bytes):
                        end = min(a + partition_bytes, size)
                        parts.append(Partition(len(parts), source, source, "jsonl", a, end, weight=end - a))
        except (OSError, pa.ArrowException) as e:
            raise LogError(f"cannot be read ({e})", file=source, code="unreadable") from None
    return parts


def _parquet_parts(meta: Any, source: str, first: int, rows: int) -> Iterator[Partition]:
    """A Parquet file's partitions: runs of row groups, each ending once it holds ``rows`` rows or its
    share of :data:`FILE_PARTITIONS` (10,000 row groups of one row were 10,000 tasks, past 120 s)."""
    n_groups = meta.num_row_groups
    if n_groups == 0:  # no row group, not even an empty one: a partition all the same, which holds no rows
        yield Partition(first, source, source, "parquet", 0, 0, 0, 0, 0)
        return
    share = -(-n_groups // FILE_PARTITIONS)
    start = base = held = 0  # the run's first row group, the rows before it, its rows
    for g in range(n_groups):
        held += meta.row_group(g).num_rows
        if g + 1 - start >= share or held >= rows or g + 1 == n_groups:
            weight = parquet_memory(meta, range(start, g + 1))
            yield Partition(first, source, source, "parquet", start, base, meta.num_rows, g + 1 - start,
                            weight)  # fmt: skip
            first, start, base, held = first + 1, g + 1, base + held, 0


def _text_head(f: IO[bytes], size: int, kind: str, name: str) -> bytes:
    """The first :data:`~recipemut.logs.sources.HEAD_BYTES` of the content of a file of ``size`` bytes
    (``kind``: ``gzip``, ``zstd`` or ``""``), decompressed as the local engine reads it; refused when
    binary (a file of NUL bytes took the workers past 11 GB), or when its stream cannot be read (corrupt,
    or cut before its first byte) in the local engine's words (:func:`~recipemut.logs.sources.unreadable`).
    The head of a stream cut later is what was read before the cut."""
    try:
        with decompressing(f, size) as content:
            head = bytes(content.read(HEAD_BYTES))
    except (*STREAM_ERRORS, pa.ArrowException) as e:
        if not kind:
            raise
        raise unreadable(e, kind, name) from None
    refuse_binary(head, name)
    return head


def refuse_uncut(name: str, head: bytes) -> None:
    """Refuse, by its content, a file the partitioned engines cannot cut into partitions: traces
    (OTLP, Jaeger, Zipkin) and run histories are whole JSON documents, not lines of spans."""
    if len(head) >= HEAD_BYTES and b"\n" not in head:
        return  # one first line longer than the head: a bad line of a native log, the reader's to reject
    fmt = detect_format(head)
    if fmt == "unknown":
        raise LogError("unsupported log format (not native JSONL spans, and no reader recognises it)",
                       file=name, code="unsupported-format")  # fmt: skip
    if fmt != "native":
        raise LogError(
            f"{fmt} JSON (found by its content): --engine dask reads native JSONL and Parquet logs, which it cuts "
            "into partitions; recipemut convert --recipe RECIPE turns this file into Parquet mapped to the recipe",
            file=name, code="engine-format",
        )  # fmt: skip


def _range_bytes(f: IO[bytes], start: int, end: int, name: str = "") -> bytes:
    """The whole lines whose first byte is in ``start..end``; a line running more than
    :data:`MAX_LINE_BYTES` past either end is refused (each partition read to the end of a file
    with no line break)."""

    def rest_of_line(at: int) -> bytes:
        got = f.readline(MAX_LINE_BYTES)
        if len(got) >= MAX_LINE_BYTES and not got.endswith(b"\n"):
            raise LogError(f"a line runs on past byte {at + MAX_LINE_BYTES:,} with no line break; not a log of "
                           f"lines of spans", file=name, code="line-too-long")  # fmt: skip
        return got

    if start > 0:
        f.seek(start - 1)
        rest_of_line(start - 1)  # the rest of the line that began before ``start``
    pos = f.tell()
    if pos >= end:
        return b""
    data = f.read(end - pos)
    if data and not data.endswith(b"\n"):
        data += rest_of_line(end)
    return data


def _packed_chunks(part: Partition) -> Iterator[tuple[bytes | memoryview, int]]:
    """A gzip or zstd file's content in chunks of whole lines (a URL's: whole)."""
    if as_url(part.source) is None:
        yield from line_chunks(Path(part.source), part.name)
        return
    with open_source(part.source) as raw:
        kind = "gzip" if is_gzip(raw.read(4)) else "zstd"
        try:  # held to the bound of a local gzip or zstd log (a 250 KB zstd bomb took 9.7 GiB whole)
            with decompressing(raw, raw.seek(0, 2)) as f:
                data = f.read()
        except InflatesTooFar as e:
            raise too_far(e, part.name) from None
        except (*STREAM_ERRORS, pa.ArrowException) as e:  # as the local engine words it
            raise unreadable(e, kind, part.name) from None
    yield data, 0


def read_partition(
    part: Partition, ops: Sequence[str], recipe_name: str | None, fraction: float, fill_rate: float = 1.0
) -> Partial:
    """What a worker runs: one partition read, checked and reduced to its partial."""
    import pyarrow.parquet as pq

    from recipemut.files.compressed import CutShort

    rej = Rejects(part.name)
    pieces: list[Partial] = []
    gave_up: dict[int, int] = {}
    n_lines = read = blank = 0
    try:
        if part.kind == "parquet":
            with open_source(part.source) as f:
                size = f.seek(0, 2)
                f.seek(0)
                limit, grown = gzip_limit(size), 0
                pf = pq.ParquetFile(f)
                groups = list(range(part.start, part.start + part.groups))
                # in batches of about READ_BATCH_BYTES by the groups' own bytes a row (wide rows: a few
                # hundred at a time), each checked and reduced before the next is read
                plan = read_plan(pf.metadata, pf.schema_arrow.names, READ_BATCH_ROWS, READ_BATCH_BYTES)
                rows = min((n for run, _, n in plan if set(run) & set(groups)), default=READ_BATCH_ROWS)
                if rows < READ_BATCH_ROWS:  # wide rows: pages read as needed, not whole column chunks first
                    pf = pq.ParquetFile(f, metadata=pf.metadata, pre_buffer=False, buffer_size=PAGE_BUFFER_BYTES)
                for batch in pf.iter_batches(batch_size=rows, row_groups=groups):
                    grown += grown_bytes(batch)  # held to a gzip log's bound, as the local reader is
                    if grown > limit:
                        raise too_large(part.name, limit, size, "in memory")
                    table = conform(pa.Table.from_batches([batch]), part.name)
                    lines = np.arange(read + 1, read + table.num_rows + 1, dtype=np.int64)
                    read += table.num_rows
                    keep = check_spans(table, lines, rej)
                    pieces.append(partial_of(part.index, table.filter(pa.array(keep)), lines[keep], ops, recipe_name,
                                             fraction, fill_rate))  # fmt: skip
                if not pieces:
                    table = conform(pf.schema_arrow.empty_table(), part.name)
                    pieces.append(partial_of(part.index, table, np.zeros(0, np.int64), ops, recipe_name, fraction,
                                             fill_rate))  # fmt: skip
        else:
            if part.kind == "jsonl":
                with open_source(part.source) as f:
                    data = _range_bytes(f, part.start, part.end, part.name)
                if part.start == 0 and data.startswith(UTF8_BOM):
                    data = data[len(UTF8_BOM) :]
                chunks: Iterator[tuple[bytes | memoryview, int]] = iter([(data, 0)])
            else:
                chunks = _packed_chunks(part)
            for chunk, offset in chunks:
                crej = Rejects(part.name)
                table, lines, r, b = read_chunk(chunk, part.name, crej, first=part.start == 0 and offset == 0)
                if isinstance(chunk, CutShort):  # its count holds the cut line: its newlines are counted
                    n_lines = offset + int(np.count_nonzero(np.frombuffer(chunk, np.uint8) == 10))
                else:  # read_chunk counted its lines (r + b): each ends in a newline but a last unended one
                    n_lines = offset + r + b - int(len(chunk) > 0 and chunk[-1] != 10)
                merge_rejects(rej, crej, offset)
                read, blank = read + r, blank + b
                lines = lines + offset
                keep = check_spans(table, lines, rej)
                if part.start == 0 and offset == 0 and keep.size >= GIVE_UP_AFTER and not keep[:GIVE_UP_AFTER].any():
                    gave_up = {part.index: int(lines[GIVE_UP_AFTER - 1])}  # ingest's rule on a file's first lines
                pieces.append(partial_of(part.index, table.filter(pa.array(keep)), lines[keep], ops, recipe_name,
                                         fraction, fill_rate))  # fmt: skip
                del chunk
    except (OSError, pa.ArrowException) as e:
        raise LogError(f"cannot be read ({e})", file=part.name, code="unreadable") from None
    out = pieces[0] if len(pieces) == 1 else merge(pieces) if pieces else Partial.empty(ops)
    if len(pieces) > 1:  # one partition: its rows are one table
        tables = [t for _, t, _ in out.rows]
        out.rows = [(part.index, pa.concat_tables(tables), np.concatenate([n for _, _, n in out.rows]))]
    out.rejects = [(part.index, rej)]
    out.lines_in = {part.index: n_lines}
    out.lines_read, out.blank = read, blank
    out.read_in, out.gave_up = {part.index: (read, blank)}, gave_up
    return out


def read_partitions(
    parts: Sequence[Partition], ops: Sequence[str], recipe_name: str | None, fraction: float, fill_rate: float = 1.0
) -> Partial:
    """What a Dask task runs: several small partitions read (:func:`read_partition`) and merged (each
    partition's rows and rejections are kept apart by its index)."""
    return merge([read_partition(p, ops, recipe_name, fraction, fill_rate) for p in parts])


def tasks(parts: Sequence[Partition], task_bytes: int) -> list[list[Partition]]:
    """Consecutive partitions in groups of up to ``task_bytes`` of :attr:`Partition.weight` (one task per
    file of 10,000 one-line files took 227 s).

    >>> [len(t) for t in tasks([Partition(i, "f", "f", "jsonl", weight=w) for i, w in enumerate([5, 5, 9, 2])], 10)]
    [2, 1, 1]
    """
    out: list[list[Partition]] = []
    held = 0
    for p in parts:  # a first partition of weight 0 (an empty file) opens a group too
        if not out or held + p.weight > task_bytes:
            out.append([])
            held = 0
        out[-1].append(p)
        held += p.weight
    return out


# ---- running it ---------------------------------------------------------------------------------


def compute_partials(
    parts: Sequence[Partition],
    ops: Sequence[str],
    recipe_name: str | None,
    fraction: float,
    fill_rate: float = 1.0,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    task_bytes: int = PARTITION_BYTES,
    progress: Progress = NO_PROGRESS,
) -> Partial:
    """Every partition's partial, merged: here one after another, or on Dask (the same function; small
    partitions together in one task, up to ``task_bytes`` of :attr:`Partition.weight`). ``progress``
    is given the stage ``reading logs (ENGINE)`` with the partitions as its total, and told each
    partition as it is done (on Dask, a task's partitions as it completes, in any order)."""
    stage = f"reading logs ({engine})"
    if engine == "local":
        progress.task(stage, len(parts), unit=PARTITIONS)
        done = []
        for p in parts:
            done.append(read_partition(p, ops, recipe_name, fraction, fill_rate))
            progress.advance(1)
        return merge(done)
    if engine != "dask":
        raise LogError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})", code="bad-engine")
    progress.task("starting a local Dask cluster" if scheduler is None else f"connecting to {scheduler}")
    with dask_client(scheduler, CONNECT_TIMEOUT_S) as client:
        from distributed import as_completed

        groups = tasks(parts, task_bytes)
        progress.task(stage, len(parts), unit=PARTITIONS)
        futures = client.map(read_partitions, groups, ops=tuple(ops), recipe_name=recipe_name,
                             fraction=fraction, fill_rate=fill_rate, pure=False)  # fmt: skip
        sizes = {fut.key: len(group) for fut, group in zip(futures, groups, strict=True)}
        merged: list[Partial] = []
        batch: list[Partial] = []
        for fut in as_completed(futures):
            batch.append(fut.result())
            progress.advance(sizes[fut.key])
            fut.release()
            if len(batch) >= 8:  # merged as they come: the client holds a few partials at a time
                merged = [merge(merged + batch)]
                batch = []
        return merge(merged + batch)


# ---- the client's side: the sample as the span table, the report, the whole log's figures ------------


@dataclass(frozen=True, eq=False)
class LogFigures:
    """The whole log's per-operation figures (``ops`` order) and every request's first start.

    ``calls`` counts spans with a ``span_id`` or ``parent_span_id``: the local profile folds such
    calls per request (a cell's time is its calls' window, nested spans are charged their own time),
    which per-span partials cannot do, so the profile then keeps the sample's per-operation figures.
    """

    ops: tuple[str, ...]
    count: np.ndarray
    p50: np.ndarray
    p95: np.ndarray
    p99: np.ndarray
    means: dict[str, np.ndarray]  # SUMMED name -> mean over the spans that carry it (NaN: none)
    sums: dict[str, np.ndarray]
    nonnull: dict[str, np.ndarray]
    error_rate: np.ndarray
    halt_rate: np.ndarray
    requests_total: int
    start_ms: np.ndarray  # every request's first start
    rates: np.ndarray  # and its sample rate
    calls: int
    partitions: int
    engine: str

    @classmethod
    def of(cls, m: Partial, partitions: int, engine: str) -> LogFigures:
        pct = np.array([hist_quantiles(m.hist[j], (50, 95, 99)) for j in range(len(m.ops))]).reshape(-1, 3)
        safe = np.maximum(m.count, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = {s: np.where(m.nonnull[s] > 0, m.sums[s] / np.maximum(m.nonnull[s], 1), np.nan) for s in SUMMED}
        return cls(
            ops=m.ops, count=m.count, p50=pct[:, 0], p95=pct[:, 1], p99=pct[:, 2], means=means,
            sums=m.sums, nonnull=m.nonnull, error_rate=m.errors / safe, halt_rate=m.halts / safe,
            requests_total=m.requests.num_rows,
            start_ms=np.asarray(m.requests.column("start").to_numpy(), dtype=np.float64),
            rates=np.asarray(m.requests.column("rate").to_numpy(), dtype=np.float64),
            calls=m.calls, partitions=partitions, engine=engine,
        )  # fmt: skip


def _fraction(parts: Sequence[Partition], sample_requests: float | None, budget: str | int | None) -> tuple[float, str]:
    """The share of requests whose spans come back to the client, and why: ingest's rule
    (:func:`~recipemut.logs.sample.sample_fraction`) on what these partitions would hold in memory."""

    def estimate() -> int:  # estimated_memory's rule, on what the planner read: JSONL by its byte ranges,
        # gzip and zstd by their content's size, Parquet by its partitions' weights (parquet_memory's rule)
        text = sum(p.end - p.start if p.kind == "jsonl" else p.content for p in parts if p.kind != "parquet")
        return int(text * EXPANSION) + sum(p.weight for p in parts if p.kind == "parquet")

    fraction, why = sample_fraction(sample_requests, budget, estimate)
    return (1.0, "") if fraction is None else (fraction, why)


def read_partitioned(
    paths: Sequence[str | Path],
    *,
    recipe: Recipe,
    engine: str = "dask",
    scheduler: str | None = None,
    strict: bool = False,
    sample_rate: float | None = None,
    sample_requests: float | None = None,
    memory_budget: str | int | None = None,
    partition_bytes: int | None = None,  # None: PARTITION_BYTES
    log_format: str = "auto",
    progress: Progress = NO_PROGRESS,
) -> tuple[pd.DataFrame, IngestReport, LogFigures]:
    """The logs read partition by partition (see the module doc): the span table of the sampled
    requests, the ingest report, and the whole log's figures. Reads native JSONL and Parquet.
    ``progress`` counts the partitions as they are read (:func:`compute_partials`)."""
    if log_format not in ("auto", "native"):
        raise LogError(
            f"--engine {engine} reads native JSONL and Parquet logs, not {log_format}; "
            "recipemut convert writes traces as Parquet",
            code="engine-format",
        )
    if sample_rate is not None and not (0 < sample_rate <= 1):
        raise LogError(f"sample rate {sample_rate!r} is outside (0, 1]", code="bad-sample-rate")
    fill_rate = 1.0 if sample_rate is None else float(sample_rate)
    parts = plan_partitions(paths, PARTITION_BYTES if partition_bytes is None else partition_bytes)
    if not parts:
        raise LogError("no log file given", code="no-logs")
    fraction, why = _fraction(parts, sample_requests, memory_budget)
    task_bytes = PARTITION_BYTES if partition_bytes is None else partition_bytes
    merged = compute_partials(parts, recipe.topo_order, recipe.name, fraction, fill_rate, engine=engine,
                              scheduler=scheduler, task_bytes=task_bytes, progress=progress)  # fmt: skip
    names = list(dict.fromkeys(p.name for p in parts))
    rejects = _file_rejects(parts, merged, names)
    if strict:
        firsts = [r.first for r in rejects.values() if r.first is not None]
        if firsts:
            bad = min(firsts, key=lambda e: (names.index(e.file), e.line))
            raise LogError(f"{bad.message} [{bad.reason}] (--strict)", file=bad.file, line=bad.line, code=bad.reason)
    nothing = _nothing_read(parts, merged, rejects)
    table = _sampled_table(parts, merged)
    figures = LogFigures.of(merged, len(parts), engine)
    if table.num_rows == 0:  # as ingest says it (recipemut.logs.emptysample's words)
        if figures.requests_total:
            raise empty_sample(fraction, figures.requests_total, why)
        if excluded := {**merged.other, **merged.unknown}:
            raise no_recipe_spans(recipe.name, excluded, names[0] if len(names) == 1 else None)
        raise no_spans(", ".join(f"{n} {w}" for n, w in nothing.items()))
    notes = [f"{n}: {w} (no spans)" for n, w in nothing.items()]  # a file of no span among others: as ingest notes it
    if floor := floor_note(memory_budget, why):  # as ingest says it: once, in the budget's note if it sampled
        notes.append(floor)
    where = f"read by the {engine} engine in {len(parts):,} partition{'s' if len(parts) != 1 else ''}"
    kinds = {p.name: "parquet" if p.kind == "parquet" else "native" for p in parts}
    df, report = finish(table, names, kinds, merged, rejects, fill_rate, fraction, why, sample_requests is None,
                        notes, where)  # fmt: skip
    return df, report, figures


def _nothing_read(parts: Sequence[Partition], merged: Partial, rejects: dict[str, Rejects]) -> dict[str, str]:
    """What each file that gave no line holds (``is empty``, ``has only blank lines``, ``holds no
    rows``), in file order; a file whose every line was rejected is refused as ingest refuses it."""
    read: dict[str, tuple[int, int]] = {}
    for p in parts:
        r, b = merged.read_in.get(p.index, (0, 0))
        n_read, blank = read.get(p.name, (0, 0))
        read[p.name] = (n_read + r, blank + b)
    parquet = {p.name for p in parts if p.kind == "parquet"}
    gave_up = {p.name: merged.gave_up[p.index] for p in parts if p.index in merged.gave_up}
    for name, (n_read, _) in read.items():  # ingest's refusals, file by file in order
        if name in gave_up:
            raise not_a_log(name, gave_up[name], rejects[name])
        if n_read and rejects[name].total >= n_read:
            raise all_rejected(name, n_read, rejects[name], rows=name in parquet)
    return {name: nothing_read(blank, parquet=name in parquet) for name, (n_read, blank) in read.items() if not n_read}


def _file_rejects(parts: Sequence[Partition], merged: Partial, names: list[str]) -> dict[str, Rejects]:
    by_index = dict(merged.rejects)
    out = {n: Rejects(n) for n in names}
    offset: dict[str, int] = {}
    for p in parts:
        off = offset.get(p.name, 0)
        if p.index in by_index:
            merge_rejects(out[p.name], by_index[p.index], off if p.kind != "parquet" else p.end)
        offset[p.name] = off + merged.lines_in.get(p.index, 0)
    return out


def _sampled_table(parts: Sequence[Partition], merged: Partial) -> pa.Table:
    """The sampled spans in file and line order, with ``source_file``/``source_line`` (of the file)."""
    offsets: dict[int, int] = {}
    running: dict[str, int] = {}
    for p in parts:
        offsets[p.index] = p.end if p.kind == "parquet" else running.get(p.name, 0)
        running[p.name] = running.get(p.name, 0) + merged.lines_in.get(p.index, 0)
    name_of = {p.index: p.name for p in parts}
    file_codes = {n: i for i, n in enumerate(dict.fromkeys(p.name for p in parts))}
    names = pa.array(list(file_codes))  # once: built per table, 10,000 files made 10^8 names (4.7 GB)
    tables = []
    for index, t, lines in merged.rows:
        if t.num_rows == 0:
            continue
        codes = pa.array(np.full(t.num_rows, file_codes[name_of[index]], np.int32))
        src = pa.DictionaryArray.from_arrays(codes, names)
        line = pa.array(lines + offsets[index], pa.int64())
        tables.append(t.append_column("source_file", src).append_column("source_line", line))
    if not tables:
        return pa.table({"request_id": pa.array([], pa.large_string())})
    return pa.concat_tables(tables)


__all__ = [
    "CONNECT_TIMEOUT_S",
    "ENGINES",
    "PARTITIONS",
    "PARTITION_BYTES",
    "LogFigures",
    "Partition",
    "as_url",
    "compute_partials",
    "plan_partitions",
    "read_partition",
    "read_partitioned",
    "refuse_uncut",
]
