"""Logs of blank or tiny lines: peak memory and time of every native read path on attack files.

Builds (once) into ``--dir`` (default ``benchmarks/data/tiny``, git-ignored):

    nl_plain.jsonl   199 MiB of ``\\n`` (208,666,624 blank lines)
    nl_one.jsonl     one checkout span, then 50 MiB of ``\\n``
    x50.jsonl        50 MiB of ``x\\n`` (26 M one-byte lines, not a span log)
    sp50.jsonl       50 MiB of `` \\n`` (26 M lines of a space: blank lines to the reader)
    one_x50.jsonl    1,001 spans, then 50 MiB of ``x\\n`` (junk after a log's first spans: each line
                     rejected, with its line number counted)
    one_1_50.jsonl   1,001 spans, then 50 MiB of ``1\\n`` (a JSON value, not an object)
    one_xn50.jsonl   1,001 spans, then 50 MiB of distinct junk ``x0``, ``x1``, ... (no two lines alike)
    one_arr50.jsonl  1,001 spans, then 50 MiB of ``[1]\\n``
    nl.jsonl.gz      a gzip of 199 MiB of ``\\n`` (about 200 KB on disk)

and runs, each in a fresh process under ``/usr/bin/time -v`` (peak RSS of the largest process, wall and CPU
time), ``recipemut profile recipes/checkout/recipe.yaml --logs F --store off`` plainly, with
``--sample-requests 0.5``, ``--memory-budget 50M`` and ``--engine dask``, and ``recipemut convert F
--out OUT.parquet``. The exit code and the last line the command printed are shown: each of these
files is an error (no span, or not a span log) except ``nl_one`` and the ``one_*`` files.
``--timeout S`` stops a run after S seconds (shown as ``timeout``; its peak is then not known).

Then the line index alone (``recipemut.logs.lines.index_lines``) on a 64 MiB buffer of ``\\n``: its
peak (``tracemalloc``) and time with an entry for every line and for non-blank lines only.

    .venv/bin/python benchmarks/bench_tiny_lines.py [--dir D] [--only nl_plain,x50] [--paths plain,convert]
        [--timeout 600]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
EXE = str(Path(sys.executable).with_name("recipemut"))
MIB = 1 << 20
SPAN = {
    "request_id": "r1-0",
    "recipe": "checkout",
    "recipe_version": 4,
    "variant": "control",
    "op": "load_cart",
    "service": "cart",
    "start_ms": 1.76394260289748e12,
    "latency_ms": 24.63,
    "status": "ok",
}

PATHS = {
    "plain": [],
    "sample 0.5": ["--sample-requests", "0.5"],
    "budget 50M": ["--memory-budget", "50M"],
    "dask": ["--engine", "dask"],
}


def build(d: Path) -> dict[str, Path]:
    d.mkdir(parents=True, exist_ok=True)
    one = (json.dumps(SPAN) + "\n").encode()
    spans = b"".join((json.dumps({**SPAN, "request_id": f"r{i}"}) + "\n").encode() for i in range(1001))
    files = {
        "nl_plain": (d / "nl_plain.jsonl", lambda: b"\n" * (199 * MIB)),
        "nl_one": (d / "nl_one.jsonl", lambda: one + b"\n" * (50 * MIB)),
        "x50": (d / "x50.jsonl", lambda: b"x\n" * (25 * MIB)),
        "sp50": (d / "sp50.jsonl", lambda: b" \n" * (25 * MIB)),
        "one_x50": (d / "one_x50.jsonl", lambda: spans + b"x\n" * (25 * MIB)),
        "one_1_50": (d / "one_1_50.jsonl", lambda: spans + b"1\n" * (25 * MIB)),
        "one_xn50": (d / "one_xn50.jsonl", lambda: spans + _distinct_junk(50 * MIB)),
        "one_arr50": (d / "one_arr50.jsonl", lambda: spans + b"[1]\n" * (50 * MIB // 4)),
        "nl_gz": (d / "nl.jsonl.gz", lambda: gzip.compress(b"\n" * (199 * MIB), 9)),
    }
    out = {}
    for name, (path, make) in files.items():
        if not path.exists():
            path.write_bytes(make())
        out[name] = path
    return out


def _distinct_junk(size: int) -> bytes:
    """``size`` bytes (about) of lines ``x0``, ``x1``, ...: no two alike."""
    out, n, i = [], 0, 0
    while n < size:
        block = "".join(f"x{k}\n" for k in range(i, i + 100_000)).encode()
        out.append(block)
        n += len(block)
        i += 100_000
    return b"".join(out)[:size]


def timed(cmd: list[str], timeout: float | None = None) -> tuple[float, float, float, int, str]:
    """Peak RSS in MB, wall and CPU seconds (user and system, of the command and the processes it
    waited for: steadier than wall time on a shared machine), exit code and last output line of
    ``cmd`` under GNU time; a run past ``timeout`` seconds is stopped (its whole process group) and
    said so."""
    t = time.perf_counter()
    p = subprocess.Popen(
        ["/usr/bin/time", "-v", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return float("nan"), time.perf_counter() - t, float("nan"), -9, f"timeout after {timeout:.0f} s"
    wall = time.perf_counter() - t
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    peak = int(m.group(1)) / 1024 if m else float("nan")
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err))
    said = [s for s in (out + err).splitlines() if s.strip() and not s.startswith(("\t", "Command "))]
    return peak, wall, cpu, p.returncode, (said[-1] if said else "")[:110]


def index_phase() -> None:
    import numpy as np

    from recipemut.logs.lines import index_lines

    a = np.frombuffer(b"\n" * (64 * MIB), np.uint8)
    for label, kw in (("every line", {}), ("non-blank only", {"blank": False})):
        tracemalloc.start()
        t = time.perf_counter()
        got = index_lines(a, **kw)  # type: ignore[arg-type]
        wall = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(f"index_lines 64 MiB of \\n, {label:15s} entries {len(got):>11,}  peak {peak:8.0f} MB  {wall:6.2f} s")
        del got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=ROOT / "benchmarks" / "data" / "tiny")
    ap.add_argument("--only", default="", help="comma-separated file names (default: all)")
    ap.add_argument("--paths", default="", help="comma-separated paths: plain, sample 0.5, budget 50M, dask, convert")
    ap.add_argument("--timeout", type=float, default=None, help="seconds a run may take before it is stopped")
    args = ap.parse_args()
    files = build(args.dir)
    only = [s for s in args.only.split(",") if s] or list(files)
    paths = [s for s in args.paths.split(",") if s] or [*PATHS, "convert"]
    print(f"{'file':9s} {'path':11s} {'peak MB':>8s} {'wall s':>7s} {'cpu s':>6s} rc  last line")
    with tempfile.TemporaryDirectory() as tmp:
        for name in only:
            f = files[name]
            for path in paths:
                if path == "convert":
                    out = Path(tmp) / f"{name}.parquet"
                    out.unlink(missing_ok=True)
                    cmd = [EXE, "convert", str(f), "--out", str(out)]
                else:
                    cmd = [EXE, "profile", str(RECIPE), "--logs", str(f), "--store", "off", *PATHS[path]]
                peak, wall, cpu, rc, said = timed(cmd, args.timeout)
                print(f"{name:9s} {path:11s} {peak:8.0f} {wall:7.1f} {cpu:6.1f} {rc:2d}  {said}", flush=True)
    index_phase()


if __name__ == "__main__":
    main()
