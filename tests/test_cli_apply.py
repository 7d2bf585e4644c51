"""CLI: apply, rollback, history and evaluate through typer's runner, and one real subprocess."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.apply.history import history_path
from recipemut.cli import app
from recipemut.loggen import generate_spans, write_jsonl
from recipemut.recipe.loader import load_recipe

runner = CliRunner()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT)
    make_plan(r)
    return r


def test_apply_dry_run_then_apply_then_history_then_rollback(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "+    after: []" in res.output and "dry run, nothing written" in res.output
    assert recipe.read_text() == RECIPE_TEXT

    res = runner.invoke(app, ["apply", str(recipe), "--plan", plan, "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["written"] and out["version"] == 5 and out["history_entries"] == [1]

    res = runner.invoke(app, ["history", str(recipe), "--format", "json"])
    assert res.exit_code == 0, res.output
    h = json.loads(res.output)
    assert h["state"] == "recorded" and h["entries"][0]["action"] == "apply" and "text" not in h["entries"][0]

    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 0, res.output
    assert "chain verified (1 entry);" in res.output

    res = runner.invoke(app, ["rollback", str(recipe)])
    assert res.exit_code == 0, res.output
    assert recipe.read_text() == RECIPE_TEXT


def test_stale_plan_is_one_line_exit_1(recipe: Path) -> None:
    recipe.write_text(RECIPE_TEXT + "# touched\n")
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))])
    assert res.exit_code == 1, res.output
    assert "stale plan" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_bad_plan_file_and_corrupt_history_are_one_line_errors(recipe: Path) -> None:
    bad = recipe.with_name("bad.json")
    bad.write_text('{"planVersion": 2}\n')
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(bad)])
    assert res.exit_code == 1 and f"{bad}:1:" in res.output, res.output
    history_path(recipe).write_text("{torn")
    res = runner.invoke(app, ["history", str(recipe)])
    assert res.exit_code == 1 and "truncated" in res.output and "Traceback" not in res.output, res.output


def test_evaluate_exit_codes(recipe: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--canary", "0.2"])
    assert res.exit_code == 0, res.output
    rec = load_recipe(recipe)
    logs = {}
    for name, n, factor in (("worse", 3000, 2.0), ("better", 5000, 1.0), ("few", 150, 1.0)):
        logs[name] = tmp_path / f"{name}.jsonl"
        spans = generate_spans(rec, n, seed=7, variants={"canary": 0.2}, treatment={"canary": {"*": factor}},
                               duration_s=3600)
        write_jsonl(spans, logs[name])
    for name, code in (("worse", 3), ("better", 0), ("few", 4)):
        res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs[name]), "--no-act", "--format", "json"])
        assert res.exit_code == code, res.output
        assert json.loads(res.output)["decision"] == {3: "rollback", 0: "promote", 4: "hold"}[code]
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs["worse"])])
    assert res.exit_code == 3, res.output
    assert "ROLLBACK" in res.output and recipe.read_text() == RECIPE_TEXT
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs["worse"]), "-t", "latency_p95=3"])
    assert res.exit_code == 1, res.output  # no canary any more


def test_real_subprocess_refuses_a_plan_applied_twice_in_one_line(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    assert runner.invoke(app, ["apply", str(recipe), "--plan", plan]).exit_code == 0
    applied = recipe.read_bytes()
    p = subprocess.run([sys.executable, "-m", "recipemut", "apply", str(recipe), "--plan", plan],
                       capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    assert p.stderr.startswith("error: ") and len(p.stderr.strip().splitlines()) == 1
    assert "this plan was already applied as history entry 1 (version 5)" in p.stderr
    assert p.stdout == "" and recipe.read_bytes() == applied


# ---- unreadable recipes: the loader's one-line error, never a traceback ------------------------------


def _one_line_error(res: object, *needles: str) -> None:
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 1, out  # type: ignore[attr-defined]
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    for n in needles:
        assert n in out, out


def test_evaluate_a_directory_or_binary_recipe_is_a_one_line_error(tmp_path: Path) -> None:
    logs = tmp_path / "l.jsonl"
    logs.write_text("")
    d = tmp_path / "adir"
    d.mkdir()
    _one_line_error(runner.invoke(app, ["evaluate", str(d), "--logs", str(logs)]), "adir", "is a directory")
    b = tmp_path / "bin.yaml"
    b.write_bytes(b"name: x\n\xff\xfe\x00junk")
    _one_line_error(runner.invoke(app, ["evaluate", str(b), "--logs", str(logs)]), "bin.yaml:2:", "NUL byte")
    b.write_bytes(b"name: x\n\xff\xfejunk\n")
    _one_line_error(runner.invoke(app, ["evaluate", str(b), "--logs", str(logs)]), "bin.yaml:2:1", "not UTF-8")


def test_apply_to_a_non_utf8_recipe_is_a_one_line_error(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    recipe.write_bytes(RECIPE_TEXT.encode() + b"# \xff\n")
    _one_line_error(runner.invoke(app, ["apply", str(recipe), "--plan", plan]), "checkout.yaml:", "not UTF-8")


def test_rollback_force_over_a_binary_hand_edit_saves_it_and_restores(recipe: Path) -> None:
    plan = str(recipe.with_name("plan.json"))
    assert runner.invoke(app, ["apply", str(recipe), "--plan", plan]).exit_code == 0
    applied = recipe.read_bytes()
    garbage = b"\xff\xfe\x00 not a recipe \x80\n"
    recipe.write_bytes(garbage)
    res = runner.invoke(app, ["rollback", str(recipe)])
    assert res.exit_code == 1 and "--force" in res.output and "Traceback" not in res.output, res.output
    res = runner.invoke(app, ["rollback", str(recipe), "--force"])
    assert res.exit_code == 0, res.output
    assert recipe.read_bytes() == applied  # the hand edit is undone: the last recorded text is back
    from recipemut.apply.history import encode, read_history

    saved = read_history(recipe)[-2]
    assert saved.action == "hand-edit" and encode(saved.text) == garbage  # and the garbage is kept, exactly


def test_history_of_a_binary_or_empty_recipe_without_history_is_a_one_line_error(tmp_path: Path) -> None:
    b = tmp_path / "bin.yaml"
    b.write_bytes(b"\x00\x01\x02")
    _one_line_error(runner.invoke(app, ["history", str(b)]), "bin.yaml:1", "binary")
    e = tmp_path / "empty.yaml"
    e.write_bytes(b"")
    _one_line_error(runner.invoke(app, ["history", str(e)]), "empty.yaml", "empty file")
    _one_line_error(runner.invoke(app, ["history", str(tmp_path)]), "is a directory")


def test_history_of_a_binary_recipe_with_history_shows_it_with_a_warning(recipe: Path) -> None:
    assert runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))]).exit_code == 0
    recipe.write_bytes(b"\x00\x01")
    res = runner.invoke(app, ["history", str(recipe), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert "warning:" in res.stderr and "binary" in res.stderr
    assert json.loads(res.stdout)["state"] == "hand-edited"


# ---- evaluate reads logs like every other command ---------------------------------------------------


def _canary_recipe(recipe: Path) -> None:
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--canary", "0.2"])
    assert res.exit_code == 0, res.output


def test_evaluate_warns_about_bad_log_lines_and_strict_fails_on_them(recipe: Path, tmp_path: Path) -> None:
    _canary_recipe(recipe)
    spans = generate_spans(load_recipe(recipe), 150, seed=3, variants={"canary": 0.2}, duration_s=600)
    logs = tmp_path / "l.jsonl"
    write_jsonl(spans, logs)
    with logs.open("a") as fh:
        fh.write("{garbage\n")
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--no-act"])
    assert res.exit_code == 4, res.output
    assert "warning:" in res.stderr and "rejected" in res.stderr, res.stderr
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--no-act", "--strict"])
    assert res.exit_code == 1 and "l.jsonl" in res.output and "Traceback" not in res.output, res.output


def test_evaluate_without_canary_spans_names_the_files_and_the_variants_seen(recipe: Path, tmp_path: Path) -> None:
    _canary_recipe(recipe)
    logs = tmp_path / "primary-only.jsonl"
    plain = tmp_path / "plain.yaml"  # the recipe before the canary: no variants, every span is 'control'
    plain.write_text(RECIPE_TEXT)
    write_jsonl(generate_spans(load_recipe(plain), 50, seed=3, duration_s=600), logs)
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--no-act"])
    assert res.exit_code == 1, res.output
    assert "primary-only.jsonl: no span of variant 'canary' of recipe 'checkout'" in res.output, res.output
    assert "variants in the logs: 'control'" in res.output, res.output


def test_evaluate_on_logs_of_another_recipe_says_so(recipe: Path, tmp_path: Path) -> None:
    _canary_recipe(recipe)
    other = tmp_path / "other.yaml"
    other.write_text(RECIPE_TEXT.replace('name: "checkout"', "name: media_ingest"))
    logs = tmp_path / "media.jsonl"
    write_jsonl(generate_spans(load_recipe(other), 50, seed=3, variants={"canary": 0.2}, duration_s=600), logs)
    res = runner.invoke(app, ["evaluate", str(recipe), "--logs", str(logs), "--no-act"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "media.jsonl" in res.output and "'checkout'" in res.output and "media_ingest" in res.output, res.output


# ---- every recorded text is reachable, and a rollback says what it undid -----------------------------


def test_a_hand_edit_keeping_the_version_is_reachable_by_entry_and_the_rollback_says_what_it_undid(
    recipe: Path,
) -> None:
    assert runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))]).exit_code == 0
    applied = recipe.read_text()
    edited = applied + "# my hand edit\n"  # still version 5
    recipe.write_text(edited)
    res = runner.invoke(app, ["rollback", str(recipe), "--force"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # on a terminal (COLUMNS set) the line wraps at words
    assert "undo entry 2 (hand-edit), restoring the text before it (version 5)" in said, res.output
    assert recipe.read_text() == applied
    res = runner.invoke(app, ["rollback", str(recipe), "--to", "5"])  # the most recent text of version 5
    assert res.exit_code == 0 and recipe.read_text() == applied, res.output
    said = " ".join(res.output.split())
    assert "version 5 names 2 different recorded texts" in said and "--entry N" in said, res.output
    res = runner.invoke(app, ["rollback", str(recipe), "--entry", "2"])
    assert res.exit_code == 0, res.output
    assert recipe.read_text() == edited
    assert "restore the text written by entry 2 (hand-edit, version 5)" in " ".join(res.output.split()), res.output


def test_rollback_to_an_unknown_version_or_entry_names_the_file(recipe: Path) -> None:
    assert runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json"))]).exit_code == 0
    res = runner.invoke(app, ["rollback", str(recipe), "--to", "99"])
    assert res.exit_code == 1 and f"{recipe}: version 99 is not in the history (recorded versions: 4, 5)" in res.output
    res = runner.invoke(app, ["rollback", str(recipe), "--entry", "9"])
    assert res.exit_code == 1 and f"{recipe}: history entry 9 does not exist (entries 1..1" in res.output, res.output
    res = runner.invoke(app, ["rollback", str(recipe), "--entry", "1", "--to", "4"])
    assert res.exit_code == 1 and "not both" in res.output, res.output


# ---- messages ---------------------------------------------------------------------------------------


def test_a_plan_of_another_recipe_says_whose_it_is(recipe: Path, tmp_path: Path) -> None:
    other = tmp_path / "media.yaml"
    other.write_text(RECIPE_TEXT.replace('name: "checkout"', "name: media_ingest"))
    plan = make_plan(other, out=tmp_path / "media-plan.json")
    doc = json.loads(plan.read_text())
    doc["recipe"]["name"] = "media_ingest"  # make_plan names every plan's recipe 'checkout'
    plan.write_text(json.dumps(doc))
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan)])
    assert res.exit_code == 1, res.output
    assert f"this plan was made for recipe 'media_ingest' ({other}), not 'checkout'" in res.output, res.output
    assert "stale" not in res.output


@pytest.mark.parametrize("share", ["0", "1", "2"])
def test_canary_share_outside_0_1_is_a_usage_error_naming_the_option(recipe: Path, share: str) -> None:
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(recipe.with_name("plan.json")), "--canary", share])
    assert res.exit_code == 2, res.output
    assert "--canary" in res.output and "outside (0, 1)" in res.output, res.output
    assert not history_path(recipe).exists()


def test_history_texts_needs_json(recipe: Path) -> None:
    res = runner.invoke(app, ["history", str(recipe), "--texts"])
    assert res.exit_code == 2 and "--texts" in res.output and "--format json" in res.output, res.output
    assert runner.invoke(app, ["history", str(recipe), "--texts", "--format", "json"]).exit_code == 0


@pytest.mark.parametrize("extra", [["--dry-run"], [], ["--canary", "0.2"]])
def test_apply_says_each_warning_about_the_recipe_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: list[str]
) -> None:
    """apply read the recipe on disk and the text it writes, in a check and again under the lock: a recipe
    with no `services:` said each [unknown-service] warning six times (twice of the file, four times of the
    text as it would be written). Each is said once, of the file on disk, where the two say the same."""
    r = tmp_path / "checkout.yaml"
    r.write_text(RECIPE_TEXT.split("services:")[0])
    make_plan(r)
    with caplog.at_level(logging.WARNING):  # the CLI prints core warnings as "warning: ..." on stderr
        res = runner.invoke(app, ["apply", str(r), "--plan", str(r.with_name("plan.json")), *extra])
    assert res.exit_code == 0, res.output
    said = [x.getMessage() for x in caplog.records]
    primary = [line for line in said if "variants[0]" not in line]
    assert [line.split("service ")[1].split(" ")[0] for line in primary] == ["'cart'", "'fraud'", "'payments'"], said
    assert all(line.startswith(f"{r}:") and line.endswith("[unknown-service]") for line in primary), said
    variant = [line for line in said if "variants[0]" in line]  # the canary's own recipe: its warnings, each once
    assert len(variant) == (3 if extra == ["--canary", "0.2"] else 0), said
    assert len(set(variant)) == len(variant), said
