"""The `generate` flow: find the generation parameters, check the output, generate and write the log
in the format its name says (:data:`WRITTEN`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import InputFileError
from recipemut.files.write import atomic_file, check_output_path
from recipemut.loggen import generate_spans, load_params, write_jsonl
from recipemut.loggen.jsonl import CONTROL
from recipemut.loggen.memory import PILOT_REQUESTS, peak_bytes, pilot, round_down, spans_that_fit
from recipemut.logs.checks import check_spans
from recipemut.logs.parquet import BATCH_ROWS
from recipemut.logs.parquet import write_parquet as parquet_file
from recipemut.logs.report import Rejects
from recipemut.logs.sample import available_memory, human_bytes
from recipemut.logs.sources import PARQUET_SUFFIXES
from recipemut.logs.spans import PARSE_SCHEMA
from recipemut.recipe.loader import load_recipe
from recipemut.usecases.overwrite import refuse_existing

#: what ``--out``'s name may end with, and the format written
WRITTEN = {".jsonl": "JSON lines", ".jsonl.gz": "gzip JSON lines", ".jsonl.zst": "zstd JSON lines",
           **dict.fromkeys(PARQUET_SUFFIXES, "Parquet (as convert writes it)")}  # every name the reader reads


def written_suffix(out: Path) -> str:
    """The suffix of :data:`WRITTEN` ``out`` ends with (any case), else one
    :class:`~recipemut.errors.InputFileError` listing them.

    >>> written_suffix(Path("g.JSONL.gz"))
    '.jsonl.gz'
    """
    name = out.name.lower()
    for suffix in sorted(WRITTEN, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    raise InputFileError(
        f"--out {out}: generate writes a file named {', '.join('*' + s for s in list(WRITTEN)[:-1])} or "
        f"*{list(WRITTEN)[-1]} (the format is taken from the name)",
        code="out",
    )


@dataclass(frozen=True)
class Traffic:
    """What to generate: the window, its shape and sampling (the command's options, once parsed)."""

    requests: int
    start_ms: float
    days: float
    growth: float = 0.0
    diurnal: float = 0.6
    weekly: float = 0.0
    sample_rate: float | None = None
    canary: float | None = None
    treatment: Mapping[str, float] | None = None
    seed: int = 0


def find_params(recipe_path: Path, params: Path | None) -> Path | None:
    """``--params`` when given, else ``loggen.yaml`` beside the recipe when there is one."""
    if params is None and (recipe_path.parent / "loggen.yaml").is_file():
        return recipe_path.parent / "loggen.yaml"
    return params


def generate_log(
    recipe_path: Path, out: Path, traffic: Traffic, *, params: Path | None, warn: Callable[[str], None],
    force: bool = False, memory_budget: int | None = None,
) -> dict[str, Any]:
    """Generate ``traffic`` through the recipe and write it to ``out`` (atomically) in the format its
    name says (:func:`written_suffix`); the summary document. ``out`` is checked before anything is
    generated: a file already there is refused unless ``force``
    (:func:`~recipemut.usecases.overwrite.refuse_existing`).

    ``warn`` receives a sentence when there are no generation parameters (a stronger one when a canary
    with a recipe of its own would be tried on them).

    The log is generated whole in memory: its estimated peak (:func:`check_memory`) over
    ``memory_budget`` bytes (None: the memory available now; 0: no check) is refused before any of it
    is generated.
    """
    recipe = load_recipe(recipe_path)
    params = find_params(recipe_path, params)
    loaded = load_params(params) if params is not None else None
    check_output_path(
        out, recipes=[recipe_path], inputs={params: "the generation parameters"} if params is not None else {},
        example="logs.jsonl",
    )
    suffix = written_suffix(out)
    refuse_existing(out, force=force)

    def generated(requests: int, sample_rate: float | None) -> pd.DataFrame:
        return generate_spans(
            recipe,
            requests,
            seed=traffic.seed,
            params=loaded,
            start_ms=traffic.start_ms,
            duration_s=traffic.days * 86400.0,
            diurnal_amplitude=traffic.diurnal,
            weekly_amplitude=traffic.weekly,
            growth_per_day=traffic.growth,
            variants={"canary": traffic.canary} if traffic.canary is not None else None,
            treatment={"canary": dict(traffic.treatment)} if traffic.treatment else None,
            sample_rate=sample_rate,
        )

    if memory_budget != 0:
        check_memory(traffic, suffix, lambda n: generated(n, None), memory_budget)
    if params is None and any(v.recipe and (traffic.canary is None or v.name == "canary") for v in recipe.variants):
        # Without parameters every operation is the generic default while a substituted one takes its
        # catalogue prior: the canary then looks worse or better for reasons no log of the system shows.
        warn(
            f"no generation parameters (no loggen.yaml beside {recipe_path}, no --params): every operation takes "
            "the generic defaults (20 ms median, light tail) and a substituted one its catalogue prior, so the "
            "canary's mutations are tried on an invented system, not the one its plan was fitted to; pass "
            "--params to judge them"
        )
    elif params is None:  # what the docs promise: the log then describes an invented system, say so
        warn(
            f"no generation parameters (no loggen.yaml beside {recipe_path}, no --params): the log describes an "
            "invented system where every operation takes the generic defaults (20 ms median, light tail) and no "
            "input value repeats (no cache key recurs); write a loggen.yaml beside the recipe or pass --params "
            "(docs/commands/generate.md)"
        )
    try:
        df = generated(traffic.requests, traffic.sample_rate)
        spans = write_parquet(df, out) if suffix in PARQUET_SUFFIXES else write_jsonl(df, out)
    except MemoryError:  # numpy's and arrow's too; past the check (--memory-budget off or too large): one line
        raise InputFileError(
            f"ran out of memory generating {traffic.requests:,} requests; nothing was written: lower -n or "
            "--sample-rate, or let --memory-budget estimate what fits",
            file=str(out), code="out-of-memory",
        ) from None
    return {
        "out": str(out),
        "recipe": recipe.name,
        "spans": spans,
        "requests": int(df["request_id"].nunique()),
        "params": str(params) if params is not None else None,
        "seed": traffic.seed,
    }


def check_memory(
    traffic: Traffic, suffix: str, generate: Callable[[int], pd.DataFrame], budget: int | None = None
) -> None:
    """Refuse, in one :class:`~recipemut.errors.InputFileError`, a log whose estimated peak in memory is over
    ``budget`` bytes (None: the memory available now, ``MemAvailable``): the expected spans (the kept
    requests, ``requests * sample_rate``, times the spans per request a pilot of ``generate(n)`` gives)
    times the measured bytes per span of the ``suffix`` written
    (:func:`~recipemut.loggen.memory.peak_bytes`), with the ``--sample-rate`` and ``-n`` that fit.
    A log of no more requests than the pilot is not estimated (the pilot would be the work)."""
    rate = traffic.sample_rate if traffic.sample_rate is not None else 1.0
    kept = traffic.requests * rate
    if kept <= PILOT_REQUESTS:
        return
    per_request, calls = pilot(generate)
    expected = kept * per_request
    peak = peak_bytes(expected, suffix, calls)
    if budget is None:
        limit, origin = available_memory(), "available (MemAvailable)"
    else:
        limit, origin = budget, "of --memory-budget"
    if peak <= limit:
        return
    share = spans_that_fit(limit, suffix, calls) / expected
    fits = []
    if (r := round_down(rate * share)) > 0:
        fits.append(f"--sample-rate {r:g}" + (" or lower" if r < rate else ""))
    if (n := int(round_down(traffic.requests * share))) > 0:
        fits.append(f"-n {n:,} or fewer")
    fix = (", or ".join(fits) + " fits; ") if fits else "nothing fits (the process needs more before any span); "
    raise InputFileError(
        f"--requests {traffic.requests:,}: this log would take about {human_bytes(peak)} of memory while it is "
        f"generated (about {expected:,.0f} spans, {per_request:.1f} per request, kept whole until written), over "
        f"the {human_bytes(limit)} {origin}; nothing was generated: {fix}--memory-budget off tries anyway",
        code="memory",
    )


def write_parquet(df: pd.DataFrame, out: Path) -> int:
    """The generated spans as the Parquet file ``convert`` writes of their JSONL
    (:func:`~recipemut.loggen.write_jsonl`, then :func:`~recipemut.usecases.partition.write_file`), so
    ``profile`` gives the figures it gives of the JSONL; built from the frame, no line written or parsed:
    the table the native reader would parse (:func:`as_read`), ingest's checks on it, then convert's
    steps (:func:`~recipemut.usecases.partition.one_file_table`: sorted by request), ``source_file``
    naming ``OUT (generated)`` and ``source_line`` the span's line in that JSONL; written atomically in
    convert's row groups. Returns the rows written.

    Spans ingest would reject (a ``--start`` before 1973 reads as seconds, a latency over 30 days) are
    refused in one :class:`~recipemut.errors.InputFileError` naming the first, before anything is
    written (convert would have dropped them)."""
    from recipemut.usecases.partition import one_file_table

    name = f"{out} (generated)"
    lines = np.arange(1, len(df) + 1, dtype=np.int64)
    table = as_read(df)
    rej = Rejects(name)
    if not check_spans(table, lines, rej).all() and rej.first is not None:
        bad = rej.first
        raise InputFileError(
            f"{rej.total:,} of the {len(df):,} generated spans would be rejected by ingest, the first (span "
            f"{bad.line:,}): {bad.message} [{bad.reason}]; nothing was written",
            file=str(out),
            code=bad.reason,
        )
    table, duplicates = one_file_table(table.append_column("source_line", pa.array(lines)), name)
    if duplicates:  # one span per (request, op) or per span id: the generator's invariant
        raise AssertionError(f"the generator made {duplicates} duplicate spans, which convert drops")
    try:
        with atomic_file(out, follow=False, what="--out", kept="the file generate writes") as tmp:
            parquet_file(table, tmp, row_group_rows=BATCH_ROWS)
    except OSError as e:
        raise InputFileError(
            f"cannot write the Parquet file: {e.strerror or e}; nothing was changed", file=str(out), code="write"
        ) from None
    return table.num_rows


def as_read(df: pd.DataFrame) -> pa.Table:
    """The table (:data:`~recipemut.logs.spans.PARSE_SCHEMA`) the native reader parses of the lines
    :func:`~recipemut.loggen.write_jsonl` writes of ``df``, without the lines: a float is written in the
    shortest text that reads back as the same double (arrow's cast), so it is kept, but NaN and
    infinities are written ``null``; an integer is read as a float; a control character in a string
    is written as a space; a column left out (null throughout, or not a span column) is null.

    >>> t = as_read(pd.DataFrame({"op": ["a\\tb"], "latency_ms": [float("inf")], "recipe_version": [4]}))
    >>> t.column("op")[0].as_py(), t.column("latency_ms")[0].as_py(), t.column("recipe_version")[0].as_py()
    ('a b', None, 4.0)
    """
    table = pa.Table.from_pandas(df, preserve_index=False)
    cols: list[pa.Array | pa.ChunkedArray] = []
    for f in PARSE_SCHEMA:
        if f.name not in table.column_names:
            cols.append(pa.nulls(table.num_rows, f.type))
            continue
        col = table.column(f.name)
        if pa.types.is_large_string(f.type):
            col = col.cast(f.type)
            if pc.any(pc.match_substring_regex(col, CONTROL)).as_py():
                col = pc.replace_substring_regex(col, CONTROL, " ")
        else:  # integers rounded past 2**53 as the parser's doubles are
            col = col.cast(f.type, safe=False)
            if pc.any(pc.invert(pc.is_finite(col))).as_py():
                col = pc.if_else(pc.is_finite(col), col, pa.scalar(None, f.type))
        cols.append(col)
    return pa.table(cols, schema=PARSE_SCHEMA)
