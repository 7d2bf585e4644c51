"""OTLP JSON read by the compiled scanner of :mod:`.otlpscan` (the optional ``fast-otlp`` extra: numba).

:func:`read_raw` is what :mod:`.traces` calls: with numba installed, files of :data:`SCAN_BYTES`
or more go to :func:`parse_arrow`, which scans the bytes (no Python work per span; a Collector
file cut at line ends and scanned on every core) and builds the columns with numpy and arrow;
everything else, and whatever the scanner declines, is read by :func:`.otlp.read_raw` (msgspec).
Both give the same raw span frame (``tests/test_formats_otlp_fuzz.py`` checks it).
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib.util
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recipemut.errors import InputFileError
from recipemut.files.compressed import big_hole, packed_with
from recipemut.logs import otlp
from recipemut.logs.common import MAX_BYTES, raw_table, read_head
from recipemut.logs.lines import check_unchanged, pread_exact
from recipemut.logs.otlp import KIND_NAMES, KINDS, lower_like_python, scatter, str_to_float

log = logging.getLogger(__name__)


def available() -> bool:
    """Whether the compiled scanner can run here (numba is installed: ``pip install recipemut[fast-otlp]``)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except (ImportError, ValueError):  # (a module set to None in sys.modules: blocked)
        return False


#: a file at least this large is cut into parts scanned in parallel
PARALLEL_BYTES = 1 << 24
#: bounds of the size of one part (about four parts per CPU in between)
PART_BYTES = (1 << 23, 1 << 26)


def parse_arrow(path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pd.DataFrame | None:
    """The raw span frame read column-wise, or ``None`` when this file's shape is outside what the
    columnar path handles (the caller then uses :func:`parse`).

    Handles OTLP exports (one ``{"resourceSpans": [...]}`` per line or pretty-printed, gzip or
    plain) in any key order; see :mod:`.otlpscan` for what makes it decline. Attributes named in
    ``numeric`` come out as float64 columns (what normalisation would parse them into anyway).
    """
    table = parse_arrow_table(path, attributes, numeric)
    return None if table is None else table.to_pandas()


def parse_arrow_table(path: Path, attributes: Iterable[str], numeric: Iterable[str] = ()) -> pa.Table | None:
    """:func:`parse_arrow` as an arrow table (the raw columns, then ``attr:*``).

    :mod:`.otlpscan` walks the bytes once and keeps span fields and wanted attributes as records,
    their text copied into a buffer of its own; the columns are then assembled with numpy and arrow
    compute. A large file is cut at line ends into parts (see :data:`PART_BYTES`) scanned on as many
    threads as there are CPUs (the scan releases the GIL). When a cut falls inside a document
    (pretty-printed JSON), that part does not scan and the file is scanned in one piece.
    """
    if not available():
        return None
    keys = tuple(dict.fromkeys(attributes))
    try:
        data = _load(path)
    except (OSError, pa.ArrowInvalid) as e:
        log.debug("columnar OTLP read of %s: %s", path, e)
        return None
    if data is None:
        return None
    want = tuple(dict.fromkeys(("service.name", *keys, "peer.service")))
    buf = np.frombuffer(data, dtype=np.uint8)
    # read-only (the bytes read and gunzipped ones are writable): to numba a writable array is another
    # type, which would compile a second scanner beside the one _load_scanner loads
    buf.flags.writeable = False
    workers = os.cpu_count() or 1
    bounds = [(0, buf.size)]
    if buf.size >= PARALLEL_BYTES and workers > 1:
        bounds = _cut(data, min(max(buf.size // (4 * workers), PART_BYTES[0]), PART_BYTES[1]))
    spec = _Wanted(buf, want, keys, frozenset(numeric))
    _load_scanner()
    for attempt in (bounds, [(0, buf.size)]):
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(workers, len(attempt))) as pool:
            tables = list(pool.map(lambda b: _scan(spec, b[0], b[1]), attempt))
        failed = [t for t in tables if isinstance(t, str)]
        if not failed:
            return _renumber(pa.concat_tables(tables)) if len(tables) > 1 else tables[0]
        log.debug("columnar OTLP read of %s: %s", path, failed[0])
        if len(attempt) == 1:
            return None
    return None


@functools.cache
def _load_scanner() -> None:
    """Load the compiled scanner (from numba's cache; compiled on first use) once per process, on
    this thread: when the first parts' threads load it, each waits for the other's load (0.7 s
    lost per thread against 0.4 s for loading it here). The argument types are those of the real
    calls, so nothing else is compiled."""
    from recipemut.logs import otlpscan

    # the first use after installing compiles it: say so when loading takes a while
    slow = threading.Timer(SLOW_LOAD_S, log.warning, (SLOW_LOAD_NOTE,))
    slow.daemon = True
    slow.start()
    try:
        data = np.frombuffer(b'{"resourceSpans":[]}', dtype=np.uint8)
        wk = np.frombuffer(b"k", dtype=np.uint8)
        otlpscan.scan_part(data, 0, data.size, wk, np.array([0, 1], dtype=np.int64))
        none = np.zeros(1, dtype=np.int64)
        otlpscan.gather(data, np.zeros(1, dtype=np.uint8), none, none)
    finally:
        slow.cancel()


#: after this many seconds of loading the compiled scanner, :data:`SLOW_LOAD_NOTE` is logged
SLOW_LOAD_S = 3.0
SLOW_LOAD_NOTE = (
    "loading the compiled OTLP JSON scanner: the first use after installing or upgrading recipemut "
    "compiles it (20-30 s, once); later runs load it in under a second"
)


class _Wanted(NamedTuple):
    buf: np.ndarray  # the whole file's bytes
    want: tuple[str, ...]  # the keys the scan records: service.name, the attributes, peer.service
    keys: tuple[str, ...]  # the attribute columns
    numeric: frozenset[str]  # ... of them read as float64


def _scan(spec: _Wanted, begin: int, end: int) -> pa.Table | str:
    """``buf[begin:end]`` scanned and assembled into the raw span table, or why it could not be."""
    from recipemut.logs import otlpscan

    wk = np.frombuffer("".join(spec.want).encode("utf-8"), dtype=np.uint8)
    wo = np.cumsum([0, *(len(k.encode("utf-8")) for k in spec.want)], dtype=np.int64)
    code, pos, sp, at, ebuf, n_rs = otlpscan.scan_part(spec.buf, begin, end, wk, wo)
    if code != otlpscan.OK:
        return f"{otlpscan.REASONS[code]} in the export at byte {pos}"
    return _assemble(spec, sp, at, ebuf, n_rs)


def _renumber(table: pa.Table) -> pa.Table:
    """The ``index`` column as the 1-based position of each span in the whole file."""
    i = table.schema.get_field_index("index")
    return table.set_column(i, "index", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))


def _load(path: Path) -> pa.Buffer | None:
    """The file's content: read by :func:`_read_plain` when plain, decompressed by pyarrow's codec
    when gzip or zstd (told by the first bytes, :func:`recipemut.files.compressed.packed_with`),
    ``None`` beyond :data:`.common.MAX_BYTES` (the document reader then says the file is too large)."""
    kind = packed_with(path)
    if kind:
        with pa.input_stream(str(path), compression=kind) as stream:
            data = stream.read_buffer(MAX_BYTES + 1)
        return data if data.size <= MAX_BYTES else None
    return _read_plain(path)


#: bytes of a plain file read at a time
READ_BYTES = 16 << 20


def _read_plain(path: Path) -> pa.Buffer | None:
    """A plain file's bytes, read with ``pread`` from one open descriptor up to its size when opened,
    into a buffer of arrow's allocator (reading into a numpy array took 1.5-4x as long: its pages
    fault in one at a time); ``None`` beyond :data:`.common.MAX_BYTES`. Never memory-mapped: a mapped
    page past the end of a file cut while it is scanned (logrotate's ``copytruncate``) kills the
    process with SIGBUS, which Python cannot catch. A read that comes short, or a file found shorter after the read, is
    :func:`.lines.changed_while_read` (as the native reader's :class:`.lines.Snapshot` says it); a file
    appended to meanwhile is read as it was when opened. A hole of
    :data:`~recipemut.files.compressed.HOLE_BYTES` or more (a sparse file) is refused before any byte is
    read or allocated (:func:`~recipemut.files.compressed.big_hole`): no JSON holds a NUL. Errors name
    the file as the reader was given it (ingest puts a display name such as ``<stdin>`` in its place)."""
    name = str(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        if size > MAX_BYTES:
            return None
        if (hole := big_hole(fd, size)) is not None:  # allocated, a 600 MiB hole peaked at 3.96 GB
            raise InputFileError(f"cannot read: {hole}", file=name, code="unreadable")
        out = pa.allocate_buffer(size)
        view = memoryview(out)
        for pos in range(0, size, READ_BYTES):
            pread_exact(fd, view[pos : pos + READ_BYTES], pos, name, size)
        check_unchanged(fd, name, size)
        return out
    finally:
        os.close(fd)


def _cut(data: pa.Buffer, size: int) -> list[tuple[int, int]]:
    """``data`` cut after a newline about every ``size`` bytes: (begin, end) of each part."""
    n = data.size
    view = memoryview(data)
    parts: list[tuple[int, int]] = []
    begin = 0
    while n - begin > size + size // 2:
        probe = begin + size
        cut = -1
        while probe < n and cut < 0:
            chunk = bytes(view[probe : probe + (1 << 20)])
            i = chunk.find(b"\n")
            cut = probe + i + 1 if i >= 0 else -1
            probe += len(chunk)
        if cut < 0 or cut >= n:
            break
        parts.append((begin, cut))
        begin = cut
    parts.append((begin, n))
    return parts


def _strings(buf: np.ndarray, ebuf: np.ndarray, off: np.ndarray, ln: np.ndarray) -> pa.Array:
    """Strings given as offsets and lengths (see :mod:`.otlpscan`) as an arrow string array."""
    from recipemut.logs.otlpscan import gather

    offsets, data, valid = gather(buf, ebuf, off, ln)
    n = len(off)
    nulls = n - int(np.count_nonzero(valid))
    mask = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    if offsets[-1] < 1 << 31:
        return pa.Array.from_buffers(
            pa.string(), n, [mask, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)], null_count=nulls
        )
    big = pa.Array.from_buffers(
        pa.large_string(), n, [mask, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=nulls
    )
    return big


def _record_values(buf: np.ndarray, ebuf: np.ndarray, at: np.ndarray, rows: np.ndarray, as_float: bool) -> pa.Array:
    """The values of attribute records ``rows`` (of fields x records, see :mod:`.otlpscan`): as the text
    :func:`.common.attr_str` gives the document reader's value (strings as they are, integers in
    decimal, doubles as arrow writes them), or as float64 (null where not a number)."""
    from recipemut.logs import otlpscan as sc

    kind = at[sc.AT_KIND, rows]
    pieces: list[pa.Array] = []
    where = np.zeros(len(kind), dtype=np.int64)
    base = 0

    def text(r: np.ndarray) -> pa.Array:
        return _strings(buf, ebuf, at[sc.AT_TEXT, rows[r]], at[sc.AT_TEXT + 1, rows[r]])

    typ = pa.float64() if as_float else pa.string()
    groups: list[tuple[np.ndarray, Any]] = [
        # (unsafe: an integer beyond 2**53 rounds to the nearest double, as its text read as a number does)
        (np.flatnonzero(kind == sc.V_INT), lambda r: pc.cast(pa.array(at[sc.AT_INT, rows[r]]), typ, safe=False)),
        (
            np.flatnonzero(kind == sc.V_DOUBLE),
            lambda r: str_to_float(text(r)) if as_float else pc.cast(str_to_float(text(r)), typ),
        ),
        (
            np.flatnonzero((kind == sc.V_STRING) | (kind == sc.V_BYTES)),
            lambda r: str_to_float(text(r)) if as_float else text(r),
        ),
    ]
    for picked, make in groups:
        if len(picked):
            arr = make(picked)
            pieces.append(arr if arr.type == typ else arr.cast(typ))
            where[picked] = base + np.arange(len(picked))
            base += len(picked)
    for k, word in ((sc.V_TRUE, "true"), (sc.V_FALSE, "false"), (sc.V_NULL, None)):
        picked = np.flatnonzero(kind == k)
        if len(picked):
            pieces.append(pa.array([None if as_float else word], typ))
            where[picked] = base
            base += 1
    if not pieces:
        return pa.array([], typ)
    if len(pieces) == 1 and base == len(kind):
        return pieces[0]  # one kind of value: already in record order
    return pa.concat_arrays(pieces).take(pa.array(where))


def _assemble(spec: _Wanted, sp: np.ndarray, at: np.ndarray, ebuf: np.ndarray, n_rs: int) -> pa.Table:
    """The raw span table of one part from its span and attribute records (see :mod:`.otlpscan`)."""
    from recipemut.logs import otlpscan as sc

    buf, want, keys, numeric = spec
    n = sp.shape[1]

    def text(field: int) -> pa.Array:
        return _strings(buf, ebuf, sp[field], sp[field + 1])

    start_set = sp[sc.SP_START_SET] == 1
    start = np.where(start_set, sp[sc.SP_START], -1)
    s_ns, e_ns = sp[sc.SP_START], sp[sc.SP_END]
    with np.errstate(over="ignore"):
        d_ns = e_ns - s_ns  # wraps where the true difference is beyond int64: no duration there
    fits = ((e_ns ^ s_ns) & (e_ns ^ d_ns)) >= 0
    dur = np.where(start_set & (sp[sc.SP_END_SET] == 1) & fits, d_ns, -1)
    code = sp[sc.SP_KIND]
    names = pa.array([None, *KINDS.values()], pa.string())
    kind = names.take(pa.array(np.where((code >= 1) & (code <= 5), code, 0)))
    if (code == -2).any():  # kinds written as names: SPAN_KIND_SERVER -> server, others lower-cased
        k = text(sc.SP_KIND_TEXT)
        named = pa.array([None, *KIND_NAMES.values()], pa.string()).take(
            pc.fill_null(pc.add(pc.index_in(k, value_set=pa.array(list(KIND_NAMES), pa.string())), 1), 0)
        )
        lower = lower_like_python(k)
        by_name = pc.coalesce(named, pc.if_else(pc.equal(lower, ""), pa.scalar(None, pa.string()), lower))
        kind = pc.if_else(pa.array(code == -2), by_name, kind)
    parent = text(sc.SP_PARENT)
    parent = pc.if_else(pc.equal(parent, ""), pa.scalar(None, pa.string()), parent)

    # attribute records grouped by (key, on a resource): a few groups, each found once
    group = at[sc.AT_KEY] * 2 + at[sc.AT_ON_RESOURCE]
    if 2 * len(want) < 1 << 15:
        group = group.astype(np.int16)  # a stable sort of 16-bit integers is a radix sort
    order = np.argsort(group, kind="stable")  # file order inside a group: the last value wins
    bounds = np.searchsorted(group[order], np.arange(2 * len(want) + 1))
    owner = at[sc.AT_OWNER]

    def last_values(j: int, resource: bool, size: int, as_float: bool) -> tuple[Any, np.ndarray]:
        g = 2 * j + int(resource)
        rows = order[bounds[g] : bounds[g + 1]]
        if not len(rows):
            return pa.nulls(size, pa.float64() if as_float else pa.string()), np.zeros(size, dtype=bool)
        has = np.zeros(size, dtype=bool)
        has[owner[rows]] = True
        return scatter(size, owner[rows], _record_values(buf, ebuf, at, rows, as_float)), has

    rs_of_span = pa.array(sp[sc.SP_RS])
    service, _ = last_values(0, True, n_rs, False)
    peer, _ = last_values(want.index("peer.service"), False, n, False)
    columns: dict[str, Any] = {
        "trace_id": lower_like_python(pc.fill_null(text(sc.SP_TRACE), "")),
        "span_id": lower_like_python(pc.fill_null(text(sc.SP_SPAN), "")),
        "parent_id": lower_like_python(parent),
        "parent_trace_id": pa.nulls(n, pa.string()),
        "name": pc.fill_null(text(sc.SP_NAME), ""),
        "service": service.take(rs_of_span),
        "peer_service": peer,
        "kind": kind,
        "start_ns": pa.array(start),
        "dur_ns": pa.array(dur),
        "error": pa.array(sp[sc.SP_ERROR] == 1),
        "shared": pa.array(np.zeros(n, dtype=bool)),
        "foreign_ref": pa.array(np.zeros(n, dtype=bool)),
        "index": pa.array(np.arange(1, n + 1, dtype=np.int64)),
    }
    attributes: dict[str, Any] = {}
    for k in keys:
        j = want.index(k)
        as_float = k in numeric
        out, has = last_values(j, False, n, as_float)  # the span's own value, even a null one
        if k == "tracestate":
            ts = text(sc.SP_STATE)
            ts_ok = pc.fill_null(pc.not_equal(ts, ""), False).to_numpy(zero_copy_only=False)
            out = pc.if_else(pa.array(~has & ts_ok), str_to_float(ts) if as_float else ts, out)
            has = has | ts_ok
        res, res_has = last_values(j, True, n_rs, as_float)
        if res_has.any():
            out = pc.if_else(pa.array(~has & res_has[sp[sc.SP_RS]]), res.take(rs_of_span), out)
        attributes[k] = out
    return raw_table(columns, attributes)


#: files smaller than this (gzip: about 8x their size) are read by :mod:`.otlp`: below it,
#: loading the compiled scanner (about half a second; a one-time compile of 20-30 s on first use)
#: costs more than it saves (at 23.5 MB: 0.66-0.82 s with the scanner, 0.94-1.00 s without, in a new
#: process)
SCAN_BYTES = 16 << 20
#: what a compressed file's content is taken to weigh, times its size, against SCAN_BYTES
_RATIO = {"gzip": 8, "zstd": 15}


def read_raw(
    path: Path, attributes: Iterable[str], *, numeric: Iterable[str] = (), columnar: bool = True
) -> tuple[pd.DataFrame, str]:
    """The raw frame and which reader made it (``"columnar"``: the scanner, ``"msgspec"``: :mod:`.otlp`).

    The scanner is tried on files of at least :data:`SCAN_BYTES` that hold JSON objects, when it
    is installed (:func:`available`); anything it declines (a time that is not an integer, Jaeger's
    ``result`` wrapper, ...) goes to :func:`.otlp.read_raw`.
    """
    if columnar and available():
        head = read_head(path, 4096)
        # what the content weighs: span exports gzip about 8 times, zstd about 15 (logs/sample.py)
        size = path.stat().st_size * _RATIO.get(packed_with(path), 1)
        if size >= SCAN_BYTES and head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            fast = parse_arrow(path, attributes, numeric)
            if fast is not None:
                return fast, "columnar"
    return otlp.read_raw(path, attributes, numeric=numeric), "msgspec"
