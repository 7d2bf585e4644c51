"""The search's result as markdown, for a pull request: what ``suggest --format markdown`` prints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recipemut.files.text import safe
from recipemut.files.units import ms_text, usd_text
from recipemut.judge.abtest import PREDICTED
from recipemut.plan.assemble import CapacityLines, cost_known, nothing_found
from recipemut.plan.explain import LABELS, NO_COST, ab_line, interval, plan_changes, reason, rejection, requests
from recipemut.plan.search import SearchResult
from recipemut.recipe.diff import structural_diff
from recipemut.recipe.graph import render_mermaid


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def n_plus_one_findings(report: Mapping[str, Any], recipe_path: Path | str) -> list[tuple[str, str]]:
    """The N+1 findings of ``report`` (its optional ``findings.n_plus_one``): per finding, what the
    logs show, and where in the recipe to add which lines.

    >>> f = {"op": "get", "line": 17, "add": ["foreach: ids", "concurrency: 1"], "message": "get is called"}
    >>> n_plus_one_findings({"findings": {"n_plus_one": [f]}}, "r.yaml")
    [('get is called.', 'To describe it, add to operation get (r.yaml:17): `foreach: ids`, `concurrency: 1`.')]
    """
    out: list[tuple[str, str]] = []
    for f in report.get("findings", {}).get("n_plus_one", []):
        where = f"{recipe_path}:{f['line']}" if f.get("line") else str(recipe_path)
        add = ", ".join(f"`{a}`" for a in f["add"])
        out.append((f"{f['message']}.", f"To describe it, add to operation {f['op']} ({where}): {add}."))
    return out


def sampled_words(report: Mapping[str, Any]) -> str:
    """What follows the requests replayed when ingest sampled them (``report["request_sampling"]``,
    :func:`recipemut.usecases.inputs.request_sampling`), else ``""``.

    The requests replayed can be fewer than the sample kept (above
    :data:`~recipemut.predict.simulate.SAMPLE_LIMIT` a fixed subset of it is replayed), so the words
    say where they came from rather than that they are the sample.

    >>> sampled_words({"request_sampling": {"fraction": 0.3, "requests_kept": 1195, "requests_total": 3964}})
    ' (from a sample of 0.3: 1,195 of 3,964 requests)'
    >>> sampled_words({})
    ''
    """
    sample = report.get("request_sampling")
    if not sample:
        return ""
    kept, total = sample["requests_kept"], sample["requests_total"]
    return f" (from a sample of {sample['fraction']:.4g}: {kept:,} of {total:,} requests)"


def plan_markdown(
    result: SearchResult,
    capacity: CapacityLines,
    report: Mapping[str, Any],
    recipe_path: Path,
    *,
    bottleneck: str | None = None,
    explain: bool = False,
    top: int = 10,
) -> str:
    """The search's result as markdown: the baseline, the N+1 findings, the best ``top`` single
    mutations, the plan with its new DAG (mermaid) and diffs, and with ``explain`` every rejected
    candidate and why.

    ``report`` is :func:`recipemut.plan.assemble.search_report` of the same search. Every line
    goes through :func:`~recipemut.files.text.safe`: a name's line break or escape reads ``\\n``,
    ``\\x1b``, never breaks the table or reaches the reader's terminal.
    """
    hr, rep = capacity, report
    b, costed = rep["baseline"], cost_known(rep)  # no cost in the logs or the recipe: unknown throughout
    lines = [
        f"## recipemut suggest: `{recipe_path}`",
        "",
        f"Replayed {requests(b['requests'], 'recorded ')}{sampled_words(rep)}. "
        f"Baseline p50 {ms_text(b['latency_p50_ms'])}, p95 {ms_text(b['latency_p95_ms'])}, "
        f"p99 {ms_text(b['latency_p99_ms'])}, "
        + (f"cost {usd_text(b['cost_mean_usd'])}/request. " if costed else f"{NO_COST}. ")
        + f"Objective: **{result.objective}**" + (f" (bottleneck service `{bottleneck}`)." if bottleneck else "."),
        "",
    ]
    found = [f"- **N+1:** {seen} {add}" for seen, add in n_plus_one_findings(rep, recipe_path)]
    order = rep.get("findings", {}).get("recipe_order")  # the baseline differs from the recorded time
    found += [f"- **Recipe order:** {order['message'][:1].upper()}{order['message'][1:]}."] if order else []
    if found:  # what the logs show that the recipe does not describe
        lines += ["### Findings", "", *found, ""]
    accepted = [c for c in result.singles if c.status == "accepted"][:top]
    heads = ["#", "operator", "target", "why", *(f"Δ{LABELS[k]}" for k in PREDICTED if k != "latency_mean_ms")]
    if accepted:
        lines += ["### Best single mutations", "", _row([*heads, "verdict", "imputed", "offline A/B", "capacity"])]
        lines.append(_row(["---"] * (len(heads) + 4)))
        for i, c in enumerate(accepted, 1):
            ev = c.evaluation
            lines.append(
                _row(
                    [
                        str(i),
                        c.mutation.operator,
                        ", ".join(f"`{t}`" for t in c.mutation.targets),
                        reason(c, costed=costed),
                        *(interval(ev, k, costed=costed) for k in PREDICTED if k != "latency_mean_ms"),
                        c.verdict or "-",
                        f"{100 * ev.imputed_share:.0f}%" if ev else "-",
                        ab_line(ev, costed=costed) or "-",
                        "<br>".join(hr.lines(c)) or "-",
                    ]
                )
            )
        lines.append("")
    few = rep.get("too_few_requests")  # plan/enough.py: said instead of "no improvement", or beside the verdicts
    if few:
        lines += [f"**{few['message']}**" if not accepted else f"> **Note:** {few['message']}", ""]
    elif not accepted:
        lines += [nothing_found(result), ""]
    if result.plan:
        lines += ["### Plan", ""]
        lines += [f"{i}. `{c.mutation.id}`: {c.mutation.description}" for i, c in enumerate(result.plan, 1)]
        ev = result.plan_evaluation
        if ev is not None:
            lines += [
                "",
                f"Whole plan: {plan_changes(ev, costed=costed)}; **{ev.verdict}**.",
                "",
                ab_line(ev, costed=costed) + ".",
            ]
            lines += [f"- capacity: {line}" for line in hr.plan_lines(result)]
        sd = structural_diff(result.original, result.plan_recipe)
        lines += ["", "#### New DAG (changed operations highlighted)", "", "```mermaid"]
        lines += [*render_mermaid(result.plan_recipe, highlight=sd.changed_ops).rstrip("\n").split("\n"), "```", ""]
        lines += ["#### Structural diff", "", "```diff", *sd.lines(), "```", ""]
        lines += ["#### YAML diff", "", "```diff", *rep["diff"]["unified"].rstrip("\n").split("\n"), "```", ""]
    if explain and result.rejected:
        lines += ["<details><summary>Rejected candidates</summary>", "", _row(["candidate", "reasons"])]
        lines.append(_row(["---", "---"]))
        lines += [_row([f"`{c.mutation.id}`", rejection(c, result)]) for c in result.rejected]
        lines += ["", "</details>", ""]
    s = rep["search"]
    lines.append(
        f"<sub>{s['evaluated']} candidates evaluated in {s['elapsed_s']:.1f} s"
        + (f" ({s['summary']})" if s.get("stopped_by") else "")
        + f"; offline A/B with {100 * s['treatment_share']:.0f}% treatment.</sub>"
    )
    return "\n".join(map(safe, lines)) + "\n"  # one line each: a name's line break or escape shows as \\n, \\x1b
