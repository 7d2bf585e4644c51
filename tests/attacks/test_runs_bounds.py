"""A run history is read with a bound: past :data:`~recipemut.logs.runs.MAX_HISTORY_BYTES` it is
one error line and reading stops there.

A history is parsed whole into Python objects (about ten times its size in memory); it was read
up to the 16 GiB cap of span logs, which are read in columns. The bound is lowered to 1 MiB here
so the test stays small; reading must stop at it (at most one byte past it is read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import InputFileError
from recipemut.files import compressed
from recipemut.logs import common, runs

ROOT = Path(__file__).resolve().parents[2] / "recipes" / "gha-flask-publish"
runner = CliRunner()


def test_a_history_over_the_bound_is_one_error_and_is_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "MAX_HISTORY_BYTES", 1024**2)
    asked: list[int] = []
    real = compressed.inflate

    def inflate(path: Any, limit: int = compressed.MAX_DECOMPRESSED) -> Any:
        asked.append(limit)
        return real(path, limit)

    monkeypatch.setattr(common, "inflate", inflate)  # the one reader of whole log files
    first = json.loads((ROOT / "runs.jsonl").read_text().splitlines()[0])
    big = tmp_path / "runs.json"
    big.write_text(json.dumps(first) + " " * (2 * 1024**2))
    with pytest.raises(InputFileError, match=r"run history larger than 1 MiB \(decompressed\)"):
        runs.read_table(big, "github-actions", recipe=None)
    assert asked == [1024**2]
    result = runner.invoke(
        app, ["profile", str(ROOT / "workflow.yml"), "--logs", str(big), "-q"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1 and "run history larger than 1 MiB" in result.output


def test_a_history_under_the_bound_is_read(tmp_path: Path) -> None:
    table, counts, _ = runs.read_table(ROOT / "runs.jsonl", "github-actions", recipe=None)
    assert table.num_rows > 0 and counts["runs"] > 0
