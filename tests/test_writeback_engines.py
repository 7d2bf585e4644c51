"""Write-back into workflow engines' own files: Argo, Tekton, GitHub Actions, Step Functions (recipemut.apply.engines).

Each test applies a plan to a copy of a shipped example or a public example file and checks the
unified diff of the engine file line by line: only the lines the plan names change, comments stay,
and rollback gives the bytes back.
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import pytest

from recipemut.apply.engines import memoize_of, write_back
from recipemut.apply.history import history_path, read_history
from recipemut.apply.transaction import apply_plan, rollback
from recipemut.errors import MutationError, PlanError, RecipemutError
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.recipe.edits import Edit
from recipemut.recipe.engines import import_text
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
ARGO_CI = ROOT / "recipes" / "argo-ci" / "workflow.yaml"
REAL = ROOT / "tests" / "realdata" / "engines"
#: Argo's own examples: a diamond of ordering-only dependencies (flow lists), a commented header
DIAMOND = REAL / "argo" / "dag-diamond.yaml"
#: Tekton's own example: a PipelineRun with `when`, `runAfter` block lists and `finally`, commented
TEKTON = REAL / "tekton" / "pipelinerun-with-when-expressions.yaml"
A, B, C, D = (f"foo-bar-longname-{x}" for x in "ABCD")

#: a GitHub Actions workflow with comments, flow and block `needs`, and a matrix job
GHA = """\
# CI for a small service: lint first, then build and test.
name: ci
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: make lint
  build:
    needs: lint   # build only what lints
    runs-on: ubuntu-latest
    steps:
      - run: make build
  test:
    # the tests run on every Python
    needs: [lint, build]
    runs-on: ubuntu-latest
    strategy:
      matrix:
        python: ["3.10", "3.11", "3.12", "3.13"]
      max-parallel: 2   # two runners only
    steps:
      - run: make test
  docs:
    needs:
      - lint
      - build   # the docs embed the build's version
    runs-on: ubuntu-latest
    steps:
      - run: make docs
"""


def _copy(src: Path, tmp_path: Path) -> Path:
    out = tmp_path / src.name
    shutil.copyfile(src, out)
    return out


def _write(tmp_path: Path, name: str, text: str) -> Path:
    out = tmp_path / name
    out.write_bytes(text.encode())
    return out


def _mutation(operator: str, targets: tuple[str, ...], *edits: Edit, mid: str | None = None) -> PlannedMutation:
    return PlannedMutation(mid or f"{operator}:{'->'.join(targets)}", operator, targets, f"{operator} {targets}", edits)


def _parallelize(before: str, op: str, *rewire: str) -> PlannedMutation:
    edits = [Edit("remove", ("operations", op, "after", before))]
    edits += [Edit("append", ("operations", op, "after"), r) for r in rewire]
    return _mutation("parallelize", (before, op), *edits, Edit("prune", ("operations", op, "after")))


def _plan(path: Path, *muts: PlannedMutation) -> Plan:
    return Plan(PlanRecipe(str(path), recipe_sha256(path)), muts, tuple(m.id for m in muts))


def _changed(before: bytes, after: bytes) -> list[str]:
    """The -/+ lines of the unified diff between two texts (no headers, no context)."""
    diff = difflib.unified_diff(before.decode().splitlines(), after.decode().splitlines(), lineterm="", n=0)
    return [d for d in diff if d[:1] in "-+" and not d.startswith(("---", "+++"))]


def _comments(text: bytes) -> list[str]:
    """Every comment of a YAML text, whole-line or after a value, in order."""
    return [m.group(1) for line in text.decode().splitlines() if (m := re.search(r"(?:^|\s)(#.*)$", line))]


# ---- the done-when of issue 17 item 3: parallelize on Argo, Tekton, GitHub Actions ---------------


def test_argo_parallelize_changes_only_the_dependency_line_and_rollback_restores_bytes(tmp_path: Path) -> None:
    wf = _copy(DIAMOND, tmp_path)
    before = wf.read_bytes()
    res = apply_plan(wf, _plan(wf, _parallelize(B, D)))
    after = wf.read_bytes()
    assert res.written and res.mutations == (f"parallelize:{B}->{D}",) and not res.advice
    assert _changed(before, after) == [
        f"-        dependencies: [{B}, {C}]",
        f"+        dependencies: [{C}]",
    ]
    assert _comments(after) == _comments(before) and len(_comments(before)) == 7
    assert load_recipe(wf).ops[D].after == (C,)
    (entry,) = read_history(wf)
    assert entry.version_before is None and entry.version == 1 and entry.details["engine"] == "argo"
    undo = rollback(wf)
    assert undo.written and wf.read_bytes() == before


def test_tekton_parallelize_removes_the_runafter_key_it_empties(tmp_path: Path) -> None:
    pipeline = _copy(TEKTON, tmp_path)
    before = pipeline.read_bytes()
    res = apply_plan(pipeline, _plan(pipeline, _parallelize("echo-file-exists", "task-should-be-skipped-3")))
    after = pipeline.read_bytes()
    assert res.written and not res.advice
    assert _changed(before, after) == ["-        runAfter:", "-          - echo-file-exists"]
    assert _comments(after) == _comments(before) and len(_comments(before)) > 10
    assert "- name: task-should-be-skipped-3 # task with when expression and run after\n        when:" in after.decode()
    ops = load_recipe(pipeline).ops
    assert ops["task-should-be-skipped-3"].after == ()
    assert "task-should-be-skipped-3" in ops["finally-task-should-be-executed"].after  # finally still waits
    rollback(pipeline)
    assert pipeline.read_bytes() == before


def test_tekton_file_of_several_documents_is_edited_in_its_pipeline_document(tmp_path: Path) -> None:
    text = (
        "# the Task first, then the Pipeline that uses it\n"
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: echo}\nspec:\n  steps: [{image: busybox}]\n"
        "---\n# the pipeline\n"
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n  tasks:\n"
        "  - {name: a, taskRef: {name: echo}}\n"
        "  - name: b\n    runAfter: [a]   # b after a\n    taskRef: {name: echo}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n"
    )
    f = _write(tmp_path, "pipeline.yaml", text)
    res = apply_plan(f, _plan(f, _parallelize("a", "b")))
    assert res.written and _changed(text.encode(), f.read_bytes()) == ["-    runAfter: [a]   # b after a"]
    rollback(f)
    assert f.read_text() == text


def test_github_actions_parallelize_edits_flow_and_block_needs(tmp_path: Path) -> None:
    wf = _write(tmp_path, "ci.yml", GHA)
    before = wf.read_bytes()
    res = apply_plan(wf, _plan(wf, _parallelize("build", "test"), _parallelize("build", "docs")))
    after = wf.read_bytes()
    assert res.written and res.mutations == ("parallelize:build->test", "parallelize:build->docs")
    assert _changed(before, after) == [
        "-    needs: [lint, build]",
        "+    needs: [lint]",
        "-      - build   # the docs embed the build's version",
    ]
    assert "# the docs embed the build's version" not in after.decode()  # the line it was on is gone
    assert [c for c in _comments(before) if "docs embed" not in c] == [c for c in _comments(after)]
    rollback(wf)
    assert wf.read_bytes() == before


def test_a_rewired_edge_replaces_a_single_needs_and_adds_a_key_where_there_was_none(tmp_path: Path) -> None:
    wf = _write(tmp_path, "ci.yml", GHA)
    before = wf.read_bytes()
    res = apply_plan(wf, _plan(wf, _parallelize("lint", "build")))
    assert _changed(before, wf.read_bytes()) == ["-    needs: lint   # build only what lints"]
    assert res.written
    imported = import_text(GHA, file="ci.yml")
    assert imported is not None
    reorder = _mutation("reorder", ("lint", "build"), Edit("remove", ("operations", "build", "after", "lint")),
                        Edit("prune", ("operations", "build", "after")),
                        Edit("append", ("operations", "lint", "after"), "build"))
    wb = write_back(GHA, imported, [reorder], source="ci.yml")
    assert wb.written == (reorder,)
    assert _changed(GHA.encode(), wb.text.encode()) == [
        "+    needs: [build]",
        "-    needs: lint   # build only what lints",
    ]


def test_argo_depends_expression_loses_its_term(tmp_path: Path) -> None:
    wf = _copy(REAL / "argo" / "dag-enhanced-depends.yaml", tmp_path)
    before = wf.read_bytes()
    res = apply_plan(wf, _plan(wf, _parallelize("C", "should-not-execute"), _parallelize("A", "B")))
    after = wf.read_bytes()
    assert res.written and not res.advice
    assert _changed(before, after) == [
        "-            depends: A",
        "-            depends: B && C",
        "+            depends: B",
    ]
    assert load_recipe(wf).ops["should-not-execute"].after == ("B",)


# ---- concurrency, memoize, eliminate -------------------------------------------------------------


def test_argo_fanout_writes_parallelism_on_the_template_that_bounds_it(tmp_path: Path) -> None:
    wf = _copy(REAL / "argo" / "loops-param-result.yaml", tmp_path)
    before = wf.read_bytes()
    fan = _mutation("fanout", ("sleep",), Edit("set", ("operations", "sleep", "concurrency"), 4))
    res = apply_plan(wf, _plan(wf, fan))
    assert res.written and _changed(before, wf.read_bytes()) == ["+    parallelism: 4"]
    assert load_recipe(wf).ops["sleep"].concurrency == 4
    rollback(wf)
    assert wf.read_bytes() == before


def test_step_functions_json_max_concurrency_is_edited_in_place(tmp_path: Path) -> None:
    asl = _copy(REAL / "stepfunctions" / "distributed-map-montecarlo.asl.json", tmp_path)
    before = asl.read_bytes()
    op = "Monte_Carlo_Simulation_-_Distributed_Map_"
    res = apply_plan(asl, _plan(asl, _mutation("fanout", (op,), Edit("set", ("operations", op, "concurrency"), 250))))
    assert res.written
    assert _changed(before, asl.read_bytes()) == ['-      "MaxConcurrency": 1000,', '+      "MaxConcurrency": 250,']
    assert json.loads(asl.read_bytes())["States"]["Monte Carlo Simulation - (Distributed Map)"]["MaxConcurrency"] == 250
    rollback(asl)
    assert asl.read_bytes() == before


def test_step_functions_edge_change_is_advice_and_nothing_is_written(tmp_path: Path) -> None:
    asl = _copy(REAL / "stepfunctions" / "distributed-map-montecarlo.asl.json", tmp_path)
    before = asl.read_bytes()
    # the Map reads its items from S3 (ItemReader): only ordered after the state before it
    edge = _parallelize("Generate_Random_Samples", "Monte_Carlo_Simulation_-_Distributed_Map_")
    res = apply_plan(asl, _plan(asl, edge))
    assert not res.written and res.mutations == () and asl.read_bytes() == before
    (line,) = res.advice
    assert line.startswith("parallelize:") and "by where it stands" in line and "left out of the write" in line
    assert not history_path(asl).exists()


def test_github_actions_max_parallel(tmp_path: Path) -> None:
    wf = _write(tmp_path, "ci.yml", GHA)
    before = wf.read_bytes()
    fan = _mutation("fanout", ("test",), Edit("set", ("operations", "test", "concurrency"), 4))
    res = apply_plan(wf, _plan(wf, fan))
    assert res.written
    assert _changed(before, wf.read_bytes()) == ["-      max-parallel: 2   # two runners only",
                                                 "+      max-parallel: 4   # two runners only"]


def test_argo_cache_changes_memoize_max_age_keeping_its_key(tmp_path: Path) -> None:
    wf = _copy(REAL / "argo" / "memoize-simple.yaml", tmp_path)
    before = wf.read_bytes()
    cache = {"ttl_s": 600, "max_entries": 1000, "hit_latency_ms": 5}
    res = apply_plan(wf, _plan(wf, _mutation("cache", ("whalesay",), Edit("set", ("operations", "whalesay", "cache"),
                                                                          cache))))
    assert res.written
    assert _changed(before, wf.read_bytes()) == ['-      maxAge: "10s"', '+      maxAge: "600s"']


def test_argo_cache_adds_memoize_to_the_task_template(tmp_path: Path) -> None:
    text = ARGO_CI.read_text()
    imported = import_text(text, file="workflow.yaml")
    assert imported is not None
    cache = _mutation("cache", ("build",), Edit("set", ("operations", "build", "cache"), {"ttl_s": 3600}))
    wb = write_back(text, imported, [cache], source="workflow.yaml")
    assert wb.written == (cache,) and not wb.advice
    added = _changed(text.encode(), wb.text.encode())
    assert added[0] == "+      memoize:" and all(line.startswith("+") for line in added)
    again = import_text(wb.text, file="workflow.yaml")
    assert again is not None
    build = next(o for o in again.document["operations"] if o["id"] == "build")
    assert build["cache"]["ttl_s"] == 3600 and build["deterministic"] is True
    assert "name: recipemut-memo-build" in wb.text and 'maxAge: 3600s' in wb.text


def test_memoize_key_is_the_templates_input_parameters() -> None:
    tmpl = {"name": "Fetch_X", "inputs": {"parameters": [{"name": "a"}, {"name": "b"}]}}
    assert memoize_of(tmpl, {"ttl_s": 90.5}) == {
        "key": "{{inputs.parameters.a}}-{{inputs.parameters.b}}",
        "maxAge": "90.5s",
        "cache": {"configMap": {"name": "recipemut-memo-fetch-x"}},
    }
    assert memoize_of({"name": "gen"}, {"ttl_s": 0})["key"] == "gen"


def _write_back(text: str, *muts: PlannedMutation, name: str = "wf.yaml") -> tuple[str, tuple[str, ...]]:
    """The engine text written and the advice, without the plan check (imported steps are not side-effect free)."""
    imported = import_text(text, file=name)
    assert imported is not None
    wb = write_back(text, imported, muts, source=name)
    return wb.text, tuple(a.line() for a in wb.advice)


def test_eliminate_removes_the_task_and_rewires_what_followed_it() -> None:
    before = DIAMOND.read_bytes()
    gone = _mutation("eliminate", (C,), Edit("remove", ("operations", C)),
                     Edit("remove", ("operations", D, "after", C)), Edit("append", ("operations", D, "after"), A))
    text, advice = _write_back(before.decode(), gone)
    assert not advice
    assert _changed(before, text.encode()) == [
        f"-      - name: {C}",
        f"-        dependencies: [{A}]",
        "-        template: echo",
        "-        arguments:",
        f"-          parameters: [{{name: message, value: {C}}}]",
        f"-        dependencies: [{B}, {C}]",
        f"+        dependencies: [{B}, {A}]",
    ]
    again = import_text(text, file="wf.yaml")
    assert again is not None
    ops = {o["id"]: o for o in again.document["operations"]}
    assert C not in ops and ops[D]["after"] == [B, A]


def test_eliminate_on_github_actions_drops_the_job_and_every_needs_naming_it() -> None:
    gone = _mutation("eliminate", ("build",), Edit("remove", ("operations", "build")),
                     Edit("remove", ("operations", "test", "after", "build")),
                     Edit("remove", ("operations", "docs", "after", "build")))
    text, advice = _write_back(GHA, gone, name="ci.yml")
    assert not advice
    assert _changed(GHA.encode(), text.encode()) == [
        "-  build:",
        "-    needs: lint   # build only what lints",
        "-    runs-on: ubuntu-latest",
        "-    steps:",
        "-      - run: make build",
        "-    needs: [lint, build]",
        "+    needs: [lint]",
        "-      - build   # the docs embed the build's version",
    ]


def test_eliminate_of_an_imported_step_is_refused_by_the_plan_check(tmp_path: Path) -> None:
    wf = _copy(DIAMOND, tmp_path)
    gone = _mutation("eliminate", (D,), Edit("remove", ("operations", D)))
    with pytest.raises(PlanError, match="side effects"):
        apply_plan(wf, _plan(wf, gone))
    assert wf.read_bytes() == DIAMOND.read_bytes()


# ---- advice, refusals, crashes, versions --------------------------------------------------------


def test_a_mutation_the_engine_cannot_express_is_advice_and_the_rest_is_written(tmp_path: Path) -> None:
    wf = _copy(DIAMOND, tmp_path)
    hedge = _mutation("hedge", (A,), Edit("set", ("operations", A, "hedge"), {"after_ms": 900}))
    par = _parallelize(B, D)
    plan = _plan(wf, hedge, par)
    res = apply_plan(wf, plan)
    assert res.written and res.mutations == (par.id,)
    (line,) = res.advice
    assert line.startswith(f"hedge:{A}: it sets {A}'s hedge") and "left out of the write" in line
    (entry,) = read_history(wf)
    assert [m["id"] for m in entry.mutations] == [par.id]
    assert entry.details["advice"] == [{"id": hedge.id, "operator": "hedge", "advice": line.split(": ", 1)[1]
                                        .removesuffix("; left out of the write")}]
    with pytest.raises(PlanError, match="already applied as history entry 1"):
        apply_plan(wf, plan)


def test_argo_parallelism_shared_by_two_fanouts_is_advice(tmp_path: Path) -> None:
    text = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: two-loops}
spec:
  entrypoint: main
  templates:
    - name: main
      parallelism: 8   # both loops share it
      dag:
        tasks:
          - {name: a, template: t, withParam: "{{workflow.parameters.xs}}"}
          - {name: b, template: t, withParam: "{{workflow.parameters.ys}}"}
    - name: t
      container: {image: busybox}
"""
    imported = import_text(text, file="wf.yaml")
    assert imported is not None
    fan = _mutation("fanout", ("a",), Edit("set", ("operations", "a", "concurrency"), 2))
    wb = write_back(text, imported, [fan], source="wf.yaml")
    assert wb.text == text and wb.written == ()
    assert "bounds b too" in wb.advice[0].why


def test_stale_plan_on_an_engine_file_is_refused(tmp_path: Path) -> None:
    wf = _copy(DIAMOND, tmp_path)
    plan = _plan(wf, _parallelize(B, D))
    wf.write_bytes(wf.read_bytes() + b"# a hand edit\n")
    edited = wf.read_bytes()
    with pytest.raises(PlanError, match="stale plan"):
        apply_plan(wf, plan)
    assert wf.read_bytes() == edited and not history_path(wf).exists()


def test_canary_on_an_engine_file_is_refused(tmp_path: Path) -> None:
    wf = _copy(DIAMOND, tmp_path)
    before = wf.read_bytes()
    with pytest.raises(RecipemutError, match="canary into Argo Workflow files is not available"):
        apply_plan(wf, _plan(wf, _parallelize(B, D)), canary=0.1)
    assert wf.read_bytes() == before


def test_dry_run_shows_the_engine_diff_and_writes_nothing(tmp_path: Path) -> None:
    wf = _copy(TEKTON, tmp_path)
    before = wf.read_bytes()
    res = apply_plan(wf, _plan(wf, _parallelize("echo-file-exists", "task-should-be-skipped-3")), dry_run=True)
    assert not res.written and "-        runAfter:\n-          - echo-file-exists\n" in res.diff
    assert wf.read_bytes() == before and not history_path(wf).exists()


def test_crash_after_the_history_leaves_a_recorded_text_and_the_next_write_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recipemut.apply.transaction as tx

    wf = _copy(DIAMOND, tmp_path)
    before = wf.read_bytes()
    real = tx.atomic_write

    def crash(path: object, data: bytes, **kw: object) -> None:
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(tx, "atomic_write", crash)
    with pytest.raises(KeyboardInterrupt):
        apply_plan(wf, _plan(wf, _parallelize(B, D)))
    monkeypatch.setattr(tx, "atomic_write", real)
    (entry,) = read_history(wf)
    assert wf.read_bytes() == before and entry.previous_text == before.decode()
    res = apply_plan(wf, _plan(wf, _parallelize(B, D)))
    assert res.written and [e.action for e in read_history(wf)] == ["apply", "recover", "apply"]
    assert read_history(wf)[1].version == read_history(wf)[0].version_before
    assert _changed(before, wf.read_bytes()) == [f"-        dependencies: [{B}, {C}]", f"+        dependencies: [{C}]"]


def test_versions_live_in_the_history_and_rollback_to_restores_each_text(tmp_path: Path) -> None:
    wf = _write(tmp_path, "ci.yml", GHA)
    original = wf.read_bytes()
    apply_plan(wf, _plan(wf, _parallelize("build", "docs")))
    one = wf.read_bytes()
    res = apply_plan(wf, _plan(wf, _parallelize("build", "test")))
    assert (res.version_before, res.version) == (1, 2)
    assert b"version" not in wf.read_bytes()
    rollback(wf, to=1)
    assert wf.read_bytes() == one
    rollback(wf, entry=1)
    assert wf.read_bytes() == one
    rollback(wf, to=2)
    rollback(wf)
    assert wf.read_bytes() == one
    assert read_history(wf)[0].previous_text == original.decode()


def test_step_functions_json_gets_max_concurrency_before_the_states_first_key(tmp_path: Path) -> None:
    asl = _copy(REAL / "stepfunctions" / "map-sqs-messages.asl.json", tmp_path)
    before = asl.read_bytes()
    fan = _mutation("fanout", ("Process_Messages",), Edit("set", ("operations", "Process_Messages", "concurrency"), 8))
    res = apply_plan(asl, _plan(asl, fan))
    assert res.written
    assert _changed(before, asl.read_bytes()) == ['+      "MaxConcurrency": 8,']
    assert asl.read_text().index('"MaxConcurrency": 8,\n      "Type": "Map"') > 0
    assert json.loads(asl.read_bytes())["States"]["Process Messages"]["MaxConcurrency"] == 8
    rollback(asl)
    assert asl.read_bytes() == before


def test_serverless_workflow_foreach_gets_batch_size(tmp_path: Path) -> None:
    sw = _copy(REAL / "serverlessworkflow" / "v08-process-transactions.json", tmp_path)
    before = sw.read_bytes()
    op = "process-transactions"
    res = apply_plan(sw, _plan(sw, _mutation("fanout", (op,), Edit("set", ("operations", op, "concurrency"), 16))))
    assert res.written and _changed(before, sw.read_bytes()) == ['+            "batchSize": 16,']


def test_a_json_file_takes_no_structural_edit() -> None:
    text = (REAL / "stepfunctions" / "distributed-map-montecarlo.asl.json").read_text()
    gone = _mutation("eliminate", ("Aggregate_Results",), Edit("remove", ("operations", "Aggregate_Results")))
    out, advice = _write_back(text, gone, name="sm.asl.json")
    assert out == text and "orders by where it stands" in advice[0]


def test_memoize_on_a_template_other_tasks_call_is_advice() -> None:
    text = DIAMOND.read_text()
    cache = _mutation("cache", (D,), Edit("set", ("operations", D, "cache"), {"ttl_s": 60}))
    out, advice = _write_back(text, cache)
    assert out == text and f"template echo is called by {A}, {B}, {C} too" in advice[0]


def test_a_result_that_would_not_validate_is_refused_whole() -> None:
    imported = import_text(GHA, file="ci.yml")
    assert imported is not None
    circle = _mutation("reorder", ("build", "lint"), Edit("append", ("operations", "lint", "after"), "build"))
    with pytest.raises(MutationError, match=r"would make the GitHub Actions workflow file invalid: .*nothing was"):
        write_back(GHA, imported, [circle], source="ci.yml")


def test_jobs_named_apart_from_their_keys_are_needed_by_key(tmp_path: Path) -> None:
    text = GHA.replace("  build:\n", "  build:\n    name: Build it\n")
    text = text.replace("  test:\n", "  test:\n    name: Tests\n")
    wf = _write(tmp_path, "ci.yml", text)
    imported = import_text(text, file="ci.yml")
    assert imported is not None and {o["id"] for o in imported.document["operations"]} >= {"Build_it", "Tests"}
    res = apply_plan(wf, _plan(wf, _parallelize("Build_it", "Tests")))
    assert res.written
    assert _changed(text.encode(), wf.read_bytes()) == ["-    needs: [lint, build]", "+    needs: [lint]"]
