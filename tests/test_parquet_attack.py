"""Parquet logs an attacker built (third pass): rows of 40 KB request ids under a memory budget, an
integer past 2**53 in a number column, NaN in a required number. Each Parquet row is read and
checked as its JSONL line would be, and a memory budget bounds what wide rows take."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from recipemut.logs.distributed import read_partitioned
from recipemut.logs.ingest import read_logs
from recipemut.logs.parquet import dictionary_page_size, parquet_batches, read_plan, stored_bytes
from recipemut.logs.sample import PARQUET_EXPANSION, PARQUET_ROW_BYTES, estimated_memory, sampler_for
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import Recipe

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "checkout" / "recipe.yaml"
T0 = 1763942652129.0
N = 1000


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe(RECIPE)


def _wide(path: Path, rows: int = 400, id_bytes: int = 20_000, **write: object) -> Path:
    """Spans whose request ids are ``id_bytes`` bytes each (as the attacker's 40 KB ones), one row group."""
    ids = [os.urandom(id_bytes // 2).hex() for _ in range(rows)]
    table = pa.table(
        {
            "request_id": ids,
            "op": ["load_cart"] * rows,
            "start_ms": np.arange(rows, dtype="float64") * 1000 + T0,
            "latency_ms": np.full(rows, 5.0),
            "status": ["ok"] * rows,
        }
    )
    pq.write_table(table, path, **({"compression": "none", "use_dictionary": False} | write))  # type: ignore[arg-type]
    return path


# ---- 1. a memory budget bounds wide rows --------------------------------------------------------


def test_wide_rows_come_in_batches_of_about_the_budgets_chunk(tmp_path: Path) -> None:
    p = _wide(tmp_path / "wide.parquet")  # 400 rows of 20 KB: 8 MB, one row group
    chunk = 1 << 20
    sizes = [(t.num_rows, t.nbytes) for t, _ in parquet_batches(p, "wide.parquet", batch_bytes=chunk)]
    assert sum(n for n, _ in sizes) == 400
    assert len(sizes) > 5  # before: one batch of the whole row group (65,536 rows allowed)
    assert max(b for _, b in sizes) <= 1.1 * chunk
    # read as plain strings a page at a time: as dictionaries, the group's 8 MB of distinct ids were one
    # dictionary held for the whole group
    [(groups, as_dictionaries, rows)] = read_plan(pq.ParquetFile(p).metadata, ["request_id"], 1 << 16, chunk)
    assert groups == [0] and not as_dictionaries and 40 <= rows <= 52


def test_wide_rows_after_a_dictionary_page_are_read_plain_within_its_bound(tmp_path: Path) -> None:
    """pyarrow's default writer: a dictionary page of 1 MiB, then plain pages. Read as dictionaries, the
    group's distinct ids piled up in one dictionary (the repro's file: 1.56 GB at 500M, now 815 MB)."""
    p = _wide(tmp_path / "wide.parquet", compression="zstd", use_dictionary=True, dictionary_pagesize_limit=200_000,
              write_batch_size=5)  # fmt: skip
    meta = pq.ParquetFile(p).metadata
    chunk = meta.row_group(0).column(0)
    dict_page = dictionary_page_size(p, chunk)
    assert chunk.has_dictionary_page and dict_page is not None and 200_000 <= dict_page < 300_000
    [(_, as_dictionaries, rows)] = read_plan(meta, ["request_id"], 1 << 16, 4 << 20, p)
    # a row may expand to the dictionary's longest value: no more rows than the page's bytes allow
    assert not as_dictionaries and rows == (4 << 20) // (8 + dict_page)
    assert read_plan(meta, ["request_id"], 1 << 16, 4 << 20)[0][1]  # the page not told: as dictionaries
    parts = list(parquet_batches(p, "wide.parquet", batch_bytes=4 << 20))
    assert sum(t.num_rows for t, _ in parts) == 400 and max(t.nbytes for t, _ in parts) <= 4 << 20


def test_a_bomb_behind_a_dictionary_page_stays_bounded(tmp_path: Path) -> None:
    """One 1 MB value repeated (a few KB on disk) before wide plain rows: batches count the dictionary
    page's bytes a row, so none holds more than the bound when the repeated value expands."""
    big = "x" * 1_000_000
    ids = [big] * 200 + [os.urandom(10_000).hex() for _ in range(400)]
    t = pa.table({"request_id": ids, "op": ["load_cart"] * 600, "start_ms": np.full(600, T0),
                  "latency_ms": np.full(600, 5.0), "status": ["ok"] * 600})  # fmt: skip
    pq.write_table(t, tmp_path / "b.parquet", compression="zstd", dictionary_pagesize_limit=2_000_000,
                   write_batch_size=50)  # fmt: skip
    parts = list(parquet_batches(tmp_path / "b.parquet", "b.parquet", batch_bytes=8 << 20))
    assert sum(t.num_rows for t, _ in parts) == 600
    assert max(t.nbytes for t, _ in parts) <= 8 << 20


def test_wide_batches_keep_the_rows_and_their_numbers(tmp_path: Path) -> None:
    p = _wide(tmp_path / "wide.parquet", rows=300)
    parts = list(parquet_batches(p, "wide.parquet", batch_bytes=1 << 20))
    whole = pq.read_table(p)
    got = pa.concat_tables([t for t, _ in parts])
    assert got.column("request_id").to_pylist() == whole.column("request_id").to_pylist()
    assert np.concatenate([n for _, n in parts]).tolist() == list(range(1, 301))


def test_normal_rows_keep_their_batches(tmp_path: Path) -> None:
    """A log of ordinary spans (short ids, dictionary pages) is read as before: as dictionaries, 65,536 rows a batch."""
    n = 200_000
    t = pa.table({"request_id": [f"r{i // 14}" for i in range(n)], "op": ["load_cart"] * n,
                  "start_ms": np.full(n, T0), "latency_ms": np.full(n, 5.0), "status": ["ok"] * n})  # fmt: skip
    pq.write_table(t, tmp_path / "n.parquet")
    plan = read_plan(pq.ParquetFile(tmp_path / "n.parquet").metadata, t.column_names, 1 << 16, 64 << 20)
    assert plan == [([0], True, 1 << 16)]


def test_the_estimate_counts_a_wide_files_bytes(tmp_path: Path) -> None:
    p = _wide(tmp_path / "wide.parquet")  # 400 rows: 304 KB by the row count alone
    est = estimated_memory([p], {p: "parquet"})
    stored = stored_bytes(pq.ParquetFile(p).metadata)
    assert stored > 8_000_000
    assert est == stored * PARQUET_EXPANSION > 400 * PARQUET_ROW_BYTES
    # and a budget under it samples the file (before: it fit by its rows, and was read whole)
    sampler, why = sampler_for([p], None, "16M")
    assert sampler is not None and sampler.fraction < 0.6 and "over the budget" in why
    # a file of ordinary spans is still estimated by its rows
    n = 50_000
    t = pa.table({"request_id": [f"r{i}" for i in range(n)], "op": ["a"] * n, "start_ms": np.full(n, T0),
                  "latency_ms": np.full(n, 5.0), "status": ["ok"] * n})  # fmt: skip
    pq.write_table(t, tmp_path / "n.parquet")
    assert estimated_memory([tmp_path / "n.parquet"], {tmp_path / "n.parquet": "parquet"}) == n * PARQUET_ROW_BYTES


def test_a_sampled_read_of_wide_rows_keeps_the_sample(tmp_path: Path, recipe: Recipe) -> None:
    p = _wide(tmp_path / "wide.parquet", rows=600)
    df, rep = read_logs([p], recipe=recipe, memory_budget="16M")
    assert rep.sample is not None and rep.sample.automatic
    assert rep.sample.requests_total == 600 and 0 < len(df) < 600


def test_the_dask_engines_estimate_counts_a_wide_files_bytes(tmp_path: Path, recipe: Recipe) -> None:
    p = _wide(tmp_path / "wide.parquet", rows=600)
    _, rep, _ = read_partitioned([p], recipe=recipe, engine="local", memory_budget="16M")
    assert rep.sample is not None and rep.sample.automatic and rep.sample.fraction < 0.6


# ---- 2. and 3. a bad value is one rejected row, as in JSONL ------------------------------------


def _rows(column: str, value: object, kind: pa.DataType) -> dict[str, pa.Array]:
    starts = [int(T0) + i for i in range(N)]
    cols: dict[str, list[object]] = {
        "request_id": [f"r{i}" for i in range(N)], "op": ["load_cart"] * N, "start_ms": starts,
        "latency_ms": [5] * N, "status": ["ok"] * N, "cost_usd": [1] * N,
    }  # fmt: skip
    cols[column][3] = value
    types = {"start_ms": kind, "latency_ms": kind, "cost_usd": kind}
    return {k: pa.array(v, types.get(k, pa.string())) for k, v in cols.items()}


def _jsonl_twin(path: Path, cols: dict[str, pa.Array]) -> Path:
    rows = pa.table(cols).to_pylist()
    text = "\n".join(json.dumps(r, allow_nan=True) for r in rows) + "\n"
    path.write_text(text)
    return path


CASES = [
    ("latency_ms", 1 << 62, pa.int64(), "bad-latency"),
    ("start_ms", 1 << 62, pa.int64(), "bad-start"),
    ("cost_usd", 1 << 62, pa.int64(), "bad-value"),
    ("latency_ms", (1 << 64) - 1, pa.uint64(), "bad-latency"),
    ("latency_ms", float("nan"), pa.float64(), "bad-latency"),
    ("start_ms", float("nan"), pa.float64(), "bad-start"),
]


@pytest.mark.parametrize(("column", "value", "kind", "reason"), CASES)
def test_one_bad_value_is_one_rejected_row_as_in_jsonl(
    tmp_path: Path, recipe: Recipe, column: str, value: object, kind: pa.DataType, reason: str
) -> None:
    cols = _rows(column, value, kind)
    twin = _jsonl_twin(tmp_path / "one.jsonl", cols)
    # NaN where an optional number belongs is how pandas writes it absent: not a rejected row
    if column != "cost_usd":
        cols["cost_usd"] = pa.array([float("nan") if i == 5 else 1.0 for i in range(N)])
    p = tmp_path / "one.parquet"
    pq.write_table(pa.table(cols), p)
    _, jrep = read_logs([twin], recipe=recipe)
    df, rep = read_logs([p], recipe=recipe)
    assert len(df) == N - 1 and rep.rejected == {reason: 1}
    assert df["cost_usd"].isna().sum() == (column != "cost_usd")
    [got], [want] = rep.examples, jrep.examples
    assert (got.line, got.reason, got.message) == (want.line, want.reason, want.message) == (4, reason, want.message)
    assert want.message.startswith(f"{column} is ")
    # the partitioned engines read Parquet partitions with the same conform
    _, prep, _ = read_partitioned([p], recipe=recipe, engine="local")
    assert prep.rejected == {reason: 1}
    assert [(e.line, e.reason, e.message) for e in prep.examples] == [(4, reason, want.message)]


def test_the_partitioned_engines_read_wide_rows_a_slice_at_a_time(
    tmp_path: Path, recipe: Recipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker read its partition's row groups whole (the repro: 2.2 GB at --engine dask), then checked
    them; it now conforms, checks and reduces each slice of about READ_BATCH_BYTES before the next."""
    from recipemut.logs import distributed

    p = _wide(tmp_path / "wide.parquet", rows=300)
    seen: list[int] = []
    real = distributed.conform

    def conform(batch: pa.Table, name: str) -> pa.Table:
        seen.append(batch.num_rows)
        return real(batch, name)

    monkeypatch.setattr(distributed, "conform", conform)
    monkeypatch.setattr(distributed, "READ_BATCH_BYTES", 1 << 20, raising=False)
    _, rep, _ = read_partitioned([p], recipe=recipe, engine="local", sample_requests=1)
    assert rep.spans_kept == 300 and sum(seen) == 300
    assert len(seen) > 5 and max(seen) <= 60


def test_a_sampled_local_read_takes_the_budgets_chunk(
    tmp_path: Path, recipe: Recipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest hands the sampler's chunk (1/16 of the budget) to the Parquet reader as its batch bytes."""
    from recipemut.logs import ingest

    p = _wide(tmp_path / "wide.parquet", rows=600)  # 12 MB: about 48 MB in memory, over the budget
    asked: list[int | None] = []
    real = ingest.parquet_batches

    def batches(path: Path, name: str, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        asked.append(kw.get("batch_bytes"))  # type: ignore[arg-type]
        return real(path, name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "parquet_batches", batches)
    read_logs([p], recipe=recipe, memory_budget="32M")
    assert asked == [2 << 20]  # 32 MiB / 16
