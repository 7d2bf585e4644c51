"""GitHub Actions workflows (``.github/workflows/*.yml``) read as recipes.

One job is one operation (the steps inside a job are not operations: they run one after another
on one runner and the run-jobs history reports the job).

>>> detect({"on": "push", "jobs": {"test": {"runs-on": "ubuntu-latest", "steps": []}}})
True
>>> detect({True: ["push"], "jobs": {"b": {"uses": "o/r/.github/workflows/w.yml@v1"}}})
True
>>> detect({"jobs": {"test": {"script": "make"}}, "stages": ["test"]})
False
"""

from __future__ import annotations

from typing import Any

KEY = "github-actions"
NAME = "GitHub Actions workflow"

#: what a job of a workflow holds at least one of
_JOB_KEYS = ("runs-on", "uses", "steps")


def _trigger(data: dict[Any, Any]) -> Any:
    """The workflow's ``on:`` (PyYAML's YAML 1.1 reads the key ``on`` as ``True``)."""
    return data["on"] if "on" in data else data.get(True)


def detect(data: Any) -> bool:
    """Whether one parsed document is a GitHub Actions workflow: ``on:`` and ``jobs:`` of runner jobs."""
    if not isinstance(data, dict) or ("on" not in data and True not in data):
        return False
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        return False
    return all(isinstance(j, dict) and any(k in j for k in _JOB_KEYS) for j in jobs.values())


__all__ = ["KEY", "NAME", "detect"]
