"""A run history given where a recipe goes: said in one finding, rather than its schema errors.

``recipemut validate runs.yaml`` on an Argo run history (``kubectl get wf -o yaml``) gave five
schema errors (``missing required key 'name'``, ``kind: expected 'Recipe', got text ('List')``,
...), and ``profile runs.yaml --logs workflow.yaml`` (the two swapped) the first of them. Where a
file is not a valid recipe, :func:`run_history_finding` tells, from its first bytes, whether it is
an engine's run history (:func:`recipemut.logs.runs.sniff.sniff`), and says where it goes.
"""

from __future__ import annotations

import os
import re

from recipemut.errors import Finding, RecipemutError
from recipemut.files.read import read_user_file
from recipemut.logs.runs.sniff import LABELS, sniff
from recipemut.recipe.loader import MAX_RECIPE_BYTES

#: the first bytes are enough to tell (sniff looks at 64 KiB)
HEAD_BYTES = 64 * 1024
#: sniff also knows an Argo or Tekton *definition* (its reader says it is no history); a run has a status
_STATUS = re.compile(rb"""["']?status["']?\s*:""")
_STATUS_KEYS = {
    "argo": (_STATUS, re.compile(rb"""["']?nodes["']?\s*:""")),
    "tekton": (_STATUS, re.compile(rb"""["']?(?:conditions|childReferences)["']?\s*:""")),
}


def run_history_finding(path: str | os.PathLike[str]) -> Finding | None:
    """One finding saying ``path`` is a run history (a log), or ``None`` when it is not one."""
    name = os.fspath(path)
    try:
        head = _head(name)
    except RecipemutError:
        return None  # unreadable: the loader's own findings say why
    kind = sniff(head)
    if kind is None or (kind in _STATUS_KEYS and not all(k.search(head) for k in _STATUS_KEYS[kind])):
        return None  # an Argo or Tekton definition (no status): its importer's findings say what is wrong
    return Finding(
        name, 1, None, "run-history",
        f"this file holds {_a(LABELS[kind])}, not a recipe: it is a log, give it to --logs (the recipe is the "
        "workflow file it ran, e.g. `recipemut profile workflow.yaml --logs "
        f"{os.path.basename(name)}`)",
    )  # fmt: skip


def _head(name: str) -> bytes:
    # under the recipe's cap, as the loader read it (a larger file was refused as too large)
    return read_user_file(name, max_bytes=MAX_RECIPE_BYTES, what="recipe")[:HEAD_BYTES]


def _a(label: str) -> str:
    if label.endswith("s"):  # GitHub Actions run jobs
        return label
    return f"an {label}" if label[:1] in "AEIOU" else f"a {label}"


__all__ = ["run_history_finding"]
