"""`recipemut rollback RECIPE [--to VERSION]`: restore an earlier recorded version byte for byte."""

from __future__ import annotations

from pathlib import Path

import typer

from recipemut.commands._common import LockTimeoutOpt, OutputFormat
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S


def rollback(
    recipe: Path = typer.Argument(..., help="The recipe YAML to restore.", metavar="RECIPE"),
    to: int = typer.Option(
        None, "--to", help="Recipe version to restore, its most recent recorded text (default: undo the last write)."
    ),
    entry: int = typer.Option(
        None,
        "--entry",
        min=1,
        help="Restore the text history entry N wrote (the # column of `recipemut history`): reaches every "
        "recorded text, also when two carry one version (a hand edit that kept the number).",
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Roll back over a hand edit, saving the edited text into the history first; also write a "
        "read-only recipe (its mode is kept).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the diff; write nothing."),
    lock_timeout: LockTimeoutOpt = DEFAULT_LOCK_TIMEOUT_S,
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Restore the previous (or a given) version of the recipe, byte for byte, from its history.

    By default the last recorded write is undone (its text before comes back); --to VERSION
    restores the most recent text recorded with that version; --entry N restores exactly the text
    entry N wrote. The restore is itself a new history entry, so a rollback can be undone by
    another rollback, which then notes the write it redoes and how to go further back. A recipe
    already holding the text from before the last write (reverted by hand, or a write that did
    not land) has nothing to roll back: nothing is written, exit 0.
    A hand edit made since the last recorded write is refused unless --force (which saves it
    into the history first); so is a read-only RECIPE (--force writes it, keeping its mode). A
    history that does not verify stops the rollback (the line at fault is named) and the recipe
    is not touched.

    Example: recipemut rollback checkout.yaml --to 4    (or --entry 2; see recipemut history checkout.yaml)
    """
    from recipemut.apply.transaction import rollback as _rollback  # pandas and more: not for -h
    from recipemut.commands.apply import (
        render_result,  # here, not at import: commands.apply imports the cli, which imports us
    )

    render_result(
        _rollback(recipe, to=to, entry=entry, force=force, dry_run=dry_run, lock_timeout_s=lock_timeout),
        fmt,
        show_diff=True,
    )
