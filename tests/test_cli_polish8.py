"""Help and option consistency, a new user's findings: examples that paste at any width, option
names that match across commands, one wording for a range, a memory budget below the floor."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.main import get_command
from typer.testing import CliRunner

from recipemut.cli import COMMANDS, app, type_words
from recipemut.commands._examples import examples_as_blocks, wrapped
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe

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


# ---- option names and range wording ---------------------------------------------------------------

CHECKOUT = "recipes/checkout/recipe.yaml"


def test_evaluate_takes_dry_run_as_no_act() -> None:
    evaluate = get_command(app).commands["evaluate"]  # type: ignore[attr-defined]
    no_act = next(p for p in evaluate.params if "--no-act" in p.opts)
    assert "--dry-run" in (no_act.help or "")  # the alias is named where --no-act is explained
    assert any("--dry-run" in p.opts for p in evaluate.params)
    result = runner.invoke(app, ["evaluate", CHECKOUT, "--logs", "nowhere.jsonl", "--dry-run"])
    assert "No such option" not in result.output


def test_evaluate_dry_run_writes_nothing(tmp_path: Path) -> None:
    recipe = tmp_path / "checkout.yaml"
    recipe.write_text(RECIPE_TEXT)
    make_plan(recipe)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--canary", "0.2"])
    assert res.exit_code == 0, res.output
    logs = tmp_path / "l.jsonl"
    write_jsonl(generate_spans(load_recipe(recipe), 150, seed=3, variants={"canary": 0.2}, duration_s=600), logs)
    before = recipe.read_bytes()
    result = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--dry-run", "-q"])
    assert result.exit_code == 4, result.output  # hold: 150 requests are too few to decide
    assert "--no-act: nothing written" in result.output and recipe.read_bytes() == before


def test_convert_out_is_a_path_in_help() -> None:
    convert = get_command(app).commands["convert"]  # type: ignore[attr-defined]
    out = next(p for p in convert.params if "--out" in p.opts)
    assert type_words(out) == "PATH"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["profile", CHECKOUT, "--logs", "x.jsonl", "--top", "0"], "0 is outside 1 and up: how many top contributors"),
        (["generate", CHECKOUT, "-n0", "-o", "x.jsonl"], "0 is outside 1 and up: requests over the whole window"),
        (["generate", CHECKOUT, "-n", "5", "-o", "x.jsonl", "--diurnal=2"], "2 is outside 0 to 1: amplitude of"),
        (["suggest", CHECKOUT, "--logs", "x.jsonl", "--beam", "0"], "0 is outside 1 and up: beam width"),
        (["forecast", CHECKOUT, "--logs", "x.jsonl", "--horizon", "0"], "0 is outside 1 to 365: days to forecast"),
        # a negative seed was numpy's ValueError traceback, a huge one an OverflowError in generate
        (["suggest", CHECKOUT, "--logs", "x.jsonl", "--seed", "-5"], "-5 is outside 0 to 4294967295: seed of every"),
        (["report", CHECKOUT, "--logs", "x.jsonl", "--seed=-1"], "-1 is outside 0 to 4294967295: seed of every"),
        (["generate", CHECKOUT, "-n5", "-o", "x.jsonl", "--seed", "99999999999999999999"],
         "99999999999999999999 is outside 0 to"),
        # a growth of -2 a day wrote start_ms -9.2e16 on every span, which profile rejected; 1e9 days ran out of memory
        (["generate", CHECKOUT, "-n5", "-o", "x.jsonl", "--growth", "-2"], "-2 is outside -0.99 to 10: traffic growth"),
        (["generate", CHECKOUT, "-n5", "-o", "x.jsonl", "--days", "1e9"], "1000000000 is outside 0.001 to 3660"),
        # a negative or nan lock timeout was taken (a write went ahead with -5)
        (["apply", CHECKOUT, "--plan", "p.json", "--lock-timeout", "-5"], "-5 is outside 0 to 86400: seconds to wait"),
        (["rollback", CHECKOUT, "--lock-timeout", "nan"], "nan is outside 0 to 86400: seconds to wait"),
        (["evaluate", CHECKOUT, "--logs", "x.jsonl", "--lock-timeout=inf"], "inf is outside 0 to 86400"),
    ],
)
def test_a_range_error_has_one_wording(args: list[str], words: str) -> None:
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert words in result.output and "Input should be" not in result.output


def test_help_is_shown_even_with_a_value_out_of_range() -> None:
    result = runner.invoke(app, ["profile", "--top", "0", "--help"])
    assert result.exit_code == 0 and "--top" in result.output


def test_generate_sample_rate_says_it_is_the_tracers_rate_written_on_spans() -> None:
    generate = get_command(app).commands["generate"]  # type: ignore[attr-defined]
    param = next(p for p in generate.params if "--sample-rate" in p.opts)
    assert "tracer's sample rate" in param.help and "sample_rate on every span" in param.help


def test_the_fastest_growth_over_the_longest_window_is_a_log_profile_reads(tmp_path: Path) -> None:
    """(1 + 10) ** 3660 overflowed (inf, then NaN arrival times, numpy's RuntimeWarnings on stderr)."""
    out = tmp_path / "g.jsonl"
    args = ["generate", CHECKOUT, "-n", "300", "--growth", "10", "--days", "3660", "-o", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["profile", CHECKOUT, "--logs", str(out), "-f", "json", "-q"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["generate", CHECKOUT, "-n", "5", "-o", "x.jsonl", "--canary", "20"],
         "20 is outside 0 to 1: the share of requests sent to the canary variant (a percentage? 20% is 0.2)"),
        (["suggest", CHECKOUT, "--logs", "x.jsonl", "--treatment-share", "150%"],
         "150% is outside 1% to 99%: share of requests in the offline A/B treatment"),
        (["suggest", CHECKOUT, "--logs", "x.jsonl", "--treatment-share", "half"],
         "'half' is not a share of requests: write 0.5 or 50% for half"),
    ],
)  # fmt: skip
def test_every_share_option_takes_a_percentage_and_says_its_range_as_typed(args: list[str], said: str) -> None:
    """generate --canary 20% and suggest --treatment-share 10% were pydantic's 'Input should be a valid number'."""
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2 and said in " ".join(result.output.replace("│", " ").split()), result.output


def test_generate_canary_as_a_percentage_is_the_share(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    result = runner.invoke(app, ["generate", CHECKOUT, "-n", "2000", "--canary", "25%", "-o", str(out), "-f", "json"])
    assert result.exit_code == 0, result.output
    variants = [line.count('"variant":"canary"') for line in out.read_text().splitlines()]
    share = sum(variants) / len(variants)
    assert 0.2 < share < 0.3, share


@pytest.mark.parametrize(
    ("treatment", "said"),
    [
        ("lookup_tax@error=2", "--treatment 'lookup_tax@error=2': 2 is outside 0 to 1: an error rate"),
        ("*=-1", "--treatment '*=-1': -1 is outside (0, 1000]: a factor, 0.8 for 20% less"),
        ("*=0", "--treatment '*=0': 0 is outside (0, 1000]: a factor"),  # every latency was one tick
        # the suffix before the range: '@errors=0' was '0 is outside (0, 1000]', '@bogus' an error of exit 1
        ("lookup_tax@errors=0", "expected OP=FACTOR (latency), OP@cost=FACTOR, OP@error=PROB or *=FACTOR"),
        ("lookup_tax@bogus=0.5", "expected OP=FACTOR (latency), OP@cost=FACTOR, OP@error=PROB or *=FACTOR"),
    ],
)
def test_a_treatment_out_of_range_is_a_usage_error(treatment: str, said: str) -> None:
    """They were 'value 2.0 out of range', exit 1, from the generator."""
    args = ["generate", CHECKOUT, "-n", "5", "-o", "x.jsonl", "--canary", "0.2", "--treatment", treatment]
    result = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2 and said in result.output, result.output
