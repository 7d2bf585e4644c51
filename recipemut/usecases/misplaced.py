"""A run history or trace file given where a recipe goes: said in one finding, rather than its schema errors.

``recipemut validate runs.yaml`` on an Argo run history (``kubectl get wf -o yaml``) gave five
schema errors (``missing required key 'name'``, ``kind: expected 'Recipe', got text ('List')``,
...), and ``profile runs.yaml --logs workflow.yaml`` (the two swapped) the first of them. Where a
file is not a valid recipe, :func:`run_history_finding` tells, from its first bytes, whether it is
an engine's run history or a trace file (:func:`recipemut.logs.detect.log_format`), and says where it goes.
"""

from __future__ import annotations

import os

from recipemut.errors import Finding, RecipemutError
from recipemut.files.read import read_user_file
from recipemut.logs.detect import log_format
from recipemut.recipe.loader import MAX_RECIPE_BYTES

#: the first bytes are enough to tell (sniff looks at 64 KiB)
HEAD_BYTES = 64 * 1024


def run_history_finding(path: str | os.PathLike[str]) -> Finding | None:
    """One finding saying ``path`` is a run history or trace file (a log), or ``None`` when it is not one."""
    name = os.fspath(path)
    try:
        head = _head(name)
    except RecipemutError:
        return None  # unreadable: the loader's own findings say why
    words = log_format(head)
    if words is None:
        return None  # an Argo or Tekton definition (no status): its importer's findings say what is wrong
    ran = "the recipe is the workflow file it ran, e.g. `recipemut profile workflow.yaml"
    if words.endswith(" traces"):
        ran = "e.g. `recipemut profile recipe.yaml"
    return Finding(
        name, 1, None, "run-history",
        f"this file holds {words}, not a recipe: it is a log, give it to --logs "
        f"({ran} --logs {os.path.basename(name)}`)",
    )


def _head(name: str) -> bytes:
    # under the recipe's cap, as the loader read it (a larger file was refused as too large)
    return read_user_file(name, max_bytes=MAX_RECIPE_BYTES, what="recipe")[:HEAD_BYTES]


__all__ = ["run_history_finding"]
