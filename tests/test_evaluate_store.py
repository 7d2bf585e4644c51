"""evaluate records what it observed in the profile store: suggest -> apply --canary -> logs with the
canary -> evaluate, then the store and `recipemut stats` hold predicted against observed."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT, history_lines
from typer.testing import CliRunner

from recipemut.apply.canary import Judgement, MetricJudgement
from recipemut.apply.history import Entry
from recipemut.cli import app
from recipemut.learn.records import observation_records, shares
from recipemut.learn.store import Store
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256, write_plan
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe

runner = CliRunner()


def _canary_logs(recipe: Path, out: Path, n: int, factor: float = 1.0, seed: int = 3) -> Path:
    """Spans of ``n`` requests, 20% of them on the canary, the canary's spans slowed by ``factor``."""
    spans = generate_spans(load_recipe(recipe), n, seed=seed, variants={"canary": 0.2},
                           treatment={"canary": {"*": factor}}, duration_s=3600)  # fmt: skip
    write_jsonl(spans, out)
    return out


def _rows(store: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(store)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM observations ORDER BY id")]
    finally:
        db.close()


#: the error rate of 300 canary requests is noisy; these tests are about recording, not judging
LOOSE = ["--tolerance", "error_rate=2%"]


def _invoke(args: list[str], store: Path | str) -> Any:
    return runner.invoke(app, args, env={"RECIPEMUT_STORE": str(store)})


@pytest.fixture
def suggested(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A small recipe, a suggest run recorded in a temp store, its plan: (recipe, plan, store)."""
    recipe, store, plan = tmp_path / "checkout.yaml", tmp_path / "store.sqlite", tmp_path / "plan.json"
    recipe.write_text(RECIPE_TEXT)
    base = tmp_path / "base.jsonl"
    write_jsonl(generate_spans(load_recipe(recipe), 300, seed=1, duration_s=3600), base)
    res = _invoke(["suggest", str(recipe), "--logs", str(base), "--out", str(plan), "--budget", "8"], store)
    assert res.exit_code == 0, res.output
    return recipe, plan, store


def _start_canary(recipe: Path, plan: Path, store: Path) -> None:
    res = _invoke(["apply", str(recipe), "--plan", str(plan), "--canary", "0.2"], store)
    assert res.exit_code == 0, res.output


def test_promoted_canary_is_stored_beside_its_prediction_and_stats_reports_it(
    suggested: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    recipe, plan_path, store = suggested
    plan = json.loads(plan_path.read_text())
    chosen = [m for m in plan["mutations"] if m["id"] in plan["plan"]]
    assert chosen, plan
    _start_canary(recipe, plan_path, store)
    logs = _canary_logs(recipe, tmp_path / "canary.jsonl", 1500)
    res = _invoke(["evaluate", str(recipe), "--logs", str(logs), *LOOSE, "--format", "json"], store)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["decision"] == "promote" and out["store"]["recorded"] == len(chosen)

    rows = _rows(store)
    assert [r["mutation_id"] for r in rows] == [m["id"] for m in chosen]
    p95 = next(m for m in out["metrics"] if m["metric"] == "latency_p95")
    for row, m in zip(rows, chosen, strict=True):
        assert row["outcome"] == "promoted" and row["operator"] == m["operator"]
        assert row["metric"] == "latency_p95_ms" and row["kind"] is not None  # the kind suggest recorded
        assert row["baseline"] == pytest.approx(p95["primary"])
        pred = m["predicted"]["latency_p95_ms"]
        sim_base = m["predicted"]["baseline"]["latency_p95_ms"]
        # the prediction, as a relative effect, is the plan's; its interval rescaled to the observed baseline
        assert row["predicted_gain"] == pytest.approx(-pred["delta"] / sim_base)
        scale = p95["primary"] / sim_base
        assert (row["predicted_lo"], row["predicted_hi"]) == pytest.approx(
            (pred["ci"][0] * scale, pred["ci"][1] * scale)
        )
        assert row["observed_lo"] <= row["observed_delta"] <= row["observed_hi"]
        inside = row["predicted_lo"] <= row["observed_delta"] <= row["predicted_hi"]
        assert row["inside_interval"] == int(inside)
    # the canary's joint effect is shared among its mutations
    assert sum(r["observed_delta"] for r in rows) == pytest.approx(p95["delta"])

    res = _invoke(["stats", "--format", "json"], store)
    assert res.exit_code == 0, res.output
    ops = {o["operator"]: o for o in json.loads(res.stdout)["operators"]}
    for op in {m["operator"] for m in chosen}:
        mine = [r for r in rows if r["operator"] == op]
        o = ops[op]
        assert (o["observed"], o["promoted"], o["rolled_back"], o["held"]) == (len(mine), len(mine), 0, 0)
        assert o["mean_observed_gain"] == pytest.approx(sum(r["observed_gain"] for r in mine) / len(mine), abs=1e-6)
        assert o["mean_observed_gain"] > 0  # the parallelized recipe really is faster in the logs
        assert o["calibrated_n"] == len(mine)
        assert o["calibration"] == pytest.approx(sum(r["inside_interval"] for r in mine) / len(mine))
        assert o["prediction_error"] == pytest.approx(
            sum(abs(r["observed_gain"] - r["predicted_gain"]) for r in mine) / len(mine), abs=1e-6
        )


def test_rolled_back_canary_is_stored_as_rolled_back(suggested: tuple[Path, Path, Path], tmp_path: Path) -> None:
    recipe, plan_path, store = suggested
    _start_canary(recipe, plan_path, store)
    logs = _canary_logs(recipe, tmp_path / "slow.jsonl", 1500, factor=2.0)
    res = _invoke(["evaluate", str(recipe), "--logs", str(logs)], store)
    assert res.exit_code == 3, res.output
    assert "recorded as rolled back" in res.stdout
    assert recipe.read_text() == RECIPE_TEXT
    rows = _rows(store)
    assert rows and {r["outcome"] for r in rows} == {"rolled_back"}
    assert all(r["observed_gain"] < 0 for r in rows)
    res = _invoke(["stats", "--format", "json"], store)
    ops = {o["operator"]: o for o in json.loads(res.stdout)["operators"]}
    assert sum(o["rolled_back"] for o in ops.values()) == len(rows)
    assert sum(o["promoted"] for o in ops.values()) == 0


def test_no_act_and_a_store_that_is_off_record_nothing(
    suggested: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe, plan_path, store = suggested
    monkeypatch.chdir(tmp_path)  # where the default store would go
    _start_canary(recipe, plan_path, store)
    logs = _canary_logs(recipe, tmp_path / "canary.jsonl", 1500)
    for _ in range(2):
        res = _invoke(["evaluate", str(recipe), "--logs", str(logs), *LOOSE, "--no-act"], store)
        assert res.exit_code == 0, res.output
    assert _rows(store) == []
    res = _invoke(["evaluate", str(recipe), "--logs", str(logs), *LOOSE, "--format", "json"], "off")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["store"] == {"path": None, "recorded": 0, "skipped": "the store is disabled"}
    assert history_lines(recipe)[-1]["action"] == "promote"
    assert _rows(store) == [] and not (tmp_path / ".recipemut").exists()
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs)], env={"RECIPEMUT_STORE": "off"})
    assert res.exit_code == 1 and "no canary is running" in res.output  # promoted: nothing left to evaluate


@pytest.mark.parametrize("where", ["directory", "under-a-file", "not-sqlite"])
def test_an_unusable_store_only_warns(tmp_path: Path, where: str) -> None:
    recipe = tmp_path / "checkout.yaml"
    recipe.write_text(RECIPE_TEXT)
    make = Plan(PlanRecipe(str(recipe), recipe_sha256(recipe)), (PARALLELIZE,), (PARALLELIZE.id,))
    write_plan(make, tmp_path / "plan.json")
    stores = {"directory": tmp_path, "under-a-file": recipe / "store.sqlite", "not-sqlite": tmp_path / "plan.json"}
    store = stores[where]
    _start_canary(recipe, tmp_path / "plan.json", store)
    logs = _canary_logs(recipe, tmp_path / "canary.jsonl", 1500)
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), *LOOSE, "--store", str(store)])
    assert res.exit_code == 0, res.output  # promoted all the same
    assert "warning:" in res.stderr and "not recorded in the profile store" in res.stderr
    assert history_lines(recipe)[-1]["action"] == "promote" and "variants" not in recipe.read_text()


NEUTRAL = PlannedMutation("datapipe:cart=json+none", "datapipe", ("cart",), "Send cart as it goes (json, none).",
                          (Edit("set", ("fields", "cart", "format"), "json"),
                           Edit("set", ("fields", "cart", "compression"), "none")))  # the defaults: no change


def test_a_held_canary_keeps_one_row_that_its_conclusion_replaces(tmp_path: Path) -> None:
    """Evaluating a held canary again, then rolling it back, leaves one row per mutation; the prediction
    comes from the store's suggestion record when the plan carried none."""
    recipe, store = tmp_path / "neutral.yaml", tmp_path / "store.sqlite"
    recipe.write_text(RECIPE_TEXT)
    with Store.open(store) as s:
        s.record_suggestion(recipe="checkout", version=4, sha256=recipe_sha256(recipe), mutation_id=NEUTRAL.id,
                            operator="datapipe", verdict="no significant difference", kind="payments",
                            predicted_delta=0.0, predicted_ci=(-3.0, 3.0), baseline=100.0)  # fmt: skip
    write_plan(Plan(PlanRecipe(str(recipe), recipe_sha256(recipe)), (NEUTRAL,), (NEUTRAL.id,)), tmp_path / "p.json")
    _start_canary(recipe, tmp_path / "p.json", store)

    few = _canary_logs(recipe, tmp_path / "few.jsonl", 300)
    res = _invoke(["evaluate", str(recipe), "--logs", str(few), "--format", "json"], store)
    assert res.exit_code == 4, res.output
    assert json.loads(res.stdout)["store"]["skipped"] == "nothing measured yet"
    assert _rows(store) == []

    same = _canary_logs(recipe, tmp_path / "same.jsonl", 1500)
    for _ in range(2):
        res = _invoke(["evaluate", str(recipe), "--logs", str(same)], store)
        assert res.exit_code == 4, res.output
    rows = _rows(store)
    assert [(r["outcome"], r["kind"], r["predicted_lo"], r["predicted_hi"]) for r in rows] == [
        ("held", "payments", -3.0, 3.0)
    ]

    slow = _canary_logs(recipe, tmp_path / "slow.jsonl", 1500, factor=2.0)
    res = _invoke(["evaluate", str(recipe), "--logs", str(slow)], store)
    assert res.exit_code == 3, res.output
    rows = _rows(store)
    assert [(r["mutation_id"], r["outcome"], r["inside_interval"]) for r in rows] == [(NEUTRAL.id, "rolled_back", 0)]
    ops = {o["operator"]: o for o in json.loads(_invoke(["stats", "--format", "json"], store).stdout)["operators"]}
    assert (ops["datapipe"]["observed"], ops["datapipe"]["held"], ops["datapipe"]["rolled_back"]) == (1, 0, 1)
    assert ops["datapipe"]["calibration"] == 0.0


def _judgement(delta: float, lo: float, hi: float, decision: str = "promote") -> Judgement:
    p95 = MetricJudgement("latency_p95", 200.0, 200.0 + delta, delta, lo, hi, None, 0.05, 10.0, "improves")
    cost = MetricJudgement("cost", 0.01, 0.009, -0.001, -0.0015, -0.0005, None, 0.02, 0.0002, "improves")
    return Judgement(decision, "test", "canary", 1000, 250, 200, (p95, cost))


def _entry(*muts: PlannedMutation, baseline: float | None = None) -> Entry:
    records = []
    for m in muts:
        pred: dict[str, Any] = dict(m.predicted)
        if baseline is not None:
            pred["baseline"] = {"latency_p95_ms": baseline}
        records.append({"id": m.id, "operator": m.operator, "description": m.description, "predicted": pred})
    return Entry(seq=3, action="canary", time="2026-01-01T00:00:00Z", version_before=4, version=5,
                 sha256_before="a" * 64, sha256_after="b" * 64, previous_text="x", text="y",
                 mutations=tuple(records), hash="h" * 64)  # fmt: skip


def test_observation_records_share_the_joint_effect_by_prediction_and_rescale_the_prediction() -> None:
    # PARALLELIZE predicts -41 ms [-48, -35], CACHE -5 ms [-7, -3]: shares 41/46 and 5/46
    recs = observation_records(_judgement(-46.0, -60.0, -30.0), _entry(PARALLELIZE, CACHE, baseline=400.0), "checkout")
    assert [r["mutation_id"] for r in recs] == [PARALLELIZE.id, CACHE.id]
    par, cache = recs
    assert par["observed_delta"] == pytest.approx(-41.0) and cache["observed_delta"] == pytest.approx(-5.0)
    assert par["observed_ci"] == pytest.approx((-60.0 * 41 / 46, -30.0 * 41 / 46))
    # simulated baseline 400 ms, observed 200 ms: the predicted -41 ms (-10.25%) is -20.5 ms here
    assert par["predicted_delta"] == pytest.approx(-20.5) and par["predicted_ci"] == pytest.approx((-24.0, -17.5))
    assert par["baseline"] == 200.0 and par["outcome"] == "promoted" and par["canary"] == "h" * 64
    assert (par["recipe"], par["version"], par["sha256"]) == ("checkout", 4, "a" * 64)  # the recipe it came from
    assert par["detail"]["metrics"]["cost_mean_usd"]["delta"] == pytest.approx(-0.001 * 41 / 46)
    assert par["detail"]["mutations_in_canary"] == [PARALLELIZE.id, CACHE.id]
    # without the simulated baseline the prediction is kept as it was
    (only,) = observation_records(_judgement(-30.0, -40.0, -20.0, "rollback"), _entry(PARALLELIZE), "checkout")
    assert only["predicted_delta"] == -41.0 and only["predicted_ci"] == (-48.0, -35.0)
    assert only["outcome"] == "rolled_back" and only["observed_delta"] == -30.0
    # nothing measured (not enough data): nothing to record
    empty = Judgement("hold", "not enough data", "canary", 10, 2, 200)
    assert observation_records(empty, _entry(PARALLELIZE), "checkout") == []


def test_shares() -> None:
    assert shares([-41.0, -5.0]) == pytest.approx([41 / 46, 5 / 46])
    assert shares([2.0, 6.0]) == pytest.approx([0.25, 0.75])
    assert shares([0.0, 0.0]) == [0.5, 0.5]
    assert shares([-1.0, None, -2.0]) == pytest.approx([1 / 3] * 3)
    assert shares([]) == []
