"""The span table: the columnar form every log format is ingested into.

Every reader (native JSONL, OTLP, Jaeger, Zipkin) produces a ``pandas.DataFrame`` with exactly
these columns and dtypes, one row per span of a recipe operation. Downstream code (profile,
simulation, forecast) reads only this table, never the source files.

Several calls of one operation in one request are told apart by the optional columns of
:data:`CALL_SCHEMA` (``span_id``, ``parent_span_id``, ``attempt``, ``items``): they follow the
columns of :data:`SPAN_SCHEMA` in the frame when some span carries them, and are left out when none
does, so that a log of one call per operation gives the very frame it always gave.

Readers parse into :data:`PARSE_SCHEMA` (every column nullable, no source columns) and check the
rows; :func:`to_span_frame` makes the frame. :func:`factorize` and :func:`keep_last_ending` are the
vectorised steps that number requests and operations and drop duplicate spans.

The frame's dtypes: strings are pandas' ``str`` dtype, floats ``float64`` (NaN where absent),
``recipe_version`` and ``source_line`` nullable ``Int64``; ``source_file`` (one value per file) is a
``category``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Column -> arrow type. Required columns must be non-null after ingest.
SPAN_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("recipe", pa.string()),
        pa.field("recipe_version", pa.int64()),
        pa.field("variant", pa.string()),  # "control" when absent
        pa.field("op", pa.string(), nullable=False),
        pa.field("service", pa.string()),
        pa.field("start_ms", pa.float64(), nullable=False),  # epoch milliseconds
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # ok | error | halted
        pa.field("cost_usd", pa.float64()),
        pa.field("cpu_ms", pa.float64()),
        pa.field("mem_mb", pa.float64()),
        pa.field("bytes_in", pa.float64()),
        pa.field("bytes_out", pa.float64()),
        pa.field("cache_key", pa.string()),
        pa.field("sample_rate", pa.float64()),  # 1.0 = every request kept; 0.1 = one in ten
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int64()),  # 1-based line (JSONL) or span index (JSON docs)
    ]
)

#: Optional columns of calls: which call a span is (unique per call attempt), the span it is nested
#: in, the attempt (1, 2, ... for retries of one call) and how many list items the call handled.
CALL_SCHEMA = pa.schema(
    [
        pa.field("span_id", pa.string()),
        pa.field("parent_span_id", pa.string()),
        pa.field("attempt", pa.int64()),
        pa.field("items", pa.int64()),
    ]
)
#: the integer columns parsed as numbers and checked to be integers (``recipe_version`` too)
INT_COLS = ("recipe_version", "attempt", "items")

REQUIRED = ("request_id", "op", "start_ms", "latency_ms", "status")
OPTIONAL = tuple(f.name for f in SPAN_SCHEMA if f.name not in REQUIRED)
STATUSES = ("ok", "error", "halted")
DEFAULT_VARIANT = "control"

_SOURCE_COLS = ("source_file", "source_line")

#: the decimals of a millisecond kept in a time between two epoch times: a float64 epoch millisecond
#: (1.76e12 in 2026) is exact to 2**-12 ms (0.00024), so a difference of two is off by up to 0.0005 ms,
#: and a microsecond is the finest step it resolves
ELAPSED_DECIMALS = 3


def elapsed_ms(end: Any, start: Any) -> Any:
    """``end - start`` of epoch-millisecond times, to the microsecond: the logged 606.3 ms, not the
    606.300048828125 the subtraction leaves (arrays, series or numbers; NaN stays NaN).

    >>> float(elapsed_ms(1763942400204.44 + 606.3, 1763942400204.44)), 1763942400204.44 + 606.3 - 1763942400204.44
    (606.3, 606.300048828125)
    """
    return np.round(end - start, ELAPSED_DECIMALS)


def _parse_type(f: pa.Field) -> pa.DataType:
    if f.name in INT_COLS:
        return pa.float64()
    # large_string: what pandas' ``str`` dtype holds, so the conversion to the frame copies no offsets
    return pa.large_string() if pa.types.is_string(f.type) else f.type


#: what the JSON reader parses (everything nullable; recipe_version as a number, checked after)
PARSE_SCHEMA = pa.schema(
    [
        pa.field(f.name, _parse_type(f), nullable=True)
        for f in (*SPAN_SCHEMA, *CALL_SCHEMA)
        if f.name not in _SOURCE_COLS
    ]
)

#: the string columns of :data:`PARSE_SCHEMA`, and the optional numbers checked against their bounds
STRING_COLS = tuple(f.name for f in PARSE_SCHEMA if pa.types.is_large_string(f.type))
VALUE_COLS = ("cost_usd", "cpu_ms", "mem_mb", "bytes_in", "bytes_out")


def _types_mapper(t: pa.DataType) -> Any:
    return pd.Int64Dtype() if pa.types.is_integer(t) else None


def call_columns(table: pa.Table) -> list[str]:
    """The :data:`CALL_SCHEMA` columns of ``table`` that hold a value in some row."""
    names = set(table.column_names)
    return [f.name for f in CALL_SCHEMA if f.name in names and table.column(f.name).null_count < table.num_rows]


def to_span_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow table in :data:`SPAN_SCHEMA` -> the span DataFrame (dtypes as in the module doc).

    The columns of :data:`CALL_SCHEMA` that some row carries follow, the others are left out.
    """
    extra = call_columns(table)
    table = table.select(SPAN_SCHEMA.names + extra)
    i = table.schema.get_field_index("source_file")
    if not pa.types.is_dictionary(table.schema.field(i).type):
        table = table.set_column(i, "source_file", pc.dictionary_encode(table.column(i)))
    return table.to_pandas(types_mapper=_types_mapper, split_blocks=True, self_destruct=True)


def factorize(values: pd.Series | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (int64, first-appearance order) and uniques of a string column, via arrow's hash kernel.

    >>> codes, uniq = factorize(pd.Series(["b", "a", "b"], dtype="str"))
    >>> codes.tolist(), list(uniq)
    ([0, 1, 0], ['b', 'a'])
    """
    if not len(values):
        return np.zeros(0, np.int64), np.array([], dtype=object)
    arr = values if isinstance(values, pa.ChunkedArray) else pa.array(values.array, from_pandas=True)
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    enc = pc.dictionary_encode(arr)
    parts = [(c.indices.fill_null(-1) if c.null_count else c.indices).to_numpy() for c in enc.chunks]
    codes = np.concatenate(parts, dtype=np.int64)
    return codes, np.asarray(enc.chunks[-1].dictionary.to_pylist(), dtype=object)


def keep_last_ending(req_codes: np.ndarray, op_codes: np.ndarray, end_ms: np.ndarray, n_ops: int) -> np.ndarray:
    """Mask keeping, for each (request, op) pair, the span that ends last (ties: the later row).

    >>> keep_last_ending(np.array([0, 0, 1]), np.array([0, 0, 0]), np.array([5.0, 3.0, 1.0]), 1).tolist()
    [True, False, True]
    """
    n = int(req_codes.shape[0])
    key = req_codes.astype(np.int64) * max(n_ops, 1) + op_codes
    if n == 0:
        return np.ones(n, bool)
    span = int(key.max()) + 1
    has_dupes = (
        bool(np.bincount(key, minlength=span).max() > 1)
        if span <= 4 * n + 1024
        else bool(pd.Series(key).duplicated().any())
    )
    if not has_dupes:
        return np.ones(n, bool)
    order = np.lexsort((np.arange(n), np.nan_to_num(end_ms, nan=-np.inf), key))
    last = np.ones(n, bool)
    ks = key[order]
    last[:-1] = ks[:-1] != ks[1:]
    keep = np.zeros(n, bool)
    keep[order[last]] = True
    return keep


def duplicates_note(duplicates: int, *, by_span_id: bool) -> str:
    """What ingest says of the ``duplicates`` spans :func:`keep_calls` dropped (``by_span_id``: the log
    carries span ids), in the words every engine gives."""
    if not by_span_id:
        return f"{duplicates:,} duplicate (request_id, op) spans dropped; the last-ending one was kept"
    return (
        f"{duplicates:,} duplicate spans dropped (the same span_id twice, or the same (request_id, op) "
        "on lines without span_id); the last-ending one was kept"
    )


def keep_calls(
    req_codes: np.ndarray, op_codes: np.ndarray, span_codes: np.ndarray | None, end_ms: np.ndarray, n_ops: int
) -> np.ndarray:
    """Mask dropping duplicate spans, keeping every call of a fan-out.

    A span with a ``span_id`` (``span_codes >= 0``) is a call: only the same span id twice in one
    request and operation is a duplicate. Spans without one keep the one-call rule of
    :func:`keep_last_ending`: per (request, op), the span that ends last. Each group keeps its
    last-ending span.

    >>> keep_calls(np.array([0, 0, 0, 0]), np.zeros(4, int), np.array([0, 1, 1, -1]),
    ...            np.array([1.0, 2.0, 3.0, 4.0]), 1).tolist()
    [True, False, True, True]
    """
    if span_codes is None or not bool((span_codes >= 0).any()):
        return keep_last_ending(req_codes, op_codes, end_ms, n_ops)
    n_span = int(span_codes.max()) + 2
    combo = op_codes.astype(np.int64) * n_span + (span_codes.astype(np.int64) + 1)
    group, uniques = pd.factorize(combo)
    return keep_last_ending(req_codes, group.astype(np.int64), end_ms, len(uniques))
