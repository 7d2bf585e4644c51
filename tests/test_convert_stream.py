"""`recipemut convert LOGS -o one.parquet`, streamed (recipemut/usecases/partition.py `write_file`): the
file is the span table ingest gives (its schema and pandas metadata, duplicates dropped), its rows
sorted by (request start, request_id, ingest order); memory holds a chunk, then a day; a failure
leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _convert_helpers import DAY, ROOT, T0, run
from _profile_helpers import line, span, write_lines

import recipemut.logs.parquet as parquet_mod
import recipemut.usecases.partition as partition
from recipemut.errors import InputFileError
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import parquet_bytes
from recipemut.usecases.convert import convert_logs
from recipemut.usecases.inputs import LogSource


@pytest.fixture(scope="module")
def three_days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`recipemut generate --days 3`, plus two duplicate spans (a request's first line again, later
    ending, and a line repeated) so that dropping duplicates is exercised."""
    folder = tmp_path_factory.mktemp("gen")
    log = folder / "three.jsonl"
    res = run("generate", str(ROOT / "recipes" / "checkout" / "recipe.yaml"), "-n", "900", "--days", "3",
               "--seed", "5", "-o", str(log))  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = log.read_text().splitlines()
    again = json.loads(lines[40])
    again["latency_ms"] += 500.0
    lines += [json.dumps(again), lines[4000]]
    log.write_text("\n".join(lines) + "\n")
    return log


def _in_request_order(table: pa.Table) -> pa.Table:
    """The in-memory conversion's table (ingest order) put in the one file's order, computed here with
    pandas: by the request's first span start, then request_id, then ingest order."""
    df = table.to_pandas()
    first = df.groupby("request_id", sort=False)["start_ms"].transform("min")
    order = pd.DataFrame({"f": first, "r": df["request_id"], "i": np.arange(len(df))}).sort_values(["f", "r", "i"])
    return table.take(pa.array(order.index.to_numpy()))


def _in_memory(log: Path) -> pa.Table:
    """What `convert -o one.parquet` wrote before it streamed (the frame of read_logs, through pyarrow,
    as one Parquet file), read back."""
    df, _ = read_logs([log], memory_budget="off")
    return pq.read_table(pa.BufferReader(parquet_bytes(pa.Table.from_pandas(df, preserve_index=False))))


def test_the_file_is_the_in_memory_table_in_request_order(three_days: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(parquet_mod, "BATCH_ROWS", 2000)
    monkeypatch.setattr(partition, "BATCH_ROWS", 2000)
    out = tmp_path / "one.parquet"
    run = convert_logs(LogSource.of(three_days, memory_budget="off"), out, chunk_bytes=256 << 10)
    want = _in_memory(three_days)
    got = pq.read_table(out)
    assert got.schema.equals(want.schema, check_metadata=True)  # pandas' dtypes: category, Int64, str
    assert got.equals(_in_request_order(want))
    assert run.rows == got.num_rows == want.num_rows
    _, report = read_logs([three_days], memory_budget="off")
    assert report.duplicates == run.report.duplicates == 2
    assert run.report.to_dict() == report.to_dict()
    meta = pq.read_metadata(out)  # cut as the in-memory conversion cut it: 2,000 rows a row group
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sizes == [2000] * (got.num_rows // 2000) + [got.num_rows % 2000]


def test_profile_of_the_file_is_the_profile_of_the_log(three_days: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr("recipemut.logs.stream.CHUNK_BYTES", 512 << 10)
    out = tmp_path / "one.parquet"
    res = run("convert", str(three_days), "-o", str(out), "-f", "json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ingest"]["duplicates"] == 2
    recipe = ROOT / "recipes" / "checkout" / "recipe.yaml"
    a = json.loads(run("profile", str(recipe), "--logs", str(three_days), "-f", "json").stdout)
    b = json.loads(run("profile", str(recipe), "--logs", str(out), "-f", "json").stdout)
    assert a["ops"] == b["ops"]
    assert (a["summary"]["duplicates"], b["summary"]["duplicates"]) == (2, 0)  # dropped by convert
    drop = ("text", "files", "duplicates")
    assert {k: v for k, v in a["summary"].items() if k not in drop} == {
        k: v for k, v in b["summary"].items() if k not in drop
    }


@pytest.mark.parametrize("out", ["one.parquet", "days/"])
def test_a_memory_budget_samples_as_ingest_does(three_days: Path, tmp_path: Path, out: str) -> None:
    # --memory-budget, when given, samples the logs that would not fit as read_logs would, one file or a folder
    res = run("convert", str(three_days), "-o", f"{tmp_path}/{out}", "--memory-budget", "1M", "-f", "json")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    _, want = read_logs([three_days], memory_budget="1M")
    assert want.sample is not None and want.sample.automatic
    assert got["ingest"]["sampling"] == want.sample.to_dict()
    assert got["rows"] == got["ingest"]["spans_kept"] < 13_000 * want.sample.fraction * 1.5
    assert any(n.startswith(f"sampled {want.sample.fraction:.4g} of requests") for n in got["ingest"]["notes"])


def _timeless(data: Any) -> Any:
    """A plan's JSON without what the clock gives (when it was made, how long the search took)."""
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k not in ("created", "wall_s", "elapsed_s", "inputs_s")}
    return [_timeless(v) for v in data] if isinstance(data, list) else data


def test_suggest_on_the_file_is_suggest_on_the_log(tmp_path: Path) -> None:
    # the file's rows are in request order, not the log's: the plan and its seeded intervals do not move
    recipe, logs = ROOT / "recipes" / "checkout" / "recipe.yaml", ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
    out = tmp_path / "checkout.parquet"
    assert run("convert", str(logs), "-o", str(out)).exit_code == 0
    assert pq.read_table(out, columns=["source_line"]).column(0).to_pylist() != sorted(
        pq.read_table(out, columns=["source_line"]).column(0).to_pylist()
    )  # the order did change
    a = run("suggest", str(recipe), "--logs", str(logs), "-f", "json", "-q")
    b = run("suggest", str(recipe), "--logs", str(out), "-f", "json", "-q")
    assert a.exit_code == b.exit_code == 0, b.output
    plan_a, plan_b = json.loads(a.stdout), json.loads(b.stdout)
    assert plan_a["mutations"] and _timeless(plan_a) == _timeless(plan_b)


def _the_file(writer: pq.ParquetWriter) -> bool:
    """Whether ``writer`` writes the one file (its schema carries pandas' metadata), not a spool file."""
    return b"pandas" in (writer.schema.metadata or {})


def test_memory_holds_a_chunk_then_a_day(three_days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chunks: list[int] = []
    sorted_rows: list[int] = []
    written: list[int] = []
    chunked, sort, write_table = partition.checked_chunks, partition.sorted_day, pq.ParquetWriter.write_table

    def spy_chunks(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for got in chunked(*args, **kwargs):
            chunks.append(got[0].num_rows)
            yield got

    def spy_sort(parts: list[pa.Table], requests: pa.Table) -> pa.Table:
        sorted_rows.append(sum(p.num_rows for p in parts))
        return sort(parts, requests)

    def spy_write(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        if _the_file(self):
            written.append(table.num_rows)
        write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(partition, "checked_chunks", spy_chunks)
    monkeypatch.setattr(partition, "sorted_day", spy_sort)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", spy_write)
    monkeypatch.setattr(parquet_mod, "BATCH_ROWS", 1000)
    monkeypatch.setattr(partition, "BATCH_ROWS", 1000)
    run = convert_logs(LogSource.of(three_days, memory_budget="off"), tmp_path / "one.parquet", chunk_bytes=64 << 10)

    raw = pd.read_json(three_days, lines=True)  # every line, duplicates in
    first = raw.groupby("request_id")["start_ms"].transform("min").to_numpy()
    day = np.floor(first / DAY).astype(int)
    per_day = np.bincount(day - day.min())
    assert len(per_day) == 3 and per_day.sum() == run.rows + run.report.duplicates
    # read chunk by chunk (each far below a day), never the whole log at once
    assert len(chunks) > 40 and max(chunks) < per_day.min() / 10
    # sorted one day at a time, the last first: each day's requests' spans, no more
    assert sorted_rows == per_day[::-1].tolist()
    # and written to the file a row group at a time
    assert sum(written) == run.rows and max(written) == 1000 and len(written) == -(-run.rows // 1000)


def _crossing(tmp_path: Path) -> Path:
    """Requests begun just before midnight, each with a span after it (in a later day's spool)."""
    lines = []
    for i in range(20):
        start = T0 + DAY - 10_000 + 500 * i
        lines.append(line(span(f"q{i:02d}", "load", start, 10)))
        lines.append(line(span(f"q{i:02d}", "left", start + 20_000, 30)))  # after midnight
    return write_lines(tmp_path / "cross.jsonl", lines)


@pytest.mark.parametrize("folder", [False, True])
def test_a_request_across_midnight_keeps_its_spans_in_ingest_order(tmp_path: Path, folder: bool) -> None:
    log = _crossing(tmp_path)
    out = f"{tmp_path / 'days'}/" if folder else str(tmp_path / "one.parquet")
    res = run("convert", str(log), "-o", out, "-f", "json")
    assert res.exit_code == 0, res.output
    files = json.loads(res.stdout).get("files") or [out]
    t = pq.read_table(files[0])
    assert t.column("request_id").to_pylist()[:4] == ["q00", "q00", "q01", "q01"]
    assert t.column("op").to_pylist() == ["load", "left"] * 20  # the late span after its request's first
    assert t.column("source_line").to_pylist() == list(range(1, 41))


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_while_writing_leaves_nothing_and_the_old_file_as_it_was(
    three_days: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    out = tmp_path / "one.parquet"
    assert run("convert", str(three_days), "-o", str(out)).exit_code == 0
    before = out.read_bytes()
    calls: list[int] = []
    write_table = pq.ParquetWriter.write_table

    def failing(self: pq.ParquetWriter, table: pa.Table, *args: Any, **kwargs: Any) -> None:
        if _the_file(self):
            calls.append(table.num_rows)
            if len(calls) == 2:  # in the middle: a row group is written, the next fails
                raise error
        write_table(self, table, *args, **kwargs)

    monkeypatch.setattr(parquet_mod, "BATCH_ROWS", 3000)
    monkeypatch.setattr(partition, "BATCH_ROWS", 3000)
    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing)
    if isinstance(error, OSError):
        res = run("convert", str(three_days), "-o", str(out), "--force")
        assert res.exit_code == 1 and "Traceback" not in res.output
        assert res.stderr.strip().splitlines() == [
            f"error: {out}: cannot write the Parquet file: No space left on device; nothing was changed"
        ]
    else:
        with pytest.raises(KeyboardInterrupt):
            convert_logs(LogSource.of(three_days, memory_budget="off"), out, force=True)
    assert len(calls) == 2
    assert out.read_bytes() == before
    assert _leftovers(tmp_path, {"one.parquet"}) == []  # no temporary file, no folder of parts
    new = tmp_path / "new.parquet"
    calls.clear()
    with pytest.raises((InputFileError, KeyboardInterrupt)):  # InputFileError: the OSError, said in one line
        convert_logs(LogSource.of(three_days, memory_budget="off"), new)
    assert not new.exists() and _leftovers(tmp_path, {"one.parquet"}) == []
