"""What the engine importer tests share: an engine file imported and checked as a recipe, its operations
and warning codes, a shipped example validated through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import Finding
from recipemut.recipe.engines.base import Imported
from recipemut.recipe.loader import check_document, check_recipe
from recipemut.recipe.model import Recipe
from recipemut.recipe.yamlpos import parse_yaml

runner = CliRunner()


def imported_with(engine: ModuleType, text: str, *, file: str, what: str) -> Imported:
    """``text`` read by ``engine.to_recipe``; its recipe document must check without errors."""
    data, positions, _ = parse_yaml(text, file=file, what=what)
    imp: Imported = engine.to_recipe(data, positions, file=file)
    recipe, findings = check_document(imp.document, imp.positions, file=file)
    errors = [str(f) for f in findings if f.severity == "error"]
    assert recipe is not None and not errors, errors
    return imp


def ops(imp: Imported) -> dict[str, dict[str, Any]]:
    """The imported document's operations by id."""
    return {o["id"]: o for o in imp.document["operations"]}


def codes(imp: Imported) -> list[str]:
    """The codes of the import's warnings, in order."""
    return [w.code for w in imp.warnings]


def load_checked(path: Path) -> tuple[Recipe, list[Finding]]:
    """An engine file loaded as a recipe (which must load) and its findings."""
    recipe, findings = check_recipe(path)
    assert recipe is not None, [str(f) for f in findings]
    return recipe, list(findings)


def validated(path: Path) -> dict[str, Any]:
    """``recipemut validate --format json PATH``'s report on the file, which must be valid."""
    result = runner.invoke(app, ["validate", "--format", "json", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.stdout)["files"]
    assert report["valid"], report
    return dict(report)


def import_warnings(report: dict[str, Any]) -> set[tuple[str, int]]:
    """The ``import-*`` findings of a :func:`validated` report, as (code, line)."""
    return {(f["code"], f["line"]) for f in report["findings"] if f["code"].startswith("import-")}


def file_ops(engine: ModuleType, path: Path, *, what: str) -> dict[str, dict[str, Any]]:
    """The operations ``engine`` imports from the file at ``path`` (named by its base name), unchecked."""
    data, positions, _ = parse_yaml(path.read_text(), file=path.name, what=what)
    return ops(engine.to_recipe(data, positions, file=path.name))
