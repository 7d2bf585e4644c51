"""`recipemut profile` through typer's CliRunner, and once as a real subprocess."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _profile_helpers import DIAMOND, REQUESTS, line, span, write_lines, write_recipe, write_spans
from typer.testing import CliRunner

from recipemut.cli import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write_recipe(tmp_path / "recipe.yaml"), write_spans(tmp_path / "logs.jsonl", REQUESTS)


def test_text_output(files: tuple[Path, Path]) -> None:
    recipe, logs = files
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("demo v3: 1 file: 16 spans, 5 requests, 1970-01-01T00:00:01.000Z")
    assert "0 rejected lines" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("│")]
    assert [r.split("│")[2].strip() for r in rows] == ["load", "left", "right", "join"]  # topological order
    marked = [r.split("│")[2].strip() for r in rows if "*" in r.split("│")[1]]
    assert marked == ["load", "right", "join"]
    assert "critical path of 40.0% of requests: load -> right -> join" in out
    # time on the critical path of tail requests, not the op's own p95 (the table's column)
    assert "time on the critical path of the slowest 5% of requests (mean): left 40.0 ms (57% of their latency)" in out
    assert "more than 100% together" not in out  # said only where shares pass 100% (test_recorded.py)
    assert "p95 latency:" not in out
    assert "cost per request $0.169200" in out
    assert "cost: right 95%" in out
    assert "end-to-end: p50 65.0 ms, p95 69.0 ms" in out
    assert result.stderr == ""


def test_json_output_is_alone_on_stdout(files: tuple[Path, Path]) -> None:
    recipe, logs = files
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--format", "json", "--top", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["recipe"]["name"] == "demo" and data["summary"]["requests"] == 5
    assert [o["op"] for o in data["ops"]] == ["load", "left", "right", "join"]
    assert [o["on_critical_path"] for o in data["ops"]] == [True, False, True, True]
    assert data["ops"][1]["cpu_mean_ms"] is None  # NaN becomes null: strict JSON
    assert data["e2e"]["latency_p50_ms"] == 65.0
    assert data["critical_path"] == {"ops": ["load", "right", "join"], "share": 0.4}
    assert [c["op"] for c in data["contributors"]["latency_p95"]] == ["left"]
    assert [c["op"] for c in data["contributors"]["cost"]] == ["right"]
    assert data["rate"]["bin_s"] == 10.0
    assert data["ingest"]["spans_kept"] == 16 and data["ingest"]["rejected_total"] == 0


def test_bad_lines_are_warnings_on_stderr(tmp_path: Path, files: tuple[Path, Path]) -> None:
    recipe, _ = files
    logs = write_lines(
        tmp_path / "bad.jsonl", [*(line(s) for s in REQUESTS), "", "{oops", line(span("r7", "mystery", 1, 1))]
    )
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ingest"]["rejected"] == {"malformed-json": 1}
    assert f"warning: rejected {logs}:18: not valid JSON" in result.stderr
    assert "excluded 1 span of operations not in the recipe: mystery (1)" in result.stderr


def test_more_rejected_lines_are_summed_up_with_the_total(tmp_path: Path, files: tuple[Path, Path]) -> None:
    recipe, _ = files
    bad = ["{oops"] * 4 + [line(span("rx", "load", -1, 1))] * 4  # negative start is fine; latency below
    bad[4:] = [json.dumps({"request_id": "rx", "op": "load", "start_ms": 1, "latency_ms": -1, "status": "ok"})] * 4
    logs = write_lines(tmp_path / "bad.jsonl", [*(line(s) for s in REQUESTS), *bad])
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)])
    assert result.exit_code == 0, result.output
    shown = result.stderr.count("warning: rejected ")
    assert f"warning: {8 - shown} more rejected lines (of 8 in all: malformed-json: 4, bad-latency: 4)" in " ".join(
        result.stderr.split()
    )


def test_strict_fails_with_one_line(tmp_path: Path, files: tuple[Path, Path]) -> None:
    recipe, _ = files
    logs = write_lines(tmp_path / "bad.jsonl", [line(REQUESTS[0]), "{oops", line(REQUESTS[1])])
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--strict"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {logs}:2: not valid JSON")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_several_logs_and_sample_rate(tmp_path: Path, files: tuple[Path, Path]) -> None:
    recipe, _ = files
    a = write_spans(tmp_path / "a.jsonl", REQUESTS[:8])
    b = write_spans(tmp_path / "b.jsonl.gz", REQUESTS[8:12], gz=True)
    args = ["profile", str(recipe), "--logs", str(a), "--logs", str(b), "--sample-rate", "0.25", "-f", "json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["requests"] == 4 and data["ingest"]["files"] == [str(a), str(b)]
    assert data["rate"]["sample_rates"] == {"0.25": 12}


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--logs", "{tmp}/missing.jsonl"], 1, "missing.jsonl: no such file"),
        (["--logs", "{tmp}"], 1, "is a directory"),
        (["--logs", "{logs}", "--sample-rate", "0"], 2, "outside (0, 1]"),
        ([], 2, "--logs"),
    ],
)
def test_user_errors(files: tuple[Path, Path], tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    recipe, logs = files
    argv = ["profile", str(recipe), *(a.format(tmp=tmp_path, logs=logs) for a in args)]
    result = runner.invoke(app, argv)
    assert result.exit_code == code, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_bad_recipe_is_a_one_line_error(tmp_path: Path, files: tuple[Path, Path]) -> None:
    _, logs = files
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    result = runner.invoke(app, ["profile", str(bad), "--logs", str(logs)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"error: {bad}")


def test_help_teaches() -> None:
    result = runner.invoke(app, ["profile", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "critical path" in result.output and "Example" in result.output


def test_real_subprocess(files: tuple[Path, Path]) -> None:
    recipe, logs = files
    proc = subprocess.run(
        [sys.executable, "-m", "recipemut", "profile", str(recipe), "--logs", str(logs), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["critical_path"]["ops"] == ["load", "right", "join"]


def test_narrow_terminal_drops_columns_instead_of_truncating_numbers(files: tuple[Path, Path]) -> None:
    recipe, logs = files
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)], env={"COLUMNS": "70"})
    assert result.exit_code == 0, result.output
    header = next(ln for ln in result.stdout.splitlines() if "operation" in ln)
    assert "cpu ms" not in header and "p95 ms" in header and "crit %" in header
    table = [ln for ln in result.stdout.splitlines() if ln.startswith(("┃", "│"))]
    assert table and not any("…" in ln for ln in table)


def test_a_missing_map_file_is_an_error_even_with_native_logs(files: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, logs = files
    missing = tmp_path / "nosuch.yaml"
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--map", str(missing)])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.strip().endswith(f"{missing}: no such mapping file") and result.stderr.count("\n") == 1


def test_cost_per_request_is_unknown_when_no_span_carries_a_cost(tmp_path: Path) -> None:
    doc = copy.deepcopy(DIAMOND)
    for op in doc["operations"]:
        op.pop("cost_per_call_usd", None)
    recipe = write_recipe(tmp_path / "recipe.yaml", doc)
    logs = write_spans(tmp_path / "logs.jsonl", [{k: v for k, v in s.items() if k != "cost_usd"} for s in REQUESTS])
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (
        "cost per request unknown (no cost in the logs or the recipe)" in result.stdout
        and "$0.000000" not in result.stdout
    )
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["e2e"]["cost_mean_usd"] is None


@pytest.mark.parametrize("command", ["profile", "forecast", "evaluate", "generate"])
def test_the_recipe_argument_is_named_the_same_in_every_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "RECIPE" in result.output.splitlines()[1]  # the usage line
    assert "recipe}" not in result.output and "│ *    recipe " not in result.output


def _n_plus_one_files(tmp_path: Path) -> tuple[Path, Path]:
    from test_calls import RECIPE, T0, n_plus_one_lines

    recipe = tmp_path / "hotrod.yaml"
    recipe.write_text(RECIPE)
    logs = write_lines(tmp_path / "calls.jsonl", [line(d) for d in n_plus_one_lines("r1", T0)])
    return recipe, logs


def test_text_names_the_n_plus_one_pattern_and_the_lines_to_add(tmp_path: Path) -> None:
    recipe, logs = _n_plus_one_files(tmp_path)
    env = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)], env=env)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "get_driver: 13.0 calls per request (max 13; several in 1 of 1); serial" in out
    assert "3 retried errors, up to attempt 2" in out
    assert "N+1: get_driver is called 13.0 times per request" in out and "one after another" in out
    assert f"add to operation get_driver ({recipe}:17): `foreach: driver_ids`, `concurrency: 1`" in out


def test_json_has_the_calls_and_the_n_plus_one_finding(tmp_path: Path) -> None:
    recipe, logs = _n_plus_one_files(tmp_path)
    env = {"RECIPEMUT_STORE": "off"}
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs), "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    calls = {c["op"]: c for c in doc["calls"]}
    assert (calls["get_driver"]["calls"], calls["get_driver"]["retried_errors"], calls["get_driver"]["serial"]) == (
        13,
        3,
        True,
    )
    (f,) = doc["findings"]["n_plus_one"]
    assert (f["op"], f["field"], f["line"], f["add"]) == (
        "get_driver",
        "driver_ids",
        17,
        ["foreach: driver_ids", "concurrency: 1"],
    )
    assert doc["ops"][1]["error_rate"] == 0.0  # the retried errors are not request errors


def test_a_percent_column_has_one_decimal_in_every_cell(files: tuple[Path, Path]) -> None:
    """A share of none read ``0`` beside ``8.4`` in the halt % column; it reads ``0.0`` as its neighbours do."""
    recipe, logs = files
    result = runner.invoke(app, ["profile", str(recipe), "--logs", str(logs)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    names = [c.strip() for c in next(ln for ln in lines if ln.startswith("┃")).split("┃")]
    rows = [[c.strip() for c in ln.split("│")] for ln in lines if ln.startswith("│")]
    for column in ("err %", "halt %", "crit %"):
        cells = [r[names.index(column)] for r in rows]
        assert all(c == "<0.1" or re.fullmatch(r"\d+\.\d", c) for c in cells), (column, cells)
