"""A new user's findings on apply, rollback and stats: a refused write leaves no lock file behind."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT, make_plan, recipe_with_plan
from typer.testing import CliRunner

from recipemut.apply.transaction import apply_plan
from recipemut.cli import app
from recipemut.files.write import lock_path, lock_records
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.plan.planfile import load_plan
from recipemut.recipe.edits import Edit
from recipemut.recipe.loader import load_recipe
from recipes import ROOT

runner = CliRunner()


def _folder(d: Path) -> dict[str, bytes]:
    """Every entry of a folder (names, and the bytes of files), to compare before and after a command."""
    return {p.name: b"<folder>" if p.is_dir() else p.read_bytes() for p in sorted(d.iterdir())}


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return recipe_with_plan(tmp_path)  # plan.json, made from r.yaml as it is now


def _refused(args: list[str], folder: Path, *needles: str) -> None:
    before = _folder(folder)
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    for n in needles:
        assert n in res.output, res.output
    assert _folder(folder) == before  # no r.yaml.lock, nothing else made or changed


# ---- 1. a refused write leaves the folder as it was ---------------------------------------------------


def test_a_stale_plan_refused_leaves_no_lock_file(recipe: Path) -> None:
    r2 = recipe.with_name("r2.yaml")
    r2.write_text(RECIPE_TEXT + "# touched\n")
    _refused(["apply", str(r2), "--plan", str(recipe.with_name("plan.json"))], recipe.parent, "stale plan")


def test_a_plan_for_another_recipe_refused_leaves_no_lock_file(recipe: Path) -> None:
    media = recipe.with_name("media.yaml")
    shutil.copyfile(ROOT / "recipes" / "media" / "recipe.yaml", media)
    _refused(["apply", str(media), "--plan", str(recipe.with_name("plan.json"))], recipe.parent,
             "this plan was made for recipe 'checkout'")


@pytest.mark.parametrize("canary", [[], ["--canary", "0.2"]])
def test_a_read_only_recipe_refused_leaves_no_lock_file(recipe: Path, canary: list[str]) -> None:
    recipe.chmod(0o444)
    try:
        _refused(["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), *canary], recipe.parent,
                 "read-only")
    finally:
        recipe.chmod(0o644)


def test_a_plan_whose_edits_are_refused_leaves_no_lock_file(recipe: Path) -> None:
    # an edit its operator does not make (parallelize removing an operation): refused, nothing written
    bad = replace(PARALLELIZE, edits=(Edit("remove", ("operations", "load_cart")),))
    make_plan(recipe, (bad,))
    _refused(["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))], recipe.parent, "r.yaml")


@pytest.mark.parametrize("how", [[], ["--to", "3"], ["--entry", "1"]])
def test_rollback_of_a_recipe_without_history_leaves_no_lock_file(recipe: Path, how: list[str]) -> None:
    _refused(["rollback", str(recipe), *how], recipe.parent, "r.yaml")


def test_a_dry_run_leaves_no_lock_file(recipe: Path) -> None:
    before = _folder(recipe.parent)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--dry-run"])
    assert res.exit_code == 0 and "dry run" in res.output, res.output
    assert _folder(recipe.parent) == before


def test_a_write_still_takes_the_lock_and_records_its_entry(recipe: Path) -> None:
    assert not lock_path(recipe).exists()
    w = apply_plan(recipe, load_plan(recipe.with_name("plan.json")))
    assert w.written and lock_path(recipe).exists()
    assert lock_records(recipe)["history"].split()[0] == "1"  # the lock keeps the history's last entry


def test_a_refusal_after_the_lock_file_was_removed_by_hand_leaves_none(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    assert runner.invoke(app, ["apply", str(recipe), "--plan", plan]).exit_code == 0
    os.unlink(lock_path(recipe))  # "removing the lock file accepts the history as it is"
    _refused(["apply", str(recipe), "--plan", plan], recipe.parent, "already applied as history entry 1")
    recipe.write_text(recipe.read_text() + "# by hand\n")
    _refused(["rollback", str(recipe)], recipe.parent, "changed by hand")


def test_evaluate_refused_leaves_no_lock_file(recipe: Path, tmp_path: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--canary", "0.2"])
    assert res.exit_code == 0, res.output
    os.unlink(lock_path(recipe))
    logs = tmp_path / "logs" / "worse.jsonl"
    logs.parent.mkdir()
    spans = generate_spans(load_recipe(recipe), 3000, seed=7, variants={"canary": 0.2},
                           treatment={"canary": {"*": 2.0}}, duration_s=3600)
    write_jsonl(spans, logs)
    recipe.chmod(0o444)
    try:
        _refused(["evaluate", str(recipe), "--logs", str(logs)], recipe.parent, "read-only")
    finally:
        recipe.chmod(0o644)


# ---- 2. a rollback of a rollback says it redoes a write ------------------------------------------------


def _run(*args: str) -> str:
    res = runner.invoke(app, list(args), env={"COLUMNS": "400"})  # a sentence on one line (else wrapped at words)
    assert res.exit_code == 0, res.output
    return res.output


def _two_applies(recipe: Path) -> None:
    """Entry 1 applies parallelize (version 4 -> 5), entry 2 applies cache (5 -> 6)."""
    plan = recipe.with_name("plan.json")
    make_plan(recipe, (PARALLELIZE,), out=plan)
    _run("apply", str(recipe), "--plan", str(plan))
    make_plan(recipe, (CACHE,), out=plan)
    _run("apply", str(recipe), "--plan", str(plan))


def test_a_rollback_of_a_rollback_says_it_redoes_the_write_and_how_to_go_further_back(recipe: Path) -> None:
    _two_applies(recipe)
    out = _run("rollback", str(recipe))  # undoes entry 2: no note
    assert "note:" not in out and "version 6 -> 5" in out
    out = _run("rollback", str(recipe))
    assert ("note: the last entry (3) was a rollback: this redoes entry 2 (apply of cache:load_cart, version 6); "
            "use --to 4 to go further back") in out, out
    assert "version 5 -> 6" in out
    out = _run("rollback", str(recipe))  # undoing the redo goes back again
    assert "note: the last entry (4) was a rollback: this undoes entry 2 (apply of cache:load_cart) again, " \
           "restoring version 5" in out, out
    assert "version 6 -> 5" in out and "further back" not in out
    _run("rollback", str(recipe), "--to", "4")  # the advice restores the text before entry 1
    assert recipe.read_text() == RECIPE_TEXT


def test_the_note_after_undoing_the_first_write(recipe: Path) -> None:
    _run("apply", str(recipe), "--plan", str(recipe.with_name("plan.json")))
    _run("rollback", str(recipe))
    out = _run("rollback", str(recipe), "--dry-run")
    assert ("note: the last entry (2) was a rollback: this redoes entry 1 (apply of "
            "parallelize:load_cart->score_fraud, cache:load_cart, version 5); the recipe holds the first recorded "
            "text: nothing is further back") in out, out
    assert recipe.read_text() == RECIPE_TEXT  # a dry run
    data = json.loads(_run("rollback", str(recipe), "--format", "json"))
    assert data["written"] and data["version"] == 5
    assert data["notes"] == ["the last entry (2) was a rollback: this redoes entry 1 (apply of "
                             "parallelize:load_cart->score_fraud, cache:load_cart, version 5); the recipe holds the "
                             "first recorded text: nothing is further back"]


def test_further_back_is_named_by_entry_when_its_version_names_another_text(recipe: Path) -> None:
    plan = recipe.with_name("plan.json")
    make_plan(recipe, (PARALLELIZE,), out=plan)
    _run("apply", str(recipe), "--plan", str(plan))  # entry 1: version 4 -> 5
    applied = recipe.read_text()
    recipe.write_text(applied + "# by hand, version kept\n")
    make_plan(recipe, (CACHE,), out=plan)
    _run("apply", str(recipe), "--plan", str(plan), "--force")  # entry 2 saves the hand edit (5), entry 3 applies
    _run("rollback", str(recipe))  # entry 4: back to the hand edit, version 5
    out = _run("rollback", str(recipe))
    # --to 5 would restore the hand-edited text (the most recent of version 5), not the one entry 1 wrote
    assert "this redoes entry 3 (apply of cache:load_cart, version 6); use --entry 1 to go further back" in out, out
    _run("rollback", str(recipe), "--entry", "1")
    assert recipe.read_text() == applied


def test_further_back_is_not_named_by_a_recover_entry(recipe: Path) -> None:
    """A recover entry records the text found (a write undone by hand), it wrote nothing: the text before
    the recipe's is the one before the write that made it."""
    _two_applies(recipe)  # entry 1: 4 -> 5, entry 2: 5 -> 6
    history = recipe.with_name("r.yaml.history.jsonl")
    before_2 = json.loads(history.read_text().splitlines()[1])["previous_text"]
    recipe.write_text(before_2)  # entry 2 undone by hand
    plan = recipe.with_name("plan.json")
    make_plan(recipe, (CACHE,), out=plan)
    _run("apply", str(recipe), "--plan", str(plan))  # entry 3 recovers (6 -> 5 as found), entry 4 applies (5 -> 7)
    _run("rollback", str(recipe))  # entry 5: back to version 5
    out = _run("rollback", str(recipe))
    assert "this redoes entry 4 (apply of cache:load_cart, version 7); use --to 4 to go further back" in out, out
    _run("rollback", str(recipe), "--to", "4")
    assert recipe.read_text() == RECIPE_TEXT  # further back than version 5 is the text before entry 1


def test_a_rollback_after_evaluate_promoted_and_was_rolled_back_says_it_redoes_the_promote(
    recipe: Path, tmp_path: Path
) -> None:
    _run("apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--canary", "0.2")  # entry 1: 4 -> 5
    logs = tmp_path / "logs" / "better.jsonl"
    logs.parent.mkdir()
    spans = generate_spans(load_recipe(recipe), 5000, seed=7, variants={"canary": 0.2},
                           treatment={"canary": {"*": 1.0}}, duration_s=3600)
    write_jsonl(spans, logs)
    assert "PROMOTE" in _run("evaluate", str(recipe), "--logs", str(logs))  # entry 2: 5 -> 6
    assert "note:" not in _run("rollback", str(recipe))  # entry 3: the promote undone, the canary back
    out = _run("rollback", str(recipe))
    assert "note: the last entry (3) was a rollback: this redoes entry 2 (promote of parallelize:load_cart->" \
           "score_fraud, cache:load_cart, version 6); use --to 4 to go further back" in out, out


# ---- 3. stats: its first line says what its count of recipe versions counts ------------------------------


def _store_of_three_versions(path: Path) -> None:
    """Versions 4 and 5 of checkout profiled; version 6 only seen by suggest; shop 1 profiled."""
    from recipemut.learn.store import Store

    summary = {"requests": 100, "e2e_ms": {"p95": 12.0}}
    with Store.open(path) as s:
        s.record_profile(recipe="checkout", version=4, sha256="a4", summary=summary)
        s.record_profile(recipe="checkout", version=5, sha256="a5", summary=summary)
        s.record_suggestion(recipe="checkout", version=6, sha256="a6", mutation_id="cache:load", operator="cache",
                            verdict="improves", metric="latency_p95_ms", predicted_delta=-20.0,
                            predicted_ci=(-25.0, -15.0), baseline=200.0)
        s.record_profile(recipe="shop", version=1, sha256="b1", summary=summary)


def test_stats_says_how_many_of_the_versions_it_counts_its_table_lists(tmp_path: Path) -> None:
    store = tmp_path / "st.sqlite"
    _store_of_three_versions(store)
    out = _run("stats", "--store", str(store), "--recipe", "checkout")
    first = out.splitlines()[0]
    assert first.endswith("1 simulated mutation, 0 observed effects (one per mutation per canary), "
                          "3 recipe versions seen (2 profiled)"), first
    rows = [line.split()[:2] for line in out.splitlines() if line.startswith("checkout ")]
    assert rows == [["checkout", "4"], ["checkout", "5"]]  # the 2 profiled: the table's rows
    assert _run("stats", "--store", str(store)).splitlines()[0].endswith("4 recipe versions seen (3 profiled)")
    data = json.loads(_run("stats", "--store", str(store), "--recipe", "checkout", "--format", "json"))
    assert data["counts"]["recipe_versions"] == 3 and len(data["profiled_versions"]) == 2


def test_stats_of_a_store_without_profiles_names_no_profiled_count(tmp_path: Path) -> None:
    from recipemut.learn.store import Store

    store = tmp_path / "st.sqlite"
    with Store.open(store) as s:
        s.record_suggestion(recipe="checkout", version=6, sha256="a6", mutation_id="cache:load", operator="cache",
                            verdict="improves", metric="latency_p95_ms", predicted_delta=-20.0,
                            predicted_ci=(-25.0, -15.0), baseline=200.0)
    out = _run("stats", "--store", str(store))
    assert out.splitlines()[0].endswith("(one per mutation per canary), 1 recipe version seen"), out
    assert "profiled recipe versions" not in out


# ---- 2. a check made without the lock is void once a writer took it --------------------------------


def test_a_check_that_races_a_writer_is_run_again_under_the_lock(
    recipe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollback's unlocked check that reads a writer's half-done write must not answer for it (it would
    say "nothing to roll back": the recipe still holds the text from before the writer's entry)."""
    from recipemut.apply import transaction
    from recipemut.apply.history import new_entry
    from recipemut.apply.transaction import rollback

    assert apply_plan(recipe, load_plan(recipe.with_name("plan.json"))).written
    os.unlink(lock_path(recipe))  # the unlocked check runs only while there is no lock file
    real = transaction.read_history
    calls: list[int] = []

    def racing(path: object) -> list[object]:
        calls.append(1)
        entries = list(real(path))  # type: ignore[arg-type]
        if len(calls) == 1:  # another apply meanwhile: it made the lock file and wrote its entry, not yet the recipe
            lock_path(recipe).write_text(f"{os.getpid()}\n")
            now = recipe.read_text()
            entries.append(new_entry(entries[-1], action="apply", previous_text=now, text=now + "# next\n",
                                     version_before=None, version=None))
        return entries

    monkeypatch.setattr(transaction, "read_history", racing)
    w = rollback(recipe)
    assert w.written and len(calls) == 2  # the locked run read the whole history and wrote


def test_a_refusal_that_races_a_writer_is_run_again_under_the_lock(recipe: Path) -> None:
    from recipemut.files.write import unlocked_answer

    def refuse_while_a_writer_starts() -> None:
        lock_path(recipe).write_text("1\n")
        raise ValueError("read a half-done write")

    assert unlocked_answer(recipe, refuse_while_a_writer_starts) is None
    os.unlink(lock_path(recipe))
    with pytest.raises(ValueError):
        unlocked_answer(recipe, lambda: (_ for _ in ()).throw(ValueError("a refusal of its own")))
    assert unlocked_answer(recipe, lambda: "nothing to change") == "nothing to change"
    lock_path(recipe).write_text("1\n")
    assert unlocked_answer(recipe, lambda: "never asked") is None  # a lock file: the locked run decides


# ---- 4. an id with '->' given unquoted ----------------------------------------------------------------------


def test_an_id_cut_by_the_shell_at_its_arrow_is_said_and_the_help_quotes_it(recipe: Path) -> None:
    """``--only parallelize:load_cart->score_fraud`` unquoted: the shell passes ``parallelize:load_cart-`` and
    writes a file named ``score_fraud``; the error says so, and the help's example quotes the id."""
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")),
                              "--only", "parallelize:load_cart-", "--dry-run"])  # fmt: skip
    assert res.exit_code == 1, res.output
    assert ("the shell took the '>' of 'parallelize:load_cart->score_fraud' for a redirection (and wrote a file "
            "named after the rest): quote the id, --only 'parallelize:load_cart->score_fraud'") in res.output
    helped = runner.invoke(app, ["apply", "-h"], env={"COLUMNS": "200"}).output
    assert "--only 'parallelize:lookup_tax->quote_shipping'" in helped, helped


# ---- 5. floats written by recipemut are numbers to YAML 1.1 readers -----------------------------------------


def test_a_canarys_copied_costs_are_numbers_to_a_yaml_1_1_reader(tmp_path: Path) -> None:
    """ruamel wrote 0.00004 as ``4e-05``, which YAML 1.1 (PyYAML, the recipe loader) reads as text."""
    import yaml

    from recipemut.apply.transaction import canary_text

    text = (ROOT / "recipes" / "checkout" / "recipe.yaml").read_text()
    out = canary_text(text, text, 0.2, 5)
    variant = yaml.safe_load(out)["variants"][0]["recipe"]
    costs = [op["cost_per_call_usd"] for op in variant["operations"]]
    assert all(isinstance(c, float) for c in costs), costs
    assert "cost_per_call_usd: 0.00004" in out and "e-05" not in out  # the two copies written alike
    (tmp_path / "x.yaml").write_text(out)
    assert load_recipe(tmp_path / "x.yaml").variants[0].recipe["operations"][0]["cost_per_call_usd"] == 4e-05


def test_evaluate_without_a_canary_says_so_before_reading_the_logs(recipe: Path, tmp_path: Path) -> None:
    """The logs are not read first: a multi-GB log took minutes to reach the one line (here a file of binary
    data, which reading would refuse, shows that its read never came)."""
    not_a_log = tmp_path / "junk.jsonl"
    not_a_log.write_bytes(b"\x00" * 10_000)  # binary data: refused if it were read
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(not_a_log), "--no-act"])
    assert res.exit_code == 1, res.output
    assert "no canary is running (the recipe has no `variants`)" in res.output and "binary" not in res.output


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("1.5", "1.5 is outside (0, 1): a canary takes some of the requests, not none or all (a percentage? "
                "1.5% is 0.015)"),
        ("abc", "'abc' is not a share of requests: write 0.2 or 20% for one in five"),
        ("100%", "100% is outside (0%, 100%): a canary takes some of the requests, not none or all"),
        ("150%", "150% is outside (0%, 100%): a canary takes some of the requests, not none or all"),
    ],
)
def test_canary_takes_a_share_as_a_fraction_or_a_percentage(recipe: Path, given: str, said: str) -> None:
    plan = str(recipe.with_name("plan.json"))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--canary", given, "--dry-run"],
                        env={"COLUMNS": "300"})  # fmt: skip
    assert res.exit_code == 2 and said in " ".join(res.output.replace("│", " ").split()), res.output
    ok = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--canary", "14.3%", "--format", "json"])
    assert ok.exit_code == 0 and "share: 0.143\n" in recipe.read_text(), ok.output  # not 0.14300000000000002


def test_a_version_written_as_a_whole_float_is_that_version(tmp_path: Path) -> None:
    """`version: 4.0` validated as 4 (the loader's int), then apply said `version none -> 1` and wrote
    `version: 1`, and every log of version 4 was warned about as another version's."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE_TEXT.replace("\nversion: 4\n", "\nversion: 4.0\n", 1))
    assert load_recipe(recipe).version == 4
    apply_plan(recipe, load_plan(make_plan(recipe)))
    assert "\nversion: 5\n" in recipe.read_text()
    entry = json.loads((tmp_path / "r.yaml.history.jsonl").read_text().splitlines()[-1])
    assert (entry["version_before"], entry["version"]) == (4, 5)
