"""Trace formats beside the native JSONL: OTLP JSON (Grafana Tempo's trace JSON too), Jaeger JSON and Zipkin v2 JSON;
and workflow engines' run histories, handed to :mod:`recipemut.logs.runs`.

:func:`read_table` (what :mod:`recipemut.logs.ingest` calls for files that are not native JSONL) and
:func:`read` read one file into the span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`), with
counts of every wart met on the way (:data:`COUNT_KEYS`) and notes for people. The format is
named by the caller or told from the file's first bytes (:func:`recipemut.logs.detect.detect`,
gzip looked through).

>>> detect(b'{"resourceSpans": [{"resource": {}}]}'), detect(b'[{"traceId": "a", "id": "b", "localEndpoint": {}}]')
('otlp', 'zipkin')
>>> detect(b'{"data": [{"traceID": "a", "spans": []}]}'), detect(b'{"request_id": "r-1", "op": "x"}')
('jaeger', None)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from recipemut.errors import LogError
from recipemut.logs import jaeger, otlpfast, runs, zipkin
from recipemut.logs.common import DEFAULT_ATTRIBUTES, read_bytes, read_head
from recipemut.logs.detect import detect, is_tempo, mismatch
from recipemut.logs.mapping import DEFAULT_MAPPING, MappingError, SpanMapping, load_mapping, resolve
from recipemut.logs.normalise import COUNT_KEYS, normalise_table
from recipemut.logs.spans import SPAN_SCHEMA
from recipemut.logs.unmatched import MatchTally
from recipemut.recipe.model import Recipe

__all__ = [
    "COUNT_KEYS",
    "DEFAULT_MAPPING",
    "FORMATS",
    "MappingError",
    "SpanMapping",
    "detect",
    "detect_file",
    "load_mapping",
    "mismatch",
    "read",
    "read_table",
]

#: Formats this package reads, as ``--log-format`` names them.
FORMATS = ("otlp", "jaeger", "zipkin")

def detect_file(path: str | Path) -> str | None:
    """:func:`detect` on a file's first 64 KiB (gunzipped when gzip)."""
    return detect(read_head(Path(path)))


def read(
    path: str | Path,
    fmt: str | None = None,
    *,
    recipe: Recipe | None,
    mapping: SpanMapping | str | Path | None = None,
    sample_rate: float | None = None,
    strict: bool = False,
) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """Read one OTLP / Jaeger / Zipkin file into the span table.

    ``fmt`` is one of :data:`FORMATS`, or ``None`` / ``"auto"`` to detect it. ``mapping`` is a
    :class:`SpanMapping`, a mapping file, or ``None`` for the default matching. With a recipe, only
    spans that map to its operations are in the table (``op`` is the operation id, ``service`` the
    operation's service); the others are counted (``unmapped_spans``, ``ambiguous_spans``) and the
    most frequent named in the notes. Without a recipe every valid span is kept, ``op`` = span name.
    ``sample_rate`` fills the ``sample_rate`` of traces that carry none (else they stay null).
    ``request_id`` is the trace id. ``strict`` turns an unusable span (no id, start or duration)
    into a :class:`~recipemut.errors.LogError` instead of a count.

    Returns ``(table, counts, notes)``; ``counts`` has every key of :data:`COUNT_KEYS`.
    Raises :class:`~recipemut.errors.LogError` when the file is not in the format (or not JSON),
    :class:`MappingError` for a bad mapping, :class:`~recipemut.errors.InputFileError` when unreadable.
    """
    table, counts, notes = read_table(path, fmt, recipe=recipe, mapping=mapping, sample_rate=sample_rate, strict=strict)
    return table.select(SPAN_SCHEMA.names).to_pandas(), counts, notes  # the call columns stay with read_table


def read_table(
    path: str | Path,
    fmt: str | None = None,
    *,
    recipe: Recipe | None,
    mapping: SpanMapping | str | Path | None = None,
    sample_rate: float | None = None,
    strict: bool = False,
    tally: MatchTally | None = None,
) -> tuple[pa.Table, dict[str, int], list[str]]:
    """:func:`read` with the span table as an arrow table in :data:`recipemut.logs.spans.SPAN_SCHEMA`
    (what :mod:`recipemut.logs.ingest` takes, without a round trip through pandas); ``tally`` is told
    what each rule of the mapping took (:class:`~recipemut.logs.unmatched.MatchTally`)."""
    p = Path(path)
    m = resolve(mapping)
    m.check(recipe)
    if fmt in (None, "auto"):
        fmt = detect(read_head(p))
        if fmt is None:
            raise LogError(
                "not an OTLP, Jaeger or Zipkin JSON trace file (no resourceSpans / traceID / traceId found)",
                file=str(p),
                code="unknown-format",
            )
    if fmt in runs.FORMATS:  # a workflow engine's run history: its own readers, no span mapping
        return runs.read_table(p, fmt, recipe=recipe, strict=strict)
    if fmt in FORMATS:
        why = mismatch(read_head(p), fmt)
        if why is not None:
            raise LogError(why, file=str(p), code="wrong-format")
    if fmt not in FORMATS:
        raise LogError(f"unknown trace format '{fmt}' (expected one of {', '.join(FORMATS)})", file=str(p))
    attributes = (*DEFAULT_ATTRIBUTES, *m.attributes())
    if fmt == "otlp":
        numeric = [k for k in (m.bytes_in, m.bytes_out, m.cost_usd, m.cpu_ms, m.mem_mb) if k]
        tempo = is_tempo(read_head(p))
        # (the compiled scanner knows only resourceSpans: a Tempo file goes to the msgspec reader)
        raw, _how = otlpfast.read_raw(p, attributes, numeric=numeric, columnar=not tempo)
    elif fmt == "jaeger":
        raw = jaeger.parse(read_bytes(p), p, attributes)
    else:
        raw = zipkin.parse(read_bytes(p), p, attributes)
    return normalise_table(
        raw, path=p, fmt=fmt, recipe=recipe, mapping=m, sample_rate=sample_rate, strict=strict, tally=tally
    )
