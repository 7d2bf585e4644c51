"""How suggest prints deltas: a value that rounds to zero reads +0.0, never -0.0 (make demo showed -0.0µ$)."""

from __future__ import annotations

import pytest

from recipemut.plan.explain import signed


@pytest.mark.parametrize(
    ("x", "cost", "text"),
    [
        (-8.673617379884035e-19, True, "+$0.000000"),  # the CUPED A/B mean when no treatment request's cost moved
        (-4.9e-08, True, "+$0.000000"),
        (6.841574167514367e-07, True, "+$0.000001"),
        (-4.958e-04, True, "-$0.000496"),  # in dollars, as the sentences beside it (it was -495.8µ$)
        (-0.04, False, "+0.0"),
        (-33.48, False, "-33.5"),
        (float("nan"), True, "-"),
    ],
)
def test_deltas_never_read_minus_zero(x: float, cost: bool, text: str) -> None:
    assert signed(x, cost) == text
