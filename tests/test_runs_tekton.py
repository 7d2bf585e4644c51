"""Tekton PipelineRun and TaskRun objects read as logs: recipemut.logs.runs.tekton."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from _runs_helpers import ms

from recipemut.logs.ingest import read_logs

REAL = Path(__file__).parent / "realdata" / "engines" / "tekton" / "runs" / "dashboard-demo-pipeline-run-6.json"


def test_taskruns_are_spans_of_their_pipelinerun_with_the_history_durations() -> None:
    df, report = read_logs(REAL)
    assert report.formats == {str(REAL): "tekton"}
    raw = json.JSONDecoder()
    text = REAL.read_text()
    _, end = raw.raw_decode(text)
    task_runs = raw.raw_decode(text[end:].lstrip())[0]
    assert df["request_id"].unique().tolist() == ["demo-pipeline-run-6"]  # by name: the TaskRuns carry no run label
    by = df.set_index("op")
    for tr in task_runs:
        op = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
        st = tr["status"]
        assert by.loc[op, "latency_ms"] == ms(st["completionTime"]) - ms(st["startTime"])
    assert by.loc["skaffold-unit-tests", "latency_ms"] == 13000.0
    assert by["status"].to_dict() == {"build-skaffold-app": "error", "build-skaffold-web": "error",
                                      "skaffold-unit-tests": "ok"}  # fmt: skip
    assert report.format_counts["runs"] == 1


def cond(ok: str) -> list[dict[str, str]]:
    return [{"type": "Succeeded", "status": ok, "reason": {"True": "Succeeded", "False": "Failed"}.get(ok, "Running")}]


def status(start: int, end: int | None, ok: str = "True", **more: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"startTime": f"2024-03-01T10:00:{start:02d}Z", "conditions": cond(ok), **more}
    if end is not None:
        st["completionTime"] = f"2024-03-01T10:00:{end:02d}Z"
    return st


def pipeline_run(name: str, st: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"name": name}, "status": st}


def task_run(name: str, st: dict[str, Any], **labels: str) -> dict[str, Any]:
    meta = {"name": name, "labels": {f"tekton.dev/{k}": v for k, v in labels.items()}}
    return {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": meta,
            "spec": {"taskRef": {"name": "git-clone"}}, "status": st}  # fmt: skip


def test_child_references_retries_skipped_tasks_and_running_runs(tmp_path: Path) -> None:
    done = pipeline_run("pr-1", status(0, 50, childReferences=[
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "tr-fetch", "pipelineTaskName": "fetch"},
        {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "tr-test", "pipelineTaskName": "unit-test"},
    ], skippedTasks=[{"name": "deploy", "reason": "When Expressions evaluated to false"}]))  # fmt: skip
    fetch = task_run("tr-fetch", status(1, 9))  # no labels: its run and task come from childReferences
    flaky = status(10, 40, retriesStatus=[status(10, 14, "False"), status(15, 22, "False")])
    test = task_run("tr-test", flaky)
    running = pipeline_run("pr-2", status(30, None, "Unknown"))
    running_tr = task_run("pr-2-fetch-abc", status(31, 35), pipelineRun="pr-2", pipelineTask="fetch")
    path = tmp_path / "runs.yaml"  # kubectl get pipelinerun,taskrun -o yaml
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                    "items": [done, running, fetch, test, running_tr]}))  # fmt: skip
    df, report = read_logs(path)
    assert report.formats[str(path)] == "tekton"
    assert df["request_id"].unique().tolist() == ["pr-1"]
    assert df["op"].tolist() == ["fetch", "unit-test", "unit-test", "unit-test"]
    assert df["service"].unique().tolist() == ["git-clone"]
    tries = df[df["op"] == "unit-test"]
    assert tries["attempt"].tolist() == [1, 2, 3] and tries["status"].tolist() == ["error", "error", "ok"]
    assert tries["latency_ms"].tolist() == [4000.0, 7000.0, 30000.0]
    assert report.format_counts["steps_skipped"] == 1 and report.format_counts["runs_in_progress"] == 1
    assert any("1 Tekton run still in progress counted and left out ('pr-2')" in n for n in report.notes)


def test_embedded_taskrun_status_of_older_pipelineruns(tmp_path: Path) -> None:
    pr = pipeline_run("pr-old", status(0, 20, taskRuns={
        "pr-old-build-x1": {"pipelineTaskName": "build", "status": status(1, 11)},
        "pr-old-push-x2": {"pipelineTaskName": "push", "status": status(12, 19, "False")},
    }))  # fmt: skip
    path = tmp_path / "pr.json"
    path.write_text(json.dumps(pr))
    df, _ = read_logs(path)
    assert df["op"].tolist() == ["build", "push"] and df["status"].tolist() == ["ok", "error"]
    assert df["latency_ms"].tolist() == [10000.0, 7000.0]
    assert df["span_id"].tolist() == ["pr-old-build-x1", "pr-old-push-x2"]


def test_custom_task_runs_are_spans_too(tmp_path: Path) -> None:
    pr = pipeline_run("pr-c", status(0, 30, childReferences=[
        {"apiVersion": "tekton.dev/v1beta1", "kind": "CustomRun", "name": "pr-c-wait", "pipelineTaskName": "wait"},
    ]))  # fmt: skip
    custom = {"apiVersion": "tekton.dev/v1beta1", "kind": "CustomRun", "metadata": {"name": "pr-c-wait"},
              "spec": {"customRef": {"apiVersion": "wait.testing.tekton.dev/v1beta1", "kind": "Wait"}},
              "status": status(2, 12)}  # fmt: skip
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([pr, custom]))
    df, _ = read_logs(path)
    assert df[["request_id", "op", "latency_ms"]].values.tolist() == [["pr-c", "wait", 10000.0]]
