"""fanout: raise a fan-out operation's concurrency to the smallest k within a few percent of the best
gain, bounded by its service's capacity; why it is not proposed; `suggest --explain` shows the reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from _profile_helpers import line, write_lines
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.logs.ingest import read_logs
from recipemut.mutate.operators import REGISTRY, OperatorContext, fanout, generate_all, not_proposed
from recipemut.plan.check import mutation_violations
from recipemut.plan.explain import headline, not_proposed_lines
from recipemut.profile.build import build_profile
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.model import recipe_from_dict
from recipemut.recipe.validate import semantic_findings

T0 = 1_700_000_000_000.0


def recipe_doc(*, foreach: bool = True, services: dict[str, Any] | None = None, **op: Any) -> dict[str, Any]:
    """find_drivers -> get_driver (13 lookups per request on redis when the logs say so)."""
    get: dict[str, Any] = {"id": "get_driver", "service": "redis", "action": "GetDriver",
                           "consumes": ["driver_ids"], "produces": ["drivers"], "deterministic": True}
    if foreach:
        get["foreach"] = "driver_ids"
    get.update(op)
    doc: dict[str, Any] = {
        "apiVersion": "recipemut/v1", "kind": "Recipe", "name": "dispatch", "version": 1,
        "fields": {"order": {"type": "string"}, "driver_ids": {"type": "array"}, "drivers": {"type": "array"}},
        "inputs": ["order"], "outputs": ["drivers"],
        "operations": [
            {"id": "find_drivers", "service": "driver", "action": "FindDrivers", "consumes": ["order"],
             "produces": ["driver_ids"]},
            get,
        ],
    }
    if services is not None:
        doc["services"] = services
    return doc


def spans(n_requests: int = 20, calls: list[float] | None = None, keys: list[str] | None = None) -> list[dict]:
    """Each request: find_drivers (5 ms), then its get_driver calls one after another (15 ms each)."""
    calls = calls if calls is not None else [15.0] * 13
    out: list[dict[str, Any]] = []
    for r in range(n_requests):
        rid, t = f"r{r}", T0 + 1000.0 * r
        out.append({"request_id": rid, "op": "find_drivers", "span_id": f"{rid}-f", "start_ms": t,
                    "latency_ms": 5.0, "status": "ok"})
        t += 5.0
        for i, lat in enumerate(calls):
            d = {"request_id": rid, "op": "get_driver", "span_id": f"{rid}-g{i}", "start_ms": t,
                 "latency_ms": lat, "status": "ok"}
            if keys is not None:
                d["cache_key"] = keys[i]
            out.append(d)
            t += lat
    return out


def context(tmp_path: Path, doc: dict[str, Any], lines: list[dict] | None = None, **options: Any) -> OperatorContext:
    r = recipe_from_dict(doc)
    df, _ = read_logs(write_lines(tmp_path / "logs.jsonl", [line(d) for d in (lines or spans())]), recipe=r)
    return OperatorContext.build(r, doc=doc, profile=build_profile(df, r), options=options)


REDIS_8 = {"redis": {"replicas": 2, "concurrency_per_replica": 4}}


def test_thirteen_serial_calls_on_a_service_of_capacity_8_get_concurrency_7(tmp_path: Path) -> None:
    doc = recipe_doc(services=REDIS_8)
    ctx = context(tmp_path, doc)
    (m,) = fanout.generate(ctx)
    assert (m.id, m.targets) == ("fanout:get_driver", ("get_driver",))
    assert [e.to_dict() for e in m.edits] == [{"op": "set", "path": ["operations", "get_driver", "concurrency"],
                                               "value": 7}]
    # 13 calls of 15 ms: 195 ms on 1 slot; 2 rounds (30 ms) on 7 or 8 slots: 7 is the smallest as good
    assert m.description == (
        "`get_driver` runs 7 of its calls over `driver_ids` at once instead of 1 (`concurrency: 7`): it makes 13.0 "
        "calls per request (up to 13), which take 30.0 ms per request instead of 195 ms (165.0 ms less) when its "
        "recorded calls are scheduled on 7 slots; 7 is the smallest concurrency within 5% of the best gain "
        "(165.0 ms at 7) up to 8, the declared capacity of `redis` (2 replicas × 4); calls in flight at once can "
        "slow each other down on `redis`, which this prediction assumes they do not."
    )
    assert headline(m.description) == (
        "`get_driver` runs 7 of its calls over `driver_ids` at once instead of 1 (`concurrency: 7`)"
    )
    assert m.recipe.ops["get_driver"].concurrency == 7
    assert check_structure(ctx.recipe, m.recipe) == []
    assert mutation_violations(doc, m) == []
    assert [f.code for f in semantic_findings(m.recipe) if f.code.startswith("concurrency")] == []
    assert fanout.why_not(ctx) == {}


def test_the_cap_is_the_option_without_a_declared_capacity(tmp_path: Path) -> None:
    doc = recipe_doc()
    (m,) = fanout.generate(context(tmp_path, doc))  # cap 16: one slot per call is best
    assert m.recipe.ops["get_driver"].concurrency == 13
    (m,) = fanout.generate(context(tmp_path, doc, fanout_max_concurrency=4))
    assert m.recipe.ops["get_driver"].concurrency == 4
    assert "up to 4, the cap of 4 (option fanout_max_concurrency)" in m.description


def test_a_wider_tolerance_takes_fewer_slots(tmp_path: Path) -> None:
    # gains on 1..13 slots: 0, 90, 120, 135, 150, ... 180; within 20% of 180 is 150 ms: 5 slots
    (m,) = fanout.generate(context(tmp_path, recipe_doc(), fanout_tolerance=0.2))
    assert m.recipe.ops["get_driver"].concurrency == 5


def test_why_not_proposed(tmp_path: Path) -> None:
    no_foreach = context(tmp_path, recipe_doc(foreach=False))
    assert fanout.generate(no_foreach) == []
    assert fanout.why_not(no_foreach) == {
        "get_driver": "no foreach (its logs show 13.0 calls per request, up to 13: add `foreach: driver_ids` first)"
    }
    full = context(tmp_path, recipe_doc(services=REDIS_8, concurrency=8))
    assert fanout.generate(full) == []
    assert fanout.why_not(full) == {
        "get_driver": "already at capacity: concurrency 8, and the declared capacity of `redis` (2 replicas × 4) "
        "allows 8"
    }
    frozen = recipe_doc()
    frozen["constraints"] = {"frozen": ["get_driver"]}
    assert fanout.why_not(context(tmp_path, frozen)) == {"get_driver": "frozen: its calls are not rescheduled"}
    single = context(tmp_path, recipe_doc(), spans(calls=[15.0]))
    assert fanout.generate(single) == []
    assert fanout.why_not(single) == {
        "get_driver": "its logs show at most one call per request: there is nothing to run at once"
    }
    tiny = context(tmp_path, recipe_doc(), spans(calls=[0.2, 0.2]))  # 0.2 ms to gain at most
    assert fanout.generate(tiny) == []
    assert fanout.why_not(tiny) == {
        "get_driver": "no gain: scheduling its recorded calls on up to 16 slots (the cap of 16 "
        "(option fanout_max_concurrency)) saves 0.2 ms per request at most"
    }


def test_an_operation_called_once_per_request_gets_no_reason(tmp_path: Path) -> None:
    ctx = context(tmp_path, recipe_doc(foreach=False), spans(calls=[15.0]))
    assert fanout.why_not(ctx) == {}
    assert [x for x in not_proposed(ctx) if x.operator in ("fanout", "batch", "dedupe")] == []


def test_the_plan_check_accepts_only_the_declared_edit(tmp_path: Path) -> None:
    doc = recipe_doc(services=REDIS_8)
    (m,) = fanout.generate(context(tmp_path, doc))
    assert mutation_violations(doc, m) == []
    for value in (True, 1, "7", 7.5):
        bad = type(m)(m.id, m.operator, m.targets, m.description,
                      (type(m.edits[0])("set", m.edits[0].path, value),), m.recipe)
        assert mutation_violations(doc, bad), value
    other = type(m)(m.id, m.operator, m.targets, m.description,
                    (type(m.edits[0])("set", ("operations", "get_driver", "batch_size"), 7),), m.recipe)
    assert any("fanout never does" in p for p in mutation_violations(doc, other))
    assert any("has no foreach" in p for p in mutation_violations(recipe_doc(foreach=False), m))


def test_registry_and_not_proposed_in_registry_order(tmp_path: Path) -> None:
    assert list(REGISTRY)[-3:] == ["fanout", "batch", "dedupe"]
    assert all(REGISTRY[n].why_not is not None for n in ("fanout", "batch", "dedupe", "datapipe"))
    ctx = context(tmp_path, recipe_doc(foreach=False))
    reasons = not_proposed(ctx)
    assert [(x.operator, x.target) for x in reasons] == [
        ("cache", "get_driver"), ("fanout", "get_driver"), ("dedupe", "get_driver")  # these logs carry no keys
    ]
    assert not_proposed(ctx, ["batch"]) == []
    assert not_proposed_lines(reasons)[1].startswith("get_driver: fanout: no foreach (its logs show 13.0 calls")
    assert "fanout:get_driver" not in {m.id for m in generate_all(ctx)}


@given(st.lists(st.floats(0.0, 1000.0), min_size=1, max_size=20), st.floats(0.0, 0.5))
def test_smallest_within_is_the_first_gain_close_enough_to_the_best(gains: list[float], tol: float) -> None:
    k = fanout.smallest_within(gains, tol)
    best = max(gains)
    assert gains[k - 1] >= best - tol * best
    assert all(g < best - tol * best for g in gains[: k - 1])


def test_suggest_explain_says_why_no_fanout_candidate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPEMUT_STORE", "off")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(recipe_doc(foreach=False), sort_keys=False))
    logs = write_lines(tmp_path / "logs.jsonl", [line(d) for d in spans()])
    runner = CliRunner()
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs), "--format", "json", "--seed", "1"])
    assert res.exit_code == 0, res.output
    reasons = [x for x in json.loads(res.stdout)["report"]["not_proposed"] if x["operator"] != "cache"]
    assert reasons[0] == {
        "operator": "fanout",
        "target": "get_driver",
        "reason": "no foreach (its logs show 13.0 calls per request, up to 13: add `foreach: driver_ids` first)",
    }
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs), "--explain"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Not proposed" in res.stdout
    assert "get_driver: fanout: no foreach (its logs show 13.0 calls per request" in res.stdout
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs)], env={"COLUMNS": "200"})
    assert "3 reasons an operator proposed nothing (--explain shows them)" in res.stdout  # cache's too


def test_calls_that_already_overlapped_are_not_counted_as_serial(tmp_path: Path) -> None:
    # 6 calls of 15 ms logged 3 at a time (a 30 ms window) while the recipe says concurrency 1: today
    # they take 30 ms, not 90; 6 slots save 15 ms (the replay's figure), not 75
    lines = spans(calls=[15.0])
    for r in range(20):
        t = T0 + 1000.0 * r + 5.0
        lines += [{"request_id": f"r{r}", "op": "get_driver", "span_id": f"r{r}-h{i}", "start_ms": t + 15.0 * (i // 3),
                   "latency_ms": 15.0, "status": "ok"} for i in range(1, 6)]
    (m,) = fanout.generate(context(tmp_path, recipe_doc(), lines))
    assert m.recipe.ops["get_driver"].concurrency == 6
    assert "which take 15.0 ms per request instead of 30.0 ms (15.0 ms less)" in m.description
    capped = context(tmp_path, recipe_doc(), lines, fanout_max_concurrency=3)
    assert fanout.generate(capped) == []
    assert fanout.why_not(capped)["get_driver"].endswith("saves 0.0 ms per request at most")
