"""Fuzzed plans through the plan loader, the plan check and apply: either a clean apply leaving a valid
recipe, or one :class:`~recipemut.errors.RecipemutError`; a refused plan changes no byte."""

from __future__ import annotations

import json
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from recipemut.apply.history import history_path, read_history
from recipemut.apply.transaction import apply_plan
from recipemut.errors import RecipemutError
from recipemut.mutate.operators import REGISTRY
from recipemut.plan.planfile import load_plan, recipe_sha256
from recipemut.recipe.loader import load_recipe

HEDGE = {"id": "hedge:score_fraud", "operator": "hedge", "targets": ["score_fraud"], "description": "h",
         "edits": [{"op": "set", "path": ["operations", "score_fraud", "hedge"], "value": {"after_ms": 80}}]}
GOOD = [PARALLELIZE.to_dict(), CACHE.to_dict(), HEDGE]
NAMES: list[Any] = ["operations", "fields", "alternatives", "constraints", "version", "load_cart", "score_fraud",
                    "charge", "after", "cache", "hedge", "service", "side_effects", "produces", "consumes", "cart",
                    "risk", "receipt", "", "evil", 0, -1, 7]
OPERATORS = [*REGISTRY, "test", ""]

scalars = (st.none() | st.booleans() | st.integers(-(10**40), 10**40) | st.floats() | st.text(max_size=4)
           | st.sampled_from(NAMES))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                      max_leaves=8)
edits = st.fixed_dictionaries(
    {"op": st.sampled_from(["set", "remove", "append", "prune"] * 5 + ["swap"]),
     "path": st.lists(st.sampled_from(NAMES), max_size=5).filter(bool) | st.lists(st.sampled_from(NAMES), max_size=5),
     "value": values},
)


@st.composite
def mutations(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        m = json.loads(json.dumps(draw(st.sampled_from(GOOD))))
        if draw(st.booleans()):  # a good mutation, mutated
            m["edits"].append(draw(edits))
        if draw(st.booleans()):
            m["targets"] = draw(st.lists(st.sampled_from([n for n in NAMES if isinstance(n, str)]), max_size=3))
        return m
    operator = draw(st.sampled_from(OPERATORS))
    m = {"id": f"{operator}:{draw(st.text(max_size=3))}", "operator": operator,
         "targets": draw(st.lists(st.sampled_from([n for n in NAMES if isinstance(n, str)]), max_size=3)),
         "edits": draw(st.lists(edits, max_size=4))}
    if draw(st.booleans()):
        m["predicted"] = {"latency_p95_ms": {"delta": draw(st.floats() | st.integers(-(10**40), 10**40))}}
    return m


@st.composite
def plan_texts(draw: st.DrawFn, sha: str, path: str) -> str:
    ms = draw(st.lists(mutations(), min_size=1, max_size=3, unique_by=lambda m: str(m.get("id"))))
    ids = [m["id"] for m in ms]
    doc: dict[str, Any] = {"planVersion": 1, "recipe": {"path": path, "sha256": sha}, "mutations": ms,
                           "plan": ids if not ids or draw(st.booleans()) else draw(st.lists(st.sampled_from(ids),
                                                                                          unique=True))}
    text = json.dumps(doc)  # NaN and Infinity where the values hold them
    how = draw(st.sampled_from(["as is"] * 8 + ["deep", "truncated"]))
    if how == "deep":
        n = draw(st.sampled_from([50, 99, 100, 101, 5000]))
        text = text[:-1] + ', "x": ' + "[" * n + "]" * n + "}"
    elif how == "truncated":
        text = text[: draw(st.integers(0, len(text)))]
    return text


@lru_cache(maxsize=1)
def _template() -> tuple[bytes, bytes]:
    """The recipe and its history after one real apply (a history a refused plan must leave intact)."""
    d = Path(tempfile.mkdtemp(prefix="recipemut-fuzz-"))
    recipe = d / "checkout.yaml"
    recipe.write_text(RECIPE_TEXT)
    first = d / "first.json"
    first.write_text(json.dumps({"planVersion": 1, "recipe": {"path": str(recipe), "sha256": recipe_sha256(recipe)},
                                 "mutations": [HEDGE], "plan": [HEDGE["id"]]}))
    apply_plan(recipe, load_plan(first))
    out = recipe.read_bytes(), history_path(recipe).read_bytes()
    shutil.rmtree(d)
    return out


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_fuzzed_plan_applies_cleanly_or_is_one_refusal_changing_nothing(
        tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    before, history_before = _template()
    d = tmp_path_factory.mktemp("fuzz")
    recipe = d / "checkout.yaml"
    recipe.write_bytes(before)
    history_path(recipe).write_bytes(history_before)
    plan = d / "plan.json"
    plan.write_text(data.draw(plan_texts(recipe_sha256(before), "checkout.yaml")), encoding="utf-8",
                    errors="surrogatepass")
    try:
        result = apply_plan(recipe, load_plan(plan))
    except RecipemutError as e:
        event(f"refused: {e.code}")
        assert "\n" not in str(e)
        assert recipe.read_bytes() == before and history_path(recipe).read_bytes() == history_before
    else:
        if not result.written:  # a plan that chooses nothing: nothing to apply, nothing changed
            event("nothing to apply")
            assert result.reason is not None and result.reason.startswith("nothing to apply")
            assert recipe.read_bytes() == before and history_path(recipe).read_bytes() == history_before
            return
        event("applied")
        load_recipe(recipe)  # a valid recipe
        assert len(read_history(recipe)) == 2  # the chain verifies, one entry more
