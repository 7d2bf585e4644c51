"""The edits each operator declares (``EDITS``) are the edits it makes: every candidate the operators
propose on the shipped examples passes the plan check, alone and composed as suggest composes them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from recipemut.logs.ingest import read_logs
from recipemut.mutate.operators import REGISTRY, OperatorContext, generate_all
from recipemut.plan.check import mutation_violations, plan_edit_violations
from recipemut.profile.build import Profile, build_profile
from recipemut.recipe.edits import apply_edits
from recipemut.recipe.loader import load_recipe
from recipemut.recipe.model import recipe_from_dict

ROOT = Path(__file__).resolve().parents[2] / "recipes"


@lru_cache(maxsize=4)
def _example(name: str) -> tuple[dict[str, Any], Profile]:
    path = ROOT / name / "recipe.yaml"
    recipe = load_recipe(path)
    spans, _ = read_logs(ROOT / name / "logs.jsonl.gz", recipe=recipe)
    return yaml.safe_load(path.read_text()), build_profile(spans, recipe)


def test_every_operator_declares_its_edits() -> None:
    assert all(spec.edits for spec in REGISTRY.values())


@pytest.mark.parametrize(
    "name",
    ["checkout", pytest.param("media", marks=pytest.mark.slow), pytest.param("ml_inference", marks=pytest.mark.slow)],
)
def test_every_candidate_on_the_examples_passes_the_plan_check(name: str) -> None:
    doc, profile = _example(name)
    ms = generate_all(OperatorContext.build(recipe_from_dict(doc), doc=doc, profile=profile))
    assert {m.operator for m in ms} >= {"eliminate", "substitute", "parallelize", "cache", "hedge"}
    assert {m.id: mutation_violations(doc, m) for m in ms if mutation_violations(doc, m)} == {}


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


def test_the_checkout_plan_composed_as_suggest_makes_it_passes() -> None:
    doc, profile = _example("checkout")
    chosen, current = [], doc
    for mid in CHECKOUT_PLAN:  # each computed on the document the earlier ones left, as suggest does
        (m,) = [m for m in generate_all(OperatorContext.build(recipe_from_dict(current), doc=current,
                                                              profile=profile)) if m.id == mid]
        chosen.append(m)
        current = apply_edits(current, list(m.edits))
    assert plan_edit_violations(doc, chosen) == []
