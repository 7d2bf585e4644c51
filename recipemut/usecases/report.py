"""Report: suggest and forecast on one reading of the logs, rendered as one self-contained HTML page.

The flow is the two use cases' own: :func:`recipemut.usecases.inputs.load_inputs` once (with the
recipe's document, primary variant only, as ``suggest`` reads it), then
:func:`recipemut.usecases.suggest.suggest` and :func:`recipemut.usecases.forecast.build_report`
on those inputs; :func:`recipemut.report.page.report_page` renders, and the page is written
atomically after the output path was checked (before any work).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from recipemut.files.progress import NO_PROGRESS, Progress
from recipemut.forecast.rates import DEFAULT_HORIZON_DAYS
from recipemut.usecases.inputs import LogSource, load_inputs

if TYPE_CHECKING:
    from recipemut.forecast.capacity import CapacityReport
    from recipemut.plan.search import SearchSettings
    from recipemut.usecases.suggest import Suggestion, Warn

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ReportRun:
    """What ``recipemut report`` made: the suggestion, the forecast, and the page written."""

    suggestion: Suggestion
    forecast: CapacityReport
    out: Path
    size: int  # bytes written


def run_report(
    recipe_path: str | os.PathLike[str],
    source: LogSource,
    settings: SearchSettings,
    *,
    out: str | os.PathLike[str],
    store: Path | None,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    top: int = 10,
    warn: Warn = log.warning,
    progress: Progress = NO_PROGRESS,
) -> ReportRun:
    """Suggest and forecast ``recipe_path`` from ``source``'s logs and write the HTML report to ``out``.

    ``out`` is refused before any work when it is one of the inputs (the recipe, its history or
    lock, a log, the mapping), a link or in a missing folder. ``store`` and ``warn`` are
    :func:`~recipemut.usecases.suggest.suggest`'s; ``progress`` is told each stage (reading, profiling,
    the search, ``forecasting``, ``drawing the report``). Raises what the loader, the log reader and the
    search raise, and :class:`~recipemut.errors.InputFileError` when the page cannot be written.
    """
    from recipemut import __version__
    from recipemut.files.kinds import PAGE
    from recipemut.files.write import atomic_write, check_output_path
    from recipemut.report.page import ReportInputs, report_page
    from recipemut.usecases.forecast import build_report
    from recipemut.usecases.suggest import suggest

    target = check_output_path(
        out, recipes=[recipe_path], inputs=source.input_files(), example="report.html", kind=PAGE
    )
    inputs = load_inputs(recipe_path, source, document=True, primary_only=True, progress=progress)
    found = suggest(inputs, settings, store=store, warn=warn, progress=progress)
    progress.task("forecasting")
    capacity = build_report(inputs, horizon_days=horizon_days, sample_rate=source.sample_rate)
    progress.task("drawing the report")
    if inputs.profile is None:  # load_inputs profiles by default; kept for the type checker
        raise ValueError("report needs profiled inputs")
    page = report_page(
        ReportInputs(
            recipe_path=inputs.path,
            result=found.result,
            report=found.report,
            capacity_lines=found.headroom,
            profile=inputs.profile,
            forecast=capacity,
            ingest_summary=inputs.report.summary(),
            tool=f"recipemut {__version__}",
            top=top,
        )
    )
    data = page.encode("utf-8")
    atomic_write(target, data)
    return ReportRun(found, capacity, target, len(data))
