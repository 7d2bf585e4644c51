"""Write a plan's accepted mutations back into a workflow engine's own file (``docs/engines.md#write-back``).

An engine file (Argo, Tekton, GitHub Actions, Step Functions, Serverless Workflow) is imported into
a recipe document with :class:`~recipemut.recipe.engines.base.Anchor` s: where each operation's
dependency and concurrency keys are in the engine file. :func:`write_back` applies a plan's
mutations one by one to that document and turns what each changed into edits of the engine file:

* an ``after`` name dropped or added: the item of the dependency list (Argo ``dependencies``,
  Tekton ``runAfter``, GitHub Actions ``needs``) removed or appended, the key removed when the
  list empties or added when there was none (an Argo ``depends`` when another task of the DAG has
  one: Argo refuses a DAG mixing the two keys); the term of an Argo ``depends`` expression of
  ``&&`` only;
* ``concurrency``: Argo ``parallelism`` (of the template or workflow that bounds the fan-out, when
  it bounds no other fan-out and no task that may run beside it: it counts every pod there), Step
  Functions Map ``MaxConcurrency``, GitHub Actions ``strategy.max-parallel``, Serverless Workflow
  0.8 foreach ``batchSize`` (in a JSON file the number is edited in place, or the key added before
  the state's first key, formatting kept);
* ``cache`` on Argo: the task's template gets ``memoize`` (:func:`memoize_of`);
* a removed operation: its task, job or pipeline task removed, and its name from every dependency
  list.

Edits go through :func:`recipemut.recipe.yamlio.apply_edits_to_text` (comments, order, quoting
kept), on the one YAML document of the file the engine object is. Each mutation's result is
imported again and must say what the plan says (the same operations, the same predecessors of each,
the same concurrency and cache); a mutation the engine cannot express, or whose edits would not
read back as planned, is **advice**: reported, recorded in the history entry, left out of the write.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from recipemut.errors import MutationError, RecipeInvalid, RecipemutError
from recipemut.plan.planfile import PlannedMutation
from recipemut.recipe.edits import Edit, apply_edits
from recipemut.recipe.engines import engine_name, import_documents, import_text
from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.engines.names import op_id
from recipemut.recipe.model import DocPath
from recipemut.recipe.yamlio import apply_edits_to_text

#: the dependency key added to a task or job that had none, per engine
DEPENDS_KEY = {"argo": "dependencies", "tekton": "runAfter", "github-actions": "needs"}
#: the concurrency key written at ``Anchor.concurrency``, per engine
CONCURRENCY_KEY = {
    "argo": "parallelism",
    "stepfunctions": "MaxConcurrency",
    "github-actions": "max-parallel",
    "serverlessworkflow": "batchSize",  # a 0.8 foreach state's (its importer anchors no other fan-out)
}
#: the ConfigMap Argo keeps memoized results in (``memoize.cache.configMap.name``), before the template's name
MEMO_CONFIGMAP = "recipemut-memo"

_BREAK = re.compile(r"[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029])|[^\r\n\x85\u2028\u2029]+")
_TERM = re.compile(r"\s*([A-Za-z0-9_][\w-]*)(?:\.Succeeded)?\s*")
#: the task names an Argo ``depends`` expression refers to (not the ``.Succeeded``-like results after them)
_TASK_REF = re.compile(r"(?<![\w.-])[A-Za-z0-9_][\w-]*")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class NotExpressible(Exception):
    """A change of the recipe the engine file cannot say (the message says why)."""


@dataclass(frozen=True)
class Advice:
    """A mutation left out of the write, and why."""

    id: str
    operator: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "operator": self.operator, "advice": self.why}

    def line(self) -> str:
        return f"{self.id}: {self.why}; left out of the write"


@dataclass(frozen=True)
class WriteBack:
    """The engine file's text with the expressible mutations written, and the others as advice."""

    text: str
    engine: str  # the importer's key: "argo", "tekton", ...
    name: str  # what the engine calls the file: "Argo Workflow", ...
    written: tuple[PlannedMutation, ...]
    advice: tuple[Advice, ...]


@functools.lru_cache(maxsize=4)  # one apply asks three times (refusal, versions, the write) of one text
def engine_of(text: str, *, source: str) -> str | None:
    """What an engine calls the file (``"Argo Workflow"``); ``None`` for a recipe, or bytes that are not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes a hand edit left (rollback --force reads them): no engine's
        return None
    return engine_name(text, file=source)


def read_engine(text: str, *, source: str) -> Imported | None:
    """The import of an engine file's text, or ``None`` when the text is a recipe (or no engine's file)."""
    if engine_of(text, source=source) is None:
        return None
    return import_text(text, file=source)


# ---- the engine document and its text -------------------------------------------------------


def _lines(text: str) -> list[str]:
    return _BREAK.findall(text)


def document_span(text: str, index: int) -> tuple[int, int]:
    """Character offsets ``[start, end)`` of the lines of YAML document ``index`` (from its root node's line).

    The lines before the root node (``---``, comments) and after the document's end stay outside,
    so the round trip sees one document whose root starts its first line.

    >>> t = "# head\\n---\\na: 1\\n---\\n# b\\nb: 2\\n"
    >>> s, e = document_span(t, 1); t[s:e]
    'b: 2\\n'
    """
    lines = _lines(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    doc, first, end = -1, None, None
    expect_root = False
    for ev in yaml.parse(text, Loader=_YAML_LOADER):
        mark: Any = ev.start_mark
        if isinstance(ev, yaml.DocumentStartEvent):
            doc += 1
            if doc == index + 1:
                end = mark.line
                break
            expect_root = doc == index
        elif expect_root and isinstance(ev, yaml.NodeEvent):
            first, expect_root = mark.line, False
    if first is None:
        raise MutationError(f"document {index + 1} of the file is empty", code="engine-document")
    return starts[first], starts[min(end, len(lines))] if end is not None else len(text)


def _get(doc: Any, path: DocPath) -> Any:
    node = doc
    for key in path:
        if not (isinstance(node, Mapping) and key in node) and not (
            isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
        ):
            return None
        node = node[key]  # type: ignore[index]
    return node


def _is_json(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("{")


# ---- what a recipe document says, for comparing the plan with the file read back -----------


def _ops(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(o["id"]): o for o in doc.get("operations") or () if isinstance(o, Mapping) and "id" in o}


def meaning(doc: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """Per operation: its predecessors (``after`` and the writers of what it reads), concurrency and cache.

    What a write-back must keep equal between the planned recipe and the engine file read back.
    """
    ops = _ops(doc)
    writer = {str(f): oid for oid, o in ops.items() for f in o.get("produces") or ()}
    out: dict[str, tuple[Any, ...]] = {}
    for oid, o in ops.items():
        reads = {writer[str(f)] for f in o.get("consumes") or () if str(f) in writer}
        preds = {str(a) for a in o.get("after") or ()} | reads
        cache = o.get("cache")
        ttl = cache.get("ttl_s") if isinstance(cache, Mapping) else None
        conc = o.get("concurrency", 1) if o.get("foreach") else None
        out[oid] = (tuple(sorted(preds - {oid})), conc, cache is not None, ttl)
    return out


def _differences(want: Mapping[str, tuple[Any, ...]], got: Mapping[str, tuple[Any, ...]]) -> list[str]:
    out = [f"operation {o} {'is missing' if o in want else 'appears'}" for o in sorted(set(want) ^ set(got))]
    labels = ("runs after", "concurrency", "cache", "cache ttl_s")
    for o in sorted(set(want) & set(got)):
        for label, w, g in zip(labels, want[o], got[o], strict=True):
            if w != g:
                out.append(f"{o} {label} {g!r}, planned {w!r}")
    return out


# ---- one mutation's change, in the engine's words ---------------------------------------------


class _Translator:
    """The edits of one engine file that make it say ``new`` where it said ``old`` (or NotExpressible)."""

    def __init__(self, imported: Imported, edoc: Any, engine_text: str) -> None:
        self.im = imported
        self.key = imported.key
        self.doc = edoc
        self.text = engine_text
        self.raw: dict[str, str] = {}  # op id -> the name the engine's dependency lists use
        for oid, a in imported.anchors.items():
            node = _get(edoc, a.path)
            if self.key == "github-actions":
                self.raw[oid] = str(a.path[-1])
            elif isinstance(node, Mapping) and "name" in node:
                self.raw[oid] = str(node["name"])
        self.op_of = {raw: oid for oid, raw in self.raw.items()}
        self.edits: list[Edit] = []
        self.removals: list[DocPath] = []
        self.numbers: list[tuple[DocPath, int]] = []  # JSON: numbers edited in place

    def op_named(self, entry: Any) -> str:
        s = str(entry)
        return self.op_of.get(s, op_id(s))

    def anchor(self, oid: str) -> Anchor:
        a = self.im.anchors.get(oid)
        if a is None:
            raise NotExpressible(f"operation {oid} has no place in the {self.im.engine} file")
        return a

    def change(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        for key in sorted(set(old) | set(new)):
            if key in ("operations", "fields", "version"):
                continue
            if old.get(key) != new.get(key):
                raise NotExpressible(f"it changes the recipe's {key}, which a {self.im.engine} file does not hold")
        of, nf = old.get("fields") or {}, new.get("fields") or {}
        if any(k not in of or of[k] != v for k, v in nf.items()):
            raise NotExpressible(f"it changes the fields' declarations, which a {self.im.engine} file does not hold")
        o_ops, n_ops = _ops(old), _ops(new)
        added = [o for o in n_ops if o not in o_ops]
        if added:
            raise NotExpressible(f"it adds operation {added[0]}, which has no {self.im.engine} step to write")
        gone = [o for o in o_ops if o not in n_ops]
        for oid, op in n_ops.items():
            self.operation(oid, o_ops[oid], op, gone)
        for oid in gone:
            self.remove(oid)

    def operation(self, oid: str, old: Mapping[str, Any], new: Mapping[str, Any], gone: Sequence[str]) -> None:
        changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)} - {"description"}
        if "cache" in changed and self.key == "argo":
            self.memoize(oid, new.get("cache"))
            changed -= {"cache", "deterministic"}
        other = sorted(changed - {"after", "concurrency"})
        if other:
            raise NotExpressible(f"it sets {oid}'s {', '.join(other)}, which a {self.im.engine} file cannot say")
        o_after, n_after = [str(a) for a in old.get("after") or ()], [str(a) for a in new.get("after") or ()]
        drop = {a for a in o_after if a not in n_after} | set(gone)
        add = [a for a in n_after if a not in o_after]
        if drop or add:
            self.depends(oid, drop, add, explicit=set(o_after) - set(n_after) - set(gone))
        if "concurrency" in changed:
            self.concurrency(oid, new.get("concurrency", 1))

    # ---- ordering ---------------------------------------------------------------------------
    def depends(self, oid: str, drop: set[str], add: list[str], *, explicit: set[str]) -> None:
        a = self.anchor(oid)
        entries: Any = _get(self.doc, a.depends) if a.depends is not None else None
        listed = [entries] if isinstance(entries, str) else list(entries) if isinstance(entries, list) else []
        hit = [i for i, e in enumerate(listed) if self.op_named(e) in drop]
        if not hit and not add and a.depends_style == "list":
            return
        if a.depends_style == "implicit" or self.key not in DEPENDS_KEY:
            if not explicit and not add:
                return  # only a removed step it followed: its own removal says it
            raise NotExpressible(f"the {self.im.engine} orders {oid} by where it stands (no dependency list to edit)")
        missing = [x for x in add if x not in self.raw]
        if missing:
            raise NotExpressible(f"{missing[0]} has no name {oid} could depend on in the {self.im.engine} file")
        names = [self.raw[x] for x in add if self.raw[x] not in {str(e) for e in listed}]
        if a.depends_style == "argo-depends":
            assert a.depends is not None
            if not add and not any(self.op_named(t) in drop for t in _TASK_REF.findall(str(entries))):
                return  # names none of the dropped tasks (a removal elsewhere): its expression stays as written
            expr = self.expression(str(entries), drop, names, oid)
            self.edits.append(Edit("set", a.depends, expr) if expr else Edit("remove", a.depends))
            return
        if a.depends is None:
            if names and self.key == "argo" and self.dag_uses_depends(a.path):
                # Argo refuses a DAG template mixing the two keys: a task there gets a depends expression
                self.edits.append(Edit("set", (*a.path, "depends"), " && ".join(names)))
            elif names:
                self.edits.append(Edit("set", (*a.path, DEPENDS_KEY[self.key]), names))
            return
        keep = [e for i, e in enumerate(listed) if i not in hit]
        if not keep and not names:
            self.edits.append(Edit("remove", a.depends))
        elif isinstance(entries, str):
            result = [*keep, *names]
            self.edits.append(Edit("set", a.depends, result[0] if len(result) == 1 else result))
        else:
            self.edits += [Edit("append", a.depends, n) for n in names]  # first: the last item keeps what follows it
            self.edits += [Edit("remove", (*a.depends, i)) for i in sorted(hit, reverse=True)]

    def dag_uses_depends(self, task_path: DocPath) -> bool:
        """Whether a task of the DAG holding the task at ``task_path`` has a ``depends`` expression."""
        tasks = _get(self.doc, task_path[:-1])
        return isinstance(tasks, list) and any(isinstance(t, Mapping) and "depends" in t for t in tasks)

    def expression(self, expr: str, drop: set[str], names: list[str], oid: str) -> str:
        terms = expr.split("&&")
        if any(not _TERM.fullmatch(t) for t in terms):
            raise NotExpressible(f"{oid}'s depends '{expr}' is more than names joined by &&")
        kept = [t.strip() for t in terms if self.op_named(_TERM.fullmatch(t).group(1)) not in drop]  # type: ignore[union-attr]
        return " && ".join([*kept, *names])  # empty: the key goes, the task runs first

    # ---- fan-out ----------------------------------------------------------------------------
    def concurrency(self, oid: str, value: Any) -> None:
        a = self.anchor(oid)
        key = CONCURRENCY_KEY.get(self.key)
        if key is None or a.concurrency is None:
            raise NotExpressible(f"the {self.im.engine} file has no concurrency key for {oid}")
        sharing = [o for o, b in self.im.anchors.items() if o != oid and b.concurrency == a.concurrency]
        if self.key == "argo" and sharing:
            raise NotExpressible(
                f"Argo's parallelism there bounds {', '.join(sharing)} too; {oid} needs a template of its own"
            )
        if self.key == "argo":  # a template's (or the workflow's) parallelism bounds every pod in it
            scope = a.concurrency
            related = _related(meaning(self.im.document), oid)
            beside = sorted(o for o, b in self.im.anchors.items()
                            if o != oid and o not in related and b.path[: len(scope)] == scope)
            if beside:
                raise NotExpressible(
                    f"Argo's parallelism there bounds every pod of its template, also of {', '.join(beside[:3])}, "
                    f"which may run beside {oid}; {oid} needs a template of its own"
                )
        path = (*a.concurrency, key)
        if _is_json(self.text):
            self.numbers.append((path, int(value)))
        else:
            self.edits.append(Edit("set", path, int(value)))

    # ---- cache ------------------------------------------------------------------------------
    def memoize(self, oid: str, cache: Any) -> None:
        a = self.anchor(oid)
        task = _get(self.doc, a.path)
        name = task.get("template") if isinstance(task, Mapping) else None
        templates_at = a.path[: a.path.index("templates") + 1] if "templates" in a.path else None
        if name is None and len(a.path) >= 2 and a.path[-2] == "templates" and isinstance(task, Mapping):
            name = task.get("name")  # the entry template is the one operation
        templates = _get(self.doc, templates_at) if templates_at else None
        index = next((i for i, x in enumerate(templates or ()) if isinstance(x, Mapping) and x.get("name") == name),
                     None)
        if not isinstance(cache, Mapping):
            raise NotExpressible(f"it removes {oid}'s cache; take memoize out of its template by hand")
        if index is None or templates_at is None:
            raise NotExpressible(f"{oid} calls no template of this file to memoize")
        users = [o for o, b in self.im.anchors.items() if o != oid and _template_of(self.doc, b.path) == name]
        if users:
            raise NotExpressible(f"template {name} is called by {', '.join(users)} too; memoize would cache them all")
        template = templates[index]  # type: ignore[index]
        memo = template.get("memoize")
        if isinstance(memo, Mapping) and "key" in memo:  # memoized already: its key and ConfigMap stay
            age = memoize_of(template, cache).get("maxAge")
            at: DocPath = (*templates_at, index, "memoize", "maxAge")
            if age or "maxAge" in memo:
                self.edits.append(Edit("set", at, age) if age else Edit("remove", at))
        else:
            self.edits.append(Edit("set", (*templates_at, index, "memoize"), memoize_of(template, cache)))

    # ---- removal ----------------------------------------------------------------------------
    def remove(self, oid: str) -> None:
        a = self.anchor(oid)
        if a.depends_style == "implicit" or self.key not in DEPENDS_KEY:
            raise NotExpressible(f"removing {oid}, which the {self.im.engine} orders by where it stands, needs the "
                                 "steps around it rewired")
        self.removals.append(a.path)

    def all_edits(self) -> list[Edit]:
        """The edits in an order that keeps every path's indices true: list items last, highest first."""
        last = sorted(self.removals, key=lambda p: tuple((0, k) if isinstance(k, int) else (1, str(k)) for k in p),
                      reverse=True)
        return [*self.edits, *(Edit("remove", p) for p in last)]


def _related(meanings: Mapping[str, tuple[Any, ...]], oid: str) -> set[str]:
    """The operations that run before or after ``oid`` (its ancestors and descendants), never beside it."""
    preds = {o: set(m[0]) for o, m in meanings.items()}
    succs: dict[str, set[str]] = {o: set() for o in preds}
    for o, ps in preds.items():
        for q in ps:
            succs.setdefault(q, set()).add(o)
    out: set[str] = set()
    for edges in (preds, succs):
        todo = list(edges.get(oid, ()))
        while todo:
            o = todo.pop()
            if o not in out:
                out.add(o)
                todo.extend(edges.get(o, ()))
    return out - {oid}


def _template_of(doc: Any, path: DocPath) -> Any:
    node = _get(doc, path)
    return node.get("template") if isinstance(node, Mapping) else None


def memoize_of(template: Mapping[str, Any], cache: Mapping[str, Any]) -> dict[str, Any]:
    """Argo ``memoize`` for a recipe ``cache``: keyed by the template's input parameters.

    ``maxAge`` is ``ttl_s`` in seconds; results are kept in the ConfigMap
    ``recipemut-memo-<template>``. A template without input parameters has one result: its key is
    its name.

    >>> memoize_of({"name": "gen", "inputs": {"parameters": [{"name": "n"}]}}, {"ttl_s": 600})
    {'key': '{{inputs.parameters.n}}', 'maxAge': '600s', 'cache': {'configMap': {'name': 'recipemut-memo-gen'}}}
    """
    inputs = template.get("inputs")
    declared = inputs.get("parameters") if isinstance(inputs, Mapping) else None
    params = [p["name"] for p in declared or () if isinstance(p, Mapping) and "name" in p]
    key = "-".join(f"{{{{inputs.parameters.{p}}}}}" for p in params) or str(template.get("name"))
    ttl = float(cache.get("ttl_s", 0) or 0)
    memo: dict[str, Any] = {"key": key}
    if ttl > 0:
        memo["maxAge"] = f"{int(ttl) if ttl.is_integer() else ttl}s"
    configmap = re.sub(r"[^a-z0-9-]+", "-", f"{MEMO_CONFIGMAP}-{template.get('name')}".lower()).strip("-")[:253]
    memo["cache"] = {"configMap": {"name": configmap}}
    return memo


# ---- writing --------------------------------------------------------------------------------


def _json_numbers(text: str, edoc_positions: Mapping[DocPath, tuple[int, int]], numbers: Sequence[tuple[DocPath, int]],
                  engine: str) -> str:
    """A JSON text with the numbers at ``numbers`` replaced in place (an absent key is added before the first key).

    Every change is placed by its offset in ``text`` first, then made from the last offset to the
    first, so no change moves the text another one is placed in (several states, present and absent
    keys mixed); a path given twice takes its last value.
    """
    lines = _lines(text)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    changes: list[tuple[int, int, str]] = []  # (start, end, new text) in ``text``'s offsets
    for path, value in dict(numbers).items():
        at = edoc_positions.get(path)
        key = json.dumps(str(path[-1]))
        if at is not None:
            pos = starts[at[0] - 1] + at[1] - 1
            m = re.compile(re.escape(key) + r"(\s*:\s*)(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)").match(text, pos)
            if m is None:
                raise NotExpressible(f"{'.'.join(map(str, path))} is not a number written in place")
            changes.append((m.start(2), m.end(2), str(value)))
            continue
        siblings = [p for p in edoc_positions if len(p) == len(path) and p[:-1] == path[:-1]]
        first = min(siblings, key=lambda p: edoc_positions[p]) if siblings else None
        if first is None:
            raise NotExpressible(f"the {engine} state has no key to put {path[-1]} beside")
        row, col = edoc_positions[first]
        pos = starts[row - 1] + col - 1
        indent = lines[row - 1][: col - 1]
        sep = "\n" + indent if indent.strip() == "" else " "
        changes.append((pos, pos, f"{key}: {value},{sep}"))
    out = text
    for begin, end, new in sorted(changes, reverse=True):
        out = out[:begin] + new + out[end:]
    return out


def _edited(text: str, index: int, edits: Sequence[Edit], numbers: Sequence[tuple[DocPath, int]], *,
            source: str, engine: str) -> str:
    """``text`` with ``edits`` (then the JSON ``numbers``) applied to its YAML document ``index``: one round trip."""
    start, end = document_span(text, index)
    segment = text[start:end]
    if edits:
        segment = apply_edits_to_text(segment, edits, source=source)
    if numbers:
        from recipemut.recipe.yamlpos import parse_yaml

        _, positions, _ = parse_yaml(segment, file=source)
        segment = _json_numbers(segment, positions, numbers, engine)
    return text[:start] + segment + text[end:]


def _valid(imported: Imported, *, source: str, what: str) -> None:
    """Refuse (the whole write) an engine file whose import would not pass ``validate``."""
    from recipemut.recipe.loader import check_imported

    recipe, findings = check_imported(imported, file=source)
    errors = [f for f in findings if f.severity == "error"]
    if recipe is None or errors:
        first = f"{errors[0].message} [{errors[0].code}]" if errors else "invalid"
        raise MutationError(f"applying {what} would make the {imported.engine} file invalid: {first}; "
                            "nothing was written", file=source, code="invalid-result")


def write_back(
    text: str,
    imported: Imported,
    mutations: Sequence[PlannedMutation],
    *,
    source: str,
    check: Callable[[Mapping[str, Any], Sequence[PlannedMutation]], None] | None = None,
) -> WriteBack:
    """The engine file's text with each expressible mutation written, in order; the others as advice.

    ``check(document, mutations)`` runs first on the imported recipe document (the plan check:
    each edit one its operator makes). A mutation whose edits no longer apply once an earlier one
    was left out is advice too.
    """
    from recipemut.recipe.yamlpos import parse_yaml_documents

    if check is not None:
        check(imported.document, mutations)
    documents = parse_yaml_documents(text, file=source, what="workflow file")
    k = imported.doc_index
    data: Any = documents[k][0]
    doc: dict[str, Any] = dict(imported.document)
    im = imported
    edits: list[Edit] = []
    numbers: list[tuple[DocPath, int]] = []
    written: list[PlannedMutation] = []
    advice: list[Advice] = []
    for m in mutations:  # each checked on plain data (an import, no round trip); the text is edited once
        try:
            planned = apply_edits(doc, m.edits)
        except MutationError as e:
            why = f"its edits do not apply without the mutations left out ({e.message})"
            advice.append(Advice(m.id, m.operator, why))
            continue
        try:
            t = _Translator(im, data, text)
            t.change(doc, planned)
            mine = t.all_edits()
            if mine and _is_json(text):
                raise NotExpressible(f"only numbers are edited in a JSON {im.engine} file (this needs {mine[0].op} "
                                     f"of {'.'.join(map(str, mine[0].path))}), which keeps its formatting")
            new_data = apply_edits(data, [*mine, *(Edit("set", p, v) for p, v in t.numbers)])
            every: list[Any] = [(new_data, positions, []) if i == k else (d, positions, []) for i, (d, positions, _) in
                     enumerate(documents)]
            again = import_documents(every, file=source)
            if again is None:
                raise NotExpressible(f"the result is no longer read as {im.engine}")
            diff = _differences(meaning(planned), meaning(again.document))
            if diff:
                raise NotExpressible(f"the {im.engine} file would not say what the plan says ({'; '.join(diff[:3])})")
        except NotExpressible as e:
            advice.append(Advice(m.id, m.operator, str(e)))
            continue
        except RecipeInvalid as e:
            first = e.findings[0].message if e.findings else e.message
            advice.append(Advice(m.id, m.operator, f"the {im.engine} file would no longer import ({first})"))
            continue
        except RecipemutError as e:
            advice.append(Advice(m.id, m.operator, f"its edit of the {im.engine} file failed ({e.message})"))
            continue
        documents[k] = (new_data, documents[k][1], documents[k][2])
        data, im, doc = new_data, again, planned
        edits += mine
        numbers += t.numbers
        written.append(m)
    if not written:
        return WriteBack(text, imported.key, imported.engine, (), tuple(advice))
    out = _edited(text, k, edits, numbers, source=source, engine=imported.engine)
    try:
        back = import_text(out, file=source)
    except RecipemutError as e:  # its line is one of the text not written: say what failed, not where
        back, unread = None, f"it would not read back: {e.message}"
    else:
        unread = "it no longer imports"
    diff = _differences(meaning(doc), meaning(back.document)) if back is not None else [unread]
    if diff or back is None:  # the text round trip disagrees with the data: refuse rather than write something else
        raise MutationError(f"the {imported.engine} file as written would not say what the plan says "
                            f"({'; '.join(diff[:3])}); nothing was written", file=source, code="write-back-mismatch")
    _valid(back, source=source, what=", ".join(m.id for m in written))
    return WriteBack(out, imported.key, imported.engine, tuple(written), tuple(advice))


def refuse_engine_action(text: str, *, source: str, action: str) -> None:
    """Refuse a write other than apply and rollback (a canary, promote, evaluate) into an engine's file."""
    name = engine_of(text, source=source)
    if name is not None and action not in ("apply", "rollback"):
        raise RecipemutError(
            f"{action} into {name} files is not available (a canary needs the recipe's `variants`); "
            f"`recipemut import {source} -o recipe.yaml` writes a recipe to run one on",
            file=source, code="engine-write-back",
        )


def recorded_version(chain: Sequence[Any], sha: str) -> int | None:
    """The version the history recorded for the text with sha256 ``sha`` (an engine file holds none)."""
    for e in reversed(chain):
        if e.sha256_after == sha:
            return e.version
        if e.sha256_before == sha:
            return e.version_before
    return None


__all__ = [
    "CONCURRENCY_KEY",
    "DEPENDS_KEY",
    "MEMO_CONFIGMAP",
    "Advice",
    "NotExpressible",
    "WriteBack",
    "document_span",
    "engine_of",
    "meaning",
    "memoize_of",
    "read_engine",
    "recorded_version",
    "refuse_engine_action",
    "write_back",
]
