"""Run histories told by content (recipemut.files.runsniff through recipemut.logs.detect)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from recipemut.logs.detect import detect, detect_format, mismatch

ENGINES = Path(__file__).parent / "realdata" / "engines"
REAL = {
    "argo/runs/dag_retry_succeeded.yaml": "argo",
    "argo/runs/many-items-z26lj.yaml": "argo",
    "tekton/runs/dashboard-demo-pipeline-run-6.json": "tekton",
    "stepfunctions/runs/sfn-local-hybridpath-history.json": "stepfunctions",
    "github-actions/runs/rest-api-job-paginated.json": "github-actions",
}


@pytest.mark.parametrize(("name", "fmt"), sorted(REAL.items()))
def test_real_histories_plain_and_gzip(name: str, fmt: str) -> None:
    data = (ENGINES / name).read_bytes()
    assert detect(data[:65536]) == fmt
    assert detect_format(data[:65536]) == fmt
    assert detect(gzip.compress(data, mtime=0)[:65536]) == fmt


def test_kubectl_lists_in_yaml_and_json_without_api_version() -> None:
    wf = yaml.safe_load((ENGINES / "argo/runs/dag_retry_succeeded.yaml").read_text())
    listed = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [wf]}).encode()
    assert detect(listed) == "argo"
    del wf["apiVersion"], wf["kind"]  # argo-server answers carry no type meta: told by the node keys
    assert detect(yaml.safe_dump(wf).encode()) == "argo"
    pr = b"apiVersion: v1\nitems:\n- apiVersion: tekton.dev/v1\n  kind: PipelineRun\n  metadata: {name: x}\n"
    assert detect(pr) == "tekton"


def test_recipes_native_logs_and_traces_are_not_run_histories() -> None:
    recipe = (Path(__file__).parents[1] / "recipes" / "checkout" / "recipe.yaml").read_bytes()
    assert detect(recipe) is None
    assert (
        detect_format(b'{"request_id": "r", "op": "a", "start_ms": 1, "latency_ms": 2, "status": "ok"}\n') == "native"
    )
    assert detect(b'{"resourceSpans": [{"resource": {}}]}') == "otlp"
    assert detect(b'{"events": [{"name": "x"}]}') is None  # an "events" key alone is not a history
    assert detect(b'{"jobs": [{"id": 1}]}') is None


def test_log_format_named_against_a_history_says_to_drop_it() -> None:
    head = (ENGINES / "github-actions/runs/rest-api-job-paginated.json").read_bytes()
    why = mismatch(head, "otlp")
    assert why is not None and "GitHub Actions run jobs: drop --log-format (run histories are told by content)" in why


def test_a_long_spec_before_the_status_is_still_told_by_its_keys_or_labels() -> None:
    spec = {"entrypoint": "main", "templates": [{"name": f"t{i}", "script": {"source": "x" * 500}} for i in range(200)]}
    head = json.dumps({"metadata": {"name": "wf"}, "spec": spec, "status": {"nodes": {}}}).encode()[:65536]
    assert b"nodes" not in head and detect(head) == "argo"  # argo get -o json: no apiVersion/kind
    labelled = b'{"metadata": {"name": "wf", "labels": {"workflows.argoproj.io/phase": "Succeeded"}}, "spec": {'
    assert detect(labelled) == "argo"
    assert detect(b'{"metadata": {"labels": {"tekton.dev/pipelineRun": "pr-1"}}, "spec": {') == "tekton"
