"""Mutations as values, and the edits that express them on the recipe document.

A mutation never changes a recipe in place. It carries the *edits* that turn the original
document into the mutated one; the same edits are applied to plain data (to build the mutated
:class:`~recipemut.recipe.model.Recipe`) and to the round-trip YAML document on ``apply`` (so comments and
formatting survive). A plan file stores mutations by their edits.

Edit paths address the recipe document. A ``str`` step into a *list of mappings* selects the item
whose ``id`` equals it, and into a list of names (``after``, ``produces``) the name itself, so a
path stays valid whichever other edits ran before it (``apply --only`` applies a subset):

>>> doc = {"operations": [{"id": "a", "after": ["b"]}, {"id": "b"}]}
>>> apply_edits(doc, [Edit("set", ("operations", "a", "after"), [])])["operations"][0]
{'id': 'a', 'after': []}
>>> [o["id"] for o in apply_edits(doc, [Edit("remove", ("operations", "b"))])["operations"]]
['a']
>>> apply_edits(doc, [Edit("remove", ("operations", "a", "after", "b"))])["operations"][0]
{'id': 'a', 'after': []}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, MutableMapping, MutableSequence
from dataclasses import dataclass
from typing import Any, Literal

from recipemut.errors import MutationError
from recipemut.recipe.model import DocPath, Recipe, recipe_from_dict

EditOp = Literal["set", "remove", "append", "prune"]


@dataclass(frozen=True)
class Edit:
    """One change to the recipe document.

    * ``set``: set ``path`` to ``value`` (intermediate mappings are created);
    * ``remove``: delete the key or list item at ``path`` (missing is an error);
    * ``append``: append ``value`` to the list at ``path`` (created when missing);
    * ``prune``: remove the key at ``path`` if its value is an empty list or mapping (or absent);
      otherwise nothing. A mutation that empties an ``after`` list prunes it, and the key stays
      when ``apply --only`` left out the mutation that removed the list's other names.
    """

    op: EditOp
    path: DocPath
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"op": self.op, "path": list(self.path)}
        if self.op not in ("remove", "prune"):
            d["value"] = self.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Edit:
        return cls(op=d["op"], path=tuple(d["path"]), value=d.get("value"))


@dataclass(frozen=True)
class Mutation:
    """A candidate change to a recipe: who made it, what it touches, and the result."""

    id: str  # stable and readable, e.g. "parallelize:load_cart->score_fraud"
    operator: str  # key in the operator registry
    targets: tuple[str, ...]  # operation ids / field names it touches
    description: str  # one sentence a human can check
    edits: tuple[Edit, ...]
    recipe: Recipe  # the mutated recipe

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operator": self.operator,
            "targets": list(self.targets),
            "description": self.description,
            "edits": [e.to_dict() for e in self.edits],
        }


def _step(node: Any, key: str | int, path: DocPath, create: bool) -> Any:
    if isinstance(node, MutableMapping):
        if key not in node:
            if not create:
                raise MutationError(f"edit path {_fmt(path)}: no key {key!r}", code="bad-edit-path")
            node[key] = {}
        return node[key]
    if isinstance(node, MutableSequence):
        return node[_index(node, key, path)]
    raise MutationError(f"edit path {_fmt(path)}: cannot descend into {_kind(node)}", code="bad-edit-path")


def _index(seq: MutableSequence[Any], key: str | int, path: DocPath) -> int:
    if isinstance(key, int):
        if not -len(seq) <= key < len(seq):
            raise MutationError(f"edit path {_fmt(path)}: index {key} out of range", code="bad-edit-path")
        return key
    for i, item in enumerate(seq):
        if isinstance(item, MutableMapping) and item.get("id") == key:
            return i
    for i, item in enumerate(seq):
        if item == key:  # a list of names (after, consumes, produces): the item itself
            return i
    raise MutationError(f"edit path {_fmt(path)}: no item {key!r}", code="bad-edit-path")


def _fmt(path: DocPath) -> str:
    return ".".join(str(p) for p in path)


def _kind(node: Any) -> str:
    """What a document node is, in the recipe's words (``a mapping``, ``a list``, ``a string``, ...)."""
    if isinstance(node, MutableMapping):
        return "a mapping"
    if isinstance(node, MutableSequence):
        return "a list"
    if isinstance(node, bool):
        return "a boolean"
    if isinstance(node, (int, float)):
        return "a number"
    if isinstance(node, str):
        return "a string"
    return "null" if node is None else "a value"


def apply_edits_inplace(doc: MutableMapping[str, Any], edits: Iterable[Edit]) -> None:
    """Apply edits to a mutable document in place.

    Works on plain dicts/lists and equally on ruamel.yaml's ``CommentedMap``/``CommentedSeq``
    (their subclasses), which is how ``apply`` keeps comments and formatting.
    """
    for e in edits:
        if not e.path:
            raise MutationError("edit with an empty path", code="bad-edit-path")
        parent: Any = doc
        for key in e.path[:-1]:
            if e.op == "prune" and isinstance(parent, MutableMapping) and key not in parent:
                break
            parent = _step(parent, key, e.path, create=e.op in ("set", "append"))
        else:
            _apply_last(parent, e)


def _apply_last(parent: Any, e: Edit) -> None:
    """Apply one edit to the container holding its last path step.

    A path that ends inside a scalar, or an ``append`` to something that is not a list, is a
    :class:`~recipemut.errors.MutationError` naming the path (a hand-written plan can say anything).
    """
    last = e.path[-1]
    if not isinstance(parent, (MutableMapping, MutableSequence)):
        raise MutationError(f"edit path {_fmt(e.path)}: cannot descend into {_kind(parent)}", code="bad-edit-path")
    if e.op == "set":
        if isinstance(parent, MutableSequence):
            parent[_index(parent, last, e.path)] = copy.deepcopy(e.value)
        else:
            parent[last] = copy.deepcopy(e.value)
    elif e.op == "remove":
        if isinstance(parent, MutableSequence):
            del parent[_index(parent, last, e.path)]
        elif last in parent:
            del parent[last]
        else:
            raise MutationError(f"edit path {_fmt(e.path)}: nothing to remove", code="bad-edit-path")
    elif e.op == "prune":
        if isinstance(parent, MutableMapping) and last in parent and not parent[last]:
            del parent[last]
    elif e.op == "append":
        if isinstance(parent, MutableMapping) and last not in parent:
            parent[last] = [copy.deepcopy(e.value)]
            return
        target = _step(parent, last, e.path, create=False)
        if not isinstance(target, MutableSequence):
            raise MutationError(f"edit path {_fmt(e.path)}: cannot append to {_kind(target)}, only to a list",
                                code="bad-edit-path")
        target.append(copy.deepcopy(e.value))
    else:  # pragma: no cover - guarded by the Literal type
        raise MutationError(f"unknown edit op {e.op!r}", code="bad-edit")


def apply_edits(doc: MutableMapping[str, Any], edits: Iterable[Edit]) -> dict[str, Any]:
    """Return a deep copy of ``doc`` with ``edits`` applied (``doc`` is untouched)."""
    out = copy.deepcopy(dict(doc))
    apply_edits_inplace(out, edits)
    return out


def mutate(recipe_doc: MutableMapping[str, Any], edits: Iterable[Edit], *, source: str | None = None) -> Recipe:
    """Build the mutated recipe from the original document and edits."""
    return recipe_from_dict(apply_edits(recipe_doc, edits), source=source)


# ---- the edits an operator makes, declared (a plan is checked against them) -----------------------

TargetKind = Literal["operation", "alternative", "field"]


@dataclass(frozen=True)
class Slot:
    """A path step an operator fills in, resolved against a mutation's targets and the recipe document.

    * ``target``: the mutation's target ``index`` itself;
    * ``successor``: an operation whose ``after`` names target ``index``;
    * ``field-of``: a field target ``index`` consumes or produces.
    """

    kind: Literal["target", "successor", "field-of"]
    index: int = 0

    def __str__(self) -> str:
        return {"target": "<target {}>", "successor": "<an operation after target {}>",
                "field-of": "<a field of target {}>"}[self.kind].format(self.index + 1)


@dataclass(frozen=True)
class ValueRule:
    """What an edit's value must be (``set``, ``append``), or when it may be made at all (``remove``).

    * ``mapping`` / ``string``: any value of that JSON kind (the recipe's validation checks the rest);
    * ``target``: the name of target ``index``;
    * ``precedes``: the id of an operation that runs before target ``index`` (a DAG ancestor);
    * ``after-without``: a list of operation ids holding every entry of the edited operation's
      ``after`` except target ``index``, and otherwise only operations that run before target ``index``;
    * ``alternative``: the value at the first of ``keys`` present in alternative target ``index``;
    * ``current``: the value at ``keys[0]`` in operation target ``index`` as it is now;
    * ``alternative-lacks``: (on a ``remove``) none of ``keys`` is present in alternative target ``index``.
    """

    kind: Literal["mapping", "string", "target", "precedes", "after-without", "alternative", "current",
                  "alternative-lacks"]
    index: int = 0
    keys: tuple[DocPath, ...] = ()


@dataclass(frozen=True)
class EditShape:
    """One kind of edit an operator makes: ``op`` on a ``path`` of literal keys and :class:`Slot` s,
    with its ``value`` rule; a ``required`` shape is in every mutation of its form."""

    op: EditOp
    path: tuple[str | Slot, ...]
    value: ValueRule | None = None
    required: bool = False

    def __str__(self) -> str:
        return f"{self.op} {'.'.join(map(str, self.path))}"


@dataclass(frozen=True)
class Condition:
    """A validity condition of an operator on its targets (checked on the recipe as the plan found it).

    * ``deterministic``: operation target ``index`` is ``deterministic``;
    * ``not-external``: operation target ``index`` has no ``external`` side effects;
    * ``no-effects``: operation target ``index`` has no side effects and may not halt;
    * ``not-both-external``: targets 1 and 2 are not both ``external``;
    * ``same-equivalence``: operation target 1 and alternative target 2 share an ``equivalence`` tag.
    """

    kind: Literal["deterministic", "not-external", "no-effects", "not-both-external", "same-equivalence"]
    index: int = 0


@dataclass(frozen=True)
class EditForm:
    """One form of an operator's mutations: the kinds of its targets (``more`` for any number of
    further targets of one kind), the edits it makes, and its validity conditions."""

    targets: tuple[TargetKind, ...]
    edits: tuple[EditShape, ...]
    conditions: tuple[Condition, ...] = ()
    more: TargetKind | None = None


def target(i: int = 0) -> Slot:
    """Path step: target ``i`` (0-based)."""
    return Slot("target", i)


def successor_of(i: int = 0) -> Slot:
    """Path step: an operation whose ``after`` names target ``i``."""
    return Slot("successor", i)


def field_of(i: int = 0) -> Slot:
    """Path step: a field target ``i`` consumes or produces."""
    return Slot("field-of", i)


MAPPING = ValueRule("mapping")
STRING = ValueRule("string")
