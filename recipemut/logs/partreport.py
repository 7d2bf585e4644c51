"""The partitioned engines' span table and report (:mod:`recipemut.logs.distributed`): the sampled
requests' spans made the span table as ingest makes it, and a :class:`PartitionedReport` that says
which figures are the whole log's and which the sample's.

Those engines count every span of the logs in their partials (per operation: count, percentiles,
means; every request's first start), and bring back the spans of the sampled requests only. So
with a sample, the report's summary line gives both, the whole log's first:
``1 file: 300,096 spans, 20,800 requests, ..., 0 rejected lines; a sample of 0.1 (2,109 requests,
30,455 spans) for the critical path``; and one note says the same of the figures, its sample's words
those of ingest's note (:meth:`~recipemut.logs.sample.RequestSample.summary`).

The rows both engines keep are made the span table and the report's figures by one function,
:func:`span_tail` (defaults filled, casts, duplicates dropped, variants, versions, sample rates,
rejections and their examples): :func:`~recipemut.logs.ingest.read_logs` calls it too, so the
engines cannot drift apart on those rules. It lives here, the lower module: ingest imports it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.partials import Partial
from recipemut.logs.report import MAX_EXAMPLES, REASONS, IngestReport, Rejection, Rejects, frozen_counts
from recipemut.logs.sample import RequestSample
from recipemut.logs.spans import DEFAULT_VARIANT, INT_COLS, duplicates_note, factorize, keep_calls, to_span_frame

R = TypeVar("R", bound=IngestReport)


@dataclass(frozen=True)
class PartitionedReport(IngestReport):
    """An :class:`IngestReport` of the sampled spans that also holds the whole log's counts:
    ``spans_total`` (every span of the recipe the partials counted), ``requests_total`` and its
    ``time_range_total_ms``; ``sample_for`` names what the sample's spans are used for."""

    spans_total: int = 0
    requests_total: int = 0
    time_range_total_ms: tuple[float, float] | None = None
    sample_for: str = "the critical path"

    def summary(self) -> str:
        """Without a sample, ingest's line. With one, the whole log's counts in ingest's words, then
        the sample: ``...; a sample of 0.1 (2,109 requests, 30,455 spans) for the critical path``."""
        if self.sample is None:
            return IngestReport.summary(self)
        whole = dataclasses.replace(self, spans_kept=self.spans_total, requests=self.requests_total,
                                    time_range_ms=self.time_range_total_ms or self.time_range_ms,
                                    sample=None)  # fmt: skip
        s, n = self.sample, self.spans_kept
        return (
            f"{IngestReport.summary(whole)}; a sample of {s.fraction:.4g} ({s.requests_kept:,} "
            f"request{'s' if s.requests_kept != 1 else ''}, {n:,} span{'s' if n != 1 else ''}) for {self.sample_for}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Ingest's, with ``whole_log``: the counts of every span, sampled or not."""
        tr = self.time_range_total_ms
        whole = {"spans": self.spans_total, "requests": self.requests_total,
                 "time_range_ms": None if tr is None else list(tr)}  # fmt: skip
        return {**IngestReport.to_dict(self), "whole_log": whole}


@dataclass(frozen=True)
class SpanTail:
    """What :func:`span_tail` makes of the rows read: the span table (``frame``), the number of
    requests it holds, the duplicates' note (``dropped``: none or one) and the report's figures of it
    (``fields``: :class:`IngestReport`'s keyword arguments, given by :meth:`report`)."""

    frame: pd.DataFrame
    requests: int
    dropped: tuple[str, ...]
    fields: Mapping[str, Any]

    def report(self, cls: type[R], **engine: Any) -> R:
        """The report (an :class:`IngestReport` or a subclass): ``fields`` and what only the engine
        knows (files, formats, lines read, exclusions, notes, the sample)."""
        return cls(**self.fields, **engine)


def span_tail(
    table: pa.Table, *, fill_rate: float, fraction: float, rejects: Iterable[Rejects], names: Sequence[str]
) -> SpanTail:
    """The tail both engines share (:func:`~recipemut.logs.ingest.read_logs` and :func:`finish`): the
    checked rows of every file (``table``, PARSE_SCHEMA and the source columns) made the span table
    and the report's figures, by one set of rules.

    ``variant`` is filled with ``"control"``, ``sample_rate`` with ``fill_rate`` and, under a sample
    (``fraction`` < 1), multiplied by it (each kept request stands for 1/fraction as many); the whole
    number columns cast to int64. Variants count requests by their first span, before duplicates are
    dropped (:func:`~recipemut.logs.spans.keep_calls`: the last-ending one kept); recipe versions and
    sample rates count the spans kept. ``rejects`` (one tally per file) are summed by reason, their
    first :data:`~recipemut.logs.report.MAX_EXAMPLES` examples of each reason kept, in the order of
    ``names`` and then of lines.
    """
    i = table.schema.get_field_index("variant")
    table = table.set_column(i, "variant", pc.fill_null(table.column(i), DEFAULT_VARIANT))
    i = table.schema.get_field_index("sample_rate")
    rate = pc.fill_null(table.column(i), fill_rate)
    if fraction < 1:  # each kept request stands for 1/fraction as many (profile's rates count them)
        rate = pc.multiply(rate, fraction)
    table = table.set_column(i, "sample_rate", rate)
    for name in INT_COLS:  # checked to be whole numbers
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.cast(table.column(i), pa.int64()))
    has_span_ids = table.column("span_id").null_count < table.num_rows
    span_codes = factorize(table.column("span_id"))[0] if has_span_ids else None
    req_codes, req_uniques = factorize(table.column("request_id"))  # on arrow: no copy of the strings
    op_codes, op_uniques = factorize(table.column("op"))
    df = to_span_frame(table)
    del table
    # codes are in first-appearance order, so a request's first span is where the running max grows
    running_max = np.maximum.accumulate(req_codes)
    first_of_request = np.flatnonzero(np.concatenate(([True], running_max[1:] > running_max[:-1])))
    vc_var = df["variant"].iloc[first_of_request].value_counts()  # requests by variant
    start = df["start_ms"].to_numpy()
    end = start + df["latency_ms"].to_numpy()
    keep = keep_calls(req_codes, op_codes, span_codes, end, len(op_uniques))
    duplicates = int((~keep).sum())
    dropped: tuple[str, ...] = ()
    if duplicates:
        df = df.loc[keep].reset_index(drop=True)
        start, end = start[keep], end[keep]
        dropped = (duplicates_note(duplicates, by_span_id=span_codes is not None),)
    vc_ver = df["recipe_version"].value_counts()
    vc_rate = df["sample_rate"].value_counts()

    tallies = list(rejects)
    rejected: dict[str, int] = {}
    for r in tallies:
        for k, v in r.counts.items():
            rejected[k] = rejected.get(k, 0) + v
    examples: list[Rejection] = []
    for reason in REASONS:
        examples.extend([e for r in tallies for e in r.examples.get(reason, [])][:MAX_EXAMPLES])
    examples.sort(key=lambda e: (names.index(e.file) if e.file in names else 0, e.line))
    fields = {
        "spans_kept": len(df),
        "rejected": frozen_counts(rejected),
        "examples": tuple(examples),
        "requests": len(req_uniques),
        "time_range_ms": (float(np.min(start)), float(np.max(end))),
        "variants": _counts(vc_var, str),
        "recipe_versions": _counts(vc_ver, int),
        "duplicates": duplicates,
        "sample_rate": fill_rate,
        "sample_rates": _counts(vc_rate, float),
    }
    return SpanTail(df, len(req_uniques), dropped, MappingProxyType(fields))


def _counts(vc: pd.Series, key: type) -> Mapping[Any, int]:
    """A ``value_counts`` as a report's table of counts: plain Python keys and counts, most first."""
    return frozen_counts(dict(zip(vc.index.astype(key).tolist(), vc.astype(int).tolist(), strict=True)))


def engine_note(where: str, merged: Partial, sample: RequestSample | None) -> str:
    """The one note of what the figures are: ``where`` (``read by the dask engine in 2 partitions``),
    then, with a sample, ingest's words for it (:meth:`~recipemut.logs.sample.RequestSample.summary`,
    up to what the figures are) and which figures are every span's and which the sample's."""
    every = f"each operation's count, percentiles and means are those of every span ({int(merged.count.sum()):,})"
    if sample is None:
        return f"{where}; " + ("every request's spans came back" if merged.calls else every)
    if merged.calls:  # the profile folds calls per request: per-span partials cannot, so ingest's meaning holds
        return f"{where}; {sample.summary()} (spans carry span_id/parent_span_id: each operation's figures too)"
    return (
        f"{where}; {sample.head()}: {every}, the critical-path figures those of the sample; the request rate counts "
        "every request"
    )


def finish(
    table: pa.Table,
    names: list[str],
    kinds: Mapping[str, str],
    merged: Partial,
    rejects: dict[str, Rejects],
    fill_rate: float,
    fraction: float,
    why: str,
    automatic: bool,
    notes: list[str],
    where: str,
) -> tuple[pd.DataFrame, PartitionedReport]:
    """The span table and the report of the sampled spans, by the tail ingest calls too (:func:`span_tail`);
    ``notes`` (the files' own) come first, then the engine's (:func:`engine_note`), then the duplicates'."""
    tail = span_tail(table, fill_rate=fill_rate, fraction=fraction, rejects=rejects.values(), names=names)
    sample = None
    if fraction < 1:
        sample = RequestSample(
            fraction=fraction, requests_total=merged.requests.num_rows, requests_kept=tail.requests,
            automatic=automatic, reason=why,
            start_ms=np.asarray(merged.requests.column("start").to_numpy(), dtype=np.float64),
            rates=np.asarray(merged.requests.column("rate").to_numpy(), dtype=np.float64),
        )  # fmt: skip
    report = tail.report(
        PartitionedReport,
        files=tuple(names),
        formats=MappingProxyType(kinds),
        lines_read=merged.lines_read,
        blank_lines=merged.blank,
        unknown_ops=frozen_counts(dict(sorted(merged.unknown.items(), key=lambda kv: (-kv[1], kv[0])))),
        other_recipes=frozen_counts(dict(sorted(merged.other.items(), key=lambda kv: (-kv[1], kv[0])))),
        notes=(*notes, engine_note(where, merged, sample), *tail.dropped),
        sample=sample,
        spans_total=int(merged.count.sum()),
        requests_total=merged.requests.num_rows,
        time_range_total_ms=(merged.first_ms, merged.last_ms) if math.isfinite(merged.first_ms) else None,
        sample_for="each operation's figures and the critical path" if merged.calls else "the critical path",
    )
    return tail.frame, report


__all__ = ["PartitionedReport", "SpanTail", "engine_note", "finish", "span_tail"]
