"""The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched).

:func:`report_page` lays out what ``suggest`` and ``forecast`` found: the plan, the DAG before and
after it (:mod:`recipemut.report.dag`), the ranked mutations as a table and an interval plot, the
critical path, and the capacity forecast (:mod:`recipemut.report.charts`). Every piece of user
text (names from the recipe, the logs, file names) is made :func:`~recipemut.files.text.safe` and
then ``html.escape``-d; the page's Content-Security-Policy forbids scripts and any fetch, so
even a missed escape could not run code or reach the network.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipemut.files.text import safe
from recipemut.files.units import days_text, ms_text, usd_text
from recipemut.forecast.rates import DAY_S
from recipemut.forecast.report import urgency_order
from recipemut.judge.stats import IMPROVES, NO_DIFFERENCE, REGRESSES, TOO_FEW
from recipemut.plan.assemble import cost_known, nothing_found
from recipemut.plan.explain import NO_COST, interval, plan_changes, reason, requests
from recipemut.plan.markdown import sampled_words
from recipemut.recipe.diff import structural_diff

if TYPE_CHECKING:
    from recipemut.forecast.capacity import CapacityReport, ServiceOutlook
    from recipemut.judge.abtest import Evaluation
    from recipemut.plan.assemble import CapacityLines
    from recipemut.plan.search import SearchResult
    from recipemut.profile.build import Profile

#: no script, no fetch: styles inline, images only as data: URLs (the charts are inline SVG)
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1280px;padding:0 24px 48px;
color:#1f2328}
h1{font-size:22px;margin:24px 0 4px}
h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;margin:0}nav a{margin-right:14px}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{margin:12px 0;overflow-x:auto}figure svg{max-width:100%;height:auto}figcaption{color:#57606a}
ul.changes{font-family:ui-monospace,monospace;padding-left:18px}
li.added{color:#1a7f37}li.removed{color:#cf222e}li.changed{color:#9a6700}
.verdict-improves{color:#1a7f37;font-weight:600}.verdict-regresses{color:#cf222e;font-weight:600}
.verdict-too-few{color:#9a6700}
ol.path li{margin:2px 0}.note{color:#57606a}
"""


def esc(text: object) -> str:
    """User text for HTML: control and bidi characters made visible (:func:`safe`), then escaped.

    >>> esc("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    """
    return html.escape(safe(text), quote=True)


def prose(text: object) -> str:
    """:func:`esc`, with the ```code``` spans that the terminal and Markdown outputs write (operation
    ids, fields) set as ``<code>``, as the Markdown of a pull-request comment shows them.

    >>> prose("`fetch_recs` has no side effects; <b> stays text")
    '<code>fetch_recs</code> has no side effects; &lt;b&gt; stays text'
    """
    return _CODE.sub(r"<code>\1</code>", esc(text))


_CODE = re.compile(r"`([^`\n]+)`")


@dataclass(frozen=True, eq=False)
class ReportInputs:
    """What the page shows: a search's result (and its report dict), the profile, the forecast."""

    recipe_path: Path
    result: SearchResult
    report: dict[str, Any]  # :func:`recipemut.plan.assemble.search_report`
    capacity_lines: CapacityLines
    profile: Profile
    forecast: CapacityReport
    ingest_summary: str
    tool: str  # "recipemut 0.1.0"
    top: int = 10


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Iterable[int] = ()) -> str:
    """An HTML table; ``headers`` are the program's own text, the cells are HTML already."""
    nums = set(numeric)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in nums else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n"


def _figure(svg: str, fig_id: str, caption: str) -> str:
    return f'<figure id="{fig_id}">\n{svg}<figcaption>{caption}</figcaption></figure>\n'


#: a verdict -> the CSS class that styles it: one token, where a verdict's words hold spaces; too few requests to
#: judge is amber, as ``evaluate`` shows an uncertain metric
VERDICT_CLASSES = {IMPROVES: "improves", REGRESSES: "regresses", NO_DIFFERENCE: "no-difference", TOO_FEW: "too-few"}


def verdict_html(v: str | None) -> str:
    """A verdict as the page shows it, in a span whose class is one CSS token.

    >>> verdict_html("too few requests to judge")
    '<span class="verdict-too-few">too few requests to judge</span>'
    >>> verdict_html(None), verdict_html("Odd <verdict>")
    ('<span class="verdict-none">-</span>', '<span class="verdict-odd-verdict">Odd &lt;verdict&gt;</span>')
    """
    token = VERDICT_CLASSES.get(v or "") or re.sub(r"[^a-z0-9]+", "-", (v or "").lower()).strip("-") or "none"
    return f'<span class="verdict-{token}">{esc(v or "-")}</span>'


def _baseline_lead(report: dict[str, Any]) -> str:
    """What the baseline's line starts with: the requests replayed, and when ingest sampled them where
    they came from, in suggest's words (:func:`~recipemut.plan.markdown.sampled_words`).

    >>> _baseline_lead({"baseline": {"requests": 3964}})
    'Baseline (replay of 3,964 requests): '
    >>> _baseline_lead({"baseline": {"requests": 1195},
    ...                 "request_sampling": {"fraction": 0.3, "requests_kept": 1195, "requests_total": 3964}})
    'Baseline: replayed 1,195 requests (from a sample of 0.3: 1,195 of 3,964 requests); '
    >>> _baseline_lead({"baseline": {"requests": 1}})
    'Baseline (replay of 1 request): '
    """
    n, sampled = report["baseline"]["requests"], sampled_words(report)
    return f"Baseline: replayed {requests(n)}{esc(sampled)}; " if sampled else f"Baseline (replay of {requests(n)}): "


def _plan_section(d: ReportInputs) -> str:
    result = d.result
    b, costed = d.report["baseline"], cost_known(d.report)  # no cost in the logs or the recipe: unknown throughout
    cost = f"cost {usd_text(b['cost_mean_usd'])} per request" if costed else NO_COST
    out = [
        '<section id="plan"><h2>Plan</h2>',
        f"<p>{_baseline_lead(d.report)}p50 {ms_text(b['latency_p50_ms'])}, "
        f"p95 {ms_text(b['latency_p95_ms'])}, p99 {ms_text(b['latency_p99_ms'])}, {cost}; "
        f"objective {esc(result.objective)}.</p>",
    ]
    if not result.plan:
        out.append("<p>No mutation improves the recipe: the plan is empty.</p>")
    else:
        steps = "".join(
            f"<li><code>{esc(c.mutation.id)}</code>: {prose(c.mutation.description)}</li>" for c in result.plan
        )
        out.append(f'<ol class="plan-steps">{steps}</ol>')
        ev = result.plan_evaluation
        if ev is not None:
            moves = esc(plan_changes(ev, costed=costed))
            out.append(f"<p>Whole plan against the current recipe: {moves}; verdict {verdict_html(ev.verdict)}.</p>")
        out += [f'<p class="note">capacity: {esc(line)}</p>' for line in d.capacity_lines.plan_lines(result)]
    out.append("</section>\n")
    return "".join(out)


def _dag_section(d: ReportInputs) -> str:
    from recipemut.report.dag import dag_figure
    from recipemut.report.figures import inline_svg

    result = d.result
    diff = structural_diff(result.original, result.plan_recipe)
    fig = dag_figure(result.original, result.plan_recipe, diff, critical_path=d.profile.critical_path)
    kinds = {"+": "added", "-": "removed", "~": "changed"}
    items = "".join(f'<li class="{kinds[line[0]]}">{esc(line)}</li>' for line in diff.lines())
    listing = f'<ul class="changes">{items}</ul>' if items else "<p>The plan changes nothing.</p>"
    caption = (
        "The recipe's DAG before (left) and after the plan (right). Changed operations amber, added green, "
        "removed red; edges the plan adds green, removes red; the most frequent critical path has a purple border."
    )
    svg = inline_svg(fig, label="the DAG before and after the plan", prefix="dag")
    return f'<section id="dag"><h2>DAG before and after</h2>{_figure(svg, "dag-figure", caption)}{listing}</section>\n'


def _mutations_section(d: ReportInputs) -> str:
    from recipemut.report.charts import intervals_figure
    from recipemut.report.figures import inline_svg

    result, costed = d.result, cost_known(d.report)
    accepted = [c for c in result.singles if c.status == "accepted"][: d.top]
    out = ['<section id="mutations"><h2>Ranked mutations</h2>']
    if not accepted:
        out.append(f"<p>{esc(nothing_found(result))}</p></section>\n")
        return "".join(out)
    rows = [
        (
            str(i), f"<code>{esc(c.mutation.id)}</code>", prose(reason(c, costed=costed)),
            esc(interval(c.evaluation, "latency_p95_ms")), esc(interval(c.evaluation, "cost_mean_usd", costed=costed)),
            verdict_html(c.verdict),
        )
        for i, c in enumerate(accepted, 1)
    ]  # fmt: skip
    out.append(_table(("#", "mutation", "why", "Δp95 ms", "Δcost/req", "verdict"), rows, numeric=(0, 3, 4)))
    plotted: list[tuple[str, Evaluation]] = [
        (f"{i}. {c.mutation.id}", c.evaluation) for i, c in enumerate(accepted, 1) if c.evaluation is not None
    ]
    if result.plan_evaluation is not None:
        plotted.append(("whole plan", result.plan_evaluation))
    if plotted:
        fig = intervals_figure(plotted, cost=costed)
        svg = inline_svg(fig, label="predicted changes of the ranked mutations", prefix="iv")
        caption = (
            "Each mutation against the current recipe (paired replay of every request), and the whole plan: "
            "the estimate and its interval. Left of zero is better."
            + ("" if costed else " No change of cost is drawn: no cost is known (none in the logs or the recipe).")
        )
        out.append(_figure(svg, "intervals-figure", caption))
    out.append("</section>\n")
    return "".join(out)


def _critical_section(d: ReportInputs) -> str:
    prof = d.profile
    path = prof.critical_path
    out = ['<section id="critical-path"><h2>Critical path</h2>']
    if not path:
        out.append("<p>No critical path: the logs hold no complete request.</p></section>\n")
        return "".join(out)
    out.append(
        f"<p>The most frequent critical path, exactly this one on {100 * prof.critical_path_share:.1f}% of "
        "requests (the operations that set end-to-end latency):</p>"
    )
    stats = {s.op: s for s in prof.ops}
    items = []
    for op in path:
        s = stats.get(op)
        figures = (
            ""
            if s is None
            else f" — p50 {ms_text(s.p50_ms)}, p95 {ms_text(s.p95_ms)}, "
            f"on the path of {100 * s.critical_share:.0f}% of requests"
        )
        items.append(f"<li><code>{esc(op)}</code>{figures}</li>")
    out.append(f'<ol class="path">{"".join(items)}</ol></section>\n')
    return "".join(out)


def _crossing(rep: CapacityReport, o: ServiceOutlook) -> str:
    if o.status == "no-capacity":
        return "no capacity declared"
    if o.status == "over-now":
        return "now (already above the target)"
    if o.status == "undated":
        return "undated (no forecast)"
    if o.crossing is None:
        return f"not within {rep.horizon_days:g} days"
    return f"in {days_text((o.crossing - rep.forecast.now).total_seconds() / DAY_S)} ({o.crossing:%Y-%m-%d})"


def _forecast_section(d: ReportInputs) -> str:
    from recipemut.report.charts import forecast_figure
    from recipemut.report.figures import inline_svg

    rep = d.forecast
    fc = rep.forecast
    what = (
        f"{esc(fc.model)}, {100 * fc.level:.0f}% interval, horizon {rep.horizon_days:g} days from the end of the logs "
        f"({fc.now:%Y-%m-%d %H:%M} UTC)"
        if fc.dated
        else f"forecast refused: {esc(fc.refused or 'no forecast')}"
    )
    rows = [
        (
            esc(o.service), ms_text(o.busy_ms, unit=False),
            "-" if o.capacity is None else f"{o.replicas}×{o.concurrency_per_replica}",
            "-" if o.current_peak_util is None else f"{100 * o.current_peak_util:.1f}% / {100 * (o.target or 0):.0f}%",
            esc(_crossing(rep, o)),
            "-" if o.replicas_needed is None else f"{o.replicas} → {o.replicas_needed}",
        )
        for o in urgency_order(rep.services)
    ]  # fmt: skip
    headers = ("service", "busy ms/request", "capacity", "peak / target", "target reached", "replicas")
    svg = inline_svg(forecast_figure(rep), label="forecast load per service", prefix="fc")
    caption = (
        "Each service with traffic: the whole history, the forecast and its interval, the target."
        if fc.dated
        else "Each service with traffic: the history only (no forecast: see above)."
    )
    return (
        f'<section id="forecast"><h2>Capacity forecast</h2><p>{what}; {esc(rep.sample_rate_note)}.</p>'
        f"{_table(headers, rows, numeric=(1, 3))}{_figure(svg, 'forecast-figure', caption)}</section>\n"
    )


def report_page(d: ReportInputs) -> str:
    """The whole HTML document (UTF-8 text)."""
    r = d.result.original
    title = f"recipemut report: {esc(r.name)} v{r.version}"
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
            f"<header><h1>{title}</h1><p class=\"meta\">recipe {esc(d.recipe_path)}; logs: {esc(d.ingest_summary)}; "
            f"written by {esc(d.tool)}</p></header>\n",
            '<nav><a href="#plan">plan</a><a href="#dag">DAG</a><a href="#mutations">mutations</a>'
            '<a href="#critical-path">critical path</a><a href="#forecast">forecast</a></nav>\n',
            _plan_section(d),
            _dag_section(d),
            _mutations_section(d),
            _critical_section(d),
            _forecast_section(d),
            "</body>\n</html>\n",
        ]
    )
