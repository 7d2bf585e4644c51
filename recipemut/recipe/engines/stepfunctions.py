"""AWS Step Functions state machines (Amazon States Language, JSON or YAML) read as recipes.

>>> detect({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
True
>>> detect({"Comment": "x", "StartAt": "A"}), detect({"StartAt": 1, "States": {}})
(False, False)
"""

from __future__ import annotations

from typing import Any

KEY = "stepfunctions"
NAME = "Step Functions state machine"


def detect(data: Any) -> bool:
    """Whether one parsed document is an ASL state machine: ``StartAt`` naming one of its ``States``."""
    if not isinstance(data, dict):
        return False
    start, states = data.get("StartAt"), data.get("States")
    return isinstance(start, str) and isinstance(states, dict) and bool(states)


__all__ = ["KEY", "NAME", "detect"]
