"""OTLP JSON ingest against the native JSONL path, per span, on the same generated traffic.

Generates (once, cached in benchmarks/data/, git-ignored) about N spans with
``recipemut.loggen.generate_spans`` over a 40-operation synthetic recipe, writes them as native
JSONL and as OTLP JSON the way the OpenTelemetry Collector's file exporter writes it (one
``ExportTraceServiceRequest`` per line, ~7,500 spans per export batch, spans grouped by service
into ``resourceSpans``; the first span of each request is the parent of the others; cache key,
bytes, cost and cpu as span attributes read through a mapping file), then times in one run:

* native: ``ingest.read_logs(native.jsonl, recipe=...)``;
* OTLP:   ``ingest.read_logs(otlp.json, recipe=..., mapping=...)`` (auto-detected; columnar reader);
* OTLP, document reader only: ``formats.otlp.parse`` (stdlib json) + normalisation, for reference.

Usage: ``.venv/bin/python benchmarks/bench_otlp.py [--spans 1000000] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.json as pj

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recipemut import formats, ingest, loggen  # noqa: E402
from recipemut.formats import otlp  # noqa: E402
from recipemut.formats.common import DEFAULT_ATTRIBUTES, read_bytes  # noqa: E402
from recipemut.formats.normalise import normalise  # noqa: E402
from recipemut.model import recipe_from_dict  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="alternating runs of each path; the best is kept")
    ap.add_argument("--document", action="store_true", help="also time the stdlib-json document reader")
    args = ap.parse_args()
    recipe, native, otlp_path, mapping = prepare(args.spans)
    m = formats.load_mapping(mapping)
    attrs = (*DEFAULT_ATTRIBUTES, *m.attributes())

    t_nat = t_otlp = t_raw = t_pj_nat = t_pj_otlp = float("inf")
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
        t = time.perf_counter()
        otlp.parse_arrow(otlp_path, attrs)
        t_raw = min(t_raw, time.perf_counter() - t)
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
    print(f"OTLP JSON    read_logs            {t_otlp:7.2f} s   {n / t_otlp / 1e3:6.0f} k spans/s")
    print(f"  OTLP columnar parse + flatten   {t_raw:7.2f} s")
    print(f"  bare pyarrow.json: native {t_pj_nat:.2f} s, OTLP {t_pj_otlp:.2f} s ({t_pj_otlp / t_pj_nat:.2f} x)")
    c_nat, c_otlp = float(np.median(cpu_nat)), float(np.median(cpu_otlp))
    print(f"CPU time (all threads, median): native {c_nat:.2f} s, OTLP {c_otlp:.2f} s ({c_otlp / c_nat:.2f} x)")
    print(f"OTLP / native time per span       {t_otlp / t_nat:7.2f} x wall, best of each   (target <= 2.0)")
    med = float(np.median(ratios))
    print(f"                                  {med:7.2f} x wall, median of the back-to-back pairs")
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
            f"OTLP document reader (json)       {t_doc:7.2f} s   {n / t_doc / 1e3:6.0f} k spans/s"
            f"  {t_doc / t_nat:.2f} x"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
