"""The command line's conventions: -h, one short option per meaning, help in words, "did you mean"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from recipemut import cli

ROOT = Path(__file__).resolve().parents[1]
RECIPE = str(ROOT / "recipes" / "checkout" / "recipe.yaml")
LOGS = str(ROOT / "recipes" / "checkout" / "logs.jsonl.gz")
runner = CliRunner()
#: wide enough that rich does not fold an option's type words into two lines
WIDE = {"COLUMNS": "200"}  # not TERMINAL_WIDTH: typer reads it once, at import, for every later test


def commands() -> dict[str, Any]:
    return dict(get_command(cli.app).commands)  # type: ignore[attr-defined]


def shorts(command: Any) -> dict[str, str]:
    """short option -> its long name, in one command."""
    out = {}
    for p in command.params:
        if p.param_type_name != "option":
            continue
        names = [*p.opts, *p.secondary_opts]
        longs = [n for n in names if n.startswith("--")]
        out.update({n: longs[0] for n in names if not n.startswith("--")})
    return out


@pytest.mark.parametrize("name", [None, *cli.COMMANDS])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_and_the_app_take_h(name: str | None, flag: str) -> None:
    result = runner.invoke(cli.app, [name, flag] if name else [flag], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Usage: recipemut" in result.output
    assert "<bool>" not in result.output and "list[" not in result.output and " range>" not in result.output


def test_a_short_option_means_one_thing_across_commands() -> None:
    meaning: dict[str, set[str]] = {}
    for command in commands().values():
        for short, long in shorts(command).items():
            meaning.setdefault(short, set()).add(long)
    assert {s: m for s, m in meaning.items() if len(m) > 1} == {}
    assert meaning["-o"] == {"--out"} and meaning["-f"] == {"--format"} and meaning["-O"] == {"--operators"}


def test_out_format_and_operators_have_their_short_form_wherever_they_exist() -> None:
    for name, command in commands().items():
        longs = {n for p in command.params for n in p.opts if n.startswith("--")}
        have = shorts(command)
        for short, long in (("-o", "--out"), ("-f", "--format"), ("-O", "--operators")):
            assert (long in longs) == (have.get(short) == long), (name, short, long)


def test_help_shows_flags_as_flags_and_types_in_words() -> None:
    result = runner.invoke(cli.app, ["suggest", "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "--explain" in x and "│" in x)
    assert "--explain  " in line and "<" not in line and "bool" not in line
    logs = next(x for x in result.output.splitlines() if "--logs" in x and "│" in x)
    assert "PATH ..." in logs
    budget = next(x for x in result.output.splitlines() if "--budget" in x and "│" in x)
    assert "INTEGER" in budget and "int range" not in budget
    assert "text|json|markdown" in result.output


def test_app_help_lists_commands_without_importing_them() -> None:
    """``recipemut --help`` is built from SUMMARIES: they must say what each command's docstring says."""
    for name, command in commands().items():
        assert command.help.strip().split("\n\n")[0].replace("\n", " ") == cli.SUMMARIES[name], name
    code = (
        "import sys; from recipemut import cli\n"
        "try: cli.main(['--help'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('pandas', 'scipy', 'networkx', 'recipemut.commands.suggest') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **WIDE})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[]"), proc.stdout
    assert all(name in proc.stdout for name in cli.COMMANDS)


def test_shell_completion_is_typers_own() -> None:
    result = runner.invoke(cli.app, ["--help"], env=WIDE)
    assert "--install-completion" in result.output and "--show-completion" in result.output


def test_completion_offers_a_commands_options() -> None:
    env = {**os.environ, cli.COMPLETE_VAR: "complete_bash", "COMP_WORDS": "recipemut suggest --ou", "COMP_CWORD": "2"}
    code = "from recipemut import cli; cli.main([])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "--out" in proc.stdout, (proc.stdout, proc.stderr)


def test_a_mistyped_format_gets_did_you_mean() -> None:
    # wide, so the usage-error box does not cut the message at the runner's 80 columns
    result = runner.invoke(cli.app, ["validate", RECIPE, "--format", "jsno"], env=WIDE)
    assert result.exit_code == 2
    assert "did you mean 'json'?" in result.output and "Value error" not in result.output
    result = runner.invoke(cli.app, ["graph", RECIPE, "--format=dott"], env=WIDE)
    assert result.exit_code == 2 and "did you mean 'dot'?" in result.output
    result = runner.invoke(cli.app, ["validate", RECIPE, "-f", "json"], env=WIDE)
    assert result.exit_code == 0, result.output


def test_a_far_off_format_lists_the_choices_without_a_guess() -> None:
    result = runner.invoke(cli.app, ["validate", RECIPE, "--format", "xml"], env=WIDE)
    assert result.exit_code == 2
    assert "'xml' is not one of text, json" in result.output and "did you mean" not in result.output


def test_a_mistyped_highlight_gets_did_you_mean() -> None:
    result = runner.invoke(cli.app, ["graph", RECIPE, "--highlight", "lookup_taxx"], env=WIDE)
    assert result.exit_code == 1
    assert "did you mean 'lookup_tax'?" in result.output


def test_suggest_o_with_an_operator_name_points_to_capital_o(tmp_path: Path) -> None:
    result = runner.invoke(cli.app, ["suggest", RECIPE, "--logs", LOGS, "-o", "parallelize", "-o", "hedge"], env=WIDE)
    assert result.exit_code == 2
    assert "-O/--operators" in result.output
    assert not (Path.cwd() / "hedge").exists()


def test_suggest_capital_o_selects_operators() -> None:
    result = runner.invoke(cli.app, ["suggest", RECIPE, "--logs", LOGS, "-O", "nosuch"], env=WIDE)
    assert result.exit_code == 2 and "unknown operator 'nosuch'" in result.output


def test_profile_does_not_load_the_judges_statistics() -> None:
    """profile records into the store through learn.records, which names the search's result type
    only: importing the search loaded scipy.stats, a second of a small profile's run."""
    root = Path(__file__).resolve().parents[1] / "recipes" / "zipkin_simple_db"
    code = (
        "import sys; from recipemut import cli\n"
        f"try: cli.main(['profile', {str(root / 'recipe.yaml')!r}, '--logs', {str(root / 'trace.json')!r}, "
        f"'--map', {str(root / 'mapping.yaml')!r}, '-q'])\n"
        "except SystemExit as e: assert not e.code, e.code\n"
        "heavy = ('scipy.stats', 'recipemut.plan.search', 'recipemut.judge.stats')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **WIDE, "RECIPEMUT_STORE": "off"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[]"), proc.stdout
