"""Trace formats beside the native JSONL: OTLP JSON, Jaeger JSON and Zipkin v2 JSON.

Two entry points, used by :mod:`recipemut.logs.ingest` for files that are not native JSONL:

* :func:`detect` names the format of a file from its first bytes (gzip is looked through);
* :func:`read` reads one file into the span table (:data:`recipemut.logs.spans.SPAN_SCHEMA`), with
  counts of every wart met on the way (:data:`COUNT_KEYS`) and notes for people.

>>> detect(b'{"resourceSpans": [{"resource": {}}]}'), detect(b'[{"traceId": "a", "id": "b", "localEndpoint": {}}]')
('otlp', 'zipkin')
>>> detect(b'{"data": [{"traceID": "a", "spans": []}]}'), detect(b'{"request_id": "r-1", "op": "x"}')
('jaeger', None)
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa

from recipemut.errors import LogError
from recipemut.logs import jaeger, otlp, zipkin
from recipemut.logs.common import DEFAULT_ATTRIBUTES, gunzip_head, read_bytes, read_head
from recipemut.logs.mapping import DEFAULT_MAPPING, MappingError, SpanMapping, load_mapping, resolve
from recipemut.logs.normalise import COUNT_KEYS, normalise_table
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

_KEY = re.compile(rb'"([A-Za-z_]+)"\s*:')


def detect(head: bytes) -> str | None:
    """``"otlp"``, ``"jaeger"`` or ``"zipkin"`` from a file's first bytes, else ``None`` (native or unknown).

    Decided by content, not by file name: OTLP has ``resourceSpans``; Jaeger spells ``traceID``
    / ``spanID`` / ``operationName`` (under ``data``, a trace with ``processes``, or a list of
    spans); Zipkin v2 is a JSON list of spans with ``traceId`` and ``id`` or ``localEndpoint``.
    """
    if head[:2] == b"\x1f\x8b":
        head = gunzip_head(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] not in (b"{", b"["):
        return None
    keys = set(_KEY.findall(text[:65536]))
    if b"resourceSpans" in keys:
        return "otlp"
    if keys & {b"traceID", b"spanID", b"operationName", b"processID"}:
        return "jaeger"
    if text[:1] == b"[" and b"traceId" in keys and keys & {b"localEndpoint", b"id", b"remoteEndpoint"}:
        return "zipkin"
    return None


#: what each reader looks for, at least one of them in a file's first 64 KiB, and how to say so
SIGNATURES: dict[str, tuple[frozenset[bytes], str]] = {
    "otlp": (frozenset({b"resourceSpans"}), "no resourceSpans key"),
    "jaeger": (
        frozenset({b"traceID", b"spanID", b"operationName", b"processID"}),
        "no traceID, spanID or operationName key",
    ),
    "zipkin": (frozenset({b"traceId"}), "no traceId key"),
}


def mismatch(head: bytes, fmt: str) -> str | None:
    """Why a file's first bytes (gunzipped) cannot be in format ``fmt`` (the reader's keys are not
    there), naming what auto-detection takes it for; ``None`` when they may be (or hold nothing).

    Only the reader's own keys are asked for, not :func:`detect`'s verdict, so that ``--log-format``
    still overrides a detection that guessed wrong.

    >>> print(mismatch(b'{"request_id": "r1", "op": "a"}', "otlp").replace("; ", ";\\n"))
    no OTLP spans (no resourceSpans key);
    the content looks like native JSONL: drop --log-format or use --log-format native
    >>> mismatch(b'[{"traceId": "a", "id": "b"}]', "zipkin") is None
    True
    """
    keys, missing = SIGNATURES[fmt]
    if head[:2] == b"\x1f\x8b":
        head = gunzip_head(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return None
    if fmt == "zipkin" and text[:1] != b"[":
        missing = "not a JSON list of spans"
    elif keys & set(_KEY.findall(text[:65536])):
        return None
    # ingest reads native JSONL and asks this package about the rest
    from recipemut.logs.ingest import _LABELS, _looks_native, detect_format

    seen = detect_format(text)
    if seen == "unknown" or (seen == "native" and not _looks_native(text)):  # JSON objects of no format, text
        looks = "the content is not a trace format recipemut knows"
    else:
        looks = f"the content looks like {_LABELS.get(seen, seen)}: drop --log-format or use --log-format {seen}"
    return f"no {_LABELS[fmt]} spans ({missing}); {looks}"


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
    return table.to_pandas(), counts, notes


def read_table(
    path: str | Path,
    fmt: str | None = None,
    *,
    recipe: Recipe | None,
    mapping: SpanMapping | str | Path | None = None,
    sample_rate: float | None = None,
    strict: bool = False,
) -> tuple[pa.Table, dict[str, int], list[str]]:
    """:func:`read` with the span table as an arrow table in :data:`recipemut.logs.spans.SPAN_SCHEMA`
    (what :mod:`recipemut.logs.ingest` takes, without a round trip through pandas)."""
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
    elif fmt in FORMATS:
        why = mismatch(read_head(p), fmt)
        if why is not None:
            raise LogError(why, file=str(p), code="wrong-format")
    if fmt not in FORMATS:
        raise LogError(f"unknown trace format '{fmt}' (expected one of {', '.join(FORMATS)})", file=str(p))
    attributes = (*DEFAULT_ATTRIBUTES, *m.attributes())
    if fmt == "otlp":
        numeric = [k for k in (m.bytes_in, m.bytes_out, m.cost_usd, m.cpu_ms, m.mem_mb) if k]
        raw, _how = otlp.read_raw(p, attributes, numeric=numeric)
    elif fmt == "jaeger":
        raw = jaeger.parse(read_bytes(p), p, attributes)
    else:
        raw = zipkin.parse(read_bytes(p), p, attributes)
    return normalise_table(raw, path=p, fmt=fmt, recipe=recipe, mapping=m, sample_rate=sample_rate, strict=strict)
