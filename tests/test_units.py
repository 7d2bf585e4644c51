"""One wording of figures and their units across commands (``recipemut/files/units.py``).

A new user running the README's loop met milliseconds with thousands separators in evaluate
(``1,020.0 ms``) and without them in profile and suggest (``1872.7 ms``): every ms figure a person
reads now goes through one helper.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.units import counted, ms_short, ms_text

runner = CliRunner()
ENV = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}
CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"


@pytest.mark.parametrize(
    ("kwargs", "value", "text"),
    [
        ({}, 1872.74, "1,872.7 ms"),
        ({}, 606.5, "606.5 ms"),
        ({"signed": True}, 1020.0, "+1,020.0 ms"),
        ({"signed": True}, -1e-9, "+0.0 ms"),
        ({"signed": True}, -0.04, "-0.04 ms"),
        ({}, 0.0025, "0.0025 ms"),
        ({}, 0.009, "0.009 ms"),
        ({"unit": False}, 0.0957, "0.096"),
        ({"signed": True, "unit": False}, 0.29, "+0.3"),  # one decimal gives two digits from 0.1 ms: as before
        ({"unit": False}, 0.5, "0.5"),
        ({"decimals": 2, "signed": True}, 0.00031, "+0.00031 ms"),
        ({}, 0.0, "0.0 ms"),
        ({"signed": True, "unit": False}, -1004.46, "-1,004.5"),
        ({"unit": False}, 1178.94, "1,178.9"),
        ({"decimals": 2, "signed": True}, -21.934, "-21.93 ms"),
        ({"decimals": None}, 1200.0, "1,200 ms"),
        ({"decimals": None}, 142.4, "142.4 ms"),
        ({"clock": True}, 59_999.0, "59,999.0 ms"),
        ({"clock": True}, 386_000.0, "386,000.0 ms (6m26s)"),
        ({"clock": True}, 3_725_000.0, "3,725,000.0 ms (1h02m)"),
        ({}, float("nan"), "-"),
    ],
)
def test_ms_text(kwargs: dict[str, object], value: float, text: str) -> None:
    assert ms_text(value, **kwargs) == text  # type: ignore[arg-type]


def test_ms_short_is_whole_from_100_ms_with_separators() -> None:
    assert (ms_short(95.14), ms_short(1178.9), ms_short(12_345.6)) == ("95.1 ms", "1,179 ms", "12,346 ms")


def _ran(args: list[str]) -> tuple[Any, str]:
    """The command's result and its stdout rejoined (a sentence reads as one line at any width)."""
    res = runner.invoke(app, args, env=ENV)
    assert res.exit_code == 0, res.output
    return res, " ".join(res.stdout.split())


def test_profile_says_milliseconds_as_evaluate_does() -> None:
    args = ["profile", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "-q"]
    res, out = _ran(args)
    assert "end-to-end: p50 606.5 ms, p95 988.5 ms, p99 1,872.7 ms;" in out, out
    assert "quote_shipping 1,099.0 ms (55% of their latency)" in out, out
    row = next(line for line in res.stdout.splitlines() if " quote_shipping " in line)
    assert " 1,178.9 " in row and "1178.9" not in row, row  # the table's p99 ms cell
    data = json.loads(runner.invoke(app, [*args, "-f", "json"], env=ENV).stdout)
    assert data["e2e"]["latency_p99_ms"] == pytest.approx(1872.7, abs=0.05)  # JSON keeps the bare number


def test_spans_of_microseconds_read_as_their_figures(tmp_path: Path) -> None:
    """jaeger-ui's happyTrace (spans of 1 to 9 µs) read ``0.0`` in every latency figure of profile, and suggest's
    changes under 1 ms read ``+0.0`` (improves beside regresses): under 1 ms two significant digits are kept."""
    from recipemut.plan.explain import signed

    recipe = tmp_path / "happy.yaml"
    recipe.write_text(
        "apiVersion: recipemut/v1\nkind: Recipe\nname: happy\noperations:\n"
        "  - {id: op1, service: service1, action: op1}\n"
        "  - {id: op2, service: service1, action: op2, after: [op1]}\n"
        "  - {id: op3, service: service1, action: op3, after: [op1]}\n"
        "  - {id: op1_s2, service: service2, action: op1, after: [op2, op3]}\n",
        encoding="utf-8",
    )
    trace = Path(__file__).resolve().parent / "realdata" / "jaeger_ui_criticalpath_happyTrace.json"
    args = ["profile", str(recipe), "--logs", str(trace), "-q"]
    res, out = _ran(args)
    assert "end-to-end: p50 0.009 ms, p95 0.009 ms, p99 0.009 ms;" in out, out
    assert "op3 0.004 ms (44% of their latency)" in out, out
    row = next(line for line in res.stdout.splitlines() if " op1_s2 " in line)
    assert row.count(" 0.001 ") == 4, row  # p50, p95, p99, mean
    data = json.loads(runner.invoke(app, [*args, "-f", "json"], env=ENV).stdout)
    assert data["e2e"]["latency_p50_ms"] == pytest.approx(0.009)  # JSON keeps the bare number
    assert (signed(-0.0042), signed(0.0031), signed(-3e-13)) == ("-0.0042", "+0.0031", "+0.0")


def test_stats_and_evaluate_spell_points_alike() -> None:
    """stats said ``0.5pt`` where evaluate said ``+0.25 pt``: both say ``pt`` after a space."""
    from recipemut.apply.canary import MetricJudgement
    from recipemut.commands.stats import HEADERS, _cells

    row = {"operator": "cache", "suggested": 2, "simulated_improves": 1, "promoted": 1, "rolled_back": 0, "held": 0,
           "mean_observed_gain": 0.002, "prediction_error": 0.005, "calibration": 1.0, "calibrated_n": 1,
           "bandit": {"posterior_mean": 0.65, "next_pick_probability": 0.15}}  # fmt: skip
    assert _cells(row)[HEADERS.index("err")] == "0.5 pt"
    rate = MetricJudgement("error_rate", 0.0359, 0.0384, 0.0025, -0.0087, 0.0162, 0.4, 0.005, 0.005, "uncertain")
    assert (rate.change_text(rate.delta), rate.allowed_text()) == ("+0.25 pt", "+0.50 pt")


def test_forecast_and_suggest_say_days_alike() -> None:
    """forecast said 'in 13.6 d' where suggest said 'in 14 days' of the same service: both say '13.6 days'."""
    logs = ["--logs", str(CHECKOUT / "logs.jsonl.gz"), "-q"]
    fc = runner.invoke(app, ["forecast", str(CHECKOUT / "recipe.yaml"), *logs, "--charts", "0"], env=ENV)
    assert fc.exit_code == 0, fc.output
    tax = next(line for line in fc.stdout.splitlines() if line.startswith("tax "))
    assert "in 13.6 days (Dec 21); " in tax and " d " not in tax, tax
    assert "(95% range, days)" in fc.stdout and "not within 30 days" in fc.stdout
    sg = runner.invoke(app, ["suggest", str(CHECKOUT / "recipe.yaml"), *logs, "-O", "cache"], env=ENV)
    assert sg.exit_code == 0, sg.output
    assert "tax: scaling needed in 13.6 days -> " in " ".join(sg.stdout.split()), sg.stdout


def _docstrings(tree: ast.AST) -> set[int]:
    kinds = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    nodes = [n for n in ast.walk(tree) if isinstance(n, kinds)]
    return {id(n.body[0].value) for n in nodes if n.body and isinstance(n.body[0], ast.Expr)}


def test_no_text_says_a_count_with_an_s_in_brackets() -> None:
    """'7 mutation(s) recorded', 'in 8 round(s)', '1 span(s) map to no operation': a count's noun is singular
    for one and plural otherwise (files/units.counted), never 'span(s)'."""
    found = []
    for path in sorted((Path(__file__).resolve().parents[1] / "recipemut").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) and id(node) not in skip else None
            if isinstance(text, str) and re.search(r"[a-z]\(s\)", text):
                found.append(f"{path.name}:{node.lineno}: {text!r}")
    assert not found, "\n".join(found)


def test_counted() -> None:
    assert [counted(n, "span") for n in (0, 1, 2, 57102)] == ["0 spans", "1 span", "2 spans", "57,102 spans"]
    assert counted(1.0, "item") == "1 item" and counted(2.5, "item") == "2.5 items"
