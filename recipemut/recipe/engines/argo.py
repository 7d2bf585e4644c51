"""Argo Workflows files read as recipes (``docs/engines.md#argo-workflows``).

A Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow (its ``workflowSpec``):
the entry point's template (``spec.entrypoint``) gives the operations. A DAG template's tasks are
the operations (``dependencies`` or ``depends`` give ``after``); a steps template's steps are (a
group runs after the group before it; the steps of one group run in parallel); any other entry
template is one operation.

* A task that calls a DAG or steps template is **one operation** (its inner steps are not
  flattened: a run history shows it as one node with a start and an end), with a warning.
* ``withItems``/``withSequence`` fan out over a recipe input ``<task>.items``; ``withParam`` over
  the list it names (``{{tasks.gen.outputs.result}}`` makes ``gen.result`` a list field).
  ``concurrency`` is the ``parallelism`` of the entry template or the workflow, else every item
  at once (the item count, or 10,000 when unknown).
* ``when`` → ``when`` (kept as text, warned); ``retryStrategy.limit`` → ``retry.max_attempts``
  (limit + 1); ``memoize`` → ``cache`` (``ttl_s`` from ``maxAge``, ``max_entries`` 1,000) and
  ``deterministic: true``.
* Parameters and artifacts: a task's declared outputs are fields ``<task>.<name>`` it produces;
  ``{{tasks.X.outputs.parameters.Y}}``, ``{{steps.X.outputs.result}}``, artifacts ``from`` give
  the fields a task consumes (data edges); ``{{workflow.parameters.P}}`` and the entry template's
  ``{{inputs.parameters.P}}`` are recipe inputs ``P``.
* Shared volumes (:mod:`recipemut.recipe.engines.volumes`): a volume of ``spec.volumes``,
  ``spec.volumeClaimTemplates`` or a template's ``volumes`` mounted by several steps (the
  ``volumeMounts`` of a template's container, script, init containers, sidecars or container set,
  and of the templates a nested DAG or steps template calls) is the field chain ``volume.<name>.1``,
  ``.2``... (``bytes``; ``volume.<name>.<subPath>.1`` where steps share different sub-paths of
  it): a read-write mount reads the version before it and writes the next, a
  ``readOnly`` mount (or a ``persistentVolumeClaim`` with ``readOnly``) only reads. An
  ``emptyDir`` is each pod's own and a ``configMap``, ``secret``, ``downwardAPI`` or
  ``projected`` volume cannot be written: no field. A ``hostPath``, or a mount naming no declared
  volume, is warned at its line and taken as shared.

>>> detect({"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "spec": {}})
True
>>> duration_s("1h30m"), duration_s("90"), duration_s("soon")
(5400.0, 90.0, None)
"""

from __future__ import annotations

import re
from typing import Any

from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.engines.build import UNLIMITED, Builder, Step, attempts, when_text
from recipemut.recipe.engines.names import op_id
from recipemut.recipe.engines.refs import argo_refs
from recipemut.recipe.engines.volumes import Mount, keep_order, link
from recipemut.recipe.model import DocPath, Positions

KEY = "argo"
NAME = "Argo Workflow"
KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")

#: a memoized template's cache capacity (Argo keeps memoized results in a ConfigMap, about 1 MiB)
MEMO_ENTRIES = 1000
#: a memoized template without ``maxAge`` keeps results this long (Argo: until the ConfigMap is cleared)
MEMO_TTL_S = 1e9

_DEPENDS_WORD = re.compile(r"([A-Za-z0-9_][\w-]*)(?:\.(\w+))?")
_NOT_SUCCESS = {"Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: keys of a workflow spec, task or step that have no recipe equivalent
_SPEC_UNCARRIED = ("onExit", "hooks", "synchronization")
_TASK_UNCARRIED = ("onExit", "hooks", "continueOn")
#: volume sources that give each pod its own copy, or that a pod cannot write: never shared data
_UNSHARED = ("emptyDir", "configMap", "secret", "downwardAPI", "projected")


def detect(data: Any) -> bool:
    """An ``argoproj.io`` Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow."""
    return (
        isinstance(data, dict)
        and str(data.get("apiVersion", "")).startswith("argoproj.io/")
        and data.get("kind") in KINDS
        and isinstance(data.get("spec"), dict)
    )


def duration_s(text: Any) -> float | None:
    """Seconds of a Go duration (``"1h30m"``, ``"180s"``) or a plain number of seconds."""
    s = str(text).strip()
    try:
        return float(s)
    except ValueError:
        pass
    parts = _DURATION.findall(s)
    if not parts or "".join(n + u for n, u in parts) != s:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Reader:
    """One Argo document read into a :class:`Builder`."""

    def __init__(self, data: dict[str, Any], positions: Positions, file: str) -> None:
        self.data = data
        self.b = Builder(KEY, NAME, file, positions)
        cron = data.get("kind") == "CronWorkflow"
        self.sp: DocPath = ("spec", "workflowSpec") if cron else ("spec",)
        spec = data["spec"].get("workflowSpec") if cron else data["spec"]
        self.spec: dict[str, Any] = spec if isinstance(spec, dict) else {}
        self.templates: dict[str, tuple[int, dict[str, Any]]] = {
            str(t["name"]): (i, t)
            for i, t in enumerate(_items(self.spec.get("templates")))
            if isinstance(t, dict) and "name" in t
        }
        self.params = {
            str(p["name"]): i
            for i, p in enumerate(_items(_map(self.spec.get("arguments")).get("parameters")))
            if isinstance(p, dict) and "name" in p
        }
        self.volumes: dict[str, tuple[DocPath, dict[str, Any]]] = {}  # workflow volumes: name -> (path, source)
        for i, v in enumerate(_items(self.spec.get("volumes"))):
            if isinstance(v, dict) and "name" in v:
                self.volumes[str(v["name"])] = ((*self.sp, "volumes", i), v)
        for i, v in enumerate(_items(self.spec.get("volumeClaimTemplates"))):
            vname = _map(_map(v).get("metadata")).get("name")
            if vname is not None:
                self.volumes[str(vname)] = ((*self.sp, "volumeClaimTemplates", i), {"persistentVolumeClaim": {}})
        self.mounts: list[Mount] = []
        self.warned_volumes: set[str] = set()
        self.referenced: dict[str, set[str]] = {}  # task name -> its outputs others read
        self.nested: dict[str, list[tuple[str, DocPath]]] = {}  # DAG/steps template -> the tasks calling it

    # ---- fields ----------------------------------------------------------------------------------
    def _param(self, name: str, entry_path: DocPath) -> str:
        where = (*self.sp, "arguments", "parameters", self.params[name]) if name in self.params else entry_path
        return self.b.field(op_id(name), where)

    def _output(self, task: str, name: str, at: DocPath, type_: str = "string") -> str:
        return self.b.field(f"{op_id(task)}.{op_id(name)}", at, type_)

    # ---- one task or step ------------------------------------------------------------------------
    def step(self, task: dict[str, Any], path: DocPath, entry: tuple[DocPath, dict[str, Any]], names: set[str]) -> Step:
        b = self.b
        raw = str(task.get("name", ""))
        sid = op_id(raw)
        tname = str(task.get("template", ""))
        tidx, tmpl = self.templates.get(tname, (None, None))
        tpath: DocPath = (*self.sp, "templates", tidx) if tidx is not None else path
        if isinstance(task.get("inline"), dict):
            tmpl, tpath = task["inline"], (*path, "inline")
        service, at_service = self._service(task, tmpl, tname, path, tpath)
        s = Step(sid, service, raw, path, at={"id": (*path, "name"), "action": (*path, "name"), "service": at_service})
        for ref in argo_refs([task.get("arguments"), task.get("when"), task.get("withParam")]):
            if ref.kind == "output" and ref.task in names:
                s.consumes.append(self._output(ref.task, ref.name, (*path, "arguments")))
            elif ref.kind == "output":
                b.warn("unknown-step", f"{raw}: reads an output of '{ref.task}', which is not a step here", path)
            elif ref.kind == "param":
                s.consumes.append(self._param(ref.name, (*path, "arguments")))
        s.at["consumes"] = (*path, "arguments")
        outs = _map(_map(tmpl).get("outputs"))
        declared = {
            str(o["name"]): "bytes" if kind == "artifacts" else "string"
            for kind in ("parameters", "artifacts")
            for o in _items(outs.get(kind))
            if isinstance(o, dict) and "name" in o
        }
        for out in dict.fromkeys([*declared, *sorted(self.referenced.get(raw, ()))]):
            s.produces.append(self._output(raw, out, (*tpath, "outputs"), declared.get(out, "string")))
        s.at["produces"] = (*tpath, "outputs")
        self._mounts(s.id, raw, tmpl, tpath, set())
        self._fanout(s, task, path, entry)
        self._settings(s, task, tmpl or {}, path, tpath)
        for key in _TASK_UNCARRIED:
            if key in task:
                b.warn("not-carried", f"{raw}: '{key}' has no recipe equivalent; left out", (*path, key))
        return s

    def _service(
        self, task: dict[str, Any], tmpl: dict[str, Any] | None, tname: str, path: DocPath, tpath: DocPath
    ) -> tuple[str, DocPath]:
        raw = str(task.get("name", ""))
        if tmpl is None:
            ref = task.get("templateRef")
            if isinstance(ref, dict):
                return f"{ref.get('name', '?')}/{ref.get('template', '?')}", (*path, "templateRef")
            self.b.warn("unknown-template", f"{raw}: template '{tname}' is not in this file", (*path, "template"))
            return tname or raw or "unknown", (*path, "template")
        for kind in ("container", "script"):
            if isinstance(tmpl.get(kind), dict) and tmpl[kind].get("image"):
                return str(tmpl[kind]["image"]), (*tpath, kind, "image")
        if "dag" in tmpl or "steps" in tmpl:
            self.nested.setdefault(tname, []).append((raw, (*path, "template")))
        elif "suspend" in tmpl:
            self.b.warn("suspend", f"{raw}: a suspend template waits, it calls no service", (*path, "template"))
        for kind in ("resource", "suspend", "http", "plugin", "data", "containerSet"):
            if kind in tmpl:
                return f"argo-{kind}", tpath
        return f"template:{tname}", tpath

    # ---- shared volumes --------------------------------------------------------------------------
    def _mounts(self, sid: str, raw: str, tmpl: dict[str, Any] | None, tpath: DocPath, seen: set[str]) -> None:
        """The volume mounts of a step's template, and of the templates a DAG or steps template calls."""
        if not isinstance(tmpl, dict):
            return
        local = {
            str(v["name"]): ((*tpath, "volumes", i), v)
            for i, v in enumerate(_items(tmpl.get("volumes")))
            if isinstance(v, dict) and "name" in v
        }
        containers: list[tuple[DocPath, Any]] = [((*tpath, k), tmpl.get(k)) for k in ("container", "script")]
        for k in ("initContainers", "sidecars"):
            containers += [((*tpath, k, i), c) for i, c in enumerate(_items(tmpl.get(k)))]
        cset = _map(tmpl.get("containerSet"))
        containers.append(((*tpath, "containerSet"), cset))
        containers += [
            ((*tpath, "containerSet", "containers", i), c) for i, c in enumerate(_items(cset.get("containers")))
        ]
        for cpath, c in containers:
            for j, m in enumerate(_items(_map(c).get("volumeMounts"))):
                if isinstance(m, dict) and "name" in m:
                    self._mount(sid, raw, str(m["name"]), m, (*cpath, "volumeMounts", j), local)
        called = [t for t in _items(_map(tmpl.get("dag")).get("tasks")) if isinstance(t, dict)]
        called += [
            x for g in _items(tmpl.get("steps")) for x in (g if isinstance(g, list) else [g]) if isinstance(x, dict)
        ]
        for t in called:
            name = str(t.get("template", ""))
            if name in self.templates and name not in seen:
                seen.add(name)
                self._mounts(sid, raw, self.templates[name][1], (*self.sp, "templates", self.templates[name][0]), seen)

    def _mount(
        self,
        sid: str,
        raw: str,
        name: str,
        m: dict[str, Any],
        at: DocPath,
        local: dict[str, tuple[DocPath, dict[str, Any]]],
    ) -> None:
        declared = local.get(name) or self.volumes.get(name)
        if declared is None:
            self.b.warn(
                "volume",
                f"{raw}: mounts volume '{name}', which neither the workflow nor its template declares; "
                f"taken as storage shared with every step mounting '{name}', read-write unless the mount is readOnly",
                at,
            )
            source: dict[str, Any] = {}
        else:
            vpath, source = declared
            if any(k in source for k in _UNSHARED):
                return
            if "hostPath" in source and name not in self.warned_volumes:
                self.warned_volumes.add(name)
                self.b.warn(
                    "volume",
                    f"volume '{name}' is a hostPath: whether the steps mounting it share it (the same node) cannot be "
                    "told; taken as shared, read-write unless a mount is readOnly",
                    vpath,
                )
        read_only = str(m.get("readOnly", "")).lower() == "true" or (
            str(_map(source.get("persistentVolumeClaim")).get("readOnly", "")).lower() == "true"
        )
        sub = str(m.get("subPath", "")) if "subPathExpr" not in m else ""  # an expression: the whole volume
        self.mounts.append(Mount(sid, f"volume.{op_id(name)}", not read_only, at, sub))

    def _fanout(self, s: Step, task: dict[str, Any], path: DocPath, entry: tuple[DocPath, dict[str, Any]]) -> None:
        foreach: str | None = None
        count: int | None = None
        if "withItems" in task:
            foreach = self.b.field(f"{s.id}.items", (*path, "withItems"), "array")
            count = len(_items(task["withItems"]))
            s.consumes.append(foreach)
        elif "withSequence" in task:
            foreach = self.b.field(f"{s.id}.items", (*path, "withSequence"), "array")
            seq = task["withSequence"] if isinstance(task["withSequence"], dict) else {}
            count = _int(seq.get("count", "")) if "count" in seq else None
            s.consumes.append(foreach)
        elif "withParam" in task:
            refs = [r for r in argo_refs(task["withParam"]) if r.kind in ("output", "param")]
            if refs:
                r = refs[0]
                name = f"{op_id(r.task)}.{op_id(r.name)}" if r.kind == "output" else op_id(r.name)
                foreach = self.b.field(name, (*path, "withParam"), "array")
            else:
                foreach = self.b.field(f"{s.id}.items", (*path, "withParam"), "array")
                s.consumes.append(foreach)
        if foreach is None:
            return
        epath, etmpl = entry
        limits = [
            (v, p)
            for v, p in ((_int(etmpl.get("parallelism", "")), epath), (_int(self.spec.get("parallelism", "")), self.sp))
            if v
        ]
        bound = min(limits, key=lambda vp: vp[0]) if limits else None
        concurrency = min(bound[0] if bound else UNLIMITED, count if count else UNLIMITED)
        s.extra["foreach"] = foreach
        s.extra["concurrency"] = max(1, min(UNLIMITED, concurrency))
        key = next(k for k in ("withItems", "withSequence", "withParam") if k in task)
        s.at["foreach"] = (*path, key)
        s.at["concurrency"] = (*bound[1], "parallelism") if bound else (*path, key)
        if s.anchor is None:
            s.anchor = Anchor(path=path)
        s.anchor = Anchor(s.anchor.path, s.anchor.depends, s.anchor.depends_style, bound[1] if bound else epath)

    def _settings(self, s: Step, task: dict[str, Any], tmpl: dict[str, Any], path: DocPath, tpath: DocPath) -> None:
        b = self.b
        if task.get("when") not in (None, ""):
            b.keep_when(s, str(task["when"]), s.action, (*path, "when"))
        retry = tmpl.get("retryStrategy")
        if isinstance(retry, dict):
            n = attempts(retry["limit"]) if "limit" in retry else None
            if n is None:
                b.warn(
                    "retry-limit",
                    f"{s.action}: retryStrategy has no numeric limit; taken as 100 attempts",
                    (*tpath, "retryStrategy"),
                )
                n = 100
            s.extra["retry"] = {"max_attempts": n}
            s.at["retry"] = (*tpath, "retryStrategy")
        memo = tmpl.get("memoize")
        if isinstance(memo, dict):
            ttl = duration_s(memo["maxAge"]) if "maxAge" in memo else MEMO_TTL_S
            if ttl is None or ttl <= 0:
                b.warn(
                    "memoize",
                    f"{s.action}: memoize maxAge '{memo.get('maxAge')}' is not a duration; no expiry assumed",
                    (*tpath, "memoize"),
                )
                ttl = MEMO_TTL_S
            s.extra["cache"] = {"ttl_s": ttl, "max_entries": MEMO_ENTRIES}
            s.extra["deterministic"] = True
            s.at["cache"] = s.at["deterministic"] = (*tpath, "memoize")

    # ---- templates -------------------------------------------------------------------------------
    def read(self) -> None:
        entry = str(self.spec.get("entrypoint", ""))
        if entry not in self.templates:
            ref = self.spec.get("workflowTemplateRef")
            what = (
                f"runs the WorkflowTemplate '{ref.get('name')}'" if isinstance(ref, dict) else f"entrypoint '{entry}'"
            )
            self.b.warn("no-entrypoint", f"{what}: no template of this file to import", (*self.sp, "entrypoint"))
            return
        ti, t = self.templates[entry]
        tp: DocPath = (*self.sp, "templates", ti)
        if isinstance(t.get("dag"), dict):
            self._dag(t, tp)
        elif isinstance(t.get("steps"), list):
            self._steps(t, tp)
        else:
            self.b.steps.append(self.step({"name": entry, "template": entry}, tp, (tp, t), {entry}))
        for key in _SPEC_UNCARRIED:
            if key in self.spec:
                self.b.warn("not-carried", f"spec.{key} has no recipe equivalent; left out", (*self.sp, key))
        for tname, calls in self.nested.items():  # one warning per nested template, at its first caller
            tmpl = self.templates[tname][1]
            n = len(_items(_map(tmpl.get("dag")).get("tasks"))) or sum(
                len(g) if isinstance(g, list) else 1 for g in _items(tmpl.get("steps"))
            )
            who = ", ".join(raw for raw, _ in calls)
            self.b.warn(
                "nested-template",
                f"{who}: {'calls' if len(calls) == 1 else 'call'} the {'DAG' if 'dag' in tmpl else 'steps'} "
                f"template '{tname}' ({n} steps); each call is imported as one operation, its inner steps "
                "are not operations",
                calls[0][1],
            )

    def _note_refs(self, tasks: list[dict[str, Any]]) -> set[str]:
        names = {str(t.get("name", "")) for t in tasks}
        for t in tasks:
            for ref in argo_refs([t.get("arguments"), t.get("when"), t.get("withParam")]):
                if ref.kind == "output":
                    self.referenced.setdefault(ref.task, set()).add(ref.name)
        return names

    def _dag(self, t: dict[str, Any], tp: DocPath) -> None:
        tasks = [x for x in _items(t["dag"].get("tasks")) if isinstance(x, dict)]
        names = self._note_refs(tasks)
        for k, task in enumerate(_items(t["dag"].get("tasks"))):
            if not isinstance(task, dict):
                continue
            path: DocPath = (*tp, "dag", "tasks", k)
            s = self.step(task, path, (tp, t), names)
            if "depends" in task:
                deps = self._depends(str(task["depends"]), s.action, (*path, "depends"))
                s.after = [(op_id(d), (*path, "depends")) for d in deps]
                s.anchor = Anchor(path, (*path, "depends"), "argo-depends", s.anchor.concurrency if s.anchor else None)
            elif "dependencies" in task:
                deps_list = task["dependencies"] if isinstance(task["dependencies"], list) else [task["dependencies"]]
                s.after = [(op_id(str(d)), (*path, "dependencies", j)) for j, d in enumerate(deps_list)]
                s.anchor = Anchor(path, (*path, "dependencies"), "list", s.anchor.concurrency if s.anchor else None)
            s.at["after"] = (*path, "depends") if "depends" in task else (*path, "dependencies")
            self.b.steps.append(s)

    def _depends(self, expr: str, who: str, at: DocPath) -> list[str]:
        words = _DEPENDS_WORD.findall(expr)
        odd = sorted({w for _, w in words if w in _NOT_SUCCESS})
        if "||" in expr or "!" in expr or odd:
            why = "an OR" if "||" in expr else "a negation" if "!" in expr else "a dependency on " + "/".join(odd)
            self.b.warn(
                "or-dependency",
                f"{who}: depends '{when_text(expr)}' holds {why}; imported as runs after every task it names",
                at,
            )
        return list(dict.fromkeys(name for name, _ in words))

    def _steps(self, t: dict[str, Any], tp: DocPath) -> None:
        groups = [g if isinstance(g, list) else [g] for g in _items(t["steps"])]
        names = self._note_refs([s for g in groups for s in g if isinstance(s, dict)])
        before: list[str] = []
        for g, group in enumerate(groups):
            now: list[str] = []
            for k, step in enumerate(group):
                if not isinstance(step, dict):
                    continue
                path: DocPath = (*tp, "steps", g, k) if isinstance(t["steps"][g], list) else (*tp, "steps", g)
                s = self.step(step, path, (tp, t), names)
                s.after = [(p, (*tp, "steps", g)) for p in before]
                s.at["after"] = (*tp, "steps", g)
                s.anchor = Anchor(path, None, "implicit", s.anchor.concurrency if s.anchor else None)
                self.b.steps.append(s)
                now.append(s.id)
            before = now or before


def to_recipe(data: Any, positions: Positions, *, file: str) -> Imported:
    """The recipe document of one Argo Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow."""
    reader = _Reader(data, positions, file)
    reader.read()
    b = reader.b
    keep = link(b.steps, reader.mounts, lambda f, at: b.field(f, at, "bytes"))
    meta = _map(data.get("metadata"))
    name = str(meta.get("name") or str(meta.get("generateName", "")).rstrip("-.") or "argo-workflow")
    entry = reader.templates.get(str(reader.spec.get("entrypoint", "")))
    ops_path: DocPath = (*reader.sp, "templates", entry[0]) if entry else reader.sp
    imported = b.finish(name, (), ops_path, f"imported from the {data.get('kind')} {name} ({NAME})")
    keep_order(imported, keep, b)
    return imported


__all__ = ["KEY", "KINDS", "NAME", "detect", "duration_s", "to_recipe"]
