"""`recipemut evaluate RECIPE --logs LOGS...`: promote, roll back or hold a running canary."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from recipemut.apply.canary import (
    DEFAULT_MIN_REQUESTS,
    DEFAULT_TOLERANCES,
    HOLD,
    RELATIVE,
    EvaluateError,
    EvaluateResult,
    Judgement,
    read_canary_logs,
)
from recipemut.apply.canary import evaluate as _evaluate
from recipemut.apply.history import Entry
from recipemut.commands._common import (
    LogFormat,
    LogFormatOpt,
    LogsOpt,
    MapOpt,
    OutputFormat,
    RecipeArg,
    SampleRateOpt,
    StrictOpt,
    err_console,
    warn_ingest,
)
from recipemut.errors import RecipemutError
from recipemut.files.text import console, shown
from recipemut.files.write import DEFAULT_LOCK_TIMEOUT_S
from recipemut.learn.store import default_path

_TOL_HELP = (
    "Allowed worsening METRIC=VALUE (repeatable): latency_p50, latency_p95, cost are relative (0.05 or 5%), "
    "error_rate, halt_rate absolute. Defaults: " + ", ".join(f"{k}={v:g}" for k, v in DEFAULT_TOLERANCES.items()) + "."
)
_STYLE = {"improves": "green", "within tolerance": "", "uncertain": "yellow", "regresses": "red"}
_DECISION = {"promote": "[green]PROMOTE[/]", "rollback": "[red]ROLLBACK[/]", "hold": "[yellow]HOLD[/]"}


def _tolerances(items: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(value.rstrip("%")) / (100.0 if value.endswith("%") else 1.0)
        except ValueError:
            raise EvaluateError(
                f"--tolerance {item!r}: expected METRIC=VALUE, e.g. latency_p95=0.05 or latency_p95=5%",
                code="bad-tolerance",
            ) from None
    return out


# ---- recording what was observed in the profile store ----------------------------------------------

#: evaluate's metric -> the store's (and the plan's) metric name
STORE_METRICS: Mapping[str, str] = {
    "latency_p95": "latency_p95_ms",
    "latency_p50": "latency_p50_ms",
    "cost": "cost_mean_usd",
}
#: the metric of the store row (one row per mutation, so ``stats`` counts each canaried mutation once)
PRIMARY = "latency_p95"
_OUTCOME = {"promote": "promoted", "rollback": "rolled_back", "hold": "held"}


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _predicted(m: Mapping[str, Any], metric: str) -> tuple[float | None, tuple[float, float] | None, float | None]:
    """(delta, interval, baseline) the plan predicted for ``metric`` (store name), as recorded in the history."""
    pred = m.get("predicted") or {}
    iv = pred.get(metric) if isinstance(pred, Mapping) else None
    if not isinstance(iv, Mapping):
        return None, None, None
    ci = iv.get("ci")
    lo, hi = (_finite(ci[0]), _finite(ci[1])) if isinstance(ci, Sequence) and len(ci) == 2 else (None, None)
    base = pred.get("baseline")
    return (
        _finite(iv.get("delta")),
        (lo, hi) if lo is not None and hi is not None else None,
        _finite(base.get(metric)) if isinstance(base, Mapping) else None,
    )


def shares(predicted: Sequence[float | None]) -> list[float]:
    """Each mutation's share of a canary's joint effect: in proportion to its predicted delta when
    every mutation has one and they agree in sign, else equal shares.

    >>> shares([-30.0, -10.0]), shares([-30.0, None]), shares([-30.0, 10.0]), shares([])
    ([0.75, 0.25], [0.5, 0.5], [0.5, 0.5], [])
    """
    n = len(predicted)
    if not n:
        return []
    known = [p for p in predicted if p is not None]
    total = sum(known)
    if len(known) == n and total != 0 and all(p * total >= 0 for p in known):
        return [p / total for p in known]
    return [1.0 / n] * n


def observation_records(judgement: Judgement, canary: Entry, recipe: str) -> list[dict[str, Any]]:
    """Keyword sets for :meth:`recipemut.learn.store.Store.record_observation`, one per mutation of ``canary``
    (the history entry that started the canary), from what ``judgement`` observed. Pure.

    The row's metric is the p95 latency; a canary of several mutations observes their joint
    effect, which is shared among them in proportion to their predicted deltas (:func:`shares`).
    The prediction, as recorded in the history, is rescaled to the observed baseline (the
    primary's p95 in the canary's logs) when the plan gave its simulated baseline, so prediction
    and observation compare as relative effects. ``detail`` keeps the joint judgement, the other
    metrics (p50, cost) apportioned the same way, and the raw prediction. Nothing is returned for a
    judgement that measured nothing (not enough data).
    """
    metrics = {m.name: m for m in judgement.metrics}
    if PRIMARY not in metrics or not canary.mutations:
        return []
    metric = STORE_METRICS[PRIMARY]
    muts = [dict(m) for m in canary.mutations]
    preds = [_predicted(m, metric) for m in muts]
    share = shares([p[0] for p in preds])
    ids = [str(m.get("id")) for m in muts]
    obs = metrics[PRIMARY]
    joint = {m.name: {"primary": m.primary, "canary": m.canary, "delta": m.delta, "ci": [m.lo, m.hi],
                      "status": m.status} for m in judgement.metrics}  # fmt: skip
    out: list[dict[str, Any]] = []
    for m, (pd_, pci, pbase), s in zip(muts, preds, share, strict=True):
        scale = obs.primary / pbase if pbase and pbase > 0 and obs.primary > 0 else None
        f = scale or 1.0
        observed_metrics = {
            STORE_METRICS[k]: {"delta": v.delta * s, "ci": [v.lo * s, v.hi * s], "baseline": v.primary,
                               "predicted": dict(zip(("delta", "ci", "baseline"), _predicted(m, STORE_METRICS[k]),
                                                     strict=True))}
            for k, v in metrics.items() if k in STORE_METRICS
        }  # fmt: skip
        out.append(
            {
                "recipe": recipe,
                "version": canary.version_before if canary.version_before is not None else 1,  # as the loader
                "sha256": canary.sha256_before or canary.sha256_after,
                "mutation_id": str(m.get("id")),
                "operator": str(m.get("operator")),
                "outcome": _OUTCOME[judgement.decision],
                "metric": metric,
                "observed_delta": obs.delta * s,
                "observed_ci": (obs.lo * s, obs.hi * s),
                "baseline": obs.primary,
                "predicted_delta": None if pd_ is None else pd_ * f,
                "predicted_ci": None if pci is None else (pci[0] * f, pci[1] * f),
                "canary": canary.hash,
                "detail": {
                    "decision": judgement.decision,
                    "reason": judgement.reason,
                    "variant": judgement.variant,
                    "n_primary": judgement.n_primary,
                    "n_canary": judgement.n_canary,
                    "canary_entry": canary.seq,
                    "canary_version": canary.version,
                    "mutations_in_canary": ids,
                    "share": s,
                    "joint": joint,
                    "metrics": observed_metrics,
                    "predicted_raw": {"delta": pd_, "ci": list(pci) if pci else None, "baseline": pbase},
                    "prediction_rescaled_by": scale,
                },
            }
        )
    return out


def _canary_entry(recipe: str, seq: int) -> Entry | None:
    """The history entry that started the canary judged by the entry ``seq``."""
    from recipemut.apply.history import read_history

    return next((e for e in reversed(read_history(recipe)) if e.seq < seq and e.action == "canary"), None)


def record(result: EvaluateResult, path: Path | None) -> tuple[int, str | None]:
    """Record an acted-on judgement in the profile store: (rows written, why none were when 0).

    Raises :class:`RecipemutError`, :class:`sqlite3.Error` or :class:`OSError` on a store problem.
    """
    if path is None:
        return 0, "the store is disabled"
    w = result.write
    if not result.acted or w is None or not w.entries:
        return 0, "--no-act"
    canary = _canary_entry(result.recipe, w.entries[-1].seq)
    if canary is None:
        return 0, "the history holds no canary entry (variants written by hand?)"
    from recipemut.apply.transaction import plain_doc
    from recipemut.learn.store import Store

    name = str(plain_doc(canary.text, source=result.recipe).get("name", ""))
    records = observation_records(result.judgement, canary, name)
    if not records:
        return 0, "nothing measured yet" if result.judgement.decision == HOLD else "no mutation in the canary entry"
    with Store.open(path) as s:
        for r in records:
            s.record_observation(**r)
    return len(records), None


def _record(result: EvaluateResult, path: Path | None) -> dict[str, Any]:
    """:func:`record`, a store problem turned into a warning on stderr (the decision stands)."""
    try:
        n, why = record(result, path)
    except (RecipemutError, sqlite3.Error, OSError) as e:
        err_console.print(
            f"[yellow]warning:[/] this evaluation was not recorded in the profile store: {shown(str(e))}"
        )
        return {"path": None if path is None else str(path), "recorded": 0, "error": str(e)}
    return {"path": None if path is None else str(path), "recorded": n, "skipped": why}


def evaluate(
    recipe: RecipeArg,
    logs: LogsOpt,
    no_act: bool = typer.Option(False, "--no-act", help="Only report the decision; write nothing."),
    tolerance: list[str] = typer.Option(
        [],
        "--tolerance",
        "-t",
        help=_TOL_HELP,
    ),
    min_requests: int = typer.Option(
        DEFAULT_MIN_REQUESTS, "--min-requests", min=1, help="Requests needed in each arm before deciding."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Act over a hand edit, saving it into the history first; also write a read-only recipe (its mode "
        "is kept).",
    ),
    lock_timeout: float = typer.Option(
        DEFAULT_LOCK_TIMEOUT_S, "--lock-timeout", help="Seconds to wait for another writer."
    ),
    store: Path | None = typer.Option(
        None,
        "--store",
        help="Profile store that records what was observed, per mutation of the canary, when evaluate acts "
        "(default: $RECIPEMUT_STORE, else .recipemut/store.sqlite; RECIPEMUT_STORE=off disables).",
        show_default=False,
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
    strict: StrictOpt = False,
    sample_rate: SampleRateOpt = None,
    log_format: LogFormatOpt = LogFormat.auto,
    mapping: MapOpt = None,
) -> None:
    """Judge the canary against the primary recipe, then promote it, roll it back, or hold.

    RECIPE is the recipe running a canary (it has a `variants:` section); --logs hold spans of
    both variants (bad lines are counted and shown as warnings, never fatal unless --strict).

    Compares per-request latency (p50 by Mann-Whitney U and a Hodges-Lehmann interval, p95 by
    bootstrap), cost and error/halt rates of the two variants in the logs. A significant
    worsening beyond the allowed tolerance rolls the canary back (the recipe returns byte for
    byte to what it was before the canary); a significant gain with nothing beyond tolerance
    promotes it (the canary becomes the recipe); anything else holds, saying why (too few
    requests: how many more are needed). Every action is a history entry recording what was
    observed. Acting also records, in the profile store, each mutation of the canary with its
    observed p95 change beside its predicted one (see `recipemut stats`); --no-act records nothing.

    Exit codes: 0 promote, 3 rollback, 4 hold, 1 error (also with --no-act, for CI).

    Example: recipemut evaluate checkout.yaml --logs canary.jsonl --tolerance latency_p95=3%
    """
    if store is not None:
        from recipemut.learn.store import check_store_path

        check_store_path(
            store, recipes=[recipe], inputs={p: "one of the logs" for p in logs}, option="--store", inputs_only=True
        )
    spans, report = read_canary_logs(
        recipe, logs, strict=strict, sample_rate=sample_rate, log_format=log_format.value, mapping=mapping
    )
    warn_ingest(report)
    result = _evaluate(
        recipe,
        logs,
        spans=spans,
        act=not no_act,
        tolerances=_tolerances(tolerance),
        min_requests=min_requests,
        force=force,
        lock_timeout_s=lock_timeout,
    )
    j = result.judgement
    recorded = _record(result, store if store is not None else default_path())
    if fmt is OutputFormat.json:
        typer.echo(json.dumps({**result.to_dict(), "store": recorded}, indent=2))
        raise typer.Exit(result.exit_code)
    out = console(soft_wrap=True)
    out.print(f"variant {shown(j.variant)}: {j.n_canary} requests; primary (control): {j.n_primary} requests")
    if j.metrics:
        table = Table(title_justify="left")
        for col in ("metric", "primary", "canary", "change (95% CI)", "allowed", "status"):
            table.add_column(col)
        for m in j.metrics:
            if m.name in RELATIVE and m.primary:
                p = abs(m.primary)
                change = f"{m.delta / p:+.1%} ({m.lo / p:+.1%} .. {m.hi / p:+.1%})"
                allowed = f"+{m.tolerance:.1%}"
                prim, can = f"{m.primary:.4g}", f"{m.canary:.4g}"
            else:
                change = f"{m.delta:+.2%} ({m.lo:+.2%} .. {m.hi:+.2%})"
                allowed = f"+{m.allowed:.2%}"
                prim, can = f"{m.primary:.2%}", f"{m.canary:.2%}"
            style = _STYLE[m.status]
            table.add_row(m.name, prim, can, change, allowed, f"[{style}]{m.status}[/]" if style else m.status)
        out.print(table)
    out.print(f"decision: {_DECISION[j.decision]} — {shown(j.reason)}")
    w = result.write
    if not result.acted:
        out.print("--no-act: nothing written")
    elif w is not None and w.written and w.diff:
        out.print(
            f"{shown(w.recipe)}: {w.action} written, version {w.version_before} -> {w.version}; "
            f"history entry {w.entries[-1].seq}"
        )
    elif w is not None and w.entries:
        out.print(f"{shown(w.recipe)}: recipe unchanged; evaluation recorded as history entry {w.entries[-1].seq}")
    if recorded["recorded"]:
        out.print(
            f"profile store {shown(str(recorded['path']))}: {recorded['recorded']} mutation(s) recorded as "
            f"{_OUTCOME[j.decision].replace('_', ' ')}"
        )
    raise typer.Exit(result.exit_code)
