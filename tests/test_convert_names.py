"""``recipemut convert -o``: what it may be named and what it may replace (recipemut/commands/convert.py,
recipemut/usecases/convert.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

LOGS = Path(__file__).resolve().parents[1] / "recipes" / "checkout" / "logs.jsonl.gz"
runner = CliRunner()


def _convert(out: Path | str, *extra: str) -> tuple[int, str]:
    result = runner.invoke(app, ["convert", str(LOGS), "-o", str(out), *extra], env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz", "c", "c.parquet.txt"])
def test_a_new_file_not_named_parquet_is_a_usage_error_before_any_work(tmp_path: Path, name: str) -> None:
    # it was written as Parquet under a name that says JSONL
    code, output = _convert(tmp_path / name)
    assert code == 2, output
    assert "*.parquet, *.parq or *.pq" in output and "--out" in output
    assert not (tmp_path / name).exists()


def test_an_empty_file_not_named_parquet_is_a_usage_error_and_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    out.touch()
    code, output = _convert(out)
    assert code == 2, output
    assert out.read_bytes() == b""


@pytest.mark.parametrize("name", ["c.parquet", "c.PQ", "days/"])
def test_parquet_names_and_folders_are_written(tmp_path: Path, name: str) -> None:
    code, output = _convert(str(tmp_path / name) + ("/" if name.endswith("/") else ""))
    assert code == 0, output
    out = tmp_path / name
    files = sorted(out.glob("*.parquet")) if out.is_dir() else [out]
    assert files and all(f.read_bytes()[:4] == b"PAR1" for f in files)


def test_an_existing_parquet_named_file_that_is_not_parquet_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "old.parquet"
    out.write_bytes(b'{"op": "a"}\n')
    code, output = _convert(out)
    assert code == 1, output
    assert out.read_bytes() == b'{"op": "a"}\n'
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "is not Parquet" in lines[0] and str(out) in lines[0], output


def test_an_existing_file_of_another_name_is_a_usage_error_and_kept(tmp_path: Path) -> None:
    """Any name but *.parquet, *.parq, *.pq or a folder is refused by name (exit 2) before any work, existing or not."""
    out = tmp_path / "notes.txt"
    out.write_bytes(b"keep me\n")
    code, output = _convert(out)
    assert code == 2, output
    assert out.read_bytes() == b"keep me\n"
    assert f"{out}: convert writes Parquet" in " ".join(output.split()), output


def test_an_existing_parquet_file_is_replaced_under_force(tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    assert _convert(out)[0] == 0
    first = out.read_bytes()
    out.write_bytes(first[:4] + b"\0" * 10 + first[-4:])  # still told Parquet by its magic
    assert _convert(out)[0] == 1  # not without it (tests/test_output_safety.py)
    code, output = _convert(out, "--force")
    assert code == 0, output
    assert out.read_bytes() == first


RECIPE = LOGS.parent / "recipe.yaml"


def _fake(tmp_path: Path, name: str = "fake.parquet") -> Path:
    fake = tmp_path / name
    fake.write_text('{"request_id": "r1", "op": "a"}\nhello\n')
    return fake


@pytest.mark.parametrize("name", ["fake.parquet", "fake.PQ"])
def test_a_text_file_named_parquet_is_said_to_be_no_parquet_when_streamed(tmp_path: Path, name: str) -> None:
    # it was read as JSONL and refused for its lines (malformed JSON, a span's keys missing)
    result = runner.invoke(app, ["convert", str(_fake(tmp_path, name)), "-o", f"{tmp_path}/days/"],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    suffix = name[name.index(".") :].lower()
    assert lines == [f"error: {tmp_path / name}: named {suffix} but is not Parquet (no PAR1 magic)"]


def test_a_text_file_named_parquet_read_as_another_format_on_request_is_not_refused_for_its_name(
    tmp_path: Path,
) -> None:
    fake = _fake(tmp_path)
    result = runner.invoke(app, ["convert", str(fake), "-o", f"{tmp_path}/days/", "--log-format", "otlp"],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert "PAR1" not in result.output and "OTLP" in result.output, result.output


def test_a_text_file_named_parquet_given_to_logs_is_said_to_be_no_parquet(tmp_path: Path) -> None:
    fake = _fake(tmp_path)
    result = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(fake), "-q"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "named .parquet but is not Parquet (no PAR1 magic)" in result.output
