"""Run-history readers: defects found in review (recipemut/logs/runs/*, recipe/engines/names.py).

A plain job named ``Build (release)`` was read as a matrix job of ``Build``; names that meet on one
operation id (``Get Order``, ``Get_Order``) all landed on the first one, while the importer gives the
second the next free id. The readers now tell both apart by the recipe (``names.StepOps``) and say
so in a note when there is none."""

from __future__ import annotations

import json
from pathlib import Path

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
    return {
        "id": jid,
        "run_id": 7,
        "run_attempt": 1,
        "name": name,
        "status": "completed",
        "conclusion": "success",
        "started_at": start,
        "completed_at": end,
        "labels": ["ubuntu-latest"],
    }


def test_a_plain_job_whose_name_ends_in_parentheses_keeps_its_operation(tmp_path: Path) -> None:
    wf = tmp_path / "ci.yml"
    wf.write_text(WORKFLOW)
    recipe = load_recipe(wf)
    assert [o.id for o in recipe.operations] == ["Build_release_", "Test"]
    runs = tmp_path / "jobs.json"
    runs.write_text(
        json.dumps(
            {
                "total_count": 3,
                "jobs": [
                    _job(1, "Build (release)", "2025-01-01T10:00:00Z", "2025-01-01T10:02:00Z"),
                    _job(2, "Test (3.11)", "2025-01-01T10:02:05Z", "2025-01-01T10:04:00Z"),
                    _job(3, "Test (3.12)", "2025-01-01T10:02:05Z", "2025-01-01T10:05:00Z"),
                ],
            }
        )
    )
    table, _, notes = read_table(runs, "github-actions", recipe=recipe)
    assert table.column("op").to_pylist() == ["Build_release_", "Test", "Test"]
    assert table.column("items").to_pylist() == [None, 1, 1] and notes == []


def _events(*states: str) -> list[dict[str, object]]:
    """An execution through ``states`` one after another, one second each."""
    evs: list[dict[str, object]] = [{"id": 1, "type": "ExecutionStarted", "timestamp": 0.0}]
    for k, name in enumerate(states):
        i = len(evs) + 1
        evs.append(
            {
                "id": i,
                "type": "TaskStateEntered",
                "previousEventId": i - 1,
                "timestamp": float(k),
                "stateEnteredEventDetails": {"name": name},
            }
        )
        evs.append(
            {
                "id": i + 1,
                "type": "TaskStateExited",
                "previousEventId": i,
                "timestamp": k + 1.0,
                "stateExitedEventDetails": {"name": name},
            }
        )
    evs.append({"id": len(evs) + 1, "type": "ExecutionSucceeded", "previousEventId": len(evs), "timestamp": 9.0})
    return evs


def test_states_whose_names_collide_keep_the_imported_operations(tmp_path: Path) -> None:
    asl = {
        "StartAt": "Get Order",
        "States": {
            "Get Order": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:a", "Next": "Get_Order"},
            "Get_Order": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:b", "End": True},
        },
    }
    sm = tmp_path / "sm.asl.json"
    sm.write_text(json.dumps(asl, indent=2))
    recipe = load_recipe(sm)
    assert [o.id for o in recipe.operations] == ["Get_Order", "Get_Order_2"]
    runs = tmp_path / "history.json"
    runs.write_text(json.dumps({"executionArn": "arn:x", "events": _events("Get Order", "Get_Order")}))
    table, _, notes = read_table(runs, "stepfunctions", recipe=recipe)
    assert table.column("op").to_pylist() == ["Get_Order", "Get_Order_2"]
    assert notes == []
    # in the other order of appearance too: the recipe, not the history's order, decides
    runs.write_text(json.dumps({"executionArn": "arn:y", "events": _events("Get_Order", "Get Order")}))
    table, _, _ = read_table(runs, "stepfunctions", recipe=recipe)
    assert table.column("op").to_pylist() == ["Get_Order_2", "Get_Order"]


def test_without_the_recipe_colliding_state_names_share_an_operation_and_a_note_names_them(tmp_path: Path) -> None:
    runs = tmp_path / "history.json"
    runs.write_text(json.dumps({"executionArn": "arn:x", "events": _events("Get Order", "Get_Order", "Pay")}))
    table, _, notes = read_table(runs, "stepfunctions", recipe=None)
    assert table.column("op").to_pylist() == ["Get_Order", "Get_Order", "Pay"]
    assert notes == [
        "steps 'Get Order', 'Get_Order' all read as operation 'Get_Order': their names differ only in characters "
        "an operation id cannot hold; give the recipe imported from the definition to tell them apart"
    ]


COLLIDING_JOBS = """\
name: ci
on: [push]
jobs:
  first:
    name: Get Order
    runs-on: ubuntu-latest
    steps: [{run: a}]
  second:
    name: Get_Order
    runs-on: ubuntu-latest
    steps: [{run: b}]
  build:
    name: Build (release)
    runs-on: ubuntu-latest
    strategy:
      matrix:
        arch: [arm, x86]
    steps: [{run: make}]
"""


def test_jobs_whose_names_collide_keep_their_operations_and_a_matrix_keeps_its_own_parentheses(
    tmp_path: Path,
) -> None:
    wf = tmp_path / "ci.yml"
    wf.write_text(COLLIDING_JOBS)
    recipe = load_recipe(wf)
    assert [o.id for o in recipe.operations] == ["Get_Order", "second", "Build_release_"]
    runs = tmp_path / "jobs.json"
    runs.write_text(
        json.dumps(
            {
                "total_count": 4,
                "jobs": [
                    _job(1, "Get_Order", "2025-01-01T10:00:00Z", "2025-01-01T10:01:00Z"),
                    _job(2, "Get Order", "2025-01-01T10:00:00Z", "2025-01-01T10:02:00Z"),
                    _job(3, "Build (release) (arm)", "2025-01-01T10:00:00Z", "2025-01-01T10:03:00Z"),
                    _job(4, "Build (release) (x86)", "2025-01-01T10:00:00Z", "2025-01-01T10:04:00Z"),
                ],
            }
        )
    )
    table, _, notes = read_table(runs, "github-actions", recipe=recipe)
    assert table.column("op").to_pylist() == ["second", "Get_Order", "Build_release_", "Build_release_"]
    assert table.column("items").to_pylist() == [None, None, 1, 1] and notes == []


def test_without_the_recipe_a_name_ending_in_parentheses_reads_as_a_matrix_job(tmp_path: Path) -> None:
    runs = tmp_path / "jobs.json"
    runs.write_text(
        json.dumps(
            {
                "total_count": 1,
                "jobs": [
                    _job(1, "Build (release)", "2025-01-01T10:00:00Z", "2025-01-01T10:02:00Z"),
                ],
            }
        )
    )
    table, _, _ = read_table(runs, "github-actions", recipe=None)
    assert table.column("op").to_pylist() == ["Build"] and table.column("items").to_pylist() == [1]


def test_two_jobs_of_one_name_are_one_operation_of_the_history_and_a_note_says_so(tmp_path: Path) -> None:
    wf = tmp_path / "ci.yml"
    wf.write_text(
        "on: [push]\njobs:\n  a: {name: Build, runs-on: x, steps: [{run: a}]}\n"
        "  b: {name: Build, runs-on: x, steps: [{run: b}]}\n"
    )
    recipe = load_recipe(wf)
    assert [o.id for o in recipe.operations] == ["Build", "b"]
    runs = tmp_path / "jobs.json"
    runs.write_text(
        json.dumps(
            {
                "total_count": 2,
                "jobs": [
                    _job(1, "Build", "2025-01-01T10:00:00Z", "2025-01-01T10:01:00Z"),
                    _job(2, "Build", "2025-01-01T10:00:00Z", "2025-01-01T10:02:00Z"),
                ],
            }
        )
    )
    table, _, notes = read_table(runs, "github-actions", recipe=recipe)
    assert table.column("op").to_pylist() == ["Build", "Build"]
    assert notes == [
        "steps named 'Build' read as operation 'Build': operations 'Build', 'b' of the recipe have "
        "that name, a history cannot tell them apart"
    ]
