"""What every command shares: the output-format option, the stderr console, argv conveniences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from recipemut.commands._failure import err_console as err_console  # the one stderr console of the commands
from recipemut.commands._failure import say_error
from recipemut.commands._ranges import outside
from recipemut.errors import RecipemutError
from recipemut.files.jsonsafe import strict_json as strict_json  # re-exported: every command prints JSON
from recipemut.files.text import shown
from recipemut.logs.urls import log_paths
from recipemut.usecases.inputs import LogSource, parse_share, scheduler_problem

#: options that take several files, as in ``--logs a.jsonl b.jsonl`` (or ``-l a.jsonl b.jsonl``)
MULTI_FILE_OPTIONS = ("--logs", "-l")
_RECIPE_SUFFIXES = (".yaml", ".yml")


class OutputFormat(str, Enum):
    """Output for humans (text) or machines (json)."""

    text = "text"
    json = "json"


def spread_multi_options(argv: Sequence[str]) -> list[str]:
    """Let ``--logs a b c`` mean ``--logs a --logs b --logs c`` (``a b c`` for ``convert``: they are its arguments).

    Click gives an option one value per occurrence, so a shell glob after ``--logs`` would
    otherwise spill into the positional arguments. Words after ``--logs VALUE`` that are not
    options (``-``, standard input, is a value) and do not look like a recipe (``.yaml``/``.yml``)
    are taken as further values; when the recipe came first, right after the command (``profile
    RECIPE --logs ...``, as every example writes it), every such word is a log: Argo and Tekton run
    histories are YAML (``--logs runs/*.yaml``).

    >>> spread_multi_options(["profile", "r.yaml", "--logs", "a.jsonl", "b.jsonl.gz", "--strict"])
    ['profile', 'r.yaml', '--logs', 'a.jsonl', '--logs', 'b.jsonl.gz', '--strict']
    >>> spread_multi_options(["profile", "r.yaml", "--logs", "a.jsonl", "-", "--strict"])
    ['profile', 'r.yaml', '--logs', 'a.jsonl', '--logs', '-', '--strict']
    >>> spread_multi_options(["profile", "--logs", "a.jsonl", "r.yaml"])
    ['profile', '--logs', 'a.jsonl', 'r.yaml']
    >>> spread_multi_options(["profile", "wf.yaml", "--logs", "runs-1.yaml", "runs-2.yaml"])
    ['profile', 'wf.yaml', '--logs', 'runs-1.yaml', '--logs', 'runs-2.yaml']
    >>> spread_multi_options(["x", "--", "--logs", "a", "b"])
    ['x', '--', '--logs', 'a', 'b']
    """
    out: list[str] = []
    i, n = 0, len(argv)
    command = next((k for k, w in enumerate(argv) if not w.startswith("-")), n)
    recipe_first = command + 1 < n and not argv[command + 1].startswith("-")
    convert = command < n and argv[command] == "convert"  # its logs are arguments: --logs/-l as the others write them
    while i < n:
        word = argv[i]
        out.append(word)
        i += 1
        if word == "--":
            out.extend(argv[i:])
            break
        if convert and word in MULTI_FILE_OPTIONS:
            out.pop()
            continue
        if word in MULTI_FILE_OPTIONS and i < n:
            out.append(argv[i])
            i += 1
            while i < n and _log_value(argv[i], recipe_given=recipe_first):
                out.extend([word, argv[i]])
                i += 1
    return out


def _log_value(word: str, *, recipe_given: bool) -> bool:
    if word == "-":
        return True
    return not (word.startswith("-") or (not recipe_given and word.lower().endswith(_RECIPE_SUFFIXES)))


# ---- reading logs: the same options, the same warnings, in every command that takes --logs --------

LOG_FORMAT_CHOICES = ("auto", "native", "otlp", "jaeger", "zipkin")


class LogFormat(str, Enum):
    """How to read --logs files (auto: detected from the content)."""

    auto = "auto"
    native = "native"
    otlp = "otlp"
    jaeger = "jaeger"
    zipkin = "zipkin"


class UsageSentence(typer.BadParameter):
    """A usage error (exit 2) said as a sentence of its own, not as ``Invalid value for ...: ...``."""

    def format_message(self) -> str:
        return self.message


def written_as(what: str, suffixes: Sequence[str], *, hint: str = "", folder: bool = False) -> Any:
    """The callback of an output option whose format comes from the file's name (docs/commands/index.md): a
    name not ending in one of ``suffixes`` (any case; with ``folder``, nor a folder) is a usage error, exit 2,
    before any work, whether the file is there or not, naming ``what`` is written and the names to give.

    >>> written_as("the chart is PNG or SVG", (".png", ".svg"))("c.SVG")
    'c.SVG'
    """

    def check(value: Any) -> Any:
        if value is None:
            return None
        name = str(value)
        from recipemut.usecases.convert import is_folder_target  # one folder rule; imported when an output is named

        if folder and is_folder_target(name):
            return value
        base = Path(name).name.lower()
        if not any(base.endswith(s) and len(base) > len(s) for s in suffixes):
            stars = [f"*{s}" for s in suffixes]
            names = hint or (", ".join(stars[:-1]) + " or " if stars[1:] else "") + stars[-1]
            names += ", or a folder ending in /" if folder else ""
            raise typer.BadParameter(f"{shown(name)}: {what} (name the file {names})")
        return value

    return check


def share_value(text: str, example: str = "0.1 or 10% for one in ten") -> float:
    """``text`` read as a share of requests (:func:`~recipemut.usecases.inputs.parse_share`), else a usage
    error saying how to write one (``example``); its range is the option's to check."""
    try:
        return parse_share(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a share of requests: write {example}") from None


def share(text: str) -> float:
    """Option parser: a share of requests written ``0.1`` or ``10%`` (as ``--tolerance`` takes them)."""
    value = share_value(text)
    if text.strip().endswith("%") and not (0.0 < value <= 1.0):  # said as a percentage: answered as one
        raise typer.BadParameter(f"{text.strip()} is outside (0%, 100%]: a share of requests, 10% for one in ten")
    return value


def share_in(
    low: float, high: float, meaning: str, example: str, *, closed: bool = True
) -> Callable[[str | float], float]:
    """Option parser: a share written 0.2 or 20% (as ``--tolerance`` takes them) in [low, high] (``closed``) or
    (low, high), else a usage error said as typed (``150% is outside 1% to 99%: ...``), asking whether a
    percentage was meant when a number over 1 is given without ``%``."""

    def parse(text: str | float) -> float:
        if not isinstance(text, str):  # the option's default, which typer passes through the parser too
            return float(text)
        value = share_value(text, example)
        if (low <= value <= high) if closed else (low < value < high):
            return value
        typed, percent = text.strip(), text.strip().endswith("%")
        lo, hi = (f"{low * 100:g}%", f"{high * 100:g}%") if percent else (f"{low:g}", f"{high:g}")
        bounds = f"{lo} to {hi}" if closed else f"({lo}, {hi})"  # closed as every range is said (_ranges.outside)
        hint = f" (a percentage? {value:g}% is {value / 100:g})" if not percent and 1.0 < value <= 100.0 else ""
        raise typer.BadParameter(f"{typed} is outside {bounds}: {meaning}{hint}")

    return parse


def in_range(low: float, high: float, meaning: str) -> Any:
    """Option callback: the value in [low, high], else a usage error giving it, the range and ``meaning``."""

    def check(value: float | None) -> float | None:
        if value is not None and not (low <= value <= high):
            raise typer.BadParameter(outside(value, low, high, meaning))  # the wording of every range
        return value

    return check


def check_rate(value: float | None) -> float | None:
    """Option callback: a sample rate is a share of requests, in (0, 1], and not below
    :data:`~recipemut.logs.checks.MIN_SAMPLE_RATE` (a log's ``sample_rate`` is held to the same)."""
    from recipemut.logs.checks import MIN_SAMPLE_RATE, rate_too_small

    if value is not None and not (0.0 < value <= 1.0):
        hint = f" (a percentage? {value:g}% is {value / 100:g})" if 1.0 < value <= 100.0 else ""
        raise typer.BadParameter(f"{value:g} is outside (0, 1]: a share of requests, 0.1 for one in ten{hint}")
    if value is not None and value < MIN_SAMPLE_RATE:
        raise typer.BadParameter(rate_too_small(value))
    return value


def _check_logs(value: list[str] | None) -> list[Path] | None:
    """At most one ``-`` (standard input); the values as paths (:func:`~recipemut.logs.urls.log_paths`)."""
    if (value or []).count("-") > 1:
        raise typer.BadParameter("'-' (standard input) is given more than once; it can be read once")
    try:  # on the text: Path makes file://HOST/x file:/HOST/x, and the host cannot be told any more
        return None if value is None else log_paths(value)
    except RecipemutError as e:
        raise typer.Exit(say_error(e)) from None


def _options() -> dict[str, Any]:
    return {
        "logs": typer.Option(
            "--logs",
            "-l",
            callback=_check_logs, parser=str,  # paths made of the text by _check_logs
            help="Execution logs: native JSONL (plain, gzip or zstd), OTLP/Jaeger/Zipkin JSON, or Parquet (a file, "
            "a folder of them, or a quoted glob); "
            "several files after one --logs, or --logs repeated; - reads standard input "
            "(zcat logs.jsonl.gz | recipemut ... --logs -).",
            show_default=False,
        ),
        "strict": typer.Option("--strict", help="Fail on the first bad log line instead of counting it."),
        "sample_rate": typer.Option(
            "--sample-rate",
            callback=check_rate, parser=share, metavar="FRACTION",
            help="Share of requests the tracer kept (default 1), for spans that carry no sample_rate; to read a "
            "sample of the logs, use --sample-requests instead.",
            show_default=False,
        ),
        "log_format": typer.Option(
            "--log-format", help="Log format; auto detects it from each file's content. Parquet is always "
            "found by its content (PAR1), with auto or native: no format names it."
        ),
        "sample_requests": typer.Option(
            "--sample-requests",
            callback=check_rate, parser=share,
            metavar="FRACTION",
            help="Keep this share of requests (0.1 or 10%), whole, chosen by a hash of request_id (the same ones in "
            "every "
            "file, run and variant); the request rate still counts every request. 1 keeps all.",
            show_default=False,
        ),
        "memory_budget": typer.Option(
            "--memory-budget",
            metavar="SIZE",
            help="Memory the logs may take (512M, 2G, 1.5GiB, bytes; off: no limit). Logs estimated beyond it are "
            "sampled, with a note. Default: $RECIPEMUT_MEMORY_BUDGET, else half the available memory, at most 4G.",
            show_default=False,
        ),
        "engine": typer.Option(
            "--engine",
            help="local: read the logs here; dask: read them partition by partition (Parquet row groups, 64 MiB "
            "of JSONL) on a Dask cluster, merge the per-operation figures of every span, replay the sample here.",
        ),
        "scheduler": typer.Option(
            "--scheduler",
            metavar="ADDRESS",
            help="The Dask scheduler (tcp://host:8786) for --engine dask; default: a local cluster of 2 workers.",
            show_default=False,
        ),
        "mapping": typer.Option(
            "--map",
            help="Span-to-operation mapping file for OTLP/Jaeger/Zipkin traces (its keys: docs/log-format.md, "
            '"From spans to operations"; its JSON Schema: recipemut/schemas/mapping.schema.json, installed with '
            "the package).",
            show_default=False,
        ),
    }


_OPTS = _options()
def named_file(value: Path) -> Path:
    """Argument callback: a recipe or engine file is read by name; ``-`` (standard input) is for ``--logs`` only."""
    if str(value) == "-":
        raise typer.BadParameter(
            "standard input is read by --logs only; name the file (save it first: ... > workflow.yaml)"
        )
    return value


RecipeArg = Annotated[Path, typer.Argument(
    metavar="RECIPE", show_default=False, callback=named_file,
    help="The recipe: its YAML, or an Argo, Tekton, Step Functions, Serverless Workflow or GitHub Actions file.",
)]
#: ``Annotated`` aliases, the log options written once; defaults go in the signature:
#: ``def cmd(recipe: RecipeArg, logs: LogsOpt, strict: StrictOpt = False, log_format: LogFormatOpt = LogFormat.auto)``
#: and :func:`log_source` turns them into one :class:`~recipemut.usecases.inputs.LogSource`
LogsOpt = Annotated[list[Path], _OPTS["logs"]]
StrictOpt = Annotated[bool, _OPTS["strict"]]
SampleRateOpt = Annotated[Optional[float], _OPTS["sample_rate"]]  # noqa: UP045 - typer reads the runtime type
LogFormatOpt = Annotated[LogFormat, _OPTS["log_format"]]
MapOpt = Annotated[Optional[Path], _OPTS["mapping"]]  # noqa: UP045
SampleRequestsOpt = Annotated[Optional[float], _OPTS["sample_requests"]]  # noqa: UP045
MemoryBudgetOpt = Annotated[Optional[str], _OPTS["memory_budget"]]  # noqa: UP045


class Engine(str, Enum):
    """Where the logs are read: here, or partition by partition on a Dask cluster."""

    local = "local"
    dask = "dask"


EngineOpt = Annotated[Engine, _OPTS["engine"]]
SchedulerOpt = Annotated[Optional[str], _OPTS["scheduler"]]  # noqa: UP045


def log_source(
    logs: list[Path],
    *,
    strict: bool = False,
    sample_rate: float | None = None,
    log_format: LogFormat = LogFormat.auto,
    mapping: Path | None = None,
    sample_requests: float | None = None,
    memory_budget: str | None = None,
    engine: Engine = Engine.local,
    scheduler: str | None = None,
) -> LogSource:
    """The log options of a command (:data:`LogsOpt`, :data:`StrictOpt`, :data:`SampleRateOpt`,
    :data:`LogFormatOpt`, :data:`MapOpt`) as one value, built once at the edge and handed down.

    >>> log_source([Path("a.jsonl")], log_format=LogFormat.otlp).log_format
    'otlp'
    """
    return LogSource(
        paths=tuple(logs),
        log_format=LogFormat(log_format).value,
        strict=strict,
        sample_rate=sample_rate,
        mapping=mapping,
        sample_requests=sample_requests,
        memory_budget=check_budget(memory_budget),
        engine=Engine(engine).value,
        scheduler=_dask_options(engine, scheduler, mapping),
    )


def _dask_options(engine: Engine, scheduler: str | None, mapping: Path | None = None) -> str | None:
    """``--scheduler`` is for ``--engine dask``; ``--map`` (traces) is not: that engine reads no traces."""
    if scheduler is not None and Engine(engine) != Engine.dask:
        raise UsageSentence("--scheduler needs --engine dask: it names the Dask scheduler that reads the logs")
    if scheduler is not None and (problem := scheduler_problem(scheduler)):
        raise typer.BadParameter(problem, param_hint="'--scheduler'")
    if mapping is not None and Engine(engine) == Engine.dask:
        raise typer.BadParameter(
            "maps traces, which --engine dask does not read: recipemut convert TRACES --recipe RECIPE --map FILE -o "
            "x.parquet writes them mapped to the recipe, as Parquet it reads",
            param_hint="'--map'",
        )
    return scheduler


def check_budget(value: str | None) -> str | None:
    """``--memory-budget`` checked: a size (512M, 2G, a number of bytes) or off."""
    if value is None:
        return None
    if not value.strip():
        raise typer.BadParameter("'' is not a size: give one (512M, 2G) or off for no limit",
                                 param_hint="'--memory-budget'")
    from recipemut.logs.sample import parse_size

    try:
        parse_size(value)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="'--memory-budget'") from None
    return value


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Show no progress on standard error.")]
#: the largest ``--seed``: numpy's generators take any whole number from 0, the log generator's clock a C long;
#: a negative seed was numpy's ValueError traceback
SEED_MAX = 2**32 - 1
#: ``--seed`` of suggest and report (``seed: SeedOpt = 0``)
SeedOpt = Annotated[int, typer.Option(
    "--seed", min=0, max=SEED_MAX, help="Seed of every random draw (imputation, bootstrap).")]
#: ``--lock-timeout`` of apply, rollback and evaluate (``lock_timeout: LockTimeoutOpt = DEFAULT_LOCK_TIMEOUT_S``):
#: -5 and nan were taken (a write went ahead with -5)
LockTimeoutOpt = Annotated[float, typer.Option(
    "--lock-timeout", min=0.0, max=86_400.0, help="Seconds to wait for another writer, up to a day.")]
#: ``--store`` of suggest, report and evaluate (``store: StoreOpt = None``; ``learn.store.store_path`` resolves it)
StoreOpt = Annotated[Optional[Path], typer.Option(  # noqa: UP045 - typer reads the runtime type
    "--store", show_default=False,
    help="Profile store: what it has learned orders suggest's candidates, and this run is recorded in it "
    "(default: $RECIPEMUT_STORE, else store.sqlite in .recipemut/; --store off or RECIPEMUT_STORE=off: none).",
)]


MAX_WARNINGS = 5


def warn_ingest(report: Any, *, max_warnings: int = MAX_WARNINGS) -> None:
    """Print an ingest report's rejected lines, exclusions and notes as warnings on stderr."""
    for e in report.examples[:max_warnings]:
        err_console.print(f"[yellow]warning:[/] rejected {shown(str(e))}")
    more = report.rejected_total - min(len(report.examples), max_warnings)
    if more > 0:
        by = ", ".join(f"{k}: {v:,}" for k, v in report.rejected.items())
        err_console.print(
            f"[yellow]warning:[/] {more:,} more rejected {report.rejected_noun(more)} "
            f"(of {report.rejected_total:,} in all: {shown(by)}); "
            "--format json lists examples"
        )
    for what, counts in (("operations not in the recipe", report.unknown_ops), ("other recipes", report.other_recipes)):
        if counts:
            names = ", ".join(f"{k} ({v:,})" for k, v in list(counts.items())[:8])
            n = sum(counts.values())
            err_console.print(
                f"[yellow]warning:[/] excluded {n:,} span{'s' if n != 1 else ''} of {what}: {shown(names)}"
                + (" ..." if len(counts) > 8 else "")
            )
    mismatches = getattr(report, "mismatches", ())  # spans of another recipe version or service
    for m in mismatches[:8]:
        err_console.print(f"[yellow]warning:[/] {shown(m.message())}")
    if len(mismatches) > 8:
        err_console.print(f"[yellow]warning:[/] {len(mismatches) - 8} more mismatches; --format json lists them")
    for u in getattr(report, "unmatched", ()):  # a mapping rule that took no span
        err_console.print(f"[yellow]warning:[/] {shown(str(u))}")
    for note in report.notes:
        err_console.print(f"note: {shown(note)}")
