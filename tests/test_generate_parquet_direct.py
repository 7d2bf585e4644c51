"""``generate -o x.parquet`` builds the Parquet table from the generated frame (recipemut/usecases/generate.py
``write_parquet``, ``as_read``; recipemut/usecases/partition.py ``one_file_table``): the file holds what
writing the JSONL (``write_jsonl``) and converting it (``partition.write_file``) gave, column for column,
row for row, in the same row groups, with the same compression and metadata, and ``profile`` says the
same of both; and no scratch file or folder is made beside the output."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

import recipemut.usecases.generate as generate_flow
import recipemut.usecases.partition as partition
from recipemut.cli import app
from recipemut.loggen import write_jsonl
from recipemut.usecases.inputs import LogSource

CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"
WIDE = {"COLUMNS": "200"}
runner = CliRunner()


def _recipe(folder: Path) -> Path:
    """The checkout recipe with a fan-out retried (span_id, attempt, items), a canary variant of its own
    recipe whose tax lookup is cached (hits), and the shipped generation parameters."""
    doc = yaml.safe_load((CHECKOUT / "recipe.yaml").read_text(encoding="utf-8"))
    doc["fields"]["rec_details"] = {"type": "array"}
    doc["operations"].append(
        {"id": "load_recs", "service": "recs", "action": "GetRecDetails", "consumes": ["recommendations"],
         "produces": ["rec_details"], "foreach": "recommendations", "concurrency": 2,
         "retry": {"max_attempts": 3}, "cost_per_call_usd": 0.00001}
    )  # fmt: skip
    variant = json.loads(json.dumps(doc))
    for op in variant["operations"]:
        if op["id"] == "lookup_tax":
            op["cache"] = {"ttl_s": 3600, "max_entries": 100000, "hit_latency_ms": 2}
    doc["variants"] = [{"name": "canary", "share": 0.3, "recipe": variant}]
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    params = yaml.safe_load((CHECKOUT / "loggen.yaml").read_text(encoding="utf-8"))
    params["operations"]["load_recs"] = {"latency_median_ms": 9, "error_prob": 0.05}
    (folder / "loggen.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return recipe


OPTIONS = ["-n", "400", "--days", "2", "--seed", "7", "--canary", "0.3", "--treatment", "price_items=0.8",
           "--sample-rate", "0.5"]  # fmt: skip


def _generate(recipe: Path, out: Path, *options: str) -> None:
    r = runner.invoke(app, ["generate", str(recipe), *options, "-o", str(out)], env=WIDE)
    assert r.exit_code == 0, r.output


def _reference(lines: Path, parquet: Path) -> Path:
    """What ``generate -o PARQUET`` wrote before: ``convert``'s one file (``write_file``) of the generated
    JSONL (``lines``, which ``write_jsonl`` wrote), named ``PARQUET (generated)`` as ``source_file`` says."""
    named = parquet.with_name(f"{parquet.name} (generated)")
    lines.rename(named)
    out = parquet.with_name(f"ref-{parquet.name}")
    partition.write_file(LogSource(paths=(named,), memory_budget="off"), out)
    return out


def _layout(path: Path) -> list[Any]:
    """The file's row groups: rows, and each column chunk's name, type, compression, encodings and statistics."""
    meta = pq.ParquetFile(path).metadata
    groups: list[Any] = [meta.num_rows, meta.num_columns]
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        cols = []
        for c in range(rg.num_columns):
            cc = rg.column(c)
            stats = cc.statistics.to_dict() if cc.statistics is not None else None
            cols.append((cc.path_in_schema, cc.physical_type, cc.compression, sorted(cc.encodings), stats))
        groups.append((rg.num_rows, cols))
    return groups


def _figures(recipe: Path, log: Path) -> dict[str, Any]:
    """What ``profile -f json`` says of a log, less its name."""
    r = runner.invoke(app, ["profile", str(recipe), "--logs", str(log), "-f", "json"], env=WIDE)
    assert r.exit_code == 0, r.output
    return json.loads(json.dumps(json.loads(r.stdout)).replace(json.dumps(str(log))[1:-1], "LOG"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(recipe, the Parquet file generate writes, the reference: its JSONL converted)."""
    folder = tmp_path_factory.mktemp("direct")
    recipe = _recipe(folder)
    direct = folder / "g.parquet"
    _generate(recipe, direct, *OPTIONS)
    lines = folder / "g.jsonl"
    _generate(recipe, lines, *OPTIONS)
    return recipe, direct, _reference(lines, direct)


def test_the_table_is_the_converted_jsonl(pair: tuple[Path, Path, Path]) -> None:
    _, direct, ref = pair
    got, want = pq.read_table(direct), pq.read_table(ref)
    assert got.schema.equals(want.schema, check_metadata=True)  # pandas metadata: Int64, category, str
    assert got.equals(want)
    assert pq.read_schema(direct).metadata == pq.read_schema(ref).metadata
    # the options made what they should: every kind of value is in the comparison
    assert set(got.column("variant").to_pylist()) == {"control", "canary"}
    assert set(got.column("sample_rate").to_pylist()) == {0.5}
    assert {"span_id", "attempt", "items"} <= set(got.column_names)
    assert pa.compute.max(got.column("attempt")).as_py() > 1  # a retried call
    assert got.column("cache_key").null_count and got.column("cache_key").null_count < got.num_rows
    canary_tax = got.filter(pa.compute.and_(pa.compute.equal(got.column("variant"), "canary"),
                                            pa.compute.equal(got.column("op"), "lookup_tax")))  # fmt: skip
    assert 2.0 in canary_tax.column("latency_ms").to_pylist()  # cache hits
    lines = got.column("source_line").to_numpy()
    assert sorted(lines.tolist()) == list(range(1, got.num_rows + 1))  # every line of the JSONL, none twice


def test_the_file_is_laid_out_as_convert_writes_it(pair: tuple[Path, Path, Path]) -> None:
    _, direct, ref = pair
    assert _layout(direct) == _layout(ref)
    assert pq.ParquetFile(direct).metadata.row_group(0).column(0).compression == "ZSTD"
    # the table is cut in the chunks of convert's day parts, where the writer cuts pages: the same bytes
    assert direct.read_bytes() == ref.read_bytes()


def test_profile_gives_the_same_figures(pair: tuple[Path, Path, Path]) -> None:
    recipe, direct, ref = pair
    assert _figures(recipe, direct) == _figures(recipe, ref)


def test_row_groups_are_cut_where_convert_cuts_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of BATCH_ROWS rows, the last shorter (a small BATCH_ROWS stands for 1,048,576)."""
    for module in (partition, generate_flow):
        monkeypatch.setattr(module, "BATCH_ROWS", 1000)
    recipe = CHECKOUT / "recipe.yaml"
    options = ["-n", "300", "--days", "1", "--seed", "3"]
    direct, lines = tmp_path / "g.parquet", tmp_path / "g.jsonl"
    _generate(recipe, direct, *options)
    _generate(recipe, lines, *options)
    ref = _reference(lines, direct)
    converted = pq.ParquetFile(ref).metadata
    sizes = [converted.row_group(g).num_rows for g in range(converted.num_row_groups)]
    assert len(sizes) > 3 and set(sizes[:-1]) == {1000} and sizes[-1] < 1000
    meta = pq.ParquetFile(direct).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == sizes
    assert direct.read_bytes() == ref.read_bytes()


def test_values_are_read_as_the_jsonl_would_be(tmp_path: Path) -> None:
    """What the JSON text changes: NaN and infinities null, control characters spaces, quotes and
    backslashes kept, long and tiny floats to the last bit, integers as integers; absent values null."""
    n = 6
    df = pd.DataFrame({
        "request_id": pd.array(["r\t1", 'r"2', "r\\3", "r\u20284", "r5", "r6"], dtype="str"),
        "recipe": pd.array(["c\x01x", None, "c", "c", "c", "c"], dtype="str"),
        "recipe_version": pd.array([4, None, 4, 2**40, 4, 4], dtype="Int64"),
        "variant": pd.array([None, "canary", "control", "x\ny", "control", "control"], dtype="str"),
        "op": pd.array(["a", "b", "a", "c", "é", "a"], dtype="str"),
        "service": pd.array(["s", "s", "s", "s", "s", None], dtype="str"),
        "start_ms": [1.7e12 + 1 / 3, 1.7e12, 1.7e12 + 0.01, 1.7e12 - 5e-4, 1.7e12 + 2.5, 1.7e12 + 1e6],
        "latency_ms": [0.01, 1 / 7, 3.0, 1e-9, 86_400_000.0, 12.345678901234567],
        "status": pd.array(["ok", "error", "halted", "ok", "ok", "ok"], dtype="str"),
        "cost_usd": [np.nan, 1e-7, np.inf, 0.0, 5e-324, 0.1 + 0.2],
        "cpu_ms": [-np.inf, 1.0, 2.0, np.nan, 3.0, 4.0],
        "cache_key": pd.array([None] * n, dtype="str"),
        "sample_rate": [np.nan] * n,
        "bytes_in": [36.0, 2.0**49 + 0.5, 1e15, 0.0, 1.0, np.nan],
    })  # fmt: skip
    out = tmp_path / "d.parquet"
    assert generate_flow.write_parquet(df, out) == n
    lines = tmp_path / "d.jsonl"
    write_jsonl(df, lines)
    ref = _reference(lines, out)
    got, want = pq.read_table(out), pq.read_table(ref)
    assert got.equals(want)
    assert out.read_bytes() == ref.read_bytes()
    for c in ("start_ms", "latency_ms", "cost_usd", "bytes_in"):  # bit for bit (equals takes -0.0 for 0.0)
        a, b = (t.column(c).to_numpy(zero_copy_only=False) for t in (got, want))
        assert a.tobytes() == b.tobytes(), c
    assert got.column("source_line").to_pylist() == [4, 2, 3, 1, 5, 6]  # by request start, not by line
    row = dict(zip(got.column("source_line").to_pylist(), got.to_pylist(), strict=True))
    assert row[1]["request_id"] == "r 1" and row[1]["recipe"] == "c x" and row[1]["cost_usd"] is None
    assert row[1]["cpu_ms"] is None and row[1]["variant"] == "control" and row[1]["sample_rate"] == 1.0
    assert row[2]["request_id"] == 'r"2' and row[3]["request_id"] == "r\\3" and row[4]["variant"] == "x y"
    assert row[4]["recipe_version"] == 2**40


def test_spans_ingest_would_reject_are_refused_in_one_line(tmp_path: Path) -> None:
    """A window starting in 1971 reads as seconds (ingest rejects it; convert dropped every span and
    named its temporary file): refused before anything is written, naming the output and the first span."""
    out = tmp_path / "old.parquet"
    r = runner.invoke(app, ["generate", str(CHECKOUT / "recipe.yaml"), "-n", "5", "--start", "1971-01-01",
                            "-o", str(out)], env=WIDE)  # fmt: skip
    assert r.exit_code == 1, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1, r.output
    assert lines[0].startswith(f"error: {out}: ") and "would be rejected by ingest, the first (span 1)" in lines[0]
    assert "seconds, not epoch milliseconds" in lines[0] and "[bad-start]" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_sample_that_keeps_no_request_writes_an_empty_file(tmp_path: Path) -> None:
    """As ``-o x.jsonl`` writes an empty log (it was an error naming the temporary JSONL)."""
    out = tmp_path / "none.parquet"
    r = runner.invoke(app, ["generate", str(CHECKOUT / "recipe.yaml"), "-n", "1", "--sample-rate", "0.001",
                            "-o", str(out), "-f", "json"], env=WIDE)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["spans"] == 0
    t = pq.read_table(out)
    assert t.num_rows == 0 and t.column_names[:3] == ["request_id", "recipe", "recipe_version"]
    assert list(tmp_path.iterdir()) == [out]


# -- no scratch beside the output: every entry made in its folder, seen by inotify -------------------

_IN_CREATE, _IN_MOVED_TO, _IN_ISDIR = 0x100, 0x80, 0x40000000


def _watch(folder: Path) -> tuple[int, Any]:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    assert fd >= 0 and libc.inotify_add_watch(fd, str(folder).encode(), _IN_CREATE | _IN_MOVED_TO) >= 0
    return fd, libc


def _made(fd: int) -> list[tuple[str, bool]]:
    """The (name, is a folder) of each entry created in the watched folder, in order."""
    data = b""
    while True:
        try:
            got = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not got:
            break
        data += got
    out, at = [], 0
    while at < len(data):
        _, mask, _, size = struct.unpack_from("iIII", data, at)
        name = data[at + 16 : at + 16 + size].rstrip(b"\0").decode()
        if mask & _IN_CREATE:
            out.append((name, bool(mask & _IN_ISDIR)))
        at += 16 + size
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_no_scratch_file_beside_the_output(tmp_path: Path) -> None:
    """The only entry made beside ``-o x.parquet`` is the output's own temporary file, renamed over it
    (it was a folder holding the whole JSONL: 418 MB beside a 25 MB file at 100,000 requests, and
    convert's spool in it). The watch sees the JSONL path's folder, so it can fail."""
    folder = tmp_path / "out"
    folder.mkdir()
    fd, _ = _watch(folder)
    try:
        _generate(CHECKOUT / "recipe.yaml", folder / "g.parquet", "-n", "200", "--days", "1")
        made = _made(fd)
        lines = folder / "g.jsonl"
        _generate(CHECKOUT / "recipe.yaml", lines, "-n", "200", "--days", "1")
        _made(fd)
        partition.write_file(LogSource(paths=(lines,), memory_budget="off"), folder / "c.parquet")
        converted = _made(fd)
    finally:
        os.close(fd)
    assert len(made) == 1 and not made[0][1], made
    assert re.fullmatch(r"\.g\.parquet\..+\.tmp", made[0][0]), made
    assert sorted(p.name for p in folder.iterdir()) == ["c.parquet", "g.jsonl", "g.parquet"]
    assert any(is_dir for _, is_dir in converted), converted  # the watch sees what convert makes
