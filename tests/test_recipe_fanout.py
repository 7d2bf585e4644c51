"""Fan-out, retries and branches in a recipe: the keys, their checks and their pictures.

Literal recipe-in / findings-out and recipe-in / diagram-out, plus properties over generated recipes.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import recipe_docs

from recipemut.recipe.graph import render_dot, render_mermaid
from recipemut.recipe.loader import check_document, check_text
from recipemut.recipe.model import recipe_from_dict, recipe_to_dict
from recipemut.recipe.validate import RULES, semantic_findings

DISPATCH = """\
apiVersion: recipemut/v1
kind: Recipe
name: dispatch
fields:
  ride_id: {type: string}
  driver_ids: {type: array}
  drivers: {type: array}
  eta: {type: number}
  sms: {type: object}
inputs: [ride_id]
outputs: [eta]
operations:
  - id: find_drivers
    service: driver
    action: FindNearest
    consumes: [ride_id]
    produces: [driver_ids]
  - id: get_driver
    service: redis
    action: GetDriver
    consumes: [driver_ids]
    produces: [drivers]
    equivalence: redis.get_driver
    deterministic: true
    foreach: driver_ids
    concurrency: 4
    retry: {max_attempts: 3}
  - id: compute_eta
    service: route
    action: ComputeEta
    consumes: [drivers]
    produces: [eta]
  - id: notify_sms
    service: sms
    action: Send
    consumes: [eta]
    produces: [sms]
    when: customer opted in
services:
  driver: {}
  redis: {replicas: 2, concurrency_per_replica: 8}
  route: {}
  sms: {}
alternatives:
  - id: get_drivers_batch
    equivalence: redis.get_driver
    service: redis
    action: MGetDrivers
    consumes: [driver_ids]
    produces: [drivers]
    max_batch: 50
    expected: {latency_ms: {p50: 12, p95: 25}}
"""
GET_DRIVER = """\
    foreach: driver_ids
    concurrency: 4
    retry: {max_attempts: 3}
"""


def messages(text: str) -> list[str]:
    return [str(f) for f in check_text(text, file="d.yaml")[1]]


def with_get_driver(keys: str) -> str:
    """DISPATCH with get_driver's fan-out keys (lines 25 to 27) replaced by ``keys``."""
    assert GET_DRIVER in DISPATCH
    return DISPATCH.replace(GET_DRIVER, keys)


def test_the_dispatch_recipe_is_valid_and_reads_its_fan_out_keys() -> None:
    recipe, findings = check_text(DISPATCH, file="d.yaml")
    assert findings == []
    assert recipe is not None
    op = recipe.ops["get_driver"]
    assert (op.foreach, op.concurrency, op.batch_size, op.max_attempts, op.fans_out) == ("driver_ids", 4, 1, 3, True)
    assert recipe.ops["notify_sms"].when == "customer opted in"
    assert recipe.alternatives[0].max_batch == 50
    # fan-out and branches change nothing in the DAG: the same data edges as without them
    assert sorted(recipe.dag.edges) == [
        ("compute_eta", "notify_sms"),
        ("find_drivers", "get_driver"),
        ("get_driver", "compute_eta"),
    ]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            "    foreach: driver_id\n",
            "d.yaml:25:5: operations[1] (get_driver): foreach 'driver_id' is not a field it consumes "
            "(did you mean 'driver_ids'?); add it to consumes [foreach-not-consumed]",
        ),
        (
            "    foreach: ride_id\n",
            "d.yaml:25:5: operations[1] (get_driver): foreach 'ride_id' is not a field it consumes "
            "(did you mean 'driver_ids'?); "
            "add it to consumes [foreach-not-consumed]",
        ),
        (
            "    batch_size: 10\n",
            "d.yaml:25:5: operations[1] (get_driver): batch_size 10 without foreach: there are no list items to "
            "batch; add foreach: <list field> [batch-without-foreach]",
        ),
        (
            "    concurrency: 4\n",
            "d.yaml:25:5: operations[1] (get_driver): concurrency 4 without foreach: it has no effect "
            "(one call); add foreach: <list field> [concurrency-without-foreach]",
        ),
        (
            "    dedupe: true\n",
            "d.yaml:25:5: operations[1] (get_driver): dedupe without foreach: it has no effect (one call); "
            "add foreach: <list field> [dedupe-without-foreach]",
        ),
        (
            "    foreach: driver_ids\n    batch_size: 10\n",
            "d.yaml:26:5: operations[1] (get_driver): batch_size 10, but neither it nor an alternative with "
            "action redis.GetDriver declares max_batch; the action may not take batches [batch-without-max]",
        ),
        (
            "    foreach: driver_ids\n    concurrency: 17\n",
            "d.yaml:26:5: operations[1] (get_driver): concurrency 17 is above the capacity of service "
            "'redis' (16 = 2 replicas x 8); calls beyond it queue [concurrency-over-capacity]",
        ),
        (
            "    foreach: driver_ids\n    dedupe: true\n",
            "d.yaml:25:5: operations[1] (get_driver): dedupe but is not deterministic; identical items may "
            "need their own call [dedupe-unsafe]",
        ),
    ],
)
def test_fan_out_rules_name_file_line_column_and_code(keys: str, expected: str) -> None:
    text = with_get_driver(keys)
    if "dedupe: true\n" in keys and "foreach" in keys:
        text = text.replace("    deterministic: true\n", "")
    assert messages(text) == [expected]


def test_foreach_on_a_field_that_is_not_a_list() -> None:
    text = DISPATCH.replace("  driver_ids: {type: array}", "  driver_ids: {type: string}")
    assert messages(text) == [
        "d.yaml:25:5: operations[1] (get_driver): foreach 'driver_ids' is a field of type string, not a list; "
        "declare it {type: array} or name a list field [foreach-not-list]"
    ]


def test_batch_size_is_bounded_by_the_batched_alternative_serving_the_action() -> None:
    # after a batch mutation: the operation calls MGetDrivers, whose max_batch the alternative declares
    text = with_get_driver("    foreach: driver_ids\n    batch_size: 80\n").replace(
        "    action: GetDriver\n", "    action: MGetDrivers\n"
    )
    assert messages(text) == [
        "d.yaml:26:5: operations[1] (get_driver): batch_size 80 is above the max_batch of alternatives[0] "
        "(get_drivers_batch) (50) [batch-exceeds-max]"
    ]
    assert messages(text.replace("batch_size: 80", "batch_size: 50")) == []
    own = text.replace("    batch_size: 80\n", "    batch_size: 80\n    max_batch: 64\n")
    assert messages(own) == [
        "d.yaml:26:5: operations[1] (get_driver): batch_size 80 is above its own max_batch (64) [batch-exceeds-max]"
    ]


def test_retry_of_external_side_effects_and_when_on_an_alternative_are_warnings() -> None:
    text = DISPATCH.replace(
        "    when: customer opted in\n",
        "    when: customer opted in\n    side_effects: external\n    retry: {max_attempts: 2}\n",
    ).replace("    max_batch: 50\n", "    max_batch: 50\n    when: always\n")
    assert messages(text) == [
        "d.yaml:40:5: operations[3] (notify_sms): retry repeats calls with external side effects "
        "(up to 2 attempts); a failed attempt may still have acted [retry-unsafe]",
        "d.yaml:54:5: alternatives[0] (get_drivers_batch): when is ignored on an alternative; a "
        "substitute keeps the branch of the operation it replaces [when-on-alternative]",
    ]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            "    foreach: driver_ids\n    concurrency: 0\n",
            "d.yaml:26:5: operations[1] (get_driver).concurrency: must be >= 1, got 0 [out-of-range]",
        ),
        (
            "    foreach: driver_ids\n    concurrency: 10001\n",
            "d.yaml:26:5: operations[1] (get_driver).concurrency: must be <= 10000, got 10001 [out-of-range]",
        ),
        (
            "    foreach: driver_ids\n    batch_size: '4'\n",
            "d.yaml:26:5: operations[1] (get_driver).batch_size: expected an integer, got text ('4') [wrong-type]",
        ),
        (
            "    retry: {}\n",
            "d.yaml:25:5: operations[1] (get_driver).retry: missing required key 'max_attempts' [missing-key]",
        ),
        (
            "    retry: {max_attempt: 3}\n",
            "d.yaml:25:13: operations[1] (get_driver).retry: unknown key 'max_attempt' "
            "(did you mean 'max_attempts'?) [unknown-key]",
        ),
        (
            "    foreach: 'driver ids'\n",
            "d.yaml:25:5: operations[1] (get_driver).foreach: 'driver ids' is not an "
            "identifier (letters, digits, '_', '-', '.'; starting with a letter or '_') [bad-name]",
        ),
        ("    when: ''\n", "d.yaml:25:5: operations[1] (get_driver).when: must not be empty [bad-value]"),
        (
            "    dedupe: 'yes'\n",
            "d.yaml:25:5: operations[1] (get_driver).dedupe: expected true or false, got text ('yes') [wrong-type]",
        ),
    ],
)
def test_schema_bounds_and_types_of_the_new_keys(keys: str, expected: str) -> None:
    assert expected in messages(with_get_driver(keys))


def test_a_bad_field_type_is_not_judged_by_foreach_not_list() -> None:
    # the field's type cannot be read: the rule that would read it stays silent, the schema finding remains
    text = DISPATCH.replace("  driver_ids: {type: array}", "  driver_ids: {type: list}")
    assert [f.code for f in check_text(text)[1]] == ["bad-value"]


def test_a_bad_service_capacity_is_not_judged_by_concurrency_over_capacity() -> None:
    text = with_get_driver("    foreach: driver_ids\n    concurrency: 17\n").replace(
        "{replicas: 2, concurrency_per_replica: 8}", "{replicas: two}"
    )
    assert [f.code for f in check_text(text)[1]] == ["wrong-type"]


def test_the_rules_are_registered_with_their_severities() -> None:
    assert {code: RULES[code][0] for code in RULES if code.startswith(("foreach", "batch", "concurrency"))} == {
        "foreach-not-consumed": "error",
        "foreach-not-list": "error",
        "batch-without-foreach": "error",
        "batch-exceeds-max": "error",
        "batch-without-max": "warning",
        "concurrency-without-foreach": "warning",
        "concurrency-over-capacity": "warning",
    }


# ---- pictures ------------------------------------------------------------------------------------


def test_mermaid_draws_fan_out_as_a_stacked_box_and_branches_dashed() -> None:
    recipe, _ = check_text(DISPATCH)
    assert recipe is not None
    assert render_mermaid(recipe, highlight=["get_driver"]) == (
        "flowchart TD\n"
        '  n0["find_drivers<br/>driver · FindNearest"]\n'
        '  n1[["get_driver<br/>redis · GetDriver<br/>× each driver_ids, 4 at a time<br/>up to 3 attempts"]]\n'
        '  n2["compute_eta<br/>route · ComputeEta"]\n'
        '  n3["notify_sms<br/>sms · Send<br/>when: customer opted in"]\n'
        '  n0 -->|"driver_ids"| n1\n'
        '  n1 -->|"drivers"| n2\n'
        '  n2 -->|"eta"| n3\n'
        "  classDef fanout fill:#e7f1ff,stroke:#0b5ed7\n"
        "  classDef branch fill:#f3f0ff,stroke:#6f42c1,stroke-dasharray:6 3\n"
        "  classDef changed stroke:#d6336c,stroke-width:4px\n"
        "  class n1 fanout\n"
        "  class n3 branch\n"
        "  class n1 changed\n"
    )


def test_dot_draws_fan_out_as_box3d_and_branches_dashed() -> None:
    text = with_get_driver("    foreach: driver_ids\n    batch_size: 50\n    dedupe: true\n").replace(
        "    action: GetDriver\n", "    action: MGetDrivers\n"
    )
    recipe, findings = check_text(text)
    assert recipe is not None and findings == []
    assert render_dot(recipe).splitlines()[5:9] == [
        '  "find_drivers" [label="find_drivers\\ndriver · FindNearest"];',
        '  "get_driver" [label="get_driver\\nredis · MGetDrivers\\n× each driver_ids, batches of 50, one at a time, '
        'identical items once", shape="box3d", fillcolor="#e7f1ff", color="#0b5ed7"];',
        '  "compute_eta" [label="compute_eta\\nroute · ComputeEta"];',
        '  "notify_sms" [label="notify_sms\\nsms · Send\\nwhen: customer opted in", style="rounded,filled,dashed", '
        'fillcolor="#f3f0ff", color="#6f42c1"];',
    ]


def test_a_guard_keeps_its_hexagon_when_it_fans_out() -> None:
    recipe, _ = check_text(DISPATCH.replace("    concurrency: 4\n", "    concurrency: 4\n    may_halt: true\n"))
    assert recipe is not None
    assert '  n1{{"get_driver<br/>redis · GetDriver<br/>guard: may halt<br/>× each driver_ids' in render_mermaid(recipe)
    assert 'shape="hexagon"' in render_dot(recipe).splitlines()[6]


def test_a_branch_condition_cannot_break_out_of_the_diagram() -> None:
    recipe, _ = check_text(DISPATCH.replace("when: customer opted in", 'when: "a\\"] --> evil\\nx"'))
    assert recipe is not None
    assert '<br/>when: a#quot;] --#gt; evil\\nx"]' in render_mermaid(recipe)
    assert '\\nwhen: a\\"] --> evil\\\\nx", style=' in render_dot(recipe)


# ---- properties ----------------------------------------------------------------------------------


def _fan_out(doc: dict[str, Any], data: st.DataObject) -> tuple[dict[str, Any], str | None]:
    """``doc`` with one consuming operation made a fan-out over a consumed field declared as a list."""
    out = copy.deepcopy(doc)
    candidates = [op for op in out["operations"] if op.get("consumes")]
    if not candidates:
        return out, None
    op = data.draw(st.sampled_from(candidates))
    field = data.draw(st.sampled_from(op["consumes"]))
    out["fields"][field] = {"type": "array"}
    op["foreach"] = field
    op["concurrency"] = data.draw(st.integers(1, 10_000))
    size = data.draw(st.integers(1, 1_000_000))
    op["batch_size"] = size
    op["max_batch"] = data.draw(st.integers(size, 1_000_000))
    op["retry"] = {"max_attempts": data.draw(st.integers(1, 100))}
    op["when"] = data.draw(st.text(min_size=1, max_size=40))
    return out, op["id"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=recipe_docs(), data=st.data())
def test_a_well_formed_fan_out_adds_no_error_and_round_trips(doc: dict[str, Any], data: st.DataObject) -> None:
    before = {f.code for f in semantic_findings(recipe_from_dict(doc)) if f.severity == "error"}
    fanned, op_id = _fan_out(doc, data)
    recipe, findings = check_document(fanned, {}, file="g.yaml")
    assert recipe is not None
    assert {f.code for f in findings if f.severity == "error"} <= before  # a list field may drop "unused" etc.
    assert {f.code for f in findings} <= {
        *before,
        "concurrency-over-capacity",
        "unknown-service",
        "unused-field",
        "keep-order-unordered",
        "orphan-alternative",
        "unknown-format",
        "cache-unsafe",
        "hedge-unsafe",
        "retry-unsafe",
    }
    assert recipe_from_dict(recipe_to_dict(recipe), source="g.yaml") == recipe
    if op_id is not None:
        assert recipe.ops[op_id].fans_out
        assert recipe.dag.edges == recipe_from_dict(doc).dag.edges  # the DAG does not change


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=recipe_docs())
def test_recipes_without_the_new_keys_write_none_of_them(doc: dict[str, Any]) -> None:
    plain = recipe_to_dict(recipe_from_dict(doc))
    new = {"foreach", "concurrency", "batch_size", "max_batch", "retry", "dedupe", "when"}
    assert not any(new & set(op) for op in [*plain["operations"], *plain.get("alternatives", [])])
