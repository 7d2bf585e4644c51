"""Issue 18 item 4: time and peak memory of `profile` and `suggest` as the log grows, under a set budget.

For each log (smallest first), runs in a fresh process, one at a time, under ``/usr/bin/time -v``
with ``RECIPEMUT_STORE=off``:

    recipemut profile RECIPE --logs LOG -f json --memory-budget BUDGET
    recipemut suggest RECIPE --logs LOG -f json --seed SEED -q --memory-budget BUDGET

and prints one row per run: spans (lines of the file), file MB (10^6 bytes), command, wall s,
CPU s (user + sys), peak RSS MiB (the kB of ``time -v`` / 1024), the load average (1 min) when
the run started, and the sample the ingest note reports (``note: sampled F of requests ... (K of
N kept; ...``). Then, per command, the least-squares line of CPU seconds against spans (slope in
CPU s per million spans, intercept, R^2) and the spread of peak RSS across the sizes (min, max,
max/min).

``--budget default`` gives no ``--memory-budget`` (the command's own default: half of
MemAvailable, at most 4 GiB); ``--budget off`` reads every request. ``--extra '--sample-requests
0.27'`` adds options to every run. ``--keep DIR`` keeps each run's JSON output and stderr
(``DIR/<log stem>.<command>.json``), for ``compare_sampled.py``.

``--cut-before ISO --cut-from LOG --cut-to OUT`` instead writes the lines of LOG before the
instant (by ``start_ms``) to OUT: the cut line is found by bisection on byte offsets (about 30
reads of one line each), then checked on a window of 4 MiB either side with pyarrow (the lines
need not be strictly ordered: the generator writes a request's spans together, so a request
that starts just before the instant may end after it); it says how many lines of that window
fall on the wrong side.

Usage::

    .venv/bin/python benchmarks/bench_scaling.py /tmp/recipemut-big/checkout_20000k_first2m.jsonl \\
        /tmp/recipemut-big/checkout_20000k_first5m.jsonl ... [--budget 1G] [--commands profile suggest]
    .venv/bin/python benchmarks/bench_scaling.py --cut-from /tmp/recipemut-big/checkout_20000k.jsonl \\
        --cut-before 2025-11-26T00:00:00Z --cut-to /tmp/recipemut-big/checkout_20000k_2days.jsonl
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
CLI = [sys.executable, "-m", "recipemut"]
NOTE = re.compile(r"note: sampled ([0-9.e-]+) of requests by request_id \(([\d,]+) of ([\d,]+) kept")
BLOCK = 64 << 20


def count_lines(path: Path) -> int:
    """Newlines in the file, counted a 64 MiB block at a time (``bytes.count``, no loop per line)."""
    n = 0
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            n += block.count(b"\n")
    return n


def timed(cmd: list[str], stdout: Path, stderr: Path, env: dict[str, str]) -> dict[str, object]:
    """Run ``cmd`` under ``/usr/bin/time -v``; return wall, CPU and peak RSS, and the command's stderr."""
    tv = stderr.with_suffix(".time")
    load = os.getloadavg()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        rc = subprocess.run(
            ["/usr/bin/time", "-v", "-o", str(tv), *cmd], stdout=out, stderr=err, env=env, cwd=ROOT, check=False
        ).returncode
    text = tv.read_text()

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", text)
        return m.group(1).strip() if m else ""

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    return {
        "rc": rc,
        "wall_s": wall,
        "user_s": float(field("User time (seconds)") or 0),
        "sys_s": float(field("System time (seconds)") or 0),
        "peak_mb": int(field("Maximum resident set size (kbytes)") or 0) / 1024,
        "load1": load[0],
        "stderr": stderr.read_text(errors="replace"),
    }


def sample_of(stderr: str) -> str:
    m = NOTE.search(stderr)
    return f"{m.group(1)} ({m.group(2)} of {m.group(3)})" if m else "-"


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least-squares line y = a x + b; returns (a, b, R^2)."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    a, b = np.polyfit(x, y, 1)
    resid = y - (a * x + b)
    tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / tot if tot > 0 else 1.0
    return float(a), float(b), r2


def start_ms_of(line: bytes) -> float:
    m = re.search(rb'"start_ms":\s*([-0-9.eE+]+)', line)
    if not m:
        raise SystemExit(f"no start_ms in line {line[:120]!r}")
    return float(m.group(1))


def line_at(fh: io.BufferedReader, offset: int) -> tuple[int, bytes]:
    """The first whole line starting at or after ``offset``: (its offset, its bytes)."""
    if offset == 0:
        fh.seek(0)
    else:
        fh.seek(offset - 1)
        fh.readline()  # the rest of the line that holds offset - 1
    at = fh.tell()
    return at, fh.readline()


def cut_before(src: Path, dst: Path, instant: str) -> None:
    import pyarrow as pa
    import pyarrow.json as pj

    cut_ms = datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp() * 1000
    size = src.stat().st_size
    with open(src, "rb") as fh:
        lo, hi = 0, size  # invariant: the line at lo starts before the instant, the one at hi does not
        reads = 0
        while hi - lo > 1:
            mid = (lo + hi) // 2
            _, line = line_at(fh, mid)
            reads += 1
            if not line or start_ms_of(line) >= cut_ms:
                hi = mid
            else:
                lo = mid
        cut, _ = line_at(fh, hi)
        wlo = max(0, cut - (4 << 20))
        wlo, _ = line_at(fh, wlo)
        fh.seek(wlo)
        window = fh.read(cut - wlo), fh.read(4 << 20)
    before, after = window
    after = after[: after.rfind(b"\n") + 1]
    opts = pj.ParseOptions(explicit_schema=pa.schema([("start_ms", pa.float64())]), unexpected_field_behavior="ignore")
    late = (np.asarray(pj.read_json(io.BytesIO(before), parse_options=opts)["start_ms"]) >= cut_ms).sum()
    early = (np.asarray(pj.read_json(io.BytesIO(after), parse_options=opts)["start_ms"]) < cut_ms).sum()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        left = cut
        while left:
            block = fi.read(min(BLOCK, left))
            fo.write(block)
            left -= len(block)
    print(
        f"{dst}: the first {cut:,} bytes of {src.name} ({count_lines(dst):,} lines), "
        f"cut at {instant} by {reads} bisection reads; in 4 MiB either side, {int(late)} lines "
        f"before the cut start after it and {int(early)} after it start before it"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="*", type=Path)
    ap.add_argument("--budget", default="1G", help="--memory-budget of every run; 'default' gives none")
    ap.add_argument("--commands", nargs="+", default=["profile", "suggest"], choices=["profile", "suggest"])
    ap.add_argument("--seed", default="1")
    ap.add_argument("--extra", default="", help="more options for every run, as one string: '--sample-requests 0.27'")
    ap.add_argument("--recipe", type=Path, default=RECIPE)
    ap.add_argument("--keep", type=Path, help="keep each run's JSON output and stderr in this folder")
    ap.add_argument("--json", type=Path, help="write the rows and fits to this file")
    ap.add_argument("--cut-from", type=Path)
    ap.add_argument("--cut-before")
    ap.add_argument("--cut-to", type=Path)
    args = ap.parse_args()

    if args.cut_from:
        if not (args.cut_before and args.cut_to):
            ap.error("--cut-from needs --cut-before and --cut-to")
        cut_before(args.cut_from, args.cut_to, args.cut_before)
        return
    if not args.logs:
        ap.error("give the logs to run on (or --cut-from)")
    if not shutil.which("/usr/bin/time"):
        raise SystemExit("needs /usr/bin/time (GNU time, for -v)")
    keep = args.keep or Path(os.environ.get("TMPDIR", "/tmp")) / f"recipemut-scaling-{os.getpid()}"
    keep.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, RECIPEMUT_STORE="off")
    budget = [] if args.budget == "default" else ["--memory-budget", args.budget]
    print(f"machine: {os.cpu_count()} cpus; budget: {args.budget}; recipe: {args.recipe}; outputs in {keep}")

    rows: list[dict[str, object]] = []
    logs = sorted(args.logs, key=lambda p: p.stat().st_size)
    for log in logs:
        spans = count_lines(log)
        mb = log.stat().st_size / 1e6
        for cmd in args.commands:
            extra = ["--seed", args.seed, "-q"] if cmd == "suggest" else []
            argv = [
                *CLI,
                cmd,
                str(args.recipe),
                "--logs",
                str(log),
                "-f",
                "json",
                *extra,
                *budget,
                *shlex.split(args.extra),
            ]
            stem = f"{log.stem}.{cmd}"
            t0 = time.strftime("%H:%M:%S")
            got = timed(argv, keep / f"{stem}.json", keep / f"{stem}.err", env)
            row = {
                "log": log.name,
                "spans": spans,
                "file_mb": mb,
                "command": cmd,
                "started": t0,
                **{k: v for k, v in got.items() if k != "stderr"},
                "sample": sample_of(str(got["stderr"])),
            }
            rows.append(row)
            err = "" if got["rc"] == 0 else f"  EXIT {got['rc']}: {str(got['stderr']).strip()[-300:]}"
            print(
                f"  {t0} {log.name} {cmd}: {got['wall_s']:.1f} s wall, "
                f"{float(got['user_s']) + float(got['sys_s']):.1f} CPU s, {float(got['peak_mb']):.0f} MiB{err}",
                flush=True,
            )

    print()
    print("| spans | file MB | command | wall s | CPU s (user + sys) | peak RSS MiB | load | sample |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['spans']:,} | {float(r['file_mb']):,.0f} | {r['command']} | {float(r['wall_s']):.1f} | "
            f"{float(r['user_s']) + float(r['sys_s']):.1f} ({float(r['user_s']):.1f} + {float(r['sys_s']):.1f}) | "
            f"{float(r['peak_mb']):,.0f} | {float(r['load1']):.1f} | {r['sample']} |"
        )
    fits: dict[str, dict[str, float]] = {}
    print()
    for cmd in args.commands:
        mine = [r for r in rows if r["command"] == cmd and r["rc"] == 0]
        if len(mine) < 3:  # a line through two points fits them exactly: R^2 says nothing
            continue
        xs = [int(str(r["spans"])) / 1e6 for r in mine]
        cpu = [float(r["user_s"]) + float(r["sys_s"]) for r in mine]
        peaks = [float(r["peak_mb"]) for r in mine]
        a, b, r2 = fit(xs, cpu)
        fits[cmd] = {
            "slope_cpu_s_per_m_spans": a,
            "intercept_cpu_s": b,
            "r2": r2,
            "peak_min_mb": min(peaks),
            "peak_max_mb": max(peaks),
        }
        print(
            f"{cmd}: CPU s = {a:.2f} x M spans {b:+.1f} (R^2 {r2:.4f}); peak RSS {min(peaks):,.0f} to "
            f"{max(peaks):,.0f} MiB (max/min {max(peaks) / min(peaks):.2f}) over {xs[0]:g} to {xs[-1]:g} M spans"
        )
    if args.json:
        args.json.write_text(json.dumps({"budget": args.budget, "rows": rows, "fits": fits}, indent=1))


if __name__ == "__main__":
    main()
