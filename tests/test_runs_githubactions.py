"""GitHub Actions run-jobs API responses read as logs: recipemut.logs.runs.githubactions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _runs_helpers import ms

from recipemut.logs.ingest import read_logs

REAL = Path(__file__).parent / "realdata" / "engines" / "github-actions" / "runs" / "rest-api-job-paginated.json"


def test_the_documented_answer_is_one_run_of_one_job_with_its_duration() -> None:
    df, report = read_logs(REAL)
    assert report.formats == {str(REAL): "github-actions"}
    (job,) = json.loads(REAL.read_text())["jobs"]
    assert df["request_id"].tolist() == ["29679449"] and df["op"].tolist() == ["build"]
    assert df["latency_ms"].tolist() == [ms(job["completed_at"]) - ms(job["started_at"])] == [119000.0]
    assert df["service"].tolist() == ["self-hosted"] and df["status"].tolist() == ["ok"]


def job(jid: int, run: int, name: str, start: int, end: int | None, conclusion: str | None = "success",
        attempt: int = 1) -> dict[str, Any]:  # fmt: skip
    return {
        "id": jid, "run_id": run, "run_attempt": attempt, "name": name, "labels": ["ubuntu-latest"],
        "status": "completed" if end is not None else "in_progress", "conclusion": conclusion,
        "started_at": f"2024-05-01T12:{start // 60:02d}:{start % 60:02d}Z",
        "completed_at": None if end is None else f"2024-05-01T12:{end // 60:02d}:{end % 60:02d}Z",
        "runner_name": "GitHub Actions 2",
    }  # fmt: skip


def test_matrix_jobs_are_calls_reruns_are_attempts_skipped_and_running(tmp_path: Path) -> None:
    page1 = {"total_count": 5, "jobs": [
        job(1, 100, "lint", 0, 30),
        job(2, 100, "test (ubuntu-latest, 3.11)", 31, 131),
        job(3, 100, "test (ubuntu-latest, 3.12)", 31, 151, "failure"),
    ]}  # fmt: skip
    page2 = {"total_count": 5, "jobs": [
        job(4, 100, "test (ubuntu-latest, 3.12)", 200, 310, attempt=2),  # the failed job re-run
        job(5, 100, "Deploy", 311, 311, "skipped", attempt=2),
        job(3, 100, "test (ubuntu-latest, 3.12)", 31, 151, "failure"),  # a page fetched twice
    ]}  # fmt: skip
    running = {"total_count": 1, "jobs": [job(9, 101, "lint", 0, None, None)]}
    path = tmp_path / "jobs.json"  # gh api --paginate writes its pages one after another
    path.write_text("".join(json.dumps(p) for p in (page1, page2, running)))
    df, report = read_logs(path)
    assert report.formats[str(path)] == "github-actions"
    assert df["request_id"].unique().tolist() == ["100"]
    assert df["op"].tolist() == ["lint", "test", "test", "test"]
    assert df["items"].tolist()[1:] == [1, 1, 1] and df["items"].isna().tolist()[0]
    assert df["attempt"].tolist() == [1, 1, 1, 2]
    assert df["status"].tolist() == ["ok", "ok", "error", "ok"]
    assert df["latency_ms"].tolist() == [30000.0, 100000.0, 120000.0, 110000.0]
    assert report.format_counts["steps_skipped"] == 1 and "Deploy" not in set(df["op"])
    assert report.format_counts["runs_in_progress"] == 1 and report.format_counts["runs"] == 1
    assert any("1 GitHub Actions run still in progress counted and left out ('101')" in n for n in report.notes)


def test_jobs_of_a_called_workflow_are_calls_of_the_calling_job(tmp_path: Path) -> None:
    page = {"total_count": 3, "jobs": [
        job(1, 7, "build", 0, 60),
        job(2, 7, "provenance / detect-env", 61, 70),
        job(3, 7, "provenance / generator", 71, 130),
    ]}  # fmt: skip
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(page))
    df, _ = read_logs(path)
    assert df["op"].tolist() == ["build", "provenance", "provenance"]
