"""Mutations as values: who made a change, what it touches, its edits and the resulting recipe.

The edits themselves (:class:`~recipemut.recipe.edits.Edit`) are recipe-level values; this module adds
the mutation around them and the declared shapes of the edits each operator makes, which a plan
is checked against before ``apply`` writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from recipemut.recipe.edits import Edit, EditOp, apply_edits
from recipemut.recipe.model import DocPath, Recipe, recipe_from_dict


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
