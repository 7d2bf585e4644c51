"""Operation ids for steps, tasks, jobs and states of workflow engines.

The definition importers (:mod:`recipemut.recipe.engines`) and the run-history readers
(:mod:`recipemut.logs`) name an operation with the same rule, so a run history's spans land on
the operations of the recipe imported from the same engine file:

* Argo: the DAG task's or step's ``name``; Tekton: the pipeline task's ``name`` (the
  ``tekton.dev/pipelineTask`` label of a TaskRun); Step Functions: the state's name;
  Serverless Workflow: the state's or task's name; GitHub Actions: the job's ``name:`` when it is
  a plain string (no ``${{``), else the job's key; a matrix job's display name without its
  ``" (a, b)"`` suffix.
* The name then goes through :func:`op_id`.
"""

from __future__ import annotations

import re

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
    """A GitHub Actions job's display name without the matrix suffix the runner adds.

    >>> job_display_base("test (ubuntu-latest, 3.11)"), job_display_base("lint")
    ('test', 'lint')
    """
    return _MATRIX_SUFFIX.sub("", name)


__all__ = ["UniqueIds", "job_display_base", "op_id"]
