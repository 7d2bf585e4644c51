"""`recipemut apply RECIPE --plan plan.json`: write the reviewed mutations back, or start a canary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.syntax import Syntax

from recipemut.commands._common import LockTimeoutOpt, OutputFormat, err_console, share_in
from recipemut.files.text import console, shown
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S

if TYPE_CHECKING:
    from recipemut.apply.transaction import WriteResult


def render_result(result: WriteResult, fmt: OutputFormat, *, show_diff: bool) -> None:
    """Print a write's outcome (shared by apply and rollback)."""
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    out = console()  # sentences wrap at words on a terminal; the diff's lines never (they are what is written)
    if show_diff and result.diff:
        console(soft_wrap=True).print(Syntax(result.diff, "diff", theme="ansi_dark", background_color="default"))
    for note in result.notes:  # on stderr, as every command's notes: stdout is the diff and the outcome
        err_console.print(f"note: {shown(note)}")
    for advice in result.advice:  # mutations an engine's file cannot express: not written
        out.print(f"[cyan]advice:[/] {shown(advice)}")
    for e in result.entries[:-1]:
        out.print(f"[yellow]recorded[/] history entry {e.seq} ({shown(e.action)}): {shown(e.reason or '')}")
    if not result.diff:
        said = result.reason if result.reason and result.reason.startswith("nothing to ") else "nothing to change"
        out.print(f"{shown(result.recipe)}: {shown(said)} (version {result.version})")
        return
    verb = "wrote" if result.written else "would write (dry run, nothing written)"
    what = f" {', '.join(result.mutations)}" if result.mutations else ""
    if result.action == "rollback":
        what = f" — {result.reason};" if result.reason else ":"
    else:
        what += ":"
    entry = f"; history entry {result.entries[-1].seq}" if result.entries else ""
    before, after = ("none" if v is None else v for v in (result.version_before, result.version))  # engine files
    out.print(
        f"{shown(result.recipe)}: {verb} {result.action}{shown(what)} version {before} -> "
        f"{after} (sha256 {result.sha256_before[:12]} -> {result.sha256_after[:12]}){entry}"
    )


def apply(
    recipe: Path = typer.Argument(..., help="The recipe YAML to change.", metavar="RECIPE"),
    plan: Path = typer.Option(..., "--plan", "-p", help="Plan file written by `recipemut suggest --out`."),
    only: list[str] = typer.Option(
        [], "--only", help="Apply only these mutation ids (repeatable; quote each: to a shell, an id's '>' redirects)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the diff; write nothing."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Apply over a hand edit, saving the edited text into the history first; also write a read-only "
        "recipe (its mode is kept).",
    ),
    canary: float = typer.Option(
        None,
        "--canary",
        parser=share_in(0.0, 1.0, "a canary takes some of the requests, not none or all", "0.2 or 20% for one in five",
                        closed=False),
        metavar="FRACTION",
        help="Keep the recipe primary and send this share of requests (0.2 or 20%), strictly between none and all, "
        "to the mutated one.",
    ),
    lock_timeout: LockTimeoutOpt = DEFAULT_LOCK_TIMEOUT_S,
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
) -> None:
    """Apply the reviewed mutations of a plan to the recipe, keeping its comments and formatting.

    The plan must have been made from exactly this recipe (its sha256 is checked: a stale plan is
    refused, naming both hashes). The result is validated, `version` is bumped, and an entry with
    the full previous text is appended to RECIPE.history.jsonl, so `recipemut rollback` restores
    it byte for byte. Writes are atomic and locked (RECIPE.lock). A hand edit made since the last
    recorded write, or a read-only RECIPE, is refused unless --force.

    With --canary SHARE the recipe stays primary and a `variants:` section sends SHARE of the
    requests to the mutated recipe; `recipemut evaluate` then promotes or rolls it back.

    Example: recipemut apply checkout.yaml --plan plan.json --only 'parallelize:lookup_tax->quote_shipping'
    """
    from recipemut.apply.transaction import apply_plan  # pandas and more: not for -h
    from recipemut.plan.planfile import load_plan

    result = apply_plan(
        recipe,
        load_plan(plan),
        only=only or None,
        dry_run=dry_run,
        force=force,
        canary=canary,
        lock_timeout_s=lock_timeout,
    )
    render_result(result, fmt, show_diff=dry_run or fmt is OutputFormat.text)
