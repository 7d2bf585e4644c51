"""Start-up: help and the quick commands import none of the heavy libraries the long ones need.

``recipemut suggest -h`` took 1.76 s when the command modules imported the core (scipy, pandas,
statsmodels) at load. A behaviour test, not a timed one: ``python -X importtime`` lists every
module the process imported, and the heavy ones must not be among them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("scipy", "pandas", "statsmodels", "networkx", "pyarrow", "jsonschema")


def imported(*args: str) -> set[str]:
    """The top-level packages ``python -X importtime -m recipemut *args`` imports."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "recipemut", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "RECIPEMUT_STORE": "off"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "recipemut.cli" in names  # the listing was read
    return {n.partition(".")[0] for n in names}


@pytest.mark.parametrize(
    "command",
    [
        "suggest",
        "profile",
        "forecast",
        "evaluate",
        "generate",
        "report",
        "convert",
        "import",
        "validate",
        "apply",
        "rollback",
        "graph",
        "history",
    ],
)
def test_help_of_a_long_command_imports_no_heavy_library(command: str) -> None:
    assert imported(command, "-h").isdisjoint(HEAVY)


def test_the_apps_help_imports_no_heavy_library() -> None:
    assert imported("--help").isdisjoint((*HEAVY, "numpy", "networkx", "pyarrow"))


def test_suggest_on_the_shipped_example_does_import_them() -> None:
    """The test above can fail: the same listing names them when they are imported."""
    got = imported("suggest", "recipes/checkout/recipe.yaml", "--logs", "recipes/checkout/logs.jsonl.gz", "-f", "json")
    assert {"scipy", "pandas"} <= got


# ---- what the command modules write out so that their help needs no core import -------------------


def test_suggests_operators_and_defaults_are_the_cores() -> None:
    from recipemut.commands import suggest
    from recipemut.judge import abtest
    from recipemut.mutate.operators import REGISTRY
    from recipemut.plan import search

    assert tuple(REGISTRY) == suggest.OPERATORS
    assert search.DEFAULT_BUDGET == suggest.DEFAULT_BUDGET
    assert search.DEFAULT_TIME_BUDGET_S == suggest.DEFAULT_TIME_BUDGET_S
    judge = (abtest.DEFAULT_SHARE, abtest.DEFAULT_MIN_EFFECT, abtest.PRIOR_UNCERTAINTY)
    assert judge == (suggest.DEFAULT_SHARE, suggest.DEFAULT_MIN_EFFECT, suggest.PRIOR_UNCERTAINTY)


def test_evaluates_and_forecasts_constants_are_the_cores() -> None:
    from recipemut.apply import canary
    from recipemut.commands import evaluate, forecast
    from recipemut.forecast import rates

    assert canary.DEFAULT_MIN_REQUESTS == evaluate.DEFAULT_MIN_REQUESTS
    assert dict(canary.DEFAULT_TOLERANCES) == evaluate.DEFAULT_TOLERANCES
    assert rates.DAY_S == forecast.DAY_S
