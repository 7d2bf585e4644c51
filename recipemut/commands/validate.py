"""`recipemut validate FILE...`: check recipes against the schema and the semantic rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from recipemut.commands._common import OutputFormat
from recipemut.files.text import console, shown

if TYPE_CHECKING:
    from recipemut.errors import Finding


def _line(f: Finding) -> str:
    label = "warning: " if f.severity == "warning" else ""
    return f"{f.location()}: {label}{f.message} [{f.code}]"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def validate(
    files: list[Path] = typer.Argument(
        ..., metavar="FILE",
        help="Recipes to check: their YAML, or Argo, Tekton, Step Functions, Serverless Workflow or "
        "GitHub Actions files.",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too (for CI)."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text (one line per finding) or json."),
) -> None:
    """Check recipes against the schema and the semantic rules; exit 1 if any is invalid.

    Reports every problem, not just the first: unreadable files, YAML errors, duplicate or
    unknown keys, wrong types, fields consumed before they are produced or produced twice,
    outputs never produced, unknown ids in after / keep_order / frozen, duplicate ids, and
    cycles (printed as a -> b -> a). Each finding is one line `file:line:col: message [code]`;
    warnings (e.g. an undeclared service) are shown but only fail with --strict.

    Example: recipemut validate recipes/*/recipe.yaml --format json
    """
    from recipemut.recipe.engines import a_name
    from recipemut.recipe.loader import check_recipe  # jsonschema, networkx: not for -h

    results = []
    for path in files:
        recipe, findings = check_recipe(path)
        if recipe is None:  # a log given as a recipe: where it goes, not its schema errors
            from recipemut.usecases.misplaced import run_history_finding  # pandas: only for a failed file

            if (history := run_history_finding(path)) is not None:
                findings = [history]
        errors = sum(f.severity == "error" for f in findings)
        warnings = len(findings) - errors
        valid = recipe is not None and errors == 0 and not (strict and warnings)
        n_ops = len(recipe.operations) if recipe is not None else 0
        engine = recipe.imported.engine if recipe is not None and recipe.imported is not None else None
        results.append((str(path), valid, findings, errors, warnings, n_ops, engine))
    all_valid = all(r[1] for r in results)

    if fmt is OutputFormat.json:
        doc = {
            "files": [
                {"file": f, "valid": v, "engine": e, "findings": [x.to_dict() for x in fs]}
                for f, v, fs, *_, e in results
            ],
            "valid": all_valid,
        }
        typer.echo(json.dumps(doc, indent=2))
    else:
        out = console(soft_wrap=True)
        for name, valid, findings, _errors, _warnings, n_ops, engine in results:
            for f in findings:
                style = "yellow" if f.severity == "warning" else "red"
                out.print(f"[{style}]{shown(_line(f))}[/]")
            read_as = f", read as {a_name(engine)}" if engine else ""
            if valid and (not findings or engine):
                out.print(f"{shown(name)}: [green]valid[/] ({_plural(n_ops, 'operation')}{shown(read_as)})")
            elif engine:
                out.print(f"{shown(name)}: [red]invalid[/] ({_plural(n_ops, 'operation')}{shown(read_as)})")
        n_errors = sum(r[3] for r in results)
        n_warnings = sum(r[4] for r in results)
        n_bad = sum(not r[1] for r in results)
        counts = f"{_plural(n_errors, 'error')}, {_plural(n_warnings, 'warning')}"
        if all_valid:
            out.print(f"[green]✓[/] {_plural(len(results), 'file')} valid ({counts})")
        else:
            out.print(f"[red]✗[/] {n_bad} of {_plural(len(results), 'file')} invalid ({counts})")
    if not all_valid:
        raise typer.Exit(1)
