"""`recipemut history RECIPE`: every recorded write of a recipe, verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from recipemut.commands._common import OutputFormat, err_console
from recipemut.commands._layout import Column, show
from recipemut.errors import InputFileError, RecipemutError
from recipemut.files.text import console, shown, utc_text

if TYPE_CHECKING:
    from recipemut.apply.history import Entry


def _v(version: int | None) -> str:
    """An engine file's text has no version number: ``none``, as apply and rollback print it."""
    return "none" if version is None else str(version)


def _entry_summary(e: Entry) -> dict[str, Any]:
    d = e.to_dict()
    d.pop("previous_text")
    d.pop("text")
    return d


def history(
    recipe: Path = typer.Argument(..., help="The recipe (or engine file) whose history to show.", metavar="RECIPE"),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    texts: bool = typer.Option(
        False, "--texts", help="Include each entry's full texts (JSON only: needs --format json)."
    ),
) -> None:
    """List the recorded writes of a recipe: version, time, action, mutations, hashes, who.

    Reads RECIPE.history.jsonl, verifies its hash chain (a corrupt or truncated history is
    reported with the line at fault, exit 1; so is a history that lost its last lines, told by the
    last entry recorded in RECIPE.lock) and says whether the recipe file still matches the
    last recorded write, was edited by hand since, or holds the text from before an interrupted
    write.

    Example: recipemut history checkout.yaml --format json
    """
    if texts and fmt is not OutputFormat.json:
        raise typer.BadParameter("the full texts are only shown with --format json", param_hint="--texts")
    from recipemut.apply.history import describe_state, history_path, read_history  # not for -h
    from recipemut.apply.transaction import read_recipe_text
    from recipemut.plan.planfile import recipe_sha256

    entries = read_history(recipe)
    try:
        text = read_recipe_text(recipe)
        if not text.strip():
            raise InputFileError("empty file, not a recipe", file=str(recipe), code="empty-file")
    except RecipemutError as unreadable:
        if not entries:
            raise  # nothing recorded and nothing readable: the one-line error
        # the history is what restores such a file: show it, and say what is wrong with the recipe
        err_console.print(f"[yellow]warning:[/] {shown(str(unreadable))}")
    state, holds, status = describe_state(entries, recipe_sha256(recipe))
    if fmt is OutputFormat.json:
        doc = {
            "recipe": str(recipe),
            "history": str(history_path(recipe)),
            "state": state,
            "holds": holds,  # the recorded text a hand-restored or interrupted recipe holds
            "entries": [e.to_dict() if texts else _entry_summary(e) for e in entries],
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    out = console(soft_wrap=True)
    if not entries:
        out.print(f"{shown(str(recipe))}: no history yet ({shown(str(history_path(recipe)))} does not exist)")
        return
    whats = [", ".join(str(m.get("id")) for m in e.mutations) for e in entries]
    whats = [
        w if w and e.action in ("apply", "canary", "promote") else (e.reason or w)
        for w, e in zip(whats, entries, strict=True)
    ]
    fixed = {"no_wrap": True}
    columns = [  # ids are never cut: the mutations wrap between ids, or each entry becomes a block
        Column("#", [str(e.seq) for e in entries], fixed),
        Column("time", [shown(utc_text(e.time)) for e in entries], fixed),  # its zone said in each cell
        Column("action", [shown(e.action) for e in entries], fixed),
        Column("version", [f"{_v(e.version_before)} -> {_v(e.version)}" for e in entries], fixed),
        Column("mutations / reason", [shown(w) for w in whats]),
        Column("sha256", [shown(f"{(e.sha256_before or '-')[:8]} -> {e.sha256_after[:8]}") for e in entries]),
        Column("who", [shown(str(e.who.get("user", "?"))) for e in entries]),
    ]
    show(out, columns, heading=3, title=f"history of {shown(recipe)}", title_justify="left")
    n = len(entries)
    out.print(f"chain verified ({n} {'entry' if n == 1 else 'entries'}); {status}")
