"""Invariants of every operator on random valid recipes (tests/strategies.py)."""

from __future__ import annotations

import networkx as nx
from hypothesis import HealthCheck, given, settings
from strategies import recipe_docs

from recipemut.mutate.operators import REGISTRY, OperatorContext, generate_all
from recipemut.recipe.constraints import check_structure
from recipemut.recipe.model import Recipe, recipe_from_dict

BY_CONSTRUCTION = ("parallelize", "reorder", "substitute", "eliminate")


def _data_dependencies_hold(r: Recipe) -> list[str]:
    """Independent check: acyclic, and every consumed field is an input or produced by an ancestor."""
    g = nx.DiGraph()
    g.add_nodes_from(op.id for op in r.operations)
    producer = {f: op.id for op in r.operations for f in op.produces}
    for op in r.operations:
        for f in op.consumes:
            if f in producer and producer[f] != op.id:
                g.add_edge(producer[f], op.id)
        for d in op.after:
            g.add_edge(d, op.id)
    if not nx.is_directed_acyclic_graph(g):
        return ["cycle"]
    bad = []
    for op in r.operations:
        for f in op.consumes:
            if f in r.inputs:
                continue
            if f not in producer or producer[f] not in nx.ancestors(g, op.id):
                bad.append(f"{op.id} consumes {f}")
    bad += [f"output {f}" for f in r.outputs if f not in producer and f not in r.inputs]
    return bad


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=recipe_docs(max_ops=10))
def test_structural_operators_are_valid_by_construction(doc: dict) -> None:
    recipe = recipe_from_dict(doc)
    ctx = OperatorContext.build(recipe, doc=doc)
    assert check_structure(recipe, recipe) == []
    for m in generate_all(ctx, BY_CONSTRUCTION):
        assert m.operator in REGISTRY
        assert m.id.startswith(m.operator + ":")
        assert check_structure(recipe, m.recipe) == [], (m.id, m.edits)
        assert _data_dependencies_hold(m.recipe) == [], m.id
        # the edits are self-contained: they rebuild the same recipe from the same document
        assert m.recipe.operations == recipe_from_dict(_apply(doc, m)).operations


def _apply(doc: dict, m) -> dict:  # type: ignore[no-untyped-def]
    from recipemut.recipe.edits import apply_edits

    return apply_edits(doc, m.edits)


@settings(max_examples=60, deadline=None)
@given(doc=recipe_docs(max_ops=8))
def test_accepted_mutations_keep_data_dependencies_and_acyclicity(doc: dict) -> None:
    """Whatever an operator proposes, check_structure accepts only recipes keeping every dependency."""
    recipe = recipe_from_dict(doc)
    for m in generate_all(OperatorContext.build(recipe, doc=doc)):
        if check_structure(recipe, m.recipe) == []:
            assert _data_dependencies_hold(m.recipe) == []


@settings(max_examples=60, deadline=None)
@given(doc=recipe_docs(max_ops=8))
def test_parallelize_and_reorder_only_touch_after_edges(doc: dict) -> None:
    recipe = recipe_from_dict(doc)
    ctx = OperatorContext.build(recipe, doc=doc)
    for m in generate_all(ctx, ("parallelize", "reorder")):
        assert all(e.path[0] == "operations" and e.path[2] == "after" for e in m.edits), m.edits
        # data edges are untouched
        before = {(u, v) for u, v, k in recipe.dag.edges(data="kind") if k != "after"}
        after = {(u, v) for u, v, k in m.recipe.dag.edges(data="kind") if k != "after"}
        assert before == after


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=recipe_docs(max_ops=8, alternatives=True))
def test_profile_operators_on_generated_logs(doc: dict) -> None:
    """With logs generated for the recipe, every candidate of every operator (profile-driven ones
    included) is structurally valid and keeps every data dependency."""
    from recipemut.loggen import generate_spans
    from recipemut.profile.build import build_profile

    recipe = recipe_from_dict(doc)
    spans = generate_spans(recipe, 150, seed=1, duration_s=3600)
    profile = build_profile(spans, recipe)
    ctx = OperatorContext.build(recipe, doc=doc, profile=profile)
    for m in generate_all(ctx):
        assert check_structure(recipe, m.recipe) == [], m.id
        assert _data_dependencies_hold(m.recipe) == []
