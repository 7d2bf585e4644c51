"""A run history given where a recipe goes: said in one finding, rather than its schema errors.

``recipemut validate runs.yaml`` on an Argo run history (``kubectl get wf -o yaml``) gave five
schema errors (``missing required key 'name'``, ``kind: expected 'Recipe', got text ('List')``,
...), and ``profile runs.yaml --logs workflow.yaml`` (the two swapped) the first of them. Where a
file is not a valid recipe, :func:`run_history_finding` tells, from its first bytes, whether it is
an engine's run history (:func:`recipemut.files.runsniff.run_history_words`), and says where it goes
(a trace file, a log or a plan is named by the loader itself: :func:`recipemut.files.kinds.input_kind`).
"""

from __future__ import annotations

import os

from recipemut.errors import Finding
from recipemut.files.kinds import input_kind, regular_head
from recipemut.files.runsniff import run_history_words

#: the first bytes are enough to tell (sniff looks at 64 KiB)
HEAD_BYTES = 64 * 1024


def run_history_finding(path: str | os.PathLike[str]) -> Finding | None:
    """One finding saying ``path`` is a run history (a log), or ``None`` when it is not one."""
    name = os.fspath(path)
    head = _head(name)
    # recipemut's own files and traces are named by the loader; an Argo or Tekton definition (no status) is
    # no log either: its importer's findings say what is wrong
    words = None if input_kind(head) is not None else run_history_words(head)
    if words is None:
        return None
    ran = "the recipe is the workflow file it ran, e.g. `recipemut profile workflow.yaml"
    return Finding(
        name, 1, None, "run-history",
        f"this file holds {words}, not a recipe: it is a log, give it to --logs "
        f"({ran} --logs {os.path.basename(name)}`)",
    )


def _head(name: str) -> bytes:
    """The first bytes, whatever the file's size (a run history over the recipe's cap is named too);
    ``b""`` for anything but a regular file that can be read (the loader's findings say why)."""
    return regular_head(name)[:HEAD_BYTES]


__all__ = ["run_history_finding"]
