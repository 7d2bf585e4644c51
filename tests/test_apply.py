"""apply / canary / rollback transactions: what is written, what is refused, and that nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import yaml
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT, commented_text, history_lines
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import recipe_docs

from recipemut.apply.history import history_path, read_history
from recipemut.apply.transaction import UnsavedEdit, apply_plan, rollback
from recipemut.errors import HistoryError, InputFileError, MutationError, PlanError
from recipemut.plan.planfile import Plan, PlannedMutation, PlanRecipe, recipe_sha256
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import check_text, load_recipe
from recipemut.recipe.yamlio import apply_edits_to_text


def _plan(recipe: Path, *muts: PlannedMutation) -> Plan:
    muts = muts or (PARALLELIZE, CACHE)
    return Plan(PlanRecipe(str(recipe), recipe_sha256(recipe)), muts, tuple(m.id for m in muts))


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    return r


def test_apply_writes_edits_bumps_version_and_records_history(recipe: Path) -> None:
    res = apply_plan(recipe, _plan(recipe))
    text = recipe.read_text()
    assert res.written and res.version_before == 4 and res.version == 5
    assert "version: 5" in text and "    after: []\n" in text and "      ttl_s: 600\n" in text
    assert "# fraud scoring waits for the cart out of habit" in text and '"checkout"          # quoted' in text
    (e,) = history_lines(recipe)
    assert e["action"] == "apply" and e["previous_text"] == RECIPE_TEXT and e["text"] == text
    assert [m["id"] for m in e["mutations"]] == [PARALLELIZE.id, CACHE.id]
    assert e["mutations"][0]["predicted"]["latency_p95_ms"]["delta"] == -41.0
    assert e["sha256_before"] == recipe_sha256(RECIPE_TEXT.encode()) and e["sha256_after"] == recipe_sha256(recipe)
    assert "@" in e["who"]["user"] and e["who"]["tool"].startswith("recipemut")


def test_only_applies_the_chosen_mutation(recipe: Path) -> None:
    apply_plan(recipe, _plan(recipe), only=[CACHE.id])
    text = recipe.read_text()
    assert "ttl_s: 600" in text and "after: [load_cart]" in text


def test_stale_plan_is_refused_naming_both_hashes(recipe: Path) -> None:
    plan = _plan(recipe)
    recipe.write_text(RECIPE_TEXT.replace("replicas: 4", "replicas: 5"))
    before = recipe.read_bytes()
    with pytest.raises(PlanError) as ei:
        apply_plan(recipe, plan)
    assert plan.recipe.sha256 in str(ei.value) and recipe_sha256(before) in str(ei.value)
    assert recipe.read_bytes() == before and not history_path(recipe).exists()


def test_dry_run_writes_nothing(recipe: Path) -> None:
    res = apply_plan(recipe, _plan(recipe), dry_run=True)
    assert not res.written and "-    after: [load_cart]\n+    after: []" in res.diff
    assert recipe.read_text() == RECIPE_TEXT
    assert sorted(p.name for p in recipe.parent.iterdir()) == ["checkout.yaml"]


def test_invalid_result_is_refused_and_nothing_written(recipe: Path) -> None:
    bad = PlannedMutation("eliminate:score_fraud", "eliminate", ("score_fraud",), "Drop it.",
                          (Edit("remove", ("operations", "score_fraud")),))
    with pytest.raises(MutationError, match=r"would make the recipe invalid.*risk"):
        apply_plan(recipe, _plan(recipe, bad))
    assert recipe.read_text() == RECIPE_TEXT and not history_path(recipe).exists()


def test_rollback_restores_byte_for_byte_and_can_itself_be_undone(recipe: Path) -> None:
    apply_plan(recipe, _plan(recipe))
    applied = recipe.read_bytes()
    res = rollback(recipe)
    assert recipe.read_text() == RECIPE_TEXT and res.version == 4
    rollback(recipe)
    assert recipe.read_bytes() == applied
    assert [e["action"] for e in history_lines(recipe)] == ["apply", "rollback", "rollback"]


def test_versions_never_repeat_and_rollback_to_a_version(recipe: Path) -> None:
    apply_plan(recipe, _plan(recipe, PARALLELIZE))  # v5
    v5 = recipe.read_bytes()
    rollback(recipe)  # back to v4
    apply_plan(recipe, _plan(recipe, CACHE))  # v6, not a second v5
    assert "version: 6" in recipe.read_text()
    rollback(recipe, to=5)
    assert recipe.read_bytes() == v5
    rollback(recipe, to=4)
    assert recipe.read_text() == RECIPE_TEXT
    with pytest.raises(HistoryError, match="version 9 is not in the history"):
        rollback(recipe, to=9)


def test_rollback_without_history_is_a_clear_error(recipe: Path) -> None:
    with pytest.raises(InputFileError, match="no history"):
        rollback(recipe)


def test_hand_edit_is_refused_then_saved_with_force(recipe: Path) -> None:
    apply_plan(recipe, _plan(recipe, PARALLELIZE))
    edited = recipe.read_text().replace("replicas: 4", "replicas: 6  # by hand")
    recipe.write_text(edited)
    with pytest.raises(UnsavedEdit, match=r"changed by hand since history entry 1.*--force"):
        rollback(recipe)
    with pytest.raises(UnsavedEdit):
        apply_plan(recipe, _plan(recipe, CACHE))
    assert recipe.read_text() == edited
    rollback(recipe, force=True)
    actions = [e["action"] for e in history_lines(recipe)]
    assert actions == ["apply", "hand-edit", "rollback"]
    assert history_lines(recipe)[1]["text"] == edited
    rollback(recipe)  # undo the rollback: the hand edit comes back from the history
    assert recipe.read_text() == edited


def test_corrupt_history_stops_every_write(recipe: Path) -> None:
    apply_plan(recipe, _plan(recipe, PARALLELIZE))
    hp = history_path(recipe)
    hp.write_text(hp.read_text().replace('"apply"', '"applz"'))
    before = recipe.read_bytes()
    for op in (lambda: rollback(recipe, force=True), lambda: apply_plan(recipe, _plan(recipe, CACHE), force=True)):
        with pytest.raises(HistoryError) as ei:
            op()
        assert ei.value.line == 1
        assert recipe.read_bytes() == before


def test_interrupted_write_is_recorded_as_found(recipe: Path) -> None:
    apply_plan(recipe, _plan(recipe, PARALLELIZE))
    recipe.write_text(RECIPE_TEXT)  # as if the recipe replace had not happened after the history write
    apply_plan(recipe, _plan(recipe, CACHE))
    assert [e["action"] for e in history_lines(recipe)] == ["apply", "recover", "apply"]
    assert read_history(recipe)[-1].previous_text == RECIPE_TEXT


def test_canary_writes_variants_keeping_the_primary(recipe: Path) -> None:
    res = apply_plan(recipe, _plan(recipe), canary=0.1)
    doc = yaml.safe_load(recipe.read_text())
    assert res.action == "canary" and doc["version"] == 5
    (v,) = doc["variants"]
    assert v["name"] == "canary" and v["share"] == 0.1
    primary = yaml.safe_load(RECIPE_TEXT)
    assert {k: x for k, x in doc.items() if k not in ("variants", "version")} == {
        k: x for k, x in primary.items() if k != "version"}
    ops = {o["id"]: o for o in v["recipe"]["operations"]}
    assert ops["score_fraud"].get("after", []) == [] and ops["load_cart"]["cache"]["ttl_s"] == 600
    assert history_lines(recipe)[-1]["details"] == {"variant": "canary", "share": 0.1}
    with pytest.raises(MutationError, match="already running"):
        apply_plan(recipe, _plan(recipe), canary=0.1)


# ---- property: apply then rollback gives the original bytes ------------------------------------


@st.composite
def _valid_case(draw: st.DrawFn) -> tuple[str, list[Edit]]:
    doc: dict[str, Any] = draw(recipe_docs(max_ops=6))
    text = draw(commented_text(doc))
    ops = [o["id"] for o in doc["operations"]]
    edits: list[Edit] = []
    for op in draw(st.lists(st.sampled_from(ops), min_size=1, max_size=3, unique=True)):
        kind = draw(st.sampled_from(["after", "hedge", "describe", "cache"]))
        if kind == "after":
            edits.append(Edit("set", ("operations", op, "after"), []))
        elif kind == "hedge":
            edits.append(Edit("set", ("operations", op, "hedge"), {"after_ms": 120, "max_extra": 1}))
        elif kind == "cache":
            edits.append(Edit("set", ("operations", op, "cache"), {"ttl_s": 30, "max_entries": 10}))
        else:
            edits.append(Edit("set", ("operations", op, "description"), "changed # not a comment"))
    return text, edits


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(_valid_case())
def test_apply_then_rollback_is_byte_identical(tmp_path_factory: pytest.TempPathFactory,
                                               case: tuple[str, list[Edit]]) -> None:
    text, edits = case
    recipe, findings = check_text(apply_edits_to_text(text, edits), file="r.yaml")
    assume(recipe is not None and not any(f.severity == "error" for f in findings))
    r = tmp_path_factory.mktemp("prop") / "r.yaml"
    r.write_bytes(text.encode())
    edits = [e for e in edits if e.path != ("version",)]  # apply sets the version; a plan may not
    assume(edits)
    targets = tuple(sorted({str(e.path[1]) for e in edits}))  # what the edits touch, declared
    m = PlannedMutation("m", "test", targets, "random edits", tuple(edits))
    try:
        with patch("recipemut.apply.transaction.check_plan_edits"):  # edits of no operator: this tests the writing only
            apply_plan(r, Plan(PlanRecipe(str(r), recipe_sha256(r)), (m,), ("m",)))
    except MutationError as e:
        assume(e.code != "constraint-violated")  # a frozen / keep_order pair the random edits broke
        raise
    applied = r.read_bytes()
    assert applied != text.encode()
    rollback(r)
    assert r.read_bytes() == text.encode()
    rollback(r)
    assert r.read_bytes() == applied
    assert json.loads(history_path(r).read_text().splitlines()[-1])["seq"] == 3


# ---- a plan is checked against its own declared scope and the recipe's constraints ---------------

_FROZEN_TEXT = RECIPE_TEXT.replace("# end of recipe\n", "constraints:\n  frozen: [charge]\n  keep_order:\n"
                                   "    - [load_cart, score_fraud]\n# end of recipe\n")


def test_an_edit_outside_the_mutations_targets_is_refused(recipe: Path) -> None:
    recipe.write_text(_FROZEN_TEXT)
    forged = PlannedMutation("eliminate:score_fraud", "eliminate", ("score_fraud",), "Drop it.",
                             (Edit("set", ("operations", "charge", "service"), "fraud"),))
    with pytest.raises(PlanError) as ei:
        apply_plan(recipe, _plan(recipe, forged))
    msg = str(ei.value)
    assert "'eliminate:score_fraud'" in msg and "operations.charge.service" in msg and "outside its targets" in msg
    assert recipe.read_text() == _FROZEN_TEXT and not history_path(recipe).exists()


def test_a_frozen_operation_or_keep_order_pair_in_scope_is_still_refused(recipe: Path) -> None:
    text = _FROZEN_TEXT.replace("frozen: [charge]", "frozen: [load_cart]")
    recipe.write_text(text)
    touch_frozen = PlannedMutation("cache:load_cart", "cache", ("load_cart",), "Cache the cart.", (
        Edit("set", ("operations", "load_cart", "cache"), {"ttl_s": 60, "max_entries": 10}),))
    with pytest.raises(MutationError, match=r"constraints: frozen operation 'load_cart' was changed"):
        apply_plan(recipe, _plan(recipe, touch_frozen))
    with pytest.raises(MutationError, match=r"keep_order \[load_cart, score_fraud\]: 'score_fraud' no longer waits"):
        apply_plan(recipe, _plan(recipe, PARALLELIZE))
    assert recipe.read_text() == text and not history_path(recipe).exists()


def test_parallelize_dropping_its_successors_after_entry_is_in_scope(recipe: Path) -> None:
    text = RECIPE_TEXT.replace("    after: [load_cart]\n", "")
    text = text.replace("    side_effects: external\n", "    side_effects: external\n    after: [score_fraud]\n")
    recipe.write_text(text)
    fine = PlannedMutation("parallelize:score_fraud->charge", "parallelize", ("score_fraud", "charge"), "Rewire.",
                           (Edit("remove", ("operations", "charge", "after", "score_fraud")),))
    apply_plan(recipe, _plan(recipe, fine))
    assert load_recipe(recipe).ops["charge"].after == ()


def test_a_symlinked_recipe_stays_a_link_and_shares_the_targets_history(tmp_path: Path) -> None:
    real = tmp_path / "repo"
    real.mkdir()
    target = real / "checkout.yaml"
    target.write_text(RECIPE_TEXT)
    link = tmp_path / "checkout.yaml"
    link.symlink_to(target)
    apply_plan(link, _plan(link))
    assert link.is_symlink() and "ttl_s: 600" in target.read_text()
    assert history_path(link) == history_path(target) == real / "checkout.yaml.history.jsonl"
    assert [e.action for e in read_history(target)] == ["apply"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout.yaml", "repo"]
    rollback(target)  # through the real path: the same history
    assert link.is_symlink() and link.read_text() == RECIPE_TEXT


