"""What ingest tells about the logs it read: the rejected lines, their reasons, and the report.

:class:`IngestReport` is what :func:`recipemut.logs.ingest.read_logs` returns beside the span table;
:class:`Rejects` is the tally a reader fills while it reads one file, keeping the first
:data:`MAX_EXAMPLES` rejected lines of each reason (:data:`REASONS`) in file order.

A native log's rejections name lines (``a.jsonl:7``); a trace file's (OTLP, Jaeger, Zipkin, a run
history: :data:`UNITS`) name spans by their 1-based position in the file (``zipkin.json: span #3``),
as its readers number them: a span's line is not known to the columnar readers, and a position given
as a line would send the reader to the wrong place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from recipemut.errors import LogError

if TYPE_CHECKING:
    from recipemut.logs.mismatch import Mismatch
    from recipemut.logs.sample import RequestSample
    from recipemut.logs.unmatched import Unmatched

#: examples kept per rejection reason
MAX_EXAMPLES = 5

#: what a rejection's position counts: a line of a native log, or a span of a trace file
UNITS = ("line", "span")
#: the formats (:attr:`IngestReport.formats`) whose rejections are lines: a native log's, a Parquet file's
#: rows (numbered as lines); every other format is a trace file, whose rejections are spans
LINE_FORMATS = frozenset({"native", "parquet"})

#: reason code -> what it means
REASONS: Mapping[str, str] = MappingProxyType(
    {
        "malformed-json": "not valid JSON (or more than one value on the line)",
        "cut-short": "where a gzip or zstd stream ends early (a log cut while written): the lines before it are read",
        "not-an-object": "a JSON value that is not an object",
        "bad-encoding": "invalid UTF-8",
        "wrong-type": "a key holding a value of the wrong type",
        "missing-key": "a required key (request_id, op, start_ms, latency_ms, status) missing or empty",
        "bad-latency": "latency_ms negative, not finite or over 30 days",
        "bad-start": "start_ms not finite or not epoch milliseconds (beyond 146 years of 1970, or seconds)",
        "unknown-status": "status other than ok, error, halted",
        "bad-sample-rate": "sample_rate not a number in (0, 1], or below 1e-9",
        "bad-value": (
            "cost_usd, cpu_ms, mem_mb, bytes_in or bytes_out negative, not finite or implausibly large; "
            "attempt (from 1) or items (from 0) not a whole number in range"
        ),
    }
)


@dataclass(frozen=True)
class Rejection:
    """One rejected line or span: where, the reason code and a message naming the key or problem.

    ``line`` is the position in the file: a line number (``unit`` ``"line"``), or of a trace file's
    span its 1-based position among the file's spans (``unit`` ``"span"``); examples sort by it.

    >>> str(Rejection("a.jsonl", 7, "bad-latency", "latency_ms is -3.0"))
    'a.jsonl:7: latency_ms is -3.0 [bad-latency]'
    >>> str(Rejection("zipkin.json", 3, "bad-latency", "latency_ms is -3.0", unit="span"))
    'zipkin.json: span #3: latency_ms is -3.0 [bad-latency]'
    """

    file: str
    line: int
    reason: str
    message: str
    unit: str = "line"  # one of UNITS

    @property
    def file_line(self) -> int | None:
        """The line number, or ``None`` for a span (its line is not known)."""
        return self.line if self.unit == "line" else None

    @property
    def where(self) -> str:
        """``a.jsonl:7`` or ``zipkin.json: span #3``."""
        return f"{self.file}:{self.line}" if self.unit == "line" else f"{self.file}: span #{self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.reason}]"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``file``, ``line``, ``reason``, ``message``; a span's ``line`` is ``null`` and
        ``span`` is its position."""
        if self.unit == "line":
            return {"file": self.file, "line": self.line, "reason": self.reason, "message": self.message}
        return {"file": self.file, "line": None, "span": self.line, "reason": self.reason, "message": self.message}

    def strict_error(self) -> LogError:
        """The error ``--strict`` raises at this rejection: ``a.jsonl:7: ... (--strict)``, or
        ``zipkin.json: span #3: ... (--strict)`` (no line: the span's is not known)."""
        what = f"{self.message} [{self.reason}] (--strict)"
        if self.unit != "line":
            what = f"span #{self.line}: {what}"
        return LogError(what, file=self.file, line=self.file_line, code=self.reason)


def iso_ms(ms: float) -> str:
    """Epoch milliseconds as an ISO 8601 UTC time.

    >>> iso_ms(1_700_000_000_000.0)
    '2023-11-14T22:13:20.000Z'
    """
    return (
        datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def frozen_counts(d: Mapping[Any, int] | None = None) -> Mapping[Any, int]:
    """A read-only copy of a table of counts (the report's mappings)."""
    return MappingProxyType(dict(d or {}))


def _count(n: int, noun: str) -> str:
    """``1 request``, ``3,964 requests``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class IngestReport:
    """What ingest read, kept, rejected and excluded. ``to_dict()`` is JSON-ready."""

    files: tuple[str, ...]
    formats: Mapping[str, str]  # file -> "native" | "otlp" | ...
    lines_read: int  # non-blank lines (native) or spans (other formats) read
    blank_lines: int
    spans_kept: int
    rejected: Mapping[str, int]  # reason -> count
    examples: tuple[Rejection, ...]  # first MAX_EXAMPLES per reason, in file order
    requests: int
    time_range_ms: tuple[float, float] | None  # first start, last end (epoch ms)
    variants: Mapping[str, int]  # variant -> requests
    recipe_versions: Mapping[int, int]  # recipe_version -> spans (spans without one not counted)
    unknown_ops: Mapping[str, int]  # excluded: op not in the recipe -> spans
    other_recipes: Mapping[str, int]  # excluded: other recipe name -> spans
    duplicates: int  # spans dropped as duplicates (same request, op and span_id; the last-ending one is kept)
    sample_rate: float  # filled in where a span carries none
    sample_rates: Mapping[float, int]  # sample rate -> spans kept
    format_counts: Mapping[str, int] = field(default_factory=frozen_counts)  # counters from other-format readers
    notes: tuple[str, ...] = ()
    sample: RequestSample | None = None  # the requests kept by --sample-requests or the memory budget
    # spans logged by another version of the recipe or on another service (recipemut.logs.mismatch);
    # filled by LogSource.read_by_engine, the one read of logs against a recipe
    mismatches: tuple[Mismatch, ...] = ()
    # the span mapping's rules that took no span of the traces, and the operations without spans (filled by
    # LogSource.read_by_engine, as the mismatches; recipemut.logs.unmatched)
    unmatched: tuple[Unmatched, ...] = ()
    # the spans of traces that map to no operation, by (name, service): "did you mean" of an operation without
    # spans (their top names are in the notes; not in to_dict)
    unmapped: Mapping[tuple[str, str], int] = field(default_factory=frozen_counts)

    @property
    def rejected_total(self) -> int:
        return int(sum(self.rejected.values()))

    @property
    def excluded_total(self) -> int:
        return int(sum(self.unknown_ops.values()) + sum(self.other_recipes.values()))

    def rejected_noun(self, n: int) -> str:
        """What ``n`` rejections are of these files: ``line(s)`` of native logs (a Parquet file's rows too),
        ``span(s)`` of trace files (:data:`LINE_FORMATS`), ``line(s) or span(s)`` when the files are of both.

        >>> r = IngestReport(("z.json",), {"z.json": "zipkin"}, 3, 0, 2, {"bad-latency": 1}, (), 1, None, {},
        ...                  {}, {}, {}, 0, 1.0, {})
        >>> r.rejected_noun(1), r.rejected_noun(2)
        ('span', 'spans')
        """
        units = sorted({"line" if f in LINE_FORMATS else "span" for f in self.formats.values()}) or ["line"]
        return " or ".join(u if n == 1 else u + "s" for u in units)

    def summary(self) -> str:
        """One line: spans, requests, time range, rejected and excluded counts."""
        parts = [_count(self.spans_kept, "span"), _count(self.requests, "request")]
        if self.time_range_ms is not None:
            a, b = self.time_range_ms
            parts.append(f"{iso_ms(a)} .. {iso_ms(b)}")
        parts.append(f"{self.rejected_total:,} rejected {self.rejected_noun(self.rejected_total)}")
        if self.excluded_total:
            parts.append(f"{_count(self.excluded_total, 'span')} excluded")
        if self.duplicates:
            parts.append(f"{_count(self.duplicates, 'duplicate')} dropped")
        if self.sample is not None:
            s = self.sample
            parts.append(f"sampled {s.fraction:.4g} of requests ({s.requests_kept:,} of {s.requests_total:,})")
        n = len(self.files)
        return f"{n} file{'s' if n != 1 else ''}: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        tr = None
        if self.time_range_ms is not None:
            a, b = self.time_range_ms
            tr = {"start_ms": a, "end_ms": b, "start": iso_ms(a), "end": iso_ms(b)}
        return {
            "files": list(self.files),
            "formats": dict(self.formats),
            "lines_read": self.lines_read,
            "blank_lines": self.blank_lines,
            "spans_kept": self.spans_kept,
            "rejected_total": self.rejected_total,
            "rejected": dict(self.rejected),
            "examples": [e.to_dict() for e in self.examples],
            "requests": self.requests,
            "time_range": tr,
            "variants": dict(self.variants),
            "recipe_versions": {str(k): v for k, v in self.recipe_versions.items()},
            "unknown_ops": dict(self.unknown_ops),
            "other_recipes": dict(self.other_recipes),
            "duplicates": self.duplicates,
            "sample_rate": self.sample_rate,
            "sample_rates": {repr(k): v for k, v in self.sample_rates.items()},
            "format_counts": dict(self.format_counts),
            "notes": list(self.notes),
            "sampling": None if self.sample is None else self.sample.to_dict(),
            "mismatches": [m.to_dict() for m in self.mismatches],
            "unmatched": [u.to_dict() for u in self.unmatched],
        }


class Rejects:
    """The rejected lines of one file, tallied while it is read (mutable; the report copies it).
    ``unit="span"`` for a trace file: the positions given to :meth:`add` are its spans'."""

    def __init__(self, file: str, *, unit: str = "line") -> None:
        if unit not in UNITS:
            raise ValueError(f"unit {unit!r} is not one of {UNITS}")
        self.file = file
        self.unit = unit
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[Rejection]] = {}
        self.first: Rejection | None = None

    def add(self, line: int, reason: str, message: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        rej = Rejection(self.file, line, reason, message, self.unit)
        if len(ex) < MAX_EXAMPLES or line < ex[-1].line:  # keep the first ones in file order
            ex.append(rej)
            ex.sort(key=lambda e: e.line)
            del ex[MAX_EXAMPLES:]
        if self.first is None or line < self.first.line:
            self.first = rej

    def count_more(self, reason: str, count: int) -> None:
        """Count rejections past the kept examples (they come after them in file order)."""
        self.counts[reason] = self.counts.get(reason, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())


__all__ = [
    "LINE_FORMATS",
    "MAX_EXAMPLES",
    "REASONS",
    "UNITS",
    "IngestReport",
    "Rejection",
    "Rejects",
    "frozen_counts",
    "iso_ms",
]
