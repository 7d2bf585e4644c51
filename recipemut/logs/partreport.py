"""The partitioned engines' span table and report (:mod:`recipemut.logs.distributed`): the sampled
requests' spans made the span table as ingest makes it, and a :class:`PartitionedReport` that says
which figures are the whole log's and which the sample's.

Those engines count every span of the logs in their partials (per operation: count, percentiles,
means; every request's first start), and bring back the spans of the sampled requests only. So
with a sample, the report's summary line gives both, the whole log's first:
``1 file: 300,096 spans, 20,800 requests, ..., 0 rejected lines; a sample of 0.1 (2,109 requests,
30,455 spans) for the critical path``; and one note says the same of the figures, its sample's words
those of ingest's note (:meth:`~recipemut.logs.sample.RequestSample.summary`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.partials import Partial
from recipemut.logs.report import MAX_EXAMPLES, REASONS, IngestReport, Rejection, Rejects, frozen_counts
from recipemut.logs.sample import RequestSample
from recipemut.logs.spans import DEFAULT_VARIANT, INT_COLS, duplicates_note, factorize, keep_calls, to_span_frame


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
    """The span table and the report of the sampled spans, as :func:`~recipemut.logs.ingest.read_logs`
    makes them; ``notes`` (the files' own) come first, then the engine's (:func:`engine_note`)."""
    table = table.set_column(table.schema.get_field_index("variant"), "variant",
                             pc.fill_null(table.column("variant"), DEFAULT_VARIANT))  # fmt: skip
    rate = pc.fill_null(table.column("sample_rate"), fill_rate)
    if fraction < 1:  # each kept request stands for 1/fraction as many
        rate = pc.multiply(rate, fraction)
    table = table.set_column(table.schema.get_field_index("sample_rate"), "sample_rate", rate)
    for name in INT_COLS:
        table = table.set_column(table.schema.get_field_index(name), name, pc.cast(table.column(name), pa.int64()))
    has_span_ids = table.column("span_id").null_count < table.num_rows
    span_codes = factorize(table.column("span_id"))[0] if has_span_ids else None
    req_codes, req_uniques = factorize(table.column("request_id"))
    op_codes, op_uniques = factorize(table.column("op"))
    df = to_span_frame(table)
    del table
    start = df["start_ms"].to_numpy()
    end = start + df["latency_ms"].to_numpy()
    keep = keep_calls(req_codes, op_codes, span_codes, end, len(op_uniques))
    duplicates = int((~keep).sum())
    first = np.unique(req_codes, return_index=True)[1]
    vc_var = df["variant"].iloc[first].value_counts()
    dropped: list[str] = []
    if duplicates:
        df = df.loc[keep].reset_index(drop=True)
        start, end = start[keep], end[keep]
        dropped = [duplicates_note(duplicates, by_span_id=span_codes is not None)]
    rejected: dict[str, int] = {}
    examples: list[Rejection] = []
    for r in rejects.values():
        for k, v in r.counts.items():
            rejected[k] = rejected.get(k, 0) + v
    for reason in REASONS:
        examples.extend([e for r in rejects.values() for e in r.examples.get(reason, [])][:MAX_EXAMPLES])
    examples.sort(key=lambda e: (names.index(e.file) if e.file in names else 0, e.line))
    sample = None
    if fraction < 1:
        sample = RequestSample(
            fraction=fraction, requests_total=merged.requests.num_rows, requests_kept=len(req_uniques),
            automatic=automatic, reason=why,
            start_ms=np.asarray(merged.requests.column("start").to_numpy(), dtype=np.float64),
            rates=np.asarray(merged.requests.column("rate").to_numpy(), dtype=np.float64),
        )  # fmt: skip
    vc_ver = df["recipe_version"].value_counts()
    vc_rate = df["sample_rate"].value_counts()
    report = PartitionedReport(
        files=tuple(names),
        formats=MappingProxyType(kinds),
        lines_read=merged.lines_read,
        blank_lines=merged.blank,
        spans_kept=len(df),
        rejected=frozen_counts(rejected),
        examples=tuple(examples),
        requests=len(req_uniques),
        time_range_ms=(float(np.min(start)), float(np.max(end))),
        variants=frozen_counts(dict(zip(vc_var.index.astype(str), vc_var.astype(int), strict=True))),
        recipe_versions=frozen_counts(dict(zip(vc_ver.index.astype(int), vc_ver.astype(int), strict=True))),
        unknown_ops=frozen_counts(dict(sorted(merged.unknown.items(), key=lambda kv: (-kv[1], kv[0])))),
        other_recipes=frozen_counts(dict(sorted(merged.other.items(), key=lambda kv: (-kv[1], kv[0])))),
        duplicates=duplicates,
        sample_rate=fill_rate,
        sample_rates=frozen_counts(dict(zip(vc_rate.index.astype(float), vc_rate.astype(int), strict=True))),
        notes=(*notes, engine_note(where, merged, sample), *dropped),
        sample=sample,
        spans_total=int(merged.count.sum()),
        requests_total=merged.requests.num_rows,
        time_range_total_ms=(merged.first_ms, merged.last_ms) if math.isfinite(merged.first_ms) else None,
        sample_for="each operation's figures and the critical path" if merged.calls else "the critical path",
    )
    return df, report


__all__ = ["PartitionedReport", "engine_note", "finish"]
