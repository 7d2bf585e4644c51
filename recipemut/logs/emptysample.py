"""The error of a request sample that kept none of the requests, in the words every reader of logs
gives it (ingest, the partitioned engines): what to make larger, the option that chose the fraction.

>>> print(empty_sample(0.001, 250, "--sample-requests 0.001").message)
the sample of 0.001 of requests kept none of the 250 requests; give a larger --sample-requests (1 reads every request)
>>> "give a larger --memory-budget" in empty_sample(1e-06, 250, "the logs would take about 3 GiB ...").message
True

The other refusals of logs that give no span, the same from ingest and the partitioned engines: a
file whose every line is rejected (:func:`all_rejected`), what a file that gave nothing holds
(:func:`nothing_read`), no span of the recipe (:func:`no_recipe_spans`), no span at all
(:func:`no_spans`).

>>> nothing_read(0, parquet=False), nothing_read(3, parquet=False), nothing_read(0, parquet=True)
('is empty', 'has only blank lines', 'holds no rows')
>>> print(no_spans("a.jsonl is empty").message)
no spans in the logs: a.jsonl is empty
"""

from __future__ import annotations

from collections.abc import Mapping

from recipemut.errors import LogError
from recipemut.logs.report import Rejects


def empty_sample(fraction: float, total: int, sampled_by: str) -> LogError:
    """The error of a sample of ``fraction`` that kept none of ``total`` requests: a larger
    ``--sample-requests`` when that option chose the fraction (``sampled_by`` starts with it), else a
    larger ``--memory-budget``, with why the budget took it (``sampled_by``:
    :func:`~recipemut.logs.sample.over_budget`'s sentence)."""
    if sampled_by.startswith("--sample-requests"):
        fix = "give a larger --sample-requests (1 reads every request)"
    else:  # the memory budget chose the fraction: the user gave no --sample-requests
        fix = f"it was taken because {sampled_by}: give a larger --memory-budget"
    return LogError(
        f"the sample of {fraction:g} of requests kept none of the {total:,} requests; {fix}", code="empty-sample"
    )


def all_rejected(name: str, n_read: int, rej: Rejects, *, rows: bool = False) -> LogError:
    """The error of a file all of whose ``n_read`` non-blank lines (a Parquet file's rows: ``rows``)
    were rejected, at its first problem."""
    f = rej.first
    assert f is not None
    if rows:
        what = f"all {n_read} rows are rejected; first problem at row {f.line}"
    elif f.unit == "span":  # a trace file: its spans are numbered, their lines are not known
        n = rej.total  # the spans checked: those mapped to the recipe's operations
        what = "its one span is" if n == n_read == 1 else f"all {n} spans are"
        if n < n_read:
            what = f"all {n} spans of the recipe's operations are rejected (of {n_read} read)"
        else:
            what += " rejected"
        what += f"; first problem at span #{f.line}"
    else:
        lines = "its one non-blank line is" if n_read == 1 else f"all {n_read} non-blank lines are"
        what = f"{lines} rejected; first problem at line {f.line}"
    return LogError(f"not a span log: {what}: {f.message} [{f.reason}]", file=name, line=f.file_line, code="not-a-log")


def nothing_read(blank: int, *, parquet: bool) -> str:
    """What a file that gave no line (``blank`` blank lines) holds, as the notes and errors say it."""
    if parquet:
        return "holds no rows"
    return "has only blank lines" if blank else "is empty"


def no_recipe_spans(recipe_name: str, excluded: Mapping[str, int], file: str | None = None) -> LogError:
    """The error of logs whose spans are all of other recipes or operations (``excluded``: each with its count;
    the first five are named, ``checkout (57,102)``)."""
    found = ", ".join(f"{k} ({int(v):,})" for k, v in list(excluded.items())[:5])
    return LogError(
        f"no span of recipe {recipe_name!r} in the logs (found other recipes/operations: {found})",
        file=file,
        code="no-spans",
    )


def no_spans(why: str) -> LogError:
    """The error of logs that gave no span at all, ``why`` naming each file and what it holds."""
    return LogError("no spans in the logs" + (f": {why}" if why else ""), file=None, code="no-spans")


__all__ = ["all_rejected", "empty_sample", "no_recipe_spans", "no_spans", "nothing_read"]
