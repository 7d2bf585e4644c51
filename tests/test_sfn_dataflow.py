"""Step Functions data flow: a state's input is the document the states before it left.

A state whose result replaces the document (a Task's default ``ResultPath: $``) or adds to it
(``ResultPath: $.x``) passes data to the state that reads it whole; a ``ResultPath: null`` state
passes its input through, so what follows it depends on the states before it, not on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.loader import load_recipe_text
from recipemut.recipe.model import Recipe

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "sfn-checkout"
LAMBDA = "arn:aws:states:::lambda:invoke"


def recipe_of(states: dict[str, Any], start: str) -> Recipe:
    return load_recipe_text(json.dumps({"StartAt": start, "States": states}, indent=2), file="m.asl.json", quiet=True)


def consumes(recipe: Recipe, op: str) -> list[str]:
    return next(list(o.consumes) for o in recipe.operations if o.id == op)


def kind(recipe: Recipe, a: str, b: str) -> str:
    return str(recipe.dag.edges[a, b]["kind"])


def task(nxt: str | None = None, **kw: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Type": "Task", "Resource": LAMBDA, **kw}
    st.update({"Next": nxt} if nxt else {"End": True})
    return st


def test_a_result_path_null_notifier_may_run_beside_its_successor() -> None:
    r = recipe_of(
        {
            "Load": task("Notify"),
            "Notify": task("Ship", ResultPath=None, Parameters={"id.$": "$.id"}),
            "Ship": task(Parameters={"Payload.$": "$"}),
        },
        "Load",
    )
    assert kind(r, "Notify", "Ship") == "after"  # Notify passes its input through
    assert r.dag.has_edge("Load", "Ship") and kind(r, "Load", "Ship") in ("data", "both")
    assert "Load.result" in consumes(r, "Ship")


def test_a_task_whose_result_replaces_the_document_orders_its_successor_by_data() -> None:
    r = recipe_of({"Load": task("Ship", Parameters={"id.$": "$.id"}), "Ship": task()}, "Load")
    assert kind(r, "Load", "Ship") in ("data", "both")
    assert consumes(r, "Ship") == ["Load.result"]


def test_a_result_path_field_is_data_for_a_whole_document_reader_only() -> None:
    states = {
        "Save": task("Pay", ResultPath="$.saved", Parameters={"id.$": "$.id"}),
        "Pay": task(Parameters={"Payload.$": "$", "Token.$": "$$.Task.Token"}),
    }
    r = recipe_of(states, "Save")
    assert kind(r, "Save", "Pay") in ("data", "both") and "saved" in consumes(r, "Pay")
    states["Pay"] = task(Parameters={"id.$": "$.id"})  # restricted to a field Save does not write
    r = recipe_of(states, "Save")
    assert kind(r, "Save", "Pay") == "after"
    states["Pay"] = task(InputPath="$.saved")  # restricted to the field Save writes
    assert kind(recipe_of(states, "Save"), "Save", "Pay") in ("data", "both")


def test_a_field_read_after_a_later_replace_comes_from_that_state() -> None:
    # both API calls replace the document; after the second, $.CartId and $.Status are read from it, not the first
    r = recipe_of(
        {
            "Pay": task("Log"),
            "Log": task("Ship", ResultPath=None, Parameters={"id.$": "$.CartId", "s.$": "$.Status"}),  # Pay's
            "Ship": task("Ok?"),
            "Ok?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.Status", "StringEquals": "Failed", "Next": "Undo"}],
                "Default": "Done",
            },
            "Undo": task(ResultPath=None, Parameters={"id.$": "$.CartId"}),
            "Done": task(ResultPath=None, Parameters={"id.$": "$.CartId"}),
        },
        "Pay",
    )
    assert kind(r, "Ship", "Undo") in ("data", "both") and kind(r, "Ship", "Done") in ("data", "both")


def test_the_checkout_example_keeps_the_order_write_before_the_payment_call() -> None:
    text = (CHECKOUT / "definition.asl.json").read_text()
    r = load_recipe_text(text, file=str(CHECKOUT / "definition.asl.json"), quiet=True)
    order, pay = "Set_Order_Payment_and_Shipping_Status", "Third_Party_Payment_Service_HTTPS_Endpoint"
    ship = "Third_Party_Shipping_Service_HTTPS_Endpoint"
    assert kind(r, order, pay) in ("data", "both") and "taskresult" in consumes(r, pay)
    # a branch after the shipping call reads the document that call left
    assert kind(r, ship, "Set_Shipping_Status_Successful") in ("data", "both")
    # the ResultPath-null status update passes the payment call's document through to the shipping call
    assert kind(r, "Set_Payment_Status_Successful", ship) == "after"
    assert r.dag.has_edge(pay, ship) and kind(r, pay, ship) in ("data", "both")


def test_suggest_on_the_checkout_example_proposes_no_parallelize_across_a_data_edge() -> None:
    result = CliRunner().invoke(
        app,
        ["suggest", str(CHECKOUT / "definition.asl.json"), "--logs", str(CHECKOUT / "runs.jsonl"), "--format", "json"],
        env={"RECIPEMUT_STORE": "off", "COLUMNS": "200"},
    )
    assert result.exit_code in (0, 3), result.output
    ids = set(json.dumps(json.loads(result.stdout)).split('"'))
    for bad in (
        "parallelize:Set_Order_Payment_and_Shipping_Status->Third_Party_Payment_Service_HTTPS_Endpoint",
        "parallelize:Third_Party_Shipping_Service_HTTPS_Endpoint->Set_Shipping_Status_Successful",
        "parallelize:Third_Party_Shipping_Service_HTTPS_Endpoint->Set_Shipping_Status_Unsuccessful",
    ):
        assert bad not in ids
    assert any(i.startswith("parallelize:") for i in ids)  # the ResultPath-null ones still are
