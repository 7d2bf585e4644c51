"""Judge a running canary against the primary recipe, then promote it, roll it back, or hold.

The logs carry a ``variant`` per span (``control`` for the primary). Per request (vectorised with
pandas): end-to-end latency (last span end minus first span start), cost (sum of its spans' costs:
the logged ``cost_usd``, else the operation's ``cost_per_call_usd`` in the arm's recipe, as ``profile``
prices them), whether any span ended in ``error``, whether any ended ``halted``. Each metric is
compared canary (treatment) against primary (control):

============== ========================================== ===================== ==================
metric         comparison                                  default tolerance     tolerance is
============== ========================================== ===================== ==================
latency_p50    Hodges-Lehmann shift, Mann-Whitney U        0.02 (2 %)            relative to primary
latency_p95    bootstrap interval of the p95 change        0.05 (5 %)            relative to primary
cost           bootstrap interval of the mean change       0.02 (2 %)            relative to primary
error_rate     Newcombe interval of the rates' difference  0.005 (0.5 points)    absolute
halt_rate      Newcombe interval of the rates' difference  0.02 (2 points)       absolute
============== ========================================== ===================== ==================

Multiple testing: the ``m`` metrics tested (5, or 4 when the cost is unknown) each take a level of
``1 - alpha / m`` (Bonferroni: 99% for ``alpha = 0.05``), so that on a canary no different from the
primary the chance that *any* metric gives a verdict, and so a promotion or a rollback, is at most
``alpha``. Uncorrected, five 95% tests gave a verdict on 13% of A/A splits of a generated log (26 of
200), 3% corrected (``tests/test_evaluate_stats7.py``, ``docs/commands/evaluate.md``).

A metric **regresses** when its interval lies above zero *and* its estimate exceeds the tolerance
(significantly worse by more than allowed); it **improves** when its interval lies below zero (and,
for latency p50, the test is significant) by at least 1 % of the primary's level; it is
**uncertain** when its estimate exceeds the tolerance but not significantly; **unknown** when no
figure exists (a cost neither logged nor declared: :func:`unpriced`); otherwise it is **within
tolerance**. A latency or cost interval stops at -100%; a bootstrap interval of fewer than 2
requests in an arm is NaN (``null`` in JSON, "n/a" in text).

Decision: any regression -> ``rollback``; no metric regressing or uncertain and at least one of
latency_p50, latency_p95, cost improving -> ``promote``; otherwise ``hold`` (no significant gain
yet, or a worsening that more data must confirm or dismiss). An unknown metric is left out. With
fewer than ``min_requests`` requests in either arm the decision is ``hold`` ("not enough data"),
saying how many more are needed.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
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
from recipemut.files.jsonsafe import strict_json
from recipemut.files.units import ms_text, pt_text, usd_change
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S
from recipemut.judge.rates import rate_change
from recipemut.judge.stats import IMPROVES, METRICS, NO_DIFFERENCE, Interval, compare, verdict_of
from recipemut.logs.sources import STDIN_NAME, is_stdin
from recipemut.logs.spans import DEFAULT_VARIANT, elapsed_ms

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
#: the status of a metric neither the logs nor the recipe give (a cost never logged nor declared)
UNKNOWN = "unknown"
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
    status: str  # improves | within tolerance | regresses | uncertain | unknown
    note: str | None = None  # why the metric is unknown (left out of the decision)
    level: float = 0.95  # the interval's confidence level (1 - alpha / the metrics tested)

    @property
    def relative(self) -> float:
        return self.delta / self.primary if self.primary else float("nan")

    def change_text(self, v: float) -> str:
        """A change ``v`` (canary - primary) as the table and the decision line say it: a relative metric's in
        percent of the primary (in ms or dollars when the primary is 0), a rate's in points; ``n/a`` when
        it could not be computed.

        >>> m = MetricJudgement("error_rate", 0.03, 0.035, 0.005, 0.001, 0.009, None, 0.005, 0.005, "uncertain")
        >>> m.change_text(m.delta), m.allowed_text()
        ('+0.50 pt', '+0.50 pt')
        >>> from dataclasses import replace
        >>> replace(m, name="cost", primary=0.0).change_text(-0.000012)
        '-$0.000012'
        """
        if not math.isfinite(v):
            return "n/a"
        if self.name not in RELATIVE:
            return pt_text(v, signed=True)
        if self.primary:
            return f"{v / abs(self.primary):+.1%}"
        return ms_text(v, signed=True) if self.name.startswith("latency") else usd_change(v)

    def interval_text(self, sep: str = " .. ") -> str:
        """The interval of the change, each end said as :meth:`change_text` says it (points once, after the
        upper end: ``-0.80 .. +0.88 pt``); ``n/a`` if not computed."""
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            return "n/a"
        return f"{self.change_text(self.lo).removesuffix(' pt')}{sep}{self.change_text(self.hi)}"

    def allowed_text(self) -> str:
        """The allowed worsening: a relative metric's in percent, a rate's in points."""
        return f"+{self.tolerance:.1%}" if self.name in RELATIVE else pt_text(self.tolerance, signed=True)

    def to_dict(self) -> dict[str, Any]:
        """The metric as JSON gives it: an unknown or uncomputable figure is ``null``, never ``NaN``."""
        return strict_json({
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
            "note": self.note,
            "ci_level": self.level,
        })


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
    alpha: float = 0.05  # the chance of any verdict on a canary no different from the primary, at most

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
            "alpha": self.alpha,
            "correction": "bonferroni",
            "metrics_tested": sum(m.status != UNKNOWN for m in self.metrics),
        }


#: per variant (``control`` for the primary), each operation's declared ``cost_per_call_usd``
Declared = Mapping[str, Mapping[str, float]]


def declared_costs(doc: Mapping[str, Any], fallback: Mapping[str, float] | None = None) -> dict[str, float]:
    """Each operation's ``cost_per_call_usd`` in a recipe document (operations that declare one), and
    ``fallback``'s price of the operations the document does not define.

    ``profile`` prices a span that logs no ``cost_usd`` at its operation's ``cost_per_call_usd``
    (:func:`recipemut.profile.build.build_profile`); the canary's spans are priced the same way, the
    canary's at its own recipe's (the ``variants`` entry's ``recipe``), falling back to the
    primary's for an operation the canary's recipe does not have.

    >>> declared_costs({"operations": [{"id": "a", "cost_per_call_usd": 0.5}, {"id": "b"}]}, {"b": 1.0, "c": 2.0})
    {'c': 2.0, 'a': 0.5}
    """
    from recipemut.recipe.model import recipe_from_dict

    ops = recipe_from_dict(doc).ops
    own = {op_id: float(op.cost_per_call_usd) for op_id, op in ops.items() if op.cost_per_call_usd is not None}
    return {**{k: v for k, v in (fallback or {}).items() if k not in ops}, **own}


def span_costs(spans: pd.DataFrame, declared: Declared | None = None) -> pd.Series:
    """Each span's cost: its logged ``cost_usd``, else its variant's recipe's ``cost_per_call_usd`` for its
    operation (``declared``), else NaN (unpriced).

    >>> df = pd.DataFrame({"variant": ["control", "canary", "canary"], "op": ["a", "a", "b"],
    ...     "cost_usd": [0.1, None, None]})
    >>> span_costs(df, {"control": {"a": 9.0}, "canary": {"a": 0.5}}).tolist()
    [0.1, 0.5, nan]
    """
    logged = (
        spans["cost_usd"].astype("float64")
        if "cost_usd" in spans
        else pd.Series(np.nan, index=spans.index, dtype="float64")
    )
    if not declared or "op" not in spans or not bool(logged.isna().any()):
        return logged
    variant = _variants(spans)
    codes, ops = pd.factorize(spans["op"])  # each operation's price looked up once, not once per span
    codes = np.asarray(codes)
    fill = np.full(len(spans), np.nan)
    for name, costs in declared.items():  # a handful of variants
        if costs:
            at = (variant == name).to_numpy() & (codes >= 0)
            fill[at] = np.array([costs.get(str(op), np.nan) for op in ops], dtype="float64")[codes[at]]
    return logged.fillna(pd.Series(fill, index=spans.index))


def _variants(spans: pd.DataFrame) -> pd.Series:
    if "variant" not in spans:
        return pd.Series(DEFAULT_VARIANT, index=spans.index, dtype=object)
    return spans["variant"].astype(object).where(spans["variant"].notna(), DEFAULT_VARIANT)


def request_metrics(
    spans: pd.DataFrame, declared: Declared | None = None, *, cost: pd.Series | None = None
) -> pd.DataFrame:
    """One row per request: ``variant``, ``latency_ms``, ``cost_usd``, ``error`` and ``halted`` (0/1).

    A request's cost is the sum of its spans' :func:`span_costs` (``cost``, when the caller has them), a
    span priced by neither the log
    nor ``declared`` counting 0 (as ``profile`` sums a request's cost); :func:`unpriced` says when
    that makes the arms' costs incomparable.

    >>> df = pd.DataFrame({"request_id": ["a", "a", "b"], "variant": ["control"] * 2 + ["canary"],
    ...     "start_ms": [0.0, 10.0, 0.0], "latency_ms": [10.0, 5.0, 7.0], "status": ["ok", "error", "ok"],
    ...     "cost_usd": [0.1, 0.2, None]})
    >>> request_metrics(df).loc["a"].to_dict()
    {'variant': 'control', 'latency_ms': 15.0, 'cost_usd': 0.30000000000000004, 'error': 1, 'halted': 0}
    >>> float(request_metrics(df).loc["b", "cost_usd"])
    0.0
    """
    start = spans["start_ms"].astype("float64")
    frame = pd.DataFrame(
        {
            "request_id": spans["request_id"].astype(str),
            "variant": _variants(spans),
            "start": start,
            "end": start + spans["latency_ms"].astype("float64"),
            "cost": span_costs(spans, declared) if cost is None else cost,
            "error": (spans["status"] == "error").astype("int64"),
            "halted": (spans["status"] == "halted").astype("int64"),
        }
    )
    g = frame.groupby("request_id", sort=False)
    out = pd.DataFrame(
        {
            "variant": g["variant"].first(),
            "latency_ms": elapsed_ms(g["end"].max(), g["start"].min()),  # 606.3, not 606.300048828125
            "cost_usd": g["cost"].sum(),
            "error": g["error"].max(),
            "halted": g["halted"].max(),
        }
    )
    out.index.name = "request_id"
    return out


def unpriced(
    spans: pd.DataFrame, variant: str, declared: Declared | None = None, *, cost: pd.Series | None = None
) -> str | None:
    """Why the cost of the two arms cannot be compared, or ``None`` when it can.

    It cannot when no span of either arm is priced (neither a logged ``cost_usd`` nor the recipe's
    ``cost_per_call_usd``), or when an operation's spans are priced in one arm and not at all in the
    other: summing what is priced would make that arm look cheaper by the unpriced operation's cost.
    ``cost``: the spans' :func:`span_costs`, when the caller has them. Counted by operation codes.
    """
    priced = (span_costs(spans, declared) if cost is None else cost).notna().to_numpy()
    arm = _variants(spans)
    codes, ops = pd.factorize(spans["op"]) if "op" in spans else (np.zeros(len(spans), np.int64), pd.Index([""]))
    codes = np.asarray(codes)
    primary, canary = (arm == DEFAULT_VARIANT).to_numpy(), (arm == variant).to_numpy()
    if not bool((priced & (primary | canary)).any()):
        return "no cost in the logs or the recipe"

    def per_op(rows: np.ndarray) -> np.ndarray:  # operations with a span among ``rows``
        return np.bincount(codes[rows & (codes >= 0)], minlength=len(ops)) > 0

    ran_p, ran_c = per_op(primary), per_op(canary)
    if not ran_p.any() or not ran_c.any():
        return None
    priced_p = per_op(primary & priced)
    odd = np.flatnonzero(ran_p & ran_c & (priced_p != per_op(canary & priced)))
    if not odd.size:
        return None
    first = min(odd.tolist(), key=lambda i: str(ops[i]))  # the first by name, as the report names it
    op = str(ops[first])
    bare = variant if bool(priced_p[first]) else "primary (control)"
    more = f" and {odd.size - 1} more" if odd.size > 1 else ""
    return (
        f"the {bare}'s spans of {op!r}{more} log no cost_usd and its recipe has no cost_per_call_usd for it, "
        "while the other arm's are priced"
    )


def _status(verdict: str, est: float, lo: float, allowed: float) -> str:
    if lo > 0 and est > allowed:
        return "regresses"
    if verdict == IMPROVES:
        return "improves"
    if est > allowed:
        return "uncertain"  # worse than allowed by the estimate, not (yet) significantly
    return "within tolerance"


def _measure(
    name: str, decide: str, c: np.ndarray, t: np.ndarray, tol: float, *, alpha: float, rng: np.random.Generator
) -> MetricJudgement:
    """One metric of the primary's requests ``c`` and the canary's ``t``: a rate by :func:`rate_change`, the
    rest by :func:`compare`. An interval that cannot be had (a bootstrap of fewer than 2 requests in
    an arm) is NaN, shown as "n/a" and ``null``; a latency or cost interval stops at -100%."""
    nan_iv = Interval(math.nan, math.nan, math.nan, 1 - alpha)
    p_value: float | None = None
    if decide == "rate":
        interval = rate_change(c, t, level=1 - alpha)
        level, canary_level = float(c.mean()), float(t.mean())
        verdict = verdict_of(interval, base=level, min_effect=0.01)
    elif decide != "shift" and min(c.size, t.size) < 2:  # one request: its bootstrap is itself, no interval
        q = METRICS[decide]
        level = float(np.quantile(c, q) if q is not None else c.mean())
        canary_level = float(np.quantile(t, q) if q is not None else t.mean())
        interval = Interval(canary_level - level, nan_iv.lo, nan_iv.hi, nan_iv.level)
        verdict = NO_DIFFERENCE
    else:
        with warnings.catch_warnings():  # one request: the bootstrap beside the shift has no variance (NaN)
            warnings.simplefilter("ignore", RuntimeWarning)
            cmp = compare(c, t, decide_on=decide, alpha=alpha, rng=rng)
        interval, verdict = cmp.decisive(), cmp.verdict
        level = float(cmp.control["p50" if decide == "shift" else decide])
        canary_level = float(np.median(t)) if decide == "shift" else level + cmp.deltas[decide].estimate
        p_value = cmp.p_value if decide == "shift" else None
    lo, hi = interval.lo, interval.hi
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi, verdict = math.nan, math.nan, NO_DIFFERENCE
    elif name in RELATIVE:  # latency and cost are never negative: the canary's level is at least 0
        lo = max(lo, -level)
    allowed = tol * abs(level) if name in RELATIVE else tol
    status = _status(verdict, interval.estimate, lo, allowed)
    return MetricJudgement(
        name, level, float(canary_level), float(interval.estimate), float(lo), float(hi), p_value, tol,
        float(allowed), status, level=1 - alpha,
    )  # fmt: skip


def ci_name(level: float) -> str:
    """How an interval's level is named: ``99% CI``, ``98.75% CI``.

    >>> ci_name(1 - 0.05 / 4)
    '98.75% CI'
    """
    return f"{round(100 * level, 4):g}% CI"


def _fmt_metric(m: MetricJudgement) -> str:
    """A metric in the decision's reason, in the table's words: ``cost -21.6% (99% CI -22.4%..-20.8%, allowed
    +2.0%)``, ``error_rate +0.43 pt (...)``."""
    return (f"{m.name} {m.change_text(m.delta)} ({ci_name(m.level)} {m.interval_text('..')}, "
            f"allowed {m.allowed_text()})")


def judge(
    spans: pd.DataFrame,
    *,
    variant: str = "canary",
    tolerances: Mapping[str, float] | None = None,
    min_requests: int = DEFAULT_MIN_REQUESTS,
    alpha: float = 0.05,
    seed: int = 0,
    declared: Declared | None = None,
) -> Judgement:
    """Decide on the canary ``variant`` against the primary (``control``) from their spans.

    ``declared``: per variant, the recipe's ``cost_per_call_usd`` per operation (:func:`declared_costs`),
    pricing the spans that log no ``cost_usd``; where neither prices an arm's spans the cost is
    ``unknown`` (:func:`unpriced`) and left out of the decision.
    """
    tol = dict(DEFAULT_TOLERANCES)
    for k, v in (tolerances or {}).items():
        if k not in DEFAULT_TOLERANCES:
            raise EvaluateError(
                f"unknown tolerance metric {k!r} (known: {', '.join(DEFAULT_TOLERANCES)})", code="bad-tolerance"
            )
        if not 0 <= v < math.inf:  # not NaN, and not inf: a canary that could never be rolled back
            raise EvaluateError(f"tolerance {k}={v} must be a finite number >= 0", code="bad-tolerance")
        tol[k] = float(v)
    cost = span_costs(spans, declared)  # once, for both
    req = request_metrics(spans, declared, cost=cost)
    return judge_requests(req, variant=variant, tolerances=tol, min_requests=min_requests, alpha=alpha, seed=seed,
                          cost_unknown=unpriced(spans, variant, declared, cost=cost))  # fmt: skip


def judge_requests(
    req: pd.DataFrame,
    *,
    variant: str,
    tolerances: Mapping[str, float],
    min_requests: int = DEFAULT_MIN_REQUESTS,
    alpha: float = 0.05,
    seed: int = 0,
    cost_unknown: str | None = None,
) -> Judgement:
    """:func:`judge` on the requests' figures (:func:`request_metrics`): ``tolerances`` complete and
    checked, ``cost_unknown`` why the cost is unknown (:func:`unpriced`), or ``None``."""
    tol = tolerances
    prim = req[req["variant"] == DEFAULT_VARIANT]
    can = req[req["variant"] == variant]
    n_p, n_c = len(prim), len(can)
    if min(n_p, n_c) < min_requests:
        needed = max(min_requests - n_c, min_requests - n_p, 0)
        return Judgement(
            HOLD,
            f"not enough data: {n_c:,} canary and {n_p:,} primary requests, at least {min_requests:,} of each are "
            f"needed ({needed:,} more)",
            variant,
            n_p,
            n_c,
            min_requests,
            (),
            needed,
            alpha,
        )
    rng = np.random.default_rng(seed)
    plan = (
        ("latency_p50", "latency_ms", "shift"),
        ("latency_p95", "latency_ms", "p95"),
        ("cost", "cost_usd", "mean"),
        ("error_rate", "error", "rate"),
        ("halt_rate", "halted", "rate"),
    )
    no_cost = cost_unknown
    # Bonferroni: each metric tested at alpha / m, so that on a canary no different from the primary the
    # chance that any of the m metrics gives a verdict (promote or roll back) is at most alpha
    tested = len(plan) - (no_cost is not None)
    metrics: list[MetricJudgement] = []
    for name, col, decide in plan:
        if name == "cost" and no_cost is not None:
            nan, lv = math.nan, 1 - alpha / tested
            metrics.append(MetricJudgement(name, nan, nan, nan, nan, nan, None, tol[name], nan, UNKNOWN, no_cost, lv))
            continue
        c = prim[col].to_numpy(dtype=float)
        t = can[col].to_numpy(dtype=float)
        metrics.append(_measure(name, decide, c, t, tol[name], alpha=alpha / tested, rng=rng))
    bad = [m for m in metrics if m.status == "regresses"]
    if bad:
        reason = "regression beyond tolerance: " + "; ".join(_fmt_metric(m) for m in bad)
        decision = ROLLBACK
    elif all(m.status in ("improves", "within tolerance", UNKNOWN) for m in metrics) and any(
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
    reason += "".join(f"; {m.name} unknown ({m.note}), left out" for m in metrics if m.status == UNKNOWN)
    return Judgement(decision, reason, variant, n_p, n_c, min_requests, tuple(metrics), alpha=alpha)


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


def no_canary(source: str) -> EvaluateError:
    """The error of a recipe with no ``variants``: nothing to evaluate (said before any log is read)."""
    return EvaluateError(
        "no canary is running (the recipe has no `variants`): start one with `recipemut apply --canary SHARE`",
        file=source,
        code="no-canary",
    )


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
        raise no_canary(source)
    name = str(variants[0].get("name"))
    if spans is None:
        spans, _report = read_canary_logs(path, logs)
    spans = _canary_spans(spans, str(doc.get("name", "")), version_of(text), name, logs)
    primary_costs = declared_costs(doc)
    canary_doc = variants[0].get("recipe")
    canary_costs = declared_costs(canary_doc, primary_costs) if isinstance(canary_doc, Mapping) else primary_costs
    declared = {DEFAULT_VARIANT: primary_costs, name: canary_costs}
    j = judge(spans, variant=name, tolerances=tolerances, min_requests=min_requests, declared=declared)
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
