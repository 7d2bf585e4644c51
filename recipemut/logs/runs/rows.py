"""What the run-history readers share: the documents of a file, the span rows they fill, the table.

Each engine reader walks its documents (a dict walk: one pass over the runs, nodes, events or jobs)
and appends one row per span to a :class:`Rows` (its fields to one flat list), with the times kept
as the engine wrote them. :meth:`Rows.table` then parses every time at once (:func:`times_ms`: RFC 3339 strings through
pandas, epoch numbers through numpy, sorted by type in one pass) and builds the span table
(:data:`~recipemut.logs.spans.SPAN_SCHEMA` + the call columns) in one go: no pandas call per span.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from recipemut.errors import LogError, RecipeInvalid
from recipemut.files.units import counted
from recipemut.logs.common import iter_documents
from recipemut.logs.spans import CALL_SCHEMA, SPAN_SCHEMA
from recipemut.recipe.engines.names import StepOps
from recipemut.recipe.model import Recipe
from recipemut.recipe.yamlpos import parse_yaml_documents

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

    YAML goes through the one YAML reader (:func:`recipemut.recipe.yamlpos.parse_yaml_documents`):
    its limits on aliases and nesting, and its one-line errors for a value it cannot read (``0x_``);
    no cap on the number of values (the history's size in bytes is capped) and no positions kept.

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
        parsed = parse_yaml_documents(text, file=str(path), what="run history", max_nodes=None, positions=False)
    except RecipeInvalid as e:
        f = e.findings[0]
        if f.code == "empty-file":
            return  # the caller says the history is empty
        message = f.message
        if f.code == "yaml-syntax" and message.startswith("YAML syntax error: "):
            message = "not valid YAML: " + message.removeprefix("YAML syntax error: ")
        code = "bad-yaml" if f.code == "yaml-syntax" else f.code
        raise LogError(message, file=str(path), line=f.line, column=f.column, code=code) from None
    yield from (doc for doc, _, _ in parsed if doc is not None)


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
        #: the spans' fields, :data:`_FIELDS` a span one after another (one ``extend`` a span; a column
        #: is then one slice, :class:`_Columns`)
        self.fields: list[Any] = []
        self.counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)
        self.notes: list[str] = []
        self.in_progress: list[str] = []  # ids of runs left out because they had not finished

    def __len__(self) -> int:
        return len(self.fields) // _FIELDS

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
        """One span (one call attempt of one step of one run); times as the engine wrote them (RFC 3339
        text, an epoch number, a ``datetime``), read by :func:`times_ms` in :meth:`table`."""
        self.fields.extend((request, op, service, start, end, status, span_id, parent, attempt, items))

    def running(self, run: str) -> None:
        """A run still in progress: counted, named in the notes, none of its steps kept."""
        self.counts["runs_in_progress"] += 1
        self.in_progress.append(run)

    def table(self, *, engine: str, strict: bool) -> tuple[pa.Table, dict[str, int], list[str]]:
        """The span table (:data:`SPAN_SCHEMA` then the call columns), the counts and the notes."""
        n = len(self)
        cols = _Columns(self.fields)
        start = times_ms(cols.start)
        end = times_ms(cols.end)
        bad = np.isnan(start) | np.isnan(end) | (end < start)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            where = f"run {cols.request[first]!r}, step {cols.op[first]!r}"
            if strict:
                raise LogError(
                    f"{where}: no usable start or end time ({cols.start[first]!r} .. {cols.end[first]!r}) (--strict)",
                    file=str(self.path),
                    code="bad-span",
                )
            self.counts["steps_without_time"] = int(bad.sum())
            steps = counted(int(bad.sum()), "step")
            self.notes.append(f"{steps} without a usable start and end time left out (first: {where})")
        keep = ~bad
        self.counts["spans_read"] = n
        ops = np.asarray(cols.op, dtype=object)
        service = np.asarray(cols.service, dtype=object)
        if self.recipe is not None and n:  # the recipe's service for its operations: one name per operation
            known = pd.Series(ops).map({o.id: o.service for o in self.recipe.operations}).to_numpy(dtype=object)
            service = np.where(pd.notna(known), known, service)
        index = np.arange(1, n + 1, dtype=np.int64)

        kept_all = bool(keep.all())  # (the usual case: the columns as they are, no masked copy)

        def strings(values: list[Any] | np.ndarray) -> pa.Array:
            return pa.array(values if kept_all else np.asarray(values, dtype=object)[keep], pa.string())

        def ints(values: list[Any]) -> pa.Array:
            return pa.array(values if kept_all else np.asarray(values, dtype=object)[keep], pa.int64())

        m = int(keep.sum())
        arrays: dict[str, pa.Array] = {
            "request_id": strings(cols.request),
            "recipe": pa.nulls(m, pa.string()),
            "recipe_version": pa.nulls(m, pa.int64()),
            "variant": pa.nulls(m, pa.string()),
            "op": strings(ops),
            "service": strings(service),
            "start_ms": pa.array(start[keep], pa.float64()),
            "latency_ms": pa.array((end - start)[keep], pa.float64()),
            "status": strings(cols.status),
            "cost_usd": pa.nulls(m, pa.float64()),
            "cpu_ms": pa.nulls(m, pa.float64()),
            "mem_mb": pa.nulls(m, pa.float64()),
            "bytes_in": pa.nulls(m, pa.float64()),
            "bytes_out": pa.nulls(m, pa.float64()),
            "cache_key": pa.nulls(m, pa.string()),
            "sample_rate": pa.nulls(m, pa.float64()),
            "source_file": pa.array(np.full(m, str(self.path), dtype=object), pa.string()),
            "source_line": pa.array(index[keep], pa.int64()),
            "span_id": strings(cols.span_id),
            "parent_span_id": strings(cols.parent),
            "attempt": ints(cols.attempt),
            "items": ints(cols.items),
        }
        schema = pa.schema([*SPAN_SCHEMA, *CALL_SCHEMA])
        table = pa.table([arrays[f.name] for f in schema], schema=schema)
        if self.in_progress:
            shown = ", ".join(repr(r) for r in self.in_progress[:3]) + (" ..." if len(self.in_progress) > 3 else "")
            self.notes.append(
                f"{counted(len(self.in_progress), f'{engine} run')} still in progress counted and left out ({shown})"
            )
        self.notes.extend(self.name_notes())
        if self.counts["steps_skipped"]:
            skipped = counted(self.counts["steps_skipped"], "skipped or omitted step")
            self.notes.append(f"{skipped} did not run: not spans")
        if self.counts["steps_unfinished"]:
            self.notes.append(
                f"{counted(self.counts['steps_unfinished'], 'step')} of finished runs had not finished (no end time): "
                "left out"
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


#: the fields :meth:`Rows.add` keeps of a span
_FIELDS = 10


class _Columns:
    """The spans' fields of a :class:`Rows` as columns (lists), in the order :meth:`Rows.add` takes them."""

    def __init__(self, fields: list[Any]) -> None:
        cols = [fields[k::_FIELDS] for k in range(_FIELDS)]
        self.request, self.op, self.service, self.start, self.end, self.status = cols[:6]
        self.span_id, self.parent, self.attempt, self.items = cols[6:]


def time_ms(value: Any) -> float:
    """Epoch milliseconds of one time as an engine wrote it, NaN where missing or unreadable: the rule
    :func:`times_ms` applies to every value.

    RFC 3339 text (read by ``pandas.to_datetime(..., format="ISO8601", utc=True)``), an epoch number
    (seconds, as the Step Functions API and boto3 give them, or milliseconds when larger than
    10**11), a ``datetime`` (YAML's unquoted timestamps; naive ones are UTC). Anything else (``null``,
    a boolean, an object, a list, a date without a time, a number beyond a double) has no time.

    >>> time_ms("2018-08-01T10:22:43+02:00"), time_ms(1.5), time_ms(1_600_000_000_000), time_ms(True)
    (1533111763000.0, 1500.0, 1600000000000.0, nan)
    """
    if isinstance(value, str):
        return float(_texts_ms(pd.Series([value], dtype=object))[0])
    if isinstance(value, bool) or value is None:
        return np.nan
    if isinstance(value, (int, float)):
        try:
            f = float(value)
        except OverflowError:  # an integer beyond a double
            return np.nan
        return f if abs(f) > 1e11 else f * 1000.0
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).timestamp() * 1000.0
    return np.nan


#: the exact types :func:`times_ms` sorts by their type alone: text, numbers, no time
_TEXT, _NUMBER, _NONE, _OTHER = 0, 1, 2, 3
_KINDS: dict[type, int] = {str: _TEXT, int: _NUMBER, float: _NUMBER, type(None): _NONE, bool: _NONE}


def times_ms(values: Sequence[Any]) -> np.ndarray:
    """:func:`time_ms` of every value, vectorised: NaN where missing or unreadable.

    The values are sorted by their exact type (one C-level pass); all the text is parsed by one
    ``pandas.to_datetime`` call, all the numbers converted by one numpy cast; only values of other
    types (``datetime``, rare: YAML's unquoted timestamps; objects, lists) go through
    :func:`time_ms` one at a time.

    >>> times_ms(["1970-01-01T00:00:01Z", "2018-08-01T10:22:43+02:00", 1.5, 1_600_000_000_000, None, "x"]).tolist()
    [1000.0, 1533111763000.0, 1500.0, 1600000000000.0, nan, nan]
    """
    n = len(values)
    out = np.full(n, np.nan)
    if not n:
        return out
    kind = np.fromiter(map(_KINDS.get, map(type, values), repeat(_OTHER)), np.int8, n)
    objects = np.fromiter(values, dtype=object, count=n)  # (not np.asarray: lists stay items)
    at = np.flatnonzero(kind == _TEXT)
    if len(at):
        out[at] = _texts_ms(pd.Series(objects[at], dtype=object))
    at = np.flatnonzero(kind == _NUMBER)
    if len(at):
        try:
            f = objects[at].astype(np.float64)
        except OverflowError:  # an integer beyond a double: no time (one value at a time)
            f = np.fromiter(map(_number, objects[at]), np.float64, len(at))
        with np.errstate(over="ignore", invalid="ignore"):  # (f * 1000 overflows only where f itself is kept)
            out[at] = np.where(np.abs(f) > 1e11, f, f * 1000.0)
    at = np.flatnonzero(kind == _OTHER)
    if len(at):
        out[at] = np.fromiter(map(time_ms, objects[at]), np.float64, len(at))
    return out


def _number(v: int | float) -> float:
    try:
        return float(v)
    except OverflowError:
        return np.nan


def _texts_ms(texts: pd.Series) -> np.ndarray:
    """RFC 3339 text as epoch milliseconds (NaN where pandas reads no time), parsed together."""
    parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    us = parsed.to_numpy(dtype="datetime64[us]").astype(np.int64)  # exact in float64, unlike ns
    return np.where(parsed.isna().to_numpy(), np.nan, us.astype(float) / 1e3)


__all__ = ["COUNT_KEYS", "ERROR", "OK", "Rows", "documents", "items", "obj", "text", "time_ms", "times_ms"]
