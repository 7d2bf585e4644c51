"""OTLP JSON ingest against the native JSONL path, per span, on the same generated traffic.

Generates (once, cached in benchmarks/data/, git-ignored) about N spans with
``recipemut.loggen.generate_spans`` over a 40-operation synthetic recipe, writes them as native
JSONL and as OTLP JSON the way the OpenTelemetry Collector's file exporter writes it (one
``ExportTraceServiceRequest`` per line, ~7,500 spans per export batch, spans grouped by service
into ``resourceSpans``; the first span of each request is the parent of the others; cache key,
bytes, cost and cpu as span attributes read through a mapping file), then times in one run:

* native: ``ingest.read_logs(native.jsonl, recipe=...)``;
* OTLP:   ``ingest.read_logs(otlp.json, recipe=..., mapping=...)`` (auto-detected), read by msgspec
  (``recipemut.logs.otlp``, the default install) and, when numba is installed (the ``fast-otlp``
  extra), by the compiled scanner too (``recipemut.logs.otlpfast``): each pair ratio is taken
  against the native run just before it;
* OTLP, ``--document``: the raw frame of each reader alone (no normalisation), for reference.

Wall time on a shared machine drifts by up to half from one minute to the next, for the two readers
alike, so the figure to read is the **median of back-to-back pair ratios** (OTLP run right after
native), printed with a bootstrap 95% interval; ``--repeat 30`` makes that interval about ±0.05.

``--callgrind`` counts instead the instructions each reader executes (``valgrind --tool=callgrind``,
every thread counted, one process per reader, minus a process that only imports and loads the
recipe): the same figure on every run whatever else the machine does, though blind to memory
stalls and to how well the two cores are used. Use it with ``--spans 200000`` (each reader takes a
few minutes under valgrind).

``--fresh N`` adds N pairs of runs each in a new process: the wall time of ``read_logs`` on first use,
which for OTLP includes loading the compiled scanner when installed (about half a second), as one
CLI run pays it.

``--duckdb N`` (needs ``pip install duckdb``; not a dependency) times N pairs of native ``read_logs``
and DuckDB's part of a DuckDB reader on 2 threads: the file's lines as an arrow string table (one row
a line, no copy), ``from_json`` of each line into the OTLP structure, ``unnest`` of resourceSpans ->
scopeSpans -> spans, the span columns and attribute lists out as an arrow table. Shaping those
columns, normalisation and ingest's checks would come on top: the figure is a floor for such a reader.

Usage: ``.venv/bin/python benchmarks/bench_otlp.py [--spans 1000000] [--repeat 30] [--fresh 10] [--callgrind]``
or ``[--duckdb 6]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.json as pj

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recipemut import loggen  # noqa: E402
from recipemut.logs import ingest, otlp, otlpfast  # noqa: E402
from recipemut.logs import traces as formats  # noqa: E402
from recipemut.logs.common import DEFAULT_ATTRIBUTES, read_bytes  # noqa: E402
from recipemut.logs.normalise import normalise  # noqa: E402
from recipemut.recipe.model import recipe_from_dict  # noqa: E402

DATA = HERE / "data"
SPANS_PER_REQUEST = 37.6  # what loggen's synthetic 40-op recipe gives on average
MAPPING = """apiVersion: recipemut/v1
kind: SpanMapping
attributes:
  cache_key: app.cache_key
  bytes_in: app.bytes_in
  bytes_out: app.bytes_out
  cost_usd: app.cost_usd
  cpu_ms: app.cpu_ms
"""


def _attr(key: str, kind: str, values: pd.Series) -> pd.Series:
    """One attribute's JSON text per span ('' where the value is null)."""
    if kind == "intValue":
        text = '{"intValue":"' + values.round().astype("Int64").astype(str) + '"}'
    elif kind == "doubleValue":
        text = '{"doubleValue":' + values.astype(str) + "}"
    else:
        text = '{"stringValue":"' + values.astype(str) + '"}'
    return ('{"key":"' + key + '","value":' + text + "}").where(values.notna(), "")


def write_otlp(df: pd.DataFrame, path: Path, batch_requests: int = 200) -> None:
    """The span table as Collector-style OTLP JSON lines (vectorised string building)."""
    req_codes, _ = pd.factorize(df["request_id"])
    order = np.arange(len(df))
    first = pd.Series(order).groupby(req_codes).transform("first").to_numpy()
    trace = pd.Series(req_codes).map("{:032x}".format)
    span_id = pd.Series(order).map("{:016x}".format)
    parent = pd.Series(np.where(first == order, "", ',"parentSpanId":"' + span_id.to_numpy()[first] + '"'))
    start_us = np.round(df["start_ms"].to_numpy() * 1000).astype(np.int64)
    end_us = start_us + np.round(df["latency_ms"].to_numpy() * 1000).astype(np.int64)
    attrs = [
        _attr("app.cache_key", "stringValue", df["cache_key"]),
        _attr("app.bytes_in", "intValue", df["bytes_in"]),
        _attr("app.bytes_out", "intValue", df["bytes_out"]),
        _attr("app.cost_usd", "doubleValue", df["cost_usd"]),
        _attr("app.cpu_ms", "doubleValue", df["cpu_ms"]),
    ]
    attr_text = attrs[0]
    for a in attrs[1:]:
        attr_text = attr_text + np.where((attr_text != "") & (a != ""), ",", "") + a
    status = pd.Series(np.where(df["status"].to_numpy() == "error", '{"code":2}', "{}"))
    span = (
        '{"traceId":"'
        + trace
        + '","spanId":"'
        + span_id
        + '"'
        + parent
        + ',"name":"'
        + df["op"].reset_index(drop=True)
        + '","kind":2,"startTimeUnixNano":"'
        + pd.Series(start_us).astype(str)
        + '000","endTimeUnixNano":"'
        + pd.Series(end_us).astype(str)
        + '000","attributes":['
        + attr_text.reset_index(drop=True)
        + '],"status":'
        + status
        + "}"
    )
    frame = pd.DataFrame({"batch": req_codes // batch_requests, "service": df["service"].to_numpy(), "span": span})
    groups = frame.groupby(["batch", "service"], sort=True)["span"].agg(",".join).reset_index()
    groups["rs"] = (
        '{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"'
        + groups["service"]
        + '"}}]},"scopeSpans":[{"scope":{"name":"recipemut.bench"},"spans":['
        + groups["span"]
        + "]}]}"
    )
    lines = groups.groupby("batch", sort=True)["rs"].agg(",".join)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for text in lines:
            fh.write('{"resourceSpans":[' + text + "]}\n")
    os.replace(tmp, path)


def prepare(n_spans: int) -> tuple[object, Path, Path, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    recipe = recipe_from_dict(loggen.synthetic_recipe(40, seed=0))
    n_req = round(n_spans / SPANS_PER_REQUEST)
    native = DATA / f"otlp_bench_{n_req}.native.jsonl"
    otlp_path = DATA / f"otlp_bench_{n_req}.otlp.json"
    mapping = DATA / "otlp_bench_mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    if not (native.exists() and otlp_path.exists()):
        t = time.perf_counter()
        df = loggen.generate_spans(recipe, n_req, seed=11)
        loggen.write_jsonl(df, native)
        write_otlp(df, otlp_path)
        print(f"generated {len(df):,} spans ({n_req:,} requests) in {time.perf_counter() - t:.1f} s")
    return recipe, native, otlp_path, mapping


def median_interval(ratios: list[float], rounds: int = 10_000) -> tuple[float, float]:
    """Bootstrap 95% interval of the median of ``ratios``."""
    rng = np.random.default_rng(0)
    x = np.asarray(ratios)
    meds = np.median(x[rng.integers(0, len(x), size=(rounds, len(x)))], axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return float(lo), float(hi)


def one_read(which: str, recipe: object, native: Path, otlp_path: Path, mapping: Path) -> None:
    """What one process runs under callgrind or ``--fresh``: nothing more (``none``), or one reader
    once; prints the reader's wall time (first use in the process: the compiled scanner's load
    included)."""
    m = formats.load_mapping(mapping)
    t = time.perf_counter()
    if which == "native":
        ingest.read_logs(native, recipe=recipe)  # type: ignore[arg-type]
    elif which == "otlp":
        ingest.read_logs(otlp_path, recipe=recipe, mapping=m)  # type: ignore[arg-type]
    print(f"elapsed {time.perf_counter() - t:.4f}")


def fresh_pairs(n_spans: int, pairs: int) -> None:
    """Each reader once per new process, alternating: what one CLI run pays, loads included."""
    ratios: list[float] = []
    walls: dict[str, list[float]] = {"native": [], "otlp": []}
    for _ in range(pairs):
        for which in ("native", "otlp"):
            cmd = [sys.executable, __file__, "--spans", str(n_spans), "--one", which]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            found = re.search(r"elapsed ([0-9.]+)", out)
            if found is None:
                sys.exit(f"no time in the reader's output:\n{out[-2000:]}")
            walls[which].append(float(found.group(1)))
        ratios.append(walls["otlp"][-1] / walls["native"][-1])
    print(
        f"fresh processes ({pairs} pairs): native median {np.median(walls['native']):.2f} s,"
        f" OTLP median {np.median(walls['otlp']):.2f} s, median pair ratio {np.median(ratios):.2f} x"
        f" (range {min(ratios):.2f}-{max(ratios):.2f})"
    )


def count_instructions(n_spans: int) -> None:
    """Instructions of each reader, under ``valgrind --tool=callgrind`` (see the module doc)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        sys.exit("--callgrind needs valgrind on PATH (Debian: apt-get install valgrind)")
    got: dict[str, int] = {}
    for which in ("none", "native", "otlp"):
        cmd = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
        cmd += ["--spans", str(n_spans), "--one", which]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            sys.exit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
        got[which] = int(found.group(1))
        print(f"{which:7s} {got[which]:>16,d} instructions", flush=True)
    nat, otl = got["native"] - got["none"], got["otlp"] - got["none"]
    print(f"read_logs alone: native {nat:,d}, OTLP {otl:,d}")
    print(f"OTLP / native instructions per span  {otl / nat:.2f} x   (target <= 2.0)")


#: the OTLP fields a span table needs, as ``from_json`` structure (attribute values by member)
_DUCK_VALUE = {"stringValue": "VARCHAR", "intValue": "VARCHAR", "doubleValue": "DOUBLE", "boolValue": "BOOLEAN"}
_DUCK_VALUE |= {"arrayValue": "JSON", "kvlistValue": "JSON", "bytesValue": "VARCHAR"}
_DUCK_KV = [{"key": "VARCHAR", "value": _DUCK_VALUE}]
_DUCK_SPAN: dict[str, object] = {k: "VARCHAR" for k in ("traceId", "spanId", "parentSpanId", "name", "traceState")}
_DUCK_SPAN |= {"startTimeUnixNano": "VARCHAR", "endTimeUnixNano": "VARCHAR", "kind": "BIGINT"}
_DUCK_SPAN |= {"attributes": _DUCK_KV, "status": {"code": "BIGINT"}}
_DUCK_SCOPES = [{"spans": [_DUCK_SPAN]}]
_DUCK_DOC = {"resourceSpans": [{"resource": {"attributes": _DUCK_KV}, "scopeSpans": _DUCK_SCOPES}]}
_DUCK_QUERY = f"""
WITH docs AS (SELECT from_json(j, '{json.dumps(_DUCK_DOC)}') AS d FROM lines),
rs AS (SELECT unnest(d.resourceSpans) AS r FROM docs),
sc AS (SELECT list_filter(r.resource.attributes, lambda a: a.key = 'service.name')[-1].value.stringValue AS service,
              unnest(r.scopeSpans) AS c FROM rs),
sp AS (SELECT service, unnest(c.spans) AS s FROM sc)
SELECT service, s.traceId, s.spanId, s.parentSpanId, s.name, s.kind, s.startTimeUnixNano, s.endTimeUnixNano,
       s.status.code, s.attributes FROM sp
"""


def duckdb_pairs(recipe: object, native: Path, otlp_path: Path, pairs: int) -> None:
    """Native ``read_logs`` against DuckDB's parse + unnest of the OTLP file, alternating (see the module doc)."""
    try:
        import duckdb
    except ImportError:
        sys.exit("--duckdb needs duckdb: .venv/bin/pip install duckdb")
    import pyarrow as pa

    def lines() -> pa.Table:
        """One row per line, the rows viewing the mapped file; batches of ~2 MiB so both threads get work."""
        buf = pa.memory_map(str(otlp_path), "r").read_buffer()
        a = np.frombuffer(buf, dtype=np.uint8)
        step = 1 << 22
        nl = np.concatenate([np.flatnonzero(a[i : i + step] == 10) + i for i in range(0, a.size, step)])
        starts = np.concatenate([[0], nl + 1])
        starts = starts[starts < a.size]
        offsets = np.append(starts, a.size).astype(np.int64)
        col = pa.Array.from_buffers(pa.large_string(), len(starts), [None, pa.py_buffer(offsets), buf])
        cut = np.flatnonzero(np.diff(np.cumsum(np.diff(offsets)) >> 21)) + 1
        bounds = [0, *cut.tolist(), len(starts)]
        return pa.Table.from_batches(
            [pa.RecordBatch.from_arrays([col.slice(b, e - b)], ["j"]) for b, e in itertools.pairwise(bounds) if e > b]
        )

    walls: dict[str, list[float]] = {"native": [], "duckdb": []}
    cpus: dict[str, list[float]] = {"native": [], "duckdb": []}
    rows = 0
    for _ in range(pairs):
        t, c = time.perf_counter(), time.process_time()
        ingest.read_logs(native, recipe=recipe)  # type: ignore[arg-type]
        walls["native"].append(time.perf_counter() - t)
        cpus["native"].append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        con = duckdb.connect(config={"threads": 2})
        con.register("lines", lines())
        rows = con.sql(_DUCK_QUERY).to_arrow_table().num_rows
        con.close()
        walls["duckdb"].append(time.perf_counter() - t)
        cpus["duckdb"].append(time.process_time() - c)
    ratios = np.asarray(walls["duckdb"]) / np.asarray(walls["native"])
    cpu_ratios = np.asarray(cpus["duckdb"]) / np.asarray(cpus["native"])
    print(f"duckdb {duckdb.__version__}, 2 threads, {pairs} pairs, {rows:,} spans out")
    for name in ("native", "duckdb"):
        what = "read_logs" if name == "native" else "lines + from_json + unnest -> arrow"
        print(
            f"  {name:7s} {what:38s} best {min(walls[name]):.2f} s wall, median {np.median(walls[name]):.2f} s wall,"
            f" {np.median(cpus[name]):.2f} s cpu"
        )
    print(
        f"  duckdb / native: median pair {np.median(ratios):.2f} x wall (range {ratios.min():.2f}-{ratios.max():.2f}),"
        f" {np.median(cpu_ratios):.2f} x cpu; best of each {min(walls['duckdb']) / min(walls['native']):.2f} x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="alternating pairs of runs (30 for a tight interval)")
    ap.add_argument("--document", action="store_true", help="also time the msgspec frame plus normalisation")
    ap.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead of timing")
    ap.add_argument("--fresh", type=int, default=0, help="also N pairs of runs each in a new process (loads included)")
    ap.add_argument("--duckdb", type=int, default=0, help="only N pairs: native against DuckDB's parse + unnest")
    ap.add_argument("--one", choices=("none", "native", "otlp"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    recipe, native, otlp_path, mapping = prepare(args.spans)
    if args.one:
        one_read(args.one, recipe, native, otlp_path, mapping)
        return
    if args.callgrind:
        count_instructions(args.spans)
        return
    if args.duckdb:
        duckdb_pairs(recipe, native, otlp_path, args.duckdb)
        return
    m = formats.load_mapping(mapping)
    attrs = (*DEFAULT_ATTRIBUTES, *m.attributes())

    scanner = otlpfast.available()
    t_nat = t_otlp = t_raw = t_msg = t_msg_raw = t_pj_nat = t_pj_otlp = float("inf")
    cpu_msg: list[float] = []
    ratios_msg: list[float] = []
    cpu_nat: list[float] = []
    cpu_otlp: list[float] = []
    wall_nat: list[float] = []
    wall_otlp: list[float] = []
    ratios: list[float] = []
    df_nat = df_otlp = None
    rep = None
    for _ in range(args.repeat):  # alternate, so that load from other processes hits both alike
        t, c = time.perf_counter(), time.process_time()
        df_nat, _ = ingest.read_logs(native, recipe=recipe)
        wall_nat.append(time.perf_counter() - t)
        cpu_nat.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        df_otlp, rep = ingest.read_logs(otlp_path, recipe=recipe, mapping=m)
        wall_otlp.append(time.perf_counter() - t)
        cpu_otlp.append(time.process_time() - c)
        ratios.append(wall_otlp[-1] / wall_nat[-1])  # one pair, run back to back: the same load on both
        t_nat, t_otlp = min(wall_nat), min(wall_otlp)
        if scanner:  # the same read by msgspec, paired with the same native run
            scan_bytes, otlpfast.SCAN_BYTES = otlpfast.SCAN_BYTES, 1 << 62
            t, c = time.perf_counter(), time.process_time()
            ingest.read_logs(otlp_path, recipe=recipe, mapping=m)
            t_msg = min(t_msg, time.perf_counter() - t)
            cpu_msg.append(time.process_time() - c)
            ratios_msg.append((time.perf_counter() - t) / wall_nat[-1])
            otlpfast.SCAN_BYTES = scan_bytes
            t = time.perf_counter()
            otlpfast.parse_arrow(otlp_path, attrs)
            t_raw = min(t_raw, time.perf_counter() - t)
        t = time.perf_counter()
        otlp.parse_table(read_bytes(otlp_path), otlp_path, attrs)
        t_msg_raw = min(t_msg_raw, time.perf_counter() - t)
        t = time.perf_counter()
        pj.read_json(native)
        t_pj_nat = min(t_pj_nat, time.perf_counter() - t)
        t = time.perf_counter()
        pj.read_json(otlp_path, read_options=pj.ReadOptions(block_size=1 << 25))
        t_pj_otlp = min(t_pj_otlp, time.perf_counter() - t)
    assert df_nat is not None and df_otlp is not None and rep is not None
    n = len(df_nat)
    assert len(df_otlp) == n, (len(df_otlp), n)
    mb_nat, mb_otlp = native.stat().st_size / 1e6, otlp_path.stat().st_size / 1e6
    print(f"spans: {n:,}   native {mb_nat:,.0f} MB   OTLP {mb_otlp:,.0f} MB   best of {args.repeat}")
    print(f"native JSONL read_logs            {t_nat:7.2f} s   {n / t_nat / 1e3:6.0f} k spans/s")
    reader = "scanner" if scanner else "msgspec"
    print(f"OTLP JSON    read_logs ({reader:7s})  {t_otlp:7.2f} s   {n / t_otlp / 1e3:6.0f} k spans/s")
    if scanner:
        print(f"OTLP JSON    read_logs (msgspec)  {t_msg:7.2f} s   {n / t_msg / 1e3:6.0f} k spans/s")
        print(f"  OTLP scanner: scan + assembly   {t_raw:7.2f} s")
    print(f"  OTLP msgspec: decode + columns  {t_msg_raw:7.2f} s")
    print(f"  bare pyarrow.json: native {t_pj_nat:.2f} s, OTLP {t_pj_otlp:.2f} s ({t_pj_otlp / t_pj_nat:.2f} x)")
    c_nat, c_otlp = float(np.median(cpu_nat)), float(np.median(cpu_otlp))
    cpu_line = f"CPU time (all threads, median): native {c_nat:.2f} s, OTLP {reader} {c_otlp:.2f} s"
    print(f"{cpu_line} ({c_otlp / c_nat:.2f} x)")
    if scanner:
        c_msg = float(np.median(cpu_msg))
        print(f"                                OTLP msgspec {c_msg:.2f} s ({c_msg / c_nat:.2f} x)")
    pairs = [(reader, t_otlp, ratios)] + ([("msgspec", t_msg, ratios_msg)] if scanner else [])
    for name, best, rs in pairs:
        med = float(np.median(rs))
        lo, hi = median_interval(rs)
        print(f"OTLP ({name}) / native per span  {best / t_nat:7.2f} x wall, best of each   (target <= 1.5)")
        print(
            f"                                  {med:7.2f} x wall, median of the {len(rs)} back-to-back pairs"
            f" (95% interval {lo:.2f}-{hi:.2f}; {np.mean(np.asarray(rs) <= 1.5):.0%} of pairs <= 1.5)"
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    same = np.allclose(
        np.sort(df_nat["latency_ms"].to_numpy()), np.sort(df_otlp["latency_ms"].to_numpy()), atol=1e-6
    ) and set(df_nat["op"]) == set(df_otlp["op"])
    print(f"same spans, ops and latencies: {same}   format: {next(iter(rep.formats.values()))}")
    if args.document:
        t = time.perf_counter()
        raw = otlp.parse(read_bytes(otlp_path), otlp_path, attrs)
        normalise(raw, path=otlp_path, fmt="otlp", recipe=recipe, mapping=m)  # type: ignore[arg-type]
        t_doc = time.perf_counter() - t
        print(
            f"OTLP msgspec parse + normalise    {t_doc:7.2f} s   {n / t_doc / 1e3:6.0f} k spans/s"
            f"  {t_doc / t_nat:.2f} x"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")
    if args.fresh:
        fresh_pairs(args.spans, args.fresh)


if __name__ == "__main__":
    main()
