"""Checks on span lines and parsed spans: what is rejected, and the reason code it is counted under.

:func:`classify_line` says why one line is not a span (run by ``json`` on lines the columnar parser
refused); :func:`check_spans` checks every parsed span at once (vectorised: aggregates first, per-row
masks only when they fail) against the bounds below, and tallies the rejections by reason
(:data:`recipemut.logs.report.REASONS`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.logs.jsonerrors import json_error, parse_int
from recipemut.logs.report import MAX_EXAMPLES, Rejects, iso_ms
from recipemut.logs.spans import PARSE_SCHEMA, REQUIRED, STATUSES, STRING_COLS, VALUE_COLS

#: the largest ``|start_ms|`` and ``latency_ms`` taken: 2**62 ns (about 146 years), so that every span's
#: start and end are dates (pandas holds 1677..2262); a start in nanoseconds or microseconds is beyond it
MAX_MS = 2.0**62 / 1e6
#: the longest latency taken: 30 days (a span longer than that is not a latency measurement)
MAX_LATENCY_MS = 30 * 86_400_000.0
#: ``start_ms`` values this far from 1970, and no further, are seconds written where milliseconds belong
#: (as milliseconds they fall between 1970-01-02 and 1973-03-03; as seconds between 1973 and 5138)
SECONDS_BAND = (1e8, 1e11)
#: the largest value taken per call of each optional number (beyond it, sums over millions of spans
#: could overflow): a million dollars, a trillion CPU milliseconds (31 CPU-years), a petabyte
MAX_VALUES: Mapping[str, float] = MappingProxyType(
    {"cost_usd": 1e6, "cpu_ms": 1e12, "mem_mb": 1e9, "bytes_in": 1e15, "bytes_out": 1e15}
)
#: the least ``sample_rate`` taken: one request kept in a billion. A span counts ``1 / sample_rate``
#: requests, so a tinier rate (``1e-320``, a denormal) overflowed that weight to infinity (``mean_rps:
#: null``, a forecast of 1e+12 req/s) or gave hundreds of millions of replicas; no tracer keeps fewer
MIN_SAMPLE_RATE = 1e-9


def rate_too_small(value: float) -> str:
    """The words for a sample rate in (0, 1] below :data:`MIN_SAMPLE_RATE`: a log's and ``--sample-rate``'s.

    >>> rate_too_small(1e-320)
    '1e-320 is below 1e-09, the least sample rate taken (one request kept in a billion)'
    """
    return f"{value!r} is below {MIN_SAMPLE_RATE:g}, the least sample rate taken (one request kept in a billion)"


#: the integer columns of a call and their least value: attempts count from 1, items from 0
CALL_COUNTS: Mapping[str, int] = MappingProxyType({"attempt": 1, "items": 0})


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _json_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def classify_line(raw: bytes, parser_message: str = "") -> tuple[str, str]:
    """Why one line is not a span: ``(reason code, message)``. Used on lines the parser refused.

    >>> classify_line(b'{"request_id": 1, "op": "a", "start_ms": 0, "latency_ms": 1, "status": "ok"}')
    ('wrong-type', 'request_id: expected string, got number (1)')
    >>> classify_line(b'{"status": 200, "path": "/"}')
    ('missing-key', 'missing or empty required keys request_id, op, start_ms, latency_ms')
    >>> classify_line(b'{"op": "a"')[0]
    'malformed-json'
    """
    return line_problem(raw) or (
        "malformed-json",
        f"rejected by the JSON parser ({parser_message or 'unknown reason'})",
    )


def line_problem(raw: bytes) -> tuple[str, str] | None:
    """What :func:`classify_line` finds wrong with a line with ``json``, or ``None`` when ``json`` reads
    it as an object whose keys have the types the span columns take.

    >>> span = b'{"request_id": "r", "op": "a", "start_ms": 0, "latency_ms": 2, "status": "ok"}'
    >>> line_problem(span) is None, line_problem(b"[1]")[0], line_problem(b'{"op": "a"}')[0]
    (True, 'not-an-object', 'missing-key')
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return "bad-encoding", f"invalid UTF-8 at byte {e.start + 1} of the line"
    try:
        obj = json.loads(text, object_pairs_hook=_no_dupes, parse_int=parse_int)
    except _DuplicateKey as e:
        return "malformed-json", f"duplicate key {e.key!r}"
    except json.JSONDecodeError as e:
        what, _, col = json_error(e)
        what = "more than one JSON value on the line" if e.msg == "Extra data" else what.replace("the text", "the line")
        return "malformed-json", f"not valid JSON at column {col}: {what}"
    except RecursionError:
        return "malformed-json", "not valid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return "not-an-object", f"a JSON {_json_kind(obj)} where a span object was expected"
    # missing keys first, as the table's checks order them: an access log's {"status": 200} lacks a span's
    # keys before its status has the wrong type
    missing = [k for k in REQUIRED if obj.get(k) is None or (k in STRING_COLS and obj[k] == "")]
    if missing:
        return "missing-key", "missing or empty required key" + ("s " if len(missing) > 1 else " ") + ", ".join(missing)
    for f in PARSE_SCHEMA:
        v = obj.get(f.name)
        if v is None:
            continue
        kind = _json_kind(v)
        want = "string" if f.name in STRING_COLS else "number"
        if kind != want:
            shown = json.dumps(v)[:40]
            return "wrong-type", f"{f.name}: expected {want}, got {kind} ({shown})"
        if want == "number" and not math.isfinite(v):
            code = {"latency_ms": "bad-latency", "start_ms": "bad-start"}.get(f.name, "bad-value")
            return code, f"{f.name} is out of range ({v})"
    return None


def _present(table: pa.Table, name: str) -> np.ndarray:
    """Rows where column ``name`` is not null (NaN is present)."""
    col = table.column(name)
    if col.null_count == 0:
        return np.ones(table.num_rows, bool)
    return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)


def _np(table: pa.Table, name: str) -> np.ndarray:
    col = table.column(name)
    return col.to_numpy() if col.null_count == 0 else col.fill_null(np.nan).to_numpy()


def _in_range(col: pa.ChunkedArray, lo: float, hi: float, *, lo_open: bool = False, nullable: bool = True) -> bool:
    """Every value finite and within [lo, hi] (or (lo, hi]), by aggregates only."""
    if col.null_count and not nullable:
        return False
    if col.null_count == len(col):
        return True
    # the sum is NaN or infinite when a value is (or when it overflows: then the per-row checks decide)
    if not math.isfinite(pc.sum(col).as_py()):
        return False
    # numpy's reductions are several times faster than arrow's min_max; nulls come out as NaN
    parts = [c.to_numpy(zero_copy_only=False) for c in col.chunks if c.null_count < len(c)]
    vmin = min(float(np.nanmin(x)) for x in parts)
    vmax = max(float(np.nanmax(x)) for x in parts)
    return bool((vmin > lo if lo_open else vmin >= lo) and vmax <= hi)


def _all_good(table: pa.Table) -> bool:
    """Cheap whole-table test (aggregates, no per-row masks): would :func:`check_spans` keep every row?"""
    for k in REQUIRED:
        col = table.column(k)
        if col.null_count:
            return False
        if k in STRING_COLS and len(col) and pc.min(pc.binary_length(col)).as_py() == 0:
            return False
    if not _in_range(table.column("latency_ms"), 0, MAX_LATENCY_MS):
        return False
    start = table.column("start_ms")
    if not _in_range(start, -MAX_MS, MAX_MS):
        return False
    lo, hi = SECONDS_BAND  # a start in seconds (rare): the per-row check names it
    if pc.any(pc.and_(pc.greater_equal(pc.abs(start), lo), pc.less(pc.abs(start), hi))).as_py():
        return False
    if not set(pc.unique(table.column("status")).to_pylist()) <= set(STATUSES):
        return False
    if not _in_range(table.column("sample_rate"), MIN_SAMPLE_RATE, 1):
        return False
    if not all(_in_range(table.column(c), 0, MAX_VALUES[c]) for c in VALUE_COLS):
        return False
    for name, lo in CALL_COUNTS.items():
        if not _in_range(table.column(name), lo, 2.0**53):
            return False
        col = table.column(name)
        if col.null_count < len(col) and not pc.all(pc.equal(col, pc.round(col))).as_py():
            return False
    versions = pc.unique(table.column("recipe_version")).drop_null().to_pylist()
    return all(math.isfinite(v) and v == round(v) and abs(v) <= 2.0**53 for v in versions)


def check_spans(table: pa.Table, lines: np.ndarray, rej: Rejects) -> np.ndarray:
    """Validate parsed spans; record rejections; return the mask of rows to keep."""
    n = table.num_rows
    if _all_good(table):
        return np.ones(n, bool)
    checks: list[tuple[str, np.ndarray, Callable[[int], str]]] = []

    missing_by_key = {}
    for k in REQUIRED:
        col = table.column(k)
        m = pc.is_null(col)
        if k in STRING_COLS:
            m = pc.or_(m, pc.equal(pc.utf8_length(pc.fill_null(col, "")), 0))
        missing_by_key[k] = m.to_numpy(zero_copy_only=False)
    missing = np.zeros(n, bool)
    for m in missing_by_key.values():
        missing |= m

    def missing_msg(r: int) -> str:
        keys = [k for k, m in missing_by_key.items() if m[r]]
        return "missing or empty required key" + ("s " if len(keys) > 1 else " ") + ", ".join(keys)

    checks.append(("missing-key", missing, missing_msg))

    ver = _np(table, "recipe_version")
    nan_ver = pc.fill_null(pc.is_nan(table.column("recipe_version")), False).to_numpy(zero_copy_only=False)
    bad_ver = nan_ver | (~np.isnan(ver) & ((ver != np.round(ver)) | (np.abs(ver) > 2.0**53)))  # NaN, not null
    checks.append(("wrong-type", bad_ver, lambda r: f"recipe_version: expected an integer, got {float(ver[r])!r}"))

    lat = _np(table, "latency_ms")
    bad_lat = ~missing & ~((lat >= 0) & (lat <= MAX_LATENCY_MS))  # NaN fails both

    def lat_msg(r: int) -> str:
        v = float(lat[r])
        return f"latency_ms is {v!r}" + (" (over 30 days)" if math.isfinite(v) and v > MAX_LATENCY_MS else "")

    checks.append(("bad-latency", bad_lat, lat_msg))

    start = _np(table, "start_ms")
    abs_start = np.abs(start)
    seconds = (abs_start >= SECONDS_BAND[0]) & (abs_start < SECONDS_BAND[1])
    bad_start = ~missing & (~(abs_start <= MAX_MS) | seconds)

    def start_msg(r: int) -> str:
        v = float(start[r])
        if not math.isfinite(v):
            return f"start_ms is {v!r}"
        if seconds[r]:
            return (
                f"start_ms is {v!r}: seconds, not epoch milliseconds ({iso_ms(v)} as milliseconds, "
                f"{iso_ms(v * 1000.0)} as seconds; write start_ms = seconds * 1000)"
            )
        return f"start_ms is {v!r}: not epoch milliseconds (beyond 146 years of 1970; nanoseconds or microseconds?)"

    checks.append(("bad-start", bad_start, start_msg))

    status_col = table.column("status")
    known = pc.fill_null(pc.is_in(status_col, value_set=pa.array(STATUSES)), False).to_numpy(zero_copy_only=False)
    bad_status = ~missing & ~known
    checks.append(
        (
            "unknown-status",
            bad_status,
            lambda r: f"status {status_col[r].as_py()!r} is not one of {', '.join(STATUSES)}",
        )
    )

    # a key written NaN (the parser takes the literal) is a value, and a bad one: only null is absent
    sr = _np(table, "sample_rate")
    bad_sr = _present(table, "sample_rate") & ~((sr >= MIN_SAMPLE_RATE) & (sr <= 1))

    def why_sr(r: int) -> str:
        v = float(sr[r])
        return f"sample_rate {rate_too_small(v) if 0 < v < MIN_SAMPLE_RATE else f'{v!r} is not a number in (0, 1]'}"

    checks.append(("bad-sample-rate", bad_sr, why_sr))

    values = {c: _np(table, c) for c in VALUE_COLS}
    bad_by_col = {c: _present(table, c) & ~((v >= 0) & (v <= MAX_VALUES[c])) for c, v in values.items()}
    bad_value = np.zeros(n, bool)
    for m in bad_by_col.values():
        bad_value |= m

    def value_msg(r: int) -> str:
        c = next(c for c, m in bad_by_col.items() if m[r])
        v = float(values[c][r])
        big = math.isfinite(v) and v > MAX_VALUES[c]
        return f"{c} is {v!r}" + (f" (over {MAX_VALUES[c]:g}, the most one call is taken to have)" if big else "")

    checks.append(("bad-value", bad_value, value_msg))

    counts = {c: _np(table, c) for c in CALL_COUNTS}
    bad_by_count = {
        c: _present(table, c) & ~((v >= CALL_COUNTS[c]) & (v <= 2.0**53) & (v == np.round(v)))
        for c, v in counts.items()
    }
    bad_count = np.zeros(n, bool)
    for m in bad_by_count.values():
        bad_count |= m

    def count_msg(r: int) -> str:
        c = next(c for c, m in bad_by_count.items() if m[r])
        return f"{c} is {float(counts[c][r])!r}: expected an integer, at least {CALL_COUNTS[c]}"

    checks.append(("bad-value", bad_count, count_msg))

    keep = np.ones(n, bool)
    for reason, mask, message in checks:
        mask = mask & keep  # one reason per line: the first that applies
        idx = np.flatnonzero(mask)
        if idx.size:
            for r in idx[:MAX_EXAMPLES]:
                rej.add(int(lines[r]), reason, message(int(r)))
            if idx.size > MAX_EXAMPLES:
                rej.count_more(reason, int(idx.size - MAX_EXAMPLES))
            keep &= ~mask
    return keep


__all__ = [
    "CALL_COUNTS",
    "MAX_LATENCY_MS",
    "MAX_MS",
    "MAX_VALUES",
    "MIN_SAMPLE_RATE",
    "SECONDS_BAND",
    "check_spans",
    "classify_line",
    "line_problem",
    "rate_too_small",
]
