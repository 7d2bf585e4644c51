"""What the convert tests share: the CLI runner with a wide, store-less environment, a day's midnight,
the checkout recipe, and the non-blank lines of an output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
DAY = 86_400_000
T0 = 1_764_000_000_000 - 1_764_000_000_000 % DAY  # a midnight, UTC (2025-11-24)


def run(*args: str) -> Any:
    """``recipemut ARGS`` through CliRunner, wide and with no store."""
    return CliRunner().invoke(app, list(args), env=ENV)


def lines(output: str) -> list[str]:
    """The non-blank lines of a command's output."""
    return [line for line in output.splitlines() if line.strip()]
