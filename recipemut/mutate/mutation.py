"""Mutations as values: who made a change, what it touches, its edits and the resulting recipe.

The edits themselves (:class:`~recipemut.recipe.edits.Edit`) are recipe-level values; this module adds
the mutation around them and the declared shapes of the edits each operator makes, which a plan
is checked against before ``apply`` writes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, MutableSequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from recipemut.recipe.edits import Edit, EditOp, apply_edits, apply_edits_inplace
from recipemut.recipe.model import DocPath, Recipe, recipe_from_dict


@dataclass(frozen=True)
class Mutation:
    """A candidate change to a recipe: who made it, what it touches, and the result.

    The mutated recipe is built from the edits the first time :attr:`recipe` is asked for, then
    kept: an operator proposes its candidates as edits, and only the candidates a search reaches
    within its budget pay for a recipe (a 250-operation recipe's candidates cost 7 ms each to
    build, 10 s for its 1,496; ``benchmarks/bench_suggest_wide.py``).

    >>> from recipemut.recipe.model import recipe_from_dict
    >>> doc = {"fields": {"x": {}}, "inputs": ["x"], "outputs": [],
    ...        "operations": [{"id": "a", "service": "s", "action": "A", "consumes": ["x"]}]}
    >>> es = (Edit("set", ("operations", "a", "service"), "t"),)
    >>> m = Mutation("m", "test", ("a",), "", es, lambda: mutate(doc, es))
    >>> m.built
    False
    >>> m.recipe.ops["a"].service, doc["operations"][0]["service"]
    ('t', 's')
    """

    id: str  # stable and readable, e.g. "parallelize:load_cart->score_fraud"
    operator: str  # key in the operator registry
    targets: tuple[str, ...]  # operation ids / field names it touches
    description: str  # one sentence a human can check
    edits: tuple[Edit, ...]
    build: Callable[[], Recipe] = field(repr=False, compare=False)  # makes the mutated recipe, once

    @cached_property
    def recipe(self) -> Recipe:
        """The mutated recipe (built on first use)."""
        return self.build()

    @property
    def built(self) -> bool:
        """Whether :attr:`recipe` has been built yet."""
        return "recipe" in self.__dict__

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operator": self.operator,
            "targets": list(self.targets),
            "description": self.description,
            "edits": [e.to_dict() for e in self.edits],
        }


def mutate(
    recipe_doc: Mapping[str, Any], edits: Iterable[Edit], *, source: str | None = None, aliased: bool | None = None
) -> Recipe:
    """Build the mutated recipe from the original document and edits (``recipe_doc`` is untouched).

    Only the mappings and lists on the edits' paths are copied (:func:`edited_copy`), not the
    whole document, so the time does not grow with the operations the edits leave alone. A
    document in which one mapping or list is reached twice (a YAML alias) is deep-copied whole
    instead (:func:`recipemut.recipe.edits.apply_edits`), keeping the alias: an edit through one
    of its uses changes the other, as before. ``aliased`` is :func:`has_aliases` of the document
    when the caller knows it (None: found here).
    """
    return recipe_from_dict(edited_document(recipe_doc, edits, aliased=aliased), source=source)


def edited_document(
    recipe_doc: Mapping[str, Any], edits: Iterable[Edit], *, aliased: bool | None = None
) -> dict[str, Any]:
    """The document :func:`mutate` builds its recipe from: ``recipe_doc`` with ``edits`` applied, sharing
    every part the edits leave alone (:func:`edited_copy`), or a deep copy of a document with aliases."""
    es = tuple(edits)
    if aliased is None:
        aliased = has_aliases(recipe_doc)
    return apply_edits(dict(recipe_doc), es) if aliased else edited_copy(recipe_doc, es)


def has_aliases(doc: Any) -> bool:
    """Whether one mapping or list is reached twice in ``doc`` (the YAML reader shares an alias's value).

    >>> shared = ["x"]
    >>> has_aliases({"a": {"consumes": shared}, "b": {"consumes": shared}}), has_aliases({"a": [["x"], ["x"]]})
    (True, False)
    """
    seen: set[int] = set()
    todo = [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, Mapping):
            items: Iterable[Any] = node.values()
        elif isinstance(node, list):
            items = node
        else:
            continue
        if id(node) in seen:
            return True
        seen.add(id(node))
        todo.extend(items)
    return False


def edited_copy(doc: Mapping[str, Any], edits: Iterable[Edit]) -> dict[str, Any]:
    """``doc`` with ``edits`` applied, sharing every part of ``doc`` the edits do not touch.

    The containers on each edit's path (and, for an ``append``, the list appended to) are copied
    before :func:`~recipemut.recipe.edits.apply_edits_inplace` changes them, so ``doc`` is left
    as it was; a path that does not resolve is left to ``apply_edits_inplace`` to refuse, with its
    error. The values of ``set`` and ``append`` are deep-copied by it as always.

    >>> doc = {"operations": [{"id": "a", "after": ["b"]}, {"id": "b", "x": {"k": 1}}]}
    >>> out = edited_copy(doc, [Edit("remove", ("operations", "a", "after", "b"))])
    >>> out["operations"][0], doc["operations"][0]
    ({'id': 'a', 'after': []}, {'id': 'a', 'after': ['b']})
    >>> out["operations"][1] is doc["operations"][1]
    True
    """
    es = tuple(edits)
    out = dict(doc)
    fresh = {id(out)}  # the containers copied here: changing them leaves ``doc`` as it was
    for e in es:
        node: Any = out
        steps = e.path if e.op == "append" else e.path[:-1]
        for key in steps:
            at = _child(node, key)
            if at is None:
                break  # missing: created by the edit (in a fresh container) or refused by it
            child = node[at]
            if isinstance(child, MutableMapping):
                copied: Any = child if id(child) in fresh else dict(child)
            elif isinstance(child, MutableSequence):
                copied = child if id(child) in fresh else list(child)
            else:
                break  # a scalar: the edit is refused, or sets over it
            if copied is not child:
                node[at] = copied
                fresh.add(id(copied))
            node = copied
    apply_edits_inplace(out, es)
    return out


def _child(node: Any, key: str | int) -> Any:
    """Where ``key`` leads in ``node`` as an edit path resolves it (a mapping's key; a list's index,
    the item whose ``id`` is ``key``, or the name ``key`` itself), or None when it leads nowhere."""
    if isinstance(node, Mapping):
        return key if key in node else None
    if not isinstance(node, MutableSequence):
        return None
    if isinstance(key, int):
        return key if -len(node) <= key < len(node) else None
    for i, item in enumerate(node):
        if isinstance(item, Mapping) and item.get("id") == key:
            return i
    for i, item in enumerate(node):
        if item == key:
            return i
    return None


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
    * ``alternative-lacks``: (on a ``remove``) none of ``keys`` is present in alternative target ``index``;
    * ``count``: a whole number of at least 2 (never a boolean); with ``keys``, at most the value at the
      first of them present in alternative target ``index`` (refused when none is);
    * ``true``: the value ``true``.
    """

    kind: Literal["mapping", "string", "target", "precedes", "after-without", "alternative", "current",
                  "alternative-lacks", "count", "true"]
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
    * ``same-equivalence``: operation target 1 and alternative target 2 share an ``equivalence`` tag;
    * ``foreach``: operation target ``index`` has ``foreach`` (one call per item of a list).
    """

    kind: Literal["deterministic", "not-external", "no-effects", "not-both-external", "same-equivalence", "foreach"]
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
COUNT = ValueRule("count")
TRUE = ValueRule("true")
