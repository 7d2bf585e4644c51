"""Workflow engines' run histories read as logs: one run is one request, each step a span.

Four formats, told by content (:func:`recipemut.files.runsniff.sniff`, asked by
:mod:`recipemut.logs.detect`), JSON or YAML, plain or gzip, one run or many per file:

* ``argo``: Argo Workflow objects with ``status.nodes`` (:mod:`.argo`);
* ``tekton``: Tekton PipelineRun and TaskRun objects (:mod:`.tekton`);
* ``stepfunctions``: Step Functions ``GetExecutionHistory`` responses (:mod:`.stepfunctions`);
* ``github-actions``: GitHub Actions run-jobs API responses (:mod:`.githubactions`).

Step names become operation ids by the one rule of :mod:`recipemut.recipe.engines.names`, so a
history's spans land on the operations of the recipe imported from the same engine's definition.
:func:`read_table` returns the span table (:data:`~recipemut.logs.spans.SPAN_SCHEMA` and the call
columns), the counts of :data:`~recipemut.logs.runs.rows.COUNT_KEYS` (runs read, runs still in
progress and left out, skipped steps, ...) and notes for the ingest report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa

from recipemut.errors import LogError
from recipemut.files.read import human_size
from recipemut.files.runsniff import LABELS, sniff
from recipemut.logs.common import read_bytes
from recipemut.logs.runs import argo, githubactions, stepfunctions, tekton
from recipemut.logs.runs.rows import COUNT_KEYS, Rows, documents
from recipemut.recipe.model import Recipe

#: the run-history formats, as detection names them
FORMATS = ("argo", "tekton", "stepfunctions", "github-actions")
_READERS = {"argo": argo, "tekton": tekton, "stepfunctions": stepfunctions, "github-actions": githubactions}
log = logging.getLogger(__name__)
#: most bytes a run history may hold (decompressed): it is parsed whole into Python objects, about
#: ten times its size in memory, where a span log is read in columns; a bigger history is split
#: into several files. Past it reading stops, so a gzip that inflates to gigabytes never fills memory.
MAX_HISTORY_BYTES = 256 * 1024**2
_ENGINES = {"argo": "Argo", "tekton": "Tekton", "stepfunctions": "Step Functions", "github-actions": "GitHub Actions"}


def read_table(
    path: str | Path, fmt: str, *, recipe: Recipe | None, strict: bool = False
) -> tuple[pa.Table, dict[str, int], list[str]]:
    """One run-history file (format ``fmt``, one of :data:`FORMATS`) as the span table, counts, notes.

    Raises :class:`~recipemut.errors.LogError` when the file is not valid JSON/YAML, is of another
    shape (a workflow definition given as a history says so), or under ``strict`` a step has no
    usable time; :class:`~recipemut.errors.InputFileError` when unreadable.
    """
    p = Path(path)
    if fmt not in _READERS:
        raise LogError(f"unknown run-history format '{fmt}' (expected one of {', '.join(FORMATS)})", file=str(p))
    rows = Rows(p, recipe)
    docs = list(documents(_read_history(p), p))
    if not docs:
        raise LogError(f"empty {LABELS[fmt]}", file=str(p), code="empty")
    try:
        _READERS[fmt].collect(docs, rows)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as e:  # a shape no reader foresaw
        log.debug("reading %s as %s", p, fmt, exc_info=True)
        raise LogError(
            f"could not read this {LABELS[fmt]} ({type(e).__name__}: {e}); a key holds an unexpected value",
            file=str(p),
            code="bad-shape",
        ) from None
    return rows.table(engine=_ENGINES[fmt], strict=strict)


def _read_history(p: Path) -> bytes:
    """The history's bytes (gunzipped), at most :data:`MAX_HISTORY_BYTES`; errors as one line."""
    return read_bytes(
        p,
        limit=MAX_HISTORY_BYTES,
        what="run history",
        too_large=f"run history larger than {human_size(MAX_HISTORY_BYTES)} (decompressed); a history is read "
        "whole, split it into several files",
    )


__all__ = ["COUNT_KEYS", "FORMATS", "LABELS", "read_table", "sniff"]
