"""cache: TTL and capacity chosen by replaying the logged cache keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _operators_helpers import edits, ids, make_profile, mini, scenario, scenario_doc, scenario_profile
from _profile_helpers import line, write_lines

from recipemut.logs.ingest import read_logs
from recipemut.mutate.operators import OperatorContext, cache
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.loader import load_recipe_text
from recipemut.recipe.model import Recipe, recipe_from_dict

OPS = [{"id": "lookup", "consumes": ["id"], "produces": ["v"], "deterministic": True}]


def _ctx(doc: dict, keys: np.ndarray, **options: object) -> OperatorContext:
    r = recipe_from_dict(doc)
    p = make_profile(r, keys.size, cache_key={"lookup": keys}, latency_ms={"lookup": np.full(keys.size, 40.0)})
    return OperatorContext.build(r, doc=doc, profile=p, options=options)


def test_cache_literal() -> None:
    # one call per second, 10 distinct keys in rotation: each key repeats every 10 s
    keys = np.tile(np.arange(10), 60)
    ctx = _ctx(mini(OPS, outputs=("v",)), keys, cache_ttls_s=(5, 30, 120))
    (m,) = cache.generate(ctx)
    assert m.id == "cache:lookup" and m.targets == ("lookup",)
    # 5 s: no key repeats within 5 s (0%); 30 s: a miss every 3rd call of a key (66.7%);
    # 120 s: a miss every 12th call (91.7%). 66.7% < 90% of 91.7%, so 120 s; 10 live keys * 1.25 -> 20
    assert edits(m) == [
        {
            "op": "set",
            "path": ["operations", "lookup", "cache"],
            "value": {"ttl_s": 120, "max_entries": 20, "hit_latency_ms": 1},
        },
    ]
    assert "a 120 s TTL and 20 entries answers 91.7% of them in 1.0 ms instead of 40.0 ms" in m.description
    assert check_structure(ctx.recipe, m.recipe) == []


def test_cache_options_change_the_choice() -> None:
    keys = np.tile(np.arange(10), 60)
    ctx = _ctx(mini(OPS, outputs=("v",)), keys, cache_ttls_s=(5, 30), cache_hit_latency_ms=2.5, cache_max_entries=8)
    (m,) = cache.generate(ctx)
    spec = m.recipe.ops["lookup"].cache
    assert spec is not None and (spec.ttl_s, spec.max_entries, spec.hit_latency_ms) == (30, 8, 2.5)
    assert "capacity binds" in m.description


def test_no_cache_when_hits_are_negligible_or_keys_missing() -> None:
    doc = mini(OPS, outputs=("v",))
    assert cache.generate(_ctx(doc, np.arange(300))) == []  # every key unique
    assert cache.generate(_ctx(doc, np.full(300, -1))) == []  # no cache_key logged
    assert cache.generate(OperatorContext.build(recipe_from_dict(doc), doc=doc)) == []  # no profile


def test_refuses_nondeterministic_external_frozen_or_cached() -> None:
    keys = np.tile(np.arange(3), 100)
    for change, extra in (
        ({"deterministic": False}, {}),
        ({"side_effects": "external"}, {}),
        ({}, {"constraints": {"frozen": ["lookup"]}}),
        ({"cache": {"ttl_s": 10, "max_entries": 5}}, {}),
    ):
        doc = mini([{**OPS[0], **change}], outputs=("v",), **extra)
        assert cache.generate(_ctx(doc, keys)) == [], change
    doc = mini([{**OPS[0], "side_effects": "idempotent"}], outputs=("v",))
    assert ids(cache.generate(_ctx(doc, keys))) == ["cache:lookup"]


def test_scenario_caches_the_cart_lookup() -> None:
    r = scenario()
    ms = cache.generate(OperatorContext.build(r, doc=scenario_doc(), profile=scenario_profile()))
    assert ids(ms) == ["cache:load_cart"]
    assert check_structure(r, ms[0].recipe) == []


# ---- a fan-out operation: one key per item ------------------------------------------------------

FAN = """\
apiVersion: recipemut/v1
kind: Recipe
name: fan
version: 1
fields:
  item_ids: {type: array}
  items: {type: array}
inputs: [item_ids]
outputs: [items]
operations:
  - id: get_item
    service: catalog
    action: GetItem
    consumes: [item_ids]
    produces: [items]
    deterministic: true
    foreach: item_ids
"""


def fan_profile(tmp_path: Path, keys: list[list[int]], ms: float = 20.0) -> tuple[Profile, Recipe]:
    """One request a second, its get_item calls one after another, ``keys[i]`` the items of request i."""
    rows = []
    for i, ks in enumerate(keys):
        for m, k in enumerate(ks):
            d = {"request_id": f"r{i}", "op": "get_item", "span_id": f"r{i}-{m}", "start_ms": 1e12 + 1000 * i + ms * m}
            rows.append(line(d | {"latency_ms": ms, "status": "ok", "cache_key": f"item{k}"}))
    r = load_recipe_text(FAN, file="fan.yaml")
    df, _ = read_logs(write_lines(tmp_path / "fan.jsonl", rows), recipe=r)
    return build_profile(df, r), r


def test_a_fanout_is_cached_when_its_items_repeat_across_requests(tmp_path: Path) -> None:
    # 60 requests of 4 items from a rotation of 10: no two requests have the same items (so no
    # request-level key repeats), but each item comes back every 2.5 s
    prof, r = fan_profile(tmp_path, [[(4 * i + m) % 10 for m in range(4)] for i in range(60)])
    ctx = OperatorContext.build(r, profile=prof, options={"cache_ttls_s": (5, 30, 120)})
    (m,) = cache.generate(ctx)
    # 120 s: only the 10 first calls miss (230 / 240 = 95.8%); 30 s: each item misses twice
    # (220 / 240 = 91.7%, within 90% of the best, so the shorter TTL); 10 live items * 1.25 -> 20
    assert edits(m)[0]["value"] == {"ttl_s": 30, "max_entries": 20, "hit_latency_ms": 1}
    assert "cache keys of its 240 logged calls (one per item)" in m.description
    assert "answers 91.7% of the calls in 1.0 ms instead of 20.0 ms a call" in m.description


def test_items_repeated_within_a_request_are_hits_too(tmp_path: Path) -> None:
    # each request fetches item 1 three times and a fresh item once: 2 / 4 calls hit at any TTL
    prof, r = fan_profile(tmp_path, [[1, 100 + i, 1, 1] for i in range(100)])
    ctx = OperatorContext.build(r, profile=prof, options={"cache_ttls_s": (0.5,)})
    (m,) = cache.generate(ctx)
    assert "answers 50.0% of the calls" in m.description
