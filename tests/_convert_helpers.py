"""What the convert tests share: the CLI runner with a wide, store-less environment, a day's midnight,
the checkout recipe, and the non-blank lines of an output."""

from __future__ import annotations

import json
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


def days_log(path: Path, *, latency: float, days: int, t0: int = 1_735_689_600_000) -> Path:
    """A native log of ``days`` days (from ``t0``, 2025-01-01) of three two-span requests a day, every
    span taking ``latency``: what the Ctrl-C and race tests of ``convert -o FOLDER/`` convert."""
    with path.open("w") as f:
        for d in range(days):
            for r in range(3):
                for i, op in enumerate(("load", "pay")):
                    span = {"request_id": f"r{d}-{r}", "op": op, "start_ms": t0 + d * DAY + r * 1000 + i * 10,
                            "latency_ms": latency, "status": "ok"}  # fmt: skip
                    f.write(json.dumps(span) + "\n")
    return path


def day_files(folder: Path) -> dict[str, bytes]:
    """The day files of a converted folder, by name, with their bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name.startswith("spans-")}


def leftovers(folder: Path) -> list[str]:
    """What a converted folder holds besides its day files (spools, locks), by name."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("spans-"))
