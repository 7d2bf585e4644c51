"""Line numbers are an editor's, where YAML breaks lines that no editor does (U+0085, U+2028, U+2029): a
U+2028 in a quoted description moved every later finding one line down, and one in a comment made the
file a syntax error pointing at a line that is fine, without naming the character."""

from __future__ import annotations

from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT

from recipemut.errors import RecipeInvalid
from recipemut.recipe.loader import check_text
from recipemut.recipe.yamlpos import parse_yaml


@pytest.mark.parametrize("odd", ["\u2028", "\u2029", "\x85"])
def test_a_finding_after_a_yaml_only_line_break_is_at_the_editors_line(odd: str) -> None:
    text = RECIPE_TEXT.replace("\nversion: 4\n", f'\nversion: 4\ndescription: "one{odd}two"\n', 1)
    text = text.replace("cost_per_call_usd: 0.0001", "cost_per_call_usd: abc", 1)
    want = next(i for i, line in enumerate(text.split("\n"), 1) if "cost_per_call_usd: abc" in line)
    _, findings = check_text(text, file="r.yaml")
    [bad] = [f for f in findings if f.code == "wrong-type"]
    assert (bad.line, bad.column) == (want, 5), bad


def test_positions_of_keys_count_only_the_editors_lines() -> None:
    _, pos, _ = parse_yaml('a: "x\u2028y"\nb:\n  c: 1\n')
    assert pos[("b", "c")] == (3, 3) and pos[("b",)] == (2, 1)


def test_a_syntax_error_from_one_in_a_comment_names_the_character_and_its_line() -> None:
    text = "# notes \u2028 (c): from here\nname: a\n"
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml(text, file="r.yaml")
    [f] = e.value.findings
    assert "line 1 holds U+2028, which YAML reads as a line break (in a comment too)" in f.message, f.message
    assert f.line == 2, f  # where YAML stopped, counted as the editor counts


def test_one_in_a_quoted_value_is_not_blamed_for_another_syntax_error() -> None:
    """A quoted U+2028 is folded into the text, harmless: the hint was added to an unrelated missing ']'."""
    text = 'description: "one\u2028two"\nitems: [a, b\nname: x\n'
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml(text, file="r.yaml")
    assert "U+2028" not in e.value.findings[0].message, e.value.findings[0].message


def test_many_of_them_on_one_quoted_line_do_not_stop_the_reader(tmp_path: Path) -> None:
    """Each break's line was read again from its start, so a line of n of them cost n times its length (20,000
    took 26 s, a recipe under the 5 MiB cap hours). Run in a process of its own: a hang fails the test."""
    import subprocess
    import sys

    recipe = tmp_path / "r.yaml"
    recipe.write_text('description: "' + "x\u2028" * 200_000 + '"\nitems: [a, b\nname: x\n', encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "recipemut", "validate", str(recipe)], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 1 and "YAML syntax error" in res.stdout and "U+2028" not in res.stdout, res.stdout
