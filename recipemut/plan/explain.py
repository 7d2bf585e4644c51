"""Sentences a reviewer can check about a search's candidates: claims, predicted numbers, the A/B, rejections,
and why an operator proposed nothing for an operation or field.

Plain strings for any renderer (terminal, markdown, JSON): a signed delta never reads ``-0.0``,
an operator's claim is cut at a sentence or clause, never inside a parenthesis or code span, and
a rejection says in which round, after which plan steps, so it never contradicts the plan.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from recipemut.files.units import ms_text, usd_change, usd_text
from recipemut.judge.abtest import PREDICTED, Evaluation
from recipemut.judge.stats import NO_DIFFERENCE
from recipemut.mutate.operators import NotProposed
from recipemut.plan.search import Candidate, SearchResult

#: predicted metric -> its short label
LABELS: Mapping[str, str] = MappingProxyType(
    {
        "latency_p50_ms": "p50",
        "latency_p95_ms": "p95",
        "latency_p99_ms": "p99",
        "latency_mean_ms": "mean",
        "cost_mean_usd": "cost",
    }
)


def signed(x: float, cost: bool = False) -> str:
    """A signed delta, milliseconds to one decimal with thousands separators (two significant digits under
    1 ms); what rounds to zero reads ``+0.0``, never ``-0.0``.

    >>> signed(-8.7e-19, cost=True), signed(6.8e-07, cost=True), signed(-0.000498, cost=True), signed(-0.04)
    ('$0', '+$0.00000068', '-$0.000498', '-0.04')
    >>> signed(-3e-13)
    '+0.0'
    >>> signed(-1004.46)
    '-1,004.5'
    """
    if not math.isfinite(x):
        return "-"
    if cost:  # dollars per request, as every sentence and evaluate give them (not µ$ beside $)
        return usd_change(x)
    return ms_text(x, signed=True, unit=False)


#: what a cost reads when no span's ``cost_usd`` and no price of the recipe gives one (``costed`` false below)
UNKNOWN = "unknown"
#: the baseline's cost then, as ``profile`` says it (suggest's text and markdown, the report)
NO_COST = "cost unknown (no cost in the logs or the recipe)"


def interval(ev: Evaluation | None, key: str, *, unit: bool = False, costed: bool = True) -> str:
    """A predicted change and its interval: ``-106.6 [-118.5, -94.2]`` in a column headed ``ms``; with ``unit``,
    a latency's estimate says its unit, as the A/B's shift does (``-106.6 ms [-118.5, -94.2]``). A change of
    cost where no cost is known (``costed`` false) is ``unknown``, never ``$0``."""
    if ev is None:
        return "-"
    iv = ev.predicted[key]
    cost = key == "cost_mean_usd"
    if cost and not costed:
        return UNKNOWN
    est = signed(iv.estimate, cost) + (" ms" if unit and not cost and math.isfinite(iv.estimate) else "")
    if iv.lo == iv.hi == iv.estimate:
        return est
    return f"{est} [{signed(iv.lo, cost)}, {signed(iv.hi, cost)}]"


def plan_changes(ev: Evaluation, *, costed: bool = True) -> str:
    """The whole plan's predicted changes in one line, each latency's in ms (it had no unit):
    ``Δp50 -106.6 ms [-118.5, -94.2], ..., Δcost -$0.001057 [-$0.001080, -$0.001035]`` (``Δcost unknown``
    where no cost is known)."""
    return ", ".join(f"Δ{LABELS[k]} {interval(ev, k, unit=True, costed=costed)}" for k in PREDICTED)


def requests(n: int, adjective: str = "") -> str:
    """``1 request``, ``3,964 requests``."""
    return f"{n:,} {adjective}request{'s' if n != 1 else ''}"


def _boundaries(text: str, seps: tuple[str, ...]) -> list[int]:
    """Positions where one of ``seps`` starts outside parentheses, brackets and backticks."""
    out: list[int] = []
    depth, code = 0, False
    for i, ch in enumerate(text):
        if ch == "`":
            code = not code
        elif not code and ch in "([":
            depth += 1
        elif not code and ch in ")]":
            depth = max(0, depth - 1)
        elif not code and depth == 0 and any(text.startswith(sep, i) for sep in seps):
            out.append(i)
    return out


def headline(description: str, limit: int = 220) -> str:
    """The operator's claim: its first sentence, or its first clause when that sentence is long,
    never cut inside a parenthesis or a code span (a word-boundary cut with … only as a last resort).

    >>> headline("a (x; y) b; c. d")
    'a (x; y) b; c'
    >>> headline("a (x; y) b; then a long tail", limit=12)
    'a (x; y) b'
    >>> headline("one two three four", limit=10)
    'one two…'
    """
    text = description.strip()
    ends = _boundaries(text, (". ",))
    head = text[: ends[0]] if ends else text.rstrip(".")
    if len(head) > limit:
        cuts = _boundaries(head, ("; ", ": ", ", so "))
        head = head[: cuts[0]] if cuts else head[: head.rfind(" ", 0, limit - 1)].rstrip(" ,;:") + "…"
    return head


def reason(c: Candidate, *, full: bool = False, costed: bool = True) -> str:
    """One sentence a reviewer can check: the operator's claim plus the predicted numbers (no cost's
    where no cost is known)."""
    ev = c.evaluation
    text = c.mutation.description.rstrip(".") if full else headline(c.mutation.description)
    if ev is None:
        return text + "."
    p95 = ev.predicted["latency_p95_ms"].estimate
    cost = ev.predicted["cost_mean_usd"].estimate
    bits = []
    if abs(p95) >= 0.05:
        bits.append(f"{'saves' if p95 < 0 else 'adds'} {ms_text(abs(p95))} at p95")
    if costed and abs(cost) * 1e6 >= 0.05:
        bits.append(f"{'saves' if cost < 0 else 'adds'} {usd_text(abs(cost))} per request")  # as profile says a cost
    return text + ("; " + " and ".join(bits) if bits else "") + "."


def _p(p: float) -> str:
    return " -" if not math.isfinite(p) else ("<0.001" if p < 0.001 else f"={p:.3f}")


def ab_line(ev: Evaluation | None, *, costed: bool = True) -> str:
    """The offline A/B in one line: Mann-Whitney U and Hodges-Lehmann on latency, bootstrap CI on
    cost (``cost unknown`` where no cost is known), and which test decided the verdict."""
    if ev is None:
        return ""
    if ev.ab_latency is None:
        return f"{ev.objective} verdict from {decided(ev)}"
    lat, cost = ev.ab_latency, ev.ab_cost
    hl = lat.shift
    bits = [
        f"A/B {100 * ev.share:.0f}% ({lat.n_treatment:,} vs {lat.n_control:,} requests): latency Mann-Whitney "
        f"p{_p(lat.p_value)}, Hodges-Lehmann shift {signed(hl.estimate)} ms [{signed(hl.lo)}, {signed(hl.hi)}]"
    ]
    if not costed:
        bits.append(f"cost {UNKNOWN}")
    elif cost is not None:
        m = cost.deltas["mean"]
        bits.append(f"cost Δmean {signed(m.estimate, True)} [{signed(m.lo, True)}, {signed(m.hi, True)}] (bootstrap)")
    return "; ".join(bits) + f"; {ev.objective} verdict from {decided(ev)}"


def decided(ev: Evaluation) -> str:
    """Which test decided the verdict, in words; "agree" only when the tests shown do.

    Both tests finding no significant difference is not an agreement on an effect, and under a
    cost, balanced or headroom objective the A/B and the paired replay agree on that objective,
    which the latency A/B shown beside it may not bear out: the words then say so.
    """
    if ev.decided_by != "ab+paired":
        return ev.decision()
    if ev.verdict == NO_DIFFERENCE:
        return "the offline A/B and the paired replay, neither of which finds a significant difference"
    if ev.objective in ("latency", "p95") or ev.ab_latency is None:
        return "the offline A/B and the paired replay, which agree"
    said = f"the offline A/B and the paired replay, which agree on the {ev.objective} objective"
    lat, p95 = ev.ab_latency, ev.predicted["latency_p95_ms"].estimate
    shift = lat.shift.estimate
    opposite = abs(shift) >= 0.05 and abs(p95) >= 0.05 and (shift > 0) != (p95 > 0)
    significant = math.isfinite(lat.p_value) and lat.p_value < lat.alpha
    if significant and not opposite:
        return said
    return said + (
        f", not on latency (the A/B's shift {signed(shift)} ms, p{_p(lat.p_value)}"
        + (f", against the paired replay's {signed(p95)} ms at p95)" if opposite else ", not significant)")
    )


def rejection(c: Candidate, result: SearchResult) -> str:
    """Why a candidate was rejected, and in which round. A candidate is judged against the state it
    was generated from, so the same mutation can improve the recipe alone (round 1) and add nothing
    after other steps, or the reverse: the sentence says so rather than contradict the plan."""
    why = "; ".join(c.reasons)
    n = len(c.parent)
    text = f"round {c.round} (after {n} plan step{'s' if n != 1 else ''}): {why}" if c.round > 1 else why
    steps = {s.mutation.id: (i, s.round) for i, s in enumerate(result.plan, 1)}
    singles = {s.mutation.id for s in result.singles if s.status == "accepted"}
    mid = c.mutation.id
    if mid in steps and steps[mid][1] > c.round:
        text += f"; accepted later as plan step {steps[mid][0]} (round {steps[mid][1]})"
    elif mid in singles and c.round > 1:
        text += "; it improved the recipe alone in round 1, before those steps"
    return text


def not_proposed_lines(reasons: tuple[NotProposed, ...] | list[NotProposed]) -> list[str]:
    """Why operators proposed nothing, one line each, grouped by target in first-seen order.

    >>> not_proposed_lines([NotProposed("fanout", "a", "no foreach"), NotProposed("dedupe", "b", "frozen"),
    ...                     NotProposed("batch", "a", "no batched alternative")])
    ['a: fanout: no foreach', 'a: batch: no batched alternative', 'b: dedupe: frozen']
    """
    order = list(dict.fromkeys(x.target for x in reasons))
    return [f"{x.target}: {x.operator}: {x.reason}" for t in order for x in reasons if x.target == t]
