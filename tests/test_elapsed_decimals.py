"""A time between two epoch-millisecond times keeps the logged decimals: ``evaluate -f json`` said a primary
p50 of 606.300048828125 ms, ``profile -f json`` 606.18505859375, for logs written to the hundredth of a
millisecond. An epoch time near 1.76e12 ms is exact to 2**-12 ms in float64, so ``end - start`` came out
up to 0.0005 ms off; it is rounded to the microsecond, the finest step the difference resolves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from _apply_helpers import with_canary
from typer.testing import CliRunner

from recipemut.apply.canary import request_metrics
from recipemut.cli import app
from recipemut.logs.ingest import read_logs
from recipemut.logs.spans import elapsed_ms
from recipemut.profile.build import build_profile
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "checkout" / "recipe.yaml"
LOGS = ROOT / "recipes" / "checkout" / "logs.jsonl.gz"
runner = CliRunner()
T0 = 1763942400204.44  # 2025-11-24, as the checkout log's times


def test_elapsed_ms_gives_the_logged_decimals_back() -> None:
    assert T0 + 606.3 - T0 != 606.3  # what the subtraction leaves
    assert float(elapsed_ms(T0 + 606.3, T0)) == 606.3
    got = elapsed_ms(np.array([T0 + 0.01, T0 + 33.35, np.nan]), np.array([T0, T0, T0]))
    assert got[:2].tolist() == [0.01, 33.35] and np.isnan(got[2])


def test_a_canary_request_latency_is_the_logged_one() -> None:
    spans = pd.DataFrame({
        "request_id": ["a", "a", "b"], "variant": ["control", "control", "canary"],
        "start_ms": [T0, T0 + 100.1, T0 + 5000.0], "latency_ms": [100.1, 506.2, 494.94],
        "status": ["ok", "ok", "ok"], "cost_usd": [0.1, 0.2, 0.3],
    })
    assert request_metrics(spans)["latency_ms"].to_dict() == {"a": 606.3, "b": 494.94}


def test_a_profile_of_logs_written_to_the_hundredth_keeps_the_hundredths() -> None:
    recipe = load_recipe(RECIPE)
    spans, _ = read_logs(LOGS, recipe=recipe)
    prof = build_profile(spans, recipe)
    e2e = prof.e2e_latency_ms
    assert np.array_equal(e2e, np.round(e2e, 2))  # every start and latency is logged to 0.01 ms
    offsets = prof.start_offset_ms[~np.isnan(prof.start_offset_ms)]
    assert np.array_equal(offsets, np.round(offsets, 2))


def test_evaluate_json_says_the_logged_latency(tmp_path: Path) -> None:
    """The new user's case: each arm's latency printed as logged."""
    recipe = with_canary(RECIPE, tmp_path / "r.yaml")
    version = load_recipe(recipe).version
    rows = []
    for i, (variant, first, second) in enumerate([("control", 100.1, 506.2), ("canary", 100.1, 394.84)] * 3):
        rid, t = f"r{i}", T0 + 10_000.0 * i
        for op, start, lat in (("load_cart", t, first), ("load_user", t + first, second)):
            rows.append({"request_id": rid, "recipe": "checkout", "recipe_version": version, "variant": variant,
                         "op": op, "start_ms": start, "latency_ms": lat, "status": "ok"})
    logs = tmp_path / "canary.jsonl"
    logs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--no-act", "-q", "-f", "json",
                              "--min-requests", "1"])
    metrics = {m["metric"]: m for m in json.loads(res.stdout)["metrics"]}
    assert (metrics["latency_p50"]["primary"], metrics["latency_p50"]["canary"]) == (606.3, 494.94), res.stdout

