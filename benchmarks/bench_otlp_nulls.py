"""OTLP export lines holding a ``null`` (``"value": null``) against the same lines without it.

    .venv/bin/python benchmarks/bench_otlp_nulls.py [--spans 100000] [--repeat 7]

Takes ``bench_otlp.py``'s generated OTLP file of about N spans (written once into
``benchmarks/data/``), writes beside it a copy whose every export line has one more attribute,
``{"key":"odd","value":null}``, on its first span (protobuf JSON's default, as the Collector can
write it), then reads both with ``recipemut.logs.otlp.parse_table`` alternately ``--repeat`` times
in this process and prints the median CPU seconds of each, their ratio, the lines read through the
plain-JSON path (``json.loads`` and the span-by-span rebuild the typed structs are meant to spare)
and whether the two tables are equal (the attribute is not read, so they must be).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench_otlp  # noqa: E402

from recipemut.logs import otlp  # noqa: E402
from recipemut.logs import traces as formats  # noqa: E402
from recipemut.logs.common import DEFAULT_ATTRIBUTES, read_bytes  # noqa: E402

NULL = b'"attributes":[{"key":"odd","value":null},'


def _with_null(line: bytes) -> bytes:
    """The line with the null attribute on its first span (after the resource's attributes)."""
    at = line.find(b'"attributes":[', line.find(b'"spans":['))
    return line if at < 0 or b'"spans":[' not in line else line[:at] + NULL + line[at + len(b'"attributes":[') :]


class _Refused(logging.Handler):
    """The count of lines the reader says it read as plain JSON."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "read as plain JSON" in record.getMessage():
            self.lines += int(record.args[1]) if isinstance(record.args, tuple) else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spans", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    _, _, clean, mapping = bench_otlp.prepare(a.spans)
    nulls = clean.with_name(clean.name.replace(".otlp.json", ".nulls.otlp.json"))
    if not nulls.exists():
        nulls.write_bytes(b"\n".join(map(_with_null, clean.read_bytes().split(b"\n"))))
    m = formats.load_mapping(mapping)
    attributes = (*DEFAULT_ATTRIBUTES, *m.attributes())
    numeric = [k for k in (m.bytes_in, m.bytes_out, m.cost_usd, m.cpu_ms, m.mem_mb) if k]
    refused = _Refused()
    log = logging.getLogger(otlp.__name__)
    log.addHandler(refused)
    log.setLevel(logging.DEBUG)
    data = {p: read_bytes(p) for p in (clean, nulls)}
    cpu: dict[Path, list[float]] = {clean: [], nulls: []}
    tables = {}
    for _ in range(a.repeat):
        for p in (clean, nulls):
            c = time.process_time()
            tables[p] = otlp.parse_table(data[p], p, attributes, numeric)
            cpu[p].append(time.process_time() - c)
    spans = tables[clean].num_rows
    lines = data[nulls].count(NULL)
    a_s, b_s = statistics.median(cpu[clean]), statistics.median(cpu[nulls])
    print(f"{spans:,} spans, {lines} export lines each with one null attribute value")
    print(f"without nulls: median {a_s:.3f} CPU s   with: {b_s:.3f} CPU s   ratio {b_s / a_s:.2f}")
    print(f"lines read as plain JSON: {refused.lines // a.repeat} a read; tables equal: "
          f"{tables[clean].equals(tables[nulls])}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
