"""Trace files, run histories and engine definitions given in the wrong place are named, in one line.

A Zipkin file given to ``apply --plan`` printed jsonschema's message, a 2,192-character Python repr
of its spans; a GitHub Actions workflow, a Step Functions state machine or a Serverless Workflow
given to ``--logs`` was "not a span log" at line 1; a JSONL file with one span-like key
(``{"status": 200, "path": "/"}``) was called a span log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.kinds import input_kind
from recipemut.files.runsniff import run_history_words
from recipemut.logs.sources import definition_of

runner = CliRunner()
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
TRACES = ROOT / "recipes" / "zipkin_simple_db" / "trace.json"
REAL = ROOT.parent / "shared" / "realdata" / "traces"


def _one_line(args: list[str]) -> str:
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (TRACES, "Zipkin traces"),
        (ROOT / "recipes" / "argo-ci" / "runs.yaml", "an Argo run history"),
        (ROOT / "recipes" / "sfn-checkout" / "runs.jsonl", "a Step Functions execution history"),
        (ROOT / "recipes" / "gha-flask-publish" / "runs.jsonl", "GitHub Actions run jobs"),
    ],
)
def test_a_log_given_as_the_plan_is_named_and_sent_to_logs(path: Path, words: str) -> None:
    line = _one_line(["apply", str(RECIPE), "--plan", str(path)])
    assert f"holds {words} (a log), not a plan: give it to --logs" in line, line
    assert len(line) < 300 and "{" not in line, line  # no repr of the file's content


@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real traces are not beside this checkout")
def test_every_real_trace_file_given_as_a_plan_is_named() -> None:
    for path in sorted(REAL.glob("*.json")):
        line = _one_line(["apply", str(RECIPE), "--plan", str(path)])
        assert "traces (a log), not a plan: give it to --logs" in line, (path.name, line)


def test_a_json_list_that_is_no_plan_is_said_in_words_not_quoted(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text(json.dumps([{"name": f"item {i}", "value": "x" * 50} for i in range(100)]))
    line = _one_line(["apply", str(RECIPE), "--plan", str(f)])
    assert line.endswith("(top level): expected an object, got a list"), line


@pytest.mark.parametrize(
    "command",
    [["validate"], ["graph"], ["generate", "-n", "3", "-o", "x.jsonl"], ["apply", "--plan", "plan.json"],
     ["history"], ["evaluate", "--logs", "x.jsonl"], ["profile", "--logs", "x.jsonl"]],
)
def test_a_trace_file_given_as_the_recipe_says_it_is_a_log(command: list[str], tmp_path: Path) -> None:
    """Every reader of a recipe tells traces from their first bytes (``files.kinds.trace_format``): apply
    said "stale plan", graph and generate "the top level is a list (5 items); a recipe is a mapping"."""
    args = [command[0], str(TRACES), *(str(tmp_path / a) if a.endswith((".json", ".jsonl")) else a
                                       for a in command[1:])]  # fmt: skip
    if command[0] == "apply":  # a real plan: the plan is read first
        (tmp_path / "r.yaml").write_text(RECIPE_TEXT)
        make_plan(tmp_path / "r.yaml", out=tmp_path / "plan.json")
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 1, res.output
    assert "trace.json: holds Zipkin traces (a log), not a recipe: give it to --logs" in res.output, res.output
    assert "Traceback" not in res.output and "stale" not in res.output


@pytest.mark.parametrize(
    ("path", "what", "runs"),
    [
        ("gha-flask-publish/workflow.yml", "a GitHub Actions workflow", "gh api"),
        ("sfn-checkout/definition.asl.json", "a Step Functions state machine", "get-execution-history"),
        ("sw-ev-charging/workflow.yaml", "a Serverless Workflow", "its runs or traces are the logs"),
    ],
)
def test_an_engine_definition_given_to_logs_or_as_the_plan_is_named(path: str, what: str, runs: str) -> None:
    line = _one_line(["profile", str(RECIPE), "--logs", str(ROOT / "recipes" / path), "-q"])
    assert f"is {what} (a definition), not a log: it is a recipe; " in line and runs in line, line
    assert "not a span log" not in line
    line = _one_line(["apply", str(RECIPE), "--plan", str(ROOT / "recipes" / path)])
    assert line.endswith(f"is {what} (a definition), not a plan: it is a recipe, the command's first argument")


def test_a_minified_definition_is_named_and_a_yaml_tag_that_cannot_be_built_is_no_traceback(tmp_path: Path) -> None:
    asl = tmp_path / "min.asl.json"  # Terraform's jsonencode, the CDK: one line
    asl.write_text(json.dumps(json.loads((ROOT / "recipes" / "sfn-checkout" / "definition.asl.json").read_text())))
    line = _one_line(["profile", str(RECIPE), "--logs", str(asl), "-q"])
    assert "is a Step Functions state machine (a definition), not a log" in line, line
    for i, text in enumerate(["a: !!bool maybe\n", "when: !!timestamp 99999-01-01\n"]):
        bad = tmp_path / f"tag{i}.log"
        bad.write_text(text)
        assert "not a span log" in _one_line(["profile", str(RECIPE), "--logs", str(bad), "-q"])


def test_a_json_recipe_with_a_jaeger_like_field_keeps_its_own_findings(tmp_path: Path) -> None:
    import yaml

    doc = yaml.safe_load(RECIPE.read_text())
    doc["fields"]["traceID"] = {"type": "string", "bytes": 16}
    doc["operations"][0]["cost_per_call_usd"] = "cheap"
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps(doc, indent=2))
    res = runner.invoke(app, ["validate", str(recipe), "-f", "json"], env=ENV)
    codes = [f["code"] for f in json.loads(res.stdout)["files"][0]["findings"]]
    assert "run-history" not in codes and codes, res.output


def test_a_trace_file_over_the_recipes_size_cap_is_named_as_a_log(tmp_path: Path) -> None:
    spans = json.loads(TRACES.read_text())
    big = tmp_path / "big.json"
    big.write_text(json.dumps(spans * (6 * 1024 * 1024 // len(json.dumps(spans)) + 1)))
    assert big.stat().st_size > 5 * 1024 * 1024
    res = runner.invoke(app, ["validate", str(big), "-f", "json"], env=ENV)
    [found] = json.loads(res.stdout)["files"][0]["findings"]
    said = "holds Zipkin traces (a log), not a recipe: give it to --logs"
    drafts = f" (no recipe yet? recipemut import {big} -o recipe.yaml drafts one)"
    assert (found["code"], found["message"]) == ("wrong-kind", said + drafts)


def test_a_span_log_whose_first_line_is_cut_by_the_head_is_still_a_span_log(tmp_path: Path) -> None:
    log = tmp_path / "bigfirst.jsonl"
    line = {"request_id": "r1", "payload": "x" * 70_000, "op": "load_cart", "start_ms": 0, "latency_ms": 1,
            "status": "ok"}  # fmt: skip
    log.write_text((json.dumps(line) + "\n") * 3)
    line = _one_line(["apply", str(RECIPE), "--plan", str(log)])
    assert "is a span log (JSONL), not a plan: give it to --logs" in line, line


def test_one_span_like_key_does_not_make_a_span_log_and_json_lines_are_named(tmp_path: Path) -> None:
    """An access log's lines ({"status": 200, ...}) were "a span log" (one span key); then, given as the
    recipe, a YAML syntax error at line 2 and, as the plan, "not valid JSON: Extra data"."""
    assert input_kind(b'{"status": 200, "path": "/"}\n{"status": 404, "path": "/x"}\n').kind == "jsonl"  # type: ignore[union-attr]
    assert input_kind(b'{"request_id": "r1", "status": "ok"}\n').kind == "spans"  # type: ignore[union-attr]
    access = tmp_path / "access.jsonl"
    access.write_text('{"status": 200, "path": "/"}\n{"status": 404, "path": "/x"}\n')
    said = "holds JSON lines, none of them a span (request_id, op, start_ms, latency_ms, status), not a"
    for args in (["apply", str(RECIPE), "--plan", str(access)], ["validate", str(access)], ["graph", str(access)]):
        out = runner.invoke(app, args, env=ENV).output
        assert said in out and "span log" not in out and "YAML syntax" not in out, out
    line = _one_line(["profile", str(RECIPE), "--logs", str(access), "-q"])  # as a log: each line's problem
    assert "not a span log: all 2 non-blank lines are rejected" in line, line


def test_a_log_that_starts_with_a_junk_line_is_still_read_as_a_log(tmp_path: Path) -> None:
    """The definition check parses a small file whose first line is no JSON object: a span log with a junk
    first line is no engine's file, and is read (its junk line rejected)."""
    log = tmp_path / "spans.jsonl"
    spans = [{"request_id": f"r{i}", "op": "load_cart", "start_ms": i, "latency_ms": 5, "status": "ok"}
             for i in range(30)]
    log.write_text("name: junk\n" + "\n".join(json.dumps(s) for s in spans) + "\n")
    res = runner.invoke(app, ["profile", str(RECIPE), "--logs", str(log), "-f", "json"], env=ENV)
    assert res.exit_code == 0, res.output
    assert definition_of(log.read_bytes()) is None and run_history_words(log.read_bytes()) is None


def test_a_trace_file_or_a_plan_given_to_map_is_named(tmp_path: Path) -> None:
    logs = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", str(TRACES), "-q"])
    assert line.endswith("trace.json: holds Zipkin traces (a log), not a span mapping: give it to --logs"), line
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"planVersion": 1, "tool": "recipemut", "recipe": {}, "mutations": [], "plan": []}))
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", str(plan), "-q"])
    assert line.endswith("is a plan (written by suggest --out), not a span mapping: give it to apply --plan"), line
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", str(listed), "-q"])
    assert line.endswith("(top level): expected an object, got a list"), line


# ---- what looks like a log but is not one (a second review) ------------------------------------------------


def test_a_definition_whose_payload_holds_trace_words_is_a_recipe(tmp_path: Path) -> None:
    """Tempo's `batches` beside `resource`, deep in a Pass state's Result, made a Step Functions
    definition 'OTLP traces' to every reader: traces are told by the document's top level."""
    asl = tmp_path / "sfn.asl.json"
    asl.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True, "Result": {
        "batches": [1, 2, 3], "resource": "gpu-pool", "traceID": "t", "spanID": "s", "operationName": "o"}}}}))
    res = runner.invoke(app, ["validate", str(asl)], env=ENV)
    assert res.exit_code == 0 and "read as a Step Functions state machine" in res.output, res.output
    assert runner.invoke(app, ["history", str(asl)], env=ENV).exit_code == 0


def test_a_json_mapping_with_span_like_keys_is_read_as_a_mapping(tmp_path: Path) -> None:
    """A hand-formatted JSON mapping whose first line holds `status` was 'a span log'; one whose rule
    tests an attribute named `spanID` was 'Jaeger traces'."""
    import yaml

    doc = yaml.safe_load((ROOT / "recipes" / "zipkin_simple_db" / "mapping.yaml").read_text())
    status = {"error": [{"attribute": "http.status_code", "min": 500}]}
    doc = {"apiVersion": doc.pop("apiVersion"), "kind": doc.pop("kind"), "status": status, **doc}
    doc["operations"][0]["attributes"]["spanID"] = {"exists": True}
    text = json.dumps(doc, indent=None).replace(', "operations"', ',\n "operations"', 1)
    mapping = tmp_path / "m.json"
    mapping.write_text(text)
    assert not text.splitlines()[0].endswith("}")  # a first line that is not a whole object
    from recipemut.logs.mapping import load_mapping

    assert load_mapping(mapping).rules[0].op == "insert_book"


def test_a_schema_error_says_what_yaml_made_of_a_date(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("apiVersion: recipemut/v1\nkind: SpanMapping\noperations:\n  - op: a\n    name: 2001-01-01\n")
    line = _one_line(["profile", str(RECIPE), "--logs", str(TRACES), "--map", str(mapping), "-q"])
    assert "got a date (YAML reads 2001-01-01 as one; quote it to keep it as text)" in line, line


def test_a_trace_file_over_the_mappings_cap_given_to_map_is_named(tmp_path: Path) -> None:
    spans = json.loads(TRACES.read_text())
    big = tmp_path / "big.json"
    big.write_text(json.dumps(spans * (2 * 1024 * 1024 // len(json.dumps(spans)) + 1)))
    logs = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", str(big), "-q"])
    assert line.endswith("big.json: holds Zipkin traces (a log), not a span mapping: give it to --logs"), line


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("sfn-checkout/runs.jsonl", "holds a Step Functions execution history (a log), not generation parameters: "
                                    "give it to --logs"),
        ("argo-ci/runs.yaml", "holds an Argo run history (a log), not generation parameters: give it to --logs"),
        ("gha-flask-publish/workflow.yml", "is a GitHub Actions workflow (a definition), not generation "
                                           "parameters: it is a recipe, the command's first argument"),
    ],
)  # fmt: skip
def test_a_run_history_or_a_definition_given_as_generation_parameters_is_named(
    tmp_path: Path, path: str, said: str
) -> None:
    """They were a YAML syntax error at line 2 (a JSONL history) or 'unknown key' (a YAML one, a workflow)."""
    out = tmp_path / "g.jsonl"
    line = _one_line(["generate", str(RECIPE), "-n", "10", "--params", str(ROOT / "recipes" / path), "-o", str(out)])
    assert line.endswith(f"{path.split('/')[1]}: {said}"), line
    assert not out.exists()


def test_a_definition_given_to_map_is_named(tmp_path: Path) -> None:
    logs = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
    asl = str(ROOT / "recipes" / "sfn-checkout" / "definition.asl.json")
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", asl, "-q"])
    assert line.endswith("is a Step Functions state machine (a definition), not a span mapping: it is a recipe, "
                         "the command's first argument"), line  # fmt: skip


@pytest.mark.parametrize("typo", ["default:", "seed: 3\ndefaults:"])
def test_generation_parameters_with_a_misspelt_key_are_named_at_the_key(tmp_path: Path, typo: str) -> None:
    """They were 'is a recipe (YAML), not generation parameters', while validate called the file parameters."""
    params = tmp_path / "typo.yaml"
    params.write_text((ROOT / "recipes" / "checkout" / "loggen.yaml").read_text().replace("defaults:", typo, 1))
    line = _one_line(["generate", str(RECIPE), "-n", "5", "--params", str(params), "-o", str(tmp_path / "g.jsonl")])
    key = typo.split(":")[0]
    assert f"unknown key '{key}' (expected defaults, operations, fields)" in line and "a recipe" not in line, line


def test_a_recipes_history_and_lock_given_elsewhere_are_named(tmp_path: Path) -> None:
    """They were 'holds JSON lines, none of them a span ...: a log of spans goes to --logs', and as a log
    'missing ... keys' (the history) or 'a JSON number where a span object was expected' (the lock)."""
    from recipemut.apply.transaction import apply_plan
    from recipemut.plan.planfile import load_plan

    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE_TEXT)
    apply_plan(recipe, load_plan(make_plan(recipe)))
    history, lock = tmp_path / "r.yaml.history.jsonl", tmp_path / "r.yaml.lock"
    said = "is a recipe's history (written by apply, rollback and evaluate), not "
    for args, where in (
        (["apply", str(RECIPE), "--plan", str(history)], f"a plan: read it with recipemut history {recipe}"),
        (["profile", str(RECIPE), "--logs", str(history), "-q"], f"a log: read it with recipemut history {recipe}"),
        (["generate", str(RECIPE), "-n", "5", "--params", str(history), "-o", str(tmp_path / "g.jsonl")],
         "generation parameters"),
        (["history", str(history)], "a recipe"),
    ):  # fmt: skip
        assert f"{said}{where}" in _one_line(args)
    line = _one_line(["profile", str(RECIPE), "--logs", str(lock), "-q"])
    assert line.endswith("is a recipe's lock file (kept by apply, rollback and evaluate), not a log: recipemut "
                         "keeps it beside its recipe"), line  # fmt: skip
    assert _one_line(["history", str(history)]).endswith(f"read it with recipemut history {recipe}")
    assert runner.invoke(app, ["history", str(recipe)], env=ENV).exit_code == 0  # the history itself still reads


def test_a_history_whose_first_entry_is_long_is_still_one(tmp_path: Path) -> None:
    """Its sha256_before comes after the mutations: past the 64 KiB head for a plan of many mutations."""
    entry = {"format": 1, "seq": 1, "action": "apply", "time": "2026-01-01T00:00:00Z",
             "mutations": [{"id": f"m{i}", "description": "x" * 5000} for i in range(20)], "sha256_before": "a" * 64}
    history = tmp_path / "r.yaml.history.jsonl"
    history.write_text(json.dumps(entry) + "\n")
    assert history.stat().st_size > 64 * 1024
    line = _one_line(["apply", str(RECIPE), "--plan", str(history)])
    assert "is a recipe's history (written by apply, rollback and evaluate), not a plan" in line, line


def test_a_number_then_a_long_line_ends_and_is_no_lock_file(tmp_path: Path) -> None:
    """The lock file's pattern backtracked exponentially on it (validate, --logs and --plan never ended), and
    any file opening with a whole number was 'a recipe's lock file'. Run in a process of its own, so that a
    hang fails the test (TimeoutExpired) instead of stopping the suite."""
    import subprocess
    import sys

    text = tmp_path / "n.txt"
    text.write_text("2024\n" + "the quick brown fox " * 8 + "\n- end\n")
    small = tmp_path / "x.yaml"
    small.write_text("5\n")
    for path in (text, small):
        res = subprocess.run([sys.executable, "-m", "recipemut", "validate", str(path)], capture_output=True,
                             text=True, timeout=120, env={**os.environ, **ENV})  # fmt: skip
        assert res.returncode == 1 and "lock file" not in res.stdout, res.stdout + res.stderr
        assert "the top level is" in res.stdout, res.stdout


def test_a_recipe_or_generation_parameters_given_to_map_are_named(tmp_path: Path) -> None:
    """They were the mapping schema's 'Additional properties are not allowed (...)'."""
    logs = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", str(RECIPE), "-q"])
    assert line.endswith("is a recipe (YAML), not a span mapping: give it as the command's first argument"), line
    import yaml

    as_json = tmp_path / "recipe.json"  # a JSON recipe (validate reads one) is told by its header too
    as_json.write_text(json.dumps(yaml.safe_load(RECIPE.read_text()), indent=2))
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", str(as_json), "-q"])
    assert line.endswith("is a recipe (JSON), not a span mapping: give it as the command's first argument"), line
    params = str(ROOT / "recipes" / "checkout" / "loggen.yaml")
    line = _one_line(["profile", str(RECIPE), "--logs", logs, "--map", params, "-q"])
    assert "holds generation parameters (YAML: defaults, operations, fields), not a span mapping" in line, line

