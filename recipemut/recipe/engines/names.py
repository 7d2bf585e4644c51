"""Operation ids for steps, tasks, jobs and states of workflow engines.

The definition importers (:mod:`recipemut.recipe.engines`) and the run-history readers
(:mod:`recipemut.logs`) name an operation with the same rule, so a run history's spans land on
the operations of the recipe imported from the same engine file:

* Argo: the DAG task's or step's ``name``; Tekton: the pipeline task's ``name`` (the
  ``tekton.dev/pipelineTask`` label of a TaskRun); Step Functions: the state's name;
  Serverless Workflow: the state's or task's name; GitHub Actions: the job's ``name:`` when it is
  a plain string (no ``${{``), else the job's key; a matrix job's display name without its
  ``" (a, b)"`` suffix (:func:`job_display_base`).
* The name then goes through :func:`op_id`.
* Names that differ only in characters an id cannot hold (``Get Order``, ``Get_Order``) meet on
  one id: the importer hands them out once each (:class:`UniqueIds`, in the definition's order:
  the second is ``Get_Order_2``) and keeps each name as its operation's ``action``. A history
  has no definition order, so a reader cannot replay that: :class:`StepOps` reads the ids off
  the recipe instead (the operation whose ``action`` is the step's name, when the one named by
  :func:`op_id` holds another step), and without a recipe both names land on ``Get_Order``,
  which :meth:`StepOps.collisions` reports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
_MATRIX_SUFFIX = re.compile(r" \([^()]*\)$")


def op_id(name: str) -> str:
    """A recipe operation id (``^[A-Za-z_][A-Za-z0-9_.-]*$``) for an engine's step name.

    Runs of characters an id cannot hold become one ``_``; a name that does not start with a
    letter or ``_`` gets a leading ``_``.

    >>> op_id("build-image"), op_id("Check Stock"), op_id("2nd step"), op_id("a/b:c")
    ('build-image', 'Check_Stock', '_2nd_step', 'a_b_c')
    >>> op_id("")
    '_'
    """
    s = _BAD.sub("_", name.strip())
    if not s or not ((s[0].isalpha() and s[0].isascii()) or s[0] == "_"):
        s = "_" + s
    return s


class UniqueIds:
    """Operation ids handed out once each: a taken id gets ``_2``, ``_3``, ... (the next free one).

    The next suffix is remembered per base, so n names that all map to one id cost O(n), not
    O(n²) (a Step Functions file of 15,000 such state names took 64 s).

    >>> ids = UniqueIds(); [ids.take(b) for b in ("a", "a", "a_2", "a")]
    ['a', 'a_2', 'a_2_2', 'a_3']
    >>> "a_3" in ids, "b" in ids
    (True, False)
    """

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self._next: dict[str, int] = {}

    def __contains__(self, oid: object) -> bool:
        return oid in self.taken

    def take(self, base: str) -> str:
        """``base``, or ``base_N`` for the smallest N >= 2 not taken yet (amortised over the calls)."""
        oid, n = base, self._next.get(base, 1)
        while oid in self.taken:
            n += 1
            oid = f"{base}_{n}"
        self._next[base] = n
        self.taken.add(oid)
        return oid


def job_display_base(name: str) -> str:
    """A GitHub Actions job's display name without the last ``" (...)"``: the suffix the runner adds
    to a matrix job's name (``test (ubuntu-latest, 3.11)``; ``Build (release) (a)`` keeps its own).

    A run-jobs answer does not say which jobs ran from a matrix, and a plain ``name: Build
    (release)`` ends in the same shape, so the cut is only right for a matrix job: a reader asks
    :meth:`StepOps.knows` first, whether the whole name is a job of the recipe.

    >>> job_display_base("test (ubuntu-latest, 3.11)"), job_display_base("lint")
    ('test', 'lint')
    >>> job_display_base("Build (release) (a)")
    'Build (release)'
    """
    return _MATRIX_SUFFIX.sub("", name)


class StepOps:
    """The operations of a run history's step names: :func:`op_id`, told apart by the recipe.

    ``ops`` are the recipe's ``(id, action)`` pairs (``None``: no recipe). A step's operation is
    ``op_id(name)``, except when that operation holds another step (its ``action`` is another name
    with the same id: the importer gave this one the next free id) and exactly one operation has
    this name as its ``action``: then that one. Names that still meet on one operation are kept
    for :meth:`collisions`.

    >>> ops = StepOps([("Get_Order", "Get Order"), ("Get_Order_2", "Get_Order"), ("pay", "Charge")])
    >>> ops("Get Order"), ops("Get_Order"), ops("pay"), ops.collisions()
    ('Get_Order', 'Get_Order_2', 'pay', [])
    >>> StepOps([("a", "a"), ("a_2", "a ")])("a "), StepOps([("Build", "Build")])("Build ")
    ('a_2', 'Build')
    >>> bare = StepOps(None); bare("Get Order"), bare("Get_Order"), bare.collisions()
    ('Get_Order', 'Get_Order', [('Get_Order', ['Get Order', 'Get_Order'])])
    """

    def __init__(self, ops: Iterable[tuple[str, str]] | None) -> None:
        self.action: dict[str, str] = {}
        self.owners: dict[str, list[str]] = {}
        for oid, action in ops or ():
            self.action[oid] = action
            self.owners.setdefault(action, []).append(oid)
        self.named: dict[str, str] = {}  # step name -> its operation (each name resolved once)
        self.names: dict[str, list[str]] = {}  # operation -> the step names read as it

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a step of the recipe: an operation's id (by :func:`op_id`) or ``action``."""
        return op_id(name) in self.action or name in self.owners or name.strip() in self.owners

    def __call__(self, name: str) -> str:
        oid = self.named.get(name)
        if oid is None:
            oid = base = op_id(name)
            held = self.action.get(base)
            owners = self.owners.get(name) or self.owners.get(name.strip()) or []
            if held is not None and held != name and op_id(held) == base and len(owners) == 1:
                oid = owners[0]
            self.named[name] = oid
            self.names.setdefault(oid, []).append(name)
        return oid

    def collisions(self) -> list[tuple[str, list[str]]]:
        """Each operation that several distinct step names were read as, with those names, in first-seen order."""
        return [(oid, names) for oid, names in self.names.items() if len(names) > 1]

    def alike(self) -> list[tuple[str, list[str]]]:
        """Each step name read that several operations of the recipe have as their ``action`` (two
        jobs of one ``name:``), with those operations: a history cannot tell them apart.

        >>> ops = StepOps([("Build", "Build"), ("b", "Build")]); ops("Build"), ops.alike()
        ('Build', [('Build', ['Build', 'b'])])
        """
        return [(n, self.owners[n]) for n in self.named if len(self.owners.get(n, ())) > 1]


__all__ = ["StepOps", "UniqueIds", "job_display_base", "op_id"]
