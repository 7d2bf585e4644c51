"""`recipemut stats`: what the store has learned about each operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..bandit import Bandit
from ..store import ENV_VAR, OperatorStats, Store, default_path
from ._common import OutputFormat


def stats_data(path: Path, stats: list[OperatorStats], bandit: Bandit, counts: dict[str, int]) -> dict[str, Any]:
    """The JSON document of ``recipemut stats --format json``."""
    arms = [(s.operator, None) for s in stats]
    probs = bandit.selection_probabilities(arms, np.random.default_rng(0)) if arms else np.zeros(0)
    return {
        "store": str(path),
        "counts": counts,
        "operators": [
            {
                **s.to_dict(),
                "bandit": {
                    "alpha": round(bandit.beta(s.operator)[0], 4),
                    "beta": round(bandit.beta(s.operator)[1], 4),
                    "posterior_mean": round(bandit.posterior_mean(s.operator), 4),
                    "next_pick_probability": round(float(p), 4),
                },
            }
            for s, p in zip(stats, probs, strict=True)
        ],
    }


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.0f}%"


def _render(data: dict[str, Any]) -> None:
    out = Console(highlight=False, soft_wrap=True)
    c = data["counts"]
    out.print(
        f"store {escape(data['store'])}: {c['suggestions']} simulated mutations, {c['observations']} observed "
        f"canaries, {c['recipe_versions']} recipe versions"
    )
    if not data["operators"]:
        out.print("nothing learned yet: suggest and evaluate record into this store as they run")
        return
    table = Table(header_style="bold", pad_edge=False, box=None)
    for name in (
        "operator", "simulated", "sim improves", "observed", "promoted", "rolled back", "held",
        "mean gain", "pred. error", "calibration", "bandit mean", "next pick",
    ):  # fmt: skip
        table.add_column(name, justify="left" if name == "operator" else "right")
    for o in data["operators"]:
        b = o["bandit"]
        cal = "-" if o["calibration"] is None else f"{_pct(o['calibration'])} of {o['calibrated_n']}"
        table.add_row(
            escape(o["operator"]),
            str(o["suggested"]),
            str(o["simulated_improves"]),
            str(o["observed"]),
            str(o["promoted"]),
            str(o["rolled_back"]),
            str(o["held"]),
            _pct(o["mean_observed_gain"], signed=True),
            "-" if o["prediction_error"] is None else f"{100 * o['prediction_error']:.1f} pts",
            cal,
            f"{b['posterior_mean']:.2f}",
            _pct(b["next_pick_probability"]),
        )
    out.print(table)
    out.print(
        "mean gain: observed relative improvement of the metric (positive = better); pred. error: mean |observed - "
        "predicted| gain; calibration: share of observed effects inside the predicted interval; next pick: how "
        "often the bandit would evaluate this operator first."
    )


def stats(
    store: Path | None = typer.Option(
        None, "--store", help=f"Store file (default: ${ENV_VAR}, else .recipemut/store.sqlite).", show_default=False
    ),
    recipe: str | None = typer.Option(None, "--recipe", help="Only what was learned on this recipe (by name)."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Show what recipemut has learned about each mutation operator.

    Reads the profile store that suggest (simulated effects) and evaluate (observed effects of
    canaries) write to, and prints per operator: mutations simulated and how many improved,
    canaries observed, promoted, rolled back and held, the mean observed gain, the prediction
    error (observed vs predicted gain), the calibration (how often the observed effect fell
    inside the predicted interval), and the bandit's belief and next-pick probability that order
    suggest's candidates under --budget.

    Example:

        recipemut stats --format json
    """
    path = store if store is not None else default_path()
    if path is None:
        typer.echo(f"the store is disabled ({ENV_VAR}=off); pass --store FILE to read one", err=True)
        raise typer.Exit(1)
    if not path.exists():
        data: dict[str, Any] = {
            "store": str(path),
            "counts": {"recipe_versions": 0, "profiles": 0, "suggestions": 0, "observations": 0},
            "operators": [],
        }
    else:
        with Store.open(path) as s:
            data = stats_data(
                path, s.operator_stats(recipe=recipe), Bandit.from_evidence(s.evidence(recipe=recipe)), s.counts()
            )
    if output == OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _render(data)
