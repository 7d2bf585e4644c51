"""Write-back into engine files: cases found in review (recipemut.apply.engines)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recipemut.apply.transaction import apply_plan, rollback
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe


def _map(items: str, inner: str, **more: object) -> dict[str, object]:
    return {"Type": "Map", **more, "ItemsPath": items,
            "Iterator": {"StartAt": inner, "States": {inner: {"Type": "Pass", "End": True}}}}


#: three Map states: the first and third without MaxConcurrency, the second with one
ASL = {
    "StartAt": "First",
    "States": {
        "First": {**_map("$.a", "W1"), "Next": "Second"},
        "Second": {**_map("$.b", "W2", MaxConcurrency=5), "Next": "Third"},
        "Third": {**_map("$.c", "W3"), "End": True},
    },
}


def _fanout(op: str, k: int) -> PlannedMutation:
    return PlannedMutation(f"fanout:{op}", "fanout", (op,), f"fanout {op}",
                           (Edit("set", ("operations", op, "concurrency"), k),))


def _apply(tmp_path: Path, *muts: PlannedMutation) -> tuple[Path, str]:
    asl = tmp_path / "flow.asl.json"
    before = json.dumps(ASL, indent=2) + "\n"
    asl.write_text(before)
    plan = Plan(PlanRecipe(str(asl), recipe_sha256(asl)), muts, tuple(m.id for m in muts))
    res = apply_plan(asl, plan)
    assert res.written and not res.advice
    return asl, before


def _added_lines(before: str, after: str) -> list[str]:
    old = before.splitlines()
    return [line for line in after.splitlines() if line not in old]


def test_json_keys_added_to_two_states_each_land_before_their_states_first_key(tmp_path: Path) -> None:
    # both insertions were placed by offsets of the text before either: the second landed mid-token
    asl, before = _apply(tmp_path, _fanout("First", 12), _fanout("Third", 1000))
    after = asl.read_text()
    assert '"First": {\n      "MaxConcurrency": 12,\n      "Type": "Map"' in after
    assert '"Third": {\n      "MaxConcurrency": 1000,\n      "Type": "Map"' in after
    assert _added_lines(before, after) == ['      "MaxConcurrency": 12,', '      "MaxConcurrency": 1000,']
    recipe = load_recipe(asl)
    assert (recipe.ops["First"].concurrency, recipe.ops["Third"].concurrency) == (12, 1000)
    rollback(asl)
    assert asl.read_text() == before


def test_json_number_edited_before_a_key_added_further_down_keeps_its_indentation(tmp_path: Path) -> None:
    # the edit of Second's 5 moved the text after it, and Third's key went in one column early
    asl, before = _apply(tmp_path, _fanout("Second", 64), _fanout("Third", 8))
    after = asl.read_text()
    assert _added_lines(before, after) == ['      "MaxConcurrency": 64,', '      "MaxConcurrency": 8,']
    assert '"Third": {\n      "MaxConcurrency": 8,\n      "Type": "Map"' in after
    assert '      "MaxConcurrency": 64,' in after.splitlines()
    assert load_recipe(asl).ops["Third"].concurrency == 8


# ---- Argo depends expressions that name no removed task ----------------------------------------

ENHANCED = Path(__file__).resolve().parent / "realdata" / "engines" / "argo" / "dag-enhanced-depends.yaml"


def test_argo_eliminate_leaves_other_tasks_depends_expressions_as_written() -> None:
    # every task's depends was re-derived on any removal, so 'B || C' (no task of it removed) made
    # the removal advice, and 'A && (C.Succeeded || C.Failed)' would have been refused the same way
    from recipemut.apply.engines import write_back
    from recipemut.recipe.engines import import_text

    text = ENHANCED.read_text()
    imported = import_text(text, file="wf.yaml")
    assert imported is not None
    gone = PlannedMutation("eliminate:should-execute-3", "eliminate", ("should-execute-3",), "eliminate",
                           (Edit("remove", ("operations", "should-execute-3")),))
    wb = write_back(text, imported, [gone], source="wf.yaml")
    assert not wb.advice and [m.id for m in wb.written] == ["eliminate:should-execute-3"]
    removed = [line for line in text.splitlines() if line not in wb.text.splitlines()]
    assert removed == ["          - name: should-execute-3",
                       "            depends: should-execute-2.Succeeded || should-not-execute"]
    assert len(wb.text.splitlines()) == len(text.splitlines()) - 3  # and its 'template: pass' line


# ---- a dependency added to an Argo DAG that uses depends ------------------------------------------

MIXED = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: mix-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: a
            template: echo
          - name: b
            template: echo
          - name: c
            depends: a && b
            template: echo
    - name: echo
      container:
        image: alpine
"""


def test_argo_task_of_a_dag_using_depends_gets_depends_not_dependencies() -> None:
    # Argo refuses 'cannot use both 'depends' and 'dependencies' in the same DAG template': a task with
    # neither key got 'dependencies: [a]' beside c's depends, a workflow Argo would not run
    from recipemut.apply.engines import write_back
    from recipemut.recipe.engines import import_text

    imported = import_text(MIXED, file="wf.yaml")
    assert imported is not None
    after = PlannedMutation("reorder:a->b", "reorder", ("a", "b"), "b after a",
                            (Edit("append", ("operations", "b", "after"), "a"),))
    wb = write_back(MIXED, imported, [after], source="wf.yaml")
    assert not wb.advice
    added = [line for line in wb.text.splitlines() if line not in MIXED.splitlines()]
    assert added == ["            depends: a"]
    again = import_text(wb.text, file="wf.yaml")
    assert again is not None
    assert {o["id"]: o.get("after") for o in again.document["operations"]}["b"] == ["a"]


def test_argo_dag_without_depends_still_gets_a_dependencies_list() -> None:
    from recipemut.apply.engines import write_back
    from recipemut.recipe.engines import import_text

    text = MIXED.replace("            depends: a && b\n", "            dependencies: [a, b]\n")
    imported = import_text(text, file="wf.yaml")
    assert imported is not None
    after = PlannedMutation("reorder:a->b", "reorder", ("a", "b"), "b after a",
                            (Edit("append", ("operations", "b", "after"), "a"),))
    wb = write_back(text, imported, [after], source="wf.yaml")
    assert [line for line in wb.text.splitlines() if line not in text.splitlines()] == ["            dependencies: [a]"]


# ---- a written text that no longer parses -------------------------------------------------------


def test_a_written_text_that_would_not_parse_is_refused_as_a_mismatch_not_a_syntax_error_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the read-back's syntax error named a line of the text that was never written ('flow.asl.json:33:1:
    # YAML syntax error'), as if the user's file were broken; it is the write that failed
    import recipemut.apply.engines as engines
    from recipemut.errors import MutationError
    from recipemut.recipe.engines import import_text

    text = json.dumps(ASL, indent=2) + "\n"
    imported = import_text(text, file="flow.asl.json")
    assert imported is not None
    monkeypatch.setattr(engines, "_edited", lambda t, *a, **k: t.replace('"States": {', '"States": {{', 1))
    with pytest.raises(MutationError) as e:
        engines.write_back(text, imported, [_fanout("First", 12)], source="flow.asl.json")
    assert e.value.code == "write-back-mismatch" and e.value.line is None
    assert "would not read back" in e.value.message and "nothing was written" in e.value.message


# ---- Argo parallelism bounds every pod of its template ---------------------------------------------

FAN = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: fan-
spec:
  entrypoint: main
  templates:
    - name: main
      dag:
        tasks:
          - name: prepare
            template: echo
          - name: fan
            dependencies: [prepare]
            template: echo
            withItems: [1, 2, 3, 4, 5, 6, 7, 8]
          - name: side
            dependencies: [prepare]
            template: echo
          - name: done
            dependencies: [fan, side]
            template: echo
    - name: echo
      container:
        image: alpine
"""


def _fan_limit(text: str) -> tuple[str, tuple[str, ...]]:
    from recipemut.apply.engines import write_back
    from recipemut.recipe.engines import import_text

    imported = import_text(text, file="wf.yaml")
    assert imported is not None
    m = PlannedMutation("fanout:fan", "fanout", ("fan",), "fanout fan",
                        (Edit("set", ("operations", "fan", "concurrency"), 2),))
    wb = write_back(text, imported, [m], source="wf.yaml")
    return wb.text, tuple(a.why for a in wb.advice)


def test_argo_parallelism_that_would_also_throttle_a_task_running_beside_the_fan_out_is_advice() -> None:
    # 'parallelism: 2' on template main bounds every pod of main: side, which runs beside fan, would
    # have waited for fan's items, a change the plan does not make (the re-import compares fan-outs only)
    text, advice = _fan_limit(FAN)
    assert text == FAN
    assert len(advice) == 1 and "also of side, which may run beside fan" in advice[0]


def test_argo_parallelism_is_written_when_the_template_runs_nothing_beside_the_fan_out() -> None:
    sequential = FAN.replace("          - name: side\n            dependencies: [prepare]\n",
                             "          - name: side\n            dependencies: [fan]\n")
    text, advice = _fan_limit(sequential)
    assert not advice
    assert [line for line in text.splitlines() if line not in sequential.splitlines()] == ["      parallelism: 2"]
