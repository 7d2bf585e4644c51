"""Tekton run histories: PipelineRun and TaskRun objects.

As ``kubectl get pipelinerun,taskrun -o yaml|json`` or ``tkn pr describe -o json`` give them: one
object, a list, or a ``kind: List`` with ``items``, in one file or several. One PipelineRun is one
request (``request_id`` = its name); each TaskRun of it is a span:

* a TaskRun (or a custom task's CustomRun) object names its PipelineRun by the
  ``tekton.dev/pipelineRun`` label, else its ``ownerReferences``, else the PipelineRun (in the
  same file) whose ``status.childReferences`` list it, else the PipelineRun (in the same file)
  whose name its own name extends (``<pipelinerun>-<task>-...``, as Tekton names them); a TaskRun
  of no PipelineRun is a run of its own;
* a PipelineRun's embedded ``status.taskRuns`` (the full embedded status of older releases) are
  spans too, unless the same TaskRun is also in the files as an object;
* ``op`` is :func:`~recipemut.recipe.engines.names.op_id` of the pipeline task: the
  ``tekton.dev/pipelineTask`` label, else the ``pipelineTaskName`` of the child reference or
  embedded status; a TaskRun of no pipeline is named by its ``tekton.dev/task`` label or ``taskRef``;
* retries: each entry of ``status.retriesStatus`` is a failed attempt (``attempt`` 1, 2, ...),
  the TaskRun's own status the last one; several TaskRuns of one pipeline task (a ``matrix``)
  are calls of it;
* the ``Succeeded`` condition: ``"True"`` is ``ok``, ``"False"`` ``error``; ``"Unknown"`` (or no
  ``completionTime``) on the PipelineRun means it is still in progress: counted and left out, with
  its TaskRuns; ``status.skippedTasks`` are counted (``steps_skipped``), not spans.

``service`` is the TaskRun's ``taskRef`` name (else its ``tekton.dev/task`` label).
"""

from __future__ import annotations

from typing import Any

from recipemut.errors import LogError
from recipemut.logs.runs.rows import ERROR, OK, Rows, items, obj, text

KEY = "tekton"
#: the objects a PipelineRun runs its tasks as: TaskRuns, and custom tasks' CustomRuns (``Run`` before v0.43)
CHILD_KINDS = frozenset({"TaskRun", "CustomRun", "Run"})
_PR_LABEL = "tekton.dev/pipelineRun"
_TASK_LABEL = "tekton.dev/pipelineTask"


def _succeeded(status: Any) -> str | None:
    """``"True"``, ``"False"``, ``"Unknown"`` of the ``Succeeded`` condition, or ``None``."""
    if not isinstance(status, dict):
        return None
    for c in status.get("conditions") or ():
        if isinstance(c, dict) and c.get("type") == "Succeeded":
            return text(c.get("status"))
    return None


def _meta(o: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    meta = obj(o.get("metadata"))
    labels = obj(meta.get("labels"))
    return text(meta.get("name")), labels


def collect(docs: list[Any], rows: Rows) -> None:
    """Every PipelineRun and TaskRun of the documents into ``rows``."""
    pipeline_runs: list[dict[str, Any]] = []
    task_runs: list[dict[str, Any]] = []
    for doc in docs:
        for o in items(doc):
            if not isinstance(o, dict):
                raise LogError("not a JSON/YAML object among the Tekton objects", file=str(rows.path), code="bad-shape")
            kind = o.get("kind")
            if kind == "PipelineRun":
                pipeline_runs.append(o)
            elif kind in CHILD_KINDS or (
                kind is None and isinstance(o.get("status"), dict) and "podName" in o["status"]
            ):
                task_runs.append(o)
            elif kind in ("Pipeline", "Task"):
                raise LogError(
                    f"a Tekton {kind}: a definition, not a run history (give it as the recipe; its runs "
                    "come from 'kubectl get pipelinerun,taskrun -o yaml')",
                    file=str(rows.path),
                    code="not-a-history",
                )
    running: set[str] = set()
    finished: set[str] = set()
    child_task: dict[str, tuple[str, str]] = {}  # TaskRun name -> (PipelineRun, pipeline task)
    objects = {n for n in (_meta(t)[0] for t in task_runs) if n}
    for pr in pipeline_runs:
        name = _meta(pr)[0] or f"pipelinerun-{len(finished) + len(running) + 1}"
        status = obj(pr.get("status"))
        cond = _succeeded(status)
        if cond not in ("True", "False") or not status.get("completionTime"):
            running.add(name)
            rows.running(name)
            continue
        finished.add(name)
        rows.counts["runs"] += 1
        rows.counts["steps_skipped"] += len(status.get("skippedTasks") or ())
        for ref in status.get("childReferences") or ():
            if isinstance(ref, dict) and ref.get("kind", "TaskRun") in CHILD_KINDS and text(ref.get("name")):
                child_task[str(ref["name"])] = (name, text(ref.get("pipelineTaskName")) or "")
        embedded = status.get("taskRuns")
        if isinstance(embedded, dict):
            for tr_name, tr in embedded.items():
                if not isinstance(tr, dict) or tr_name in objects:
                    continue
                task = text(tr.get("pipelineTaskName")) or str(tr_name)
                _task_run(rows, name, task, None, str(tr_name), tr.get("status"))
    prefixes = sorted(finished | running, key=len, reverse=True)
    for tr in task_runs:
        tr_name, labels = _meta(tr)
        tr_name = tr_name or f"taskrun-{len(rows) + 1}"
        spec = obj(tr.get("spec"))
        ref = obj(spec.get("taskRef"))
        service = text(ref.get("name")) or text(labels.get("tekton.dev/task"))
        run = text(labels.get(_PR_LABEL)) or _owner(tr) or child_task.get(tr_name, ("", ""))[0]
        if not run:
            run = next((p for p in prefixes if tr_name.startswith(p + "-")), "")
        task = text(labels.get(_TASK_LABEL)) or child_task.get(tr_name, ("", ""))[1]
        if run in running:
            continue
        if not run:  # a TaskRun of no pipeline: a run of its own
            run = tr_name
            task = task or service or tr_name
            if _succeeded(tr.get("status")) not in ("True", "False"):
                rows.running(run)
                continue
            rows.counts["runs"] += 1
        elif run not in finished:  # its PipelineRun is not in the files: counted once, as a run
            finished.add(run)
            rows.counts["runs"] += 1
        _task_run(rows, run, task or service or tr_name, service, tr_name, tr.get("status"))


def _owner(tr: dict[str, Any]) -> str | None:
    meta = obj(tr.get("metadata"))
    for o in meta.get("ownerReferences") or ():
        if isinstance(o, dict) and o.get("kind") == "PipelineRun":
            return text(o.get("name"))
    return None


def _task_run(rows: Rows, run: str, task: str, service: str | None, name: str, status: Any) -> None:
    """One TaskRun's attempts as spans."""
    if not isinstance(status, dict):
        rows.counts["steps_unfinished"] += 1
        return
    attempts = [s for s in (status.get("retriesStatus") or ()) if isinstance(s, dict)]
    op = rows.ops(task)
    for i, s in enumerate([*attempts, status]):
        cond = _succeeded(s)
        if cond not in ("True", "False") or not s.get("completionTime"):
            rows.counts["steps_unfinished"] += 1
            continue
        rows.add(
            run,
            op,
            service,
            s.get("startTime"),
            s.get("completionTime"),
            OK if cond == "True" else ERROR,
            span_id=name if i == len(attempts) else f"{name}#{i + 1}",
            attempt=i + 1 if attempts else None,
        )


__all__ = ["KEY", "collect"]
