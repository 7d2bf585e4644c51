"""Semantic checks of a recipe: field flow, ids, the DAG, constraints, services and variants.

:func:`semantic_findings` collects *every* problem, each a :class:`~recipemut.errors.Finding`
with a stable code (see :data:`RULES`), the file, line and column from the recipe's positions, and
a message naming the operation or field. Structure (keys, types) is the JSON Schema's job
(:mod:`recipemut.recipe.loader`); this module assumes it passed.

>>> from recipemut.recipe.model import recipe_from_dict
>>> r = recipe_from_dict({
...     "name": "demo", "services": {"s": {}}, "fields": {"a": {}, "b": {}, "c": {}}, "inputs": ["a"], "outputs": ["c"],
...     "operations": [
...         {"id": "f", "service": "s", "action": "F", "consumes": ["a", "c"], "produces": ["b"]},
...         {"id": "g", "service": "s", "action": "G", "consumes": ["b"], "produces": ["c"]},
...     ],
... }, source="demo.yaml")
>>> [f.message for f in semantic_findings(r)]
["cycle: f -> g -> f (f -> g: data 'b'; g -> f: data 'c')"]
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterator

import networkx as nx

from recipemut.errors import Finding
from recipemut.files.units import ms_text
from recipemut.recipe.model import Operation, Recipe, recipe_from_dict
from recipemut.recipe.transfer import COMPRESSIONS, table

#: Every rule: code -> (severity, what it means). Codes are stable; scripts may match on them.
RULES: dict[str, tuple[str, str]] = {
    "duplicate-id": ("error", "two operations (or alternatives) share an id"),
    "self-after": ("error", "an operation lists itself in `after`"),
    "unknown-after": ("error", "`after` names an operation that does not exist"),
    "unknown-frozen": ("error", "`constraints.frozen` names an operation that does not exist"),
    "unknown-keep-order": ("error", "`constraints.keep_order` names an operation that does not exist"),
    "undeclared-field": ("error", "a field is used but not declared in `fields`"),
    "input-produced": ("error", "a recipe input is also produced by an operation"),
    "duplicate-producer": ("error", "a field is produced by more than one operation"),
    "unproduced-field": ("error", "a consumed field is neither an input nor produced by any operation"),
    "not-upstream": ("error", "a consumed field is produced by an operation that does not run before the consumer"),
    "output-not-produced": ("error", "an output is neither produced nor an input"),
    "cycle": ("error", "data edges plus `after` edges form a cycle"),
    "keep-order-contradiction": ("error", "a `keep_order` pair is the reverse of what the DAG runs"),
    "keep-order-unordered": ("warning", "a `keep_order` pair is not ordered by the DAG (they may run concurrently)"),
    "bad-expected": ("error", "an `expected` prior has p50 above p95"),
    "variant-shares": ("error", "variant shares are outside (0, 1) or sum to 1 or more"),
    "duplicate-variant": ("error", "two variants share a name, or a variant is named `control`"),
    "unknown-service": ("warning", "an operation's service is not declared in `services`"),
    "unused-field": ("warning", "a declared field is used nowhere"),
    "orphan-alternative": ("warning", "an alternative's equivalence tag matches no operation"),
    "unknown-format": ("warning", "a field's format or compression is not in the format table (nor in `formats:`)"),
    "cache-unsafe": ("warning", "a cache on an operation that is not deterministic or has external side effects"),
    "hedge-unsafe": ("warning", "a hedge duplicates calls to an operation with external side effects"),
    "foreach-not-consumed": ("error", "`foreach` names a field the operation does not consume"),
    "foreach-not-list": ("error", "`foreach` names a field whose type is not `array`"),
    "batch-without-foreach": ("error", "`batch_size` above 1 without `foreach`: there are no items to batch"),
    "batch-exceeds-max": ("error", "`batch_size` is above the `max_batch` its action declares"),
    "batch-without-max": ("warning", "`batch_size` above 1, but no `max_batch` says the action takes batches"),
    "concurrency-without-foreach": ("warning", "`concurrency` above 1 without `foreach` has no effect (one call)"),
    "dedupe-without-foreach": ("warning", "`dedupe` without `foreach` has no effect (one call)"),
    "concurrency-over-capacity": ("warning", "`concurrency` is above the declared capacity of the operation's service"),
    "retry-unsafe": ("warning", "`retry` repeats calls to an operation with external side effects"),
    "dedupe-unsafe": ("warning", "`dedupe` on an operation that is not deterministic"),
    "when-on-alternative": (
        "warning",
        "an alternative declares `when`; a substitute keeps the branch of the operation it replaces",
    ),
}


def _op_name(kind: str, i: int, op: Operation) -> str:
    return f"{kind}[{i}] ({op.id})"


class _Checker:
    def __init__(self, recipe: Recipe, prefix: tuple[str | int, ...], label: str) -> None:
        self.r = recipe
        self.prefix = prefix
        self.label = label
        self.file = recipe.source or "<recipe>"
        self.found: list[Finding] = []

    def add(self, code: str, message: str, *path: str | int) -> None:
        line, col = self.r.position(*path)
        self.found.append(Finding(self.file, line, col, code, self.label + message, RULES[code][0]))

    def line_of(self, *path: str | int) -> str:
        line, _ = self.r.position(*path)
        return f" (line {line})" if line is not None else ""

    # ---- the rules ----------------------------------------------------------------------------
    def ids(self) -> None:
        first: dict[str, tuple[str, int]] = {}
        for kind, ops in (("operations", self.r.operations), ("alternatives", self.r.alternatives)):
            for i, op in enumerate(ops):
                if op.id in first:
                    k0, i0 = first[op.id]
                    self.add(
                        "duplicate-id",
                        f"{kind}[{i}]: duplicate id '{op.id}' (already used by {k0}[{i0}]{self.line_of(k0, i0)})",
                        kind,
                        i,
                        "id",
                    )
                else:
                    first[op.id] = (kind, i)

    def after(self) -> None:
        ids = [op.id for op in self.r.operations]
        for i, op in enumerate(self.r.operations):
            for j, dep in enumerate(op.after):
                if dep == op.id:
                    self.add(
                        "self-after",
                        f"{_op_name('operations', i, op)}: lists itself in after",
                        "operations",
                        i,
                        "after",
                        j,
                    )
                elif dep not in self.r.ops:
                    self.add(
                        "unknown-after",
                        f"{_op_name('operations', i, op)}: after names unknown operation '{dep}'{_close(dep, ids)}",
                        "operations",
                        i,
                        "after",
                        j,
                    )

    def constraints(self) -> None:
        ids = [op.id for op in self.r.operations]
        for j, op_id in enumerate(self.r.constraints.frozen):
            if op_id not in self.r.ops:
                self.add(
                    "unknown-frozen",
                    f"constraints.frozen[{j}]: unknown operation '{op_id}'{_close(op_id, ids)}",
                    "constraints",
                    "frozen",
                    j,
                )
        dag = self.r.dag
        # on a cycle "runs first" means nothing: the cycle is reported, its operations' pairs are not
        cyclic = {n for c in nx.strongly_connected_components(dag) if len(c) > 1 for n in c}
        for j, pair in enumerate(self.r.constraints.keep_order):
            a, b = pair
            unknown = [x for x in (a, b) if x not in self.r.ops]
            for x in unknown:
                k = pair.index(x)
                self.add(
                    "unknown-keep-order",
                    f"constraints.keep_order[{j}]: unknown operation '{x}'{_close(x, ids)}",
                    "constraints",
                    "keep_order",
                    j,
                    k,
                )
            if unknown or a in cyclic or b in cyclic:
                continue
            if a == b:
                self.add(
                    "keep-order-contradiction",
                    f"constraints.keep_order[{j}]: [{a}, {b}] names one operation twice",
                    "constraints",
                    "keep_order",
                    j,
                )
            elif nx.has_path(dag, b, a):
                self.add(
                    "keep-order-contradiction",
                    f"constraints.keep_order[{j}]: asks '{a}' to run before '{b}', but the DAG runs '{b}' first",
                    "constraints",
                    "keep_order",
                    j,
                )
            elif not nx.has_path(dag, a, b):
                self.add(
                    "keep-order-unordered",
                    f"constraints.keep_order[{j}]: '{a}' and '{b}' are not ordered by the DAG (they may run "
                    f"concurrently); add '{a}' to the after of '{b}' to enforce it",
                    "constraints",
                    "keep_order",
                    j,
                )

    def _uses(self) -> Iterator[tuple[str, tuple[str | int, ...], str]]:
        """(field, document path, how) for every use of a field, in document order."""
        for j, f in enumerate(self.r.inputs):
            yield f, ("inputs", j), "inputs"
        for j, f in enumerate(self.r.outputs):
            yield f, ("outputs", j), "outputs"
        for kind, ops in (("operations", self.r.operations), ("alternatives", self.r.alternatives)):
            for i, op in enumerate(ops):
                for j, f in enumerate(op.consumes):
                    yield f, (kind, i, "consumes", j), f"{_op_name(kind, i, op)} consumes"
                for j, f in enumerate(op.produces):
                    yield f, (kind, i, "produces", j), f"{_op_name(kind, i, op)} produces"

    def fields(self) -> None:
        declared = list(self.r.fields)
        reported: set[str] = set()
        used: set[str] = set()
        for f, path, how in self._uses():
            used.add(f)
            if f not in self.r.fields and f not in reported:
                reported.add(f)
                self.add(
                    "undeclared-field", f"field '{f}' ({how} it) is not declared in fields{_close(f, declared)}", *path
                )
        for name in declared:
            if name not in used:
                self.add("unused-field", f"fields.{name}: declared but used nowhere", "fields", name)

    def transfer_formats(self) -> None:
        known = table(self.r.formats)
        formats = sorted(n for n in known if n not in COMPRESSIONS)
        compressions = sorted(COMPRESSIONS)
        for name, spec in self.r.fields.items():
            for attr, options in (("format", formats), ("compression", compressions)):
                value = getattr(spec, attr)
                if value is not None and value not in options:
                    self.add(
                        "unknown-format",
                        f"fields.{name}.{attr}: '{value}' is not a known {attr}{_close(value, options)} "
                        f"(known: {', '.join(options)})",
                        "fields",
                        name,
                        attr,
                    )

    def flow(self) -> None:
        producers: dict[str, tuple[int, Operation]] = {}
        inputs = set(self.r.inputs)
        for i, op in enumerate(self.r.operations):
            for j, f in enumerate(op.produces):
                where = _op_name("operations", i, op)
                if f in inputs:
                    self.add(
                        "input-produced",
                        f"{where}: produces '{f}', which is a recipe input",
                        "operations",
                        i,
                        "produces",
                        j,
                    )
                if f in producers:
                    i0, op0 = producers[f]
                    self.add(
                        "duplicate-producer",
                        f"{where}: produces '{f}', already produced by '{op0.id}'"
                        f"{self.line_of('operations', i0)}; a field has exactly one producer",
                        "operations",
                        i,
                        "produces",
                        j,
                    )
                else:
                    producers[f] = (i, op)
        dag = self.r.dag
        for i, op in enumerate(self.r.operations):
            where = _op_name("operations", i, op)
            for j, f in enumerate(op.consumes):
                if f in inputs:
                    continue
                if f not in producers:
                    self.add(
                        "unproduced-field",
                        f"{where}: consumes '{f}', which is not an input and no operation produces",
                        "operations",
                        i,
                        "consumes",
                        j,
                    )
                    continue
                src = producers[f][1].id
                if src == op.id:
                    self.add(
                        "not-upstream",
                        f"{where}: consumes '{f}', which it produces itself",
                        "operations",
                        i,
                        "consumes",
                        j,
                    )
                elif not nx.has_path(dag, src, op.id):
                    self.add(
                        "not-upstream",
                        f"{where}: consumes '{f}', but its producer '{src}' does not run before it",
                        "operations",
                        i,
                        "consumes",
                        j,
                    )
        for j, f in enumerate(self.r.outputs):
            if f not in producers and f not in inputs:
                self.add("output-not-produced", f"outputs[{j}]: '{f}' is never produced", "outputs", j)

    def cycles(self) -> None:
        dag = self.r.dag
        index = {op.id: i for i, op in reversed(list(enumerate(self.r.operations)))}
        comps = [c for c in nx.strongly_connected_components(dag) if len(c) > 1]
        for comp in sorted(comps, key=lambda c: min(index[n] for n in c)):
            start = min(comp, key=lambda n: index[n])
            edges = nx.find_cycle(dag.subgraph(comp), source=start)
            path = " -> ".join([start, *(v for _, v in edges)])
            why = "; ".join(f"{u} -> {v}: {_edge_reason(dag, u, v)}" for u, v in edges)
            self.add("cycle", f"cycle: {path} ({why})", "operations", index[start])

    def services(self) -> None:
        users: dict[str, list[int]] = defaultdict(list)
        for i, op in enumerate(self.r.operations):
            if op.service not in self.r.services:
                users[op.service].append(i)
        for svc, idx in users.items():
            names = ", ".join(self.r.operations[i].id for i in idx)
            self.add(
                "unknown-service",
                f"service '{svc}' (used by {names}) is not declared in services; forecast cannot size it",
                "operations",
                idx[0],
                "service",
            )

    def operation_details(self) -> None:
        tags = {op.equivalence for op in self.r.operations if op.equivalence}
        for kind, ops in (("operations", self.r.operations), ("alternatives", self.r.alternatives)):
            for i, op in enumerate(ops):
                e = op.expected
                if (
                    e
                    and e.latency_p50_ms is not None
                    and e.latency_p95_ms is not None
                    and e.latency_p50_ms > e.latency_p95_ms
                ):
                    self.add(
                        "bad-expected",
                        f"{_op_name(kind, i, op)}: expected p50 {ms_text(e.latency_p50_ms, decimals=None)} is above "
                        f"p95 {ms_text(e.latency_p95_ms, decimals=None)}",
                        kind,
                        i,
                        "expected",
                    )
                if op.cache and (not op.deterministic or op.side_effects == "external"):
                    why = "has external side effects" if op.side_effects == "external" else "is not deterministic"
                    self.add(
                        "cache-unsafe",
                        f"{_op_name(kind, i, op)}: has a cache but {why}; hits may serve wrong results",
                        kind,
                        i,
                        "cache",
                    )
                if op.hedge and op.side_effects == "external":
                    self.add(
                        "hedge-unsafe",
                        f"{_op_name(kind, i, op)}: hedging repeats calls with external side effects",
                        kind,
                        i,
                        "hedge",
                    )
        for i, alt in enumerate(self.r.alternatives):
            if alt.equivalence and alt.equivalence not in tags:
                self.add(
                    "orphan-alternative",
                    f"alternatives[{i}] ({alt.id}): equivalence '{alt.equivalence}' matches no operation",
                    "alternatives",
                    i,
                    "equivalence",
                )

    def _max_batch(self, op: Operation) -> tuple[int, str] | None:
        """The most items one call of ``op``'s action takes, and who declares it (itself, or an alternative
        serving the same service and action: the batched form a batch mutation switches to)."""
        if op.max_batch is not None:
            return op.max_batch, "its own max_batch"
        for j, alt in enumerate(self.r.alternatives):
            if alt.max_batch is not None and (alt.service, alt.action) == (op.service, op.action):
                return alt.max_batch, f"the max_batch of {_op_name('alternatives', j, alt)}"
        return None

    def fan_out(self) -> None:
        """foreach, batch_size, concurrency, dedupe, retry and when: each makes sense only with the others it needs."""
        for kind, ops in (("operations", self.r.operations), ("alternatives", self.r.alternatives)):
            for i, op in enumerate(ops):
                self._fan_out_of(kind, i, op)

    def _fan_out_of(self, kind: str, i: int, op: Operation) -> None:
        where = _op_name(kind, i, op)
        if op.foreach is not None:
            spec = self.r.fields.get(op.foreach)
            if op.foreach not in op.consumes:
                self.add(
                    "foreach-not-consumed",
                    f"{where}: foreach '{op.foreach}' is not a field it consumes"
                    f"{_close(op.foreach, list(op.consumes))}; add it to consumes",
                    kind,
                    i,
                    "foreach",
                )
            elif spec is not None and spec.type != "array":
                self.add(
                    "foreach-not-list",
                    f"{where}: foreach '{op.foreach}' is a field of type {spec.type}, not a list; "
                    f"declare it {{type: array}} or name a list field",
                    kind,
                    i,
                    "foreach",
                )
        else:
            for key, value, code in (
                ("batch_size", op.batch_size, "batch-without-foreach"),
                ("concurrency", op.concurrency, "concurrency-without-foreach"),
            ):
                if value > 1:
                    what = "there are no list items to batch" if key == "batch_size" else "it has no effect (one call)"
                    self.add(
                        code, f"{where}: {key} {value} without foreach: {what}; add foreach: <list field>", kind, i, key
                    )
            if op.dedupe:
                self.add(
                    "dedupe-without-foreach",
                    f"{where}: dedupe without foreach: it has no effect (one call); add foreach: <list field>",
                    kind,
                    i,
                    "dedupe",
                )
        if op.batch_size > 1 and op.foreach is not None:
            bound = self._max_batch(op)
            if bound is None:
                self.add(
                    "batch-without-max",
                    f"{where}: batch_size {op.batch_size}, but neither it nor an alternative with action "
                    f"{op.service}.{op.action} declares max_batch; the action may not take batches",
                    kind,
                    i,
                    "batch_size",
                )
            elif op.batch_size > bound[0]:
                self.add(
                    "batch-exceeds-max",
                    f"{where}: batch_size {op.batch_size} is above {bound[1]} ({bound[0]})",
                    kind,
                    i,
                    "batch_size",
                )
        svc = self.r.services.get(op.service)
        if kind == "operations" and op.foreach is not None and svc is not None and op.concurrency > svc.capacity:
            self.add(
                "concurrency-over-capacity",
                f"{where}: concurrency {op.concurrency} is above the capacity of service '{op.service}' "
                f"({svc.capacity} = {svc.replicas} replicas x {svc.concurrency_per_replica}); calls beyond it queue",
                kind,
                i,
                "concurrency",
            )
        if op.max_attempts > 1 and op.side_effects == "external":
            self.add(
                "retry-unsafe",
                f"{where}: retry repeats calls with external side effects (up to {op.max_attempts} attempts); "
                f"a failed attempt may still have acted",
                kind,
                i,
                "retry",
            )
        if op.dedupe and (not op.deterministic or op.side_effects == "external"):
            why = "has external side effects" if op.side_effects == "external" else "is not deterministic"
            self.add(
                "dedupe-unsafe",
                f"{where}: dedupe but {why}; identical items may need their own call",
                kind,
                i,
                "dedupe",
            )
        if kind == "alternatives" and op.when is not None:
            self.add(
                "when-on-alternative",
                f"{where}: when is ignored on an alternative; "
                "a substitute keeps the branch of the operation it replaces",
                kind,
                i,
                "when",
            )

    def variants(self) -> None:
        seen: dict[str, int] = {}
        for i, v in enumerate(self.r.variants):
            if not 0 < v.share < 1:
                self.add(
                    "variant-shares",
                    f"variants[{i}] ({v.name}): share {v.share:g} is not in (0, 1)",
                    "variants",
                    i,
                    "share",
                )
            if v.name == "control":
                self.add(
                    "duplicate-variant",
                    f"variants[{i}]: the name 'control' is the recipe itself",
                    "variants",
                    i,
                    "name",
                )
            elif v.name in seen:
                self.add(
                    "duplicate-variant",
                    f"variants[{i}]: name '{v.name}' is already used by variants[{seen[v.name]}]",
                    "variants",
                    i,
                    "name",
                )
            seen.setdefault(v.name, i)
        total = sum(v.share for v in self.r.variants)
        if self.r.variants and total >= 1:
            self.add(
                "variant-shares",
                f"variants: shares sum to {total:g}; they must leave the control a share above 0",
                "variants",
            )
        for i, v in enumerate(self.r.variants):
            prefix = ("variants", i, "recipe")
            positions = {p[3:]: pos for p, pos in self.r.positions.items() if p[:3] == prefix}
            sub = recipe_from_dict(v.recipe, source=self.r.source, positions=positions)
            self.found += _check(sub, (*self.prefix, *prefix), f"{self.label}variants[{i}] ({v.name}).recipe: ")


def _edge_reason(dag: nx.DiGraph, u: str, v: str) -> str:
    e = dag.edges[u, v]
    fields = ", ".join(f"'{f}'" for f in sorted(e.get("fields") or ()))
    return {"data": f"data {fields}", "after": "after", "both": f"data {fields} and after"}[e["kind"]]


def _close(word: str, options: list[str]) -> str:
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _check(recipe: Recipe, prefix: tuple[str | int, ...], label: str) -> list[Finding]:
    c = _Checker(recipe, prefix, label)
    c.ids()
    c.after()
    c.fields()
    c.transfer_formats()
    c.flow()
    c.cycles()
    c.constraints()
    c.services()
    c.operation_details()
    c.fan_out()
    c.variants()
    return c.found


def semantic_findings(recipe: Recipe) -> list[Finding]:
    """Every semantic problem of a structurally valid recipe, in file order (rule order among equals)."""
    return sorted(_check(recipe, (), ""), key=lambda f: (f.line or 0, f.column or 0))


def is_valid(recipe: Recipe) -> bool:
    """True when the recipe has no semantic error (warnings allowed)."""
    return not any(f.severity == "error" for f in semantic_findings(recipe))
