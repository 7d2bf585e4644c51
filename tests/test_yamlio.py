"""Round-trip YAML: edits change only what they touch; comments, order, quoting and spacing survive."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from _apply_helpers import RECIPE_TEXT, commented_text, random_edits
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from strategies import recipe_docs

from recipemut.recipe.edits import Edit, apply_edits
from recipemut.recipe.roundtrip import YamlSyntaxError, load_roundtrip
from recipemut.recipe.yamlio import apply_edits_to_text


def _changed_lines(a: str, b: str) -> set[str]:
    return set(a.splitlines()) ^ set(b.splitlines())


def test_set_after_touches_one_line() -> None:
    out = apply_edits_to_text(RECIPE_TEXT, [Edit("set", ("operations", "score_fraud", "after"), [])])
    assert _changed_lines(RECIPE_TEXT, out) == {"    after: [load_cart]", "    after: []"}


def test_version_bump_keeps_quotes_alignment_and_comments() -> None:
    out = apply_edits_to_text(RECIPE_TEXT, [Edit("set", ("version",), 5)])
    assert out == RECIPE_TEXT.replace("version: 4", "version: 5")


def test_new_key_goes_after_the_operation_not_after_the_comment_before_the_next() -> None:
    out = apply_edits_to_text(
        RECIPE_TEXT, [Edit("set", ("operations", "load_cart", "cache"), {"ttl_s": 600, "max_entries": 10})]
    )
    expected = RECIPE_TEXT.replace(
        "    cost_per_call_usd: 0.0001\n",
        "    cost_per_call_usd: 0.0001\n    cache:\n      ttl_s: 600\n      max_entries: 10\n",
    )
    assert out == expected


def test_removing_an_operation_keeps_the_comments_around_it() -> None:
    out = apply_edits_to_text(RECIPE_TEXT, [Edit("remove", ("operations", "charge"))])
    assert "# end of recipe" in out and "# fraud scoring waits" in out
    assert "Charge" not in out
    assert yaml.safe_load(out) == apply_edits(yaml.safe_load(RECIPE_TEXT), [Edit("remove", ("operations", "charge"))])


def test_removing_the_first_item_keeps_the_comment_before_the_second() -> None:
    out = apply_edits_to_text(RECIPE_TEXT, [Edit("remove", ("operations", "load_cart"))])
    assert "  # fraud scoring waits for the cart out of habit\n  - id: score_fraud" in out


def test_flow_lists_stay_flow_and_append_extends_them() -> None:
    out = apply_edits_to_text(RECIPE_TEXT, [Edit("append", ("outputs",), "risk")])
    assert "outputs: [receipt, risk]" in out


def test_four_space_indentation_is_kept() -> None:
    text = "a:\n    b: 1   # c\n    d:\n        - x: 1\n          y: 2\n"
    out = apply_edits_to_text(text, [Edit("set", ("a", "b"), 2)])
    assert out == text.replace("b: 1", "b: 2")


def test_no_edit_is_byte_identical() -> None:
    assert apply_edits_to_text(RECIPE_TEXT, []) == RECIPE_TEXT


def test_syntax_error_is_one_line_with_position() -> None:
    with pytest.raises(YamlSyntaxError) as ei:
        load_roundtrip("a: [1, 2\nb: 3\n", source="r.yaml")
    assert str(ei.value).startswith("r.yaml:")
    assert ei.value.line is not None


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(YamlSyntaxError):
        load_roundtrip("a: 1\na: 2\n", source="r.yaml")


# shrinking these large documents takes minutes; the failing draw is printed whole instead
@settings(max_examples=60, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_edits_on_text_agree_with_edits_on_data_and_keep_comments(data: st.DataObject) -> None:
    doc: dict[str, Any] = data.draw(recipe_docs(max_ops=6))
    text = data.draw(commented_text(doc))
    edits = data.draw(random_edits(doc))
    out = apply_edits_to_text(text, edits)
    # differential: text path and plain-data path give the same document
    assert yaml.safe_load(out) == apply_edits(yaml.safe_load(text), edits)
    # no comment is lost unless it sat on a line of a removed operation
    removed = any(e.op == "remove" for e in edits)
    comments_before = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("#")]
    comments_after = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("#")]
    if not removed:
        assert comments_after == comments_before
    # the lines no edit touched are still there, byte for byte
    if not edits or all(e.path == ("version",) for e in edits):
        changed = [ln for ln in text.splitlines() if ln not in out.splitlines()]
        assert all(ln.lstrip().startswith("version:") for ln in changed), changed


# ---- write-back fidelity: blank lines, the comment of a removed item, line endings --------------------

_SPACED = """\
ops:
  - id: a
    x: 1

  # b: about to go
  - id: b
    x: 2

  # c stays
  - id: c
    x: 3
"""


def test_removing_an_item_removes_the_comment_block_above_it() -> None:
    out = apply_edits_to_text(_SPACED, [Edit("remove", ("ops", "b"))])
    assert out == """\
ops:
  - id: a
    x: 1

  # c stays
  - id: c
    x: 3
"""


def test_removing_a_mapping_key_removes_its_comment_and_keeps_the_blank_line() -> None:
    text = "a: 1\n\n# about b\nb: 2\n\n# about c\nc: 3\n"
    assert apply_edits_to_text(text, [Edit("remove", ("b",))]) == "a: 1\n\n# about c\nc: 3\n"
    text = "a: 1  # eol a\n# still about a\n\n# about b\nb: 2\nc: 3\n"
    assert apply_edits_to_text(text, [Edit("remove", ("b",))]) == "a: 1  # eol a\n# still about a\n\nc: 3\n"


@pytest.mark.parametrize("text", [_SPACED, _SPACED.replace("  # b: about to go\n", "")])
def test_a_new_key_goes_before_the_blank_line_that_separates_items(text: str) -> None:
    out = apply_edits_to_text(text, [Edit("set", ("ops", "a", "hedge"), {"after_ms": 5, "max_extra": 1})])
    assert out == text.replace("    x: 1\n", "    x: 1\n    hedge:\n      after_ms: 5\n      max_extra: 1\n", 1)


def test_a_crlf_recipe_keeps_crlf_line_ends() -> None:
    crlf = RECIPE_TEXT.replace("\n", "\r\n")
    out = apply_edits_to_text(crlf, [Edit("set", ("version",), 5),
                                     Edit("set", ("operations", "load_cart", "cache"), {"ttl_s": 6, "max_entries": 1})])
    assert out.count("\n") == out.count("\r\n") and "version: 5\r\n" in out and "      ttl_s: 6\r\n" in out
    assert out.replace("\r\n", "\n") == apply_edits_to_text(
        RECIPE_TEXT, [Edit("set", ("version",), 5),
                      Edit("set", ("operations", "load_cart", "cache"), {"ttl_s": 6, "max_entries": 1})])
