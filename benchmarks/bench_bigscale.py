"""Big logs: time and peak memory of `profile` with and without request sampling, of `convert`, and of
ingest against the embedded readers (pyarrow, DuckDB) on the same file in the same run.

Generates (once per size) a native JSONL log of the shipped checkout recipe with ``recipemut
generate`` (about 14.4 spans a request, 290 bytes a span) into ``--dir`` (default ``/tmp/recipemut-big``;
never into git). Then each phase runs in a fresh process whose wall time and peak RSS are its own:
library phases report ``getrusage(RUSAGE_SELF)``, command phases run under ``/usr/bin/time -v``.

Phases
    pyarrow      ``pyarrow.json.read_json(path)`` (default options: the bare columnar reader)
    duckdb       ``duckdb.sql("SELECT * FROM read_json(path)").arrow()`` (the table in memory)
    duckdb 10%   the same with ``WHERE hash(request_id) % 10 = 0`` (DuckDB's own sample)
    duckdb typed ``read_json`` with the span columns and their types given (the fastest form measured)
    floor        ``duckdb typed``, then only what every reader of the span table must add, with no check
                 at all: the newline count that gives line numbers (asserted equal to the rows: the
                 file has no blank line), the source columns and ``to_span_frame``. What recipemut's
                 ingest could be at best if DuckDB's parse were trusted as it is
    read_logs    ``recipemut.logs.ingest.read_logs(path, recipe=...)``: checked span table + report
    read_logs 10%  the same with ``sample_requests=0.1`` (streamed in chunks)
    profile / profile 10% / profile budget  ``recipemut profile -f json`` (all, ``--sample-requests 0.1``,
                 ``--memory-budget`` fixed by ``--budget``, 400M by default: the same at every size,
                 so the sample, and the peak, should stay flat as the log grows)
    convert      ``recipemut convert LOG -o LOG.parquet``
    convert days ``recipemut convert LOG -o LOG.days/`` (streamed, one file per day)
    profile parquet  ``recipemut profile`` on that Parquet file
    chunks       per 64 MiB chunk of the streamed path: today's parse (``read_native``), DuckDB's
                 ``read_json`` with the span columns' types (through a file in /dev/shm, cast to the
                 span table's types), and the byte scan DuckDB's result would need to keep the
                 contract (it accepts what recipemut rejects: a number where text belongs and the
                 reverse, ``true`` as 1, an object as its text, trailing commas, NaN), and the
                 newline and depth scans line numbers need (DuckDB gives none); CPU seconds

Usage::

    .venv/bin/python benchmarks/bench_bigscale.py --spans 2000000 [--spans 5000000] [--skip duckdb]
    .venv/bin/python benchmarks/bench_bigscale.py --spans 2000000 --skip commands --skip chunks  # the readers only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
PY = sys.executable
CLI = [PY, "-m", "recipemut"]
SPANS_PER_REQUEST = 14.45  # the checkout recipe's loggen.yaml (measured on 20,000 requests)

CHILD = r"""
import json, resource, sys, time
kind, path, recipe = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter(); c0 = time.process_time()
rows = 0
if kind == "pyarrow":
    import pyarrow.json as pj
    rows = pj.read_json(path).num_rows
elif kind.startswith("duckdb"):
    import duckdb
    where = " WHERE hash(request_id) % 10 = 0" if kind == "duckdb10" else ""
    rel = duckdb.sql(f"SELECT * FROM read_json('{path}', format='newline_delimited'){where}")
    got = rel.arrow()
    rows = (got.read_all() if hasattr(got, "read_all") else got).num_rows
elif kind in ("duckdb_typed", "floor"):
    import duckdb, pyarrow as pa
    from recipemut.logs.spans import PARSE_SCHEMA
    cols = "{" + ",".join(f"'{f.name}':'{'VARCHAR' if pa.types.is_large_string(f.type) else 'DOUBLE'}'"
                          for f in PARSE_SCHEMA) + "}"
    con = duckdb.connect()
    con.sql("SET arrow_large_buffer_size=true")  # large_string, as the span table holds text
    got = con.sql(f"SELECT * FROM read_json('{path}', columns={cols}, format='newline_delimited')").arrow()
    t = got.read_all() if hasattr(got, "read_all") else got
    rows = t.num_rows
    if kind == "floor":
        import numpy as np, pyarrow.compute as pc
        from recipemut.logs.spans import to_span_frame
        import mmap  # the newline count in 1 MiB slices of a mapping, each compared while in cache (0.13 s here)
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            a = np.frombuffer(m, np.uint8)
            newlines = sum(int(np.count_nonzero(a[i : i + (1 << 20)] == 10)) for i in range(0, len(a), 1 << 20))
            del a
        assert newlines == rows, "the floor assumes one span a line and no blank line"
        t = t.append_column("source_file", pa.DictionaryArray.from_arrays(np.zeros(rows, np.int32), [path]))
        t = t.append_column("source_line", pa.array(np.arange(1, rows + 1, dtype=np.int64)))
        i = t.schema.get_field_index("recipe_version")
        t = t.set_column(i, "recipe_version", pc.cast(t.column(i), pa.int64()))
        rows = len(to_span_frame(t))
elif kind == "chunks":
    import os, pathlib, tempfile
    import duckdb, pyarrow as pa, pyarrow.compute as pc
    from recipemut.logs.native import read_native
    from recipemut.logs.report import Rejects
    from recipemut.logs.spans import PARSE_SCHEMA
    from recipemut.logs.stream import line_chunks
    cols = "{" + ",".join(f"'{f.name}':'{'VARCHAR' if pa.types.is_large_string(f.type) else 'DOUBLE'}'"
                          for f in PARSE_SCHEMA) + "}"
    text = [f.name for f in PARSE_SCHEMA if pa.types.is_large_string(f.type)]
    nums = [f.name for f in PARSE_SCHEMA if not pa.types.is_large_string(f.type)]
    ws = "[ \\t\\r]*"
    check = ('"(?:' + "|".join(text) + ')"' + ws + ":" + ws + '[^" \\t\\rn]|"(?:' + "|".join(nums) + ')"' + ws
             + ":" + ws + "[^-0-9 \\t\\rn]|," + ws + "[}\\]]|NaN|Infinity|\\\\u")
    con = duckdb.connect()
    spool = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir(), "recipemut-chunk.jsonl")
    import numpy as np
    from recipemut.logs.lines import index_lines, too_deep
    cpu = {"pyarrow": 0.0, "duckdb": 0.0, "check": 0.0, "lines": 0.0}
    for chunk, _ in line_chunks(pathlib.Path(path), path):
        c = time.process_time()
        t, _, _, _ = read_native(pa.py_buffer(chunk), path, Rejects(path))
        cpu["pyarrow"] += time.process_time() - c
        rows += t.num_rows
        c = time.process_time()
        with open(spool, "wb") as f:
            f.write(chunk)
        got = con.sql(f"SELECT * FROM read_json('{spool}', columns={cols}, format='newline_delimited', "
                      "ignore_errors=false)").arrow()
        got = (got.read_all() if hasattr(got, "read_all") else got).cast(PARSE_SCHEMA)
        cpu["duckdb"] += time.process_time() - c
        assert got.num_rows == t.num_rows
        c = time.process_time()
        offsets = pa.array([0, len(chunk)], pa.int64()).buffers()[1]
        wrapped = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(chunk)])
        assert not pc.match_substring_regex(wrapped, check)[0].as_py()
        cpu["check"] += time.process_time() - c
        c = time.process_time()  # line numbers: DuckDB gives none, so the newline scan stays
        a = np.frombuffer(chunk, dtype=np.uint8)
        too_deep(a, index_lines(a))
        cpu["lines"] += time.process_time() - c
    os.unlink(spool)
    print(json.dumps({"chunk_cpu": cpu}))
else:
    from recipemut.logs.ingest import read_logs
    from recipemut.recipe.loader import load_recipe
    frac = 0.1 if kind == "read_logs10" else None
    df, rep = read_logs(path, recipe=load_recipe(recipe), sample_requests=frac, memory_budget="off")
    rows = len(df)
wall = time.perf_counter() - t0; cpu = time.process_time() - c0
print(json.dumps({"wall": wall, "cpu": cpu, "rows": rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def library_phase(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run([PY, "-c", CHILD, kind, str(path), str(RECIPE)], capture_output=True, text=True, check=True)
    got: dict[str, float] = {}
    for line in out.stdout.strip().splitlines():  # the chunks phase prints its figures before the common ones
        if line.startswith("{"):
            got.update(json.loads(line))
    return got


def command_phase(args: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    env = {**os.environ, "RECIPEMUT_STORE": "off"}
    res = subprocess.run(["/usr/bin/time", "-v", *CLI, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{res.stderr[-2000:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))  # type: ignore[union-attr]
    notes = [line for line in res.stderr.splitlines() if line.startswith("note: sampled")]
    return {"wall": wall, "peak_mb": peak / 1024, "stdout": res.stdout, "note": notes[0] if notes else ""}


def generate(spans: int, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"checkout_{spans // 1000}k.jsonl"
    if not path.exists():
        n_req = int(spans / SPANS_PER_REQUEST)
        subprocess.run([*CLI, "generate", str(RECIPE), "-n", str(n_req), "--seed", "1", "--out", str(path)], check=True)
    return path


def run(spans: int, folder: Path, skip: set[str], budget: str) -> None:
    path = generate(spans, folder)
    size_mb = path.stat().st_size / 1e6
    print(f"\nfile: {path.name}, {size_mb:.1f} MB; machine: {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    print(f"{'phase':<18}{'wall s':>8}{'cpu s':>8}{'MB/s':>8}{'rows':>11}{'peak MB':>9}{'x file':>8}")
    rows: dict[str, dict[str, float]] = {}
    import importlib.util

    if importlib.util.find_spec("duckdb") is None:  # not a dependency of recipemut: pip install duckdb to compare
        print("duckdb is not installed: its phases are left out (pip install duckdb)")
        skip = skip | {"duckdb"}
    for kind in ("pyarrow", "duckdb", "duckdb10", "duckdb_typed", "floor", "read_logs", "read_logs10"):
        if kind.startswith("duckdb") and "duckdb" in skip:
            continue
        r = rows[kind] = library_phase(kind, path)
        print(f"{kind:<18}{r['wall']:>8.2f}{r['cpu']:>8.2f}{size_mb / r['wall']:>8.1f}{int(r['rows']):>11,}"
              f"{r['peak_mb']:>9.0f}{r['peak_mb'] / size_mb:>8.2f}")  # fmt: skip
    readers = [rows[k]["wall"] for k in ("pyarrow", "duckdb", "duckdb_typed") if k in rows]
    for kind in ("read_logs", "floor"):
        if readers and kind in rows:
            ratio = min(readers) / rows[kind]["wall"]
            print(f"{kind} throughput / fastest embedded reader: {ratio:.2f} (target >= 0.7)")
    if "commands" in skip:
        return
    parquet = path.with_suffix(".parquet")
    full = command_phase(["profile", str(RECIPE), "--logs", str(path), "-f", "json", "--memory-budget", "off"])
    phases = {
        "profile": full,
        "profile 10%": command_phase(
            ["profile", str(RECIPE), "--logs", str(path), "-f", "json", "--sample-requests", "0.1"]
        ),
        f"profile <{budget}": command_phase(
            ["profile", str(RECIPE), "--logs", str(path), "-f", "json", "--memory-budget", budget]
        ),
        # --force: a second run writes over the first's outputs (convert refuses them without it)
        "convert": command_phase(["convert", str(path), "-o", str(parquet), "--force"]),
        "convert days": command_phase(["convert", str(path), "-o", f"{path.with_suffix('.days')}/", "--force"]),
        "profile parquet": command_phase(
            ["profile", str(RECIPE), "--logs", str(parquet), "-f", "json", "--memory-budget", "off"]
        ),
    }
    for name, r in phases.items():
        print(f"{name:<18}{r['wall']:>8.2f}{'':>8}{size_mb / r['wall']:>8.1f}{'':>11}{r['peak_mb']:>9.0f}"
              f"{r['peak_mb'] / size_mb:>8.2f}  {r['note'][:90]}")  # fmt: skip
    same = json.loads(full["stdout"])["ops"] == json.loads(phases["profile parquet"]["stdout"])["ops"]
    print(f"parquet: {parquet.stat().st_size / 1e6:.1f} MB; profile of the Parquet file equals the JSONL's: {same}")
    parquet.unlink()
    shutil.rmtree(path.with_suffix(".days"), ignore_errors=True)
    if "duckdb" not in skip and "chunks" not in skip:
        c = library_phase("chunks", path)["chunk_cpu"]
        both = (c["duckdb"] + c["check"] + c["lines"]) / c["pyarrow"]
        print(
            f"per-chunk CPU s: today's read_native {c['pyarrow']:.2f}; DuckDB read_json {c['duckdb']:.2f}, the check "
            f"its result needs {c['check']:.2f}, the line scans {c['lines']:.2f}: the hybrid = {both:.2f} x today's"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spans", type=int, action="append", help="spans to generate (repeat for several sizes)")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/recipemut-big"))
    ap.add_argument(
        "--skip", action="append", default=[], help="duckdb (its phases), chunks, commands (CLI phases): leave out"
    )
    ap.add_argument("--budget", default="400M", help="--memory-budget of the budgeted profile run")
    a = ap.parse_args()
    for n in a.spans or [2_000_000]:
        run(n, a.dir, set(a.skip), a.budget)


if __name__ == "__main__":
    main()
