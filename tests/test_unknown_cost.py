"""A cost no span and no price gives is unknown everywhere suggest and the report say a cost.

Found by new users on traces with no cost (a drafted recipe of a Zipkin trace): the suggest table
said ``Δcost/req unknown``, but its whole-plan line said ``Δcost $0``, its A/B lines ``cost Δmean $0
[$0, $0]``, the markdown and the HTML report ``cost $0.000000`` per request (the report plotting a
``Δ cost per request`` chart around 0), and ``suggest -f json`` ``baseline.cost_mean_usd: 0.0``
where ``profile -f json`` gives ``null``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_cli_suggest import SHOP
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe

runner = CliRunner()
ENV = {"COLUMNS": "250", "RECIPEMUT_STORE": "off"}
FREE = "\n".join(line for line in SHOP.splitlines() if "cost_per_call_usd" not in line) + "\n"


def _files(folder: Path, text: str, *, costs: bool) -> tuple[Path, Path]:
    recipe = folder / "shop.yaml"
    recipe.write_text(text)
    spans = generate_spans(load_recipe(recipe), 600, seed=4, duration_s=86400)
    if not costs:
        spans["cost_usd"] = np.nan  # a trace's spans carry no cost: the column is left out of the file
    logs = folder / "shop.jsonl"
    write_jsonl(spans, logs)
    return recipe, logs


@pytest.fixture(scope="module")
def free(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _files(tmp_path_factory.mktemp("free"), FREE, costs=False)


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _files(tmp_path_factory.mktemp("priced"), SHOP, costs=True)


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args), env=ENV)
    assert res.exit_code == 0, res.output
    return res.stdout


def test_the_logs_hold_no_cost(free: tuple[Path, Path]) -> None:
    assert "cost_usd" not in free[1].read_text().splitlines()[0]


def test_suggest_text_says_unknown_wherever_a_cost_would_be(free: tuple[Path, Path]) -> None:
    out = " ".join(_run("suggest", str(free[0]), "--logs", str(free[1]), "--objective", "latency", "-q").split())
    assert "cost unknown (no cost in the logs or the recipe); objective latency" in out, out
    assert "Δcost unknown; verdict improves" in out, out  # the whole plan's line said Δcost $0
    assert "cost unknown; latency verdict from" in out, out  # the A/B lines said cost Δmean $0 [$0, $0]
    assert "$0" not in out, out


def test_suggest_json_has_a_null_cost_as_profile_does(free: tuple[Path, Path]) -> None:
    args = ("--logs", str(free[1]), "-f", "json", "-q")
    assert json.loads(_run("profile", str(free[0]), *args))["e2e"]["cost_mean_usd"] is None
    plan = json.loads(_run("suggest", str(free[0]), *args, "--objective", "latency"))
    rep = plan["report"]
    assert rep["baseline"]["cost_mean_usd"] is None  # it was 0.0
    predicted: list[dict[str, Any]] = [
        *(c["predicted"] for c in rep["singles"] if c["predicted"]), rep["plan_predicted"],
        *(m["predicted"] for m in plan["mutations"]),
    ]  # fmt: skip
    assert len(predicted) >= 3
    for p in predicted:
        assert p["cost_mean_usd"]["delta"] is None and p["cost_mean_usd"]["ci"] == [None, None], p["cost_mean_usd"]
        assert p["baseline"]["cost_mean_usd"] is None and p["ab"]["cost"] is None
        assert p["latency_p95_ms"]["delta"] < 0  # what is known stays


def test_suggest_markdown_says_unknown(free: tuple[Path, Path]) -> None:
    out = _run("suggest", str(free[0]), "--logs", str(free[1]), "-f", "markdown", "--objective", "latency", "-q")
    assert "p99 " in out and "cost unknown (no cost in the logs or the recipe). Objective: **latency**" in out, out
    assert "Δcost unknown; **improves**" in out, out
    assert "| unknown | improves |" in out, out  # the table's cell
    assert "$0" not in out, out


def test_report_says_unknown_and_draws_no_cost_chart(free: tuple[Path, Path], tmp_path: Path) -> None:
    page = tmp_path / "r.html"
    _run("report", str(free[0]), "--logs", str(free[1]), "--objective", "latency", "-o", str(page), "-q")
    html = page.read_text()
    assert "cost unknown (no cost in the logs or the recipe); objective latency" in html
    assert "Δcost unknown; verdict" in html and '<td class="num">unknown</td>' in html
    assert "$0" not in html
    assert "Δ cost per request" not in html  # no chart of a change of cost around 0
    assert "No change of cost is drawn: no cost is known" in html


def test_a_known_cost_is_still_said_and_drawn(priced: tuple[Path, Path], tmp_path: Path) -> None:
    out = " ".join(_run("suggest", str(priced[0]), "--logs", str(priced[1]), "--objective", "latency", "-q").split())
    assert "unknown" not in out and "/request; objective latency" in out, out
    page = tmp_path / "r.html"
    _run("report", str(priced[0]), "--logs", str(priced[1]), "--objective", "latency", "-o", str(page), "-q")
    html = page.read_text()
    assert "Δ cost per request" in html and "No change of cost is drawn" not in html
    plan = json.loads(_run("suggest", str(priced[0]), "--logs", str(priced[1]), "-f", "json", "-q"))
    assert plan["report"]["baseline"]["cost_mean_usd"] > 0
