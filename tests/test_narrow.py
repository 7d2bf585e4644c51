"""Narrow terminals and pipes (issue 16, item 3).

At 200, 80 and 60 columns every column that decides is shown (a table when it fits, else one block
per row), a column left out for want of width is named, ids are never cut; on a pipe (no terminal,
no $COLUMNS) a table keeps every column, as wide as its widest row, and lines of text are never wrapped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recipemut.apply.history import new_entry, write_history
from recipemut.cli import app
from recipemut.plan.explain import signed
from recipes import CHECKOUT_EXAMPLE as CHECKOUT

runner = CliRunner(env={"RECIPEMUT_STORE": "off"})
SUGGEST = ["suggest", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "--explain"]
PROFILE = ["profile", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz")]
FORECAST = ["forecast", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "--charts", "0"]
#: the suggest tables' columns; Δp95, Δcost and verdict decide and are never left out
SUGGEST_COLUMNS = ("Δp50 ms", "Δp95 ms", "Δp99 ms", "Δcost/req", "verdict", "imputed")
PROFILE_COLUMNS = ("service", "count", "p50 ms", "p95 ms", "p99 ms", "mean ms", "cost $", "cpu ms",
                   "in B", "out B", "err %", "halt %", "crit %")  # fmt: skip
FORECAST_COLUMNS = ("service", "busy ms", "cap", "peak/target", "target", "replicas")
WIDTHS = ["200", "80", "60"]


def _run(args: list[str], columns: str | None) -> str:
    res = runner.invoke(app, args, env={"COLUMNS": columns})
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    """``suggest --format json`` on the shipped checkout: what every width must show."""
    doc: dict[str, Any] = json.loads(_run([*SUGGEST, "--format", "json"], None))
    return doc


@pytest.fixture(scope="module")
def suggest_text() -> Callable[[str | None], str]:
    seen: dict[str | None, str] = {}

    def text(columns: str | None) -> str:
        if columns not in seen:
            seen[columns] = _run(SUGGEST, columns)
        return seen[columns]

    return text


def _cell(predicted: dict[str, Any], key: str) -> str:
    """A predicted change as the text shows it: the estimate, then its interval unless it is a point."""
    cost = key == "cost_mean_usd"
    d, (lo, hi) = predicted[key]["delta"], predicted[key]["ci"]
    return signed(d, cost) if lo == hi == d else f"{signed(d, cost)} [{signed(lo, cost)}, {signed(hi, cost)}]"


def _section(text: str, start: str, ends: tuple[str, ...]) -> list[str]:
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith(start))
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith(ends)), len(lines))
    return lines[i:j]


def _row(section: list[str], k: int, mutation_id: str) -> str:
    """Row ``k`` of a table (``│ k │ id``) or its block (``#k id``), up to the next row, words rejoined."""
    def start(n: int, name: str = r"\S+") -> re.Pattern[str]:
        return re.compile(rf"(?:^#{n} |│\s*{n} │ ){name}(?:[\s│]|$)")

    first = next(i for i, line in enumerate(section) if start(k, re.escape(mutation_id)).search(line))
    end = next((i for i in range(first + 1, len(section)) if start(k + 1).search(section[i])), len(section))
    return " ".join(" ".join(section[first:end]).split())


def _shown_or_named(section: list[str], names: tuple[str, ...]) -> None:
    """Every column is a header of the table (``┃``), a ``name:`` label of the blocks, or named as not shown."""
    note = re.search(r"\(not shown at \d+ columns: (.*?); --format json", " ".join(section))
    headers = " ".join(line for line in section if line.startswith("┃"))
    for name in names:
        assert (
            name in headers or any(f"{name}: " in line for line in section) or (note and name in note[1])
        ), f"{name} neither shown nor named:\n" + "\n".join(section)


@pytest.mark.parametrize("columns", WIDTHS)
def test_suggest_shows_every_deciding_value_of_every_candidate(
    columns: str, plan: dict[str, Any], suggest_text: Callable[[str | None], str]
) -> None:
    text = suggest_text(columns)
    report = plan["report"]
    singles = [c for c in report["singles"] if c["status"] == "accepted"][:10]
    tables = [
        (_section(text, "Best single mutations", ("Plan (", "evaluated ")), singles),
        (_section(text, "Rejected candidates", ("Not proposed", "evaluated ")), report["rejected"]),
    ]
    assert singles and report["rejected"]
    for section, cands in tables:
        _shown_or_named(section, SUGGEST_COLUMNS)
        assert all(len(line) <= int(columns) for line in section), max(section, key=len)
        for k, c in enumerate(cands, 1):
            row = _row(section, k, c["id"])  # the id whole, on one line
            for key in ("latency_p95_ms", "cost_mean_usd"):
                assert _cell(c["predicted"], key) in row, (key, row)
            assert (c["verdict"] or "-") in row, row
    assert "…" not in text
    words = " ".join(text.split())  # text wraps at words: rejoined, each plan step reads whole
    for m in plan["mutations"]:
        assert " ".join(f"{m['id']}: {m['description']}".split()) in words, m["id"]
    # the eliminate of issue 16: its whole gain is the cost, which every width shows
    eliminate = next(c for c in singles if c["id"] == "eliminate:fetch_recommendations")
    assert _cell(eliminate["predicted"], "cost_mean_usd").startswith("-$0.000498")


def test_suggest_piped_never_wraps_a_line_and_keeps_every_column(
    plan: dict[str, Any], suggest_text: Callable[[str | None], str]
) -> None:
    lines = suggest_text(None).splitlines()
    assert any(len(f"{m['id']}: {m['description']}") > 180 for m in plan["mutations"])  # would have been wrapped
    for m in plan["mutations"]:
        assert any(line.endswith(f". {m['id']}: {m['description']}") for line in lines), m["id"]  # one line
    ab = [line for line in lines if line.lstrip().startswith("A/B ")]  # each A/B sentence whole on its line
    assert ab and all(" verdict from the " in line for line in ab), ab
    # a pipe has no width: the tables were laid out for 180 columns, which left Δp99 ms out ("not shown at 180
    # columns"); a script reading the pipe gets every column, each cell on one line
    assert "not shown at" not in suggest_text(None)
    for title in ("Best single mutations", "Rejected candidates"):
        section = _section(suggest_text(None), title, ("Plan (", "Not proposed", "evaluated "))
        headers = next(line for line in section if line.startswith("┃"))
        assert all(name in headers for name in SUGGEST_COLUMNS), headers
        rows = [line for line in section if line.startswith("│")]
        assert len({len(line) for line in section[1:] if line.startswith(("┏", "┃", "│", "└"))}) == 1, section
        assert len(rows) == len(plan["report"]["rejected"] if title == "Rejected candidates" else [
            c for c in plan["report"]["singles"] if c["status"] == "accepted"][:10])  # one line a row: none wrapped


LONG = "parallelize:" + "load_" * 30 + "cart->score_fraud"  # a 179-character id: one word no table can hold
HISTORY_IDS = ("eliminate:fetch_recommendations", "substitute:price_items->price_items_edge",
               "parallelize:lookup_tax->quote_shipping", "datapipe:priced_cart=arrow+zstd", LONG)  # fmt: skip


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, str]:
    """A recipe whose history holds one apply of five mutations."""
    recipe = tmp_path / "checkout.yaml"
    before = (CHECKOUT / "recipe.yaml").read_text()
    after = before + "# applied\n"
    recipe.write_text(after)
    entry = new_entry(None, action="apply", previous_text=before, text=after, version_before=4, version=5,
                      mutations=[{"id": i} for i in HISTORY_IDS])  # fmt: skip
    write_history(recipe, [entry])
    return recipe, entry.sha256_after[:8]


@pytest.mark.parametrize("columns", [*WIDTHS, None])
def test_history_never_cuts_an_id(columns: str | None, recorded: tuple[Path, str]) -> None:
    recipe, sha = recorded
    out = _run(["history", str(recipe)], columns)
    lines = out.splitlines()
    for i in HISTORY_IDS:
        assert re.search(rf"(?:^|\s){re.escape(i)}(?:[,;]|\s|$)", out, re.M), i  # whole, on one line
    assert "4 -> 5" in out and "apply" in out and sha in out and "…" not in out
    if columns is None:  # piped: the table as wide as its row, which is one line, every id in it
        [row] = [x for x in lines if x.startswith("│")]
        assert f"datapipe:priced_cart=arrow+zstd, {LONG} │" in row and f"│ 83f25371 -> {sha} │" in row, row
    else:  # a line wider than the terminal is one word: the long id, which no wrapping could keep whole
        assert all(len(line) <= int(columns) or " " not in line.strip() for line in lines[1:]), out


@pytest.mark.parametrize("columns", ["80", "60", None])
def test_profile_shows_or_names_every_column(columns: str | None) -> None:
    out = _run(PROFILE, columns)
    prof = json.loads(_run([*PROFILE, "--format", "json"], None))
    lines = out.splitlines()
    table = lines[1 : next(i for i, line in enumerate(lines) if line.startswith("end-to-end:"))]
    _shown_or_named(table, PROFILE_COLUMNS)
    if columns is None:  # piped: every column, as wide as the table needs
        headers = " ".join(line for line in table if line.startswith("┃"))
        assert all(name in headers for name in PROFILE_COLUMNS) and "not shown at" not in out, out
    else:
        assert all(len(line) <= int(columns) for line in table), max(table, key=len)
    for op in prof["ops"]:
        mark = r"\*\s*│?\s*" if op["on_critical_path"] else r"(?:│\s+│\s|^)"
        assert re.search(rf"{mark}{re.escape(op['op'])}(?:\s|$)", "\n".join(table), re.M), op["op"]


def test_forecast_names_the_columns_it_leaves_out_at_60() -> None:
    lines = _run(FORECAST, "60").splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("service "))
    table = lines[head - 1 : next(i for i, line in enumerate(lines) if line.startswith("peak now:"))]
    assert all(len(line) <= 60 for line in table), max(table, key=len)
    note = re.search(r"\(not shown at 60 columns: (.*?); --format json", " ".join(table))
    assert note, table
    for name in FORECAST_COLUMNS:
        assert name in note[1] or name in " ".join(table[:3]), name
    assert re.search(r"^tax .* in \d+\.\d days", "\n".join(table), re.M)


def test_stats_and_evaluate_stack_instead_of_cutting_at_60(tmp_path: Path) -> None:
    from test_canary import CACHE, PARALLELIZE, _spans, _start_canary
    from test_store import _populated

    from recipemut.loggen import write_jsonl

    store = tmp_path / "s.sqlite"
    _populated(store)
    out = _run(["stats", "--store", str(store)], "60")
    assert "…" not in out and all(len(line) <= 60 for line in out.splitlines()[1:-1])
    for label in ("cache", "reorder", "sim ok: 3", "calib.: 50% of 2", "gain: +7.0%"):
        assert label in out, out
    recipe = _start_canary(tmp_path / "checkout.yaml", PARALLELIZE, CACHE)
    logs = tmp_path / "canary.jsonl"
    write_jsonl(_spans(recipe, 2000, 1.0), logs)
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--no-act"], env={"COLUMNS": "60"})
    assert "…" not in res.stdout, res.stdout
    for metric in ("latency_p50", "latency_p95", "cost", "error_rate", "halt_rate"):
        assert re.search(rf"^{metric}$", res.stdout, re.M), res.stdout  # each metric heads its block, whole
    assert res.stdout.count("status: ") == 5 and res.stdout.count("allowed: ") == 5
