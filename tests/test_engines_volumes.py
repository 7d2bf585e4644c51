"""Data the engines pass through shared storage (issue 17 follow-up): Argo volumes, Tekton workspaces,
GitHub Actions artifacts become fields, so ``parallelize`` keeps the order a shared tree needs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.mutate.operators import OperatorContext
from recipemut.mutate.operators.parallelize import generate
from recipemut.recipe.loader import check_recipe, check_text
from recipemut.recipe.model import Recipe

runner = CliRunner()
ROOT = Path(__file__).parents[1]
REAL = Path(__file__).parent / "realdata" / "engines"


def _check(text: str, file: str = "wf.yaml") -> tuple[Recipe, list[str]]:
    r, findings = check_text(text, file=file)
    assert r is not None, [str(f) for f in findings]
    assert [str(f) for f in findings if f.severity == "error"] == []
    return r, [f"{f.line}:{f.code}:{f.message}" for f in findings if f.code.startswith("import-")]


def _parallelizable(r: Recipe) -> set[tuple[str, ...]]:
    return {m.targets for m in generate(OperatorContext.build(r))}


def _argo(tasks: str, templates: str, volumes: str = "") -> str:
    return f"""apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: vol}}
spec:
  entrypoint: main
{volumes}  templates:
    - name: main
      dag:
        tasks:
{tasks}{templates}"""


_CLAIM = """  volumeClaimTemplates:
    - metadata: {name: work}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def _tmpl(name: str, mounts: str) -> str:
    return f"""    - name: {name}
      container:
        image: img/{name}
        volumeMounts:
{mounts}"""


RW = "          - {name: work, mountPath: /src}\n"
RO = "          - {name: work, mountPath: /src, readOnly: true}\n"


# ---- the shipped Argo CI example ---------------------------------------------------------------


def test_suggest_on_argo_ci_keeps_build_after_deps_and_still_offers_what_is_independent() -> None:
    wf = ROOT / "recipes" / "argo-ci" / "workflow.yaml"
    res = runner.invoke(
        app,
        ["suggest", str(wf), "--logs", str(ROOT / "recipes" / "argo-ci" / "runs.yaml"), "--format", "json", "-q"],
        env={"COLUMNS": "200", "RECIPEMUT_STORE": "off"},
    )
    assert res.exit_code in (0, 3), res.output
    report = json.loads(res.stdout)
    seen = {
        tuple(m["targets"])
        for m in [*report["mutations"], *report["report"]["singles"], *report["report"]["rejected"]]
        if m["operator"] == "parallelize"
    }
    # deps, build and test work in one checked-out tree on the `work` volume: never run side by side
    assert not seen & {("clone", "deps"), ("deps", "build"), ("build", "test")}
    # cache-restore mounts other sub-paths of the volume (mod, cache): it stays a candidate
    assert ("cache-restore", "deps") in seen
    r, _ = check_recipe(wf)
    assert r is not None
    assert r.ops["build"].consumes == ("volume.work.2",) and r.ops["build"].produces == ("volume.work.3",)
    assert r.dag.edges["deps", "build"]["kind"] == "data" and r.ops["build"].after == ()
    assert r.fields["volume.work.1"].type == "bytes"
    assert r.position("fields", "volume.work.1") == (123, 13)  # a mount of `work` by clone (its GOCACHE sub-path)


# ---- hand-written Argo files ----------------------------------------------------------------------


def test_a_reader_after_a_writer_is_a_data_edge_and_two_readers_may_run_side_by_side() -> None:
    tasks = """          - {name: clone, template: clone}
          - {name: lint, template: lint, dependencies: [clone]}
          - {name: test, template: test, dependencies: [lint]}
"""
    text = _argo(tasks, _tmpl("clone", RW) + _tmpl("lint", RO) + _tmpl("test", RO), _CLAIM)
    r, warnings = _check(text)
    assert warnings == []
    assert r.ops["clone"].produces == ("volume.work.1",)
    assert r.ops["lint"].consumes == r.ops["test"].consumes == ("volume.work.1",)
    assert r.ops["lint"].produces == r.ops["test"].produces == ()
    assert r.dag.edges["clone", "lint"]["kind"] == "data"
    assert r.ops["test"].after == ("lint",)  # two readers: only an ordering edge
    assert _parallelizable(r) == {("lint", "test")}  # and test still waits for clone by its data edge


def test_two_writers_in_a_row_are_chained_by_versions_and_never_parallelized() -> None:
    tasks = """          - {name: deps, template: deps}
          - {name: build, template: build, dependencies: [deps]}
"""
    r, _ = _check(_argo(tasks, _tmpl("deps", RW) + _tmpl("build", RW), _CLAIM))
    assert r.ops["deps"].produces == ("volume.work.1",)
    assert r.ops["build"].consumes == ("volume.work.1",) and r.ops["build"].produces == ("volume.work.2",)
    assert r.ops["build"].after == () and _parallelizable(r) == set()


def test_writers_the_engine_runs_side_by_side_stay_side_by_side() -> None:
    tasks = """          - {name: a, template: a}
          - {name: b, template: b}
          - {name: c, template: c, dependencies: [a, b]}
"""
    r, _ = _check(_argo(tasks, _tmpl("a", RW) + _tmpl("b", RW) + _tmpl("c", RO), _CLAIM))
    assert not r.dag.has_edge("a", "b") and not r.dag.has_edge("b", "a")
    assert r.ops["c"].consumes == ("volume.work.1", "volume.work.2") and r.ops["c"].after == ()


def test_a_writer_after_readers_keeps_its_order_by_keep_order() -> None:
    tasks = """          - {name: clone, template: clone}
          - {name: test, template: test, dependencies: [clone]}
          - {name: clean, template: clean, dependencies: [test]}
"""
    r, _ = _check(_argo(tasks, _tmpl("clone", RW) + _tmpl("test", RO) + _tmpl("clean", RW), _CLAIM))
    assert r.ops["clean"].consumes == ("volume.work.1",) and r.ops["clean"].produces == ("volume.work.2",)
    assert r.ops["clean"].after == ("test",)
    assert r.constraints.keep_order == (("test", "clean"),)
    assert ("test", "clean") not in _parallelizable(r)  # the cleanup must not delete what test reads


def test_sub_paths_share_a_volume_only_when_one_holds_the_other() -> None:
    tasks = """          - {name: a, template: a}
          - {name: b, template: b, dependencies: [a]}
          - {name: c, template: c, dependencies: [b]}
"""
    a = "          - {name: work, mountPath: /x, subPath: src}\n"
    b = "          - {name: work, mountPath: /x, subPath: cache}\n"
    c = "          - {name: work, mountPath: /x, subPath: src/pkg}\n"
    r, _ = _check(_argo(tasks, _tmpl("a", a) + _tmpl("b", b) + _tmpl("c", c), _CLAIM))
    assert r.ops["b"].consumes == () and r.ops["b"].produces == ()  # cache: nobody else's
    assert r.ops["c"].consumes == ("volume.work.1",) and r.dag.has_edge("a", "c")  # src/pkg is inside src
    assert r.ops["c"].after == ("b",)


def test_pod_local_and_unwritable_volumes_are_no_fields_host_path_and_unknown_are_warned() -> None:
    volumes = """  volumes:
    - {name: scratch, emptyDir: {}}
    - {name: conf, configMap: {name: c}}
    - {name: host, hostPath: {path: /var/cache}}
    - {name: shared, persistentVolumeClaim: {claimName: pvc, readOnly: true}}
"""
    mounts = "".join(
        f"          - {{name: {n}, mountPath: /{n}}}\n" for n in ("scratch", "conf", "host", "shared", "nowhere")
    )
    tasks = """          - {name: a, template: a}
          - {name: b, template: b, dependencies: [a]}
"""
    text = _argo(tasks, _tmpl("a", mounts) + _tmpl("b", mounts), volumes)
    r, warnings = _check(text)
    assert r.ops["a"].produces == ("volume.host.1", "volume.nowhere.1")  # read-only claim: read, never written
    assert r.ops["b"].consumes == ("volume.host.1", "volume.nowhere.1")
    assert not any("scratch" in f or "conf" in f or "shared" in f for f in r.fields)
    host_line = text.splitlines().index("    - {name: host, hostPath: {path: /var/cache}}") + 1
    assert [w for w in warnings if "hostPath" in w] == [
        f"{host_line}:import-volume:volume 'host' is a hostPath: whether the steps mounting it share it "
        "(the same node) cannot be told; taken as shared, read-write unless a mount is readOnly"
    ]
    unknown = [w for w in warnings if "nowhere" in w]
    assert len(unknown) == 2 and all("neither the workflow nor its template declares" in w for w in unknown)
    lines = text.splitlines()
    assert {int(w.split(":")[0]) for w in unknown} == {i + 1 for i, line in enumerate(lines) if "name: nowhere" in line}


def test_a_nested_template_brings_the_mounts_of_the_steps_it_calls() -> None:
    tasks = """          - {name: prep, template: inner}
          - {name: use, template: use, dependencies: [prep]}
"""
    inner = """    - name: inner
      steps:
        - - {name: w, template: writer}
"""
    r, _ = _check(_argo(tasks, inner + _tmpl("writer", RW) + _tmpl("use", RO), _CLAIM))
    assert r.ops["prep"].produces == ("volume.work.1",) and r.ops["use"].consumes == ("volume.work.1",)


# ---- Tekton workspaces ------------------------------------------------------------------------------


def _tekton(tasks: str) -> str:
    return f"""apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: reader}}
spec:
  workspaces: [{{name: src, readOnly: true}}]
  steps: [{{name: s, image: alpine}}]
---
apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: writer}}
spec:
  workspaces: [{{name: src}}]
  steps: [{{name: s, image: alpine}}]
---
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {{name: ws}}
spec:
  workspaces: [{{name: shared}}]
  tasks:
{tasks}"""


def test_tekton_tasks_sharing_a_workspace_are_data_and_read_only_ones_may_run_side_by_side() -> None:
    tasks = """    - {name: fetch, taskRef: {name: writer}, workspaces: [{name: src, workspace: shared}]}
    - {name: lint, runAfter: [fetch], taskRef: {name: reader}, workspaces: [{name: src, workspace: shared}]}
    - {name: test, runAfter: [lint], taskRef: {name: reader}, workspaces: [{name: src, workspace: shared}]}
    - name: report
      runAfter: [test]
      workspaces: [{name: shared}]
      taskSpec:
        steps: [{name: s, image: alpine, script: "ls $(workspaces.shared.path)"}]
"""
    r, warnings = _check(_tekton(tasks), "p.yaml")
    assert warnings == []
    assert r.ops["fetch"].produces == ("workspace.shared.1",)
    assert r.ops["lint"].consumes == r.ops["test"].consumes == ("workspace.shared.1",)
    assert r.ops["lint"].after == () and r.ops["test"].after == ("lint",)
    # report binds `shared` by name alone and its Task does not say readOnly: a writer, after the readers
    assert r.ops["report"].consumes == ("workspace.shared.1",) and r.ops["report"].produces == ("workspace.shared.2",)
    assert set(r.constraints.keep_order) == {("lint", "report"), ("test", "report")}
    # lint must finish before report writes: test may not leave lint's side (lint would lose report's order)
    assert _parallelizable(r) == set()
    without_writer, _ = _check(_tekton(tasks.split("    - name: report")[0]), "p.yaml")
    assert _parallelizable(without_writer) == {("lint", "test")}


def test_tekton_propagated_unbound_and_unknown_task_workspaces() -> None:
    tasks = """    - {name: fetch, taskRef: {name: writer}, workspaces: [{name: src, workspace: shared}]}
    - name: show
      runAfter: [fetch]
      taskSpec:
        steps: [{name: s, image: alpine, script: "cat $(workspaces.shared.path)/x"}]
    - {name: hub, runAfter: [show], taskRef: {name: from-the-hub}, workspaces: [{name: out, workspace: shared}]}
    - {name: odd, runAfter: [hub], taskRef: {name: writer}, workspaces: [{name: src, workspace: other}]}
"""
    text = _tekton(tasks)
    r, warnings = _check(text, "p.yaml")
    assert r.ops["show"].consumes == ("workspace.shared.1",) and r.ops["show"].after == ()  # propagated
    assert r.ops["hub"].consumes == ("workspace.shared.2",)  # the unknown Task is taken as a writer
    assert "workspace.other.1" not in r.fields  # one task binds it: nothing shared
    lines = text.splitlines()
    hub = next(i + 1 for i, line in enumerate(lines) if "name: hub" in line)
    odd = next(i + 1 for i, line in enumerate(lines) if "name: odd" in line)
    assert [w.split(":", 2)[:2] for w in warnings] == [[str(hub), "import-workspace"], [str(odd), "import-workspace"]]
    assert "cannot be told; taken as read-write" in warnings[0]
    assert "'other', which the pipeline does not declare" in warnings[1]


def test_tekton_public_example_cleanup_reads_the_clone_by_its_workspace() -> None:
    r, _ = check_recipe(REAL / "tekton" / "pipelinerun-with-final-tasks.yaml")
    assert r is not None
    assert r.dag.edges["clone-app-repo", "cleanup"]["kind"] == "data"
    assert r.ops["cleanup"].produces == ("workspace.git-source.2",)  # rm -rf: cleanup writes it


# ---- GitHub Actions artifacts (the importer already reads them; a real workflow) ---------------------


def test_github_actions_artifacts_by_name_are_data_edges_on_a_real_workflow() -> None:
    r, _ = check_recipe(REAL / "github-actions" / "transformers-doctests.yml")
    assert r is not None
    # send_results downloads what the called doctest workflow uploaded: a data edge, not `needs` alone
    assert r.ops["Send_results_to_webhook"].consumes == ("Call_doctest_jobs.artifacts",)
    assert r.dag.edges["Call_doctest_jobs", "Send_results_to_webhook"]["kind"] == "data"
