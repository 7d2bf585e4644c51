"""`recipemut import FILE`: show (or write) the recipe read from a workflow engine's file, or drafted from logs."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import typer

from recipemut.commands._common import OutputFormat, err_console, named_file, warn_ingest
from recipemut.files.text import shown
from recipemut.files.units import counted


def _named_files(values: list[Path]) -> list[Path]:
    return [named_file(v) for v in values]


def import_(
    files: list[Path] = typer.Argument(
        ..., metavar="FILE", callback=_named_files, show_default=False,
        help="An Argo, Tekton, GitHub Actions, Step Functions or Serverless Workflow file; or logs with no "
        "recipe yet (OTLP, Jaeger or Zipkin traces, span logs, Parquet: files, globs, folders of Parquet) "
        "to draft one from.",
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Write the recipe to this file instead of stdout (never FILE itself, a link, a FIFO or a folder).",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text (the recipe's YAML) or json."),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing --out file (never a recipe with a history) that holds other text."
    ),
) -> None:
    """Show the recipe read from a workflow engine's file, or drafted from logs; write it with --out.

    The engine is found by the file's content (Argo Workflow, Tekton Pipeline, GitHub Actions
    workflow, Step Functions state machine, Serverless Workflow). What could not be carried over
    (an OR-dependency, a condition kept as text, a nested template) is printed on stderr as
    warnings, `warning: file:line: ...` as every command gives them, at the engine file's lines.
    Exit 0 when the file was imported, 1 when it could not be (the errors name file and line).

    Traces with no recipe yet are drafted into one: an operation per (service, span name), `after`
    the order the traces showed (a call inside another, or one begun after another ended), every
    operation `side_effects: idempotent`; the header comment says what to review.

    Every command that takes a recipe also takes the engine's file directly; `import` shows
    what they read, and --out keeps it as a recipe to edit or apply plans to.

    Example: recipemut import workflow.yaml -o recipe.yaml

    Example: recipemut import traces.json -o recipe.yaml
    """
    from recipemut.usecases.drafting import draft_from_logs, is_log  # pandas: not for -h
    from recipemut.usecases.importing import import_file  # networkx, jsonschema: not for -h

    if is_log(files[0]):
        drafted = draft_from_logs(files, out=out, force=force)
        warn_ingest(drafted.report)
        for said in drafted.warnings:
            err_console.print(f"[yellow]warning:[/] {shown(said)}")
        for note in drafted.notes:
            err_console.print(f"note: {shown(note)}")
        ops, more = len(drafted.document["operations"]), "" if len(files) == 1 else f" and {len(files) - 1} more"
        closing = (
            f"{shown(str(files[0]))}{more}: {counted(ops, 'operation')} drafted from "
            f"{counted(drafted.traces, 'trace')}, recipe written to "
            f"{shown(str(drafted.written))}; review its header comment, then: recipemut validate "
            + shown(shlex.quote(str(drafted.written)))
        )
        _show(fmt, drafted.to_dict(), drafted.text, drafted.written, closing)
        return
    if len(files) > 1:
        raise typer.BadParameter(
            "an engine's file is imported alone; several files are read only as logs to draft a recipe from",
            param_hint="FILE",
        )
    file = files[0]
    result = import_file(file, out=out, force=force)
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {shown(str(w))}")  # as the log handler says a recipe's warning
    n = len(result.recipe.operations)
    closing = (
        f"{shown(str(file))}: read as {shown(result.imported.engine)} ({counted(n, 'operation')}), "
        f"recipe written to {shown(str(result.written))}"
    )
    _show(fmt, result.to_dict(), result.text, result.written, closing)


def _show(fmt: OutputFormat, data: dict[str, Any], text: str, written: Path | None, closing: str) -> None:
    """The recipe's YAML on stdout (unless written), or the JSON document; the closing line when written."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
    elif written is None:
        typer.echo(text, nl=False)
    if written is not None:  # on stderr: stdout holds the JSON document alone
        err_console.print(closing)
