"""The OTLP fast path (``recipemut.logs.otlpfast``, the ``fast-otlp`` extra) reading a plain file: read
with ``pread`` (what it does) against memory-mapped (what it did until a file cut while it was scanned
killed the process with SIGBUS), in back-to-back pairs in one process.

Times ``parse_arrow_table`` whole with each loader, the order alternating pair by pair, and prints each
one's median and best and the median of the pair ratios (read / mapped); then the read alone, into
arrow's allocator (what ``_read_plain`` does) and into a numpy array. The file is the OTLP file
``bench_otlp.py`` writes (``benchmarks/data/otlp_bench_*.otlp.json``; run it once first) or ``--file``.

Usage: ``.venv/bin/python benchmarks/bench_otlp_read.py [--pairs 12] [--file F]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recipemut.logs import otlpfast  # noqa: E402
from recipemut.logs.common import DEFAULT_ATTRIBUTES  # noqa: E402

ATTRS = [*DEFAULT_ATTRIBUTES, "app.cache_key", "app.bytes_in", "app.bytes_out", "app.cost_usd", "app.cpu_ms"]


def mapped(path: Path) -> pa.Buffer:
    """The former loader of a plain file: a memory map (a cut file's page past its end is a SIGBUS)."""
    return pa.memory_map(str(path), "r").read_buffer()


def into_numpy(path: Path) -> np.ndarray:
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        out = np.empty(size, np.uint8)
        pos = 0
        while pos < size:
            pos += os.preadv(fd, [out.data[pos : pos + otlpfast.READ_BYTES]], pos)
        return out
    finally:
        os.close(fd)


def timed(f: Callable[[], object]) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=12)
    ap.add_argument("--file", type=Path, default=None)
    args = ap.parse_args()
    path = args.file or max((HERE / "data").glob("otlp_bench_*[0-9].otlp.json"), key=lambda p: p.stat().st_size)
    if not otlpfast.available():
        sys.exit("the fast-otlp extra (numba) is not installed")
    otlpfast._load_scanner()
    real = otlpfast._read_plain
    loaders = {"mapped": mapped, "read": real}
    times: dict[str, list[float]] = {k: [] for k in loaders}
    ratios = []
    try:
        for i in range(args.pairs):
            pair = {}
            for name in loaders if i % 2 == 0 else reversed(loaders):
                otlpfast._read_plain = loaders[name]  # type: ignore[assignment]
                pair[name] = timed(lambda: otlpfast.parse_arrow_table(path, ATTRS))
                times[name].append(pair[name])
            ratios.append(pair["read"] / pair["mapped"])
    finally:
        otlpfast._read_plain = real
    print(f"{path.name}: {path.stat().st_size:,} bytes, {args.pairs} pairs, load {os.getloadavg()[0]:.1f}")
    for name, v in times.items():
        print(f"  parse_arrow_table, {name:6}: median {statistics.median(v):.3f} s, best {min(v):.3f} s")
    print(f"  pair ratio read/mapped: median {statistics.median(ratios):.3f} ({min(ratios):.3f} to {max(ratios):.3f})")
    for name, f in (("arrow buffer", lambda: real(path)), ("numpy array", lambda: into_numpy(path))):
        v = [timed(f) for _ in range(5)]
        print(f"  the read alone into {name}: median {statistics.median(v):.3f} s, best {min(v):.3f} s")


if __name__ == "__main__":
    main()
