"""What every command that reads logs starts from: the recipe, its spans, the ingest report, the profile.

:class:`LogSource` is the log options (files, format, mapping, strictness, sample rate) as one
value, built once at the CLI's edge; :func:`load_inputs` reads the recipe and the logs through it
and returns :class:`Inputs`. The ingest report's warnings are the caller's to show.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipemut.errors import LogError, RecipeInvalid
from recipemut.files.progress import NO_PROGRESS, Progress

if TYPE_CHECKING:  # at run time imported where used: the CLI imports this module at start-up, pandas it need not
    import pandas as pd

    from recipemut.logs.distributed import LogFigures
    from recipemut.logs.report import IngestReport
    from recipemut.profile.build import Profile
    from recipemut.recipe.model import Recipe

STDIN = "-"


@dataclass(frozen=True)
class LogSource:
    """Where the logs come from and how to read them (:func:`recipemut.logs.ingest.read_logs`).

    >>> src = LogSource.of(["a.jsonl", "-"], mapping="map.yaml")
    >>> src.paths, src.log_format
    ((PosixPath('a.jsonl'), PosixPath('-')), 'auto')
    >>> sorted(map(str, src.input_files()))
    ['a.jsonl', 'map.yaml']
    """

    paths: tuple[Path, ...]
    log_format: str = "auto"
    strict: bool = False
    sample_rate: float | None = None  # for spans that do not carry one (None: 1)
    mapping: Path | None = None  # span-to-operation mapping, for OTLP/Jaeger/Zipkin
    sample_requests: float | None = None  # share of requests kept, by a hash of request_id (None: all,
    # unless the logs would not fit in the memory budget)
    memory_budget: str | int | None = None  # what the logs may take in memory ("2G", "off"; None: default)
    engine: str = "local"  # "dask": read partition by partition on a Dask cluster (recipemut.logs.distributed)
    scheduler: str | None = None  # the Dask scheduler's address (None: an in-process LocalCluster)

    @classmethod
    def of(
        cls,
        paths: str | os.PathLike[str] | Any,
        *,
        log_format: str = "auto",
        strict: bool = False,
        sample_rate: float | None = None,
        mapping: str | os.PathLike[str] | None = None,
        sample_requests: float | None = None,
        memory_budget: str | int | None = None,
        engine: str = "local",
        scheduler: str | None = None,
    ) -> LogSource:
        """A source from one path or several (``-`` is standard input)."""
        items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        return cls(
            paths=tuple(Path(p) for p in items),
            log_format=log_format,
            strict=strict,
            sample_rate=sample_rate,
            mapping=Path(mapping) if mapping is not None else None,
            sample_requests=sample_requests,
            memory_budget=memory_budget,
            engine=engine,
            scheduler=scheduler,
        )

    def read(
        self, recipe: Recipe | None = None, *, progress: Progress = NO_PROGRESS
    ) -> tuple[pd.DataFrame, IngestReport]:
        """The span table and the ingest report; spans of other recipes or unknown operations are
        excluded (and counted) when ``recipe`` is given. ``progress`` is told the bytes read."""
        from recipemut.logs.ingest import read_logs

        return read_logs(
            list(self.paths),
            recipe=recipe,
            strict=self.strict,
            sample_rate=self.sample_rate,
            log_format=self.log_format,
            mapping=self.mapping,
            sample_requests=self.sample_requests,
            memory_budget=self.memory_budget,
            progress=progress,
        )

    def read_by_engine(
        self, recipe: Recipe, *, progress: Progress = NO_PROGRESS
    ) -> tuple[pd.DataFrame, IngestReport, LogFigures | None]:
        """:meth:`read` on the ``local`` engine; partition by partition on the others
        (:func:`~recipemut.logs.distributed.read_partitioned`: the sampled requests' spans, every
        variant's, and the whole log's figures, which :meth:`read` leaves None). What every command
        that reads logs for a recipe reads them through, so ``--engine`` means the same in each."""
        from recipemut.logs.distributed import as_url, read_partitioned

        if self.engine == "local":
            url = next((u for u in map(as_url, self.paths) if u is not None), None)
            if url is not None:  # else "s3:/bucket/key: no such file", the path Path() made of it
                raise LogError("logs at a URL are read by --engine dask (fsspec: s3://, gs://, file://, ...)",
                               file=url, code="url-engine")  # fmt: skip
            spans, report = self.read(recipe, progress=progress)
            return spans, with_mismatches(report, spans, recipe), None

        progress.task(f"finding the logs' partitions ({self.engine})")  # then the partitions counted as read
        spans, report, figures = read_partitioned(
            self.paths, recipe=recipe, engine=self.engine, scheduler=self.scheduler, strict=self.strict,
            sample_rate=self.sample_rate, sample_requests=self.sample_requests,
            memory_budget=self.memory_budget, log_format=self.log_format, progress=progress,
        )  # fmt: skip
        return spans, with_mismatches(report, spans, recipe), figures

    def input_files(self) -> dict[Path, str]:
        """The files this source reads, each with what it is: what an output may never overwrite. A
        folder or a glob is there with each file it names (``convert 'days/*.parquet' -o
        days/spans-2025-11-24.parquet`` would write over one of its logs)."""
        from recipemut.errors import InputFileError
        from recipemut.logs.parquet import expand_logs
        from recipemut.logs.urls import as_url

        files = {p: "one of the logs" for p in self.paths if str(p) != STDIN}
        for p in list(files):
            if as_url(p) is None and (p.is_dir() or not p.exists()):
                with contextlib.suppress(InputFileError):  # a folder or pattern that names no log: the reader says so
                    files.update(dict.fromkeys(expand_logs([p], note_skipped=False), "one of the logs"))
        if self.mapping is not None:
            files[self.mapping] = "the mapping file"
        return files


@dataclass(frozen=True, eq=False)
class Inputs:
    """A recipe and what its logs say about it."""

    path: Path  # the recipe file, as given
    recipe: Recipe
    spans: pd.DataFrame
    report: IngestReport
    profile: Profile | None  # None when not asked for
    text: str | None = None  # the recipe file's text, with ``document=True``
    doc: Mapping[str, Any] | None = None  # its plain data, edits address it (``document=True``)
    sha256: str | None = None  # of the file's bytes, as ``apply`` checks it (``document=True``)
    notes: tuple[str, ...] = ()  # what was done to the spans, for the user (not warnings of the report)


def load_inputs(
    recipe_path: str | os.PathLike[str],
    source: LogSource,
    *,
    profile: bool = True,
    document: bool = False,
    primary_only: bool = False,
    progress: Progress = NO_PROGRESS,
) -> Inputs:
    """Read the recipe and its logs, and profile them.

    ``document`` also keeps the recipe's text, plain data and sha256 (what a plan needs).
    ``primary_only``: when the logs hold canary variants beside the recipe's own
    (:data:`~recipemut.logs.spans.DEFAULT_VARIANT`) requests, keep only the latter (the recipe
    recorded them; a note says so). ``progress`` is told each stage (``reading the recipe``, the
    logs' bytes, ``profiling``). Raises what the loader and the log reader raise.
    """
    progress.task("reading the recipe")  # first: the imports below take a good part of a second
    from recipemut.profile.build import build_profile

    path = Path(recipe_path)
    text = doc = sha256 = None
    try:
        if document:
            from recipemut.plan.planfile import recipe_sha256
            from recipemut.recipe.loader import load_recipe_text, read_document

            doc, _, text = read_document(path)
            sha256 = recipe_sha256(path)  # of the bytes, as apply checks it
            recipe = load_recipe_text(text, file=str(recipe_path))
        else:
            from recipemut.recipe.loader import load_recipe

            recipe = load_recipe(path)
    except RecipeInvalid as e:  # a run history given as the recipe (the two swapped): say where it goes
        from recipemut.usecases.misplaced import run_history_finding

        history = run_history_finding(path)
        if history is None:
            raise
        raise RecipeInvalid([history]) from e
    spans, report, figures = source.read_by_engine(recipe, progress=progress)
    notes: list[str] = []
    primary = True  # every variant's spans are in the profile
    if primary_only:
        spans, note = _primary_spans(spans)
        notes += [note] if note else []
        primary = not note
    prof = None
    if profile:  # one vectorised pass: its count goes from none to all
        progress.task("profiling", len(spans), unit="spans")
        # a sample of requests: the cache replay corrects its repeats for it (predict/cachesim.py)
        prof = build_profile(spans, recipe, request_fraction=report.sample.fraction if report.sample else 1.0)
        if figures is not None:
            from recipemut.profile.whole import with_log_figures

            # the whole log's figures count the canary's spans too: then only its rate series is taken
            prof = with_log_figures(prof, figures, recipe, per_operation=primary)
        progress.advance(len(spans))
    return Inputs(
        path=path,
        recipe=recipe,
        spans=spans,
        report=report,
        profile=prof,
        text=text,
        doc=doc,
        sha256=sha256,
        notes=tuple(notes),
    )


def _primary_spans(spans: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The spans the recipe itself recorded when a canary ran another recipe on some requests."""
    from recipemut.logs.spans import DEFAULT_VARIANT

    # the distinct values first: a set of the column would walk every span (1.4 s at 2.9 M spans)
    variants = sorted({str(v) for v in spans["variant"].dropna().unique()}) if "variant" in spans else []
    if len(variants) <= 1 or DEFAULT_VARIANT not in variants:
        return spans, ""
    others = [v for v in variants if v != DEFAULT_VARIANT]
    note = (
        f"the logs hold canary variants ({', '.join(others)}); "
        f"only the {DEFAULT_VARIANT!r} requests are replayed"
    )
    return spans[spans["variant"].astype(str) == DEFAULT_VARIANT], note


def with_mismatches(report: IngestReport, spans: pd.DataFrame, recipe: Recipe) -> IngestReport:
    """``report`` with the spans another version of the recipe logged, or that ran on another service
    (:func:`~recipemut.logs.mismatch.find_mismatches`; a trace file's services are not compared), and the
    operations of the recipe with no span (:func:`~recipemut.logs.unmatched.no_span_operations`)."""
    import dataclasses

    from recipemut.logs.mismatch import find_mismatches
    from recipemut.logs.unmatched import no_span_operations

    native = [f for f, kind in report.formats.items() if kind in ("native", "parquet")]
    found = find_mismatches(spans, recipe, service_files=None if len(native) == len(report.formats) else native)
    seen = {str(v) for v in spans["op"].dropna().unique()} if "op" in spans else set()
    silent = no_span_operations(recipe, seen, unknown=report.unknown_ops, unmapped=report.unmapped,
                                sampled=report.sample is not None and report.sample.fraction < 1,
                                rules=report.unmatched)  # fmt: skip
    if not found and not silent:
        return report
    return dataclasses.replace(report, mismatches=found, unmatched=(*report.unmatched, *silent))


def request_sampling(report: IngestReport) -> dict[str, Any]:
    """``{"request_sampling": {...}}`` (:meth:`~recipemut.logs.sample.RequestSample.to_dict`) when ingest
    sampled the requests, else ``{}``: what a command's JSON adds, so that a reader of the JSON alone
    knows its figures are a sample's (the note says it on standard error only)."""
    return {} if report.sample is None else {"request_sampling": report.sample.to_dict()}


def parse_share(text: str) -> float:
    """A share written ``0.05`` or ``5%`` (``--tolerance``, ``--sample-requests``); ``ValueError`` otherwise.

    >>> parse_share("5%"), parse_share("0.1"), parse_share(" 10 % "), parse_share("14.3%")
    (0.05, 0.1, 0.1, 0.143)
    """
    value = text.strip()
    percent = value.endswith("%")
    return float(f"{float(value.removesuffix('%').strip()) / (100.0 if percent else 1.0):.12g}")  # 14.3% is 0.143


def sample_rates(report: IngestReport) -> dict[str, Any]:
    """The two samplings of the logs, apart and combined, in the names the JSON gives them.

    ``tracer_sample_rates``: each span's ``sample_rate`` as the tracer wrote it (head sampling;
    ``--sample-rate`` where a span has none) -> spans kept; ``request_sample``: the share of
    requests this run kept (``--sample-requests`` or the memory budget; 1: all);
    ``effective_sample_rates``: their product -> spans (the ingest report's ``sample_rates``):
    each request kept stands for 1/rate requests.
    """
    fraction = 1.0 if report.sample is None else float(report.sample.fraction)
    effective = {float(k): int(v) for k, v in report.sample_rates.items()}
    tracer = {float(f"{k / fraction:.12g}"): v for k, v in effective.items()}
    return {
        "tracer_sample_rates": {repr(k): v for k, v in tracer.items()},
        "request_sample": fraction,
        "effective_sample_rates": {repr(k): v for k, v in effective.items()},
    }


def sample_rate_words(report: IngestReport) -> str:
    """The sample rates in words, as the text output shows them beside the JSON's names.

    ``tracer sample rate 0.001`` when the logs are read whole; ``sample rate 0.0002 (tracer 0.001
    x request sample 0.2)`` when only a share of the requests was read.
    """
    rates = sample_rates(report)
    tracer = ", ".join(f"{float(k):g}" for k in rates["tracer_sample_rates"]) or "1"
    plural = "s" if len(rates["tracer_sample_rates"]) > 1 else ""
    if report.sample is None:
        return f"tracer sample rate{plural} {tracer}"
    effective = ", ".join(f"{float(k):g}" for k in rates["effective_sample_rates"]) or f"{rates['request_sample']:g}"
    return f"sample rate{plural} {effective} (tracer {tracer} x request sample {rates['request_sample']:g})"


#: a Dask scheduler's address: a scheme distributed knows and host:port, or host:port alone
_SCHEDULER = re.compile(r"(?:(?:tcp|tls|ws|wss|ucx)://)?(?:\[[0-9A-Fa-f:.]+\]|[\w.-]+):\d{1,5}/?|inproc://\S+")


def scheduler_problem(address: str) -> str | None:
    """Why ``address`` cannot be a Dask scheduler's (``None`` when it can), before any connection is
    tried: without it, ``foo`` was said to be unreachable "within 5s", and ``http://...`` too.

    >>> scheduler_problem("tcp://10.0.0.5:8786") is None, scheduler_problem("10.0.0.5:8786") is None
    (True, True)
    >>> scheduler_problem("foo")
    "'foo' is not a scheduler address: give tcp://HOST:PORT (a Dask scheduler listens on 8786)"
    """
    if _SCHEDULER.fullmatch(address):
        return None
    return f"{address!r} is not a scheduler address: give tcp://HOST:PORT (a Dask scheduler listens on 8786)"
