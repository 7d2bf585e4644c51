"""CNCF Serverless Workflow definitions (spec 0.8 and 1.0, JSON or YAML) read as recipes.

0.8 (``specVersion: "0.8"``, ``start``, ``states``): an operation, sleep, inject, foreach, event or
callback state is one operation (its actions together); each branch of a parallel state is one
operation, after the parallel state's predecessors and before its ``transition``; a switch state's
``dataConditions`` are ``when`` on the operations of each branch; a foreach state fans out over its
``inputCollection`` (``batchSize`` is its ``concurrency``).

1.0 (``document.dsl: 1.0.x``, ``do:`` a list of named tasks, run in order unless ``then:`` says
otherwise): ``call``, ``set``, ``wait``, ``emit``, ``listen`` and ``run`` tasks are operations;
``do`` and ``try`` run their own task lists in place; each ``fork`` branch runs after the fork's
predecessors; ``switch`` cases are ``when`` on the tasks they go to; ``if:`` is ``when``; ``for`` is
one fan-out operation over ``for.in``; a ``raise`` with ``if:`` is a guard (``may_halt``).

Event states and ``listen`` tasks wait for events (a warning: the wait is not modelled); error
routes (``onErrors``, ``catch``) are not carried over, and states reached only through them are
left out; a transition back to an earlier state is a loop, left out with a warning.

Data flow: a jq path ``${ .order.id }`` in a state's arguments reads the field ``order``; an
action's ``toStateData``, a ``set`` task's keys and an inject state's ``data`` write fields.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any
from urllib.parse import urlparse

from recipemut.files.units import counted
from recipemut.recipe.engines._asl_flow import Edge, as_dict, as_list, dotted_field, merge_notes, top_field, walk
from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.engines.build import UNLIMITED, Builder, Step, delimited, when_text
from recipemut.recipe.engines.names import UniqueIds, op_id
from recipemut.recipe.engines.refs import strings
from recipemut.recipe.model import DocPath, Positions

KEY = "serverlessworkflow"
NAME = "Serverless Workflow"
#: the engine itself, as the service of states and tasks that call nothing (sleep, set, wait)
ENGINE_SERVICE = "serverlessworkflow"

_JQ_PATH = re.compile(r"(?<![\w$\]).])\.([A-Za-z_][A-Za-z0-9_]*)")
_TASKS_10 = ("call", "for", "fork", "switch", "try", "do", "wait", "set", "raise", "emit", "listen", "run")


def spec_version(data: Any) -> str | None:
    """``"0.8"`` or ``"1.0"`` (the family of the file's spec version), or ``None``."""
    if not isinstance(data, dict):
        return None
    doc = data.get("document")
    if isinstance(doc, dict) and isinstance(doc.get("dsl"), str) and "do" in data:
        return "1.0"
    version = data.get("specVersion")
    if isinstance(version, (str, float)) and isinstance(data.get("states"), list):
        return "0.8"
    return None


def detect(data: Any) -> bool:
    """Whether one document is a Serverless Workflow: ``specVersion`` + ``states``, or ``document.dsl`` + ``do``."""
    return spec_version(data) is not None


def jq_reads(value: Any, *, bare: bool = False, skip: frozenset[str] = frozenset()) -> list[str]:
    """Top-level fields the jq paths of ``${ ... }`` expressions in ``value`` read (``bare``: the text is jq).

    A path after a pipe (``.a | .b``) is relative to what the pipe carries, so only ``a`` counts.

    >>> jq_reads({"x": "${ .order.id }", "y": "${ .applicants | .age >= 18 }", "z": ".plain"})
    ['order', 'applicants']
    >>> jq_reads(".customer.age < 18", bare=True)
    ['customer']
    """
    out: list[str] = []
    for text in strings(value):
        exprs = [text] if bare else delimited(text, "${", "}")
        for expr in exprs:
            for m in _JQ_PATH.finditer(expr):
                before = expr[: m.start()].rstrip()
                if before.endswith("|") or m.group(1) in skip:
                    continue
                out.append(m.group(1))
    return list(dict.fromkeys(out))


def _bare(text: Any) -> str:
    """A condition without its ``${ }``: ``${ .age >= 18 }`` -> ``.age >= 18``."""
    t = str(text).strip()
    return t[2:-1].strip() if t.startswith("${") and t.endswith("}") else t


def _writes(value: Any) -> list[str]:
    """Fields a ``toStateData``-like ``${ .x }`` writes."""
    f = top_field(value.strip()[2:-1].strip()) if isinstance(value, str) and value.strip().startswith("${") else None
    return [f] if f else []


def _target(value: Any, key: str) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get(key), str):
        return str(value[key])
    return None


class _Reader:
    def __init__(self, data: dict[str, Any], b: Builder) -> None:
        self.data = data
        self.b = b
        self.ids = UniqueIds()
        self.steps: list[Step] = []
        self.notes: dict[str, list[str]] = {}
        self.ancestors: dict[str, int] = {}  # a bit per upstream operation (by its rank)
        self.rank: dict[str, int] = {}
        self.producer: dict[str, str] = {}
        self.inputs: set[str] = set()
        functions = data.get("functions")
        self.functions = (
            {str(f.get("name")): f for f in functions if isinstance(f, dict)} if isinstance(functions, list) else {}
        )

    # ---- operations ---------------------------------------------------------------------------

    def op(self, name: str, path: DocPath, service: str, preds: set[str], when: str | None) -> Step:
        base = op_id(name)
        oid = self.ids.take(base)
        if oid != base:
            self.b.warn(
                "duplicate-name", f"'{name}' has the same operation id as another state or task; named '{oid}'", path
            )
        step = Step(id=oid, service=service, action=name, path=path)
        step.after = [(p, self.steps[self.rank[p]].path) for p in sorted(preds, key=self.rank.__getitem__)]
        step.anchor = Anchor(path=path, depends=None, depends_style="implicit")
        if when is not None:
            step.extra["when"] = when
        self.ancestors[oid] = 0
        for p in preds:
            self.ancestors[oid] |= self.ancestors[p] | (1 << self.rank[p])
        self.rank[oid] = len(self.steps)
        self.steps.append(step)
        self.notes[oid] = []
        if when is not None:  # the conditions that decide whether it runs read fields: it depends on their writers
            self.read(step, jq_reads(when, bare=True), path)
        return step

    def read(self, step: Step, fields: list[str], at: DocPath, *, array: str | None = None) -> None:
        for f in fields:
            p = self.producer.get(f)
            if p is not None and p != step.id and not self.ancestors[step.id] >> self.rank[p] & 1:
                self.b.warn(
                    "field-not-upstream",
                    f"'{step.action}' reads .{f}, which {p} writes but not before it; left out",
                    at,
                )
                continue
            if p == step.id or f in step.consumes:
                continue
            if p is None:
                self.inputs.add(f)
            step.consumes.append(self.b.field(f, at, "array" if f == array else "string"))

    def write(self, step: Step, fields: list[str], at: DocPath) -> None:
        for f in fields:
            if f in self.inputs or (f in self.producer and self.producer[f] != step.id):
                self.b.warn(
                    "field-rewritten",
                    f"'{step.action}' writes .{f} again; a recipe field has one writer: kept as ordering",
                    at,
                )
                continue
            if f not in self.producer:
                self.producer[f] = step.id
                step.produces.append(self.b.field(f, at))

    def loops(self, back: list[tuple[str, Edge]]) -> None:
        for src, edge in back:
            self.b.warn(
                "loop",
                f"'{src}' goes back to '{edge.target}': a loop is not carried over; each state runs once per request",
                edge.at,
            )

    # ---- 0.8 ----------------------------------------------------------------------------------

    def v08(self) -> None:
        index: dict[str, int] = {}
        for i, s in enumerate(as_list(self.data.get("states"))):
            if isinstance(s, dict) and isinstance(s.get("name"), str):
                index.setdefault(s["name"], i)
        states = [self.data["states"][i] for i in index.values()]
        if not states:
            self.b.warn("bad-machine", "the workflow has no named states", ("states",))
            return
        start = _target(self.data.get("start"), "stateName") or states[0]["name"]
        if start not in index:
            self.b.warn(
                "unknown-state", f"start names '{start}', which is not a state; the first state starts", ("start",)
            )
            start = states[0]["name"]
        graph = {s["name"]: self.edges08(s, ("states", index[s["name"]]), index) for s in states}
        by_name = {s["name"]: s for s in states}

        def visit(name: str, preds: set[str], cond: str | None) -> set[str]:
            return self.state08(by_name[name], ("states", index[name]), preds, cond)

        found = walk(graph, start, visit, entry=set())
        self.loops(found.back_edges)
        left = [n for n in by_name if n not in set(found.order)]
        if left:
            self.b.warn(
                "unreached",
                f"{counted(len(left), 'state')} reached only through onErrors (or from nowhere) "
                f"{'is' if len(left) == 1 else 'are'} left out: {', '.join(left)}",
                ("states",),
            )

    def edges08(self, st: dict[str, Any], path: DocPath, index: dict[str, int]) -> list[Edge]:
        out: list[Edge] = []
        if st.get("type") == "switch":
            conds = as_list(st.get("dataConditions") or st.get("eventConditions"))
            texts: list[str] = []
            for i, c in enumerate(conds if isinstance(conds, list) else []):
                if not isinstance(c, dict):
                    continue
                text = _bare(c.get("condition") or f"event {c.get('eventRef')}")
                texts.append(text)
                target = _target(c.get("transition"), "nextState")
                if target:
                    out.append(
                        Edge(
                            target,
                            (*path, "dataConditions" if "dataConditions" in st else "eventConditions", i),
                            when_text(text),
                        )
                    )
            default = (
                _target((st.get("defaultCondition") or {}).get("transition"), "nextState")
                if isinstance(st.get("defaultCondition"), dict)
                else None
            )
            if default:
                other = " or ".join(f"({t})" for t in texts) if len(texts) > 1 else (texts[0] if texts else "")
                every = len(out) == len(conds)  # every condition goes somewhere: with the default, they cover all
                out.append(
                    Edge(default, (*path, "defaultCondition"), when_text(f"not ({other})") if other else None, every)
                )
        else:
            target = _target(st.get("transition"), "nextState")
            if target:
                out.append(Edge(target, (*path, "transition")))
        for e in out:
            if e.target not in index:
                self.b.warn(
                    "unknown-state",
                    f"state '{st['name']}' goes to '{e.target}', which is not a state of this workflow",
                    e.at,
                )
        return out

    def actions_service(self, actions: Any) -> str:
        for a in actions if isinstance(actions, list) else []:
            if not isinstance(a, dict):
                continue
            ref = _target(a.get("functionRef"), "refName")
            if ref:
                return ref
            flow = _target(a.get("subFlowRef"), "workflowId")
            if flow:
                return f"subflow/{flow}"
            if a.get("eventRef"):
                return "events"
        return ENGINE_SERVICE

    def actions_data(self, step: Step, actions: Any, path: DocPath, skip: frozenset[str] = frozenset()) -> None:
        names: list[str] = []
        for i, a in enumerate(actions if isinstance(actions, list) else []):
            if not isinstance(a, dict):
                continue
            names.append(str(a.get("name", i)))
            ref = a.get("functionRef")
            args = ref.get("arguments") if isinstance(ref, dict) else None
            self.read(step, jq_reads(args, skip=skip), (*path, i))
            flt = as_dict(a.get("actionDataFilter"))
            self.write(step, _writes(flt.get("toStateData")), (*path, i, "actionDataFilter"))
        if len(names) > 1:
            self.notes[step.id].append(f"actions: {', '.join(names)}")

    def state08(self, st: dict[str, Any], path: DocPath, preds: set[str], when: str | None) -> set[str]:
        kind, name = st.get("type"), st["name"]
        if isinstance(st.get("onErrors"), list) and st["onErrors"]:
            self.b.warn("catch", f"state '{name}': onErrors routes are not carried over", (*path, "onErrors"))
        if kind == "switch":
            self.b.warn("when", f"switch '{name}': its conditions are kept as `when` text", path)
            if "eventConditions" in st:
                self.b.warn(
                    "event", f"switch '{name}' waits for events; the wait is not modelled", (*path, "eventConditions")
                )
            return preds
        if kind == "parallel":
            exits: set[str] = set()
            for i, br in enumerate(as_list(st.get("branches"))):
                if isinstance(br, dict):
                    bp: DocPath = (*path, "branches", i)
                    step = self.op(
                        str(br.get("name", f"{name}-{i}")), bp, self.actions_service(br.get("actions")), preds, when
                    )
                    self.actions_data(step, br.get("actions"), (*bp, "actions"))
                    exits.add(step.id)
            if st.get("completionType") == "atLeast":
                self.b.warn(
                    "completion",
                    f"parallel '{name}' completes after {st.get('numCompleted')} branches; the recipe waits for all",
                    path,
                )
            return exits or preds
        if kind in ("operation", "sleep", "inject", "foreach", "event", "callback"):
            actions = st.get("actions")
            writes: list[str] = []
            if kind == "event":
                events = [e for e in as_list(st.get("onEvents")) if isinstance(e, dict)]
                actions = [a for e in events for a in as_list(e.get("actions"))]
                writes = [
                    f
                    for e in events
                    if isinstance(e.get("eventDataFilter"), dict)
                    for f in _writes(e["eventDataFilter"].get("toStateData"))
                ]
                self.b.warn(
                    "event", f"event state '{name}' waits for events; the wait is not modelled", (*path, "onEvents")
                )
            elif kind == "callback":
                actions = [st.get("action")] if isinstance(st.get("action"), dict) else []
                self.b.warn(
                    "event",
                    f"callback state '{name}' waits for event {st.get('eventRef')}; the wait is not modelled",
                    path,
                )
            step = self.op(name, path, self.actions_service(actions), preds, when)
            if kind == "event":
                self.write(step, writes, (*path, "onEvents"))
            skip: frozenset[str] = frozenset()
            if kind == "foreach":
                skip = frozenset(
                    [*jq_reads(st.get("iterationParam"), bare=True), str(st.get("iterationParam", "")).strip("${ .}")]
                )
                self.foreach08(step, st, path)
            if kind == "sleep":
                self.notes[step.id].append(f"sleeps {st.get('duration')}")
            if kind == "inject" and isinstance(st.get("data"), dict):
                self.write(
                    step, [k for k in map(str, st["data"]) if re.fullmatch(r"[A-Za-z_][\w.\-]*", k)], (*path, "data")
                )
            self.actions_data(step, actions, (*path, "actions"), skip)
            return {step.id}
        self.b.warn("unknown-type", f"state '{name}' has type {kind!r}; left out", path)
        return preds

    def foreach08(self, step: Step, st: dict[str, Any], path: DocPath) -> None:
        items = dotted_field(st.get("inputCollection")) or f"{step.id}.items"
        at: DocPath = (*path, "inputCollection") if "inputCollection" in st else path
        self.read(step, [items], at, array=items)
        if items in step.consumes:
            step.extra["foreach"] = items
            step.at["foreach"] = at
        self.write(step, _writes(st.get("outputCollection")), (*path, "outputCollection"))
        mode = str(st.get("mode", "parallel")).lower()
        size = st.get("batchSize")
        if mode == "sequential":
            return
        limit = int(size) if isinstance(size, (int, str)) and str(size).isdigit() and int(size) > 0 else UNLIMITED
        if limit > 1 and "foreach" in step.extra:
            step.extra["concurrency"] = min(limit, UNLIMITED)
            step.at["concurrency"] = (*path, "batchSize") if "batchSize" in st else path
            step.anchor = Anchor(path=path, depends=None, depends_style="implicit", concurrency=path)

    # ---- 1.0 ----------------------------------------------------------------------------------

    def v10(self) -> None:
        self.sequence(self.data.get("do"), ("do",), set(), None)

    def sequence(self, tasks: Any, path: DocPath, entry: set[str], when: str | None) -> set[str]:
        """Run a task list in order (``then:`` may jump); returns the operations it ends with."""
        items = [
            (i, next(iter(t)), t[next(iter(t))])
            for i, t in enumerate(as_list(tasks))
            if isinstance(t, dict) and len(t) == 1
        ]
        if not items:
            return entry
        names = [n for _, n, _ in items]
        where = {n: (*path, i, n) for i, n, _ in items}
        graph: dict[str, list[Edge]] = {}
        for k, (_, n, task) in enumerate(items):
            graph[n] = self.edges10(n, task, where[n], names[k + 1] if k + 1 < len(items) else None, names)
        tasks_by = {n: t for _, n, t in items}

        def visit(name: str, preds: set[str], cond: str | None) -> set[str]:
            return self.task10(name, tasks_by[name], where[name], preds, cond)

        found = walk(graph, names[0], visit, entry=entry, when=when)
        self.loops(found.back_edges)
        return found.exits

    def edges10(self, name: str, task: Any, path: DocPath, following: str | None, names: list[str]) -> list[Edge]:
        if not isinstance(task, dict):
            return []

        def to(then: Any, at: DocPath, cond: str | None = None, default: bool = False) -> list[Edge]:
            if then in (None, "continue"):
                return [Edge(following, at, cond, default)] if following else []
            if then in ("exit", "end"):
                return []
            if str(then) not in names:
                self.b.warn("unknown-state", f"task '{name}' goes to '{then}', which is not a task of its list", at)
                return []
            return [Edge(str(then), at, cond, default)]

        if "raise" in task and "if" not in task:
            return []
        if "if" in task and task.get("then") not in (None, "continue"):
            return to(task.get("then"), (*path, "then")) + to(None, (*path, "if"))  # skipped: on to the next task
        if isinstance(task.get("switch"), list):
            out: list[Edge] = []
            texts: list[str] = []
            for i, case in enumerate(task["switch"]):
                if isinstance(case, dict) and len(case) == 1:
                    body = next(iter(case.values()))
                    if isinstance(body, dict) and "when" in body:
                        texts.append(_bare(body["when"]))
                        out += to(body.get("then"), (*path, "switch", i), when_text(texts[-1]))
                    elif isinstance(body, dict):
                        other = " or ".join(f"({t})" for t in texts) if len(texts) > 1 else (texts[0] if texts else "")
                        every = len(out) == len(texts)  # every case goes somewhere: with the default, they cover all
                        out += to(
                            body.get("then"),
                            (*path, "switch", i),
                            when_text(f"not ({other})") if other else None,
                            every,
                        )
            return out
        return to(task.get("then"), (*path, "then") if "then" in task else path)

    def task10(self, name: str, task: Any, path: DocPath, preds: set[str], when: str | None) -> set[str]:
        if not isinstance(task, dict):
            return preds
        kind = next((k for k in _TASKS_10 if k in task), None)
        if "if" in task:
            cond = when_text(_bare(task["if"]))
            when = f"{when} and {cond}" if when else cond
            self.b.warn("when", f"task '{name}': the condition {cond!r} is kept as `when` text", (*path, "if"))
        if kind == "do":
            return self.sequence(task["do"], (*path, "do"), preds, when)
        if kind == "try":
            if "catch" in task:
                self.b.warn("catch", f"task '{name}': its catch (an error route) is not carried over", (*path, "catch"))
            return self.sequence(task["try"], (*path, "try"), preds, when)
        if kind == "fork":
            return self.fork(name, task, path, preds, when)
        if kind == "switch":
            self.b.warn("when", f"switch '{name}': its cases are kept as `when` text", (*path, "switch"))
            return preds
        if kind == "raise" and "if" not in task:
            return preds
        if kind is None:
            self.b.warn("unknown-type", f"task '{name}' is none of {', '.join(_TASKS_10)}; left out", path)
            return preds
        step = self.op(name, path, self.service10(kind, task), preds, when)
        if "if" in task:
            self.read(step, jq_reads(task["if"], bare="${" not in str(task["if"])), (*path, "if"))
        if kind == "raise":
            step.extra["may_halt"] = True
            self.notes[step.id].append("raises an error when its condition holds")
        elif kind == "for":
            self.for10(step, task, path)
        elif kind == "listen":
            self.b.warn("event", f"task '{name}' listens for events; the wait is not modelled", (*path, "listen"))
        elif kind == "set" and isinstance(task["set"], dict):
            self.read(step, jq_reads(task["set"]), (*path, "set"))
            self.write(
                step, [k for k in map(str, task["set"]) if re.fullmatch(r"[A-Za-z_][\w.\-]*", k)], (*path, "set")
            )
        if kind in ("call", "run", "emit", "wait"):
            self.read(
                step, jq_reads({k: v for k, v in task.items() if k not in ("then", "output", "export", "if")}), path
            )
        return {step.id}

    def service10(self, kind: str, task: dict[str, Any]) -> str:
        """A task's service: an HTTP call's host, a called function's name, a container's image, ..."""
        if kind == "call":
            call = str(task.get("call"))
            args = as_dict(task.get("with"))
            endpoint = args.get("endpoint") or args.get("document")
            uri = _target(endpoint, "uri") or (_target(endpoint, "endpoint") if isinstance(endpoint, dict) else None)
            host = urlparse(uri).hostname if uri and "${" not in uri else None
            return host or call
        if kind == "run" and isinstance(task.get("run"), dict):
            run = task["run"]
            for key, sub in (("container", "image"), ("workflow", "name"), ("script", "language")):
                if isinstance(run.get(key), dict) and run[key].get(sub):
                    return str(run[key][sub])
            return "shell" if "shell" in run else "run"
        if kind in ("emit", "listen"):
            return "events"
        return ENGINE_SERVICE

    def for10(self, step: Step, task: dict[str, Any], path: DocPath) -> None:
        spec = as_dict(task.get("for"))
        items = dotted_field(spec.get("in")) or f"{step.id}.items"
        self.read(step, [items], (*path, "for"), array=items)
        if items in step.consumes:
            step.extra["foreach"] = items
            step.at["foreach"] = (*path, "for")
        inner = [next(iter(t)) for t in as_list(task.get("do")) if isinstance(t, dict) and len(t) == 1]
        if len(inner) > 1:
            self.b.warn(
                "map-flattened",
                f"for '{step.action}' runs {len(inner)} tasks per item; they are one fan-out operation here",
                (*path, "do"),
            )
        self.notes[step.id].append(
            f"per item: {' -> '.join(inner) or 'nothing'}" + (f"; while {task['while']}" if "while" in task else "")
        )
        listens = [
            n
            for t in as_list(task.get("do"))
            if isinstance(t, dict)
            for n, body in t.items()
            if isinstance(body, dict) and "listen" in body
        ]
        if listens:
            self.b.warn(
                "event",
                f"for '{step.action}' listens for events ({', '.join(listens)}); the wait is not modelled",
                (*path, "do"),
            )

    def fork(self, name: str, task: dict[str, Any], path: DocPath, preds: set[str], when: str | None) -> set[str]:
        spec = as_dict(task.get("fork"))
        exits: set[str] = set()
        for i, branch in enumerate(as_list(spec.get("branches"))):
            if isinstance(branch, dict) and len(branch) == 1:
                bname, body = next(iter(branch.items()))
                exits |= self.task10(str(bname), body, (*path, "fork", "branches", i, bname), preds, when)
        if spec.get("compete"):
            self.b.warn(
                "fork-compete",
                f"fork '{name}' ends when its first branch does; the recipe waits for every branch",
                (*path, "fork"),
            )
        return exits or preds


def _recipe_name(data: dict[str, Any], file: str) -> str:
    doc = data.get("document")
    for name in (doc.get("name") if isinstance(doc, dict) else None, data.get("id"), data.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    stem = PurePath(file).name.split(".")[0]
    return stem if stem and not stem.startswith("<") else "workflow"


def to_recipe(data: Any, positions: Positions, *, file: str) -> Imported:
    """Import one Serverless Workflow (0.8 or 1.0) into a recipe document (see the module's docstring)."""
    b = Builder(KEY, NAME, file, positions)
    reader = _Reader(data, b)
    if spec_version(data) == "1.0":
        reader.v10()
    else:
        reader.v08()
    b.steps.extend(reader.steps)
    doc = data.get("document") if isinstance(data.get("document"), dict) else data
    described = doc.get("summary") or doc.get("description") or data.get("description")
    imported = b.finish(
        _recipe_name(data, file),
        (),
        ("do",) if "do" in data else ("states",),
        str(described)
        if isinstance(described, str)
        else f"imported from the Serverless Workflow {PurePath(file).name}",
    )
    merge_notes(imported, reader.notes)
    return imported


__all__ = ["KEY", "NAME", "detect", "jq_reads", "spec_version", "to_recipe"]
