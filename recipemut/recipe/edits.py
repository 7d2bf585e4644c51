"""Edits: the smallest changes to a recipe document, applied to plain data or a round-trip YAML document.

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
from recipemut.recipe.model import DocPath

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
