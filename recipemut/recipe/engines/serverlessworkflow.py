"""CNCF Serverless Workflow definitions (spec 0.8 and 1.0, JSON or YAML) read as recipes.

>>> detect({"id": "w", "specVersion": "0.8", "start": "A", "states": [{"name": "A", "type": "sleep"}]})
True
>>> detect({"document": {"dsl": "1.0.0", "namespace": "x", "name": "w", "version": "1"}, "do": []})
True
>>> detect({"document": {"dsl": "1.0.0"}}), detect({"states": []})
(False, False)
"""

from __future__ import annotations

from typing import Any

KEY = "serverlessworkflow"
NAME = "Serverless Workflow"


def spec_version(data: Any) -> str | None:
    """``"0.8"`` or ``"1.0"`` (the family of the file's spec version), or ``None``."""
    if not isinstance(data, dict):
        return None
    doc = data.get("document")
    if isinstance(doc, dict) and isinstance(doc.get("dsl"), str) and "do" in data:
        return "1.0"
    version = data.get("specVersion")
    if isinstance(version, (str, float)) and isinstance(data.get("states"), list):
        return "0.8"
    return None


def detect(data: Any) -> bool:
    """Whether one document is a Serverless Workflow: ``specVersion`` + ``states``, or ``document.dsl`` + ``do``."""
    return spec_version(data) is not None


__all__ = ["KEY", "NAME", "detect", "spec_version"]
