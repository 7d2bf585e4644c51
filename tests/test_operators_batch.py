"""batch: a fan-out operation switches to a batched alternative of the catalogue with batch_size set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_operators_fanout import context, recipe_doc, spans

from recipemut.mutate.operators import batch, dedupe, fanout
from recipemut.plan.check import mutation_violations, plan_edit_violations
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.edits import apply_edits
from recipemut.recipe.validate import semantic_findings


def batched_doc(max_batch: int = 50, **op: Any) -> dict[str, Any]:
    doc = recipe_doc(equivalence="redis.get_driver", cost_per_call_usd=0.0001, **op)
    doc["alternatives"] = [
        {"id": "get_drivers_batch", "service": "redis", "action": "MGetDrivers", "equivalence": "redis.get_driver",
         "consumes": ["driver_ids"], "produces": ["drivers"], "max_batch": max_batch,
         "expected": {"latency_ms": {"p50": 12, "p95": 25}, "cost_per_call_usd": 0.0003}},
    ]
    return doc


def test_thirteen_items_per_request_take_one_batch_of_13(tmp_path: Path) -> None:
    doc = batched_doc()
    ctx = context(tmp_path, doc)
    (m,) = batch.generate(ctx)
    assert (m.id, m.targets) == ("batch:get_driver->get_drivers_batch", ("get_driver", "get_drivers_batch"))
    path = ["operations", "get_driver"]
    assert [e.to_dict() for e in m.edits] == [
        {"op": "set", "path": [*path, "service"], "value": "redis"},
        {"op": "set", "path": [*path, "action"], "value": "MGetDrivers"},
        {"op": "set", "path": [*path, "cost_per_call_usd"], "value": 0.0003},
        {"op": "set", "path": [*path, "substituted_from"], "value": "GetDriver"},
        {"op": "set", "path": [*path, "batch_size"], "value": 13},
    ]
    assert m.description == (
        "`get_driver` fetches the items of `driver_ids` 13 per call from redis/MGetDrivers (`batch_size: 13`; "
        "catalogue entry `get_drivers_batch`, same equivalence `redis.get_driver`, up to 50 items per call): a "
        "request of 13 items (its p95) needs 1 call instead of 13; the catalogue expects 12.0 ms at p50 per "
        "batched call."
    )
    op = m.recipe.ops["get_driver"]
    assert (op.action, op.batch_size, op.substituted_from) == ("MGetDrivers", 13, "GetDriver")
    assert check_structure(ctx.recipe, m.recipe) == []
    assert [f.code for f in semantic_findings(m.recipe) if f.code.startswith("batch")] == []
    assert mutation_violations(doc, m) == []


def test_batch_size_is_bounded_by_max_batch(tmp_path: Path) -> None:
    doc = batched_doc(max_batch=5)
    (m,) = batch.generate(context(tmp_path, doc))
    assert m.recipe.ops["get_driver"].batch_size == 5
    assert "(`batch_size: 5`;" in m.description and "needs 3 calls instead of 13" in m.description
    assert mutation_violations(doc, m) == []
    over = type(m)(m.id, m.operator, m.targets, m.description,
                   tuple(type(e)("set", e.path, 6) if e.path[-1] == "batch_size" else e for e in m.edits), m.recipe)
    assert any("at most the max_batch of alternative 'get_drivers_batch'" in p for p in mutation_violations(doc, over))


def test_why_not_proposed(tmp_path: Path) -> None:
    plain = context(tmp_path, recipe_doc())
    assert batch.generate(plain) == []
    assert batch.why_not(plain) == {
        "get_driver": "no batched alternative (it has no `equivalence` tag, so no catalogue entry stands for it)"
    }
    other = recipe_doc(equivalence="redis.get_driver")
    assert batch.why_not(context(tmp_path, other)) == {
        "get_driver": "no batched alternative (no catalogue entry with equivalence `redis.get_driver` declares "
        "max_batch)"
    }
    no_foreach = context(tmp_path, batched_doc(foreach=False))
    assert batch.why_not(no_foreach)["get_driver"].startswith("no foreach (its logs show 13.0 calls per request")
    assert batch.why_not(context(tmp_path, recipe_doc(foreach=False))) == {}  # no batched alternative: nothing to say
    done = context(tmp_path, batched_doc(batch_size=5, max_batch=50))
    assert batch.why_not(done) == {"get_driver": "already batched (batch_size 5)"}
    one = context(tmp_path, batched_doc(), spans(calls=[15.0]))
    assert batch.generate(one) == []
    assert batch.why_not(one) == {"get_driver": "its requests hold 1 item at p95: nothing to batch"}
    frozen = batched_doc()
    frozen["constraints"] = {"frozen": ["get_driver"]}
    assert batch.why_not(context(tmp_path, frozen)) == {"get_driver": "frozen: its calls are not changed"}


def test_an_alternative_that_cannot_replace_it_is_said(tmp_path: Path) -> None:
    doc = batched_doc()
    doc["alternatives"][0]["consumes"] = ["driver_ids", "region"]
    doc["fields"]["region"] = {"type": "string"}
    ctx = context(tmp_path, doc)
    assert batch.generate(ctx) == []
    assert batch.why_not(ctx) == {
        "get_driver": "`get_drivers_batch` cannot replace it: consumes [region], not available before `get_driver`"
    }


def test_the_plan_check_wants_the_foreach_and_the_equivalence(tmp_path: Path) -> None:
    doc = batched_doc()
    (m,) = batch.generate(context(tmp_path, doc))
    assert any("has no foreach" in p for p in mutation_violations(batched_doc(foreach=False), m))
    other = batched_doc()
    other["alternatives"][0]["equivalence"] = "redis.other"
    assert any("share no equivalence tag" in p for p in mutation_violations(other, m))
    no_max = batched_doc()
    del no_max["alternatives"][0]["max_batch"]
    assert mutation_violations(no_max, m)


def test_after_a_batch_the_recorded_calls_no_longer_describe_the_calls(tmp_path: Path) -> None:
    doc = batched_doc()
    (m,) = batch.generate(context(tmp_path, doc, spans(keys=[f"d{i % 10}" for i in range(13)])))
    after = apply_edits(doc, list(m.edits))
    ctx = context(tmp_path, after, spans(keys=[f"d{i % 10}" for i in range(13)]))
    why = "its calls are batches of 13 items now, and the logs recorded calls of 1 item: the recorded calls " \
          "no longer say how its calls would go"
    assert fanout.generate(ctx) == [] and fanout.why_not(ctx) == {"get_driver": why}
    assert dedupe.generate(ctx) == [] and dedupe.why_not(ctx) == {"get_driver": why}
    assert plan_edit_violations(doc, [m]) == []
