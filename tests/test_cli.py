"""The console entry point: lazy command loading, --logs with several files, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recipemut import cli

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout"


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        cli.main(list(argv))
        raise SystemExit(0)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_every_command_in_the_table_is_in_the_full_app() -> None:
    names = [c.name for c in cli.app.registered_commands]
    assert names == list(cli.COMMANDS)


def test_main_loads_only_the_command_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "validate", str(CHECKOUT / "recipe.yaml"))
    assert code == 0, out
    assert "valid" in out


def test_logs_takes_several_files_after_one_flag(capsys: pytest.CaptureFixture[str]) -> None:
    log = str(CHECKOUT / "logs.jsonl.gz")
    code, out, err = run_main(
        capsys, "profile", str(CHECKOUT / "recipe.yaml"), "--logs", log, log, "--format", "json"
    )
    assert code == 0, err
    assert '"files"' in out and out.count("logs.jsonl.gz") >= 2


def test_usage_error_exits_2_but_1_under_detailed_exitcode(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_main(capsys, "validate", "--no-such-option", "x.yaml")
    assert code == 2
    code, _, _ = run_main(capsys, "suggest", "--no-such-option", "--detailed-exitcode")
    assert code == 1


def test_user_error_is_one_line_without_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _out, err = run_main(capsys, "profile", str(CHECKOUT / "recipe.yaml"), "--logs", str(tmp_path / "no.jsonl"))
    assert code == 1
    assert "Traceback" not in err and "no.jsonl" in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1


def test_python_dash_m_runs_the_same_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "recipemut", "--version"], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("recipemut ")


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_the_usage_line_names_an_argument_as_its_help_does(command: str) -> None:
    """typer 0.29 wrote a required argument '{RECIPE}' in the usage line (and in every usage error) where the
    help's table and the docs name it RECIPE."""
    from typer.testing import CliRunner

    for args in ([command, "-h"], [command, "--no-such-option"]):  # the help, and a usage error
        res = CliRunner().invoke(cli.app, args, env={"COLUMNS": "200"})
        usage = next(line for line in res.output.splitlines() if "Usage:" in line)
        assert "{" not in usage and "}" not in usage, usage
        if command in ("profile", "import", "convert"):
            assert usage.split()[-1] == {"profile": "RECIPE", "import": "FILE...", "convert": "LOGS..."}[command], usage
