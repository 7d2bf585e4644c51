"""JSON that every reader accepts: no NaN or infinity, which Python's ``json`` writes and strict parsers refuse."""

from __future__ import annotations

import math
from typing import Any


def strict_json(v: Any) -> Any:
    """NaN/inf -> None, recursively (tuples become lists), so a document printed or written is strict JSON.

    >>> strict_json({"a": float("nan"), "b": [1.5, float("inf")]})
    {'a': None, 'b': [1.5, None]}
    """
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: strict_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [strict_json(x) for x in v]
    return v
