"""Trace-file readers before and after their columnar rewrite, per reader, on the checkout traffic.

For each ``--reader`` (``jaeger``, ``zipkin``; a reader is one entry of :data:`READERS`) and each
request count (``--requests``, default 7,000 and 70,000: about 101 k and 1.01 M spans), generates once
(cached in ``benchmarks/data/trace_readers/``, git-ignored) the checkout recipe's traffic with
``recipemut.loggen.generate_spans`` and its ``loggen.yaml``, written in the reader's format the way
the audit's ``mktraces.py`` wrote it (Jaeger: one query-API document ``{"data": [trace, ...]}``,
each trace with its ``processes``; the first span of a request is the parent of the others through
a ``CHILD_OF`` reference; cache key, bytes, cost and cpu as span tags read through a mapping file;
``error=true`` on failed calls; Zipkin: one list of spans, the first span of a request the
``parentId`` of the others, the same tags as strings, ``"error": "failed"``). Then, each phase in
a fresh process so that its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) and CPU time (user +
system, the whole process) are its own:

* ``parse before`` / ``parse after``: the raw span frame from the file's bytes by the reader it
  replaced (Jaeger: ``jaeger.parse_per_span``, Zipkin: ``zipkin.parse_spans``, span by span on
  ``json``) and by the current one (``jaeger.parse``, ``zipkin.parse``: msgspec typed structs,
  columns with arrow); the time of the parse alone;
* ``profile before`` / ``profile after``: ``recipemut profile recipe.yaml --logs FILE --map
  mapping.yaml`` run in the process (the CLI's ``app``), with the reader's ``parse`` replaced by the
  old one for ``before``; the process's CPU and peak RSS, imports included, as ``/usr/bin/time``
  would give them. The two profiles' outputs must be the same (checked: ``same output``).

Before and after alternate ``--repeat`` times; medians are printed. CPU time is the steadier figure
on a shared machine (wall time is printed too).

Usage: ``.venv/bin/python benchmarks/bench_trace_readers.py [--reader jaeger|zipkin] [--requests 7000 70000]
[--repeat 1]``
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

DATA = HERE / "data" / "trace_readers"
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
PARAMS = ROOT / "recipes" / "checkout" / "loggen.yaml"
sys.path.insert(0, str(HERE))
from bench_otlp import MAPPING  # noqa: E402  (the same attributes, read from the same tags)

# ---- the traffic, and each format's writer -------------------------------------------------------------


def _ids(df: pd.DataFrame) -> tuple[Any, ...]:
    """What both trace writers number the traffic by: request codes, row order, each request's first
    row, trace and span ids in hex, start and duration in microseconds as text."""
    import numpy as np
    import pandas as pd

    req, _ = pd.factorize(df["request_id"])
    order = np.arange(len(df))
    first = pd.Series(order).groupby(req).transform("first").to_numpy()
    trace = pd.Series(req).map("{:032x}".format)
    span_id = pd.Series(order).map("{:016x}".format)
    start = pd.Series(np.round(df["start_ms"].to_numpy() * 1000).astype(np.int64)).astype(str)
    dur = pd.Series(np.round(df["latency_ms"].to_numpy() * 1000).astype(np.int64)).astype(str)
    return req, order, first, trace, span_id, start, dur


def traffic(requests: int) -> pd.DataFrame:
    """The checkout recipe's generated spans (seed 1), one row a span."""
    from recipemut import loggen
    from recipemut.loggen.params import load_params
    from recipemut.recipe.loader import load_recipe

    recipe = load_recipe(str(RECIPE))
    return loggen.generate_spans(recipe, requests, seed=1, params=load_params(PARAMS)).reset_index(drop=True)


def write_jaeger(df: pd.DataFrame, path: Path) -> None:
    """Jaeger's query-API document of the traffic: one trace a request, processes by service."""
    import numpy as np
    import pandas as pd

    req, order, first, trace, span_id, start, dur = _ids(df)

    def tag(key: str, values: pd.Series, kind: str) -> pd.Series:
        if kind == "string":
            text = '{"key":"' + key + '","type":"string","value":"' + values.astype(str) + '"}'
        elif kind == "int64":
            text = '{"key":"' + key + '","type":"int64","value":' + values.round().astype("Int64").astype(str) + "}"
        else:
            text = '{"key":"' + key + '","type":"float64","value":' + values.astype(str) + "}"
        return text.where(values.notna(), "")

    parts = [
        tag("app.cache_key", df["cache_key"], "string"),
        tag("app.bytes_in", df["bytes_in"], "int64"),
        tag("app.bytes_out", df["bytes_out"], "int64"),
        tag("app.cost_usd", df["cost_usd"], "float64"),
        tag("app.cpu_ms", df["cpu_ms"], "float64"),
        pd.Series(np.where(df["status"].to_numpy() == "error", '{"key":"error","type":"bool","value":true}', "")),
    ]
    tags = parts[0]
    for p in parts[1:]:
        tags = tags + np.where((tags != "") & (p != ""), ",", "") + p
    service = df["service"].astype(str)
    services = sorted(service.unique())
    pid = service.map({s: f"p{i}" for i, s in enumerate(services)})
    parent_id = span_id.to_numpy()[first]
    parent = '[{"refType":"CHILD_OF","traceID":"' + trace.to_numpy() + '","spanID":"' + parent_id + '"}]'
    refs = pd.Series(np.where(first == order, "[]", parent))
    spans = (
        '{"traceID":"' + trace + '","spanID":"' + span_id + '","operationName":"' + df["op"].astype(str)
        + '","references":' + refs + ',"startTime":' + start + ',"duration":' + dur
        + ',"tags":[' + tags + '],"processID":"' + pid + '"}'
    )  # fmt: skip
    processes = json.dumps({f"p{i}": {"serviceName": s, "tags": []} for i, s in enumerate(services)})
    grouped = pd.DataFrame({"t": req, "s": spans, "id": trace}).groupby("t", sort=True)
    by_trace = grouped.agg(s=("s", ",".join), id=("id", "first"))
    docs = '{"traceID":"' + by_trace["id"] + '","spans":[' + by_trace["s"] + '],"processes":' + processes + "}"
    path.write_text('{"data":[' + ",".join(docs) + "]}", encoding="utf-8")


def write_zipkin(df: pd.DataFrame, path: Path) -> None:
    """Zipkin v2's list of spans of the traffic (as ``/api/v2/spans`` takes them): ids in hex, the first
    span of a request the ``parentId`` of the others, ``CLIENT`` spans, the service as
    ``localEndpoint``, cache key, bytes, cost and cpu as string tags, ``error`` on failed calls."""
    import numpy as np
    import pandas as pd

    _, order, first, trace, span_id, start, dur = _ids(df)

    def tag(key: str, values: pd.Series) -> pd.Series:
        return ('"' + key + '":"' + values.astype(str) + '"').where(values.notna(), "")

    parts = [
        tag("app.cache_key", df["cache_key"]),
        tag("app.bytes_in", df["bytes_in"].round().astype("Int64")),
        tag("app.bytes_out", df["bytes_out"].round().astype("Int64")),
        tag("app.cost_usd", df["cost_usd"]),
        tag("app.cpu_ms", df["cpu_ms"]),
        pd.Series(np.where(df["status"].to_numpy() == "error", '"error":"failed"', "")),
    ]
    tags = parts[0]
    for p in parts[1:]:
        tags = tags + np.where((tags != "") & (p != ""), ",", "") + p
    parent = pd.Series(np.where(first == order, "", ',"parentId":"' + span_id.to_numpy()[first] + '"'))
    spans = (
        '{"traceId":"' + trace + '","id":"' + span_id + '"' + parent + ',"name":"' + df["op"].astype(str)
        + '","kind":"CLIENT","timestamp":' + start + ',"duration":' + dur
        + ',"localEndpoint":{"serviceName":"' + df["service"].astype(str) + '"},"tags":{' + tags + "}}"
    )  # fmt: skip
    path.write_text("[" + ",\n".join(spans) + "]", encoding="utf-8")


@dataclass(frozen=True)
class Reader:
    """A trace reader under test: its format's file suffix and writer, the module whose ``parse`` the
    CLI calls, and the names of the reader it replaced and of the current one in that module."""

    suffix: str
    write: Callable[[pd.DataFrame, Path], None]
    module: str
    before: str
    after: str = "parse"


#: the readers this benchmark knows (``--reader``)
READERS = {
    "jaeger": Reader("jaeger.json", write_jaeger, "recipemut.logs.jaeger", before="parse_per_span"),
    "zipkin": Reader("zipkin.json", write_zipkin, "recipemut.logs.zipkin", before="parse_spans"),
}


def prepare(reader: str, requests: int) -> tuple[Path, Path]:
    """The traffic file in the reader's format and the mapping file, generated when missing."""
    DATA.mkdir(parents=True, exist_ok=True)
    mapping = DATA / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    path = DATA / f"checkout_{requests}.{READERS[reader].suffix}"
    if not path.exists():  # in a subprocess: ru_maxrss of the phases' processes starts at this one's RSS
        t = time.perf_counter()
        cmd = [sys.executable, __file__, "--generate", reader, str(requests), str(path)]
        subprocess.run(cmd, check=True)
        print(f"wrote {path.name} in {time.perf_counter() - t:.0f} s", flush=True)
    return path, mapping


def generate(reader: str, requests: int, path: Path) -> None:
    tmp = path.with_suffix(".part")
    READERS[reader].write(traffic(requests), tmp)
    tmp.rename(path)


# ---- one phase, in its own process ----------------------------------------------------------------------


def one(reader: str, phase: str, which: str, path: Path, mapping: Path) -> dict[str, Any]:
    """Run one phase here and return its figures (called in a fresh process)."""
    import pandas as pd

    from recipemut.logs.common import DEFAULT_ATTRIBUTES, read_bytes
    from recipemut.logs.mapping import load_mapping

    r = READERS[reader]
    module = importlib.import_module(r.module)
    fn = getattr(module, r.before if which == "before" else r.after)
    out: dict[str, Any] = {}
    if phase == "parse":
        attributes = (*DEFAULT_ATTRIBUTES, *load_mapping(mapping).attributes())
        data = read_bytes(path)
        c, w = time.process_time(), time.perf_counter()
        frame = fn(data, path, attributes)
        out["phase_cpu"], out["phase_wall"] = time.process_time() - c, time.perf_counter() - w
        out["spans"] = len(frame)
        out["digest"] = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    else:
        from recipemut.cli import app

        module.parse = fn  # the CLI reaches the reader through the module
        text = io.StringIO()
        w = time.perf_counter()
        with contextlib.redirect_stdout(text):
            try:
                app(["profile", str(RECIPE), "--logs", str(path), "--map", str(mapping)], standalone_mode=False)
            except SystemExit as e:  # pragma: no cover
                if e.code:
                    raise
        out["phase_wall"] = time.perf_counter() - w
        out["digest"] = hashlib.sha256(text.getvalue().encode()).hexdigest()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu"] = usage.ru_utime + usage.ru_stime
    out["peak_mb"] = usage.ru_maxrss / 1024
    return out


def run_one(reader: str, phase: str, which: str, path: Path, mapping: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--one", reader, phase, which, str(path), str(mapping)]
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RECIPEMUT_STORE": "off"})
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    got: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    got["wall"] = time.perf_counter() - t
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--reader", choices=sorted(READERS), default="jaeger")
    ap.add_argument("--requests", type=int, nargs="+", default=[7_000, 70_000])
    ap.add_argument("--repeat", type=int, default=1, help="alternating before/after pairs of each phase")
    ap.add_argument("--phases", nargs="+", choices=("parse", "profile"), default=["parse", "profile"])
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--generate", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate(args.generate[0], int(args.generate[1]), Path(args.generate[2]))
        return
    if args.one:
        reader, phase, which, path, mapping = args.one
        print(json.dumps(one(reader, phase, which, Path(path), Path(mapping))))
        return
    print(f"reader {args.reader}; machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    for requests in args.requests:
        path, mapping = prepare(args.reader, requests)
        size = path.stat().st_size / 1e6
        for phase in args.phases:
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            for _ in range(args.repeat):
                for which in ("before", "after"):
                    runs[which].append(run_one(args.reader, phase, which, path, mapping))
            digests = {r["digest"] for rs in runs.values() for r in rs}
            spans = runs["after"][0].get("spans")
            head = f"{path.name} ({size:.0f} MB{f', {spans:,} spans' if spans else ''}), {phase}"
            print(f"{head}: same output {'yes' if len(digests) == 1 else 'NO'}; load {os.getloadavg()[0]:.2f}")
            print(f"  {'':7} {'step cpu s':>10} {'step wall s':>11} {'process cpu s':>13} {'peak MB':>8}")
            for which, rs in runs.items():
                med = {k: statistics.median(r[k] for r in rs) for k in ("phase_cpu", "phase_wall", "cpu", "peak_mb")
                       if k in rs[0]}  # fmt: skip
                step_cpu = f"{med['phase_cpu']:.2f}" if "phase_cpu" in med else "-"
                print(f"  {which:7} {step_cpu:>10} {med['phase_wall']:11.2f} {med['cpu']:13.2f} {med['peak_mb']:8.0f}")
            b, a = (statistics.median(r["cpu"] for r in runs[w]) for w in ("before", "after"))
            ratios = f"process cpu {a / b:.2f}"
            if phase == "parse":
                sb, sa = (statistics.median(r["phase_cpu"] for r in runs[w]) for w in ("before", "after"))
                ratios = f"step cpu {sa / sb:.2f}, {ratios}"
            print(f"  after / before: {ratios}", flush=True)


if __name__ == "__main__":
    main()
