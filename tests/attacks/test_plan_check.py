"""A hand-written plan is checked before anything is written: every mutation's edits are exactly
those its operator makes on its declared targets, and the result passes suggest's checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _apply_helpers import RECIPE_TEXT
from typer.testing import CliRunner

from recipemut.apply.history import history_path
from recipemut.cli import app
from recipemut.plan.planfile import recipe_sha256

runner = CliRunner()

EVIL_OP = {"id": "evil", "service": "payments", "action": "Refund", "consumes": ["order_id"],
           "side_effects": "external"}


def _apply(tmp_path: Path, *mutations: dict[str, Any], text: str = RECIPE_TEXT) -> tuple[int, str, Path]:
    """Run `apply RECIPE --plan PLAN` on a fresh recipe; (exit code, stderr, recipe)."""
    recipe = tmp_path / "checkout.yaml"
    recipe.write_text(text)
    plan = {"planVersion": 1, "recipe": {"path": str(recipe), "sha256": recipe_sha256(recipe)},
            "mutations": list(mutations), "plan": [m["id"] for m in mutations]}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(tmp_path / "plan.json")])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stderr, recipe


def _refused(tmp_path: Path, *mutations: dict[str, Any], text: str = RECIPE_TEXT) -> str:
    code, err, recipe = _apply(tmp_path, *mutations, text=text)
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert recipe.read_text() == text and not history_path(recipe).exists()
    return err


def _m(mid: str, operator: str, targets: list[str], *edits: dict[str, Any]) -> dict[str, Any]:
    return {"id": mid, "operator": operator, "targets": targets, "description": "d", "edits": list(edits)}


def test_an_empty_target_cannot_put_the_operations_list_in_scope(tmp_path: Path) -> None:
    err = _refused(tmp_path, _m("cache:", "cache", [""],
                                {"op": "append", "path": ["operations"], "value": EVIL_OP}))
    assert "checkout.yaml" in err and "'cache:'" in err and "empty target" in err


def test_an_operation_cannot_be_appended_by_any_operator(tmp_path: Path) -> None:
    for op in ("cache", "hedge", "eliminate", "substitute", "reorder", "parallelize", "datapipe"):
        err = _refused(tmp_path, _m(f"{op}:load_cart", op, ["load_cart"],
                                    {"op": "append", "path": ["operations"], "value": EVIL_OP}))
        assert f"'{op}:load_cart'" in err


def test_an_unknown_operator_or_target_is_refused(tmp_path: Path) -> None:
    edit = {"op": "set", "path": ["operations", "load_cart", "cache"], "value": {"ttl_s": 60, "max_entries": 10}}
    err = _refused(tmp_path, _m("describe:load_cart", "describe", ["load_cart"], edit))
    assert "unknown operator 'describe'" in err
    err = _refused(tmp_path, _m("cache:nope", "cache", ["nope"], edit))
    assert "'nope'" in err and "no operation" in err


def test_a_cache_mutation_may_not_rewrite_service_or_side_effects(tmp_path: Path) -> None:
    err = _refused(tmp_path, _m("cache:load_cart", "cache", ["load_cart"],
                                {"op": "set", "path": ["operations", "load_cart", "service"], "value": "payments"},
                                {"op": "set", "path": ["operations", "load_cart", "side_effects"],
                                 "value": "external"}))
    assert "operations.load_cart.service" in err and "cache" in err


def test_a_label_that_does_not_match_the_operator_is_refused(tmp_path: Path) -> None:
    edit = {"op": "set", "path": ["operations", "load_cart", "cache"], "value": {"ttl_s": 60, "max_entries": 10}}
    err = _refused(tmp_path, _m("hedge:load_cart", "cache", ["load_cart"], edit))
    assert "'hedge:load_cart'" in err and "cache:" in err


def test_the_operators_conditions_are_checked(tmp_path: Path) -> None:
    # charge has external side effects: cache/hedge/eliminate never propose it
    cache = {"ttl_s": 60, "max_entries": 10}
    err = _refused(tmp_path, _m("cache:charge", "cache", ["charge"],
                                {"op": "set", "path": ["operations", "charge", "cache"], "value": cache}))
    assert "'charge', which is not deterministic" in err
    err = _refused(tmp_path, _m("hedge:charge", "hedge", ["charge"],
                                {"op": "set", "path": ["operations", "charge", "hedge"], "value": {"after_ms": 9}}))
    assert "'charge', which has external side effects" in err
    err = _refused(tmp_path, _m("eliminate:charge", "eliminate", ["charge"],
                                {"op": "remove", "path": ["operations", "charge"]}))
    assert "charge" in err and "side effects" in err


def test_substitute_sets_only_the_alternatives_own_values(tmp_path: Path) -> None:
    text = RECIPE_TEXT.replace("    cost_per_call_usd: 0.0004\n",
                               "    cost_per_call_usd: 0.0004\n    equivalence: fraud.score\n").replace(
        "services:\n", "alternatives:\n  - id: fraud_lite\n    service: fraud\n    action: ScoreLite\n"
        "    consumes: [user_id]\n    produces: [risk]\n    equivalence: fraud.score\n"
        "    cost_per_call_usd: 0.0001\nservices:\n")
    sub = ["operations", "score_fraud"]
    good = [{"op": "set", "path": [*sub, "service"], "value": "fraud"},
            {"op": "set", "path": [*sub, "action"], "value": "ScoreLite"},
            {"op": "set", "path": [*sub, "cost_per_call_usd"], "value": 0.0001},
            {"op": "set", "path": [*sub, "substituted_from"], "value": "Score"}]
    forged = [*good[:1], {"op": "set", "path": [*sub, "action"], "value": "Refund"}, *good[2:]]
    err = _refused(tmp_path, _m("substitute:score_fraud->fraud_lite", "substitute", ["score_fraud", "fraud_lite"],
                                *forged), text=text)
    assert "operations.score_fraud.action" in err
    err = _refused(tmp_path, _m("substitute:score_fraud->fraud_lite", "substitute", ["score_fraud", "fraud_lite"],
                                *good, {"op": "set", "path": [*sub, "side_effects"], "value": "external"}),
                   text=text)
    assert "operations.score_fraud.side_effects" in err
    code, err, recipe = _apply(tmp_path, _m("substitute:score_fraud->fraud_lite", "substitute",
                                            ["score_fraud", "fraud_lite"], *good), text=text)
    assert code == 0, err
    assert "action: ScoreLite" in recipe.read_text()


def test_parallelize_only_drops_its_own_edge(tmp_path: Path) -> None:
    text = RECIPE_TEXT.replace("    side_effects: external\n", "    side_effects: external\n    after: [score_fraud]\n")
    # charge waits for score_fraud; "parallelize load_cart->score_fraud" may not drop that edge
    err = _refused(tmp_path, _m("parallelize:load_cart->score_fraud", "parallelize", ["load_cart", "score_fraud"],
                                {"op": "remove", "path": ["operations", "charge", "after", "score_fraud"]}),
                   text=text)
    assert "operations.charge.after.score_fraud" in err
    # nor make score_fraud wait for an operation that did not precede load_cart
    err = _refused(tmp_path, _m("parallelize:load_cart->score_fraud", "parallelize", ["load_cart", "score_fraud"],
                                {"op": "remove", "path": ["operations", "score_fraud", "after", "load_cart"]},
                                {"op": "append", "path": ["operations", "score_fraud", "after"], "value": "charge"}),
                   text=text)
    assert "'charge'" in err
    code, err, _ = _apply(tmp_path, _m("parallelize:load_cart->score_fraud", "parallelize",
                                            ["load_cart", "score_fraud"],
                                            {"op": "remove", "path": ["operations", "score_fraud", "after",
                                                                      "load_cart"]},
                                            {"op": "prune", "path": ["operations", "score_fraud", "after"]}),
                               text=text)
    assert code == 0, err


def test_a_mutation_without_its_operators_main_edit_is_refused(tmp_path: Path) -> None:
    text = RECIPE_TEXT.replace("    side_effects: external\n", "    side_effects: external\n    after: [score_fraud]\n")
    # eliminate's rewiring of a successor, without removing its target
    err = _refused(tmp_path, _m("eliminate:score_fraud", "eliminate", ["score_fraud"],
                                {"op": "remove", "path": ["operations", "charge", "after", "score_fraud"]}),
                   text=text)
    assert "eliminate" in err and "remove operations.score_fraud" in err


def test_a_valid_shaped_plan_that_breaks_a_constraint_is_refused(tmp_path: Path) -> None:
    text = RECIPE_TEXT.replace("# end of recipe\n", "constraints:\n  keep_order:\n    - [load_cart, score_fraud]\n")
    err = _refused(tmp_path, _m("parallelize:load_cart->score_fraud", "parallelize", ["load_cart", "score_fraud"],
                                {"op": "remove", "path": ["operations", "score_fraud", "after", "load_cart"]},
                                {"op": "prune", "path": ["operations", "score_fraud", "after"]}), text=text)
    assert "keep_order" in err


def test_a_cycle_through_a_reorder_is_refused(tmp_path: Path) -> None:
    # reorder score_fraud before load_cart, keeping score_fraud after load_cart: a cycle
    err = _refused(tmp_path, _m("reorder:score_fraud->load_cart", "reorder", ["score_fraud", "load_cart"],
                                {"op": "append", "path": ["operations", "load_cart", "after"], "value": "score_fraud"},
                                {"op": "remove", "path": ["operations", "score_fraud", "after", "load_cart"]},
                                {"op": "append", "path": ["operations", "score_fraud", "after"],
                                 "value": "load_cart"}))
    assert "reorder" in err
