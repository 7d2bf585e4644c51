"""cache says why it proposed nothing for a deterministic operation (``suggest --explain``, ``not_proposed``).

Issue 16: a deterministic, expensive operation got no cache candidate on default generated logs
(its keys never repeat there) and nothing said so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from _operators_helpers import make_profile, mini
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.mutate.operators import OperatorContext, cache, not_proposed
from recipemut.recipe.model import recipe_from_dict
from recipes import CHECKOUT_EXAMPLE

OPS = [{"id": "lookup", "consumes": ["id"], "produces": ["v"], "deterministic": True}]


def _ctx(keys: np.ndarray, ops: list[dict] | None = None, frozen: bool = False, **options: object) -> OperatorContext:
    doc = mini(ops or OPS, outputs=("v",))
    if frozen:
        doc["constraints"] = {"frozen": ["lookup"]}
    r = recipe_from_dict(doc)
    p = make_profile(r, keys.size, cache_key={"lookup": keys}, latency_ms={"lookup": np.full(keys.size, 40.0)})
    return OperatorContext.build(r, doc=doc, profile=p, options=options)


def test_keys_that_never_repeat_are_the_reason() -> None:
    ctx = _ctx(np.arange(2000))
    assert cache.generate(ctx) == []
    assert cache.why_not(ctx) == {
        "lookup": "keys never repeat in the logs (0 of 2,000 requests share a key; keyed on [id])"
    }
    (reason,) = not_proposed(ctx, ["cache"])
    assert reason.sentence() == "cache: lookup: keys never repeat in the logs (0 of 2,000 requests share a key; " \
        "keyed on [id])"


def test_keys_missing_rare_or_too_far_apart_each_say_so() -> None:
    assert cache.why_not(_ctx(np.full(300, -1))) == {
        "lookup": "its logs carry no cache_key: repeated calls cannot be seen"
    }
    rare = np.arange(300)
    rare[[1, 2, 3]] = 0  # 4 calls share key 0: an unbounded cache could answer 3 of 300 (1.0%)
    assert cache.why_not(_ctx(rare)) == {
        "lookup": "keys rarely repeat: 4 of 300 requests share a key, so a cache could answer 1.0% of them at most, "
        "under 5% (option cache_min_hit_rate)"
    }
    # one call per second, 10 keys in rotation: every key comes back after 10 s, so a 5 s TTL hits nothing
    far = _ctx(np.tile(np.arange(10), 60), cache_ttls_s=(2, 5))
    assert cache.generate(far) == []
    assert cache.why_not(far) == {
        "lookup": "its keys repeat too far apart: the best TTL tried (2 s) answers 0.0% of its calls, "
        "under 5% (option cache_min_hit_rate)"
    }


def test_a_candidate_or_an_operation_no_cache_applies_to_says_nothing() -> None:
    keys = np.tile(np.arange(10), 60)
    ctx = _ctx(keys, cache_ttls_s=(30, 120))
    assert [m.id for m in cache.generate(ctx)] == ["cache:lookup"]
    assert cache.why_not(ctx) == {}
    not_deterministic = [{**OPS[0], "deterministic": False}]
    assert cache.why_not(_ctx(np.arange(50), not_deterministic)) == {}
    cached = [{**OPS[0], "cache": {"ttl_s": 60, "max_entries": 10}}]
    assert cache.why_not(_ctx(np.arange(50), cached)) == {}


def test_frozen_and_external_operations_say_why() -> None:
    keys = np.tile(np.arange(10), 60)
    assert cache.why_not(_ctx(keys, frozen=True)) == {"lookup": "frozen: its calls are not changed"}
    external = [{**OPS[0], "side_effects": "external"}]
    assert cache.why_not(_ctx(keys, external)) == {
        "lookup": "external side effects: a hit would skip an action that must happen"
    }


def test_suggest_explain_on_default_generated_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case end to end: checkout's recipe, logs generated without loggen.yaml (no key repeats)."""
    monkeypatch.setenv("RECIPEMUT_STORE", "off")
    recipe = tmp_path / "recipe.yaml"
    shutil.copy(CHECKOUT_EXAMPLE / "recipe.yaml", recipe)
    logs = tmp_path / "logs.jsonl"
    runner = CliRunner()
    res = runner.invoke(app, ["generate", str(recipe), "-n", "2000", "--days", "1", "--seed", "1", "-o", str(logs)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["suggest", str(recipe), "--logs", str(logs), "-O", "cache", "--explain"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    assert "Not proposed" in res.stdout
    assert (
        "lookup_tax: cache: keys never repeat in the logs (0 of 2,000 requests share a key; keyed on "
        "[shipping_address])" in res.stdout
    ), res.stdout
    res = runner.invoke(app, ["suggest", str(recipe), "--logs", str(logs), "-O", "cache", "--format", "json"])
    assert res.exit_code == 0, res.output
    reasons = json.loads(res.stdout)["report"]["not_proposed"]
    assert {"operator": "cache", "target": "lookup_tax", "reason": "keys never repeat in the logs (0 of 2,000 "
            "requests share a key; keyed on [shipping_address])"} in reasons
    assert {x["operator"] for x in reasons} == {"cache"}
