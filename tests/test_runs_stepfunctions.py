"""Step Functions GetExecutionHistory responses read as logs: recipemut.logs.runs.stepfunctions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.ingest import read_logs

REAL = Path(__file__).parent / "realdata" / "engines" / "stepfunctions" / "runs" / "sfn-local-hybridpath-history.json"
runner = CliRunner()
T0 = 1_700_000_000.0  # epoch seconds, as the API and boto3 give timestamps


def ms(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp() * 1000.0


def test_state_durations_are_entered_to_exited_and_a_failed_state_ends_at_its_failure() -> None:
    df, report = read_logs(REAL)
    assert report.formats == {str(REAL): "stepfunctions"}
    events = {e["id"]: e for e in json.loads(REAL.read_text())["events"]}
    by = df.set_index("op")
    assert list(by.index) == ["LambdaState", "SQSState"]
    assert by.loc["LambdaState", "latency_ms"] == ms(events[6]["timestamp"]) - ms(events[2]["timestamp"])
    assert by.loc["LambdaState", "status"] == "ok" and by.loc["LambdaState", "service"] == "lambda"
    # SQSState's TaskFailed ended the execution: no TaskStateExited; the span ends at the failure,
    # not at the ExecutionFailed event after it
    assert by.loc["SQSState", "latency_ms"] == ms(events[10]["timestamp"]) - ms(events[7]["timestamp"]) == 919.0
    assert by.loc["SQSState", "status"] == "error"
    assert df["request_id"].nunique() == 1 and df["request_id"].iloc[0].endswith("#1")


class History:
    """Events of one execution with ids and previousEventId chains, times in epoch seconds."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.add("ExecutionStarted", 0, prev=0)

    def add(self, typ: str, t: float, *, prev: int | None = None, **details: Any) -> int:
        i = len(self.events) + 1
        e = {"id": i, "previousEventId": i - 1 if prev is None else prev, "type": typ, "timestamp": T0 + t}
        e.update(details)
        self.events.append(e)
        return i

    def state(self, kind: str, name: str, t: float, *, prev: int | None = None) -> int:
        return self.add(f"{kind}StateEntered", t, prev=prev, stateEnteredEventDetails={"name": name})

    def exited(self, kind: str, name: str, t: float, *, prev: int) -> int:
        return self.add(f"{kind}StateExited", t, prev=prev, stateExitedEventDetails={"name": name})

    def task(self, name: str, t: float, outcomes: list[tuple[float, float, bool]], *, prev: int | None = None) -> int:
        """A Task state: one (scheduled, done, ok) per attempt; returns its exit event (or last event)."""
        last = self.state("Task", name, t, prev=prev)
        for sched, done, ok in outcomes:
            last = self.add("TaskScheduled", sched, prev=last, taskScheduledEventDetails={"resourceType": "lambda"})
            last = self.add("TaskStarted", sched, prev=last)
            last = self.add("TaskSucceeded" if ok else "TaskFailed", done, prev=last)
        if outcomes[-1][2]:
            last = self.exited("Task", name, outcomes[-1][1] + 0.001, prev=last)
        return last

    def doc(self, arn: str | None = None) -> dict[str, Any]:
        return {"events": self.events} if arn is None else {"executionArn": arn, "events": self.events}


def test_retries_are_attempts_that_cover_the_state(tmp_path: Path) -> None:
    h = History()
    last = h.task("Charge", 1.0, [(1.01, 1.5, False), (3.5, 4.0, False), (8.0, 8.25, True)])
    h.add("ExecutionSucceeded", 8.3, prev=last)
    path = tmp_path / "h.json"
    path.write_text(json.dumps(h.doc("arn:aws:states:eu-west-1:1:execution:pay:run-1")))
    df, _ = read_logs(path)
    assert df["request_id"].unique().tolist() == ["arn:aws:states:eu-west-1:1:execution:pay:run-1"]
    assert df["op"].tolist() == ["Charge"] * 3
    assert df["attempt"].tolist() == [1, 2, 3]
    assert df["status"].tolist() == ["error", "error", "ok"]
    start = df["start_ms"].to_numpy() - T0 * 1000
    end = start + df["latency_ms"].to_numpy()
    assert start.round(3).tolist() == [1000.0, 3500.0, 8000.0]  # the first from the state's entry
    assert end.round(3).tolist() == [1500.0, 4000.0, 8251.0]  # the last to its exit


def map_history() -> History:
    """Map 'Fan' over two items whose iterations interleave, then Parallel 'Both' of two branches."""
    h = History()
    m = h.state("Map", "Fan", 1.0)
    started = h.add("MapStateStarted", 1.0, prev=m)
    it0 = h.add("MapIterationStarted", 1.1, prev=started, mapIterationStartedEventDetails={"name": "Fan", "index": 0})
    it1 = h.add("MapIterationStarted", 1.1, prev=started, mapIterationStartedEventDetails={"name": "Fan", "index": 1})
    a0 = h.task("Lookup", 1.2, [(1.2, 2.2, True)], prev=it0)
    a1 = h.task("Lookup", 1.3, [(1.3, 4.3, True)], prev=it1)
    b0 = h.task("Store", 2.3, [(2.3, 2.8, True)], prev=a0)  # after Lookup in iteration 0
    d0 = h.add("MapIterationSucceeded", 2.9, prev=b0, mapIterationSucceededEventDetails={"index": 0})
    b1 = h.task("Store", 4.4, [(4.4, 4.9, True)], prev=a1)
    d1 = h.add("MapIterationSucceeded", 5.0, prev=b1, mapIterationSucceededEventDetails={"index": 1})
    assert d0 < d1
    ms_ = h.add("MapStateSucceeded", 5.0, prev=d1)
    mx = h.exited("Map", "Fan", 5.1, prev=ms_)
    p = h.state("Parallel", "Both", 5.2, prev=mx)
    ps = h.add("ParallelStateStarted", 5.2, prev=p)
    x = h.task("Left", 5.3, [(5.3, 6.3, True)], prev=ps)
    y = h.task("Right", 5.3, [(5.3, 7.3, True)], prev=ps)
    assert x < y
    pd_ = h.add("ParallelStateSucceeded", 7.4, prev=y)
    px = h.exited("Parallel", "Both", 7.5, prev=pd_)
    h.add("ExecutionSucceeded", 7.6, prev=px)
    return h


def test_map_iterations_and_parallel_branches_are_calls_inside_their_state(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(map_history().doc()))
    df, _ = read_logs(path)
    rel = df.assign(start=(df["start_ms"] / 1000 - T0).round(3), dur=(df["latency_ms"] / 1000).round(3))
    fan = rel[rel["op"] == "Fan"].iloc[0]
    assert (fan["start"], fan["dur"]) == (1.0, 4.1)
    inner = rel[rel["op"].isin(["Lookup", "Store"])]
    assert len(inner) == 4 and set(inner["parent_span_id"]) == {fan["span_id"]}
    assert inner["items"].tolist() == [1, 1, 1, 1]  # one Map item per call
    assert sorted(inner[inner["op"] == "Lookup"]["dur"]) == [1.001, 3.001]  # entered .. exited, per iteration
    both = rel[rel["op"] == "Both"].iloc[0]
    branches = rel[rel["op"].isin(["Left", "Right"])]
    assert set(branches["parent_span_id"]) == {both["span_id"]} and branches["items"].isna().all()
    assert rel[rel["op"] == "Right"]["dur"].tolist() == [2.001]


def test_profile_charges_the_map_its_own_time(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(map_history().doc()))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        """\
apiVersion: recipemut/v1
kind: Recipe
name: fan
fields:
  ids: {type: array}
  found: {type: array}
  stored: {type: array}
  done: {type: object}
inputs: [ids]
outputs: [done]
operations:
  - {id: Fan, service: map, action: Fan, consumes: [ids], produces: [done], after: [Store]}
  - {id: Lookup, service: lambda, action: Lookup, consumes: [ids], produces: [found], foreach: ids, concurrency: 2}
  - {id: Store, service: lambda, action: Store, consumes: [found], produces: [stored], foreach: found, concurrency: 2}
"""
    )
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    ops = {o["op"]: o for o in json.loads(result.stdout)["ops"]}
    assert ops["Lookup"]["mean_ms"] == 3101.0  # window of its two calls: entered at 1.2 .. exited at 4.301
    # its own time: its span (1.0 .. 5.1, 4.1 s) minus the time the inner states it holds cover
    # (1.2 .. 4.301 and 4.4 .. 4.901: 3.602 s)
    assert ops["Fan"]["mean_ms"] == 498.0


def test_an_execution_without_an_end_event_is_counted_and_left_out(tmp_path: Path) -> None:
    done = History()
    done.add("ExecutionSucceeded", 2.0, prev=done.task("A", 0.5, [(0.5, 1.5, True)]))
    running = History()
    running.task("A", 0.5, [(0.5, 1.5, True)])
    running.state("Task", "B", 1.6)
    path = tmp_path / "h.jsonl"  # JSON lines: one response per line, several executions
    path.write_text("\n".join(json.dumps(h.doc(arn)) for h, arn in ((done, "exec-1"), (running, "exec-2"))) + "\n")
    df, report = read_logs(path)
    assert report.formats[str(path)] == "stepfunctions"
    assert df["request_id"].unique().tolist() == ["exec-1"]
    assert report.format_counts["runs"] == 1 and report.format_counts["runs_in_progress"] == 1
    assert any("1 Step Functions run still in progress counted and left out ('exec-2')" in n for n in report.notes)


def test_iso_timestamps_and_a_list_of_histories(tmp_path: Path) -> None:
    h = History()
    h.add("ExecutionSucceeded", 2.0, prev=h.task("A", 0.5, [(0.5, 1.5, True)]))
    for e in h.events:  # as the AWS CLI prints them
        e["timestamp"] = dt.datetime.fromtimestamp(e["timestamp"], dt.timezone.utc).isoformat()
    path = tmp_path / "h.json"
    path.write_text(json.dumps([h.doc("e1"), h.doc("e2")]))
    df, _ = read_logs(path)
    assert df["request_id"].tolist() == ["e1", "e2"]
    assert df["latency_ms"].round(3).tolist() == [1001.0, 1001.0]


def test_pages_of_one_history_are_one_execution(tmp_path: Path) -> None:
    h = History()
    h.add(
        "ExecutionSucceeded", 3.0, prev=h.task("B", 1.5, [(1.5, 2.5, True)], prev=h.task("A", 0.5, [(0.5, 1.4, True)]))
    )
    pages = [{"events": h.events[:4], "nextToken": "t1"}, {"events": h.events[4:8], "nextToken": "t2"},
             {"events": h.events[8:]}]  # fmt: skip
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pages))
    df, report = read_logs(path)
    assert df["op"].tolist() == ["A", "B"] and df["request_id"].nunique() == 1
    assert report.format_counts["runs"] == 1 and report.format_counts["runs_in_progress"] == 0
