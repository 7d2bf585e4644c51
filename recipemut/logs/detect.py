"""What format a log is in, told from its first bytes: native JSONL spans, OTLP, Jaeger or Zipkin JSON,
or a workflow engine's run history (Argo, Tekton, Step Functions, GitHub Actions: :mod:`recipemut.files.runsniff`).

:func:`detect_format` is what ingest asks of every file (``"native"``, a trace format, or
``"unknown"``); :func:`detect` knows the trace formats only; :func:`mismatch` says why a file cannot
be in the format ``--log-format`` named. Formats are told by content, never by a file's name; a
gzip head is looked through.

>>> detect(b'{"resourceSpans": [{"resource": {}}]}'), detect(b'[{"traceId": "a", "id": "b", "localEndpoint": {}}]')
('otlp', 'zipkin')
>>> detect(b'{"data": [{"traceID": "a", "spans": []}]}'), detect(b'{"request_id": "r-1", "op": "x"}')
('jaeger', None)
>>> detect(b'{"batches": [{"resource": {}, "scopeSpans": []}]}')  # Grafana Tempo's answer: read as OTLP
'otlp'
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from recipemut.files.compressed import gunzip_head, is_gzip
from recipemut.files.kinds import is_tempo as is_tempo
from recipemut.files.kinds import trace_format
from recipemut.files.runsniff import LABELS as RUN_LABELS
from recipemut.files.runsniff import sniff
from recipemut.logs.sources import HEAD_BYTES, PARQUET_SUFFIXES  # a Parquet log's names (told by content still)

UTF8_BOM = b"\xef\xbb\xbf"
#: how messages name each format
LABELS = {"otlp": "OTLP", "jaeger": "Jaeger", "zipkin": "Zipkin", "native": "native JSONL", **RUN_LABELS}

_KEY = re.compile(rb'"([A-Za-z_]+)"\s*:')


def looks_native(head: bytes) -> bool:
    """Whether one of the first 20 non-blank lines of ``head`` is a JSON object with a span's
    ``request_id`` or ``op``.

    >>> looks_native(b'{"x": 1}\\n{"op": "a"}\\n'), looks_native(b'{"traceId": "a"}')
    (True, False)
    """
    lines = head.split(b"\n")
    if len(lines) > 1 and len(head) >= HEAD_BYTES:
        lines = lines[:-1]  # the last line may be cut
    seen = 0
    for raw in lines:
        s = raw.strip()
        if not s:
            continue
        seen += 1
        if seen > 20:
            break
        try:
            obj = json.loads(s)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict) and ("request_id" in obj or "op" in obj):
            return True
    return False


def detect(head: bytes) -> str | None:
    """``"otlp"``, ``"jaeger"``, ``"zipkin"`` or a run-history format (``"argo"``, ``"tekton"``,
    ``"stepfunctions"``, ``"github-actions"``) from a file's first bytes, else ``None`` (native or unknown).

    Decided by content, not by file name: OTLP has ``resourceSpans`` (or, from Grafana Tempo,
    ``batches``: :func:`is_tempo`); Jaeger spells ``traceID``
    / ``spanID`` / ``operationName`` (under ``data``, a trace with ``processes``, or a list of
    spans); Zipkin v2 is a JSON list of spans with ``traceId`` and ``id`` or ``localEndpoint``.
    """
    if is_gzip(head):
        head = gunzip_head(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] not in (b"{", b"["):
        return sniff(text)  # a run history in YAML, or None
    if (told := trace_format(text)) is not None:
        return told
    keys = set(_KEY.findall(text[:65536]))
    if keys & {b"traceID", b"spanID", b"operationName", b"processID"}:  # one of Jaeger's keys is enough here,
        return "jaeger"  # in a file given as a log (trace_format, which every reader asks, wants more)
    return sniff(text)  # a workflow engine's run history, or None


#: what each reader looks for, at least one of them in a file's first 64 KiB, and how to say so
SIGNATURES: dict[str, tuple[frozenset[bytes], str]] = {
    "otlp": (frozenset({b"resourceSpans", b"batches"}), "no resourceSpans key"),  # batches: Tempo
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
    if is_gzip(head):
        head = gunzip_head(head)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        return None
    if fmt == "zipkin" and text[:1] != b"[":
        missing = "not a JSON list of spans"
    elif keys & set(_KEY.findall(text[:65536])):
        return None
    seen = detect_format(text)
    if seen == "unknown" or (seen == "native" and not looks_native(text)):  # JSON objects of no format, text
        looks = "the content is not a trace format recipemut knows"
    elif seen in RUN_LABELS:  # read by content only: there is no --log-format for it
        looks = f"the content looks like {LABELS[seen]}: drop --log-format (run histories are told by content)"
    else:
        looks = f"the content looks like {LABELS.get(seen, seen)}: drop --log-format or use --log-format {seen}"
    return f"no {LABELS[fmt]} spans ({missing}); {looks}"


def detect_format(head: bytes) -> str:
    """The format of a log from its first bytes (already gunzipped).

    ``"native"`` for native JSONL spans; otherwise what :func:`detect` says; ``"unknown"`` for a JSON
    array that is neither. JSON objects of no known format and text that is not JSON at all are
    ``"native"``, so that the native reader names the first bad line and its problem (a span's keys
    missing, not valid JSON, ...).

    >>> detect_format(b'{"request_id":"r1","op":"a","start_ms":0,"latency_ms":1,"status":"ok"}\\n')
    'native'
    >>> detect_format(b"hello world\\n"), detect_format(b'{"x": 1}\\n'), detect_format(b'[{"x": 1}]')
    ('native', 'native', 'unknown')
    """
    head = head.removeprefix(UTF8_BOM)
    if looks_native(head):
        return "native"
    fmt = detect(head)
    if fmt:
        return fmt
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"[":
        return "unknown"
    return "native"  # JSON objects (whole, broken or of no known format) or text: the native reader names the line


def misnamed_parquet(name: str, head: bytes) -> str | None:
    """Why a file whose name says Parquet cannot be read as a log: it does not open with ``PAR1``
    (text, JSON, a gzip stream...): said instead of the JSON error its first line would give. ``None``
    for any other name or a file that does open with ``PAR1`` (or is empty).

    >>> misnamed_parquet("logs/fake.parquet", b"hello\\n")
    'named .parquet but is not Parquet (no PAR1 magic)'
    >>> misnamed_parquet("a.PQ", b"PAR1\\x15"), misnamed_parquet("a.jsonl", b"hello"), misnamed_parquet("e.pq", b"")
    (None, None, None)
    """
    suffix = PurePath(name).suffix.lower()
    if suffix not in PARQUET_SUFFIXES or not head or head[:4] == b"PAR1":
        return None
    return f"named {suffix} but is not Parquet (no PAR1 magic)"


__all__ = [
    "LABELS",
    "SIGNATURES",
    "UTF8_BOM",
    "detect",
    "detect_format",
    "is_tempo",
    "looks_native",
    "mismatch",
    "misnamed_parquet",
]
