"""GitHub Actions run histories: the jobs of workflow runs.

As ``gh api repos/O/R/actions/runs/ID/jobs`` (``?filter=all`` for every attempt) gives them:
``{"total_count": N, "jobs": [...]}``; several runs (or pages) in one file as a JSON list, JSON
lines or concatenated documents, or several files (``gh api --paginate`` writes its pages one after
another). A bare list of job objects is read too.

One workflow run is one request (``request_id`` = the jobs' ``run_id``); each job is a span:

* ``op`` is :func:`~recipemut.recipe.engines.names.op_id` of :func:`job_base` of the job's
  ``name``: a matrix job's ``"test (ubuntu-latest, 3.12)"`` is a call of ``test`` (``items`` = 1
  each), but a job whose whole name is a job of the recipe (``name: Build (release)``, imported as
  ``Build_release_``) keeps it: the answer does not say which jobs ran from a matrix; the jobs of a
  called (reusable) workflow, ``"caller / callee"``, are calls of the calling job, the one
  operation the importer makes of it; names that meet on one id are told apart by the recipe
  (:class:`~recipemut.recipe.engines.names.StepOps`);
* ``run_attempt`` is the span's ``attempt`` (a re-run of a failed job is its next attempt);
* ``started_at`` .. ``completed_at`` is the span; ``conclusion`` ``success`` (and ``neutral``) is
  ``ok``, ``failure``, ``cancelled``, ``timed_out``, ``action_required`` and ``startup_failure``
  are ``error``; ``skipped`` jobs did not run: counted (``steps_skipped``), not spans;
* a run with a job still ``queued``, ``in_progress``, ``waiting`` or ``pending`` (no
  ``completed_at``) is still in progress: counted and left out.

``service`` is the job's first runner label (``ubuntu-latest``, ``self-hosted``...).
"""

from __future__ import annotations

from typing import Any

from recipemut.errors import LogError
from recipemut.logs.runs.rows import ERROR, OK, Rows, text
from recipemut.recipe.engines.names import StepOps, job_display_base

KEY = "github-actions"
OK_CONCLUSIONS = frozenset({"success", "neutral"})
SKIPPED = frozenset({"skipped"})


def job_base(name: str, ops: StepOps | None = None) -> str:
    """The workflow job a run's job belongs to: its display name, for a job of a called (reusable)
    workflow, ``"caller / callee"``, the caller's part (the caller is the job of the workflow file);
    without the matrix suffix (:func:`job_display_base`) unless that whole name is a job of the
    recipe of ``ops`` (:meth:`~recipemut.recipe.engines.names.StepOps.knows`): the runner adds
    ``" (a, b)"`` to a matrix job's name, and a plain ``name: Build (release)`` ends the same way.

    >>> job_base("test (ubuntu-latest, 3.12)"), job_base("provenance / generator"), job_base("ci (3.12) / lint")
    ('test', 'provenance', 'ci')
    >>> ops = StepOps([("Build_release_", "Build (release)"), ("Test", "Test")])
    >>> job_base("Build (release)", ops), job_base("Test (3.12)", ops), job_base("Build (release)")
    ('Build (release)', 'Test', 'Build')
    """
    caller = name.split(" / ", 1)[0] if " / " in name else name
    return caller if ops is not None and ops.knows(caller) else job_display_base(caller)


def _jobs(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict) and isinstance(doc.get("jobs"), list):
        return list(doc["jobs"])
    if isinstance(doc, list) and all(isinstance(d, dict) and isinstance(d.get("jobs"), list) for d in doc):
        return [j for d in doc for j in d["jobs"]]
    if isinstance(doc, list) and all(isinstance(j, dict) and "run_id" in j for j in doc):
        return doc
    return None


def collect(docs: list[Any], rows: Rows) -> None:
    """Every job of the documents into ``rows``."""
    by_run: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for doc in docs:
        jobs = _jobs(doc)
        if jobs is None:
            raise LogError(
                "expected a run's jobs {'total_count': N, 'jobs': [...]} (or a list of them)",
                file=str(rows.path),
                code="bad-shape",
            )
        for j in jobs:
            if not isinstance(j, dict):
                continue
            jid = text(j.get("id"))
            if jid is not None and jid in seen:  # the same job in two pages or two downloads
                continue
            if jid is not None:
                seen.add(jid)
            by_run.setdefault(text(j.get("run_id")) or "?", []).append(j)
    for run, jobs in by_run.items():
        if any(j.get("status") != "completed" or not j.get("completed_at") for j in jobs):
            rows.running(run)
            continue
        rows.counts["runs"] += 1
        bases = [job_base(text(j.get("name")) or "", rows.ops) for j in jobs]
        for j, base in zip(jobs, bases, strict=True):
            conclusion = text(j.get("conclusion")) or ""
            if conclusion in SKIPPED:
                rows.counts["steps_skipped"] += 1
                continue
            name = text(j.get("name")) or ""
            labels = j.get("labels")
            attempt = j.get("run_attempt")
            rows.add(
                run,
                rows.ops(base),
                text(labels[0]) if isinstance(labels, list) and labels else None,
                j.get("started_at"),
                j.get("completed_at"),
                OK if conclusion in OK_CONCLUSIONS else ERROR,
                span_id=text(j.get("id")),
                attempt=attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
                items=1 if base != name else None,
            )


__all__ = ["KEY", "collect", "job_base"]
