"""suggest's words, as a new user found them: the limit a cut search names, the verdict's "agree",
units, logs too few to judge, and wrapped Plan and Structural diff lines keeping their indent."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _wide_helpers import write_wide as wide
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.plan.enough import requests_needed, too_few_requests
from recipemut.plan.explain import decided

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT, CHECKOUT_LOGS = ROOT / "recipes" / "checkout" / "recipe.yaml", ROOT / "recipes" / "checkout" / "logs.jsonl.gz"


def flat(text: str) -> str:
    return " ".join(text.split())


# ---- the limit that stopped the search --------------------------------------------------------------------


def test_a_search_stopped_by_the_time_budget_names_only_the_time_budget(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 10)
    args = ["suggest", str(recipe_path), "--logs", str(logs), "-q", "--time-budget", "0", "--budget", "400"]
    got = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    text = flat(got.output)
    assert "within the 0 s time budget" in text
    assert "raise --time-budget)" in text
    assert "--budget " not in text and "--budget)" not in text and "--budget or" not in text


def test_a_search_stopped_by_the_candidate_budget_names_only_the_budget(tmp_path: Path) -> None:
    recipe_path, logs = wide(tmp_path, 30)
    args = ["suggest", str(recipe_path), "--logs", str(logs), "-q", "--budget", "4"]
    got = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    text = flat(got.output)
    assert "the budget of 4 evaluated candidates ran out; raise --budget)" in text
    assert "--time-budget" not in text


# ---- wording: "agree", units ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkout_markdown() -> str:
    args = ["suggest", str(CHECKOUT), "--logs", str(CHECKOUT_LOGS), "-q", "-f", "markdown",
            "-O", "eliminate", "-O", "substitute", "-O", "datapipe"]  # fmt: skip
    got = CliRunner().invoke(app, args)
    assert got.exit_code == 0, got.output
    return got.output


def row_of(markdown: str, mutation: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith("| ") and f"`{mutation}`" in line)


def test_the_verdict_says_agree_on_the_objective_and_not_on_latency_when_the_latency_ab_points_the_other_way(
    checkout_markdown: str,
) -> None:
    row = row_of(checkout_markdown, "fetch_recommendations")
    # the A/B's latency shift is +5.1 ms (p=0.42), the paired replay's p95 -9.8 ms: not an agreement on latency
    assert "Hodges-Lehmann shift +5.1 ms" in row and "saves 9.8 ms at p95" in row
    assert ("which agree on the balanced objective, not on latency (the A/B's shift +5.1 ms, p=0.420, against "
            "the paired replay's -9.8 ms at p95)") in row  # fmt: skip
    assert "which agree |" not in row and "which agree." not in row


def test_the_verdict_says_the_latency_ab_is_not_significant_when_it_is_not(checkout_markdown: str) -> None:
    row = row_of(checkout_markdown, "price_items")
    said = "which agree on the balanced objective, not on latency (the A/B's shift -5.1 ms, p=0.411, not significant)"
    assert said in row


def test_the_plan_whose_latency_ab_is_significant_and_alike_says_they_agree(checkout_markdown: str) -> None:
    whole = next(line for line in checkout_markdown.splitlines() if line.startswith("A/B 10%"))
    assert "p=0.001" in whole and whole.endswith("which agree on the balanced objective.")


def ev(decided_by: str, verdict: str, objective: str = "balanced", shift: float = -3.0, p: float = 0.01) -> Any:
    lat = SimpleNamespace(shift=SimpleNamespace(estimate=shift), p_value=p, alpha=0.05)
    return SimpleNamespace(decided_by=decided_by, verdict=verdict, objective=objective, ab_latency=lat,
                           predicted={"latency_p95_ms": SimpleNamespace(estimate=-4.0)})  # fmt: skip


def test_both_tests_finding_nothing_is_not_called_an_agreement() -> None:
    words = decided(ev("ab+paired", "no significant difference", shift=5.1, p=0.42))
    assert "agree" not in words
    assert words == "the offline A/B and the paired replay, neither of which finds a significant difference"


def test_a_latency_verdict_both_tests_reach_is_an_agreement() -> None:
    assert decided(ev("ab+paired", "improves", objective="p95")) == "the offline A/B and the paired replay, which agree"
    assert decided(ev("ab+paired", "improves")).endswith("which agree on the balanced objective")


def test_costs_are_in_dollars_in_one_unit_and_bytes_say_bytes(checkout_markdown: str) -> None:
    assert "USD" not in checkout_markdown
    assert "µ$ per request" not in checkout_markdown
    row = row_of(checkout_markdown, "fetch_recommendations")
    assert "costs $0.000499 per call; saves 9.8 ms at p95 and saves $0.000498 per request." in row
    assert "the alternative costs $0.000600 per call" in checkout_markdown
    assert re.search(r"handle by -[\d,]+ bytes per request", checkout_markdown)


# ---- Plan and Structural diff keep their indent when wrapped ----------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SUGGEST = ["suggest", str(CHECKOUT), "--logs", str(CHECKOUT_LOGS), "-q", "-O", "eliminate", "-O", "substitute",
           "-O", "datapipe"]  # fmt: skip


def section(text: str, start: str, end: str) -> list[str]:
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(start))
    j = next(k for k, line in enumerate(lines) if k > i and line.startswith(end))
    return [line.rstrip() for line in lines[i + 1 : j] if line.strip()]


def test_wrapped_plan_and_structural_diff_lines_keep_their_item_s_indent_at_80_columns() -> None:
    # TTY_COMPATIBLE=1: rich renders as on a terminal (tests/test_progress.py), 80 columns wide
    got = CliRunner().invoke(app, SUGGEST, env={"COLUMNS": "80", "TTY_COMPATIBLE": "1"})
    assert got.exit_code == 0, got.output
    text = ANSI.sub("", got.output)
    raw = text[text.index("\nPlan (") : text.index("\nYAML diff")].splitlines()
    assert not [line for line in raw if line.endswith(" ")]  # no padding or space left where a line broke
    plan = section(text, "Plan", "Structural diff")
    assert len(plan) > 8 and all(len(line) <= 80 for line in plan)  # the steps' sentences did wrap
    assert all(line.startswith("  ") for line in plan), plan  # no continuation line at column 0
    steps = [k for k, line in enumerate(plan) if re.match(r"  \d\. ", line)]
    assert len(steps) == 3
    for k in range(steps[0], plan.index(next(x for x in plan if x.startswith("  whole plan")))):
        assert k in steps or (plan[k].startswith("     ") and plan[k][5] != " "), plan[k]  # under the step's text
    capacity = [k for k, line in enumerate(plan) if line.startswith("  capacity: ")]
    assert capacity and all(plan[k + 1].startswith("  capacity: ") or plan[k + 1].startswith(" " * 12)
                            for k in capacity if k + 1 < len(plan))  # fmt: skip
    diff = section(text, "Structural diff", "YAML diff")
    assert any(len(line) > 70 for line in diff) and len(diff) > 4  # the price_items line wrapped
    for line in diff:
        assert line[:4] in ("  - ", "  + ", "  ~ ") or (line.startswith("    ") and line[4] != " "), line


def test_on_a_pipe_each_plan_step_stays_one_line() -> None:
    # no COLUMNS (xdist's workers may have one), no terminal: a pipe, never wrapped (files/text.py)
    got = CliRunner().invoke(app, SUGGEST, env={"COLUMNS": None})
    assert got.exit_code == 0, got.output
    plan = section(got.output, "Plan", "Structural diff")
    assert re.match(r"  1\. eliminate:fetch_recommendations: .* costs \$0\.000499 per call\.$", plan[0])
    assert plan[3].startswith("  whole plan vs. the current recipe: ") and plan[3].endswith("imputed 99%")


LATENCY_CHANGE = r"[+-][\d,]+\.\d ms \[[+-][\d,]+\.\d, [+-][\d,]+\.\d\]"


def test_the_whole_plan_line_says_its_latencies_in_ms(checkout_markdown: str) -> None:
    """It gave 'Δp50 -106.6 [-118.5, -94.2]' without a unit, where the A/B line below it says '-103.1 ms [...]'."""
    got = CliRunner().invoke(app, SUGGEST, env={"COLUMNS": None})
    assert got.exit_code == 0, got.output
    whole = next(line for line in got.output.splitlines() if line.startswith("  whole plan vs. the current recipe: "))
    page = next(line for line in checkout_markdown.splitlines() if line.startswith("Whole plan: "))
    for line in (whole, page):
        for label in ("p50", "p95", "p99", "mean"):
            assert re.search(f"Δ{label} {LATENCY_CHANGE}", line), (label, line)
        assert re.search(r"Δcost [+-]\$", line), line


# ---- logs too few to judge --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The new user's ``zcat recipes/checkout/logs.jsonl.gz | head -60 > small.jsonl``: 4 requests."""
    path = tmp_path_factory.mktemp("small") / "small.jsonl"
    with gzip.open(CHECKOUT_LOGS, "rt") as f:
        path.write_text("".join(next(f) for _ in range(60)))
    return path


def run_small(small: Path, *extra: str) -> str:
    args = ["suggest", str(CHECKOUT), "--logs", str(small), "-q", "-O", "reorder", "--objective", "latency", *extra]
    got = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    return got.output


def test_too_few_requests_are_said_instead_of_no_improvement_in_text(small: Path) -> None:
    text = flat(run_small(small))
    assert "No single mutation improves the recipe." not in text
    assert ("The logs are too few to judge: 4 requests replayed, about 0 of them in the offline A/B's 10% treatment "
            "arm, where the judge wants about 200 in each arm (as `evaluate` wants of a canary's); about 2,000 "
            'requests are needed (1,996 more). 2 candidates judged "no significant difference" on them.'
            ) in text  # fmt: skip


def test_too_few_requests_in_markdown_and_json(small: Path) -> None:
    md = run_small(small, "-f", "markdown")
    assert "No single mutation improves the recipe." not in md
    assert "**The logs are too few to judge: 4 requests replayed" in md and "(1,996 more)" in md
    few = json.loads(run_small(small, "-f", "json"))["report"]["too_few_requests"]
    assert {k: few[k] for k in ("requests", "treatment_share", "per_arm", "needed", "more", "inconclusive")} == {
        "requests": 4, "treatment_share": 0.1, "per_arm": 200, "needed": 2000, "more": 1996, "inconclusive": 2,
    }  # fmt: skip
    assert few["message"].startswith("The logs are too few to judge")


def test_the_requests_needed_follow_the_treatment_share(small: Path) -> None:
    few = json.loads(run_small(small, "-f", "json", "--treatment-share", "0.5"))["report"]["too_few_requests"]
    assert (few["needed"], few["more"]) == (400, 396)


def test_accepted_mutations_on_too_few_requests_carry_the_note(small: Path) -> None:
    got = CliRunner().invoke(app, ["suggest", str(CHECKOUT), "--logs", str(small), "-q"], env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    assert "Best single mutations" in flat(got.stdout) and "too few" not in got.stdout  # a note: on stderr
    assert "note: The logs are too few to judge: 4 requests replayed" in flat(got.stderr)


def test_enough_requests_or_nothing_inconclusive_say_nothing_of_it(checkout_markdown: str) -> None:
    assert "too few" not in checkout_markdown  # 3,964 requests: 396 in the 10% arm
    assert too_few_requests(1999, 0.1, inconclusive=3) is not None
    assert too_few_requests(2000, 0.1, inconclusive=3) is None
    assert too_few_requests(4, 0.1, inconclusive=0) is None  # nothing waited on more data
    assert requests_needed(0.25) == 800 and too_few_requests(500, 0.1, inconclusive=1)["treatment_share_enough"] == 0.4


def test_candidates_that_move_nothing_are_not_waiting_on_more_requests(small: Path) -> None:
    # reordering moves no cost: no test is run ("skipped"), and more requests would not change that
    report = json.loads(run_small(small, "-f", "json", "-O", "parallelize", "--objective", "cost"))["report"]
    assert report["singles"] and all(c["predicted"]["decided_by"] == "skipped" for c in report["singles"])
    assert "too_few_requests" not in report


def test_a_sample_too_few_to_judge_names_the_sample_that_would_do() -> None:
    """--sample-requests 0.1 of the checkout's 3,964 requests replays about 400: the logs hold enough, the
    sample does not; the sentence asks for a larger sample, not for more logs."""
    args = ["suggest", str(CHECKOUT), "--logs", str(CHECKOUT_LOGS), "-q", "--sample-requests", "0.1", "-f", "json"]
    got = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert got.exit_code == 0, got.output
    few = json.loads(got.stdout)["report"]["too_few_requests"]
    assert few["sample"] == {"fraction": 0.1, "requests_total": 3964} and few["sample_requests_enough"] == 0.55
    assert few["message"].startswith(f"The sample is too few to judge: {few['requests']:,} requests replayed")
    assert "the sample of 0.1 replayed" in few["message"] and "--sample-requests 0.55 replays enough" in few["message"]


def test_the_yaml_diff_is_never_broken_at_the_terminals_width() -> None:
    """At 80 columns rich broke a diff line ("# Fraud scoring runs after pricing ... --" then "it does not
    read" on a line with no diff prefix): the diff promised to be exactly what apply writes."""
    args = ["suggest", str(CHECKOUT), "--logs", str(CHECKOUT_LOGS), "-q", "-O", "eliminate"]
    text = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    data = CliRunner().invoke(app, [*args, "-f", "json"], env={"COLUMNS": "80"})
    assert text.exit_code == 0 and data.exit_code == 0, text.output
    unified = json.loads(data.stdout)["report"]["diff"]["unified"].splitlines()
    assert any(len(line) > 80 for line in unified)  # the case: lines wider than the terminal
    printed = text.stdout.splitlines()
    assert all(line in printed for line in unified), [x for x in unified if x not in printed][:3]
