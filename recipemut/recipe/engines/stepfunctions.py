"""AWS Step Functions state machines (Amazon States Language, JSON or YAML) read as recipes.

Task, Pass, Wait and Map states are operations (one Map is one fan-out operation, whatever its
item processor holds); Choice, Parallel, Succeed and Fail shape the DAG: a Choice's branches are
``when`` on the operations of each branch (the rule as text), a Parallel's branches run after the
Parallel's predecessors and the state after it runs after all of them. A transition back to an
earlier state (polling, paging) is a loop the recipe cannot hold: it is left out, with a warning
at the transition's line. Catch routes are error routes: not carried over (a warning), and the
states reached only through them are left out.

ASL names no fields: a ``ResultPath`` of ``$.order`` writes the field ``order``; ``InputPath``,
``ItemsPath`` and the ``.$`` paths of ``Parameters`` (``$.order.id``) read it. A state's input is
the document the states before it left: a state whose result replaces it (``ResultPath: $``, the
Task default) or adds to it (``ResultPath: $.x``) passes data to a successor that reads the whole
document (no ``InputPath``/``Parameters`` restricting it, or a ``"x.$": "$"``): that edge is a data
edge, through the field ``<state>.result`` ("the document after that state") when no named field
says it. A state with ``ResultPath: null`` (or a Pass/Wait without a result) passes its input
through: what comes after it depends on the states before it, and on it only by ordering.

>>> from recipemut.recipe.yamlpos import parse_yaml
>>> text = '''{"StartAt": "Get", "States": {
... "Get": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "ResultPath": "$.order", "Next": "Ship"},
... "Ship": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:ship", "InputPath": "$.order",
...          "End": true}}}'''
>>> data, pos, _ = parse_yaml(text, file="m.asl.json")
>>> doc = to_recipe(data, pos, file="m.asl.json").document
>>> [(o["id"], o["service"], o["consumes"], o["produces"]) for o in doc["operations"]]
[('Get', 'lambda', [], ['order']), ('Ship', 'lambda/ship', ['order'], [])]
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from recipemut.files.units import counted
from recipemut.recipe.engines._asl_flow import Edge, as_dict, as_list, dotted_field, merge_notes, top_field, walk
from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.engines.build import MAX_ATTEMPTS, UNLIMITED, Builder, Step, when_text
from recipemut.recipe.engines.names import UniqueIds, op_id
from recipemut.recipe.model import DocPath, Positions

KEY = "stepfunctions"
NAME = "Step Functions state machine"

#: iterations an inline Map runs at once when ``MaxConcurrency`` is 0 or absent (AWS: "up to 40")
INLINE_MAP_CONCURRENCY = 40
#: ASL's default ``MaxAttempts`` of a retrier
DEFAULT_RETRIES = 3
#: the engine itself, as the service of states that call nothing (Pass, Wait)
ENGINE_SERVICE = "stepfunctions"

_READ = re.compile(r"(?<![$\w])\$\.([A-Za-z_][A-Za-z0-9_\-]*)")
_JSONATA_READ = re.compile(r"\$states\.input\.([A-Za-z_][A-Za-z0-9_\-]*)")
#: a path reading the whole document: ``$`` not followed by ``.field`` (``$``, ``$[0]``, ``$..x``), not ``$$.``
_WHOLE = re.compile(r"(?<![$\w])\$(?!\$|\.[A-Za-z_])")
_JSONATA_WHOLE = re.compile(r"\$states\.input(?!\.[A-Za-z_])")
_COMPARE = re.compile(
    r"^(String|Numeric|Boolean|Timestamp)(Equals|LessThan|GreaterThan|LessThanEquals|GreaterThanEquals|Matches)(Path)?$"
)
_SYMBOL = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_OPERATIONS = ("Task", "Pass", "Wait", "Map")


def detect(data: Any) -> bool:
    """Whether one parsed document is an ASL state machine: ``StartAt`` naming one of its ``States``."""
    if not isinstance(data, dict):
        return False
    start, states = data.get("StartAt"), data.get("States")
    return isinstance(start, str) and isinstance(states, dict) and bool(states)


def service_of(resource: Any) -> str:
    """The service a Task's ``Resource`` calls: the AWS service of an integration, ``lambda/F`` for a function ARN.

    >>> service_of("arn:aws:states:::lambda:invoke"), service_of("arn:aws:lambda:eu-west-1:123:function:Charge:live")
    ('lambda', 'lambda/Charge')
    >>> service_of("arn:aws:states:::aws-sdk:sfn:listExecutions")
    'sfn'
    >>> service_of("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
    'sqs'
    >>> service_of("arn:aws:states:us-east-1:123:activity:review"), service_of("${SamplingFunctionArn}")
    ('activity/review', '${SamplingFunctionArn}')
    """
    text = str(resource).strip() if resource is not None else ""
    parts = text.split(":")
    if text.startswith("arn:") and len(parts) >= 6:
        svc, kind = parts[2], parts[5]
        if svc == "lambda" and kind == "function" and len(parts) >= 7:
            return f"lambda/{parts[6]}"
        if svc == "states" and kind == "activity" and len(parts) >= 7:
            return f"activity/{parts[6]}"
        if svc == "states" and not parts[3] and not parts[4]:
            if kind == "aws-sdk" and len(parts) >= 7:
                return parts[6]
            return kind.split(".")[0] or "states"
        return svc or text
    return text or "task"


def _value(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def rule_text(rule: Any) -> str:
    """A Choice rule as text: ``$.status == "FAILED"``, ``($.a > 1) and (not ($.b is present))``.

    >>> rule_text({"Variable": "$.status", "StringEquals": "FAILED", "Next": "X"})
    '$.status == "FAILED"'
    >>> rule_text({"Or": [{"Variable": "$.n", "NumericGreaterThanPath": "$.m"},
    ...                   {"Not": {"Variable": "$.t", "IsPresent": True}}]})
    '($.n > $.m) or (not ($.t is present))'
    """
    if not isinstance(rule, dict):
        return str(rule)
    if "Condition" in rule:
        return str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
    for key, word in (("And", " and "), ("Or", " or ")):
        if isinstance(rule.get(key), list):
            return word.join(f"({rule_text(r)})" for r in rule[key])
    if "Not" in rule:
        return f"not ({rule_text(rule['Not'])})"
    var = str(rule.get("Variable", "$"))
    for k, v in rule.items():
        m = _COMPARE.match(str(k))
        if m:
            return f"{var} {_SYMBOL[m.group(2)]} {v if m.group(3) else _value(v)}"
        if str(k) == "IsPresent":
            return f"{var} is {'present' if v else 'absent'}"
        if str(k).startswith("Is"):
            return f"{var} {'is' if v else 'is not'} {str(k)[2:].lower()}"
    return "condition"


def _reads(value: Any) -> list[str]:
    """Fields a state's paths and ``.$`` parameters read (``$.x...`` gives ``x``; ``$$.`` context paths none)."""
    out: list[str] = []

    def scan(v: Any, dollar: bool) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                scan(x, str(k).endswith(".$"))
        elif isinstance(v, list):
            for x in v:
                scan(x, dollar)
        elif isinstance(v, str):
            if dollar:
                out.extend(_READ.findall(v))
            out.extend(_JSONATA_READ.findall(v) if "{%" in v else [])

    scan(value, False)
    return out


def _reads_whole(value: Any) -> bool:
    """Whether ``Parameters``/``Arguments`` hand the state the whole document (``"Payload.$": "$"``).

    >>> _reads_whole({"Payload.$": "$", "Token.$": "$$.Task.Token"}), _reads_whole({"id.$": "$.order.id"})
    (True, False)
    >>> _reads_whole("{% $states.input %}"), _reads_whole({"a": "{% $states.input.a %}"}), _reads_whole({"a": "$"})
    (True, False, False)
    """
    if isinstance(value, dict):
        return any(
            (isinstance(x, str) and bool(_WHOLE.search(x))) if str(k).endswith(".$") else _reads_whole(x)
            for k, x in value.items()
        )
    if isinstance(value, list):
        return any(_reads_whole(x) for x in value)
    return isinstance(value, str) and "{%" in value and bool(_JSONATA_WHOLE.search(value))


def whole_input(st: dict[str, Any], kind: str) -> bool:
    """Whether a state reads the whole document it is given (Task and Pass; a Map's items are apart).

    >>> whole_input({"Type": "Task"}, "Task"), whole_input({"InputPath": "$.order"}, "Task")
    (True, False)
    >>> whole_input({"Parameters": {"id.$": "$.id"}}, "Task"), whole_input({"Parameters": {"p.$": "$"}}, "Task")
    (False, True)
    >>> whole_input({"Result": 1}, "Pass"), whole_input({"Seconds": 5}, "Wait")
    (False, False)
    """
    path = st.get("InputPath", "$")
    if path is None or kind == "Wait":
        return False
    if not (isinstance(path, str) and path.strip() == "$") and top_field(path) is not None:
        return False  # restricted to one field (read as such)
    selectors = [k for k in ("Parameters", "Arguments", "ItemSelector") if k in st]
    if selectors:
        return any(_reads_whole(st[k]) for k in selectors)
    return kind == "Task"


def document_effect(st: dict[str, Any], kind: str) -> tuple[str, str | None]:
    """What a state does to the document its successor gets: ``replace``, ``add`` a field, or ``pass`` it through.

    >>> document_effect({}, "Task"), document_effect({"ResultPath": "$.order"}, "Task")
    (('replace', None), ('add', 'order'))
    >>> document_effect({"ResultPath": None}, "Task"), document_effect({}, "Pass"), document_effect({}, "Wait")
    (('pass', None), ('pass', None), ('pass', None))
    >>> document_effect({"ResultPath": None, "OutputPath": "$.x"}, "Task"), document_effect({"Result": 1}, "Pass")
    (('replace', None), ('replace', None))
    """
    if "Output" in st or ("OutputPath" in st and st["OutputPath"] != "$"):
        return "replace", None  # a new document (a part of the old one, or an expression's value)
    result_path = st.get("ResultPath", "$")
    if result_path is None or kind == "Wait":
        return "pass", None
    whole = isinstance(result_path, str) and result_path.strip() == "$"
    if kind == "Pass" and "Result" not in st and "Parameters" not in st and whole:
        path = st.get("InputPath", "$")
        return ("pass", None) if isinstance(path, str) and path.strip() == "$" else ("replace", None)
    if whole:
        return "replace", None
    written = top_field(result_path)
    return ("add", written) if written else ("replace", None)


Doc = tuple[frozenset[str], frozenset[tuple[str, str]]]  # (states whose whole output it is, (field, writer) added)


@dataclass
class _Op:
    id: str
    name: str
    path: DocPath
    service: str
    preds: set[str]
    reads: list[tuple[str, DocPath]] = field(default_factory=list)
    writes: list[tuple[str, DocPath]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    at: dict[str, DocPath] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    concurrency_at: DocPath | None = None
    replaces: bool = False  # its result becomes the whole state output (ResultPath "$", the default)
    items: DocPath | None = None  # a Map over its whole input: where ItemsPath (or nothing) says so
    whole: bool = False  # it reads the whole document it is given
    effect: tuple[str, str | None] = ("replace", None)  # see :func:`document_effect`


class _Reader:
    def __init__(self, b: Builder) -> None:
        self.b = b
        self.ops: list[_Op] = []
        self.ids = UniqueIds()
        self.array_fields: set[str] = set()
        self.inputs: set[str] = set()  # fields that are the execution's input whatever runs before
        self.rank: dict[str, int] = {}  # operation id -> its place (operations are made in topological order)

    # ---- machines -----------------------------------------------------------------------------

    def machine(self, m: Any, prefix: DocPath, entry: set[str], when: str | None) -> set[str]:
        """Import one machine (the top level, a Parallel branch); returns the operations it ends with."""
        states = m.get("States") if isinstance(m, dict) else None
        start = m.get("StartAt") if isinstance(m, dict) else None
        if not isinstance(states, dict) or not isinstance(start, str) or start not in states:
            self.b.warn("bad-machine", "a state machine needs StartAt naming one of its States; left out", prefix)
            return entry
        graph = {name: self.edges(name, st, (*prefix, "States", name), states) for name, st in states.items()}

        def visit(name: str, preds: set[str], cond: str | None) -> set[str]:
            return self.state(name, states[name], (*prefix, "States", name), preds, cond)

        found = walk(graph, start, visit, entry=entry, when=when)
        for src, edge in found.back_edges:
            self.b.warn(
                "loop",
                f"state '{src}' goes back to '{edge.target}': a loop (polling, paging) is not carried over; "
                "each state runs once per request",
                edge.at,
            )
        reached = set(found.order)
        left = [
            n
            for n, st in states.items()
            if n not in reached and isinstance(st, dict) and st.get("Type") not in ("Succeed", "Fail")
        ]
        if left:
            self.b.warn(
                "unreached",
                f"{counted(len(left), 'state')} reached only through Catch routes (or from nowhere) "
                f"{'is' if len(left) == 1 else 'are'} left out: "
                + ", ".join(left),
                (*prefix, "States"),
            )
        return found.exits

    def edges(self, name: str, st: Any, path: DocPath, states: dict[str, Any]) -> list[Edge]:
        if not isinstance(st, dict):
            return []
        out: list[Edge] = []
        if st.get("Type") == "Choice":
            rules = as_list(st.get("Choices"))
            texts = [rule_text(r) for r in rules]
            for i, r in enumerate(rules):
                if isinstance(r, dict) and isinstance(r.get("Next"), str):
                    out.append(Edge(r["Next"], (*path, "Choices", i, "Next"), when_text(texts[i])))
            if isinstance(st.get("Default"), str):
                other = " or ".join(f"({t})" for t in texts) if len(texts) > 1 else (texts[0] if texts else "")
                out.append(
                    Edge(st["Default"], (*path, "Default"), when_text(f"not ({other})") if other else None, True)
                )
        elif isinstance(st.get("Next"), str):
            out.append(Edge(st["Next"], (*path, "Next")))
        for e in out:
            if e.target not in states:
                self.b.warn(
                    "unknown-state", f"state '{name}' goes to '{e.target}', which is not one of its States", e.at
                )
        return out

    # ---- states -------------------------------------------------------------------------------

    def state(self, name: str, st: Any, path: DocPath, preds: set[str], when: str | None) -> set[str]:
        kind = st.get("Type") if isinstance(st, dict) else None
        self.catch(name, st, path)
        if kind == "Choice":
            self.b.warn("when", f"Choice '{name}': its branches are kept as `when` text", path)
            return preds
        if kind == "Parallel":
            return self.parallel(name, st, path, preds, when)
        if kind in _OPERATIONS:
            return {self.operation(name, st, path, preds, when).id}
        if kind not in ("Succeed", "Fail"):
            self.b.warn(
                "unknown-type", f"state '{name}' has Type {kind!r}, which is not an ASL state type; left out", path
            )
        return preds

    def catch(self, name: str, st: Any, path: DocPath) -> None:
        if isinstance(st, dict) and isinstance(st.get("Catch"), list) and st["Catch"]:
            routes = "; ".join(
                f"{', '.join(map(str, as_list(c.get('ErrorEquals'))))} -> {c.get('Next')}"
                for c in st["Catch"]
                if isinstance(c, dict)
            )
            self.b.warn("catch", f"state '{name}': error routes are not carried over ({routes})", (*path, "Catch"))

    def parallel(self, name: str, st: dict[str, Any], path: DocPath, preds: set[str], when: str | None) -> set[str]:
        branches = as_list(st.get("Branches"))
        exits: set[str] = set()
        for i, branch in enumerate(branches):
            exits |= self.machine(branch, (*path, "Branches", i), preds, when)
        if st.get("Retry"):
            self.b.warn(
                "retry-parallel",
                f"Parallel '{name}': a Retry runs every branch again; not carried over",
                (*path, "Retry"),
            )
        return exits or preds

    def new_id(self, name: str, path: DocPath) -> str:
        base = op_id(name)
        oid = self.ids.take(base)
        if oid != base:
            self.b.warn(
                "duplicate-name", f"state '{name}' has the same operation id as another state; named '{oid}'", path
            )
        return oid

    def operation(self, name: str, st: dict[str, Any], path: DocPath, preds: set[str], when: str | None) -> _Op:
        kind = st["Type"]
        op = _Op(self.new_id(name, path), name, path, ENGINE_SERVICE, set(preds))
        if kind == "Task":
            op.service = service_of(st.get("Resource"))
        elif kind == "Wait":
            for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"):
                if k in st:
                    op.notes.append(f"waits ({k} {st[k]})")
        for k in ("InputPath", "Parameters", "ItemSelector", "Arguments", "Items"):
            if k in st:
                found = [top_field(st[k])] if k == "InputPath" else _reads(st[k] if k != "Items" else {"x.$": st[k]})
                op.reads += [(f, (*path, k)) for f in found if f]
        result_path = st.get("ResultPath", "$")
        written = top_field(result_path)
        if written:
            op.writes.append((written, (*path, "ResultPath")))
        has_result = kind in ("Task", "Map") or (kind == "Pass" and ("Result" in st or "Parameters" in st))
        op.replaces = has_result and isinstance(result_path, str) and result_path.strip() == "$"
        op.whole = whole_input(st, kind)
        op.effect = document_effect(st, kind)
        if kind == "Map":
            self.map(op, st, path)
        retry = self.retry(st.get("Retry"))
        if retry is not None:
            op.extra["retry"] = {"max_attempts": retry}
            op.at["retry"] = (*path, "Retry")
        if when is not None:
            op.extra["when"] = when
            # the Choice rules that decide whether it runs read fields: it depends on their writers
            op.reads += [(x, path) for x in [*_READ.findall(when), *_JSONATA_READ.findall(when)]]
        for k in ("TimeoutSeconds", "HeartbeatSeconds"):
            if isinstance(st.get(k), (int, float)):
                op.notes.append(f"{k} {st[k]}")
        self.rank[op.id] = len(self.ops)
        self.ops.append(op)
        return op

    def map(self, op: _Op, st: dict[str, Any], path: DocPath) -> None:
        proc_key = "ItemProcessor" if "ItemProcessor" in st else "Iterator"
        proc = as_dict(st.get(proc_key))
        inner = as_dict(proc.get("States"))
        config = as_dict(proc.get("ProcessorConfig"))
        distributed = str(config.get("Mode", "INLINE")).upper() == "DISTRIBUTED"
        order = self.inner_order(proc, (*path, proc_key))
        tasks = [inner[n] for n in order if inner[n].get("Type") == "Task"]
        if tasks:
            op.service = service_of(tasks[0].get("Resource"))
        if len(order) > 1:
            self.b.warn(
                "map-flattened",
                f"Map '{op.name}' runs {len(order)} states per item ({', '.join(order)}); "
                "they are one fan-out operation here",
                (*path, proc_key),
            )
        op.notes.append(f"per item: {' -> '.join(order) or 'nothing'}" + (" (distributed)" if distributed else ""))
        items_at: DocPath = (*path, "ItemsPath") if "ItemsPath" in st else path
        items = dotted_field(st.get("ItemsPath", "$")) if "ItemReader" not in st else None
        if items is not None:
            self.array_fields.add(items)
            op.reads.insert(0, (items, items_at))
            op.extra["foreach"] = items
            op.at["foreach"] = items_at
        elif "ItemReader" in st:
            items = f"{op.id}.items"
            op.notes.append(f"items: read by its ItemReader, the recipe input {items}")
            self.array_fields.add(items)
            self.inputs.add(items)
            op.reads.insert(0, (items, (*path, "ItemReader")))
            op.extra["foreach"] = items
            op.at["foreach"] = (*path, "ItemReader")
        else:
            op.items = items_at
        cap = st.get("MaxConcurrency")
        if "MaxConcurrencyPath" in st:
            self.b.warn(
                "concurrency-path", f"Map '{op.name}': MaxConcurrencyPath is read at run time; not carried over", path
            )
        limit = cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None
        concurrency = min(limit, UNLIMITED) if limit else (UNLIMITED if distributed else INLINE_MAP_CONCURRENCY)
        if concurrency > 1:
            op.extra["concurrency"] = concurrency
            op.at["concurrency"] = (*path, "MaxConcurrency") if "MaxConcurrency" in st else path
        op.concurrency_at = path

    def inner_order(self, proc: dict[str, Any], path: DocPath) -> list[str]:
        """The states of a Map's item processor that run (from its StartAt), warning about their Catch routes."""
        inner = as_dict(proc.get("States"))
        start = proc.get("StartAt")
        if not isinstance(start, str) or start not in inner:
            return []
        graph = {n: self.edges(n, st, (*path, "States", n), inner) for n, st in inner.items()}
        found = walk(graph, start, lambda n, preds, cond: set(), entry=set())
        order = [n for n in found.order if isinstance(inner[n], dict)]
        for n in order:
            self.catch(n, inner[n], (*path, "States", n))
        return [n for n in order if inner[n].get("Type") not in ("Choice", "Succeed", "Fail")]

    @staticmethod
    def retry(retriers: Any) -> int | None:
        """``max_attempts``: ``MaxAttempts`` + 1 of the retrier catching ``States.ALL``, else of the first."""
        if not isinstance(retriers, list) or not retriers:
            return None
        rs = [r for r in retriers if isinstance(r, dict)]
        chosen = next((r for r in rs if "States.ALL" in as_list(r.get("ErrorEquals"))), rs[0] if rs else None)
        if chosen is None:
            return None
        n = chosen.get("MaxAttempts", DEFAULT_RETRIES)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            return None
        return min(n + 1, MAX_ATTEMPTS)

    # ---- data flow ----------------------------------------------------------------------------

    def steps(self) -> list[tuple[Step, list[str]]]:
        """The operations as builder steps, with the data flow resolved (see :meth:`flow`)."""
        by_id = {op.id: op for op in self.ops}
        consumes, produces = self.flow(by_id)
        out: list[tuple[Step, list[str]]] = []
        for op in self.ops:
            step = Step(
                id=op.id,
                service=op.service,
                action=op.name,
                path=op.path,
                consumes=consumes[op.id],
                produces=produces[op.id],
                after=[(p, by_id[p].path) for p in sorted(op.preds, key=self.rank.__getitem__)],
                extra=dict(op.extra),
                at=dict(op.at),
                anchor=Anchor(path=op.path, depends=None, depends_style="implicit", concurrency=op.concurrency_at),
            )
            out.append((step, op.notes))
        return out

    def flow(self, by_id: dict[str, _Op]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Fields each operation reads and writes: one writer per field, read only downstream of it.

        A named ``ResultPath`` writes its field (the first writer keeps it). Each operation's input
        document is followed from the start (:func:`document_effect`): a read of a field comes
        from the state that added it, else from the states whose result replaced the whole
        document (they produce it; ``<state>.result`` when another state is the field's writer),
        else from the execution's input. An operation reading the whole document consumes what
        every one of those states wrote.
        """
        ancestors: dict[str, int] = {}  # a bit per upstream operation (by its rank): linear memory per operation
        for op in self.ops:
            ancestors[op.id] = 0
            for pred in op.preds:
                ancestors[op.id] |= ancestors[pred] | (1 << self.rank[pred])

        def upstream(a: str, b: str) -> bool:
            """Whether operation ``a`` runs before ``b``."""
            return bool(ancestors[b] >> self.rank[a] & 1)

        producer: dict[str, str] = {}
        produces: dict[str, list[str]] = {op.id: [] for op in self.ops}
        consumes: dict[str, list[str]] = {op.id: [] for op in self.ops}
        inputs: set[str] = set(self.inputs)
        for op in self.ops:
            for f, at in op.writes:
                if f in producer and producer[f] != op.id:
                    self.b.warn(
                        "field-rewritten",
                        f"state '{op.name}' writes $.{f} again (first written by {producer[f]}); "
                        "a recipe field has one writer, so this write is kept as ordering only",
                        at,
                    )
                elif f not in producer:
                    producer[f] = op.id
                    produces[op.id].append(f)
                    self.b.field(f, at, "array" if f in self.array_fields else "string")

        doc_in: dict[str, Doc] = {}
        doc_out: dict[str, Doc] = {}
        for op in self.ops:  # topological order: the document each operation is given and leaves
            base: set[str] = set()
            added: set[tuple[str, str]] = set()
            for p in op.preds:
                base |= doc_out[p][0]
                added |= doc_out[p][1]
            doc_in[op.id] = (frozenset(base), frozenset(added))
            effect, written = op.effect
            if effect == "replace":
                doc_out[op.id] = (frozenset({op.id}), frozenset())
            elif effect == "add" and written:
                kept = {a for a in added if a[0] != written}
                doc_out[op.id] = (frozenset(base), frozenset(kept | {(written, op.id)}))
            else:
                doc_out[op.id] = doc_in[op.id]

        def whole(w: str) -> str:
            """The field "the document after ``w``" (its whole result), which ``w`` produces."""
            name = f"{w}.result"
            if name not in produces[w]:
                producer[name] = w
                produces[w].append(name)
                self.b.field(name, by_id[w].path, "array" if name in self.array_fields else "string")
            return name

        def sources(op: _Op, f: str) -> list[str | None]:
            """The fields that give ``op``'s read of ``f`` (``None``: the execution's input ``f``)."""
            if f in self.inputs:  # read by an ItemReader: a recipe input whatever runs before
                return [None]
            base, added = doc_in[op.id]
            writers = sorted((w for g, w in added if g == f), key=self.rank.__getitem__)
            if writers:
                return [f if producer.get(f) == w else whole(w) for w in writers]
            ws = sorted(base, key=self.rank.__getitem__)
            if not ws:  # the execution's input (a state's field of the same name is another value)
                return [None] if producer.get(f) is None else []
            if len(ws) == 1 and producer.get(f) is None and f not in inputs:
                producer[f] = ws[0]
                produces[ws[0]].append(f)
                self.b.field(f, by_id[ws[0]].path, "array" if f in self.array_fields else "string")
            return [f if producer.get(f) == w else whole(w) for w in ws]

        def consume(op: _Op, name: str, at: DocPath) -> None:
            if name not in consumes[op.id]:
                self.b.field(name, at, "array" if name in self.array_fields else "string")
                consumes[op.id].append(name)

        for op in self.ops:
            reads = list(op.reads)
            if op.items is not None:
                ws = sorted(doc_in[op.id][0], key=self.rank.__getitem__)
                items = f"{ws[0]}.result" if len(ws) == 1 else f"{op.id}.items"
                self.array_fields.add(items)
                if len(ws) == 1:
                    whole(ws[0])
                    op.notes.append(f"items: the whole output of {by_id[ws[0]].name}")
                else:
                    inputs.add(items)
                consume(op, items, op.items)
                op.extra["foreach"] = items
                op.at["foreach"] = op.items
            for f, at in reads:
                writer = producer.get(f)
                added_here = any(g == f for g, _ in doc_in[op.id][1])
                if writer is not None and writer != op.id and not upstream(writer, op.id) and not added_here:
                    self.b.warn(
                        "field-not-upstream",
                        f"state '{op.name}' reads $.{f}, which {by_id[writer].name} writes but not before it; left out",
                        at,
                    )
                    continue
                if writer == op.id:
                    continue  # reads the value it then replaces: one field, written here
                for name in sources(op, f):
                    if name is None:
                        inputs.add(f)
                        consume(op, f, at)
                    elif producer.get(name) != op.id:
                        consume(op, name, at)
            if op.whole:  # the whole document: what every state that shaped it wrote (one field each is enough)
                shaped, fields = doc_in[op.id]
                for f, w in sorted(fields, key=lambda a: (self.rank[a[1]], a[0])):
                    if producer.get(f) == w:
                        consume(op, f, op.path)
                for w in sorted(shaped | {w for _, w in fields}, key=self.rank.__getitem__):
                    if not any(producer.get(c) == w for c in consumes[op.id]):
                        consume(op, whole(w), op.path)
        return consumes, produces


#: file and folder names that say nothing about the state machine (``statemachine/statemachine.asl.json``)
_GENERIC = {"definition", "statemachine", "state-machine", "state_machine", "stepfunction", "stepfunctions", "workflow"}


def _recipe_name(file: str) -> str:
    """The file's name without ``.asl.json``; a generic name (``statemachine``) gives the nearest telling folder's."""
    path = PurePath(file)
    name = path.name
    for suffix in (".json", ".yaml", ".yml", ".asl"):
        name = name.removesuffix(suffix)
    for parent in path.parents:
        if name.lower() not in _GENERIC or not parent.name:
            break
        name = parent.name
    return name if name and not name.startswith("<") else "state-machine"


def to_recipe(data: Any, positions: Positions, *, file: str) -> Imported:
    """Import one ASL state machine into a recipe document (see the module's docstring)."""
    b = Builder(KEY, NAME, file, positions)
    reader = _Reader(b)
    reader.machine(data, (), set(), None)
    notes: dict[str, list[str]] = {}
    for step, note in reader.steps():
        b.steps.append(step)
        notes[step.id] = note
    comment = data.get("Comment") if isinstance(data.get("Comment"), str) else None
    imported = b.finish(
        _recipe_name(file),
        (),
        ("States",),
        comment or f"imported from the Step Functions state machine {PurePath(file).name}",
    )
    merge_notes(imported, notes)
    return imported


__all__ = ["KEY", "NAME", "detect", "rule_text", "service_of", "to_recipe"]
