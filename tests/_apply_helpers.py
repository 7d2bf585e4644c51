"""Helpers for the apply/history/rollback tests: recipe text with comments, plans, random edits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256, write_plan
from recipemut.recipe.edits import Edit
from recipes import CHECKOUT_TEXT

#: the commented checkout recipe the apply tests write back (shared: ``tests/recipes.py``)
RECIPE_TEXT = CHECKOUT_TEXT

PARALLELIZE = PlannedMutation(
    "parallelize:load_cart->score_fraud", "parallelize", ("load_cart", "score_fraud"),
    "Run score_fraud beside load_cart: it does not read what load_cart writes.",
    (Edit("set", ("operations", "score_fraud", "after"), []),),
    {"latency_p95_ms": {"delta": -41.0, "ci": [-48.0, -35.0]}}, "improves",
)
CACHE = PlannedMutation(
    "cache:load_cart", "cache", ("load_cart",), "Cache load_cart for 600 s.",
    (Edit("set", ("operations", "load_cart", "cache"), {"ttl_s": 600, "max_entries": 20000, "hit_latency_ms": 1}),),
    {"latency_p95_ms": {"delta": -5.0, "ci": [-7.0, -3.0]}}, "improves",
)


def with_canary(source: Path, out: Path) -> Path:
    """``source`` (a recipe) copied to ``out`` with a canary variant running the same recipe (``share`` 0.2),
    for the tests of ``evaluate`` that need a canary to get as far as reading the logs."""
    doc = yaml.safe_load(source.read_text())
    doc["variants"] = [{"name": "canary", "share": 0.2, "recipe": yaml.safe_load(source.read_text())}]
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def make_plan(recipe: Path, mutations: tuple[PlannedMutation, ...] = (PARALLELIZE, CACHE),
              out: Path | None = None) -> Path:
    """Write a plan for ``recipe``'s current bytes; return its path."""
    p = Plan(PlanRecipe(str(recipe), recipe_sha256(recipe), "checkout", 4), mutations, tuple(m.id for m in mutations))
    out = out or recipe.with_name("plan.json")
    write_plan(p, out)
    return out


_COMMENTS = ("# note", "# TODO: revisit", "#no space", "# ünïcödé ✓", "#   indented words")


@st.composite
def commented_text(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    """YAML text for ``doc`` with random full-line and end-of-line comments and blank lines."""
    base = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=1000, allow_unicode=True)
    out: list[str] = []
    for line in base.splitlines():
        choice = draw(st.integers(0, 9))
        indent = len(line) - len(line.lstrip(" "))
        if choice == 0:
            out.append(" " * indent + draw(st.sampled_from(_COMMENTS)))
        elif choice == 1:
            out.append("")
        if choice == 2 and not line.rstrip().endswith(("|", ">", "|-", ">-")):
            out.append(line + "  " + draw(st.sampled_from(_COMMENTS)))
        else:
            out.append(line)
    if draw(st.booleans()):
        out.insert(0, "# header comment")
    return "\n".join(out) + "\n"


@st.composite
def random_edits(draw: st.DrawFn, doc: dict[str, Any]) -> list[Edit]:
    """A few edits that keep ``doc`` a mapping (they need not keep the recipe semantically valid)."""
    ops = [o["id"] for o in doc["operations"]]
    edits: list[Edit] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 5))
        op = draw(st.sampled_from(ops))
        if kind == 0:
            edits.append(Edit("set", ("version",), draw(st.integers(1, 10_000))))
        elif kind == 1:
            edits.append(Edit("set", ("operations", op, "after"), []))
        elif kind == 2:
            edits.append(Edit("set", ("operations", op, "cache"), {"ttl_s": 60, "max_entries": 100}))
        elif kind == 3:
            edits.append(Edit("set", ("operations", op, "hedge"), {"after_ms": 150, "max_extra": 1}))
        elif kind == 4 and len(ops) > 1:
            edits.append(Edit("remove", ("operations", op)))
            ops.remove(op)
        else:
            edits.append(Edit("set", ("operations", op, "substituted_from"), "Old'Action \"quoted\""))
    return edits


def history_lines(recipe: Path) -> list[dict[str, Any]]:
    """The parsed entries of ``recipe``'s history file."""
    h = recipe.with_name(recipe.name + ".history.jsonl")
    return [json.loads(x) for x in h.read_text().splitlines() if x.strip()]


def recipe_with_plan(tmp_path: Path) -> Path:
    """r.yaml of :data:`RECIPE_TEXT` in ``tmp_path``, with plan.json made from it as it is now."""
    r = tmp_path / "r.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)
    return r
