"""Assembling a recipe document from an engine's steps: what every importer does the same way.

An importer adds one :class:`Step` per operation (its id, service, action, the fields it reads
and writes, the steps it runs after, and where each of those is in the engine file) and the
:class:`Builder` makes the recipe document: fields declared once with their types, inputs (read
but written by no step), ``after`` kept only where no data edge already orders the two steps
(the operation's ``description`` says which ordering edges carry no stated data), positions of
every recipe path in the engine file, and one :class:`~recipemut.recipe.engines.base.Anchor`
per operation.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from recipemut.errors import Finding
from recipemut.recipe.engines.base import Anchor, Imported
from recipemut.recipe.model import DocPath, Positions

#: ``concurrency`` of a fan-out the engine does not limit (the schema's largest value)
UNLIMITED = 10_000
#: ``max_attempts`` of a retry the engine does not limit (the schema's largest value)
MAX_ATTEMPTS = 100
#: a recipe's ``when`` is at most this long
WHEN_MAX = 500


@dataclass
class Step:
    """One operation as an importer reads it; ``at`` maps its recipe keys to engine-document paths."""

    id: str
    service: str
    action: str
    path: DocPath
    consumes: list[str] = field(default_factory=list)
    produces: list[str] = field(default_factory=list)
    after: list[tuple[str, DocPath]] = field(default_factory=list)  # (step id, path of the entry naming it)
    extra: dict[str, Any] = field(default_factory=dict)  # foreach, concurrency, retry, when, cache, ...
    at: dict[str, DocPath] = field(default_factory=dict)
    anchor: Anchor | None = None


class Builder:
    """Collects steps and fields, then :meth:`finish` gives the :class:`Imported`."""

    def __init__(self, key: str, engine: str, file: str, source: Positions) -> None:
        self.key = key
        self.engine = engine
        self.file = file
        self.source = source
        self.steps: list[Step] = []
        self.types: dict[str, str] = {}
        self.field_at: dict[str, DocPath] = {}
        self.warnings: list[Finding] = []
        self.outputs: list[str] = []  # fields the workflow returns (Tekton pipeline results)

    def pos(self, path: DocPath) -> tuple[int, int] | None:
        """Where an engine-document path is (its nearest known ancestor's place)."""
        p = tuple(path)
        while p not in self.source and p:
            p = p[:-1]
        return self.source.get(p)

    def warn(self, code: str, message: str, path: DocPath) -> None:
        line, col = self.pos(path) or (None, None)
        self.warnings.append(Finding(self.file, line, col, f"import-{code}", message, severity="warning"))

    def error(self, code: str, message: str, path: DocPath, *, name: str = "", names: Iterable[str] = ()) -> None:
        """A mistake the engine itself would reject (a dependency on a step that does not exist): an
        error finding, with the closest of ``names`` to ``name`` offered as "did you mean"."""
        line, col = self.pos(path) or (None, None)
        close = difflib.get_close_matches(name, list(names), n=1) if name else []
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        self.warnings.append(Finding(self.file, line, col, f"import-{code}", message + hint))

    def keep_when(self, s: Step, text: str, who: str, path: DocPath) -> None:
        """Carry an engine's condition as the operation's ``when`` text, with the warning that says
        it is not evaluated (how often the step runs comes from the logs)."""
        s.extra["when"] = when_text(text)
        s.at["when"] = path
        kept = f"{who}: when '{s.extra['when']}' is kept as text; how often it runs comes from the logs"
        self.warn("when", kept, path)

    def field(self, name: str, path: DocPath, type_: str = "string") -> str:
        """Declare a field (the first declaration's place wins; ``array`` wins over ``string``)."""
        self.field_at.setdefault(name, path)
        if self.types.get(name, "string") == "string":
            self.types[name] = type_
        return name

    def finish(self, name: str, root: DocPath, ops_path: DocPath, description: str) -> Imported:
        ids = {s.id for s in self.steps}
        producer = {f: s.id for s in self.steps for f in s.produces}
        positions: dict[DocPath, tuple[int, int]] = {}

        def put(rpath: DocPath, epath: DocPath) -> None:
            p = self.pos(epath)
            if p is not None:
                positions[rpath] = p

        put((), root)
        put(("name",), root)
        put(("operations",), ops_path)
        operations: list[dict[str, Any]] = []
        used: set[str] = set()
        anchors: dict[str, Anchor] = {}
        for i, s in enumerate(self.steps):
            data_from = {producer[f] for f in s.consumes if f in producer}
            after: list[str] = []
            after_at: list[DocPath] = []
            for dep, at in s.after:
                if dep not in ids:
                    self.error(
                        "unknown-step",
                        f"{s.action}: runs after '{dep}', which is not a step of this {self.engine}",
                        at,
                        name=dep,
                        names=ids,
                    )
                elif dep not in data_from and dep not in after:
                    after.append(dep)
                    after_at.append(at)
            op: dict[str, Any] = {"id": s.id, "service": s.service, "action": s.action}
            op["consumes"] = list(dict.fromkeys(s.consumes))
            op["produces"] = list(dict.fromkeys(s.produces))
            if after:
                op["after"] = after
                op["description"] = (
                    f"runs after {', '.join(after)}: the {self.engine} orders them "
                    "but states no data passed between them"
                )
            op.update(s.extra)
            operations.append(op)
            used.update(op["consumes"], op["produces"])
            put(("operations", i), s.path)
            put(("operations", i, "id"), s.at.get("id", s.path))
            for key in op:
                put(("operations", i, key), s.at.get(key, s.path))
            for j, at in enumerate(after_at):
                put(("operations", i, "after", j), at)
            anchors[s.id] = s.anchor or Anchor(path=s.path)
        produced = set(producer)
        inputs = [f for f in dict.fromkeys(f for s in self.steps for f in s.consumes) if f not in produced]
        used.update(self.outputs)
        fields = {f: {"type": self.types.get(f, "string")} for f in self.types if f in used}
        for f in fields:
            put(("fields", f), self.field_at[f])
        for j, f in enumerate(inputs):
            put(("inputs", j), self.field_at.get(f, root))
        for j, f in enumerate(dict.fromkeys(self.outputs)):
            put(("outputs", j), self.field_at.get(f, root))
        document: dict[str, Any] = {
            "apiVersion": "recipemut/v1",
            "kind": "Recipe",
            "name": name,
            "description": description,
            "fields": fields,
            "inputs": inputs,
            "outputs": list(dict.fromkeys(self.outputs)),
            "operations": operations,
        }
        return Imported(self.key, self.engine, document, positions, self.warnings, anchors)


def attempts(retries: Any) -> int | None:
    """``max_attempts`` for an engine's number of retries (the first attempt is not a retry)."""
    try:
        n = int(str(retries).strip())
    except ValueError:
        return None
    return max(1, min(MAX_ATTEMPTS, n + 1))


def delimited(text: str, open_: str, close: str) -> list[str]:
    """What stands between each ``open_`` and the first ``close`` after it, left to right.

    The same as ``re.findall(open_ + "(.*?)" + close, text, re.DOTALL)``, in time linear in the
    text: the regex rescans the rest of the text from every ``open_`` that has no ``close`` after
    it, so a file of a million ``${{`` took minutes.

    >>> delimited("a ${{ x }} b ${{y}} ${{ z", "${{", "}}")
    [' x ', 'y']
    """
    found: list[str] = []
    i = 0
    while (start := text.find(open_, i)) >= 0:
        end = text.find(close, start + len(open_))
        if end < 0:
            break
        found.append(text[start + len(open_) : end])
        i = end + len(close)
    return found


def when_text(text: str) -> str:
    """An engine's condition as a recipe's ``when`` (one line, at most :data:`WHEN_MAX` characters)."""
    one = " ".join(text.split()) or "condition"
    return one if len(one) <= WHEN_MAX else one[: WHEN_MAX - 1] + "…"


__all__ = ["MAX_ATTEMPTS", "UNLIMITED", "WHEN_MAX", "Builder", "Step", "attempts", "delimited", "when_text"]
