"""Argo Workflows run histories (``status.nodes``) read as logs: recipemut.logs.runs.argo."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from _runs_helpers import ms
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError
from recipemut.logs.ingest import read_logs

RUNS = Path(__file__).parent / "realdata" / "engines" / "argo" / "runs"
MANY = RUNS / "many-items-z26lj.yaml"  # argo's get_test.go: a Steps workflow, withItems over 13 items
RETRY = RUNS / "dag_retry_succeeded.yaml"  # argo's controller testdata: a DAG task retried twice
runner = CliRunner()


def raw_nodes(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["status"]["nodes"]


def test_fan_out_items_are_calls_whose_durations_are_the_nodes() -> None:
    df, report = read_logs(MANY)
    assert report.formats == {str(MANY): "argo"}
    assert set(df["op"]) == {"sleep"} and len(df) == 13  # sleep(0:zero) .. sleep(12:twelve): one op
    assert set(df["request_id"]) == {"many-items-z26lj"}
    assert df["items"].tolist() == [1] * 13
    nodes = raw_nodes(MANY)
    got = dict(zip(df["span_id"], df["latency_ms"], strict=True))
    for display in ("sleep(9:nine)", "sleep(10:ten)", "sleep(11:eleven)"):
        nid, n = next((k, v) for k, v in nodes.items() if v["displayName"] == display)
        assert got[nid] == ms(n["finishedAt"]) - ms(n["startedAt"])
    # and as argo's own CLI test prints them: 19s, 23s, 22s
    shown = {v["displayName"]: got[k] for k, v in nodes.items() if k in got}
    assert [shown["sleep(9:nine)"], shown["sleep(10:ten)"], shown["sleep(11:eleven)"]] == [19e3, 23e3, 22e3]


def test_retry_children_are_attempts_in_order() -> None:
    df, _ = read_logs(RETRY)
    nodes = raw_nodes(RETRY)
    retry = next(n for n in nodes.values() if n["type"] == "Retry")
    df = df.set_index("span_id").loc[retry["children"]]
    assert df["op"].tolist() == ["step1"] * 3
    assert df["attempt"].tolist() == [1, 2, 3]
    assert df["status"].tolist() == ["error", "error", "ok"]
    want = [ms(nodes[c]["finishedAt"]) - ms(nodes[c]["startedAt"]) for c in retry["children"]]
    assert df["latency_ms"].tolist() == want == [7000.0, 9000.0, 7000.0]


RECIPE = """\
apiVersion: recipemut/v1
kind: Recipe
name: {name}
fields:
  a: {{type: array}}
  b: {{type: object}}
inputs: [a]
outputs: [b]
services:
  work: {{replicas: 2, concurrency_per_replica: 8}}
operations:
  - {{id: {op}, service: work, action: {op}, consumes: [a], produces: [b]{extra}}}
"""


def profile_json(tmp_path: Path, recipe: str, *logs: Path) -> dict[str, Any]:
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe)
    args = ["profile", str(path), "--format", "json"]
    for log in logs:
        args += ["--logs", str(log)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_profile_of_the_retried_task_is_its_attempts_window_and_no_failure(tmp_path: Path) -> None:
    data = profile_json(tmp_path, RECIPE.format(name="dag-with-retries", op="step1",
                                                 extra=", retry: {max_attempts: 11}"), RETRY)  # fmt: skip
    (op,) = data["ops"]
    nodes = raw_nodes(RETRY)
    pods = [n for n in nodes.values() if n["type"] == "Pod"]
    window = max(ms(n["finishedAt"]) for n in pods) - min(ms(n["startedAt"]) for n in pods)
    assert op["op"] == "step1" and op["mean_ms"] == window == 25000.0
    assert op["error_rate"] == 0.0  # the last attempt succeeded: the failures were retried
    assert data["ingest"]["format_counts"]["runs"] == 1


def test_profile_of_the_fan_out_is_the_window_of_its_items(tmp_path: Path) -> None:
    data = profile_json(tmp_path, RECIPE.format(name="many-items", op="sleep",
                                                 extra=", foreach: a, concurrency: 13"), MANY)  # fmt: skip
    nodes = [n for n in raw_nodes(MANY).values() if n["type"] == "Pod"]
    window = max(ms(n["finishedAt"]) for n in nodes) - min(ms(n["startedAt"]) for n in nodes)
    assert data["ops"][0]["p50_ms"] == window == 38000.0
    (calls,) = data["calls"]
    assert calls["calls"] == 13 and calls["items_per_call"] == 1.0 and calls["concurrency_max"] == 13
    durations = sum(ms(n["finishedAt"]) - ms(n["startedAt"]) for n in nodes)
    assert calls["sum_ms_mean"] == durations == 370000.0


def workflow(name: str, phase: str | None, nodes: dict[str, Any], **status: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"nodes": nodes, "startedAt": "2024-01-01T00:00:00Z", **status}
    if phase is not None:
        st["phase"] = phase
        if phase not in ("Running", "Pending"):
            st.setdefault("finishedAt", "2024-01-01T00:10:00Z")
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name}, "status": st}


def node(nid: str, display: str, typ: str, phase: str, start: int, end: int | None, **more: Any) -> dict[str, Any]:
    n = {"id": nid, "displayName": display, "type": typ, "phase": phase, "templateName": display.split("(")[0],
         "startedAt": f"2024-01-01T00:00:{start:02d}Z", **more}  # fmt: skip
    if end is not None:
        n["finishedAt"] = f"2024-01-01T00:00:{end:02d}Z"
    return n


def nested_nodes(root: str) -> dict[str, Any]:
    """A DAG whose task 'outer' runs a nested DAG holding 'inner'; 'maybe' skipped, 'never' omitted."""
    return {
        root: node(root, root, "DAG", "Succeeded", 0, 30),
        "o": node("o", "outer", "DAG", "Succeeded", 1, 20, boundaryID=root),
        "i": node("i", "inner", "Pod", "Succeeded", 2, 12, boundaryID="o"),
        "g": node("g", "fan", "TaskGroup", "Succeeded", 20, 29, boundaryID=root),
        "f0": node("f0", "fan(0:a)", "Pod", "Succeeded", 20, 25, boundaryID=root),
        "f1": node("f1", "fan(1:b)", "Pod", "Failed", 21, 29, boundaryID=root),
        "s": node("s", "maybe", "Skipped", "Skipped", 20, 20, boundaryID=root),
        "m": node("m", "never", "Pod", "Omitted", 20, 20, boundaryID=root),
    }


def test_nested_template_task_is_the_parent_of_its_nodes_and_skipped_nodes_are_not_spans(tmp_path: Path) -> None:
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(workflow("wf-1", "Failed", nested_nodes("wf-1"))))
    df, report = read_logs(path)
    by = df.set_index("span_id")
    assert sorted(by.index) == ["f0", "f1", "i", "o"]  # the root, the TaskGroup and skipped nodes are not spans
    assert by.loc["i", "parent_span_id"] == "o" and by.loc["o", "op"] == "outer"
    assert by.loc["f1", "status"] == "error" and by.loc["f0", "op"] == by.loc["f1", "op"] == "fan"
    assert report.format_counts["steps_skipped"] == 2
    assert any("2 skipped or omitted steps" in n for n in report.notes)


def test_running_workflows_are_counted_and_left_out(tmp_path: Path) -> None:
    done = workflow("wf-done", "Succeeded", {"a": node("a", "build", "Pod", "Succeeded", 1, 5, boundaryID="wf-done")})
    running = workflow("wf-running", "Running", {"b": node("b", "build", "Pod", "Running", 1, None, boundaryID="x")})
    unphased = workflow("wf-new", None, {"c": node("c", "build", "Pod", "Pending", 1, None, boundaryID="x")})
    path = tmp_path / "wfs.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [done, running, unphased]}))
    df, report = read_logs(path)
    assert report.formats[str(path)] == "argo"  # kubectl get wf -o yaml: a kind: List
    assert df["request_id"].tolist() == ["wf-done"]
    assert report.format_counts["runs"] == 1 and report.format_counts["runs_in_progress"] == 2
    assert any("2 Argo runs still in progress counted and left out ('wf-running', 'wf-new')" in n
               for n in report.notes)  # fmt: skip


def test_a_list_of_workflows_gzipped_is_read(tmp_path: Path) -> None:
    wfs = [workflow(f"wf-{i}", "Succeeded", {"a": node("a", "build", "Pod", "Succeeded", i, i + 3, boundaryID="r")})
           for i in range(3)]  # fmt: skip
    path = tmp_path / "wfs.json.gz"
    path.write_bytes(gzip.compress(json.dumps(wfs).encode(), mtime=0))
    df, _ = read_logs(path)
    assert df["request_id"].tolist() == ["wf-0", "wf-1", "wf-2"]
    assert df["latency_ms"].tolist() == [3000.0] * 3


def test_a_workflow_definition_given_as_logs_is_one_error_line(tmp_path: Path) -> None:
    wf = copy.deepcopy(yaml.safe_load(RETRY.read_text()))
    del wf["status"]
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(wf))
    with pytest.raises(LogError, match=r"no status\.nodes: a workflow definition, not a run history"):
        read_logs(path)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(name="x", op="step1", extra=""))
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "not a run history" in result.output


def test_a_workflow_template_given_as_logs_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "wft.yaml"
    path.write_text("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: t}\n"
                    "spec: {entrypoint: main, templates: [{name: main, container: {image: alpine}}]}\n")  # fmt: skip
    with pytest.raises(LogError, match="an Argo WorkflowTemplate and no Workflow: a definition, not a run history"):
        read_logs(path)
