"""Help and option consistency, a new user's findings: examples that paste at any width, option
names that match across commands, one wording for a range, a memory budget below the floor."""

from __future__ import annotations

import shlex

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from recipemut.cli import COMMANDS, app
from recipemut.commands._examples import examples_as_blocks, wrapped

runner = CliRunner()

WIDTHS = (60, 80, 200)
_SHELL_STOPS = ("|", ">", "<", "&&", ";")


def _help(name: str, width: int) -> list[str]:
    result = runner.invoke(app, [name, "--help"], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return [line.rstrip() for line in result.output.splitlines()]


def _examples(lines: list[str]) -> tuple[list[str], list[int]]:
    """The examples under ``Example:`` (continuations joined) and the runs of blank lines around blocks."""
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(("Example:", "Examples:")))
    head = lines[start].strip().partition(":")[2].strip()
    if head:  # written in the paragraph, on one line
        return [head], []
    found: list[str] = []
    blanks: list[int] = []
    i, run = start + 1, 0
    while i < len(lines):
        text = lines[i].strip()
        if not text:
            run += 1
            i += 1
            continue
        if not text.startswith("recipemut "):
            break
        blanks.append(run)
        run = 0
        command = text
        while command.endswith("\\"):
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        found.append(command)
        i += 1
    blanks.append(run)
    return found, blanks


def _options(name: str) -> set[str]:
    command = get_command(app).commands[name]  # type: ignore[attr-defined]
    return {o for p in command.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_example_pastes_as_one_command(name: str, width: int) -> None:
    lines = _help(name, width)
    examples, blanks = _examples(lines)
    assert examples, f"{name} --help shows no example"
    options = _options(name)
    for example in examples:
        words = shlex.split(example, comments=True)
        assert words[:2] == ["recipemut", name], example
        for word in words[2:]:
            if word in _SHELL_STOPS:
                break
            if word.startswith("-") and word != "-":
                assert word.partition("=")[0] in options, f"{name}: {word} in {example!r}"
    assert all(n == 1 for n in blanks), f"{name} at {width}: blank lines around examples {blanks}"
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Example"))
    for line in lines[start:]:
        if line.strip().startswith(("Arguments", "╭")):
            break
        assert len(line) <= width, line


def test_a_long_example_breaks_before_an_option_keeping_its_value() -> None:
    lines = wrapped("recipemut suggest recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz", 50)
    assert lines == ["recipemut suggest recipes/checkout/recipe.yaml \\", "    --logs recipes/checkout/logs.jsonl.gz"]


def test_a_word_wider_than_the_line_is_left_whole() -> None:
    long = "recipes/" + "x" * 60 + ".yaml"
    lines = wrapped(f"recipemut validate {long} --strict", 40)
    assert any(long in line for line in lines)
    assert shlex.split(" ".join(x.rstrip("\\") for x in lines)) == ["recipemut", "validate", long, "--strict"]


def test_a_remark_after_an_example_is_its_own_paragraph() -> None:
    text = examples_as_blocks("Does x.\n\nExample: recipemut rollback r.yaml --to 4    (or --entry 2)", 200)
    assert text == "Does x.\n\nExample:\n\n    recipemut rollback r.yaml --to 4\n\n(or --entry 2)"
