"""`recipemut convert LOGS... --out logs.parquet`: logs of any format as one Parquet file of spans, or
``--out folder/``: one file per day, streamed."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from recipemut.commands._common import (
    LogFormat,
    LogFormatOpt,
    MapOpt,
    OutputFormat,
    QuietOpt,
    SampleRateOpt,
    StrictOpt,
    check_rate,
    err_console,
    log_source,
    share,
    warn_ingest,
    written_as,
)
from recipemut.commands._progress import progress_display
from recipemut.files.text import shown
from recipemut.logs.sources import PARQUET_SUFFIXES
from recipemut.usecases.convert import mapping_problem


def convert(
    logs: list[Path] = typer.Argument(..., metavar="LOGS", help="Log files (any format --logs reads); - is "
                                      "standard input.", show_default=False),
    out: str = typer.Option(..., "--out", "-o", metavar="PATH", help="The Parquet file to write (never one of the "
                             "logs, a link or a FIFO), or a folder (existing, or named with a trailing /): one file "
                             "per day of request start, streamed.", show_default=False,
                             callback=written_as("convert writes Parquet", PARQUET_SUFFIXES, folder=True)),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
    recipe: Path | None = typer.Option(None, "--recipe", metavar="RECIPE", show_default=False, help="Write trace "
                                       "files (OTLP, Jaeger, Zipkin, run histories) as profile RECIPE --logs reads "
                                       "them: spans mapped to its operations (by --map, then by id or action and "
                                       "service), the others left out. Needed by --map. Native and Parquet logs are "
                                       "written as they are."),
    sample_requests: float | None = typer.Option(None, "--sample-requests", callback=check_rate, parser=share,
                                                 metavar="FRACTION", show_default=False, help="Write this share of "
                                                 "requests, whole, chosen by a hash of request_id; their spans' "
                                                 "sample_rate is multiplied by it. 1 keeps all."),
    force: bool = typer.Option(False, "--force", help="Replace --out, or the day files of a folder, when there "
                               "already (refused without: nothing is written)."),
    memory_budget: str = typer.Option("off", "--memory-budget", metavar="SIZE", help="Off unless given: every request "
                                      "is written. Given (512M, 2G), logs estimated beyond it are sampled to fit."),
    output: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text or json."),
    quiet: QuietOpt = False,
) -> None:
    """Convert logs (native JSONL, OTLP, Jaeger, Zipkin, Parquet) into Parquet files of spans.

    The file keeps every column of the span table, optional ones included (span_id,
    parent_span_id, attempt, items), sorted by request (start, request_id, then ingest order);
    profile, suggest and forecast read it as --logs, as they read a folder or a glob of such files.
    Lines that ingest rejects are counted and shown as warnings, and not written. Every request is
    kept unless --sample-requests says otherwise (--memory-budget is off here unless given).

    The logs are streamed (memory holds a chunk, then a day), into one file or, given a folder,
    one file per day of request start (UTC), spans-YYYY-MM-DD.parquet; --logs reads the folder.

    Traces name spans, not operations: with --recipe (and --map where they need one) they are
    written mapped to the recipe's operations, so profile RECIPE --logs FILE gives what the traces give.

    Example:

        recipemut convert recipes/checkout/logs.jsonl.gz --out /tmp/checkout.parquet

        recipemut convert big.jsonl.zst --out /tmp/checkout-days/

        recipemut convert trace.json --recipe recipe.yaml --map mapping.yaml --out /tmp/db.parquet
    """
    from recipemut.usecases.convert import convert_logs, convert_to_folder, is_folder_target

    source = log_source(
        logs, strict=strict, sample_rate=sample_rate, log_format=log_format, mapping=mapping,
        sample_requests=sample_requests, memory_budget=memory_budget,
    )  # fmt: skip
    if problem := mapping_problem(source, recipe):
        raise typer.BadParameter(shown(problem), param_hint="'--map'")
    with progress_display(quiet=quiet, json_out=output == OutputFormat.json) as progress:
        write = convert_to_folder if is_folder_target(out) else convert_logs
        run = write(source, out, progress=progress, force=force, recipe=recipe)
    if output == OutputFormat.json:
        data = {"out": str(run.out), "rows": run.rows, "columns": list(run.columns), "bytes": run.size_bytes,
                "recipe": run.recipe, "ingest": run.report.to_dict(), **run.folder_json}
        typer.echo(json.dumps(data, indent=2))
        warn_ingest(run.report)
        _hint(run.hint)
        return
    warn_ingest(run.report)
    _hint(run.hint)
    err_console.print(shown(run.closing_line), highlight=False)


def _hint(hint: str | None) -> None:
    if hint:
        err_console.print(f"note: {shown(hint)}", highlight=False)
