"""Run-history readers: defects found in review, in files another engineer is changing
(recipemut/logs/runs/*, recipe/engines/names.py): strict xfails until they are fixed there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipemut.logs.runs import read_table
from recipemut.recipe.loader import load_recipe

WORKFLOW = """\
name: ci
on: [push]
jobs:
  build:
    name: Build (release)
    runs-on: ubuntu-latest
    steps:
      - run: make
  test:
    name: Test
    needs: build
    runs-on: ubuntu-latest
    strategy:
      matrix:
        py: ["3.11", "3.12"]
    steps:
      - run: make test
"""


def _job(jid: int, name: str, start: str, end: str) -> dict[str, object]:
    return {"id": jid, "run_id": 7, "run_attempt": 1, "name": name, "status": "completed", "conclusion": "success",
            "started_at": start, "completed_at": end, "labels": ["ubuntu-latest"]}


@pytest.mark.xfail(strict=True, reason="recipemut/logs/runs/githubactions.py:37-47 (job_base, through "
                   "names.job_display_base): any trailing '(...)' of a job's name is cut as if a matrix suffix, so the "
                   "run of a plain job named 'Build (release)' lands on operation 'Build', which the workflow's "
                   "import names 'Build_release_': its spans are dropped as an unknown operation")
def test_a_plain_job_whose_name_ends_in_parentheses_keeps_its_operation(tmp_path: Path) -> None:
    wf = tmp_path / "ci.yml"
    wf.write_text(WORKFLOW)
    recipe = load_recipe(wf)
    assert [o.id for o in recipe.operations] == ["Build_release_", "Test"]
    runs = tmp_path / "jobs.json"
    runs.write_text(json.dumps({"total_count": 3, "jobs": [
        _job(1, "Build (release)", "2025-01-01T10:00:00Z", "2025-01-01T10:02:00Z"),
        _job(2, "Test (3.11)", "2025-01-01T10:02:05Z", "2025-01-01T10:04:00Z"),
        _job(3, "Test (3.12)", "2025-01-01T10:02:05Z", "2025-01-01T10:05:00Z"),
    ]}))
    table, _, _ = read_table(runs, "github-actions", recipe=recipe)
    assert table.column("op").to_pylist() == ["Build_release_", "Test", "Test"]


def _events(*states: str) -> list[dict[str, object]]:
    """An execution through ``states`` one after another, one second each."""
    evs: list[dict[str, object]] = [{"id": 1, "type": "ExecutionStarted", "timestamp": 0.0}]
    for k, name in enumerate(states):
        i = len(evs) + 1
        evs.append({"id": i, "type": "TaskStateEntered", "previousEventId": i - 1, "timestamp": float(k),
                    "stateEnteredEventDetails": {"name": name}})
        evs.append({"id": i + 1, "type": "TaskStateExited", "previousEventId": i, "timestamp": k + 1.0,
                    "stateExitedEventDetails": {"name": name}})
    evs.append({"id": len(evs) + 1, "type": "ExecutionSucceeded", "previousEventId": len(evs), "timestamp": 9.0})
    return evs


@pytest.mark.xfail(strict=True, reason="recipemut/logs/runs/stepfunctions.py:166,173 (and the Argo, Tekton and GitHub "
                   "Actions readers alike): a step's op is op_id(name) alone, while the importer gives colliding names "
                   "the next free suffix ('Get Order' and 'Get_Order' become Get_Order and Get_Order_2), so both "
                   "states' spans land on Get_Order")
def test_states_whose_names_collide_keep_the_imported_operations(tmp_path: Path) -> None:
    asl = {"StartAt": "Get Order", "States": {
        "Get Order": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:a", "Next": "Get_Order"},
        "Get_Order": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:b", "End": True}}}
    sm = tmp_path / "sm.asl.json"
    sm.write_text(json.dumps(asl, indent=2))
    recipe = load_recipe(sm)
    assert [o.id for o in recipe.operations] == ["Get_Order", "Get_Order_2"]
    runs = tmp_path / "history.json"
    runs.write_text(json.dumps({"executionArn": "arn:x", "events": _events("Get Order", "Get_Order")}))
    table, _, _ = read_table(runs, "stepfunctions", recipe=recipe)
    assert table.column("op").to_pylist() == ["Get_Order", "Get_Order_2"]
