"""Tekton Pipelines and PipelineRuns read as recipes (``docs/engines.md#tekton``).

A Pipeline, or a PipelineRun with its ``pipelineSpec`` (or a ``pipelineRef`` to a Pipeline of the
same file): each pipeline task is one operation, ``finally`` tasks included.

* ``runAfter`` → ``after``; a ``finally`` task runs after every other task.
* Results and params: a task's results (declared in its ``taskSpec``, or in the ``Task``
  document of the same file its ``taskRef`` names) are fields ``<task>.<result>`` it produces;
  ``$(tasks.X.results.Y)`` in a task's ``params``, ``when`` or ``matrix`` makes it consume
  ``X.Y`` (a data edge); ``$(params.P)`` is the recipe input ``P``.
* ``when`` expressions → ``when`` (as text, warned); ``matrix`` → ``foreach`` over the list it
  names (``$(params.P[*])``, ``$(tasks.X.results.Y[*])``) or the recipe input ``<task>.matrix``,
  every combination at once (``concurrency`` = their count); ``retries`` → ``retry``.
* Tekton v1alpha1 PipelineResources: a task's output resource is a field ``<task>.<resource>``,
  an input resource ``from: [task]`` reads it (a data edge).
* Workspaces (:mod:`recipemut.recipe.engines.volumes`): a pipeline workspace that several tasks
  bind (``workspaces: [{name, workspace}]``, ``workspace`` defaulting to ``name``; an embedded
  ``taskSpec`` that reads ``$(workspaces.W.path)`` without binding it gets ``W`` propagated) is
  the field chain ``workspace.<name>.1``, ``.2``... (``bytes``): a task reads the version before
  it and, unless its Task declares the workspace ``readOnly: true``, writes the next. A binding
  to a workspace the pipeline does not declare, or of a Task not in the file (its ``readOnly``
  cannot be read), is warned at its line and taken as read-write.
* ``service`` is the ``taskRef`` name (or the resolver and its ``name`` param), or the first
  step's image of an inline ``taskSpec``.

>>> detect({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "spec": {"pipelineRef": {"name": "p"}}})
True
>>> when_text_of([{"input": "$(params.path)", "operator": "notin", "values": ["README.md"]}, {"cel": "'a' == 'a'"}])
"$(params.path) notin [README.md] and 'a' == 'a'"
"""

from __future__ import annotations

import math
import re
from typing import Any

from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.engines.build import UNLIMITED, Builder, Step, attempts
from recipemut.recipe.engines.names import op_id
from recipemut.recipe.engines.refs import strings, tekton_refs
from recipemut.recipe.engines.volumes import Mount, keep_order, link
from recipemut.recipe.model import DocPath, Positions

KEY = "tekton"
NAME = "Tekton Pipeline"
READS_OTHER_DOCUMENTS = True

#: Tekton's default ``default-maximum-matrix-fan-out``: combinations of a matrix run at once
MATRIX_FAN_OUT = 256

_WORKSPACE_REF = re.compile(r"\$\(\s*workspaces\.([^.\s()]+)\.")


def detect(data: Any) -> bool:
    """A ``tekton.dev`` Pipeline, or a PipelineRun (its ``pipelineSpec`` or ``pipelineRef``)."""
    return (
        isinstance(data, dict)
        and str(data.get("apiVersion", "")).startswith("tekton.dev/")
        and data.get("kind") in ("Pipeline", "PipelineRun")
        and isinstance(data.get("spec"), dict)
    )


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(doc: Any) -> str:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    return str(meta.get("name") or str(meta.get("generateName", "")).rstrip("-.") or "")


def _read_by(task: dict[str, Any], part: str) -> Any:
    """What a pipeline task's ``params``, ``when`` or ``matrix`` reads (a matrix ``include``'s ``name`` is a label)."""
    value = task.get(part)
    if part == "matrix" and isinstance(value, dict):
        return [value.get("params"), [i.get("params") for i in _items(value.get("include")) if isinstance(i, dict)]]
    return value


def when_text_of(when: Any) -> str:
    """A Tekton ``when`` list as one condition: ``input operator [values]`` (or the CEL) joined by ``and``."""
    parts = []
    for w in _items(when):
        if isinstance(w, dict) and "cel" in w:
            parts.append(str(w["cel"]))
        elif isinstance(w, dict):
            values = ", ".join(str(v) for v in _items(w.get("values")))
            parts.append(f"{w.get('input', '')} {w.get('operator', 'in')} [{values}]")
    return " and ".join(parts)


class _Reader:
    def __init__(self, b: Builder, spec: dict[str, Any], sp: DocPath, tasks_docs: dict[str, dict[str, Any]]) -> None:
        self.b = b
        self.spec = spec
        self.sp = sp
        self.tasks_docs = tasks_docs  # Task name -> its document (for results)
        self.params = {
            str(p["name"]): i for i, p in enumerate(_items(spec.get("params"))) if isinstance(p, dict) and "name" in p
        }
        self.all = [
            (key, k, t)
            for key in ("tasks", "finally")
            for k, t in enumerate(_items(spec.get(key)))
            if isinstance(t, dict) and "name" in t
        ]
        self.names = {str(t["name"]) for _, _, t in self.all}
        self.workspaces = {
            str(w["name"]) for w in _items(spec.get("workspaces")) if isinstance(w, dict) and "name" in w
        }
        self.mounts: list[Mount] = []
        self.referenced: dict[str, set[str]] = {}
        for _, _, t in self.all:
            self._note([_read_by(t, part) for part in ("params", "when", "matrix")])
        self._note(spec.get("results"))
        for j, r in enumerate(_items(spec.get("results"))):  # the pipeline's results are the recipe's outputs
            for ref in tekton_refs(r.get("value") if isinstance(r, dict) else None):
                if ref.kind == "output" and ref.task in self.names:
                    b.outputs.append(b.field(f"{op_id(ref.task)}.{op_id(ref.name)}", (*sp, "results", j)))

    def _note(self, value: Any) -> None:
        for ref in tekton_refs(value):
            if ref.kind == "output":
                self.referenced.setdefault(ref.task, set()).add(ref.name)

    def _field_of(self, ref: Any, at: DocPath, type_: str = "string") -> str | None:
        if ref.kind == "output" and ref.task in self.names:
            return self.b.field(f"{op_id(ref.task)}.{op_id(ref.name)}", at, type_)
        if ref.kind == "output":
            self.b.warn("unknown-step", f"reads a result of '{ref.task}', which is not a task here", at)
        elif ref.kind == "param":
            where = (*self.sp, "params", self.params[ref.name]) if ref.name in self.params else at
            return self.b.field(op_id(ref.name), where, type_)
        return None

    def _service(self, t: dict[str, Any], path: DocPath) -> tuple[str, DocPath]:
        ref = t.get("taskRef")
        if isinstance(ref, dict):
            if ref.get("name"):
                return str(ref["name"]), (*path, "taskRef", "name")
            named = [
                p.get("value") for p in _items(ref.get("params")) if isinstance(p, dict) and p.get("name") == "name"
            ]
            return f"{ref.get('resolver', 'resolver')}:{named[0] if named else '?'}", (*path, "taskRef")
        spec = t.get("taskSpec")
        if isinstance(spec, dict):
            for j, step in enumerate(_items(spec.get("steps"))):
                if isinstance(step, dict) and step.get("image"):
                    return str(step["image"]), (*path, "taskSpec", "steps", j, "image")
        if "pipelineRef" in t or "pipelineSpec" in t:
            self.b.warn(
                "nested-pipeline",
                f"{t['name']}: runs a pipeline in a pipeline; imported as one operation",
                (*path, "pipelineRef" if "pipelineRef" in t else "pipelineSpec"),
            )
            ref = t.get("pipelineRef")
            return f"pipeline:{ref.get('name', '?') if isinstance(ref, dict) else 'inline'}", path
        return "tekton-task", path

    def _task_spec(self, t: dict[str, Any]) -> dict[str, Any] | None:
        """The task's inline ``taskSpec``, or the spec of the ``Task`` of this file its ``taskRef`` names."""
        spec = t.get("taskSpec")
        if not isinstance(spec, dict):
            ref = t.get("taskRef")
            doc = self.tasks_docs.get(str(ref.get("name"))) if isinstance(ref, dict) else None
            spec = doc.get("spec") if isinstance(doc, dict) else None
        return spec if isinstance(spec, dict) else None

    def _workspaces(self, s: Step, t: dict[str, Any], path: DocPath) -> None:
        """The pipeline workspaces a task binds (or an embedded taskSpec reads), as :class:`Mount` s."""
        spec = self._task_spec(t)
        read_only = {
            str(w["name"])
            for w in _items(spec.get("workspaces") if spec else None)
            if isinstance(w, dict) and "name" in w and str(w.get("readOnly", "")).lower() == "true"
        }
        bindings = [(j, w) for j, w in enumerate(_items(t.get("workspaces"))) if isinstance(w, dict) and "name" in w]
        for j, w in bindings:
            at: DocPath = (*path, "workspaces", j)
            bound = str(w.get("workspace") or w["name"])
            if bound not in self.workspaces:
                self.b.warn(
                    "workspace",
                    f"{s.action}: binds workspace '{bound}', which the pipeline does not declare; taken as storage "
                    "shared with every task binding it, read-write",
                    at,
                )
            elif spec is None:
                self.b.warn(
                    "workspace",
                    f"{s.action}: the Task it runs is not in this file, so whether it writes workspace '{bound}' "
                    "cannot be told; taken as read-write",
                    at,
                )
            sub = str(w.get("subPath", ""))
            self.mounts.append(Mount(s.id, f"workspace.{op_id(bound)}", str(w["name"]) not in read_only, at, sub))
        if not bindings and isinstance(t.get("taskSpec"), dict):  # propagated: $(workspaces.W.path) in the spec
            for ref in dict.fromkeys(_WORKSPACE_REF.findall(" ".join(strings(t["taskSpec"])))):
                if ref in self.workspaces:
                    self.mounts.append(
                        Mount(s.id, f"workspace.{op_id(ref)}", ref not in read_only, (*path, "taskSpec"))
                    )

    def _results(self, t: dict[str, Any]) -> list[str]:
        spec = self._task_spec(t)
        results = _items(spec.get("results")) if isinstance(spec, dict) else []
        return [str(r["name"]) for r in results if isinstance(r, dict) and "name" in r]

    def step(self, key: str, k: int, t: dict[str, Any]) -> Step:
        b = self.b
        raw = str(t["name"])
        path: DocPath = (*self.sp, key, k)
        service, at_service = self._service(t, path)
        s = Step(op_id(raw), service, raw, path, at={"id": (*path, "name"), "action": (*path, "name")})
        s.at["service"] = at_service
        for part in ("params", "when", "matrix"):
            for ref in tekton_refs(_read_by(t, part)):
                f = self._field_of(ref, (*path, part))
                if f is not None:
                    s.consumes.append(f)
        s.at["consumes"] = (*path, "params")
        for r in dict.fromkeys([*self._results(t), *sorted(self.referenced.get(raw, ()))]):
            s.produces.append(b.field(f"{s.id}.{op_id(r)}", path))
        self._resources(s, t.get("resources"), (*path, "resources"))
        self._workspaces(s, t, path)
        if key == "finally":
            s.after = [(op_id(str(o["name"])), path) for kk, _, o in self.all if kk == "tasks"]
            s.anchor = Anchor(path, None, "implicit")
        else:
            run_after = t.get("runAfter")
            entries = run_after if isinstance(run_after, list) else [run_after] if run_after else []
            s.after = [(op_id(str(d)), (*path, "runAfter", j)) for j, d in enumerate(entries)]
            s.anchor = Anchor(path, (*path, "runAfter") if "runAfter" in t else None, "list")
            s.at["after"] = (*path, "runAfter")
        if t.get("when"):
            b.keep_when(s, when_text_of(t["when"]), raw, (*path, "when"))
        if isinstance(t.get("matrix"), dict):
            self._matrix(s, t["matrix"], (*path, "matrix"))
        if "retries" in t:
            n = attempts(t["retries"])
            if n is not None:
                s.extra["retry"] = {"max_attempts": n}
                s.at["retry"] = (*path, "retries")
        return s

    def _resources(self, s: Step, res: Any, at: DocPath) -> None:
        """v1alpha1 PipelineResources: an output resource is a field; an input's ``from`` reads it (a data edge)."""
        if not isinstance(res, dict):
            return
        for j, r in enumerate(_items(res.get("outputs"))):
            if isinstance(r, dict) and r.get("resource"):
                s.produces.append(self.b.field(f"{s.id}.{op_id(str(r['resource']))}", (*at, "outputs", j)))
        for j, r in enumerate(_items(res.get("inputs"))):
            if not isinstance(r, dict):
                continue
            for k, src in enumerate(_items(r.get("from"))):
                where: DocPath = (*at, "inputs", j, "from", k)
                if str(src) in self.names:
                    s.consumes.append(self.b.field(f"{op_id(str(src))}.{op_id(str(r.get('resource', '')))}", where))
                else:
                    self.b.warn(
                        "unknown-step", f"{s.action}: takes a resource from '{src}', which is not a task here", where
                    )

    def _matrix(self, s: Step, matrix: dict[str, Any], at: DocPath) -> None:
        params = [p for p in _items(matrix.get("params")) if isinstance(p, dict)]
        refs = [r for p in params for r in tekton_refs(p.get("value")) if r.kind in ("output", "param")]
        if len(params) == 1 and refs:
            foreach = self._field_of(refs[0], at, "array")
            count = None
        else:
            foreach = self.b.field(f"{s.id}.matrix", at, "array")
            s.consumes.append(foreach)
            sizes = [len(p["value"]) if isinstance(p.get("value"), list) else None for p in params]
            known = [n for n in sizes if n is not None]
            count = (math.prod(known) if params else 0) + len(_items(matrix.get("include")))
            count = count if len(known) == len(sizes) else None
        if foreach is None:
            return
        s.extra["foreach"] = foreach
        s.extra["concurrency"] = max(1, min(UNLIMITED, MATRIX_FAN_OUT if count is None else min(count, MATRIX_FAN_OUT)))
        s.at["foreach"] = s.at["concurrency"] = at


def _pipeline(
    data: dict[str, Any], positions: Positions, documents: list[tuple[int, Any, Positions]], index: int, b: Builder
) -> tuple[dict[str, Any] | None, DocPath, Positions, int, str]:
    """The pipeline spec to read: (spec, its path, the positions of its document, the document's index, name)."""
    spec = data["spec"]
    if data.get("kind") == "Pipeline":
        return spec, ("spec",), positions, index, _name(data)
    if isinstance(spec.get("pipelineSpec"), dict):
        return spec["pipelineSpec"], ("spec", "pipelineSpec"), positions, index, _name(data)
    ref = spec.get("pipelineRef")
    wanted = str(ref.get("name", "")) if isinstance(ref, dict) else ""
    for i, doc, pos in documents:
        if isinstance(doc, dict) and doc.get("kind") == "Pipeline" and _name(doc) == wanted and detect(doc):
            return doc["spec"], ("spec",), pos, i, wanted
    b.warn(
        "pipeline-ref",
        f"the PipelineRun runs the Pipeline '{wanted}', which is not in this file; nothing to import "
        "(import the file that holds the Pipeline)",
        ("spec", "pipelineRef"),
    )
    return None, ("spec",), positions, index, _name(data)


def to_recipe(
    data: Any,
    positions: Positions,
    *,
    file: str,
    documents: list[tuple[int, Any, Positions]] | None = None,
    index: int = 0,
) -> Imported:
    """The recipe document of a Tekton Pipeline or PipelineRun (``documents``: the file's, for Tasks, pipelineRef)."""
    docs = documents if documents is not None else [(index, data, positions)]
    b = Builder(KEY, NAME, file, positions)
    spec, sp, pos, doc_index, name = _pipeline(data, positions, docs, index, b)
    b.source = pos
    if spec is not None:
        tasks_docs = {
            _name(d): d
            for _, d, _ in docs
            if isinstance(d, dict)
            and d.get("kind") == "Task"
            and str(d.get("apiVersion", "")).startswith("tekton.dev/")
        }
        reader = _Reader(b, spec, sp, tasks_docs)
        for key, k, t in reader.all:
            b.steps.append(reader.step(key, k, t))
        keep = link(b.steps, reader.mounts, lambda f, at: b.field(f, at, "bytes"))
    others = [
        pos.get((), (None, None))[0]
        for i, d, pos in docs
        if i != doc_index
        and detect(d)
        and (d.get("kind") == "Pipeline" or isinstance(d["spec"].get("pipelineSpec"), dict))
        and not (i == index and doc_index != index)  # the PipelineRun that named the imported Pipeline
    ]
    if others:
        b.warn(
            "several",
            f"the file holds {len(others) + 1} pipelines; the first is imported, not the ones at line "
            + ", ".join(str(n) for n in others if n is not None),
            (),
        )
    name = name or "tekton-pipeline"
    imported = b.finish(name, (), (*sp, "tasks"), f"imported from the {data.get('kind')} {name} ({NAME})")
    if spec is not None:
        keep_order(imported, keep, b)
    imported.doc_index = doc_index
    return imported


__all__ = ["KEY", "MATRIX_FAN_OUT", "NAME", "READS_OTHER_DOCUMENTS", "detect", "to_recipe", "when_text_of"]
