"""`recipemut generate`: write a realistic execution log for a recipe (no production logs needed)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import typer

from recipemut.commands._common import (
    SEED_MAX,
    OutputFormat,
    check_budget,
    check_rate,
    err_console,
    share_in,
    written_as,
)
from recipemut.commands._failure import fail
from recipemut.commands._ranges import number_words, outside
from recipemut.files.text import console, shown
from recipemut.logs.sources import PARQUET_SUFFIXES

#: usecases.generate.WRITTEN's keys, not imported for -h (pandas); tests/test_cli_polish7.py checks they agree
WRITTEN_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", *PARQUET_SUFFIXES)


def _usage(message: str) -> typer.Exit:
    """A command-line mistake: one line on stderr (and JSON under --format json), exit code 2 (as click's)."""
    return fail(message, 2, code="usage")


def _parse_treatment(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = float("nan")
        if not sep or not key or factor != factor or key.partition("@")[2] not in ("", "cost", "error"):
            raise _usage(
                f"--treatment {item!r}: expected OP=FACTOR (latency), OP@cost=FACTOR, OP@error=PROB or *=FACTOR"
            )
        if key.endswith("@error") and not 0.0 <= factor <= 1.0:  # the generator's own check said it, exit 1
            raise _usage(f"--treatment {item!r}: {outside(factor, 0, 1, 'an error rate')}")
        if not key.endswith("@error") and not 0.0 < factor <= 1000.0:  # 0: every latency one tick
            said = f"{number_words(factor)} is outside (0, 1000]: a factor, 0.8 for 20% less"
            raise _usage(f"--treatment {item!r}: {said}")
        out[key] = factor
    return out


def _parse_start(start: str | None) -> float:
    if start is None:
        from recipemut.loggen import DEFAULT_START_MS  # loggen imports pandas: not for -h

        return DEFAULT_START_MS
    try:
        t = datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        raise _usage(f"--start {start!r} is not an ISO 8601 date/time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp() * 1000.0


def generate(
    recipe_path: Path = typer.Argument(..., metavar="RECIPE", help="The recipe YAML to generate traffic for."),
    requests: int = typer.Option(
        ..., "--requests", "-n", min=1, help="Requests over the whole window (before sampling)."
    ),
    out: Path = typer.Option(..., "--out", "-o", callback=written_as("generate writes a log in the format its name "
                             "says", WRITTEN_SUFFIXES), help="Log file to write, in the format its name says: .jsonl, "
                             ".jsonl.gz (gzip), .jsonl.zst (zstd) or .parquet/.parq/.pq (as convert writes it)."),
    force: bool = typer.Option(False, "--force", help="Replace --out when it is there already (refused without)."),
    params: Path | None = typer.Option(
        None, "--params", help="Generation parameters (default: loggen.yaml beside the recipe, when present)."
    ),
    days: float = typer.Option(14.0, "--days", min=0.001, max=3660, help="Length of the window, in days (up to ten "
                               "years)."),
    start: str | None = typer.Option(
        None, "--start", help="Start of the window, ISO 8601 (default 2025-11-24T00:00Z)."
    ),
    growth: float = typer.Option(0.0, "--growth", min=-0.99, max=10.0, help="Traffic growth per day: 0.03 is +3%/day, "
                                 "-0.02 is -2%/day."),
    diurnal: float = typer.Option(0.6, "--diurnal", min=0.0, max=1.0, help="Amplitude of the daily cycle."),
    weekly: float = typer.Option(0.0, "--weekly", min=0.0, max=1.0, help="Amplitude of the weekly cycle."),
    sample_rate: float | None = typer.Option(
        None,
        "--sample-rate",
        callback=check_rate,
        metavar="FRACTION",
        help="The tracer's sample rate, as --sample-rate is elsewhere: keep this share of requests, in (0, 1], "
        "each independently, and write it as sample_rate on every span, so profile and forecast scale the request "
        "rate back up by it (a log as a sampling tracer writes it).",
    ),
    canary: float | None = typer.Option(
        None, "--canary", parser=share_in(0.0, 1.0, "the share of requests sent to the canary variant",
                                          "0.2 or 20% for one in five"), metavar="FRACTION",
        help="Share of requests sent to a variant named 'canary' (0.2 or 20%)."
    ),
    treatment: list[str] = typer.Option(
        [],
        "--treatment",
        help="Change the canary: OP=FACTOR scales latency, OP@cost=FACTOR cost, OP@error=PROB sets the error rate, "
        "*=FACTOR scales every latency.",
    ),
    seed: int = typer.Option(0, "--seed", min=0, max=SEED_MAX, help="Random seed: the same seed gives the same log."),
    memory_budget: str | None = typer.Option(
        None, "--memory-budget", metavar="SIZE",
        help="Memory the generation may take (512M, 2G, bytes; off: no check). The log is built whole in memory "
        "(about 1 KB a span): an estimate over it is refused before any work. Default: the available memory.",
        show_default=False,
    ),
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Summary as text or json."),
) -> None:
    """Write a realistic execution log for RECIPE.

    Requests arrive as a Poisson process with a daily cycle and growth.
    Each runs through the recipe's DAG: heavy-tailed latencies, bytes
    that drive latency, Zipf-popular cache keys, halts and errors.
    Per-operation behaviour comes from loggen.yaml beside the recipe.

    Example:

        recipemut generate recipes/checkout/recipe.yaml -n 4000000 \\
            --sample-rate 0.001 --growth 0.03 --seed 1 --out logs.jsonl.gz
    """
    if treatment and canary is None:
        raise _usage("--treatment needs --canary SHARE")
    from recipemut.logs.sample import parse_size
    from recipemut.usecases.generate import Traffic, generate_log

    try:
        check_budget(memory_budget)  # the one check of every --memory-budget
    except typer.BadParameter as e:
        raise _usage(f"--memory-budget: {e.message}") from None
    budget = parse_size(memory_budget)

    traffic = Traffic(
        requests, _parse_start(start), days, growth, diurnal, weekly, sample_rate, canary,
        _parse_treatment(treatment) if treatment else None, seed,
    )
    summary = generate_log(
        recipe_path, out, traffic, params=params, force=force, memory_budget=budget,
        warn=lambda m: err_console.print(f"[yellow]warning:[/] {shown(m)}"),
    )
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(summary, indent=2))
        return
    used = summary["params"]
    console(soft_wrap=True).print(
        f"wrote {summary['spans']:,} spans of {summary['requests']:,} requests of [bold]{shown(summary['recipe'])}[/] "
        f"to {shown(out)}" + (f" (parameters from {shown(used)})" if used is not None else " (default parameters)")
    )
