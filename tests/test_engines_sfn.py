"""Step Functions state machines read as recipes (recipemut.recipe.engines.stepfunctions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _engines_helpers import codes, file_ops, import_warnings, imported_with, ops, validated
from typer.testing import CliRunner

from recipemut.recipe.engines import stepfunctions as sfn
from recipemut.recipe.engines.base import Imported
from recipemut.recipe.yamlpos import parse_yaml

REAL = Path(__file__).parent / "realdata" / "engines" / "stepfunctions"
runner = CliRunner()


def imported(machine: dict[str, Any] | str, file: str = "m.asl.json") -> Imported:
    text = machine if isinstance(machine, str) else json.dumps(machine, indent=2)
    return imported_with(sfn, text, file=file, what="state machine")


def line(machine: dict[str, Any], needle: str, after: int = 0) -> int:
    """The line of ``needle`` (the first after line ``after``) in the JSON :func:`imported` parses."""
    lines = json.dumps(machine, indent=2).splitlines()
    return next(i for i, t in enumerate(lines, 1) if needle in t and i > after)


def task(nxt: str | None = None, **kw: Any) -> dict[str, Any]:
    st: dict[str, Any] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", **kw}
    st.update({"Next": nxt} if nxt else {"End": True})
    return st


# ---- detect ----------------------------------------------------------------------------------


def test_detect_a_state_machine() -> None:
    assert sfn.detect({"Comment": "c", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}})


@pytest.mark.parametrize(
    "doc",
    [
        {"StartAt": "A"},
        {"States": {"A": {"Type": "Succeed"}}},
        {"StartAt": "A", "States": {}},
        {"StartAt": ["A"], "States": {"A": {}}},
        "StartAt",
    ],
)
def test_detect_refuses_other_documents(doc: object) -> None:
    assert not sfn.detect(doc)


def test_key_and_name() -> None:
    assert sfn.KEY == "stepfunctions"
    assert "Step Functions" in sfn.NAME


# ---- states ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "service"),
    [
        ("arn:aws:states:::lambda:invoke", "lambda"),
        ("arn:aws:states:::lambda:invoke.waitForTaskToken", "lambda"),
        ("arn:aws:lambda:us-east-1:123456789012:function:ChargeCard", "lambda/ChargeCard"),
        ("arn:aws:states:::dynamodb:putItem", "dynamodb"),
        ("arn:aws:states:::aws-sdk:s3:getObject", "s3"),
        ("arn:aws:states:::states:startExecution.sync:2", "states"),
        ("arn:aws:states:eu-west-1:123456789012:activity:Review", "activity/Review"),
    ],
)
def test_a_task_calls_the_service_of_its_resource_and_is_named_by_its_state(resource: str, service: str) -> None:
    imp = imported(
        {"StartAt": "Charge card", "States": {"Charge card": {"Type": "Task", "Resource": resource, "End": True}}}
    )
    (op,) = imp.document["operations"]
    assert (op["id"], op["service"], op["action"]) == ("Charge_card", service, "Charge card")


def test_pass_and_wait_are_operations_succeed_and_fail_are_not() -> None:
    imp = imported(
        {
            "StartAt": "P",
            "States": {
                "P": {"Type": "Pass", "Next": "W"},
                "W": {"Type": "Wait", "Seconds": 10, "Next": "T"},
                "T": task("Done"),
                "Done": {"Type": "Succeed"},
            },
        }
    )
    assert list(ops(imp)) == ["P", "W", "T"]
    assert ops(imp)["W"]["after"] == ["P"] and ops(imp)["T"]["after"] == ["W"]
    assert "waits (Seconds 10)" in ops(imp)["W"]["description"]
    assert ops(imp)["W"]["service"] == "stepfunctions"


def test_choice_branches_are_when_on_their_operations_and_the_merge_runs_always() -> None:
    imp = imported(
        {
            "StartAt": "Check",
            "States": {
                "Check": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.status", "StringEquals": "FAILED", "Next": "Alert"}],
                    "Default": "Ship",
                },
                "Alert": task("Log"),
                "Ship": task("Log"),
                "Log": task(),
            },
        }
    )
    o = ops(imp)
    assert o["Alert"]["when"] == '$.status == "FAILED"'
    assert o["Ship"]["when"] == 'not ($.status == "FAILED")'
    assert "when" not in o["Log"]
    # each branch's Task replaced the document Log reads whole: data edges from both
    assert sorted(o["Log"]["consumes"]) == ["Alert.result", "Ship.result"] and "after" not in o["Log"]
    assert "import-when" in codes(imp)


def test_parallel_branches_run_after_its_predecessor_and_before_its_next() -> None:
    branch = lambda name: {"StartAt": name, "States": {name: task()}}  # noqa: E731
    imp = imported(
        {
            "StartAt": "Load",
            "States": {
                "Load": task("Both"),
                "Both": {"Type": "Parallel", "Branches": [branch("A"), branch("B")], "Next": "Join"},
                "Join": task(),
            },
        }
    )
    o = ops(imp)
    # bare Tasks read the whole document the one before replaced: every edge carries it
    assert o["A"]["consumes"] == ["Load.result"] and o["B"]["consumes"] == ["Load.result"]
    assert sorted(o["Join"]["consumes"]) == ["A.result", "B.result"]


def test_an_inline_map_fans_out_over_its_items_path_with_max_concurrency() -> None:
    imp = imported(
        {
            "StartAt": "Each",
            "States": {
                "Each": {
                    "Type": "Map",
                    "ItemsPath": "$.orders",
                    "MaxConcurrency": 5,
                    "ItemProcessor": {
                        "StartAt": "Ship",
                        "States": {"Ship": task(Resource="arn:aws:states:::sqs:sendMessage")},
                    },
                    "End": True,
                }
            },
        }
    )
    (op,) = imp.document["operations"]
    assert (op["foreach"], op["concurrency"], op["consumes"], op["service"]) == ("orders", 5, ["orders"], "sqs")
    assert imp.document["fields"]["orders"] == {"type": "array"}
    assert imp.anchors["Each"].concurrency == ("States", "Each")
    assert "import-map-flattened" not in codes(imp)


def test_a_map_without_limit_runs_40_inline_and_unlimited_distributed() -> None:
    def machine(mode: str) -> dict[str, Any]:
        proc = {"ProcessorConfig": {"Mode": mode}, "StartAt": "X", "States": {"X": task()}}
        return {
            "StartAt": "M",
            "States": {"M": {"Type": "Map", "ItemsPath": "$.xs", "ItemProcessor": proc, "End": True}},
        }

    assert ops(imported(machine("INLINE")))["M"]["concurrency"] == sfn.INLINE_MAP_CONCURRENCY
    assert ops(imported(machine("DISTRIBUTED")))["M"]["concurrency"] == 10_000


def test_a_map_running_several_states_per_item_is_one_operation_with_a_warning() -> None:
    inner = {"StartAt": "A", "States": {"A": task("B"), "B": task()}}
    imp = imported(
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.xs", "Iterator": inner, "End": True}}}
    )
    assert list(ops(imp)) == ["M"]
    assert "per item: A -> B" in ops(imp)["M"]["description"]
    assert "import-map-flattened" in codes(imp)


@pytest.mark.parametrize(
    ("retry", "attempts"),
    [
        ([{"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 2}], 3),
        ([{"ErrorEquals": ["X"], "MaxAttempts": 2}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}], 6),
        ([{"ErrorEquals": ["States.ALL"]}], 4),  # ASL's default MaxAttempts is 3
        ([{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}], None),
    ],
)
def test_retry_counts_attempts_of_the_states_all_retrier_or_the_first(retry: list[Any], attempts: int | None) -> None:
    (op,) = imported({"StartAt": "T", "States": {"T": task(Retry=retry)}}).document["operations"]
    assert op.get("retry") == ({"max_attempts": attempts} if attempts else None)


def test_catch_routes_are_warnings_and_states_reached_only_through_them_are_left_out() -> None:
    machine = {
        "StartAt": "Pay",
        "States": {
            "Pay": task("Done", Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Refund"}]),
            "Refund": task(),
            "Done": {"Type": "Succeed"},
        },
    }
    imp = imported(machine)
    assert list(ops(imp)) == ["Pay"]
    catch = next(w for w in imp.warnings if w.code == "import-catch")
    assert "States.ALL -> Refund" in catch.message and catch.line == line(machine, '"Catch"')
    assert any(w.code == "import-unreached" and "Refund" in w.message for w in imp.warnings)


def test_a_polling_loop_is_a_warning_at_the_transition_going_back() -> None:
    machine = {
        "StartAt": "Submit",
        "States": {
            "Submit": task("Poll", ResultPath="$.job"),
            "Poll": task("Done?", InputPath="$.job", ResultPath="$.status"),
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.status", "StringEquals": "RUNNING", "Next": "Wait"}],
                "Default": "Finish",
            },
            "Wait": {"Type": "Wait", "Seconds": 5, "Next": "Poll"},
            "Finish": task(),
        },
    }
    imp = imported(machine)
    loop = next(w for w in imp.warnings if w.code == "import-loop")
    assert "'Wait' goes back to 'Poll'" in loop.message
    assert loop.line == line(machine, '"Next": "Poll"', after=line(machine, '"Seconds": 5'))
    assert list(ops(imp)) == ["Submit", "Poll", "Wait", "Finish"]
    assert ops(imp)["Wait"]["when"] == '$.status == "RUNNING"'
    assert ops(imp)["Poll"]["consumes"] == ["job"]


# ---- data flow -------------------------------------------------------------------------------


def test_result_path_writes_a_field_that_input_path_and_parameters_read() -> None:
    imp = imported(
        {
            "StartAt": "Get",
            "States": {
                "Get": task("Price", ResultPath="$.order"),
                "Price": task(
                    "Ship", Parameters={"id.$": "$.order.id", "ctx.$": "$$.Execution.Id"}, ResultPath="$.quote"
                ),
                "Ship": task(InputPath="$.quote"),
            },
        }
    )
    o = ops(imp)
    assert (o["Get"]["produces"], o["Price"]["consumes"], o["Price"]["produces"]) == (["order"], ["order"], ["quote"])
    assert o["Ship"]["consumes"] == ["quote"]
    assert "after" not in o["Price"] and "after" not in o["Ship"]  # data edges, not ordering


def test_without_named_fields_states_are_ordered_and_the_description_says_so() -> None:
    o = ops(imported({"StartAt": "A", "States": {"A": task("B", ResultPath=None), "B": task()}}))
    assert o["B"]["after"] == ["A"]
    assert "states no data passed" in o["B"]["description"]


def test_a_read_of_a_field_no_state_names_comes_from_the_nearest_whole_output() -> None:
    o = ops(imported({"StartAt": "A", "States": {"A": task("B"), "B": task(Parameters={"x.$": "$.total"})}}))
    assert o["A"]["produces"] == ["total"] and o["B"]["consumes"] == ["total"]


def test_a_choice_branch_reads_what_its_rule_reads() -> None:
    o = ops(
        imported(
            {
                "StartAt": "Pay",
                "States": {
                    "Pay": task("Paid?"),  # its result is the whole output: it holds $.Status
                    "Paid?": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.Status", "StringEquals": "Failed", "Next": "Refund"}],
                        "Default": "Ship",
                    },
                    "Refund": task(ResultPath=None),
                    "Ship": task(ResultPath=None),
                },
            }
        )
    )
    assert o["Pay"]["produces"] == ["Status"]
    assert o["Refund"]["consumes"] == ["Status"] and o["Ship"]["consumes"] == ["Status"]
    assert "after" not in o["Refund"]  # a data edge: parallelize may not take the branch off the payment


def test_a_field_written_twice_keeps_its_first_writer_with_a_warning() -> None:
    imp = imported({"StartAt": "A", "States": {"A": task("B", ResultPath="$.page"), "B": task(ResultPath="$.page")}})
    assert ops(imp)["A"]["produces"] == ["page"] and ops(imp)["B"]["produces"] == []
    assert "import-field-rewritten" in codes(imp)


def test_a_yaml_definition_reads_the_same() -> None:
    text = "StartAt: A\nStates:\n  A:\n    Type: Task\n    Resource: arn:aws:states:::sns:publish\n    End: true\n"
    imp = imported(text, file="m.asl.yaml")
    assert ops(imp)["A"]["service"] == "sns"
    assert imp.positions[("operations", 0)] == (3, 3)


# ---- real examples, end to end -----------------------------------------------------------------

EXPECTED = {
    "map-sqs-messages.asl.json": {("import-when", 14), ("import-map-flattened", 33)},
    "pagination-loop.asl.json": {("import-loop", 23), ("import-when", 29), ("import-field-rewritten", 24)},
    "distributed-map-montecarlo.asl.json": set(),
    "retry-with-exponential-backoff.asl.json": {("import-catch", 27)},
    "scatter-gather.asl.json": {("import-catch", 29)},
    "either-or-parallel.asl.json": {
        ("import-catch", 126),
        ("import-loop", 37),
        ("import-loop", 88),
        ("import-when", 39),
        ("import-when", 90),
        ("import-unreached", 4),
        ("import-field-rewritten", 83),
        # branch 2's Choice reads the $.QueryResult its own Pass added (rewritten: through that state's result)
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_public_examples_validate_with_the_expected_warnings(name: str) -> None:
    report = validated(REAL / name)
    assert report["engine"] == sfn.NAME
    assert import_warnings(report) == EXPECTED[name]


def test_public_examples_map_retry_and_choice_as_documented() -> None:
    def load(name: str) -> dict[str, dict[str, Any]]:
        return file_ops(sfn, REAL / name, what="state machine")

    mc = load("distributed-map-montecarlo.asl.json")
    assert mc["Monte_Carlo_Simulation_-_Distributed_Map_"]["concurrency"] == 1000
    assert mc["Generate_Random_Samples"]["retry"] == {"max_attempts": 3}
    assert load("retry-with-exponential-backoff.asl.json")["Generate_random_response"]["retry"] == {"max_attempts": 7}
    sqs = load("map-sqs-messages.asl.json")
    assert sqs["Process_Messages"]["foreach"] == "Read_messages_from_SQS_queue.result"
    assert sqs["Process_Messages"]["when"] == 'not ($ == "No messages")'
    sg = load("scatter-gather.asl.json")
    assert sg["Get_quotes"]["produces"] == ["requestId", "quotes"]
    assert sg["Save_quotes_to_DynamoDB"]["consumes"] == ["requestId", "quotes"]


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("recipes/sfn-checkout/definition.asl.json", "sfn-checkout"),
        ("pagination-loop/statemachine/statemachine.asl.json", "pagination-loop"),
        ("orders.asl.json", "orders"),
    ],
)
def test_the_recipe_is_named_by_the_file_or_its_telling_folder(file: str, name: str) -> None:
    assert imported({"StartAt": "A", "States": {"A": task()}}, file=file).document["name"] == name


SHIPPED = sorted((Path(__file__).parents[1] / "recipes").glob("sfn-*/definition.asl.json"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_shipped_step_functions_examples_validate(path: Path) -> None:
    assert validated(path)["engine"] == sfn.NAME
    assert "Provenance:" in json.loads(path.read_text())["Comment"]


def test_the_shipped_checkout_keeps_its_choice_branches() -> None:
    path = Path(__file__).parents[1] / "recipes" / "sfn-checkout" / "definition.asl.json"
    data, positions, _ = parse_yaml(path.read_text(), file=str(path), what="state machine")
    o = ops(sfn.to_recipe(data, positions, file=str(path)))
    assert len(o) == 10 and o["Set_Payment_Status_Unsuccessful"]["when"] == '$.Status == "PaymentFailed"'
    assert o["Send_ShippingSuccessful_Event_to_Notification_Bus"]["service"] == "events"


def test_jsonata_states_read_states_input_and_keep_their_condition() -> None:
    o = ops(
        imported(
            {
                "QueryLanguage": "JSONata",
                "StartAt": "Quote",
                "States": {
                    "Quote": task("Big?"),
                    "Big?": {
                        "Type": "Choice",
                        "Choices": [{"Condition": "{% $states.input.total > 100 %}", "Next": "Review"}],
                    },
                    "Review": task(Arguments={"amount": "{% $states.input.total %}", "fixed": "$.notapath"}),
                },
            }
        )
    )
    assert o["Quote"]["produces"] == ["total"]
    assert o["Review"]["when"] == "$states.input.total > 100"
    assert o["Review"]["consumes"] == ["total"]
