"""dedupe: a deterministic fan-out operation whose keys repeat within a request fetches each item once."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_operators_fanout import context, recipe_doc, spans

from recipemut.mutate.operators import dedupe
from recipemut.plan.check import mutation_violations
from recipemut.recipe.constraints import check_structure

#: 13 lookups per request: drivers d0..d9, then d0, d1 and d2 again
KEYS = [f"d{i}" for i in range(10)] + ["d0", "d1", "d2"]


def test_repeated_keys_within_requests_give_dedupe_true(tmp_path: Path) -> None:
    doc = recipe_doc()
    ctx = context(tmp_path, doc, spans(keys=KEYS))
    (m,) = dedupe.generate(ctx)
    assert (m.id, m.targets) == ("dedupe:get_driver", ("get_driver",))
    assert [e.to_dict() for e in m.edits] == [{"op": "set", "path": ["operations", "get_driver", "dedupe"],
                                               "value": True}]
    assert m.description == (
        "`get_driver` fetches each item once per request (`dedupe: true`), saving 23.1% of its calls: it is "
        "deterministic, and 60 of its 260 logged calls have the cache key of an earlier call of the same request "
        "(in 20 of 20 requests), 45.0 ms of calls per request on average."
    )
    assert m.recipe.ops["get_driver"].dedupe is True
    assert check_structure(ctx.recipe, m.recipe) == []
    assert mutation_violations(doc, m) == []
    assert dedupe.why_not(ctx) == {}


@pytest.mark.parametrize(
    ("change", "keys", "why"),
    [
        ({}, [f"d{i}" for i in range(13)], "keys never repeat within a request (260 calls)"),
        ({}, None, "its logs carry no cache_key per call: repeated items cannot be seen"),
        ({"deterministic": False}, KEYS, "not deterministic: identical items may get different answers"),
        ({"side_effects": "external"}, KEYS, "external side effects: every call is an action that must happen"),
    ],
)
def test_why_not_proposed(tmp_path: Path, change: dict, keys: list[str] | None, why: str) -> None:
    ctx = context(tmp_path, recipe_doc(**change), spans(keys=keys))
    assert dedupe.generate(ctx) == []
    assert dedupe.why_not(ctx) == {"get_driver": why}


def test_rare_repeats_fall_under_the_option(tmp_path: Path) -> None:
    keys = [f"d{i}" for i in range(12)] + ["d0"]  # 1 of 13 calls: 7.7%
    ctx = context(tmp_path, recipe_doc(), spans(keys=keys), dedupe_min_saved_share=0.1)
    assert dedupe.generate(ctx) == []
    assert dedupe.why_not(ctx) == {"get_driver": "keys rarely repeat within a request: 20 of 260 calls (7.7%), "
                                                 "under 10% (option dedupe_min_saved_share)"}


def test_no_foreach_frozen_or_already_deduped(tmp_path: Path) -> None:
    no_foreach = context(tmp_path, recipe_doc(foreach=False), spans(keys=KEYS))
    assert dedupe.generate(no_foreach) == []
    assert dedupe.why_not(no_foreach)["get_driver"].startswith("no foreach (its logs show 13.0 calls per request")
    frozen = recipe_doc()
    frozen["constraints"] = {"frozen": ["get_driver"]}
    why = dedupe.why_not(context(tmp_path, frozen, spans(keys=KEYS)))
    assert why == {"get_driver": "frozen: its calls are not changed"}
    done = context(tmp_path, recipe_doc(dedupe=True), spans(keys=KEYS))
    assert dedupe.generate(done) == [] and dedupe.why_not(done) == {}


def test_the_plan_check_refuses_other_values_and_unsafe_targets(tmp_path: Path) -> None:
    doc = recipe_doc()
    (m,) = dedupe.generate(context(tmp_path, doc, spans(keys=KEYS)))
    bad = type(m)(m.id, m.operator, m.targets, m.description,
                  (type(m.edits[0])("set", m.edits[0].path, 1),), m.recipe)
    assert mutation_violations(doc, bad)
    assert any("not deterministic" in p for p in mutation_violations(recipe_doc(deterministic=False), m))
    assert any("external side effects" in p for p in mutation_violations(recipe_doc(side_effects="external"), m))
    assert any("has no foreach" in p for p in mutation_violations(recipe_doc(foreach=False), m))
