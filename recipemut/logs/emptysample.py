"""The error of a request sample that kept none of the requests, in the words every reader of logs
gives it (ingest, the partitioned engines): what to make larger, the option that chose the fraction.

>>> print(empty_sample(0.001, 250, "--sample-requests 0.001").message)
the sample of 0.001 of requests kept none of the 250 requests; give a larger --sample-requests (1 reads every request)
>>> "give a larger --memory-budget" in empty_sample(1e-06, 250, "the logs would take about 3 GiB ...").message
True
"""

from __future__ import annotations

from recipemut.errors import LogError


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


__all__ = ["empty_sample"]
