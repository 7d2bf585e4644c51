"""The span table: the columnar form every log format is ingested into.

Every reader (native JSONL, OTLP, Jaeger, Zipkin) produces a ``pandas.DataFrame`` with exactly
these columns and dtypes, one row per span of a recipe operation. Downstream code (profile,
simulation, forecast) reads only this table, never the source files.
"""

from __future__ import annotations

import pyarrow as pa

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

REQUIRED = ("request_id", "op", "start_ms", "latency_ms", "status")
OPTIONAL = tuple(f.name for f in SPAN_SCHEMA if f.name not in REQUIRED)
STATUSES = ("ok", "error", "halted")
DEFAULT_VARIANT = "control"
