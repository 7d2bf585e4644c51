"""Errors with a likely fix say it: the value of a fixed key, another tool's name for a key, a log or
a recipe given where a recipe or a plan goes, a plan applied twice (issue 16, items 1 and 8)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.apply.transaction import apply_plan
from recipemut.cli import app
from recipemut.errors import InputFileError, PlanError
from recipemut.plan.planfile import load_plan
from recipemut.recipe.loader import check_text, read_text

runner = CliRunner()

MINIMAL = """\
apiVersion: recipemut/v1
kind: Recipe
name: t
fields: {a: {type: string}, b: {type: object}}
inputs: [a]
outputs: [b]
services: {s: {replicas: 2}}
operations:
  - id: f
    service: s
    action: F
    consumes: [a]
    produces: [b]
"""


def _messages(text: str) -> list[str]:
    return [str(f) for f in check_text(text, file="r.yaml")[1]]


def test_each_missing_key_is_reported_once_with_the_value_to_write() -> None:
    text = MINIMAL.replace("apiVersion: recipemut/v1\nkind: Recipe\nname: t\n", "")
    assert _messages(text) == [
        "r.yaml:1:1: top level: missing required key 'apiVersion' (write `apiVersion: recipemut/v1`) [missing-key]",
        "r.yaml:1:1: top level: missing required key 'kind' (write `kind: Recipe`) [missing-key]",
        "r.yaml:1:1: top level: missing required key 'name' [missing-key]",
    ]


def test_validate_counts_three_missing_keys_as_three_errors(tmp_path: Path) -> None:
    r = tmp_path / "r.yaml"
    r.write_text(MINIMAL.replace("apiVersion: recipemut/v1\nkind: Recipe\nname: t\n", ""))
    res = runner.invoke(app, ["validate", str(r)])
    assert res.exit_code == 1, res.output
    assert res.output.count("missing required key") == 3 and "(3 errors, 0 warnings)" in res.output


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    consumes: [a]\n", "    consumes: [a]\n    depends_on: []\n",
         "operations[0] (f): unknown key 'depends_on' (did you mean 'after'? a recipe names what must run first "
         "in 'after') [unknown-key]"),
        ("    consumes: [a]\n", "    consumes: [a]\n    needs: []\n", "unknown key 'needs' (did you mean 'after'?"),
        ("    consumes: [a]\n", "    consumes: [a]\n    runAfter: []\n",
         "unknown key 'runAfter' (did you mean 'after'?"),
        ("    consumes: [a]\n", "    consumes: [a]\n    dependencies: []\n",
         "unknown key 'dependencies' (did you mean 'after'?"),
        ("    consumes: [a]\n", "    consumes: [a]\n    cost: 0.001\n",
         "unknown key 'cost' (did you mean 'cost_per_call_usd'? a recipe states the cost of one call in US dollars)"),
        ("    consumes: [a]\n    produces: [b]\n", "    inputs: [a]\n    outputs: [b]\n",
         "operations[0] (f): unknown key 'inputs' (did you mean 'consumes'? an operation lists the fields it reads"),
        ("    consumes: [a]\n    produces: [b]\n", "    inputs: [a]\n    outputs: [b]\n",
         "operations[0] (f): unknown key 'outputs' (did you mean 'produces'? an operation lists the fields it writes"),
    ],
)
def test_other_tools_names_for_a_key_point_to_the_recipes_name(old: str, new: str, expected: str) -> None:
    text = MINIMAL.replace(old, new, 1)
    assert text != MINIMAL
    assert any(expected in m for m in _messages(text)), _messages(text)


def test_a_synonym_is_offered_only_where_its_key_is_allowed() -> None:
    # `needs` at the top level: a recipe has no top-level `after`, so no synonym (and no close match)
    assert _messages(MINIMAL + "needs: []\n") == ["r.yaml:14:1: top level: unknown key 'needs' [unknown-key]"]


def test_a_close_spelling_still_wins_where_there_is_no_synonym() -> None:
    text = MINIMAL.replace("    consumes: [a]\n", "    consumes: [a]\n    afte: []\n", 1)
    assert "operations[0] (f): unknown key 'afte' (did you mean 'after'?) [unknown-key]" in " ".join(_messages(text))


@pytest.mark.parametrize(
    ("head", "name"),
    [(gzip.compress(b'{"trace_id": "t"}\n', mtime=0), "gzip"), (b"\x28\xb5\x2f\xfd\x00\x58\x00\x00", "zstd")],
    ids=["gzip", "zstd"],
)
def test_a_compressed_log_given_as_a_recipe_says_so(tmp_path: Path, head: bytes, name: str) -> None:
    p = tmp_path / "logs.jsonl.gz"
    p.write_bytes(head)
    with pytest.raises(InputFileError) as e:
        read_text(p)
    assert str(e.value) == (
        f"{p}: this is a {name} file, not a YAML recipe — a log? logs go to --logs of profile or suggest"
    )
    assert e.value.code == "compressed-file"
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 1 and f"this is a {name} file" in res.output and "NUL byte" not in res.output


def test_text_that_starts_like_a_magic_number_is_read_as_text(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("BZh9: 1\n")
    assert read_text(p) == "BZh9: 1\n"


def test_a_recipe_given_as_the_plan_points_to_suggest(tmp_path: Path) -> None:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    with pytest.raises(PlanError) as e:
        load_plan(r)
    assert e.value.code == "not-a-plan"
    res = runner.invoke(app, ["apply", str(r), "--plan", str(r)])
    assert res.exit_code == 1, res.output
    assert "this looks like a recipe (YAML), not a plan: make a plan with " \
           "`recipemut suggest RECIPE --logs LOGS --out plan.json`" in " ".join(res.output.split())


def test_broken_json_that_is_not_a_recipe_keeps_the_json_error(tmp_path: Path) -> None:
    p = tmp_path / "plan.json"
    p.write_text('{"planVersion":\n')
    with pytest.raises(PlanError, match="not valid JSON: Expecting value") as e:
        load_plan(p)
    assert e.value.code == "plan-json"


def test_a_plan_applied_twice_names_the_history_entry(tmp_path: Path) -> None:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    plan = load_plan(make_plan(r))
    assert apply_plan(r, plan).written
    applied = r.read_bytes()
    with pytest.raises(PlanError) as e:
        apply_plan(r, plan)
    assert e.value.code == "already-applied"
    assert "this plan was already applied as history entry 1 (version 5)" in str(e.value)
    assert r.read_bytes() == applied


def test_a_plan_started_as_a_canary_says_so(tmp_path: Path) -> None:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    plan = load_plan(make_plan(r))
    assert apply_plan(r, plan, canary=0.2).written
    with pytest.raises(PlanError, match=r"already running as a canary \(history entry 1, version 5\)"):
        apply_plan(r, plan)


def test_a_plan_whose_recipe_changed_after_it_was_applied_is_stale(tmp_path: Path) -> None:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    plan = load_plan(make_plan(r))
    apply_plan(r, plan)
    r.write_text(r.read_text() + "# touched\n")
    with pytest.raises(PlanError) as e:
        apply_plan(r, plan, force=True)
    assert e.value.code == "stale-plan" and "run suggest again" in str(e.value)


def test_another_plan_from_the_same_text_is_stale_not_applied(tmp_path: Path) -> None:
    from _apply_helpers import CACHE, PARALLELIZE

    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    first = load_plan(make_plan(r, (PARALLELIZE,)))
    second = load_plan(make_plan(r, (CACHE,), out=tmp_path / "other.json"))
    apply_plan(r, first)
    with pytest.raises(PlanError) as e:
        apply_plan(r, second)
    assert e.value.code == "stale-plan"
