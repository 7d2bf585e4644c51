"""Plan files: the reviewed mutations, tied to the exact recipe bytes they were made from.

``suggest --out plan.json`` writes a :class:`Plan` with :func:`write_plan`; ``apply --plan`` reads
it with :func:`load_plan`, which checks it against ``schemas/plan.schema.json`` and reports the
first problem as one line naming the file, line and key. The format is documented in
``docs/ARCHITECTURE.md`` ("Plan file (v1)").

>>> from recipemut.mutate.mutation import Edit
>>> m = PlannedMutation("parallelize:a->b", "parallelize", ("a", "b"), "Run b beside a.",
...                     (Edit("set", ("operations", "b", "after"), []),))
>>> p = Plan(PlanRecipe("r.yaml", recipe_sha256(b"x"), "demo", 3), (m,), ("parallelize:a->b",))
>>> Plan.from_dict(p.to_dict()) == p
True
>>> [e.path for e in p.edits()]
[('operations', 'b', 'after')]
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import importlib.metadata as _metadata
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from recipemut.errors import PlanError
from recipemut.files.jsonsafe import schema_message
from recipemut.files.kinds import HEAD, input_kind, read_text_as
from recipemut.files.read import read_user_file
from recipemut.files.write import atomic_write
from recipemut.logs.sources import engine_file_words
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import MAX_RECIPE_BYTES

PLAN_VERSION = 1
#: largest plan file we read (a plan is small; this guards against pointing at a log by mistake)
MAX_PLAN_BYTES = 16 * 1024 * 1024
#: deepest nesting of arrays and objects in a plan (checked before parsing: the parser recurses)
MAX_PLAN_DEPTH = 100
#: most digits of an integer in a plan (Python refuses to convert more than 4300; no plan value needs 20)
MAX_PLAN_INT_DIGITS = 30
#: a plan up to this size has its errors located by line (locating parses the text again, as YAML)
_LOCATE_MAX_BYTES = 1024 * 1024


def recipe_sha256(path_or_bytes: str | os.PathLike[str] | bytes) -> str:
    """sha256 (hex) of a recipe file's bytes, or of the bytes given.

    The file is read as every recipe is (:func:`recipemut.files.read.read_user_file`: a regular
    file within the recipe size cap); a problem is one :class:`~recipemut.errors.InputFileError`.

    >>> recipe_sha256(b"")[:12]
    'e3b0c44298fc'
    """
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return hashlib.sha256(bytes(path_or_bytes)).hexdigest()
    return hashlib.sha256(read_user_file(path_or_bytes, max_bytes=MAX_RECIPE_BYTES, what="recipe")).hexdigest()


def tool_name() -> str:
    """``recipemut <version>``, for the files recipemut writes.

    Read from the installed distribution's metadata, which works even when the package is
    imported as a namespace (an editable install made before ``__init__.py`` existed).
    """
    try:
        return f"recipemut {_metadata.version('recipemut')}"
    except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "recipemut"


def utc_now() -> str:
    """Current UTC time as ``2026-11-27T12:00:00Z``."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class PlanRecipe:
    """The recipe a plan was made from: where, and the sha256 of its bytes."""

    path: str
    sha256: str
    name: str | None = None
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path}
        if self.name is not None:
            d["name"] = self.name
        if self.version is not None:
            d["version"] = self.version
        d["sha256"] = self.sha256
        return d


@dataclass(frozen=True)
class PlannedMutation:
    """One mutation as stored in a plan: its edits, predicted effect and verdict."""

    id: str
    operator: str
    targets: tuple[str, ...]
    description: str
    edits: tuple[Edit, ...]
    predicted: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    verdict: str | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # unknown keys, kept

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = dict(self.extra)
        d.update(
            id=self.id,
            operator=self.operator,
            targets=list(self.targets),
            description=self.description,
            edits=[e.to_dict() for e in self.edits],
        )
        if self.predicted:
            d["predicted"] = _plain(self.predicted)
        if self.verdict is not None:
            d["verdict"] = self.verdict
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlannedMutation:
        known = {"id", "operator", "targets", "description", "edits", "predicted", "verdict"}
        return cls(
            id=str(d["id"]),
            operator=str(d["operator"]),
            targets=tuple(str(t) for t in d.get("targets") or ()),
            description=str(d.get("description", "")),
            edits=tuple(Edit.from_dict(dict(e)) for e in d.get("edits") or ()),
            predicted=MappingProxyType(dict(d.get("predicted") or {})),
            verdict=d.get("verdict"),
            extra=MappingProxyType({k: v for k, v in d.items() if k not in known}),
        )


@dataclass(frozen=True)
class Plan:
    """A plan file's content (see ``docs/ARCHITECTURE.md``)."""

    recipe: PlanRecipe
    mutations: tuple[PlannedMutation, ...]
    plan: tuple[str, ...]  # ordered ids of the mutations to apply
    objective: str = "balanced"
    tool: str = field(default_factory=tool_name)
    created: str = field(default_factory=utc_now)
    plan_version: int = PLAN_VERSION
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # unknown keys, kept

    def __post_init__(self) -> None:
        ids = [m.id for m in self.mutations]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise PlanError(f"plan lists mutation id {dup[0]!r} more than once", code="plan-duplicate-id")
        missing = [i for i in self.plan if i not in ids]
        if missing:
            raise PlanError(f"plan names mutation {missing[0]!r} that is not in `mutations`", code="plan-unknown-id")

    @property
    def by_id(self) -> Mapping[str, PlannedMutation]:
        return MappingProxyType({m.id: m for m in self.mutations})

    def chosen(self, only: Sequence[str] | None = None) -> tuple[PlannedMutation, ...]:
        """The mutations to apply, in plan order; ``only`` restricts them (ids must be in the plan).

        An id in ``only`` that is among ``mutations`` but not in ``plan`` is applied too (after the
        planned ones, in the order given): the reviewer chose it explicitly.
        """
        if not only:
            return tuple(self.by_id[i] for i in self.plan)
        unknown = [i for i in only if i not in self.by_id]
        if unknown:
            known = ", ".join(self.plan) or "(none)"
            cut = [m for m in self.by_id if m.startswith(unknown[0] + ">")] if unknown[0].endswith("-") else []
            hint = (f"; the shell took the '>' of {cut[0]!r} for a redirection (and wrote a file named after the "
                    f"rest): quote the id, --only '{cut[0]}'") if cut else ""  # fmt: skip
            raise PlanError(f"--only {unknown[0]!r}: no such mutation in the plan (planned: {known}){hint}",
                            code="plan-unknown-id")
        wanted = list(dict.fromkeys(only))
        ordered = [i for i in self.plan if i in wanted] + [i for i in wanted if i not in self.plan]
        return tuple(self.by_id[i] for i in ordered)

    def edits(self, only: Sequence[str] | None = None) -> tuple[Edit, ...]:
        """All edits of the chosen mutations, in application order."""
        return tuple(e for m in self.chosen(only) for e in m.edits)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "planVersion": self.plan_version,
            "tool": self.tool,
            "created": self.created,
            "recipe": self.recipe.to_dict(),
            "objective": self.objective,
            "mutations": [m.to_dict() for m in self.mutations],
            "plan": list(self.plan),
        }
        for k, v in self.extra.items():
            d.setdefault(k, _plain(v))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        r = d["recipe"]
        known = {"planVersion", "tool", "created", "recipe", "objective", "mutations", "plan"}
        return cls(
            recipe=PlanRecipe(str(r["path"]), str(r["sha256"]), r.get("name"), r.get("version")),
            mutations=tuple(PlannedMutation.from_dict(m) for m in d.get("mutations") or ()),
            plan=tuple(str(i) for i in d.get("plan") or ()),
            objective=str(d.get("objective", "balanced")),
            tool=str(d.get("tool", "")),
            created=str(d.get("created", "")),
            plan_version=int(d.get("planVersion", PLAN_VERSION)),
            extra=MappingProxyType({k: v for k, v in d.items() if k not in known}),
        )

def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def plan_to_json(plan: Plan) -> str:
    """The plan file's text (JSON, 2-space indent, trailing newline)."""
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_plan(plan: Plan, path: str | os.PathLike[str]) -> None:
    """Write a plan file atomically."""
    try:
        text = plan_to_json(plan)
    except ValueError as e:  # NaN / inf in predicted values
        raise PlanError(f"plan for {plan.recipe.path} cannot be written as JSON: {e}", code="plan-json") from None
    atomic_write(path, text.encode("utf-8"))


@functools.lru_cache(maxsize=1)
def plan_schema() -> dict[str, Any]:
    """The plan file's JSON Schema (``schemas/plan.schema.json``)."""
    text = (Path(__file__).parents[1] / "schemas" / "plan.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _line_of(text: str, path: Sequence[str | int]) -> int | None:
    """1-based line of a JSON path in ``text`` (JSON is YAML, so PyYAML's node marks locate it).

    ``None`` for a text over ``_LOCATE_MAX_BYTES``: PyYAML would take long on it, and the message
    names the JSON path anyway.
    """
    if len(text) > _LOCATE_MAX_BYTES:
        return None
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    best = node.start_mark.line + 1 if node is not None else None
    for step in path:
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == step:
                    nxt = v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            nxt = node.value[step]
        if nxt is None:
            break
        node = nxt
        best = node.start_mark.line + 1
    return best


def _where(path: Sequence[str | int]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


# a JSON string (perhaps unterminated), or one bracket; what lies between (numbers, literals) is skipped
_TOKEN = re.compile(r'"(?:[^"\\]|\\[\s\S])*"?|[\[\]{}]')


def _check_depth(text: str, source: str) -> None:
    """Refuse nesting deeper than :data:`MAX_PLAN_DEPTH`, in one linear scan that skips strings.

    Runs before ``json.loads``, whose recursion a 100,000-deep array would exhaust.
    """
    depth = 0
    for t in _TOKEN.finditer(text):
        c = t.group()
        if c in ("[", "{"):
            depth += 1
            if depth > MAX_PLAN_DEPTH:
                at = t.start()
                line = text.count("\n", 0, at) + 1
                raise PlanError(f"nested deeper than {MAX_PLAN_DEPTH} levels of arrays and objects", file=source,
                                line=line, column=at - text.rfind("\n", 0, at), code="plan-too-deep")
        elif c in ("]", "}"):
            depth -= 1


class _LongInt(str):
    """An integer literal of more than :data:`MAX_PLAN_INT_DIGITS` digits, kept as text to report it."""


def _parse_int(digits: str) -> int | _LongInt:
    return _LongInt(digits) if len(digits.lstrip("-")) > MAX_PLAN_INT_DIGITS else int(digits)


def _bad_value(v: Any, path: list[str | int]) -> tuple[list[str | int], str] | None:
    """The first value in ``v`` a plan may not hold (its JSON path and what is wrong), or ``None``.

    Refused: integers over :data:`MAX_PLAN_INT_DIGITS` digits, numbers that are not finite (``NaN``,
    ``Infinity``, ``1e400``), and strings or keys with lone surrogates (no UTF-8 file can hold them).
    The nesting is bounded by :func:`_check_depth`, so the recursion is too.
    """
    if isinstance(v, _LongInt):
        return path, f"an integer of {len(v.lstrip('-'))} digits (at most {MAX_PLAN_INT_DIGITS})"
    if isinstance(v, float) and not math.isfinite(v):
        return path, f"{v} is not a finite number"
    if isinstance(v, str):
        return None if _encodable(v) else (path, "a string with a lone surrogate escape (not Unicode text)")
    if isinstance(v, dict):
        for k, x in v.items():
            if not _encodable(k):
                return path, "a key with a lone surrogate escape (not Unicode text)"
            bad = _bad_value(x, [*path, k])
            if bad:
                return bad
    if isinstance(v, list):
        for i, x in enumerate(v):
            bad = _bad_value(x, [*path, i])
            if bad:
                return bad
    return None


def _encodable(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_plan(text: str, *, source: str = "<plan>") -> Plan:
    """Parse and validate a plan file's text; errors name ``source``, the line and the key.

    Bounded before anything else: nesting (:data:`MAX_PLAN_DEPTH`, before parsing), integer digits
    (:data:`MAX_PLAN_INT_DIGITS`), finite numbers only, Unicode strings only. An empty text, and one that
    :func:`recipemut.files.kinds.input_kind` names as another of recipemut's files, is said to be so.
    """
    if not text.strip():
        raise PlanError("is empty; expected a plan (written by suggest --out)", file=source, code="empty-file")
    got = input_kind(text[:HEAD].encode("utf-8", "surrogateescape"))
    if got is not None and got.kind == "Recipe":
        raise PlanError(f"this looks like a recipe ({got.form}), not a plan: make a plan with "
                        "`recipemut suggest RECIPE --logs LOGS --out plan.json`", file=source, code="not-a-plan")
    if got is not None and got.kind != "plan":
        raise PlanError(got.misplaced("a plan", source), file=source, code="not-a-plan")
    head = text[:HEAD].encode("utf-8", "surrogateescape")
    if got is None and (words := engine_file_words(head, "a plan")) is not None:
        raise PlanError(words, file=source, code="not-a-plan")
    _check_depth(text, source)
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise PlanError(f"not valid JSON: {e.msg}", file=source, line=e.lineno, column=e.colno,
                        code="plan-json") from None
    bad = _bad_value(data, [])
    if bad:
        path, what = bad
        raise PlanError(f"{_where(path)}: {what}", file=source, line=_line_of(text, path), code="plan-value")
    validator = jsonschema.Draft202012Validator(plan_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        path = list(err.absolute_path)
        raise PlanError(f"{_where(path)}: {schema_message(err)}", file=source, line=_line_of(text, path),
                        code="plan-schema")
    try:
        return Plan.from_dict(data)
    except PlanError as e:
        key = "plan" if e.code == "plan-unknown-id" else "mutations"
        raise PlanError(e.message, file=source, line=_line_of(text, [key]), code=e.code) from None


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan file.

    Read as every user file is (:mod:`recipemut.files.read`: a regular file within
    :data:`MAX_PLAN_BYTES`, UTF-8 text); a file that cannot be read so is one
    :class:`~recipemut.errors.InputFileError`, a bad plan one :class:`PlanError`.
    """
    p = Path(path)
    text = read_text_as(p, max_bytes=MAX_PLAN_BYTES, what="plan", text_what="a JSON plan", missing="no such plan file",
                        accept=("plan", "Recipe"), error=PlanError)  # a recipe: parse_plan says how to make a plan
    return parse_plan(text, source=str(p))
