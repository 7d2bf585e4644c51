"""How suggest prints deltas: a value that rounds to zero reads +0.0, never -0.0 (make demo showed -0.0µ$); a cost
change too small for six places shows two significant digits, so a real change never reads +$0.000000."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.plan.explain import signed


@pytest.mark.parametrize(
    ("x", "cost", "text"),
    [
        (-8.673617379884035e-19, True, "$0"),  # the CUPED A/B mean when no treatment request's cost moved
        (0.0, True, "$0"),
        (-4.9e-08, True, "-$0.000000049"),  # it read +$0.000000, as no change
        (6.841574167514367e-07, True, "+$0.00000068"),  # it read +$0.000001
        (-4.958e-04, True, "-$0.000496"),  # in dollars, as the sentences beside it (it was -495.8µ$)
        (-3e-13, False, "+0.0"),  # the rounding of sums of times, not a change
        (-0.04, False, "-0.04"),  # a change of 40 µs is said (it read +0.0, as none, on spans of microseconds)
        (-33.48, False, "-33.5"),
        (float("nan"), True, "-"),
    ],
)
def test_deltas_never_read_minus_zero(x: float, cost: bool, text: str) -> None:
    assert signed(x, cost) == text


CHECKOUT = Path(__file__).resolve().parents[1] / "recipes" / "checkout"


def test_a_tiny_cost_change_is_not_said_as_none() -> None:
    """parallelize:lookup_tax->quote_shipping adds $0.00000068 per request (a halted request's calls); suggest
    said '+$0.000001 [+$0.000000, +$0.000001]', its lower end a change of none. datapipe changes no price: $0."""
    args = ["suggest", str(CHECKOUT / "recipe.yaml"), "--logs", str(CHECKOUT / "logs.jsonl.gz"), "-q",
            "-O", "parallelize", "-O", "datapipe"]  # fmt: skip
    got = CliRunner().invoke(app, args, env={"COLUMNS": None, "RECIPEMUT_STORE": "off"})
    assert got.exit_code == 0, got.output
    assert not re.search(r"\$0\.000000(?!\d)", got.output), got.output  # a change said as none
    row = next(line for line in got.output.splitlines() if "parallelize:lookup_tax->quote_shipping" in line)
    assert "+$0.00000068 [+$0.00000025, +$0.0000012]" in row, row
    row = next(line for line in got.output.splitlines() if re.search(r"│ datapipe:priced_cart=arrow\+zstd ", line))
    assert re.search(r"│ +\$0 │", row), row
