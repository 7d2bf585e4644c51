"""Log ingest: execution logs in, the span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`) out.

:func:`read_logs` reads native JSONL spans (:mod:`recipemut.logs.native`) and OTLP, Jaeger and Zipkin
traces (:mod:`recipemut.logs.traces`), plain or gzip, one file or several, each file's format told
by its content (:mod:`recipemut.logs.detect`). It returns the span table and an
:class:`~recipemut.logs.report.IngestReport` that says what was kept, what was rejected and why,
with ``file:line`` examples.

Each file is checked and opened by :mod:`recipemut.logs.sources` (devices, FIFOs, binary data and
other compressions refused; ``-`` is standard input, called ``<stdin>``), read by its reader, and
its spans checked by :func:`recipemut.logs.checks.check_spans`.

What is rejected (reason codes, see :data:`recipemut.logs.report.REASONS`)
    malformed JSON, a value that is not an object, a key of the wrong type, a required key missing
    or empty, invalid UTF-8, nesting deeper than :data:`~recipemut.logs.lines.MAX_JSON_DEPTH`, a
    negative or non-finite latency or one over 30 days, a start that is not epoch milliseconds
    (nanoseconds, microseconds or seconds), a negative, non-finite or implausibly large
    cost/cpu/mem/bytes, a status other than ok/error/halted, a sample_rate that is not a number in
    (0, 1]. Rejections are counted by reason; the first few of each keep their ``file:line``.
    Nothing is fatal unless ``strict=True`` (then the first bad line, in file order, raises
    :class:`~recipemut.errors.LogError`). A file whose every line is bad, or whose first
    :data:`~recipemut.logs.native.GIVE_UP_AFTER` non-blank lines are all bad, is not a span log.

What is excluded (not an error, but reported)
    With a ``recipe``: spans of another recipe (``recipe`` key set to another name) and spans of
    operations the recipe does not define, counted per name.

Calls and duplicates
    Spans with a ``span_id`` are calls: several in one request and operation are all kept (a
    fan-out, retries), and only the same ``span_id`` twice in one request and operation is a
    duplicate. Spans without one keep the one-call rule: two spans with the same
    ``(request_id, op)`` are duplicates. Of duplicates, the one that *ended last* (start +
    latency) is kept; ties keep the later line. The number dropped is reported. Trace formats
    give every span its id, so every call of an operation is kept.

What cannot be read, and what is said about it
    A log compressed with xz, lz4 or bzip2 is refused with the command that decompresses it. A gzip
    or zstd log cut short (its stream ends early) has its complete lines read and its cut last line
    rejected, saying how much was recovered (:func:`recipemut.logs.stream.whole_content`; an error
    under ``strict``), as the chunked readers do; a corrupt stream is an error.
    A file of no bytes "is empty"; one of blank lines only "has only blank lines" (whatever
    ``log_format`` says). JSON objects of no known format are read as native, so the first bad line
    and its missing keys are named; a JSON array of no known format is an unsupported format.

Defaults filled
    ``variant`` -> ``"control"``; ``sample_rate`` -> the ``sample_rate`` argument (1.0 when not
    given) on spans that carry none.

Rows keep the order of the files and lines; the frame's dtypes are those of
:func:`recipemut.logs.spans.to_span_frame`. The defaults, the duplicates and the report's figures of
the rows kept are made by :func:`recipemut.logs.partreport.span_tail`, the partitioned engines' tail too.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import LogError, RecipemutError
from recipemut.files.compressed import packed_with
from recipemut.files.progress import BYTES, NO_PROGRESS, Progress
from recipemut.logs import traces
from recipemut.logs.checks import check_spans
from recipemut.logs.detect import LABELS, UTF8_BOM, detect_format, misnamed_parquet
from recipemut.logs.emptysample import all_rejected, empty_sample, no_recipe_spans, no_spans, nothing_read
from recipemut.logs.mapping import SpanMapping, resolve
from recipemut.logs.native import GIVE_UP_AFTER, not_a_log, read_native
from recipemut.logs.parquet import expand_logs, is_parquet, parquet_batches
from recipemut.logs.partreport import span_tail
from recipemut.logs.report import IngestReport, Rejects, frozen_counts
from recipemut.logs.sample import (
    Sampler,
    floor_note,
    reading_stage,
    sampler_for,
)
from recipemut.logs.sources import (
    HEAD_BYTES,
    STDIN_NAME,
    after_first_line,
    as_paths,
    check_file,
    is_stdin,
    read_head,
    refuse_binary,
    refuse_compressed,
    refuse_other_kind,
    stdin_copy,
)
from recipemut.logs.spans import PARSE_SCHEMA
from recipemut.logs.stream import DiskTicks, read_native_sampled, reject_cut, whole_content
from recipemut.logs.unmatched import MatchTally
from recipemut.recipe.model import Recipe

log = logging.getLogger(__name__)


@dataclass
class _FileResult:
    """One file read: its checked rows, what it was, and what was said about it."""

    table: pa.Table  # PARSE_SCHEMA + source columns, rows that passed the checks
    fmt: str
    lines_read: int
    blank: int
    rej: Rejects
    counts: dict[str, int]
    notes: list[str]
    nothing: str = ""  # why the file gave no span: "is empty", "has only blank lines", ...


def _with_source(table: pa.Table, name: str, lines: np.ndarray) -> pa.Table:
    # one value per file: dictionary-encoded, never materialised per row (it becomes a pandas category)
    src = pa.DictionaryArray.from_arrays(pa.array(np.zeros(table.num_rows, np.int32)), pa.array([name]))
    return table.append_column("source_file", src).append_column("source_line", pa.array(lines, pa.int64()))


def _conform_table(t: pa.Table, name: str) -> tuple[pa.Table, np.ndarray]:
    """A span table from another reader (arrow) as a PARSE_SCHEMA table plus its line/index numbers.

    NaN in a float column is null, as it is in a pandas column.
    """
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for f in PARSE_SCHEMA:
        if f.name not in t.column_names:
            cols[f.name] = pa.nulls(t.num_rows, f.type)
            continue
        try:
            col = t.column(f.name).cast(f.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
            raise LogError(f"reader produced a bad {f.name!r} column ({e})", file=name) from None
        if pa.types.is_floating(f.type) and pc.any(pc.is_nan(col)).as_py():
            col = pc.if_else(pc.is_nan(col), pa.scalar(None, f.type), col)
        cols[f.name] = col
    table = pa.table(cols, schema=PARSE_SCHEMA)
    if "source_line" in t.column_names:
        lines = np.asarray(pc.fill_null(t.column("source_line").cast(pa.int64()), 0).to_numpy(), dtype=np.int64)
    else:
        lines = np.arange(1, t.num_rows + 1, dtype=np.int64)
    return table, lines


def _read_file(
    path: Path,
    log_format: str,
    recipe: Recipe | None,
    mapping: Any,
    strict: bool,
    name: str | None = None,
    sampler: Sampler | None = None,
    on_chunk: Callable[[int], None] | None = None,
    tally: MatchTally | None = None,
) -> _FileResult:
    """One log file read and checked. ``name`` is what errors, notes and ``source_file`` call it
    (default ``str(path)``): ``<stdin>`` for the copy of standard input, whose path is then
    replaced by ``name`` in any error or note a reader of another format wrote with it.
    ``on_chunk`` is told the content bytes of each chunk a sampled native log is read in (a Parquet
    log: each batch's share of the file's bytes). ``tally`` is told what the mapping's rules took of a trace file."""
    real = str(path)
    if name is None or name == real:
        return _read_named(path, real, log_format, recipe, mapping, strict, sampler, on_chunk, tally)
    try:
        got = _read_named(path, name, log_format, recipe, mapping, strict, sampler, on_chunk, tally)
    except RecipemutError as e:
        raise _renamed(e, real, name) from None
    got.notes[:] = [n.replace(real, name) for n in got.notes]
    return got


def _renamed(e: RecipemutError, real: str, name: str) -> RecipemutError:
    """``e`` with the path ``real`` replaced by ``name`` in its file and message (in place)."""
    if e.file is not None:
        e.file = e.file.replace(real, name)
    e.message = e.message.replace(real, name)
    e.args = (e.message, *e.args[1:])
    return e


def _read_named(
    path: Path, name: str, log_format: str, recipe: Recipe | None, mapping: Any, strict: bool,
    sampler: Sampler | None = None, on_chunk: Callable[[int], None] | None = None, tally: MatchTally | None = None,
) -> _FileResult:
    check_file(path, name)
    head = read_head(path, name)  # the first bytes, gunzipped
    if is_parquet(head) and log_format in ("auto", "native"):  # the span table itself, columnar
        return _read_parquet(path, name, strict, sampler, on_chunk)
    if log_format in ("auto", "native") and (misnamed := misnamed_parquet(name, head)):
        raise LogError(misnamed, file=name, code="not-parquet")
    refuse_compressed(head, name)
    refuse_binary(head, name)
    rej = Rejects(name)
    fmt = log_format
    if fmt == "auto":
        fmt = detect_format(head)
        if fmt != "native" and len(head) >= HEAD_BYTES and b"\n" not in head:
            # one first line longer than the head: the format is told from what follows it, so that
            # one bad line (200 KB of '[') is a rejected line, not a file of an unknown format
            after = after_first_line(path)
            if after.strip() and detect_format(after) != "unknown":
                fmt = detect_format(after)
    # a file of blank lines (or none) is read as native whatever --log-format says: it says so
    blank_file = len(head) < HEAD_BYTES and not head.removeprefix(UTF8_BOM).strip(b" \t\r\n")
    if fmt == "native":
        refuse_other_kind(head, name)
    if fmt == "unknown":
        raise LogError(
            "unsupported log format (not native JSONL spans, and no reader recognises it)",
            file=name,
            code="unsupported-format",
        )
    counts: dict[str, int] = {}
    notes: list[str] = []
    checked = False  # rows already checked (and sampled) chunk by chunk
    if (fmt == "native" or blank_file) and sampler is not None:
        got_s = read_native_sampled(
            path, name, rej, sampler, strict=strict, chunk_bytes=sampler.chunk_bytes, on_chunk=on_chunk
        )
        table, lines, n_read, n_blank, checked = got_s.table, got_s.lines, got_s.lines_read, got_s.blank, True
    elif fmt == "native" or blank_file:
        cut = None  # a gzip or zstd stream that ends early: its complete lines are read, the cut one rejected
        source: pa.Buffer | str = str(path)
        if packed_with(path):
            source, cut = whole_content(path, name)
        if head.startswith(UTF8_BOM) and isinstance(source, pa.Buffer):  # not part of line 1 (a plain
            source = source.slice(3)  # file's is skipped by read_native: its bytes are never read whole here)
        table, lines, n_read, n_blank = read_native(source, name, rej)
        del source
        if cut is not None:
            reject_cut(rej, cut, n_read + n_blank)
            n_read += 1
    else:
        got, counts, fnotes = traces.read_table(path, fmt, recipe=recipe, mapping=mapping, strict=strict, tally=tally)
        table, lines = _conform_table(got, name)
        rej = Rejects(name, unit="span")  # a trace file's rows are numbered by span, not by line
        notes = [f"{name}: {s}" for s in fnotes]
        n_read, n_blank = int(counts.get("spans_read", table.num_rows)), 0
    if table.num_rows and not checked:
        keep = check_spans(table, lines, rej)
        if fmt == "native" and not strict and keep.size >= GIVE_UP_AFTER and not keep[:GIVE_UP_AFTER].any():
            # rows are the file's non-blank lines in order (lines that did not parse never became rows)
            raise not_a_log(name, int(lines[GIVE_UP_AFTER - 1]), rej)
        if not keep.all():
            table, lines = table.filter(pa.array(keep)), lines[keep]
        if sampler is not None:
            table, lines = sampler.take(table, lines)
    if strict and rej.first is not None:
        raise rej.first.strict_error()
    if n_read and rej.total and (table.num_rows == 0 if sampler is None else rej.total >= n_read):
        raise all_rejected(name, n_read, rej)
    nothing = ""
    if n_read == 0:
        if fmt == "native" or blank_file:
            nothing = nothing_read(n_blank, parquet=False)
        else:
            nothing = f"holds no {LABELS.get(fmt, fmt)} spans"
        notes.append(f"{name}: {nothing} (no spans)")
    return _FileResult(_with_source(table, name, lines), fmt, n_read, n_blank, rej, dict(counts), notes, nothing)


def _read_parquet(
    path: Path, name: str, strict: bool, sampler: Sampler | None, on_chunk: Callable[[int], None] | None = None
) -> _FileResult:
    """A Parquet log, batch by batch: each checked (and sampled) before the next is read; ``on_chunk``
    is told each batch's share of the file's bytes (its rows' share of the file's rows)."""
    rej = Rejects(name)
    tables: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    n_read = 0
    share = _bytes_per_row(path) if on_chunk is not None else 0.0
    # a sampled read takes the budget's chunk: a batch of wide rows is about that many bytes, not 65,536 rows
    for table, lines in parquet_batches(path, name, batch_bytes=sampler.chunk_bytes if sampler else None):
        n_read += table.num_rows
        if on_chunk is not None:
            on_chunk(int(table.num_rows * share))
        keep = check_spans(table, lines, rej)
        if strict and rej.first is not None:
            bad = rej.first
            raise LogError(f"{bad.message} [{bad.reason}] (--strict)", file=name, line=bad.line, code=bad.reason)
        if not keep.all():
            table, lines = table.filter(pa.array(keep)), lines[keep]
        if sampler is not None:
            table, lines = sampler.take(table, lines)
        tables.append(table)
        numbers.append(lines)
    table = pa.concat_tables(tables) if tables else PARSE_SCHEMA.empty_table()
    nums = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
    if n_read and rej.total >= n_read:
        f = rej.first
        assert f is not None
        raise LogError(
            f"not a span log: all {n_read} rows are rejected; first problem at row {f.line}: {f.message} [{f.reason}]",
            file=name, line=f.line, code="not-a-log",
        )  # fmt: skip
    notes = [] if n_read else [f"{name}: holds no rows (no spans)"]
    nothing = "" if n_read else "holds no rows"
    return _FileResult(_with_source(table, name, nums), "parquet", n_read, 0, rej, {}, notes, nothing)


def _sampled_nothing(
    sampler: Sampler, recipe: Recipe | None, excluded: dict[str, int], names: list[str], sampled_by: str = ""
) -> None:
    """Raise the error of a sample that kept no span: none of the requests fell in it (naming what
    chose the fraction: ``--sample-requests``, or the memory budget), or no span was of the recipe
    (with what was found instead)."""
    total = sampler.counts.merged().num_rows
    if total:
        raise empty_sample(sampler.fraction, total, sampled_by)  # the partitioned engines' words too
    if recipe is not None and excluded:
        raise no_recipe_spans(recipe.name, excluded, names[0] if len(names) == 1 else None)


def _bytes_per_row(path: Path) -> float:
    """A Parquet file's size over its rows (0 when its footer cannot be read: its reader says why)."""
    import pyarrow.parquet as pq

    try:
        return path.stat().st_size / max(pq.ParquetFile(path).metadata.num_rows, 1)
    except (OSError, pa.ArrowException):
        return 0.0


def _size_on_disk(path: Path) -> int:
    """A log's size in bytes, what progress counts (0 when it cannot be read: its reader says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _value_counts(arr: pa.Array | pa.ChunkedArray) -> dict[Any, int]:
    vc = pc.value_counts(arr)
    if len(vc) == 0:
        return {}
    values = vc.field("values").to_pylist()
    counts = vc.field("counts").to_pylist()
    pairs = sorted(zip(values, counts, strict=True), key=lambda p: (-p[1], str(p[0])))
    return {v: int(c) for v, c in pairs if v is not None}


def _resolve_mapping(mapping: SpanMapping | str | Path | None, recipe: Recipe | None) -> SpanMapping | None:
    """The mapping loaded and checked against the recipe before any log is read (a bad --map fails first)."""
    if mapping is None:
        return None
    resolved = resolve(mapping)
    resolved.check(recipe)
    return resolved


def read_logs(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    recipe: Recipe | None = None,
    strict: bool = False,
    sample_rate: float | None = None,
    log_format: str = "auto",
    mapping: SpanMapping | str | Path | None = None,
    sample_requests: float | None = None,
    memory_budget: str | int | None = None,
    progress: Progress = NO_PROGRESS,
) -> tuple[pd.DataFrame, IngestReport]:
    """Read execution logs into the span table (:data:`~recipemut.logs.spans.SPAN_SCHEMA` columns) and a report.

    Parameters
    ----------
    paths
        One log file or several (native JSONL, plain or gzip; other formats via ``recipemut.logs.traces``);
        ``-`` (at most once) is standard input, called ``<stdin>`` in the report and messages.
    recipe
        When given, spans of another recipe or of operations it does not define are excluded
        and counted in the report.
    strict
        Raise on the first rejected line instead of counting it.
    sample_rate
        Sampling rate of spans that do not carry one (default 1.0: every request logged).
    log_format
        ``"auto"`` (detect per file), ``"native"``, or a format name ``recipemut.logs.traces`` reads.
    mapping
        Span-to-operation mapping handed to the readers of other formats.
    sample_requests
        Keep this share of requests, whole, chosen by a hash of ``request_id``
        (:mod:`recipemut.logs.sample`); native logs are then read in chunks
        (:mod:`recipemut.logs.stream`), so memory holds the sample. 1 keeps every request.
    memory_budget
        Without ``sample_requests``: the bytes the logs may take in memory (a size such as ``"2G"``;
        ``"off"`` or 0 for no budget; default ``$RECIPEMUT_MEMORY_BUDGET``, else half the available
        memory). Logs estimated beyond it are sampled to fit, with a note saying so, and a sampled
        native log is read in chunks of a sixteenth of it (1 to 64 MiB); a budget under what the
        process needs before any log (:data:`~recipemut.logs.sample.PROCESS_BYTES`) is said to be
        out of reach, once.
    progress
        Told the stage ``reading logs`` with the files' sizes on disk (standard input's once
        copied) as its total in bytes, and each file's size once it is read; a sampled native log,
        read in chunks, its share of its size after each chunk (:class:`~recipemut.logs.stream.DiskTicks`).

    Raises
    ------
    InputFileError
        A file is missing, a directory or unreadable; ``-`` when standard input is a terminal.
    LogError
        Not a span log (every line bad, or the first lines all bad), an unsupported format, a bad
        line under ``strict``, or no span left at all.
    """
    files = expand_logs(as_paths(paths))  # a directory or a glob of Parquet files is a log too
    if not files:
        raise LogError("no log file given", code="no-logs")
    if sum(map(is_stdin, files)) > 1:
        raise LogError("standard input ('-') given more than once; it can be read once", code="stdin-twice")
    names = [STDIN_NAME if is_stdin(p) else str(p) for p in files]
    if sample_rate is not None and not (0 < sample_rate <= 1):
        raise LogError(f"sample rate {sample_rate!r} is outside (0, 1]", code="bad-sample-rate")
    fill_rate = 1.0 if sample_rate is None else float(sample_rate)
    mapping = _resolve_mapping(mapping, recipe)
    tally = MatchTally(mapping or traces.DEFAULT_MAPPING) if recipe is not None else None

    with contextlib.ExitStack() as stack:  # the copy of standard input is deleted once read
        real = [stack.enter_context(stdin_copy()) if is_stdin(p) else p for p in files]
        sampler, sampled_by = sampler_for(
            real, sample_requests, memory_budget, recipe=recipe, fill_rate=fill_rate, log_format=log_format
        )
        sizes = [_size_on_disk(p) for p in real]
        progress.task(reading_stage(sampler.fraction if sampler else None, sampled_by), sum(sizes), unit=BYTES)
        results = []
        for p, n, size in zip(real, names, sizes, strict=True):  # a file read whole, or chunk by chunk
            ticks = DiskTicks(progress, p, size)  # sampled native logs: the bar moves per chunk
            results.append(_read_file(p, log_format, recipe, mapping, strict, name=n, sampler=sampler, on_chunk=ticks,
                                      tally=tally))
            ticks.finish()
    notes = [n for r in results for n in r.notes]
    if floor := floor_note(memory_budget, sampled_by):  # said once: in the budget's note if it sampled
        notes.append(floor)
    if mapping is not None and all(r.fmt == "native" for r in results):
        notes.append(
            f"mapping {getattr(mapping, 'source', None) or 'given'} not used: native spans name their operation"
        )
    table = pa.concat_tables([r.table for r in results]) if results else None
    assert table is not None

    other: dict[str, int] = dict(sampler.other) if sampler is not None else {}
    unknown: dict[str, int] = dict(sampler.unknown) if sampler is not None else {}
    if sampler is not None and table.num_rows == 0:
        _sampled_nothing(sampler, recipe, {**other, **unknown}, names, sampled_by)
    if recipe is not None and table.num_rows:
        rcol = table.column("recipe")
        foreign = pc.fill_null(pc.not_equal(rcol, recipe.name), False)
        if pc.any(foreign).as_py():
            other = {str(k): v for k, v in _value_counts(rcol.filter(foreign)).items()}
            table = table.filter(pc.invert(foreign))
        known = pc.is_in(table.column("op"), value_set=pa.array(list(recipe.ops), pa.string()))
        if not pc.all(known).as_py():
            unknown = {str(k): v for k, v in _value_counts(table.column("op").filter(pc.invert(known))).items()}
            table = table.filter(known)
        if table.num_rows == 0:
            raise no_recipe_spans(recipe.name, {**other, **unknown}, names[0] if len(files) == 1 else None)
    unmapped = sum(r.counts.get("unmapped_spans", 0) + r.counts.get("ambiguous_spans", 0) for r in results)
    if table.num_rows == 0 and unmapped:  # traces read, but none of their spans is an operation of the recipe
        raise LogError(
            "no span of the traces maps to an operation of the recipe (write a mapping file, --map): "
            + "; ".join(notes),
            file=None,
            code="no-spans",
        )
    if table.num_rows == 0:
        why = ", ".join(f"{n} {r.nothing}" for n, r in zip(names, results, strict=True) if r.nothing)
        why = why or "; ".join(notes)  # every span read was dropped: say why (no start time, ...)
        raise no_spans(why)

    tail = span_tail(table, fill_rate=fill_rate, fraction=sampler.fraction if sampler is not None else 1.0,
                     rejects=[r.rej for r in results], names=names)  # fmt: skip
    del table
    notes.extend(tail.dropped)
    format_counts: dict[str, int] = {}
    for r in results:
        for k, v in r.counts.items():
            format_counts[k] = format_counts.get(k, 0) + int(v)
    sample = None
    if sampler is not None:
        sample = sampler.result(tail.requests, automatic=sample_requests is None, reason=sampled_by)
        notes.append(sample.summary())
    report = tail.report(
        IngestReport,
        files=tuple(names),
        formats=MappingProxyType({n: r.fmt for n, r in zip(names, results, strict=True)}),
        lines_read=sum(r.lines_read for r in results),
        blank_lines=sum(r.blank for r in results),
        unknown_ops=frozen_counts(unknown),
        other_recipes=frozen_counts(other),
        format_counts=frozen_counts(format_counts),
        notes=tuple(notes),
        sample=sample,
        unmatched=tally.unmatched() if tally is not None else (),
        unmapped=frozen_counts(tally.unmapped if tally is not None else {}),
    )
    log.info("%s", report.summary())
    return tail.frame, report


__all__ = ["read_logs"]
