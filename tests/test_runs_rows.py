"""What every run-history reader shares (recipemut.logs.runs.rows): documents, times, bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.ingest import read_logs
from recipemut.logs.runs.rows import times_ms

runner = CliRunner()


def jobs_answer(start: str, end: str) -> str:
    job = {"id": 1, "run_id": 5, "run_attempt": 1, "status": "completed", "conclusion": "success",
           "name": "build", "started_at": start, "completed_at": end}  # fmt: skip
    return json.dumps({"total_count": 1, "jobs": [job]})


def test_times_as_engines_write_them() -> None:
    naive = dt.datetime(2024, 1, 1, 0, 0, 1)  # YAML's unquoted timestamp: UTC
    got = times_ms(["2024-01-01T00:00:01Z", "2024-01-01T01:00:01+01:00", "2024-01-01T00:00:01.250000+00:00",
                    1704067201, 1704067201250, naive, None, "yesterday"])  # fmt: skip
    want = 1704067201000.0
    assert got[:6].tolist() == [want, want, want + 250, want, want + 250, want]
    assert np.isnan(got[6:]).all()


def test_a_step_without_a_usable_time_is_counted_or_under_strict_an_error(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    path.write_text(jobs_answer("garbage", "2024-01-01T00:00:00Z"))
    with pytest.raises(LogError, match="no spans in the logs"):
        read_logs(path)
    with pytest.raises(LogError, match=r"run '5', step 'build': no usable start or end time .* \(--strict\)"):
        read_logs(path, strict=True)
    path.write_text(jobs_answer("2024-01-01T00:00:10Z", "2024-01-01T00:00:00Z"))  # ends before it starts
    with pytest.raises(LogError, match="1 step without a usable start and end time left out"):
        read_logs(path)


def test_broken_yaml_is_one_line_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: x\nstatus:\n  nodes: {a: [1, 2\n"
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: x\noperations:\n  - {id: a, service: s, action: a}\n"
    )
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert f"{path}:7:1: not valid YAML" in line and "Traceback" not in result.output


def test_a_history_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps([{"events": [{"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}]}, {"x": 1}]))
    with pytest.raises(LogError, match="expected a GetExecutionHistory response"):
        read_logs(path)
