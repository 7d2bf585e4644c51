"""The shipped Serverless Workflow example, `recipes/sw-ev-charging/`: the CNCF use case's workflow read
as it is, with a log `recipemut generate` writes (the engine has no run-history format). profile and
suggest run on it end to end, the profile covers every operation the import gives, and the committed
log is what the documented command writes."""

from __future__ import annotations

import gzip
import json
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "recipes" / "sw-ev-charging"
WORKFLOW = EXAMPLE / "workflow.yaml"
LOG = EXAMPLE / "logs.jsonl.gz"
DOC = ROOT / "docs" / "examples.md"
COMMAND_START = "recipemut generate recipes/sw-ev-charging/workflow.yaml "
runner = CliRunner()


def _documented(lines: list[str]) -> list[str]:
    """The arguments after `recipemut generate` of the one documented command among ``lines``."""
    found = [line.strip().lstrip("#").strip() for line in lines]
    commands = [c for c in found if c.startswith(COMMAND_START)]
    assert len(commands) == 1, commands
    return shlex.split(commands[0])[2:]


def _workflow_command() -> list[str]:
    return _documented(WORKFLOW.read_text().splitlines())


@pytest.fixture(scope="module")
def imported_ops() -> list[str]:
    result = runner.invoke(app, ["import", str(WORKFLOW)])
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    return [op["id"] for op in doc["operations"]]


def test_the_workflow_is_the_upstream_file_with_its_provenance() -> None:
    text = WORKFLOW.read_text()
    assert "serverlessworkflow/specification @ 04b3e34e4847958e6827284e2ab4171fd857ab27" in text
    assert "use-cases/managing-ev-charging-stations/README.md" in text and "Apache-2.0" in text
    body = yaml.safe_load(text)
    assert body["document"]["dsl"].startswith("1.0")
    assert body["document"]["name"] == "manage-ev-charging-stations"


def test_validate_reads_it_as_a_serverless_workflow() -> None:
    result = runner.invoke(app, ["validate", str(WORKFLOW)])
    assert result.exit_code == 0, result.output
    assert "read as a Serverless Workflow" in result.output


def test_import_gives_the_tasks_of_both_switch_cases(imported_ops: list[str]) -> None:
    # the card-scanned case (get the session, then start or end one) and the fault case
    assert {"getSessionForCard", "acquireSlot", "lockSlot", "start", "processPayment", "unlockSlot"} <= set(
        imported_ops
    )
    assert {"contactSupport", "feedBack_3", "notify_3"} <= set(imported_ops)
    assert len(imported_ops) == len(set(imported_ops)) == 17


def test_the_documented_command_is_the_same_in_the_workflow_and_the_docs() -> None:
    assert _documented(DOC.read_text().splitlines()) == _workflow_command()


def test_committed_log_is_what_the_documented_command_writes(tmp_path: Path) -> None:
    args = _workflow_command()
    out = tmp_path / "logs.jsonl.gz"
    args[args.index("--out") + 1] = str(out)
    args[0] = str(ROOT / args[0])
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 0, result.output
    assert "parameters from" in result.output and "loggen.yaml" in result.output  # not the defaults
    with gzip.open(out) as new, gzip.open(LOG) as old:
        assert new.read() == old.read()
    assert out.read_bytes() == LOG.read_bytes()  # gzip written with mtime 0: the file itself repeats
    assert LOG.stat().st_size < 300_000


def test_profile_covers_every_imported_operation(imported_ops: list[str]) -> None:
    result = runner.invoke(app, ["profile", str(WORKFLOW), "--logs", str(LOG), "--format", "json"])
    assert result.exit_code == 0, result.output
    profile = json.loads(result.stdout)
    assert profile["summary"]["requests"] == 1500
    counts = {row["op"]: row["count"] for row in profile["ops"]}
    assert set(counts) == set(imported_ops)
    assert all(counts[op] > 0 for op in imported_ops), counts
    # the fault case is the rare one (3% of station events), the card-scanned case the common one
    assert counts["contactSupport"] < 0.1 * counts["getSessionForCard"]


def test_profile_text_names_every_operation(imported_ops: list[str]) -> None:
    result = runner.invoke(app, ["profile", str(WORKFLOW), "--logs", str(LOG)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for op in imported_ops:
        assert f" {op} " in result.stdout, op


def test_suggest_runs_end_to_end(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    result = runner.invoke(
        app,
        ["suggest", str(WORKFLOW), "--logs", str(LOG), "--budget", "6", "--seed", "1", "--out", str(plan)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "replayed 1,500 requests" in result.output
    written = json.loads(plan.read_text())
    assert written["recipe"]["path"].endswith("sw-ev-charging/workflow.yaml")
    assert written["report"]["baseline"]["requests"] == 1500
