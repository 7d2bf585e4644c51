"""Judge a running canary against the primary recipe, then promote it, roll it back, or hold.

The logs carry a ``variant`` per span (``control`` for the primary). Per request (vectorised with
pandas): end-to-end latency (last span end minus first span start), cost (sum of ``cost_usd``),
whether any span ended in ``error``, whether any ended ``halted``. Each metric is compared with
:func:`recipemut.judge.stats.compare` (canary = treatment, primary = control):

============== ================================== ===================== ======================
metric         comparison                          default tolerance     tolerance is
============== ================================== ===================== ======================
latency_p50    Hodges-Lehmann shift, Mann-Whitney  0.02 (2 %)            relative to primary
latency_p95    bootstrap interval of the p95       0.05 (5 %)            relative to primary
cost           bootstrap interval of the mean      0.02 (2 %)            relative to primary
error_rate     bootstrap interval of the mean      0.005 (0.5 points)    absolute
halt_rate      bootstrap interval of the mean      0.02 (2 points)       absolute
============== ================================== ===================== ======================

A metric **regresses** when its interval lies above zero *and* its estimate exceeds the tolerance
(significantly worse by more than allowed); it **improves** when the comparison's verdict is
``improves`` (significant, and at least 1 % of the primary's level); it is **uncertain** when its
estimate exceeds the tolerance but not significantly; otherwise it is **within tolerance**.

Decision: any regression -> ``rollback``; no metric regressing or uncertain and at least one of
latency_p50, latency_p95, cost improving -> ``promote``; otherwise ``hold`` (no significant gain
yet, or a worsening that more data must confirm or dismiss). With fewer than
``min_requests`` requests in either arm the decision is ``hold`` ("not enough data"), saying how
many more are needed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recipemut.apply.history import Action, Entry, max_version, sha256_text
from recipemut.apply.transaction import (
    WriteResult,
    plain_doc,
    promoted_text,
    read_recipe_text,
    transact,
    validate_text,
    version_of,
    without_variants_text,
)
from recipemut.errors import RecipemutError
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S
from recipemut.judge.stats import IMPROVES, compare
from recipemut.logs.sources import STDIN_NAME, is_stdin
from recipemut.logs.spans import DEFAULT_VARIANT

log = logging.getLogger(__name__)

DEFAULT_TOLERANCES: Mapping[str, float] = {
    "latency_p50": 0.02,
    "latency_p95": 0.05,
    "cost": 0.02,
    "error_rate": 0.005,
    "halt_rate": 0.02,
}
RELATIVE = frozenset({"latency_p50", "latency_p95", "cost"})
#: the metrics a promotion needs an improvement on (at least one)
GAINS = ("latency_p50", "latency_p95", "cost")
DEFAULT_MIN_REQUESTS = 200

PROMOTE, ROLLBACK, HOLD = "promote", "rollback", "hold"
#: exit codes of ``recipemut evaluate`` (1 is any error)
EXIT_CODES: Mapping[str, int] = {PROMOTE: 0, ROLLBACK: 3, HOLD: 4}


class EvaluateError(RecipemutError):
    """The canary cannot be evaluated (no canary running, no spans of a variant, ...)."""


@dataclass(frozen=True)
class MetricJudgement:
    """One metric, canary against primary; ``delta = canary - primary`` with its interval."""

    name: str
    primary: float
    canary: float
    delta: float
    lo: float
    hi: float
    p_value: float | None
    tolerance: float  # as given (relative or absolute)
    allowed: float  # absolute allowed worsening
    status: str  # improves | within tolerance | regresses | uncertain

    @property
    def relative(self) -> float:
        return self.delta / self.primary if self.primary else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.name,
            "primary": self.primary,
            "canary": self.canary,
            "delta": self.delta,
            "ci": [self.lo, self.hi],
            "relative": None if np.isnan(self.relative) else self.relative,
            "p_value": self.p_value,
            "tolerance": self.tolerance,
            "tolerance_kind": "relative" if self.name in RELATIVE else "absolute",
            "allowed_delta": self.allowed,
            "status": self.status,
        }


@dataclass(frozen=True)
class Judgement:
    """The decision on a canary and why."""

    decision: str  # promote | rollback | hold
    reason: str
    variant: str
    n_primary: int
    n_canary: int
    min_requests: int
    metrics: tuple[MetricJudgement, ...] = ()
    needed: int = 0  # more requests per arm needed before a decision (0 when enough)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reason": self.reason,
            "variant": self.variant,
            "n_primary": self.n_primary,
            "n_canary": self.n_canary,
            "min_requests": self.min_requests,
            "needed_more_requests": self.needed,
            "metrics": [m.to_dict() for m in self.metrics],
        }


def request_metrics(spans: pd.DataFrame) -> pd.DataFrame:
    """One row per request: ``variant``, ``latency_ms``, ``cost_usd``, ``error`` and ``halted`` (0/1).

    >>> df = pd.DataFrame({"request_id": ["a", "a", "b"], "variant": ["control"] * 2 + ["canary"],
    ...     "start_ms": [0.0, 10.0, 0.0], "latency_ms": [10.0, 5.0, 7.0], "status": ["ok", "error", "ok"],
    ...     "cost_usd": [0.1, 0.2, None]})
    >>> request_metrics(df).loc["a"].to_dict()
    {'variant': 'control', 'latency_ms': 15.0, 'cost_usd': 0.30000000000000004, 'error': 1, 'halted': 0}
    """
    start = spans["start_ms"].astype("float64")
    frame = pd.DataFrame(
        {
            "request_id": spans["request_id"].astype(str),
            "variant": spans["variant"].astype(object).where(spans["variant"].notna(), DEFAULT_VARIANT)
            if "variant" in spans
            else DEFAULT_VARIANT,
            "start": start,
            "end": start + spans["latency_ms"].astype("float64"),
            "cost": spans["cost_usd"].astype("float64").fillna(0.0) if "cost_usd" in spans else 0.0,
            "error": (spans["status"] == "error").astype("int64"),
            "halted": (spans["status"] == "halted").astype("int64"),
        }
    )
    g = frame.groupby("request_id", sort=False)
    out = pd.DataFrame(
        {
            "variant": g["variant"].first(),
            "latency_ms": g["end"].max() - g["start"].min(),
            "cost_usd": g["cost"].sum(),
            "error": g["error"].max(),
            "halted": g["halted"].max(),
        }
    )
    out.index.name = "request_id"
    return out


def _status(verdict: str, est: float, lo: float, allowed: float) -> str:
    if lo > 0 and est > allowed:
        return "regresses"
    if verdict == IMPROVES:
        return "improves"
    if est > allowed:
        return "uncertain"  # worse than allowed by the estimate, not (yet) significantly
    return "within tolerance"


def _fmt_metric(m: MetricJudgement) -> str:
    if m.name in RELATIVE and m.primary:
        p = abs(m.primary)
        return f"{m.name} {m.delta / p:+.1%} (95% CI {m.lo / p:+.1%}..{m.hi / p:+.1%}, allowed +{m.tolerance:.1%})"
    return f"{m.name} {m.delta:+.2%} points (95% CI {m.lo:+.2%}..{m.hi:+.2%}, allowed +{m.allowed:.2%})"


def judge(
    spans: pd.DataFrame,
    *,
    variant: str = "canary",
    tolerances: Mapping[str, float] | None = None,
    min_requests: int = DEFAULT_MIN_REQUESTS,
    alpha: float = 0.05,
    seed: int = 0,
) -> Judgement:
    """Decide on the canary ``variant`` against the primary (``control``) from their spans."""
    tol = dict(DEFAULT_TOLERANCES)
    for k, v in (tolerances or {}).items():
        if k not in DEFAULT_TOLERANCES:
            raise EvaluateError(
                f"unknown tolerance metric {k!r} (known: {', '.join(DEFAULT_TOLERANCES)})", code="bad-tolerance"
            )
        if not 0 <= v < math.inf:  # not NaN, and not inf: a canary that could never be rolled back
            raise EvaluateError(f"tolerance {k}={v} must be a finite number >= 0", code="bad-tolerance")
        tol[k] = float(v)
    req = request_metrics(spans)
    prim = req[req["variant"] == DEFAULT_VARIANT]
    can = req[req["variant"] == variant]
    n_p, n_c = len(prim), len(can)
    if min(n_p, n_c) < min_requests:
        needed = max(min_requests - n_c, min_requests - n_p, 0)
        return Judgement(
            HOLD,
            f"not enough data: {n_c} canary and {n_p} primary requests, at least {min_requests} of each are "
            f"needed ({needed} more)",
            variant,
            n_p,
            n_c,
            min_requests,
            (),
            needed,
        )
    rng = np.random.default_rng(seed)
    plan = (
        ("latency_p50", "latency_ms", "shift"),
        ("latency_p95", "latency_ms", "p95"),
        ("cost", "cost_usd", "mean"),
        ("error_rate", "error", "mean"),
        ("halt_rate", "halted", "mean"),
    )
    metrics: list[MetricJudgement] = []
    for name, col, decide in plan:
        c = prim[col].to_numpy(dtype=float)
        t = can[col].to_numpy(dtype=float)
        cmp = compare(c, t, decide_on=decide, alpha=alpha, rng=rng)
        interval = cmp.decisive()
        level = cmp.control["p50" if decide == "shift" else decide]
        canary_level = float(np.median(t)) if decide == "shift" else level + cmp.deltas[decide].estimate
        allowed = tol[name] * abs(level) if name in RELATIVE else tol[name]
        status = _status(cmp.verdict, interval.estimate, interval.lo, allowed)
        metrics.append(
            MetricJudgement(
                name,
                float(level),
                float(canary_level),
                float(interval.estimate),
                float(interval.lo),
                float(interval.hi),
                cmp.p_value if decide == "shift" else None,
                tol[name],
                float(allowed),
                status,
            )
        )
    bad = [m for m in metrics if m.status == "regresses"]
    if bad:
        reason = "regression beyond tolerance: " + "; ".join(_fmt_metric(m) for m in bad)
        decision = ROLLBACK
    elif all(m.status in ("improves", "within tolerance") for m in metrics) and any(
        m.status == "improves" for m in metrics if m.name in GAINS
    ):
        reason = (
            "improves "
            + "; ".join(_fmt_metric(m) for m in metrics if m.status == "improves")
            + "; every other metric within tolerance"
        )
        decision = PROMOTE
    else:
        unsure = [m for m in metrics if m.status == "uncertain"]
        reason = (
            "no significant improvement yet"
            if not unsure
            else "not yet conclusive: " + "; ".join(_fmt_metric(m) for m in unsure)
        )
        decision = HOLD
    return Judgement(decision, reason, variant, n_p, n_c, min_requests, tuple(metrics))


# ---- reading the canary and acting ---------------------------------------------------------------


@dataclass(frozen=True)
class EvaluateResult:
    """A judgement and, when acted on, the write it caused."""

    judgement: Judgement
    recipe: str
    acted: bool
    write: WriteResult | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.judgement.decision]

    def to_dict(self) -> dict[str, Any]:
        d = self.judgement.to_dict()
        d.update(
            recipe=self.recipe,
            acted=self.acted,
            exit_code=self.exit_code,
            write=self.write.to_dict() if self.write is not None else None,
        )
        return d


def _files(logs: Sequence[str | os.PathLike[str]]) -> str:
    """The logs as messages name them (standard input as ingest calls it).

    >>> _files(["-", "b.jsonl"]), _files([Path(f"{d}.jsonl") for d in "abcde"])
    ('<stdin>, b.jsonl', 'a.jsonl, b.jsonl, c.jsonl and 2 more')
    """
    names = [STDIN_NAME if is_stdin(p) else str(p) for p in logs]
    if not names:
        return "the spans given"
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _canary_spans(
    spans: pd.DataFrame, name: str, version: int | None, variant: str, logs: Sequence[str | os.PathLike[str]] = ()
) -> pd.DataFrame:
    """Spans of this recipe (and, when the logs say, of the version running the canary)."""
    if "recipe" in spans and spans["recipe"].notna().any():
        ours = spans["recipe"].isna() | (spans["recipe"] == name)
        if not bool(ours.any()):
            others = ", ".join(repr(str(x)) for x in pd.unique(spans["recipe"].dropna())[:5])
            raise EvaluateError(
                f"{_files(logs)}: the logs are of recipe {others}, not {name!r}; give the logs of this recipe's "
                "canary",
                code="no-canary-spans",
            )
        spans = spans[ours]
    if version is not None and "recipe_version" in spans:
        at = spans["recipe_version"] == version
        if bool(at.fillna(False).any()):
            spans = spans[at.fillna(False)]
    if not bool((spans["variant"] == variant).fillna(False).any()):
        seen = ", ".join(repr(str(v)) for v in pd.unique(spans["variant"].dropna())[:5]) or "none"
        raise EvaluateError(
            f"{_files(logs)}: no span of variant {variant!r} of recipe {name!r} (variants in the logs: {seen}); "
            "is the canary deployed and logging its variant?",
            code="no-canary-spans",
        )
    return spans


def read_canary_logs(
    recipe: str | os.PathLike[str],
    logs: Sequence[str | os.PathLike[str]],
    *,
    strict: bool = False,
    sample_rate: float | None = None,
    log_format: str = "auto",
    mapping: Any = None,
) -> tuple[pd.DataFrame, Any]:
    """The spans of ``recipe`` in ``logs`` and the ingest report (:func:`recipemut.logs.ingest.read_logs`).

    Spans of other recipes and of operations the recipe does not define are excluded (and
    counted in the report), as every command that reads logs does.
    """
    from recipemut.logs.ingest import read_logs
    from recipemut.recipe.loader import load_recipe_text

    source = str(recipe)
    r = load_recipe_text(read_recipe_text(recipe), file=source)
    return read_logs(list(logs), recipe=r, strict=strict, sample_rate=sample_rate, log_format=log_format,
                     mapping=mapping)


def _last_canary(chain: Sequence[Entry]) -> Entry | None:
    return next((e for e in reversed(chain) if e.action == "canary"), None)


def evaluate(
    recipe: str | os.PathLike[str],
    logs: Sequence[str | os.PathLike[str]],
    *,
    act: bool = True,
    tolerances: Mapping[str, float] | None = None,
    min_requests: int = DEFAULT_MIN_REQUESTS,
    force: bool = False,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
    spans: pd.DataFrame | None = None,
) -> EvaluateResult:
    """Judge the recipe's canary on ``logs`` (or ready ``spans``) and, unless ``act`` is false, act.

    ``logs`` are read with :func:`read_canary_logs` when no ``spans`` are given; with ``spans``
    they only name the files in messages.
    """
    path = Path(recipe)
    source = str(path)
    text = read_recipe_text(path)
    doc = plain_doc(text, source=source)
    variants = doc.get("variants") or []
    if not variants:
        raise EvaluateError(
            "no canary is running (the recipe has no `variants`): start one with `recipemut apply --canary SHARE`",
            file=source,
            code="no-canary",
        )
    name = str(variants[0].get("name"))
    if spans is None:
        spans, _report = read_canary_logs(path, logs)
    spans = _canary_spans(spans, str(doc.get("name", "")), version_of(text), name, logs)
    j = judge(spans, variant=name, tolerances=tolerances, min_requests=min_requests)
    if not act:
        return EvaluateResult(j, source, False)
    judged_sha = sha256_text(text)

    def unchanged(current: str) -> None:
        if sha256_text(current) != judged_sha:
            raise EvaluateError(
                "the recipe changed while the canary was being evaluated; run evaluate again",
                file=source,
                code="changed",
            )

    observed = j.to_dict()

    def build(current: str, chain: Sequence[Entry], last: Entry | None) -> tuple[str, dict[str, Any]]:
        canary_entry = _last_canary(chain)
        muts = [dict(m) for m in canary_entry.mutations] if canary_entry else []
        fields: dict[str, Any] = {
            "mutations": muts,
            "reason": f"{j.decision}: {j.reason}",
            "observed": observed,
            "details": {"variant": name},
        }
        if j.decision == PROMOTE:
            new = promoted_text(current, name, max_version(chain, version_of(current)) + 1, source=source)
            validate_text(new, source=source, what=f"promoting variant {name!r}")
            return new, fields
        if j.decision == ROLLBACK:
            if last is not None and last.action == "canary" and last.previous_text is not None:
                fields["version"] = last.version_before
                fields["details"] = {"variant": name, "restored_from_entry": last.seq}
                return last.previous_text, fields  # byte for byte what the canary replaced
            return without_variants_text(current, max_version(chain, version_of(current)) + 1, source=source), fields
        return current, fields

    actions: dict[str, Action] = {PROMOTE: "promote", ROLLBACK: "rollback", HOLD: "evaluate"}
    action = actions[j.decision]
    w = transact(
        path,
        action=action,
        build=build,
        force=force,
        lock_timeout_s=lock_timeout_s,
        check_current=unchanged,
        write_when_unchanged=True,
    )
    return EvaluateResult(j, source, True, w)
