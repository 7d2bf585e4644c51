"""The performance profile: what the logs say about a recipe, as a value.

Built from the span table (:mod:`recipemut.spans`) and a recipe by ``build_profile``. Everything
downstream (suggest, simulation, forecast) consumes a :class:`Profile`, never raw logs.

The *request matrix* has one row per request and one column per operation (columns in the
recipe's topological order, ``op_ids``). Cells of operations that did not run in that request
are ``NaN`` (float matrices), ``0`` (``status``) or ``-1`` (``cache_key`` codes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: codes of the ``status`` matrix
ST_ABSENT, ST_OK, ST_ERROR, ST_HALTED = 0, 1, 2, 3


@dataclass(frozen=True)
class OpStats:
    """Per-operation summary."""

    op: str
    service: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    cost_mean_usd: float
    cpu_mean_ms: float
    bytes_in_mean: float
    bytes_out_mean: float
    error_rate: float
    halt_rate: float
    critical_share: float  # share of requests on which it lies on the critical path


@dataclass(frozen=True, eq=False)
class Profile:
    """Per-operation distributions plus the per-request matrix trace replay uses."""

    recipe: str
    op_ids: tuple[str, ...]  # matrix columns, topological order
    request_ids: np.ndarray  # (n,) str
    request_start_ms: np.ndarray  # (n,) float, epoch ms of the first span
    variant: np.ndarray  # (n,) str
    sample_rate: np.ndarray  # (n,) float, 1.0 when unknown
    latency_ms: np.ndarray  # (n, k) float, NaN where absent
    start_offset_ms: np.ndarray  # (n, k) float, start relative to request start, NaN where absent
    cost_usd: np.ndarray  # (n, k) float, NaN where absent
    cpu_ms: np.ndarray  # (n, k) float
    bytes_in: np.ndarray  # (n, k) float
    bytes_out: np.ndarray  # (n, k) float
    status: np.ndarray  # (n, k) int8 codes ST_*
    cache_key: np.ndarray  # (n, k) int64 codes per column, -1 where absent
    e2e_latency_ms: np.ndarray  # (n,) recorded end-to-end latency (max end - min start)
    e2e_cost_usd: np.ndarray  # (n,) summed cost
    critical: np.ndarray  # (n, k) bool: on the request's critical path
    ops: tuple[OpStats, ...]
    rate: pd.Series  # requests per second, indexed by UTC bin start (scaled by 1/sample_rate)
    rate_bin_s: float

    @property
    def n_requests(self) -> int:
        return int(self.request_ids.shape[0])

    def col(self, op_id: str) -> int:
        """Matrix column of an operation."""
        return self.op_ids.index(op_id)

    def stats(self, op_id: str) -> OpStats:
        for s in self.ops:
            if s.op == op_id:
                return s
        raise KeyError(op_id)
