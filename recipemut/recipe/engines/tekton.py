"""Tekton Pipelines and PipelineRuns read as recipes."""

from __future__ import annotations

from typing import Any

KEY = "tekton"
NAME = "Tekton Pipeline"
READS_OTHER_DOCUMENTS = True


def detect(data: Any) -> bool:
    """A ``tekton.dev`` Pipeline, or a PipelineRun (its ``pipelineSpec`` or ``pipelineRef``)."""
    return (
        isinstance(data, dict)
        and str(data.get("apiVersion", "")).startswith("tekton.dev/")
        and data.get("kind") in ("Pipeline", "PipelineRun")
        and isinstance(data.get("spec"), dict)
    )
