"""What the run-history readers share: the documents of a file, the span rows they fill, the table.

Each engine reader walks its documents (a dict walk: one pass over the runs, nodes, events or jobs)
and appends one row per span to a :class:`Rows`: plain Python lists, with the times kept as the
engine wrote them. :meth:`Rows.table` then parses every time at once (RFC 3339 strings through
pandas, epoch numbers through numpy) and builds the span table
(:data:`~recipemut.logs.spans.SPAN_SCHEMA` + the call columns) in one go: no pandas call per span.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from recipemut.errors import LogError
from recipemut.logs.common import iter_documents
from recipemut.logs.spans import CALL_SCHEMA, SPAN_SCHEMA
from recipemut.recipe.engines.names import StepOps
from recipemut.recipe.model import Recipe

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: the counts every run-history reader reports (the ingest report's ``format_counts``)
COUNT_KEYS = (
    "spans_read",
    "runs",
    "runs_in_progress",
    "steps_skipped",
    "steps_unfinished",
    "steps_without_time",
)

#: statuses as the span table spells them
OK, ERROR = "ok", "error"


def documents(data: bytes, path: Path) -> Iterator[Any]:
    """The parsed documents of a file: JSON (one value, or several: JSON lines, concatenated) or YAML
    (one document or several, ``---`` between them). A YAML error is a :class:`LogError` at its line.

    >>> list(documents(b'{"a": 1}\\n{"a": 2}', Path("x.json")))
    [{'a': 1}, {'a': 2}]
    >>> list(documents(b"a: 1\\n---\\nb: 2\\n", Path("x.yaml")))
    [{'a': 1}, {'b': 2}]
    """
    start = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start in (b"{", b"["):
        yield from iter_documents(data, path)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise LogError("not UTF-8 text", file=str(path), line=line, code="not-utf8") from None
    try:
        for doc in yaml.load_all(text, Loader=_YAML_LOADER):
            if doc is not None:
                yield doc
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = mark.line + 1 if mark is not None else None
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise LogError(f"not valid YAML: {what}", file=str(path), line=at, code="bad-yaml") from None


def items(doc: Any) -> list[Any]:
    """The objects of a document: a list's items, a Kubernetes ``kind: List``'s ``items``, or the one object.

    >>> items({"kind": "List", "items": [{"a": 1}]}), items([{"a": 1}, {"b": 2}]), items({"a": 1})
    ([{'a': 1}], [{'a': 1}, {'b': 2}], [{'a': 1}])
    """
    if isinstance(doc, list):
        return [o for d in doc for o in items(d)] if any(_is_list(d) for d in doc) else doc
    if _is_list(doc):
        return list(doc["items"])
    return [doc]


def _is_list(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("items"), list) and "status" not in doc


def obj(v: Any) -> dict[str, Any]:
    """``v`` when it is a mapping, else an empty one (for the optional parts of engine objects)."""
    return v if isinstance(v, dict) else {}


def text(v: Any) -> str | None:
    """A name or id as a string (numbers as JSON writes them); ``None`` for null, objects and lists."""
    if v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return v if isinstance(v, str) else str(v)


class Rows:
    """Span rows of one file, filled by a reader, made into the span table once (:meth:`table`)."""

    def __init__(self, path: Path, recipe: Recipe | None) -> None:
        self.path = path
        self.recipe = recipe
        #: step names as operations (readers call ``rows.ops(name)``): the recipe's ids where it tells names apart
        self.ops = StepOps(None if recipe is None else [(o.id, o.action) for o in recipe.operations])
        self.request: list[str] = []
        self.op: list[str] = []
        self.service: list[str | None] = []
        self.start: list[Any] = []  # as the engine wrote it: RFC 3339 text, epoch number, datetime
        self.end: list[Any] = []
        self.status: list[str] = []
        self.span_id: list[str | None] = []
        self.parent: list[str | None] = []
        self.attempt: list[int | None] = []
        self.items: list[int | None] = []
        self.counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)
        self.notes: list[str] = []
        self.in_progress: list[str] = []  # ids of runs left out because they had not finished

    def __len__(self) -> int:
        return len(self.request)

    def add(
        self,
        request: str,
        op: str,
        service: str | None,
        start: Any,
        end: Any,
        status: str,
        *,
        span_id: str | None = None,
        parent: str | None = None,
        attempt: int | None = None,
        items: int | None = None,
    ) -> None:
        """One span (one call attempt of one step of one run)."""
        self.request.append(request)
        self.op.append(op)
        self.service.append(service)
        self.start.append(start)
        self.end.append(end)
        self.status.append(status)
        self.span_id.append(span_id)
        self.parent.append(parent)
        self.attempt.append(attempt)
        self.items.append(items)

    def running(self, run: str) -> None:
        """A run still in progress: counted, named in the notes, none of its steps kept."""
        self.counts["runs_in_progress"] += 1
        self.in_progress.append(run)

    def table(self, *, engine: str, strict: bool) -> tuple[pa.Table, dict[str, int], list[str]]:
        """The span table (:data:`SPAN_SCHEMA` then the call columns), the counts and the notes."""
        n = len(self)
        start = times_ms(self.start)
        end = times_ms(self.end)
        bad = np.isnan(start) | np.isnan(end) | (end < start)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            where = f"run {self.request[first]!r}, step {self.op[first]!r}"
            if strict:
                raise LogError(
                    f"{where}: no usable start or end time ({self.start[first]!r} .. {self.end[first]!r}) (--strict)",
                    file=str(self.path),
                    code="bad-span",
                )
            self.counts["steps_without_time"] = int(bad.sum())
            self.notes.append(f"{int(bad.sum())} step(s) without a usable start and end time left out (first: {where})")
        keep = ~bad
        self.counts["spans_read"] = n
        ops = np.asarray(self.op, dtype=object)
        service = np.asarray(self.service, dtype=object)
        if self.recipe is not None and n:  # the recipe's service for its operations: one name per operation
            known = {o.id: o.service for o in self.recipe.operations}
            service = np.asarray([known.get(o, s) for o, s in zip(ops, service, strict=True)], dtype=object)
        index = np.arange(1, n + 1, dtype=np.int64)

        def strings(values: list[Any] | np.ndarray) -> pa.Array:
            return pa.array(np.asarray(values, dtype=object)[keep], pa.string())

        def ints(values: list[int | None]) -> pa.Array:
            return pa.array(np.asarray(values, dtype=object)[keep], pa.int64())

        m = int(keep.sum())
        arrays: dict[str, pa.Array] = {
            "request_id": strings(self.request),
            "recipe": pa.nulls(m, pa.string()),
            "recipe_version": pa.nulls(m, pa.int64()),
            "variant": pa.nulls(m, pa.string()),
            "op": strings(ops),
            "service": strings(service),
            "start_ms": pa.array(start[keep], pa.float64()),
            "latency_ms": pa.array((end - start)[keep], pa.float64()),
            "status": strings(self.status),
            "cost_usd": pa.nulls(m, pa.float64()),
            "cpu_ms": pa.nulls(m, pa.float64()),
            "mem_mb": pa.nulls(m, pa.float64()),
            "bytes_in": pa.nulls(m, pa.float64()),
            "bytes_out": pa.nulls(m, pa.float64()),
            "cache_key": pa.nulls(m, pa.string()),
            "sample_rate": pa.nulls(m, pa.float64()),
            "source_file": pa.array(np.full(m, str(self.path), dtype=object), pa.string()),
            "source_line": pa.array(index[keep], pa.int64()),
            "span_id": strings(self.span_id),
            "parent_span_id": strings(self.parent),
            "attempt": ints(self.attempt),
            "items": ints(self.items),
        }
        schema = pa.schema([*SPAN_SCHEMA, *CALL_SCHEMA])
        table = pa.table([arrays[f.name] for f in schema], schema=schema)
        if self.in_progress:
            shown = ", ".join(repr(r) for r in self.in_progress[:3]) + (" ..." if len(self.in_progress) > 3 else "")
            self.notes.append(
                f"{len(self.in_progress)} {engine} run(s) still in progress counted and left out ({shown})"
            )
        self.notes.extend(self.name_notes())
        if self.counts["steps_skipped"]:
            self.notes.append(f"{self.counts['steps_skipped']} skipped or omitted step(s) did not run: not spans")
        if self.counts["steps_unfinished"]:
            self.notes.append(
                f"{self.counts['steps_unfinished']} step(s) of finished runs had not finished (no end time): left out"
            )
        return table, dict(self.counts), self.notes

    def name_notes(self) -> list[str]:
        """A note per operation that steps of different names were all read as (their names meet on
        one id and the recipe, or its absence, does not tell them apart), and per name that several
        operations of the recipe share."""
        notes = []
        for oid, names in self.ops.collisions():
            shown = ", ".join(repr(n) for n in names[:4]) + (" ..." if len(names) > 4 else "")
            why = (
                "give the recipe imported from the definition to tell them apart"
                if self.recipe is None
                else "the recipe does not tell them apart (its operations' action is the step's name when imported)"
            )
            notes.append(f"steps {shown} all read as operation {oid!r}: their names differ only in characters "
                         f"an operation id cannot hold; {why}")  # fmt: skip
        for name, oids in self.ops.alike():
            notes.append(f"steps named {name!r} read as operation {self.ops(name)!r}: operations "
                         f"{', '.join(repr(o) for o in oids)} of the recipe have that name, a history cannot "
                         "tell them apart")  # fmt: skip
        return notes


def times_ms(values: list[Any]) -> np.ndarray:
    """Epoch milliseconds of times as engines write them, NaN where missing or unreadable.

    RFC 3339 text (parsed together, by pandas), epoch numbers (seconds, as the Step Functions API
    and boto3 give them, or milliseconds when larger than 10**11), ``datetime`` values (YAML's
    unquoted timestamps; naive ones are UTC).

    >>> times_ms(["1970-01-01T00:00:01Z", "2018-08-01T10:22:43+02:00", 1.5, 1_600_000_000_000, None, "x"]).tolist()
    [1000.0, 1533111763000.0, 1500.0, 1600000000000.0, nan, nan]
    """
    out = np.full(len(values), np.nan)
    text_at: list[int] = []
    texts: list[str] = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            text_at.append(i)
            texts.append(v)
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, (int, float)):
            f = float(v)
            out[i] = f if abs(f) > 1e11 else f * 1000.0
        elif isinstance(v, dt.datetime):
            out[i] = (v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)).timestamp() * 1000.0
    if texts:
        parsed = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, errors="coerce", format="ISO8601")
        us = parsed.to_numpy(dtype="datetime64[us]").astype(np.int64)  # exact in float64, unlike ns
        ms = np.where(parsed.isna().to_numpy(), np.nan, us.astype(float) / 1e3)
        out[np.asarray(text_at, dtype=np.int64)] = ms
    return out


__all__ = ["COUNT_KEYS", "ERROR", "OK", "Rows", "documents", "items", "obj", "text", "times_ms"]
