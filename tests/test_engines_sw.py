"""Serverless Workflow 0.8 and 1.0 read as recipes (recipemut.recipe.engines.serverlessworkflow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _engines_helpers import codes, file_ops, import_warnings, imported_with, ops, validated
from typer.testing import CliRunner

from recipemut.recipe.engines import serverlessworkflow as sw
from recipemut.recipe.engines.base import Imported

REAL = Path(__file__).parent / "realdata" / "engines" / "serverlessworkflow"
runner = CliRunner()


def imported(doc: dict[str, Any] | str, file: str = "wf.sw.yaml") -> Imported:
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
    return imported_with(sw, text, file=file, what="workflow")


# ---- detect ----------------------------------------------------------------------------------


def test_detect_both_spec_families() -> None:
    v08 = {"id": "greeting", "specVersion": "0.8", "start": "Greet", "states": [{"name": "Greet"}]}
    v10 = {"document": {"dsl": "1.0.0", "namespace": "d", "name": "n", "version": "0.1.0"}, "do": [{"a": {}}]}
    assert sw.detect(v08) and sw.spec_version(v08) == "0.8"
    assert sw.detect(v10) and sw.spec_version(v10) == "1.0"


@pytest.mark.parametrize(
    "doc",
    [
        {"id": "x", "states": [{"name": "A"}]},  # no specVersion
        {"specVersion": "0.8", "states": {"A": {}}},  # states not a list
        {"document": {"name": "x"}, "do": []},  # no dsl
        {"document": {"dsl": "1.0.0"}},  # no do
        {"StartAt": "A", "States": {"A": {}}},
    ],
)
def test_detect_refuses_other_documents(doc: object) -> None:
    assert not sw.detect(doc)


# ---- 0.8 -------------------------------------------------------------------------------------


def v08(*states: dict[str, Any], **top: Any) -> dict[str, Any]:
    functions = [{"name": "orders", "operation": "api.json#get"}, {"name": "mail", "operation": "api.json#send"}]
    return {"id": "wf", "version": "1", "specVersion": "0.8", "functions": functions, "states": list(states), **top}


def action(ref: str, **args: Any) -> dict[str, Any]:
    return {"name": f"{ref}-action", "functionRef": {"refName": ref, "arguments": args}}


def test_v08_operation_states_are_operations_in_transition_order_with_jq_data() -> None:
    get = {
        "name": "get-order",
        "type": "operation",
        "actions": [{**action("orders", id="${ .orderId }"), "actionDataFilter": {"toStateData": "${ .order }"}}],
        "transition": "notify",
    }
    notify = {"name": "notify", "type": "operation", "actions": [action("mail", to="${ .order.email }")], "end": True}
    imp = imported(v08(get, notify, start="get-order"))
    o = ops(imp)
    assert list(o) == ["get-order", "notify"]
    assert (o["get-order"]["service"], o["get-order"]["consumes"], o["get-order"]["produces"]) == (
        "orders",
        ["orderId"],
        ["order"],
    )
    assert o["notify"]["consumes"] == ["order"] and "after" not in o["notify"]
    assert imp.document["inputs"] == ["orderId"] and imp.document["name"] == "wf"


def test_v08_switch_conditions_are_when_and_the_default_is_their_negation() -> None:
    switch = {
        "name": "check",
        "type": "switch",
        "dataConditions": [{"condition": "${ .age >= 18 }", "transition": "adult"}],
        "defaultCondition": {"transition": "minor"},
    }
    adult = {"name": "adult", "type": "operation", "actions": [action("orders")], "end": True}
    minor = {"name": "minor", "type": "operation", "actions": [action("mail")], "end": True}
    imp = imported(v08(switch, adult, minor))
    assert ops(imp)["adult"]["when"] == ".age >= 18"
    assert ops(imp)["adult"]["consumes"] == ["age"]  # what decides the branch is read by it
    assert ops(imp)["minor"]["when"] == "not (.age >= 18)"
    assert "import-when" in codes(imp)


def test_v08_parallel_branches_are_operations_between_predecessor_and_transition() -> None:
    par = {
        "name": "both",
        "type": "parallel",
        "branches": [{"name": "b1", "actions": [action("orders")]}, {"name": "b2", "actions": [action("mail")]}],
        "transition": "done",
    }
    first = {"name": "first", "type": "sleep", "duration": "PT1S", "transition": "both"}
    done = {"name": "done", "type": "inject", "data": {"result": "ok"}, "end": True}
    o = ops(imported(v08(first, par, done)))
    assert o["b1"]["after"] == ["first"] and o["b2"]["after"] == ["first"]
    assert sorted(o["done"]["after"]) == ["b1", "b2"]
    assert o["done"]["produces"] == ["result"]
    assert "sleeps PT1S" in o["first"]["description"]


def test_v08_foreach_fans_out_over_its_input_collection_with_batch_size() -> None:
    each = {
        "name": "each",
        "type": "foreach",
        "inputCollection": "${ .customer.orders }",
        "iterationParam": "item",
        "batchSize": 3,
        "actions": [action("orders", id="${ .item.id }")],
        "end": True,
    }
    (op,) = imported(v08(each)).document["operations"]
    assert (op["foreach"], op["concurrency"], op["consumes"]) == ("customer.orders", 3, ["customer.orders"])
    sequential = {**each, "mode": "sequential", "outputCollection": "${ .shipped }"}
    (op,) = imported(v08(sequential)).document["operations"]
    assert "concurrency" not in op and op["produces"] == ["shipped"]


def test_v08_event_states_on_errors_and_loops_are_warnings() -> None:
    states = [
        {
            "name": "wait",
            "type": "event",
            "onEvents": [{"eventRefs": ["e"], "actions": [action("orders")]}],
            "transition": "poll",
        },
        {
            "name": "poll",
            "type": "operation",
            "actions": [action("orders")],
            "transition": "again",
            "onErrors": [{"errorRef": "x", "transition": "fix"}],
        },
        {
            "name": "again",
            "type": "switch",
            "dataConditions": [{"condition": "${ .busy }", "transition": "poll"}],
            "defaultCondition": {"end": True},
        },
        {"name": "fix", "type": "operation", "actions": [action("mail")], "end": True},
    ]
    imp = imported(v08(*states))
    assert list(ops(imp)) == ["wait", "poll"]
    assert {"import-event", "import-catch", "import-loop", "import-unreached"} <= set(codes(imp))
    text = json.dumps(v08(*states), indent=2)
    loop = next(w for w in imp.warnings if w.code == "import-loop")
    assert loop.line == next(i for i, t in enumerate(text.splitlines(), 1) if '"condition": "${ .busy }"' in t) - 1


# ---- 1.0 -------------------------------------------------------------------------------------

V10 = """\
document: {dsl: '1.0.0', namespace: test, name: order-flow, version: '0.1.0'}
do:
  - getOrder:
      call: http
      with:
        method: get
        endpoint: https://orders.example.com/api/{id}
  - price:
      set:
        total: ${ .order.amount * 2 }
  - route:
      switch:
        - big:
            when: .total > 100
            then: review
        - default:
            then: ship
  - review:
      call: reviewer
      then: ship
  - ship:
      fork:
        branches:
          - label:
              call: http
              with: {method: post, endpoint: {uri: "https://labels.example.com/new"}}
          - mail:
              run:
                container: {image: mailer:2}
  - wait:
      wait: {seconds: 5}
"""


def test_v10_tasks_in_order_with_then_switch_and_fork() -> None:
    imp = imported(V10)
    o = ops(imp)
    assert list(o) == ["getOrder", "price", "review", "label", "mail", "wait"]
    assert o["getOrder"]["service"] == "orders.example.com"
    assert (o["price"]["consumes"], o["price"]["produces"]) == (["order"], ["total"])
    assert o["review"]["when"] == ".total > 100" and "when" not in o["label"]  # both switch arms reach ship
    assert sorted(o["label"]["after"]) == ["price", "review"] and o["mail"]["service"] == "mailer:2"
    assert o["label"]["service"] == "labels.example.com"
    assert sorted(o["wait"]["after"]) == ["label", "mail"]
    assert imp.document["name"] == "order-flow"


def test_v10_if_is_when_and_a_raise_with_if_is_a_guard() -> None:
    text = """\
document: {dsl: '1.0.0', namespace: t, name: guard, version: '1'}
do:
  - check:
      if: ${ .age < 18 }
      raise: {error: {type: forbidden, status: 403}}
  - bet:
      call: http
      if: .stake > 0
      with: {method: post, endpoint: "https://bets.example.com"}
"""
    imp = imported(text)
    o = ops(imp)
    assert o["check"]["may_halt"] is True and o["check"]["when"] == ".age < 18"
    assert o["bet"]["when"] == ".stake > 0" and o["bet"]["after"] == ["check"]
    assert codes(imp).count("import-when") == 2


def test_v10_for_is_one_fan_out_over_its_in_list() -> None:
    text = """\
document: {dsl: '1.0.0', namespace: t, name: f, version: '1'}
do:
  - each:
      for: {each: pet, in: .pets}
      do:
        - vet: {call: vet}
        - bill: {call: billing}
"""
    imp = imported(text)
    (op,) = imp.document["operations"]
    assert (op["id"], op["foreach"], op["consumes"]) == ("each", "pets", ["pets"])
    assert "per item: vet -> bill" in op["description"]
    assert "import-map-flattened" in codes(imp)


def test_v10_try_runs_its_tasks_and_catch_is_a_warning() -> None:
    text = """\
document: {dsl: '1.0.0', namespace: t, name: f, version: '1'}
do:
  - guarded:
      try:
        - a: {call: x}
        - b: {call: y}
      catch:
        do:
          - fix: {call: z}
"""
    imp = imported(text)
    assert list(ops(imp)) == ["a", "b"] and ops(imp)["b"]["after"] == ["a"]
    assert next(w for w in imp.warnings if w.code == "import-catch").line == 7


def test_v10_a_then_back_to_an_earlier_task_is_a_loop_warning() -> None:
    text = """\
document: {dsl: '1.0.0', namespace: t, name: f, version: '1'}
do:
  - poll: {call: status}
  - again:
      switch:
        - busy: {when: .busy, then: poll}
        - default: {then: exit}
"""
    imp = imported(text)
    assert list(ops(imp)) == ["poll"]
    assert next(w for w in imp.warnings if w.code == "import-loop").line == 6


# ---- real examples, end to end -----------------------------------------------------------------

EXPECTED = {
    "v08-parallel-execution.json": set(),
    "v08-process-transactions.json": set(),
    "v08-applicant-request-decision.json": {("import-when", 14)},
    "v08-event-based-greeting.json": {("import-event", 24)},
    "v10-fork.yaml": {("import-fork-compete", 8)},
    "v10-for.yaml": {("import-event", 13)},
    "v10-switch-then-string.yaml": {("import-when", 8)},
    "v10-conditional-task.yaml": {("import-when", 8)},
    "v10-try-catch.yaml": {("import-catch", 14)},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_spec_examples_validate_with_the_expected_warnings(name: str) -> None:
    report = validated(REAL / name)
    assert report["engine"] == sw.NAME
    assert import_warnings(report) == EXPECTED[name]


def test_spec_examples_map_parallel_foreach_and_switch() -> None:
    def load(name: str) -> dict[str, dict[str, Any]]:
        return file_ops(sw, REAL / name, what="workflow")

    assert set(load("v08-parallel-execution.json")) == {"short-delay-branch", "long-delay-branch"}
    tx = load("v08-process-transactions.json")["process-transactions"]
    assert tx["foreach"] == "customer.transactions" and tx["concurrency"] == 10_000
    orders = load("v10-switch-then-string.yaml")
    assert orders["processPhysicalOrder"]["when"] == '.orderType == "physical"'
    assert orders["handleUnknownOrderType"]["when"].startswith("not (")
    fork = load("v10-fork.yaml")
    assert fork["callNurse"]["consumes"] == ["patient", "room"] and "after" not in fork["callDoctor"]
    bet = load("v10-conditional-task.yaml")
    assert bet["raiseErrorIfUnderage"]["may_halt"] is True and bet["placeBet"]["after"] == ["raiseErrorIfUnderage"]


def test_v10_a_case_that_exits_keeps_the_condition_of_the_task_the_others_reach() -> None:
    text = """\
document: {dsl: '1.0.0', namespace: t, name: f, version: '1'}
do:
  - route:
      switch:
        - cancel: {when: .cancelled, then: exit}
        - rush: {when: .rush, then: ship}
        - default: {then: ship}
  - ship: {call: shipping}
"""
    (op,) = imported(text).document["operations"]
    assert op["when"] == "(.rush) or (not ((.cancelled) or (.rush)))"  # not always: a cancelled order exits
