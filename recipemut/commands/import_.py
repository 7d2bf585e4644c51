"""`recipemut import FILE`: show (or write) the recipe read from a workflow engine's file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from recipemut.commands._common import OutputFormat, err_console, named_file
from recipemut.files.text import shown


def import_(
    file: Path = typer.Argument(
        ..., metavar="FILE", callback=named_file,
        help="An Argo, Tekton, GitHub Actions, Step Functions or Serverless Workflow file.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the recipe to this file instead of stdout (never FILE itself, a link, a FIFO or a folder).",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text (the recipe's YAML) or json."),
) -> None:
    """Show the recipe read from a workflow engine's file, or write it with --out.

    The engine is found by the file's content (Argo Workflow, Tekton Pipeline, GitHub Actions
    workflow, Step Functions state machine, Serverless Workflow). What could not be carried over
    (an OR-dependency, a condition kept as text, a nested template) is printed on stderr as
    warnings, `file:line: warning: ...`, at the engine file's lines. Exit 0 when the file was
    imported, 1 when it could not be (the errors name file and line).

    Every command that takes a recipe also takes the engine's file directly; `import` shows
    what they read, and --out keeps it as a recipe to edit or apply plans to.

    Example: recipemut import workflow.yaml -o recipe.yaml
    """
    from recipemut.usecases.importing import import_file  # networkx, jsonschema: not for -h

    result = import_file(file, out=out)
    for w in result.warnings:
        err_console.print(f"[yellow]{shown(f'{w.location()}: warning: {w.message} [{w.code}]')}[/]")
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    elif result.written is None:
        typer.echo(result.text, nl=False)
    else:
        n = len(result.recipe.operations)
        err_console.print(
            f"{shown(str(file))}: read as {shown(result.imported.engine)} ({n} operation{'' if n == 1 else 's'}), "
            f"recipe written to {shown(str(result.written))}"
        )
