"""A cost that is tiny but not zero is said, never rounded to ``$0.000000``.

Found by new users: a recipe priced in fractions of a microdollar per call (a cheap function, a
queue message) profiled at ``cost per request $0.000000``, each cost cell ``0.000000``, and suggest's
baseline said ``cost $0.000000/request``, as if the work were free; the changes of cost beside them
already said ``+$0.00000068`` (files/units.usd_change): a cost is now said as a change is
(files/units.usd_text).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_cli_suggest import SHOP
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe

runner = CliRunner()
ENV = {"COLUMNS": "250", "RECIPEMUT_STORE": "off"}
#: prices of tens of nanodollars a call: a request costs well under a millionth of a dollar
TINY = SHOP.replace("cost_per_call_usd: 0.001", "cost_per_call_usd: 0.00000001").replace(
    "cost_per_call_usd: 0.002", "cost_per_call_usd: 0.00000002").replace(
    "cost_per_call_usd: 0.003", "cost_per_call_usd: 0.00000003")  # fmt: skip
CENTS = r"\$0\.0000000\d\d?"  # 6e-08 to two significant digits, trailing zeros dropped: $0.00000006


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    recipe = folder / "shop.yaml"
    recipe.write_text(TINY)
    spans = generate_spans(load_recipe(recipe), 400, seed=4, duration_s=86400)
    logs = folder / "shop.jsonl"
    write_jsonl(spans, logs)
    return recipe, logs


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args), env=ENV)
    assert res.exit_code == 0, res.output
    return " ".join(res.stdout.split())


def test_the_prices_are_tiny_but_not_zero() -> None:
    assert TINY.count("cost_per_call_usd: 0.0000000") == 3


def test_profile_says_a_tiny_cost_per_request_and_per_operation(tiny: tuple[Path, Path]) -> None:
    out = _run("profile", str(tiny[0]), "--logs", str(tiny[1]))
    assert re.search(rf"cost per request {CENTS}$|cost per request {CENTS} ", out), out
    assert "0.000000 " not in out and "$0.000000 " not in out, out  # neither the line nor a cell reads none
    cells = re.findall(r"│ (0\.0000000\d+) │", out)  # the cost $ column: two significant digits
    assert len(cells) == 3, out
    assert re.search(rf"cost: \S+ \d+% \({CENTS}\)", out), out  # the contributors line


def test_suggest_says_a_tiny_baseline_cost_in_text_and_markdown(tiny: tuple[Path, Path]) -> None:
    args = ("--logs", str(tiny[1]), "--objective", "latency", "-q")
    out = _run("suggest", str(tiny[0]), *args)
    assert re.search(rf"p99 [\d.,]+ ms, cost {CENTS}/request; objective latency", out), out
    md = _run("suggest", str(tiny[0]), *args, "-f", "markdown")
    assert re.search(rf"cost {CENTS}/request\. Objective", md), md
    assert "$0.000000/" not in out + md


def test_a_budget_of_nanodollars_names_the_cost_that_breaks_it() -> None:
    from _operators_helpers import mini

    from recipemut.recipe.constraints import check_predicted
    from recipemut.recipe.model import recipe_from_dict

    ops = [{"id": "a", "consumes": ["id"], "produces": ["x"]}]
    r = recipe_from_dict(mini(ops, outputs=("x",), constraints={"max_cost_per_request_usd": 0.00000002}))
    assert check_predicted(r, 1.0, 0.000000025) == [  # it read 'predicted cost 0.000000 USD/request exceeds ...'
        "predicted cost 0.000000025 USD/request exceeds the budget of 2e-08 USD/request"
    ]


def test_evaluate_cells_say_a_tiny_cost() -> None:
    from recipemut.apply.canary import MetricJudgement
    from recipemut.usecases.evaluate import table_cells

    m = MetricJudgement("cost", 6e-08, 6.6e-08, 6e-09, 5e-09, 7e-09, 0.01, 0.05, 3e-09, "regresses")
    primary, canary, _, _ = table_cells(m)
    assert (primary, canary) == ("$0.00000006", "$0.000000066")  # both read $0.000000
