"""Edits: the same edits on plain data and on ruamel documents."""

from __future__ import annotations

import io

import pytest
from ruamel.yaml import YAML

from recipemut.errors import MutationError
from recipemut.recipe.edits import Edit, apply_edits, apply_edits_inplace

DOC = {
    "fields": {"cart": {"type": "object", "format": "json"}},
    "operations": [
        {"id": "a", "after": []},
        {"id": "b", "after": ["a"]},
        {"id": "c", "after": ["a", "b"]},
    ],
}


def test_set_by_id_and_original_untouched() -> None:
    out = apply_edits(DOC, [Edit("set", ("operations", "c", "after"), ["a"])])
    assert out["operations"][2] == {"id": "c", "after": ["a"]}
    assert DOC["operations"][2] == {"id": "c", "after": ["a", "b"]}


def test_set_creates_intermediate_mappings() -> None:
    out = apply_edits(DOC, [Edit("set", ("operations", "a", "cache", "ttl_s"), 60)])
    assert out["operations"][0]["cache"] == {"ttl_s": 60}


def test_remove_list_item_by_id_and_key() -> None:
    out = apply_edits(
        DOC,
        [Edit("remove", ("operations", "b")), Edit("remove", ("fields", "cart", "format"))],
    )
    assert [o["id"] for o in out["operations"]] == ["a", "c"]
    assert out["fields"]["cart"] == {"type": "object"}


def test_append_creates_or_extends() -> None:
    out = apply_edits(
        DOC,
        [Edit("append", ("operations", "a", "after"), "z"), Edit("append", ("operations", "b", "tags"), "t")],
    )
    assert out["operations"][0]["after"] == ["z"]
    assert out["operations"][1]["tags"] == ["t"]


@pytest.mark.parametrize(
    "edit",
    [
        Edit("set", ("operations", "nope", "after"), []),
        Edit("remove", ("fields", "missing")),
        Edit("set", ("operations", 7, "after"), []),
        Edit("set", (), 1),
    ],
)
def test_bad_paths_are_mutation_errors(edit: Edit) -> None:
    with pytest.raises(MutationError):
        apply_edits(DOC, [edit])


def test_edit_dict_round_trip() -> None:
    e = Edit("set", ("operations", "a", "after"), ["b"])
    assert Edit.from_dict(e.to_dict()) == e
    assert "value" not in Edit("remove", ("x",)).to_dict()


def test_same_edits_apply_to_ruamel_documents_keeping_comments() -> None:
    text = "operations:\n  - id: a  # first\n    after: []\n  - id: b\n    after: [a]  # keep me\n"
    yaml = YAML()
    doc = yaml.load(text)
    apply_edits_inplace(doc, [Edit("set", ("operations", "a", "after"), ["b"])])
    buf = io.StringIO()
    yaml.dump(doc, buf)
    out = buf.getvalue()
    assert "# first" in out and "# keep me" in out
    assert YAML(typ="safe").load(out)["operations"][0]["after"] == ["b"]


def test_removals_address_names_so_any_subset_of_a_plan_applies_correctly() -> None:
    doc = {"operations": [{"id": "x", "after": ["a", "b", "c"]}]}
    first = [Edit("remove", ("operations", "x", "after", "a"))]
    second = [Edit("remove", ("operations", "x", "after", "c"))]
    assert apply_edits(doc, first + second)["operations"][0]["after"] == ["b"]
    assert apply_edits(doc, second)["operations"][0]["after"] == ["a", "b"]  # `apply --only` the second
    with pytest.raises(MutationError, match="no item 'z'"):
        apply_edits(doc, [Edit("remove", ("operations", "x", "after", "z"))])


def test_prune_removes_only_an_empty_key_so_a_subset_of_a_plan_keeps_other_names() -> None:
    doc = {"operations": [{"id": "x", "after": ["a", "b"]}]}
    first = [Edit("remove", ("operations", "x", "after", "a"))]
    second = [Edit("remove", ("operations", "x", "after", "b")), Edit("prune", ("operations", "x", "after"))]
    assert "after" not in apply_edits(doc, first + second)["operations"][0]
    assert apply_edits(doc, second)["operations"][0]["after"] == ["a"]
    assert apply_edits(doc, [Edit("prune", ("fields", "nope", "format"))]) == doc
    assert Edit.from_dict(second[1].to_dict()) == second[1] and "value" not in second[1].to_dict()
