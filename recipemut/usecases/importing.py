"""`recipemut import`: a workflow engine's file read as a recipe, shown as YAML or written.

The file goes through the same loader every command uses (:func:`recipemut.recipe.loader.check_text`):
an engine's file is imported and checked like a recipe. The recipe's YAML starts with a comment
naming the source file and the engine; written, it is a recipe like any other (``validate``,
``suggest`` and ``apply`` take it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recipemut.errors import Finding, RecipeInvalid, RecipemutError
from recipemut.recipe.engines import READS, engine_name, recipe_text
from recipemut.recipe.engines.base import Imported
from recipemut.recipe.loader import check_text, read_text
from recipemut.recipe.model import Recipe
from recipemut.recipe.yamlpos import UNREADABLE_CODES

#: findings that say the file is an engine's, one recipemut does not (yet) import
_ENGINE_CODES = frozenset({"unsupported-engine", "engine-not-available"})


@dataclass
class ImportResult:
    """What ``import`` read: the recipe, its YAML text, the warnings, and where it was written (if it was)."""

    source: Path
    recipe: Recipe
    imported: Imported
    text: str
    warnings: list[Finding] = field(default_factory=list)
    written: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "engine": self.imported.engine,
            "key": self.imported.key,
            "recipe": self.imported.document,
            "warnings": [w.to_dict() for w in self.warnings],
            "written": None if self.written is None else str(self.written),
        }



def _not_engine(path: str, recipe: Recipe | None) -> RecipemutError:
    if recipe is not None:
        return RecipemutError(
            "is a recipe already (apiVersion: recipemut/v1); import reads a workflow engine's file",
            file=path,
            code="not-an-engine-file",
        )
    return RecipemutError(
        "is not a workflow file recipemut reads; it reads " + "; ".join(READS), file=path, code="not-an-engine-file"
    )


def refuse_written_recipe(out: str | os.PathLike[str], *, force: bool, text: str | None = None) -> None:
    """Refuse an ``--out`` that is a tracked recipe (it changes through apply and rollback only), or, without
    ``force``, any file of some bytes (:func:`~recipemut.usecases.overwrite.refuse_existing`) but the very
    ``text`` import is about to write (the same import again): a recipe of the user's, or a draft they edited
    since import wrote it, would be lost. Without ``text`` (before the import is made) the history only."""
    from recipemut.errors import InputFileError
    from recipemut.files.write import history_path
    from recipemut.usecases.overwrite import refuse_existing

    if history_path(out).exists():
        raise InputFileError(
            f"--out {out}: is a recipe with a history ({history_path(out).name}); replacing it here would "
            "leave that history behind; write the import to a new file", code="out",
        )
    if text is None or not os.path.isfile(out) or os.path.islink(out):  # the writer refuses a link or a FIFO
        return
    try:
        with open(out, "rb") as f:
            if f.read(len(text.encode("utf-8")) + 1) == text.encode("utf-8"):
                return
    except OSError:  # missing, a folder, a link...: what check_output_path and the writer say
        return
    refuse_existing(out, force=force)


def import_file(
    path: str | os.PathLike[str], *, out: str | os.PathLike[str] | None = None, force: bool = False
) -> ImportResult:
    """Import an engine's file; with ``out``, write the recipe there (atomically, never over the source).

    Raises :class:`RecipeInvalid` when the imported recipe has errors (each at the engine file's
    line) or the file is another tool's (named), and :class:`RecipemutError` when it is a recipe
    already or no engine's file.
    """
    from recipemut.files.kinds import RECIPE
    from recipemut.files.write import atomic_write, check_output_path
    from recipemut.usecases.misplaced import run_history_finding

    source = Path(path)
    name = str(path)
    if out is not None:
        check_output_path(
            out, option="--out", inputs={source: "the file to import"}, example="recipe.yaml", kind=RECIPE
        )
        refuse_written_recipe(out, force=force)
    text = read_text(source)
    recipe, findings = check_text(text, file=name, what="workflow file")  # the reader's words for it
    errors = [f for f in findings if f.severity == "error"]
    imported = recipe is not None and recipe.imported is not None
    engine_file = imported or engine_name(text, file=name) is not None or any(f.code in _ENGINE_CODES for f in errors)
    unreadable = [f for f in errors if f.code in UNREADABLE_CODES]  # no engine can tell an unread file
    if (errors or recipe is None) and (history := run_history_finding(source)) is not None:  # a run, not a workflow
        raise RecipeInvalid([history])
    if (engine_file or unreadable) and (errors or recipe is None):
        raise RecipeInvalid(unreadable or errors or findings)
    if recipe is None or recipe.imported is None:
        raise _not_engine(name, recipe)
    result = ImportResult(source, recipe, recipe.imported, recipe_text(recipe.imported, source=name), findings)
    if out is not None:
        refuse_written_recipe(out, force=force, text=result.text)
        atomic_write(out, result.text.encode("utf-8"), what="recipe")
        result.written = Path(out)
    return result


__all__ = ["ImportResult", "import_file"]
