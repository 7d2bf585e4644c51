"""Attacker pass 7: YAML values the reader cannot construct, import's reasons for YAML limits,
rollback after a hand revert, and history naming a recorded text the recipe holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _apply_helpers import CACHE, PARALLELIZE, RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut.apply.history import read_history
from recipemut.cli import app
from recipemut.errors import LogError, RecipeInvalid
from recipemut.logs.runs.rows import documents
from recipemut.recipe.yamlpos import MAX_NODES, UNREADABLE_CODES, parse_yaml, parse_yaml_documents

ROOT = Path(__file__).resolve().parents[1]
ARGO = ROOT / "tests/realdata/engines/argo/dag-diamond.yaml"
ZIPKIN = ROOT / "recipes/zipkin_simple_db"
ARGO_CI = ROOT / "recipes/argo-ci"
runner = CliRunner()
ENV = {"COLUMNS": "200"}


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=ENV)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _one_error(output: str) -> str:
    assert "Traceback" not in output
    (line,) = [ln for ln in output.splitlines() if ln.startswith("error:") or "[yaml-value]" in ln]
    return line


# ---- 1. `0x_`, `0b_` and other plain scalars YAML 1.1 resolves to a value that does not exist ----------


@pytest.mark.parametrize(
    ("value", "wording"),
    [
        ("0x_", "cannot read value '0x_' (YAML reads it as an integer"),
        ("0b_", "cannot read value '0b_' (YAML reads it as an integer"),
        ("-0x_", "cannot read value '-0x_' (YAML reads it as an integer"),
        ("2001-02-30", "cannot read value '2001-02-30' (YAML reads it as a date"),
        ("!!int abc", "cannot read value 'abc' as !!int"),
        ("!!timestamp abc", "cannot read value 'abc' as !!timestamp"),
        ("!!bool abc", "cannot read value 'abc' as !!bool"),
    ],
)
def test_a_value_yaml_cannot_construct_is_one_finding_at_its_place(value: str, wording: str) -> None:
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml(f"a:\n  b: {value}\n", file="f.yaml")
    (f,) = e.value.findings
    assert (f.line, f.column, f.code) == (2, 6, "yaml-value")
    assert f.message.startswith(wording)


def test_a_recipe_with_0x_is_a_one_line_error(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("apiVersion: recipemut/v1\nkind: Recipe\nname: x\nversion: 0x_\n")
    code, out = _run("validate", str(recipe))
    assert code == 1
    assert f"{recipe}:4:10: cannot read value '0x_'" in out and "[yaml-value]" in out
    assert "Traceback" not in out


def test_an_engine_file_with_0b_is_named_at_its_line_by_import(tmp_path: Path) -> None:
    argo = tmp_path / "argo.yaml"
    at = "  generateName: dag-diamond-\n"
    argo.write_text(ARGO.read_text().replace(at, at + "  labels: {team: 0b_}\n"))
    code, out = _run("import", str(argo))
    assert code == 1
    line = _one_error(out)
    assert f"{argo}:12:18: cannot read value '0b_'" in line and "[yaml-value]" in line


def test_a_mapping_file_with_0x_is_a_one_line_error(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text((ZIPKIN / "mapping.yaml").read_text().replace("min: 500", "min: 0x_"))
    logs = str(ZIPKIN / "trace.json")
    code, out = _run("profile", str(ZIPKIN / "recipe.yaml"), "--logs", logs, "--map", str(mapping))
    assert code == 1
    assert f"{mapping}:27:42: cannot read value '0x_'" in _one_error(out)


def test_a_yaml_run_history_with_0x_is_a_one_line_error(tmp_path: Path) -> None:
    runs = tmp_path / "runs.yaml"
    phase = "workflows.argoproj.io/phase: Succeeded"
    runs.write_text((ARGO_CI / "runs.yaml").read_text().replace(phase, "workflows.argoproj.io/phase: 0x_"))
    code, out = _run("profile", str(ARGO_CI / "workflow.yaml"), "--logs", str(runs), "-q")
    assert code == 1
    assert f"{runs}:13:36: cannot read value '0x_'" in _one_error(out)


def test_a_run_history_is_read_by_the_one_yaml_reader_without_its_cap_on_values(tmp_path: Path) -> None:
    """The history's bytes are capped, not its values: a YAML history past MAX_NODES still reads;
    its other limits hold (an alias bomb is refused at its line, as in a recipe)."""
    body = "".join(f"- {{id: n{i}, a: 1, b: 2}}\n" for i in range(MAX_NODES // 3 + 10))
    docs = list(documents(body.encode(), tmp_path / "h.yaml"))
    assert len(docs[0]) == MAX_NODES // 3 + 10 and docs[0][-1] == {"id": f"n{MAX_NODES // 3 + 9}", "a": 1, "b": 2}
    bomb = "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 6)
    )
    with pytest.raises(LogError) as e:
        list(documents(bomb.encode(), tmp_path / "b.yaml"))
    assert (e.value.line, e.value.code) == (4, "alias-bomb")  # a3: 10 x 1,111 values
    assert list(documents(b"# nothing\n", tmp_path / "e.yaml")) == []  # empty: the caller names it


def test_positions_can_be_left_out_and_the_cap_on_values_lifted() -> None:
    text = "a: [1, 2]\n---\nb: 3\n"
    kept = parse_yaml_documents(text)
    assert kept[0][1][("a", 1)] == (1, 8)
    bare = parse_yaml_documents(text, positions=False, max_nodes=None)
    assert [d for d, _, _ in bare] == [{"a": [1, 2]}, {"b": 3}] and all(p == {} for _, p, _ in bare)
    with pytest.raises(RecipeInvalid, match="more than 3 YAML values"):
        parse_yaml_documents(text, max_nodes=3)


@pytest.mark.parametrize("value", ["._", "-_", "+__", "-._", "._e+1", "0o_", "-0o_", "-0o__"])
def test_text_a_yaml_1_2_reader_takes_for_a_number_without_digits_is_refused_at_validate(value: str) -> None:
    """YAML 1.1 reads these as text, so the recipe validated; ruamel.yaml (YAML 1.2), which suggest and
    apply edit a recipe with, took them for numbers and raised a traceback (IndexError, ValueError)."""
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml(f"a: {value}\n", file="f.yaml")
    (f,) = e.value.findings
    assert (f.line, f.column, f.code) == (1, 4, "yaml-value")
    assert f"cannot read value {value!r} (YAML 1.2 reads it as a number" in f.message
    for fine in ("_", "__", "_1", "-.", "._.", "1e1_", "0_o", "0O_", "'._'"):
        parse_yaml(f"a: {fine}\n")  # text (or a number) to both readers


def test_suggest_on_a_recipe_holding_such_text_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE_TEXT.replace("action: GetCart", "action: ._", 1))  # load_cart: CACHE edits it
    assert "action: ._" in recipe.read_text()
    line = RECIPE_TEXT.split("action: GetCart")[0].count("\n") + 1
    logs = str(ROOT / "recipes/checkout/logs.jsonl.gz")
    plan = str(make_plan(recipe, (CACHE,)))
    for args in (["validate"], ["suggest", "--logs", logs, "-q"], ["apply", "--plan", plan]):
        code, out = _run(args[0], str(recipe), *args[1:])
        assert code == 1 and "Traceback" not in out
        assert f"{recipe}:{line}:" in out and "cannot read value '._' (YAML 1.2 reads it as a number" in out


# ---- 2. import names the YAML limit a file breaks, at its line --------------------------------------------


def _limit_files() -> dict[str, tuple[str, str]]:
    """Argo files breaking one YAML limit each: name -> (text, the code validate gives)."""
    at = "  generateName: dag-diamond-\n"
    t = ARGO.read_text()
    bomb = "  labels:\n    a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"    a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
    )
    return {
        "bomb": (t.replace(at, at + bomb), "alias-bomb"),
        "deep": (t.replace(at, at + "  annotations: {x: " + "[" * 150 + "]" * 150 + "}\n"), "too-deep"),
        "merge": (t.replace(at, at + "  labels: {<<: 5}\n"), "bad-merge"),
        "key": (t.replace(at, at + "  labels: {[a]: 5}\n"), "bad-key"),
        "recursive": (t.replace(at, at + "  labels: &l {a: *l}\n"), "recursive-alias"),
        "value": (t.replace(at, at + "  labels: {a: 0x_}\n"), "yaml-value"),
    }


@pytest.mark.parametrize("name", sorted(_limit_files()))
def test_import_names_the_yaml_limit_as_validate_does(tmp_path: Path, name: str) -> None:
    text, code_ = _limit_files()[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    code, imported = _run("import", str(path))
    assert code == 1
    line = _one_error(imported)
    assert "not a workflow file" not in line and line.endswith(f"[{code_}]") and f"{path}:1" in line
    _, validated = _run("validate", str(path))
    assert line.removeprefix("error: ") in validated


def test_every_code_that_stops_the_yaml_reader_is_in_its_one_list() -> None:
    """The codes import tells apart come from yamlpos's one list: each way the reader stops is in it."""
    stops = {
        "yaml-syntax": "a: [\n",
        "yaml-tag": "a: !!set {x}\n",
        "yaml-value": "a: 0b_\n",
        "bad-value": "a: " + "9" * 200 + "\n",
        "bad-key": "{[a]: 1}\n",
        "bad-merge": "a: {<<: 5}\n",
        "alias-bomb": "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n"
        + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 6)),
        "recursive-alias": "a: &l {b: *l}\n",
        "too-deep": "a: " + "[" * 150 + "]" * 150 + "\n",
        "too-many-nodes": "[" + ",".join(["1"] * (MAX_NODES + 1)) + "]\n",
        "empty-file": "# nothing\n",
    }
    for code, text in stops.items():
        with pytest.raises(RecipeInvalid) as e:
            parse_yaml(text, file="f.yaml")
        assert e.value.findings[0].code == code, (code, e.value.findings)
    assert set(stops) == UNREADABLE_CODES


def test_import_words_the_value_limit_for_a_workflow_file(tmp_path: Path) -> None:
    gha = tmp_path / "ci.yml"
    gha.write_text(
        "on: push\njobs:\n"
        + "".join(f"  j{i}:\n    runs-on: ubuntu-latest\n    steps: [{{run: x}}]\n" for i in range(MAX_NODES // 5))
    )
    code, out = _run("import", str(gha))
    assert code == 1
    line = _one_error(out)
    assert "YAML values; a workflow file is far smaller [too-many-nodes]" in line and "recipe" not in line
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing yet\n")
    assert _one_error(_run("import", str(empty))[1]).endswith("is empty; expected a workflow file [empty-file]")


# ---- 3. rollback after a hand revert never writes the reverted change again ---------------------------


def _applied(tmp_path: Path, *steps: tuple) -> Path:
    """The checkout recipe with each plan of ``steps`` applied in turn (v4 -> v5 -> ...)."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE_TEXT)
    for i, muts in enumerate(steps):
        code, out = _run("apply", str(recipe), "--plan", str(make_plan(recipe, muts, out=tmp_path / f"p{i}.json")))
        assert code == 0, out
    return recipe


def test_rollback_after_a_hand_revert_says_there_is_nothing_to_roll_back(tmp_path: Path) -> None:
    recipe = _applied(tmp_path, (PARALLELIZE, CACHE))
    recipe.write_text(RECIPE_TEXT)  # the user reverts the change by hand (cp, git checkout)
    history = recipe.with_name("r.yaml.history.jsonl").read_bytes()
    for extra in ([], ["--dry-run"], ["--force"]):
        code, out = _run("rollback", str(recipe), *extra)
        assert code == 0
        assert "r.yaml: nothing to roll back: the recipe already holds the text from before entry 1 (version 4)" in out
        assert "wrote" not in out and "recorded history entry" not in out
        assert recipe.read_text() == RECIPE_TEXT  # the reverted change is not written again
        assert recipe.with_name("r.yaml.history.jsonl").read_bytes() == history
    code, out = _run("rollback", str(recipe), "-f", "json")
    doc = json.loads(out)
    assert (code, doc["written"], doc["history_entries"], doc["version"]) == (0, False, [], 4)
    assert doc["reason"].startswith("nothing to roll back: ")
    # an older text still comes back on request, and the next write records the hand revert
    code, out = _run("rollback", str(recipe), "--entry", "1")
    assert code == 0 and "recorded history entry 2 (recover)" in out and "history entry 3" in out
    assert [e.action for e in read_history(recipe)] == ["apply", "recover", "rollback"]


def test_an_older_text_restored_by_hand_is_refused_naming_it(tmp_path: Path) -> None:
    recipe = _applied(tmp_path, (CACHE,), (PARALLELIZE,))
    recipe.write_text(RECIPE_TEXT)  # version 4, from before entry 1: not a side of the last write
    code, out = _run("rollback", str(recipe))
    assert code == 1 and "Traceback" not in out
    assert "restored by hand to the text from before entry 1 (version 4) since history entry 2" in out
    assert "--force" in out and recipe.read_text() == RECIPE_TEXT


# ---- 4. history names the recorded text the recipe holds ------------------------------------------------


def test_history_names_the_recorded_text_a_hand_restore_holds(tmp_path: Path) -> None:
    recipe = _applied(tmp_path, (CACHE,), (PARALLELIZE,))
    v5 = read_history(recipe)[0].text
    cases = [
        (
            RECIPE_TEXT,
            "hand-edited",
            "the recipe holds the text from before entry 1 (version 4), not the last entry's: restored by hand since",
            {"entry": 1, "text": "before", "version": 4},
        ),
        (
            v5,
            "interrupted",
            "the recipe holds the text from before entry 2 (version 5) (an interrupted write, or a "
            "copy restored by hand)",
            {"entry": 2, "text": "before", "version": 5},
        ),
        (RECIPE_TEXT + "# mine\n", "hand-edited", "the recipe matches no recorded text", None),
    ]
    for text, state, said, holds in cases:
        recipe.write_text(text)
        code, out = _run("history", str(recipe))
        assert code == 0 and said in " ".join(out.split()), out
        code, out = _run("history", str(recipe), "-f", "json")
        doc = json.loads(out)
        assert (doc["state"], doc["holds"]) == (state, holds)
