"""Under ``--format json`` a failed command still prints JSON on stdout: ``{"error": {...}}``, beside its one
line on stderr and with the same exit code. stdout was empty, so a script piping it to ``jq`` got a parse
error instead of the reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from recipemut import cli
from recipemut.commands._failure import json_asked, remember_format

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "recipes" / "checkout" / "recipe.yaml")
LOGS = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
runner = CliRunner()
WIDE = {"COLUMNS": "400"}  # the human line on one line

#: a user error of each command that takes --format text|json (validate's own document lists its findings)
FAILING: dict[str, list[str]] = {
    "import": ["import", "{tmp}/missing.yaml"],
    "profile": ["profile", RECIPE, "--logs", "{tmp}/missing.jsonl", "-q"],
    "suggest": ["suggest", "{tmp}/missing.yaml", "--logs", LOGS, "-q"],
    "apply": ["apply", "{tmp}/r.yaml", "--plan", "{tmp}/missing.json"],
    "evaluate": ["evaluate", RECIPE, "--logs", "{tmp}/missing.jsonl", "-q"],
    "rollback": ["rollback", "{tmp}/r.yaml"],
    "history": ["history", "{tmp}/missing.yaml"],
    "forecast": ["forecast", RECIPE, "--logs", "{tmp}/missing.jsonl", "-q"],
    "stats": ["stats", "--store", "off"],
    "generate": ["generate", "{tmp}/missing.yaml", "-n", "5", "-o", "{tmp}/x.jsonl"],
    "convert": ["convert", "{tmp}/missing.jsonl", "-o", "{tmp}/x.parquet"],
}


def _invoke(args: list[str], tmp_path: Path) -> Any:
    shutil.copyfile(RECIPE, tmp_path / "r.yaml")
    return runner.invoke(cli.app, [a.format(tmp=tmp_path) for a in args], env=WIDE)


def _error(stdout: str) -> dict[str, Any]:
    doc = json.loads(stdout)
    assert list(doc) == ["error"], doc
    assert set(doc["error"]) >= {"message", "file", "line", "column", "code", "exit_code"}, doc
    return dict(doc["error"])


def test_every_command_with_json_output_is_covered() -> None:
    with_json = {
        name for name, command in get_command(cli.app).commands.items()  # type: ignore[attr-defined]
        if any("--format" in p.opts and "json" in cli.choice_values(p) for p in command.params)
    }
    assert with_json == {*FAILING, "validate"}


@pytest.mark.parametrize("name", sorted(FAILING))
@pytest.mark.parametrize("form", [["--format", "json"], ["-f", "json"], ["--format=json"], ["-fjson"]])
def test_a_user_error_is_a_json_document_on_stdout(tmp_path: Path, name: str, form: list[str]) -> None:
    res = _invoke([*FAILING[name], *form], tmp_path)
    assert res.exit_code == 1, res.output
    error = _error(res.stdout)
    assert error["exit_code"] == 1
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in res.output, res.stderr
    assert error["message"] in line, (error, line)
    if error["file"] is not None:
        assert line.startswith(f"error: {error['file']}"), line


@pytest.mark.parametrize("name", sorted(FAILING))
def test_text_output_keeps_stdout_empty(tmp_path: Path, name: str) -> None:
    res = _invoke(FAILING[name], tmp_path)
    assert res.exit_code == 1 and res.stdout == "" and res.stderr.strip(), res.output


def test_the_last_format_given_wins(tmp_path: Path) -> None:
    res = _invoke([*FAILING["profile"], "-f", "json", "--format", "text"], tmp_path)
    assert res.exit_code == 1 and res.stdout == "", res.output
    res = _invoke([*FAILING["profile"], "-f", "text", "--format", "json"], tmp_path)
    assert _error(res.stdout)["file"] == f"{tmp_path}/missing.jsonl"


def test_the_error_names_file_line_and_code_and_an_invalid_recipe_every_finding(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(RECIPE).read_text().replace("consumes: [order_id]", "consumes: [nowhere]", 1))
    res = runner.invoke(cli.app, ["profile", str(bad), "--logs", LOGS, "-q", "-f", "json"], env=WIDE)
    assert res.exit_code == 1, res.output
    error = _error(res.stdout)
    assert error["file"] == str(bad) and isinstance(error["line"], int) and error["code"] != "error", error
    assert error["findings"] and all(f["file"] == str(bad) for f in error["findings"]), error
    assert res.stderr.startswith(f"error: {bad}:{error['line']}:"), res.stderr


def test_a_stale_plan(tmp_path: Path) -> None:
    shutil.copyfile(RECIPE, tmp_path / "r.yaml")
    plan = tmp_path / "plan.json"
    res = runner.invoke(cli.app, ["suggest", str(tmp_path / "r.yaml"), "--logs", LOGS, "-q", "-o", str(plan),
                                  "--budget", "5"], env=WIDE)
    assert res.exit_code == 0, res.output
    (tmp_path / "r.yaml").write_text((tmp_path / "r.yaml").read_text() + "# edited\n")
    res = runner.invoke(cli.app, ["apply", str(tmp_path / "r.yaml"), "--plan", str(plan), "-f", "json"], env=WIDE)
    error = _error(res.stdout)
    assert res.exit_code == error["exit_code"] == 1 and error["code"] == "stale-plan", error
    assert error["message"].startswith("stale plan"), error


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["profile", RECIPE, "--logs", LOGS, "--top", "0"], 2),  # found by click, while parsing
        (["forecast", RECIPE, "--logs", LOGS, "--horizon", "0"], 2),
        (["generate", RECIPE, "-n", "5", "-o", "x.jsonl", "--treatment", "a=2"], 2),  # found by the command
        (["suggest", RECIPE, "--logs", LOGS, "--top", "0", "--detailed-exitcode"], 1),  # 2 means improvements there
    ],
)
def test_a_usage_error_is_json_too_when_the_line_asks_json(args: list[str], code: int) -> None:
    res = runner.invoke(cli.app, [*args, "-f", "json"], env=WIDE)
    error = _error(res.stdout)
    assert error["code"] == "usage" and error["exit_code"] == code, error
    assert error["message"].split(": ")[-1] in " ".join(res.stderr.split()), (error, res.stderr)
    plain = runner.invoke(cli.app, args, env=WIDE)
    assert plain.stdout == "" and plain.exit_code == 2, plain.output  # CliRunner: no --detailed-exitcode mapping


def test_an_os_error_that_reaches_the_command_line_is_json_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    long = "a" * 300 + ".jsonl"  # over NAME_MAX: an OSError no reader words
    with pytest.raises(SystemExit) as ex:
        cli.main(["profile", RECIPE, "--logs", long, "-q", "-f", "json"])
    out, err = capsys.readouterr()
    assert ex.value.code == 1
    assert _error(out) == {"message": "File name too long", "file": long, "line": None, "column": None,
                           "code": "os-error", "exit_code": 1}
    assert err.strip() == f"error: {long}: File name too long"


def test_main_exits_with_the_code_the_document_says(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ex:
        cli.main(["suggest", RECIPE, "--logs", LOGS, "--top", "0", "--detailed-exitcode", "-f", "json"])
    assert ex.value.code == _error(capsys.readouterr().out)["exit_code"] == 1


def test_a_format_after_double_dash_or_of_a_command_without_one_is_not_asked() -> None:
    class Format:
        opts = ("--format", "-f")

    remember_format([Format()], ["r.yaml", "--", "-f", "json"])
    assert not json_asked()
    remember_format([], ["r.yaml", "-f", "json"])  # graph's --format is mermaid|dot; a command without one
    assert not json_asked()
    remember_format([Format()], ["r.yaml", "-fjson"])
    assert json_asked()
