"""The operators on the shipped examples: what they propose leaves a recipe `validate --strict` accepts."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
import yaml

from recipemut.logs.ingest import read_logs
from recipemut.mutate.operators import OperatorContext, generate_all
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.edits import apply_edits
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import recipe_from_dict
from recipemut.recipe.validate import semantic_findings

ROOT = Path(__file__).resolve().parents[1] / "recipes"

# the plan `recipemut suggest recipes/checkout/recipe.yaml --logs recipes/checkout/logs.jsonl.gz` chose
CHECKOUT_PLAN = (
    "eliminate:fetch_recommendations",
    "hedge:quote_shipping",
    "substitute:price_items->price_items_edge",
    "parallelize:lookup_tax->quote_shipping",
    "cache:lookup_tax",
    "parallelize:price_items->score_fraud",
    "datapipe:priced_cart=arrow+zstd",
)


@lru_cache(maxsize=3)
def _example(name: str) -> tuple[dict[str, Any], Profile]:
    path = ROOT / name / "recipe.yaml"
    recipe = load_recipe(path)
    spans, _ = read_logs(ROOT / name / "logs.jsonl.gz", recipe=recipe)
    return yaml.safe_load(path.read_text()), build_profile(spans, recipe)


def _findings(doc: dict[str, Any]) -> list[str]:
    return [f"{f.code}: {f.message}" for f in semantic_findings(recipe_from_dict(doc, source="recipe.yaml"))]


def test_the_full_checkout_plan_leaves_no_finding() -> None:
    doc, profile = _example("checkout")
    assert _findings(doc) == []
    for mid in CHECKOUT_PLAN:  # each mutation computed on the document the earlier ones left, as suggest does
        ctx = OperatorContext.build(recipe_from_dict(doc), doc=doc, profile=profile)
        (m,) = [m for m in generate_all(ctx) if m.id == mid]
        doc = apply_edits(doc, list(m.edits))
    assert _findings(doc) == []  # warnings included: no unused field, no undeclared service
    assert "recommendations" not in doc["fields"]
    ops = {o["id"]: o for o in doc["operations"]}
    assert "after" not in ops["score_fraud"] and "after" not in ops["quote_shipping"]  # no `after: []`
    assert ops["reserve_stock"]["after"] == ["score_fraud"]
    assert nx.has_path(recipe_from_dict(doc).dag, "score_fraud", "reserve_stock")


@pytest.mark.parametrize(
    "name",
    ["checkout", pytest.param("media", marks=pytest.mark.slow), pytest.param("ml_inference", marks=pytest.mark.slow)],
)
def test_every_single_candidate_leaves_no_finding(name: str) -> None:
    doc, profile = _example(name)
    ms = generate_all(OperatorContext.build(recipe_from_dict(doc), doc=doc, profile=profile))
    assert {m.operator for m in ms} >= {"eliminate", "substitute", "parallelize"}
    bad = {m.id: _findings(apply_edits(doc, list(m.edits))) for m in ms}
    assert {k: v for k, v in bad.items() if v} == {}
