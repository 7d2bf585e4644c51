"""``generate`` and ``convert`` never write over what a user has unless ``--force``
(recipemut/usecases/overwrite.py, recipemut/usecases/generate.py, recipemut/usecases/convert.py,
recipemut/usecases/partition.py): refused in one line naming the file, exit 1, nothing touched and
nothing generated or read first; a folder refused for the day files it would write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _convert_helpers import RECIPE, lines
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe
from recipemut.usecases import generate as generate_flow
from recipemut.usecases import partition
from recipemut.usecases.overwrite import NAMED, refuse_existing_days, size_words

WIDE = {"COLUMNS": "200"}
runner = CliRunner()


def _log(path: Path, n: int = 60, days: float = 3.0, seed: int = 1) -> Path:
    write_jsonl(generate_spans(load_recipe(RECIPE), n, seed=seed, duration_s=days * 86400.0), path)
    return path


def _state(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _never(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("work was done before the output was refused")


# generate


@pytest.mark.parametrize("name", ["big.jsonl.gz", "big.jsonl", "big.parquet"])
def test_generate_refuses_an_existing_output_before_generating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    out = tmp_path / name
    out.write_bytes(b"a log of 300,096 spans\n" * 1000)
    monkeypatch.setattr(generate_flow, "generate_spans", _never)
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", "10", "-o", str(out)], env=WIDE)
    assert r.exit_code == 1, r.output
    assert lines(r.output) == [
        f"error: --out {out}: already exists (23 KB); nothing was written: give --force to replace it, or name "
        "another file"
    ]
    assert out.read_bytes() == b"a log of 300,096 spans\n" * 1000
    assert _state(tmp_path) == {name: out.read_bytes()}  # no temporary file either


def test_generate_force_replaces_and_an_empty_file_is_written_without_it(tmp_path: Path) -> None:
    out = tmp_path / "g.jsonl"
    out.write_text("old\n")
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", "10", "-o", str(out), "--force"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert out.read_text().startswith('{"request_id"')
    made = tmp_path / "tmp.abc.jsonl"
    made.touch()  # what mktemp makes: nothing to lose
    r = runner.invoke(app, ["generate", str(RECIPE), "-n", "10", "-o", str(made)], env=WIDE)
    assert r.exit_code == 0, r.output
    assert made.stat().st_size > 0


# convert, one file


def test_convert_refuses_an_existing_parquet_file_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path / "small.jsonl")
    keep = tmp_path / "keepme.parquet"
    assert runner.invoke(app, ["convert", str(log), "-o", str(keep)], env=WIDE).exit_code == 0
    before = _state(tmp_path)
    monkeypatch.setattr(partition, "_spool_logs", _never)
    r = runner.invoke(app, ["convert", str(log), "-o", str(keep)], env=WIDE)
    assert r.exit_code == 1, r.output
    size = size_words(len(before["keepme.parquet"]))
    assert lines(r.output) == [
        f"error: --out {keep}: already exists ({size}); nothing was written: give --force to replace it, or name "
        "another file"
    ]
    assert _state(tmp_path) == before


def test_convert_force_replaces_a_parquet_file(tmp_path: Path) -> None:
    keep = tmp_path / "keepme.parquet"
    big, small = _log(tmp_path / "big.jsonl", n=200), _log(tmp_path / "small.jsonl", n=10, seed=2)
    assert runner.invoke(app, ["convert", str(big), "-o", str(keep)], env=WIDE).exit_code == 0
    first = keep.read_bytes()
    r = runner.invoke(app, ["convert", str(small), "-o", str(keep), "--force"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert keep.read_bytes() != first and keep.read_bytes()[:4] == b"PAR1"


# convert, a folder


def test_convert_into_a_folder_refuses_the_day_files_it_would_write(tmp_path: Path) -> None:
    log = _log(tmp_path / "day.jsonl", n=200, days=5.0)
    lake = tmp_path / "lake"
    assert runner.invoke(app, ["convert", str(log), "-o", f"{lake}/"], env=WIDE).exit_code == 0
    before = _state(lake)
    assert len(before) == 5
    r = runner.invoke(app, ["convert", str(log), "-o", f"{lake}/"], env=WIDE)
    assert r.exit_code == 1, r.output
    names = sorted(before)
    assert lines(r.output) == [
        f"error: --out {lake}: 5 day files it would write are there already ({', '.join(names[:3])} and 2 more); "
        "nothing was written: give --force to replace them, or name another folder"
    ]
    assert _state(lake) == before  # no day replaced, no spool folder left
    r = runner.invoke(app, ["convert", str(log), "-o", f"{lake}/", "--force"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert "replacing 5 already there" in " ".join(r.stderr.split())


def test_an_empty_day_file_is_written_over_without_force_as_an_empty_out_is(tmp_path: Path) -> None:
    log = _log(tmp_path / "day.jsonl", n=30, days=1.0)
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "spans-2025-11-24.parquet").touch()  # what a crashed run or mktemp leaves: nothing to lose
    r = runner.invoke(app, ["convert", str(log), "-o", f"{lake}/"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert (lake / "spans-2025-11-24.parquet").read_bytes()[:4] == b"PAR1"


def test_a_folder_whose_days_are_other_days_is_written_without_force(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = _log(tmp_path / "first.jsonl", n=30, days=1.0)
    assert runner.invoke(app, ["convert", str(first), "-o", f"{lake}/"], env=WIDE).exit_code == 0
    later = tmp_path / "later.jsonl"
    write_jsonl(
        generate_spans(load_recipe(RECIPE), 30, seed=3, duration_s=86400.0, start_ms=1_767_225_600_000.0), later
    )  # 2026-01-01: no day in common
    r = runner.invoke(app, ["convert", str(later), "-o", f"{lake}/"], env=WIDE)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in lake.iterdir()) == ["spans-2025-11-24.parquet", "spans-2026-01-01.parquet"]


def test_the_days_named_are_the_first_few_and_a_count(tmp_path: Path) -> None:
    days = [tmp_path / f"spans-2025-11-{d:02d}.parquet" for d in range(1, 8)]
    for p in days[1:]:
        p.write_bytes(b"PAR1")
    with pytest.raises(Exception, match=r"6 day files it would write are there already") as e:
        refuse_existing_days(tmp_path, days, force=False)
    assert f"and {6 - NAMED} more" in str(e.value) and days[0].name not in str(e.value)
    refuse_existing_days(tmp_path, days, force=True)  # nothing said under --force


@pytest.mark.parametrize("command", ["generate", "convert"])
def test_force_is_in_the_help(command: str) -> None:
    r = runner.invoke(app, [command, "-h"], env=WIDE)
    assert r.exit_code == 0 and "--force" in r.output


def test_convert_never_writes_over_a_log_a_glob_names_nor_where_the_glob_would_read_it(tmp_path: Path) -> None:
    """The inputs were the glob's text, not the files it matched: ``--force`` wrote over one of them."""
    lake = tmp_path / "days"
    assert runner.invoke(app, ["convert", str(_log(tmp_path / "small.jsonl")), "-o", f"{lake}/"]).exit_code == 0
    before = _state(lake)
    day = sorted(lake.iterdir())[0]
    r = runner.invoke(app, ["convert", f"{lake}/*.parquet", "-o", str(day), "--force"], env=WIDE)
    assert r.exit_code == 1 and "is one of the logs" in r.output, r.output
    r = runner.invoke(app, ["convert", f"{lake}/*.parquet", "-o", str(lake / "all.parquet")], env=WIDE)
    assert r.exit_code == 1 and f"matches {lake}/*.parquet, a pattern of the logs" in r.output, r.output
    assert _state(lake) == before
    r = runner.invoke(app, ["convert", f"{lake}/*.parquet", "-o", str(tmp_path / "all.parquet")], env=WIDE)
    assert r.exit_code == 0, r.output
