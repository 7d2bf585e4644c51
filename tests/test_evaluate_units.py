"""evaluate says each change in one unit, the same in its table and its decision line: a relative metric
in percent of the primary (in ms or dollars when the primary is 0), a rate's change and its allowance
in points (the table said "+0.50%" for half a point, the decision line "+0.43% points"; a zero primary
cost was "-$0.000012" in the table and "-1.2e-05 USD" in the line)."""

from __future__ import annotations

import math
from dataclasses import replace

from recipemut.apply.canary import MetricJudgement, _fmt_metric
from recipemut.usecases.evaluate import table_cells

RATE = MetricJudgement("error_rate", 0.0347, 0.0390, 0.0043, -0.0077, 0.0174, 0.4, 0.005, 0.005, "uncertain",
                       level=0.99)  # fmt: skip
COST = MetricJudgement("cost", 0.00694, 0.00544, -0.0015, -0.00155, -0.00144, 0.001, 0.02, 0.0001388, "improves",
                       level=0.99)  # fmt: skip


def test_a_rates_change_and_allowance_are_points_in_the_table_and_the_line() -> None:
    assert table_cells(RATE) == ("3.47%", "3.90%", "+0.43 pt (-0.77 .. +1.74 pt)", "+0.50 pt")
    assert _fmt_metric(RATE) == "error_rate +0.43 pt (99% CI -0.77..+1.74 pt, allowed +0.50 pt)"


def test_a_relative_change_is_percent_of_the_primary_in_both() -> None:
    assert table_cells(COST) == ("$0.006940", "$0.005440", "-21.6% (-22.3% .. -20.7%)", "+2.0%")
    assert _fmt_metric(COST) == "cost -21.6% (99% CI -22.3%..-20.7%, allowed +2.0%)"


def test_a_zero_primary_is_said_in_dollars_or_ms_alike() -> None:
    free = replace(COST, primary=0.0, canary=0.000012, delta=0.000012, lo=0.000002, hi=0.00002)
    assert table_cells(free)[2] == "+$0.000012 (+$0.000002 .. +$0.000020)"
    assert _fmt_metric(free) == "cost +$0.000012 (99% CI +$0.000002..+$0.000020, allowed +2.0%)"
    still = replace(free, name="latency_p50", delta=-3.25, lo=-5.0, hi=-1.5)
    assert table_cells(still)[2] == "-3.2 ms (-5.0 ms .. -1.5 ms)"
    assert _fmt_metric(still).startswith("latency_p50 -3.2 ms (99% CI -5.0 ms..-1.5 ms,")


def test_an_interval_not_computed_is_n_a_in_both() -> None:
    lost = replace(RATE, lo=math.nan, hi=math.nan)
    assert table_cells(lost)[2] == "+0.43 pt (n/a)"
    assert "(99% CI n/a, allowed +0.50 pt)" in _fmt_metric(lost)
