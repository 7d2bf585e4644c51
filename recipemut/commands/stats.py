"""`recipemut stats`: what the store has learned about each operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from recipemut.commands._common import OutputFormat
from recipemut.commands._failure import fail
from recipemut.commands._layout import Column, show
from recipemut.files.text import console, shown, utc_text
from recipemut.files.units import counted, ms_text, pt_text
from recipemut.learn.store import ENV_VAR, check_store_path, store_path
from recipemut.learn.summary import store_summary, versions_seen


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:+.1f}%" if signed else f"{100 * x:.0f}%"


def _cells(o: dict[str, Any]) -> list[str]:
    b = o["bandit"]
    return [
        shown(o["operator"]),
        str(o["suggested"]),
        str(o["simulated_improves"]),
        str(o["promoted"]),
        str(o["rolled_back"]),
        str(o["held"]),
        _pct(o["mean_observed_gain"], signed=True),
        "-" if o["prediction_error"] is None else pt_text(o["prediction_error"], decimals=1),
        "-" if o["calibration"] is None else f"{_pct(o['calibration'])} of {o['calibrated_n']}",
        f"{b['posterior_mean']:.2f}",
        _pct(b["next_pick_probability"]),
    ]


#: short headers, so the operator table fits 80 columns; the legend under it says what each means
HEADERS = ("operator", "sim", "sim ok", "promo", "rolled", "held", "gain", "err", "calib.", "belief", "next")
LEGEND = (
    "sim: mutations simulated by suggest, sim ok: of them improved; promo/rolled/held: observed effects "
    "(one per mutation per canary evaluate judged) promoted, rolled back, held; gain: mean observed "
    "relative improvement of the metric (positive = better); err: mean |observed - predicted| gain, in "
    "points; calib.: share of observed effects inside the predicted interval, of how many; belief: the "
    "bandit's posterior mean that the operator's next mutation pays off; next: how often the bandit would "
    "evaluate this operator first."
)


_PLAIN: dict[str, Any] = {"header_style": "bold", "pad_edge": False, "box": None, "padding": (0, 1, 0, 0)}


def _render(data: dict[str, Any], recipe: str | None = None) -> None:
    out = console()  # on a terminal, sentences wrap at words (on a pipe, never: files/text.console)
    c = data["counts"]
    of = f" (recipe {shown(recipe)})" if recipe is not None else ""
    out.print(
        f"store {shown(data['store'])}{of}: {counted(c['suggestions'], 'simulated mutation')}, "
        f"{counted(c['observations'], 'observed effect')} (one per mutation per canary), {versions_seen(data)}"
    )
    _render_profiled(out, data.get("profiled_versions", []))
    if not data["operators"]:
        out.print("nothing learned yet: suggest and evaluate record into this store as they run")
        return
    rows = [_cells(o) for o in data["operators"]]
    show(out, [Column(name, [r[i] for r in rows], {"justify": "left" if i == 0 else "right", "no_wrap": True})
               for i, name in enumerate(HEADERS)], **_PLAIN)  # fmt: skip
    out.print(LEGEND)


def _render_profiled(out: Console, versions: list[dict[str, Any]]) -> None:
    """Per recipe, the versions profiled: how often, when last, requests and end-to-end p95 then."""
    if not versions:
        return
    rows = []
    for v in versions:
        summ = v["last_summary"]
        p95 = (summ.get("e2e_ms") or {}).get("p95")
        rows.append((
            shown(v["recipe"]),
            str(v["version"]),
            shown((v["sha256"] or "-")[:12]),  # None: a version only the logs named
            str(v["profiles"]),
            shown(utc_text(str(v["last_recorded_at"]))),
            f"{summ.get('requests', 0):,}",
            "-" if p95 is None else ms_text(p95, unit=False),
        ))  # fmt: skip
    names = ("recipe", "version", "sha256", "profiles", "last profiled", "requests", "p95 ms")
    cols = [Column(name, [r[i] for r in rows], {"justify": "left" if name in ("recipe", "sha256", "last profiled")
                                                else "right", "no_wrap": True}) for i, name in enumerate(names)]
    show(out, cols, heading=2, title="profiled recipe versions", title_justify="left", **_PLAIN)


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
    suggest's candidates under --budget. Below that, per recipe, the versions `recipemut profile`
    recorded (how often, when last, requests and end-to-end p95 of the latest profile).

    Example:

        recipemut stats --format json
    """
    if store is not None:
        check_store_path(store, option="--store")
    path = store_path(store)
    if path is None:
        raise fail(f"the store is disabled (--store off or {ENV_VAR}=off); pass --store FILE to read one", 1,
                   code="store-disabled", style=False)
    data = store_summary(path, recipe=recipe)
    if output == OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
    else:
        _render(data, recipe)
