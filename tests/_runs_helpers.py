"""What the run-history reader tests share."""

from __future__ import annotations

import datetime as dt
from typing import Any


def ms(v: Any) -> float:
    """An engine's time (RFC 3339 text with ``Z`` or an offset, or the datetime YAML makes of an unquoted one)
    in epoch ms; a time without a zone is UTC."""
    if isinstance(v, str):
        v = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.timezone.utc)
    return float(v.timestamp() * 1000.0)
