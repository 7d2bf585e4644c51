"""`recipemut validate`: placeholder wiring until the loader lands (owned by the loader work)."""

from __future__ import annotations

from pathlib import Path

import typer


def validate(
    files: list[Path] = typer.Argument(..., help="Recipe YAML files to check."),
) -> None:
    """Check recipes against the schema and the semantic rules."""
    raise typer.Exit(3)
