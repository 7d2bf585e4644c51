"""Parquet logs and ``recipemut convert`` under attack.

Held (regression guards): a truncated file, a column of the wrong type, a FIFO named
``*.parquet`` or a symbolic-link loop in a logs folder, ``convert -o`` onto one of its inputs, onto
a link or onto an existing file that is not Parquet (a recipe), ``--sample-requests`` outside
(0, 1] or not a number, ``--memory-budget`` garbage: each is one line and exit 1 or 2, or the bad
entry is left out. A row group that grows a thousand-fold in memory (an 11 MB file of 100 M rows
took past 120 s and 5.5 GB) is refused at the bound of a gzip log, whether its strings are an
arrow dictionary, a Parquet dictionary or plain, and rows are read in bounded batches.

The dask engine reads a row group in bounded batches too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[2] / "recipes" / "checkout"
RECIPE = ROOT / "recipe.yaml"
LOGS = ROOT / "logs.jsonl.gz"
runner = CliRunner()


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pq") / "good.parquet"
    result = runner.invoke(app, ["convert", str(LOGS), "-o", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return out


def _profile(logs: Path, *extra: str) -> object:
    return runner.invoke(app, ["profile", str(RECIPE), "--logs", str(logs), "-q", *extra], env={"COLUMNS": "200"})


def test_a_truncated_parquet_file_is_one_error(tmp_path: Path, good: Path) -> None:
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:5000])
    result = _profile(cut)
    assert result.exit_code == 1 and "not a readable Parquet file" in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize(("column", "values"), [("latency_ms", "x"), ("start_ms", [1])])
def test_a_column_of_the_wrong_type_is_one_error_naming_it(
    tmp_path: Path, good: Path, column: str, values: object
) -> None:
    table = pq.read_table(good)
    table = table.set_column(table.column_names.index(column), column, pa.array([values] * len(table)))
    bad = tmp_path / "bad.parquet"
    pq.write_table(table, bad)
    result = _profile(bad)
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert f"Parquet column '{column}'" in result.output  # type: ignore[attr-defined]


def test_a_fifo_and_a_link_loop_in_a_logs_folder_are_not_followed(tmp_path: Path, good: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.parquet").write_bytes(good.read_bytes())
    os.mkfifo(folder / "f.parquet")
    (folder / "loop").symlink_to("..")
    (folder / "self.parquet").symlink_to("self.parquet")
    result = _profile(folder)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["nan", "0", "1.5", "-1", "inf", ""])
def test_sample_requests_outside_0_1_is_a_usage_error(good: Path, value: str) -> None:
    result = _profile(good, "--sample-requests", value)
    assert result.exit_code == 2 and "--sample-requests" in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("value", ["garbage", "-5", "nan", "1e30"])
def test_memory_budget_garbage_is_a_usage_error(good: Path, value: str) -> None:
    result = _profile(good, "--memory-budget", value)
    assert result.exit_code == 2 and "is not a size" in result.output  # type: ignore[attr-defined]


def test_convert_onto_its_input_or_a_link_is_refused(tmp_path: Path, good: Path) -> None:
    data = good.read_bytes()
    src = tmp_path / "in.parquet"
    src.write_bytes(data)
    link = tmp_path / "link.parquet"
    link.symlink_to(src)
    for out in (src, link):
        result = runner.invoke(app, ["convert", str(src), "-o", str(out)], env={"COLUMNS": "200"})
        assert result.exit_code == 1, result.output
    assert src.read_bytes() == data


def test_convert_does_not_overwrite_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    data = RECIPE.read_bytes()
    recipe.write_bytes(data)
    result = runner.invoke(app, ["convert", str(LOGS), "-o", str(recipe)], env={"COLUMNS": "200"})
    assert recipe.read_bytes() == data
    assert result.exit_code == 2  # not a Parquet name: a usage error before any work
    lake = tmp_path / "lake.parquet"  # a Parquet name over a file that is not Parquet: refused by its content
    lake.write_bytes(data)
    result = runner.invoke(app, ["convert", str(LOGS), "-o", str(lake)], env={"COLUMNS": "200"})
    assert lake.read_bytes() == data
    assert result.exit_code == 1 and "is not Parquet" in result.output, result.output


def test_a_row_group_that_inflates_a_thousand_fold_is_refused(tmp_path: Path) -> None:
    rows = 5_000_000
    zeros = pa.array(np.zeros(rows, dtype=np.int32))
    table = pa.table(
        {
            "request_id": pa.DictionaryArray.from_arrays(zeros, pa.array(["r" * 1000])),
            "op": pa.DictionaryArray.from_arrays(zeros, pa.array(["charge_card"])),
            "start_ms": pa.array(np.full(rows, 1.7e12)),
            "latency_ms": pa.array(np.ones(rows)),
            "status": pa.DictionaryArray.from_arrays(zeros, pa.array(["ok"])),
        }
    )
    bomb = tmp_path / "bomb.parquet"
    pq.write_table(table, bomb, compression="zstd", row_group_size=rows)
    assert bomb.stat().st_size < 2_000_000
    result = _profile(bomb)
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("dictionary", [True, False])
def test_a_long_value_repeated_on_many_rows_is_refused_whatever_its_encoding(tmp_path: Path, dictionary: bool) -> None:
    # the column is stored as plain strings (no arrow dictionary type to read it back as one): encoded
    # as a Parquet dictionary it is a few KB whose pages say so little; plainly encoded, its pages
    # say 200 MB uncompressed. Either grows past 64 MiB in memory (the old reader expanded it whole)
    rows = 200_000
    table = pa.table(
        {
            "request_id": pa.array(["r" * 1000] * rows, pa.large_string()),
            "op": pa.array(["charge_card"] * rows),
            "start_ms": pa.array(np.full(rows, 1.7e12)),
            "latency_ms": pa.array(np.ones(rows)),
            "status": pa.array(["ok"] * rows),
        }
    )
    bomb = tmp_path / "bomb.parquet"
    pq.write_table(table, bomb, compression="zstd", use_dictionary=dictionary, row_group_size=rows)
    assert bomb.stat().st_size < 1_000_000
    result = _profile(bomb)
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    lines = [line for line in result.output.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1 and "possible Parquet bomb" in lines[0] and str(bomb) in lines[0]
    assert ("in memory" if dictionary else "uncompressed") in lines[0]


def test_batches_are_bounded_and_numbered_through_row_groups(tmp_path: Path, good: Path) -> None:
    # a row group of 171,306 rows is read in batches of at most 65,536 (it was read in one), numbered
    # on through the file
    from recipemut.logs.parquet import parquet_batches

    table = pq.read_table(good)
    many = tmp_path / "many.parquet"
    pq.write_table(pa.concat_tables([table] * 4), many, row_group_size=3 * table.num_rows)
    sizes, numbers = [], []
    for t, n in parquet_batches(many, "many"):
        sizes.append(t.num_rows)
        numbers.append(n)
    assert max(sizes) <= 1 << 16 and sum(sizes) == 4 * table.num_rows
    assert (np.concatenate(numbers) == np.arange(1, 4 * table.num_rows + 1)).all()


def test_the_dask_engine_refuses_a_row_group_that_grows_past_the_bound(tmp_path: Path) -> None:
    pytest.importorskip("dask")
    rows = 200_000
    table = pa.table(
        {
            "request_id": pa.array(["r" * 1000] * rows, pa.large_string()),
            "op": pa.array(["charge_card"] * rows),
            "start_ms": pa.array(np.full(rows, 1.7e12)),
            "latency_ms": pa.array(np.ones(rows)),
            "status": pa.array(["ok"] * rows),
        }
    )
    bomb = tmp_path / "bomb.parquet"
    pq.write_table(table, bomb, compression="zstd", row_group_size=rows)
    result = _profile(bomb, "--engine", "dask")
    assert result.exit_code == 1 and "possible Parquet bomb" in result.output  # type: ignore[attr-defined]
