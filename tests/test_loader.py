"""Loader: safe reading, YAML positions and duplicate keys, schema findings phrased for humans."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import jsonschema
import pytest
import yaml

from recipemut.errors import InputFileError, RecipeInvalid, said_once
from recipemut.recipe.loader import (
    check_document,
    check_recipe,
    check_text,
    load_recipe,
    load_recipe_text,
    read_document,
    read_text,
    recipe_schema,
)
from recipemut.recipe.model import Recipe
from recipemut.recipe.yamlpos import parse_yaml
from recipes import CHECKOUT_FIXTURE

DATA = Path(__file__).parent / "data" / "recipes"
CHECKOUT = CHECKOUT_FIXTURE

MINIMAL = """\
apiVersion: recipemut/v1
kind: Recipe
name: t
fields: {a: {type: string}, b: {type: object}}
inputs: [a]
outputs: [b]
services: {s: {replicas: 2}}
operations:
  - id: f
    service: s
    action: F
    consumes: [a]
    produces: [b]
"""


def messages(text: str) -> list[str]:
    return [str(f) for f in check_text(text, file="r.yaml")[1]]


# ---- reading files ------------------------------------------------------------------------------


def test_load_recipe_reads_the_fixture() -> None:
    r = load_recipe(CHECKOUT)
    assert isinstance(r, Recipe)
    assert r.name == "checkout" and r.version == 4
    assert r.topo_order == ("load_cart", "price_items", "score_fraud", "charge_card", "send_receipt")
    assert r.source == str(CHECKOUT)
    assert r.position("operations", 2, "after") == (40, 5)
    assert r.dag.edges["price_items", "score_fraud"]["kind"] == "after"


def test_read_document_returns_data_positions_and_text() -> None:
    data, positions, text = read_document(CHECKOUT)
    assert text == CHECKOUT.read_text(encoding="utf-8")
    assert data["operations"][0]["id"] == "load_cart"
    assert positions[("operations", 0)] == (19, 5)
    assert positions[("operations", 0, "consumes", 0)] == (22, 16)
    assert positions[("fields", "cart")] == (11, 3)
    assert positions[()] == (3, 1)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError) as e:
        read_text(tmp_path / "nope.yaml")
    assert str(e.value) == f"{tmp_path / 'nope.yaml'}: no such file"


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="is a directory, not a recipe file"):
        load_recipe(tmp_path)


def test_size_cap_is_checked_before_parsing(tmp_path: Path) -> None:
    p = tmp_path / "big.yaml"
    p.write_text("a: " + "x" * 2000 + "\n")
    with pytest.raises(InputFileError, match=r"file is 2.0 KiB, over the 1 KiB limit") as e:
        read_text(p, max_bytes=1024)
    assert e.value.code == "file-too-large"
    assert read_text(p, max_bytes=4096).startswith("a: x")


def test_binary_garbage_names_the_offset(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputFileError) as e:
        read_text(p)
    assert str(e.value) == f"{p}:3: binary data, not a YAML recipe: NUL byte at offset 8 (line 3)"


def test_non_utf8_names_byte_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "latin1.yaml"
    p.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    p2 = tmp_path / "x.yaml"
    p2.write_bytes(b"a: 1\nname: ok\n  x: \xc3\x28\n")
    with pytest.raises(InputFileError, match=r"not UTF-8 text: byte 0xe9 at offset 9 \(line 1, column 10\)"):
        read_text(p)
    with pytest.raises(InputFileError) as e:
        read_text(p2)
    assert (e.value.line, e.value.column, e.value.code) == (3, 6, "not-utf8")


def test_utf16_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "u16.yaml"
    p.write_bytes(MINIMAL.encode("utf-16"))
    with pytest.raises(InputFileError, match="UTF-16"):
        read_text(p)
    p.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_recipe(p).name == "t"


# ---- YAML ---------------------------------------------------------------------------------------


def test_duplicate_keys_name_both_lines() -> None:
    text = MINIMAL.replace("    action: F\n", "    action: F\n    action: G\n")
    assert messages(text) == [
        "r.yaml:12:5: operations[0]: duplicate key 'action' (first at line 11, again at line 12) [duplicate-key]"
    ]
    with pytest.raises(RecipeInvalid, match="duplicate key 'action'"):
        load_recipe_text(text)


def test_duplicate_top_level_key() -> None:
    [msg] = messages(MINIMAL + "name: again\n")
    assert msg == "r.yaml:14:1: duplicate key 'name' (first at line 3, again at line 14) [duplicate-key]"


def test_alias_bomb_is_stopped() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml("\n".join(lines), file="bomb.yaml")
    [f] = e.value.findings
    assert f.code == "alias-bomb"
    assert "more than 10,000 values" in f.message
    assert str(e.value).startswith("bomb.yaml:")


def test_small_aliases_and_merge_keys_are_fine() -> None:
    text = MINIMAL.replace(
        "services: {s: {replicas: 2}}", "x-defaults: &d {replicas: 2}\nservices:\n  s:\n    <<: *d\n    replicas: 3"
    )
    data, _, findings = parse_yaml(text)
    assert data["services"] == {"s": {"replicas": 3}}
    assert findings == []
    # the helper key is not part of the schema: reported as an unknown key, nothing else
    assert messages(text) == ["r.yaml:7:1: top level: unknown key 'x-defaults' [unknown-key]"]


def test_recursive_alias() -> None:
    with pytest.raises(RecipeInvalid, match="refers to a node that contains it"):
        parse_yaml("a: &a [1, *a]\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "r.yaml: is empty; expected a recipe (apiVersion: recipemut/v1, ...) [empty-file]"),
        ("# only a comment\n", "r.yaml: is empty; expected a recipe (apiVersion: recipemut/v1, ...) [empty-file]"),
        ("---\n", "r.yaml: is empty; expected a recipe (apiVersion: recipemut/v1, ...) [empty-file]"),
        (
            "- a\n- b\n",
            "r.yaml:1:1: the top level is a list (2 items); a recipe is a mapping "
            "(apiVersion: recipemut/v1, kind: Recipe, ...) [not-a-mapping]",
        ),
        (
            "hello\n",
            "r.yaml:1:1: the top level is text ('hello'); a recipe is a mapping "
            "(apiVersion: recipemut/v1, kind: Recipe, ...) [not-a-mapping]",
        ),
        ("a: 1\n---\nb: 2\n", "r.yaml:2:1: has several YAML documents (---); a recipe is one [multiple-documents]"),
        (
            "a: [1, 2\nb: 3\n",
            "r.yaml:2:2: YAML syntax error: did not find expected ',' or ']' "
            "(while parsing a flow sequence at line 1) [yaml-syntax]",
        ),
        (
            "a:\n\tb: 1\n",
            "r.yaml:2:1: YAML syntax error: found character that cannot start any token "
            "(while scanning for the next token); YAML cannot indent with tabs, use spaces [yaml-syntax]",
        ),
        (
            "a: \x07\n",
            "r.yaml:1:4: character U+0007 is not allowed in YAML (control characters are not allowed) [yaml-syntax]",
        ),
        (
            "a: !!python/object:os.system x\n",
            "r.yaml:1:4: cannot read value: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system' [yaml-tag]",
        ),
        ("a: " + "[" * 150 + "]" * 150, "r.yaml:1:103: nested deeper than 100 levels [too-deep]"),
    ],
)
def test_bad_yaml_gives_one_finding(text: str, expected: str) -> None:
    assert messages(text) == [expected]


def test_yaml_12_numbers_and_text_keys() -> None:
    data, _, _ = parse_yaml("a: 1e-4\nb: '1e-4'\non: 1\n1: x\n")
    assert data == {"a": 0.0001, "b": "1e-4", "on": 1, "1": "x"}


def test_positions_after_a_duplicate_key_point_at_the_value_kept() -> None:
    data, pos, _ = parse_yaml("a:\n  b: [x, y]\n  b: 2\n")
    assert data == {"a": {"b": 2}}
    assert pos[("a", "b")] == (3, 3)
    assert ("a", "b", 0) not in pos


# ---- schema -----------------------------------------------------------------------------------


def test_unknown_key_suggests_the_close_match() -> None:
    text = MINIMAL.replace("    consumes: [a]\n", "    consumes: [a]\n    retires: 3\n    deterministc: true\n")
    assert messages(text) == [
        "r.yaml:13:5: operations[0] (f): unknown key 'retires' (did you mean 'retry'?) [unknown-key]",
        "r.yaml:14:5: operations[0] (f): unknown key 'deterministc' (did you mean 'deterministic'?) [unknown-key]",
    ]


def test_unknown_keys_do_not_hide_semantic_findings() -> None:
    text = MINIMAL.replace("    consumes: [a]\n", "    consumes: [a, zz]\n    colour: red\n")
    codes = [f.code for f in check_text(text)[1]]
    assert codes == ["undeclared-field", "unproduced-field", "unknown-key"]


def test_wrong_types_stop_before_semantics_and_explain() -> None:
    text = MINIMAL.replace("    consumes: [a]\n", "    consumes: a\n    deterministic: 'yes'\n    after: [on]\n")
    recipe, findings = check_text(text, file="r.yaml")
    assert recipe is None
    assert [str(f) for f in findings] == [
        "r.yaml:12:5: operations[0] (f).consumes: expected a list, got text ('a') [wrong-type]",
        "r.yaml:13:5: operations[0] (f).deterministic: expected true or false, got text ('yes') [wrong-type]",
        "r.yaml:14:13: operations[0] (f).after[0]: expected text, got a boolean (true); quote it "
        "(YAML reads yes/no/on/off/true/false as booleans) [wrong-type]",
    ]


BROKEN = """\
apiVersion: recipemut/v1
kind: Recipe
name: t
fields: {a: {type: string}, b: {type: string}, c: {type: string}, unused: {}}
inputs: [a]
outputs: [c]
services: {s: {replicas: two}}
operations:
  - id: f
    service: s
    action: F
    consumes: [a, zz]
    produces: [b]
    cache: yes
  - id: g
    service: t
    action: G
    consumes: [b, q]
    produces: [c]
    hedge: {after_ms: fast}
  - id: f
    service: s
    action: H
    consumes: [a]
    produces: [c]
    expected: {latency_ms: {p50: 10, p95: 5}}
constraints:
  keep_order: [[g, f], [f, nosuch]]
"""


def test_structural_errors_do_not_hide_semantic_findings() -> None:
    recipe, findings = check_text(BROKEN, file="r.yaml")
    assert recipe is None
    assert [(f.line, f.code) for f in findings if f.code == "wrong-type"] == [
        (7, "wrong-type"),
        (14, "wrong-type"),
        (20, "wrong-type"),
    ]
    assert [(f.line, f.code) for f in findings if f.code != "wrong-type"] == [
        (4, "unused-field"),
        (12, "undeclared-field"),
        (12, "unproduced-field"),
        (16, "unknown-service"),
        (18, "undeclared-field"),
        (18, "unproduced-field"),
        (21, "duplicate-id"),
        (25, "duplicate-producer"),
        (26, "bad-expected"),
        (28, "keep-order-contradiction"),
        (28, "unknown-keep-order"),
    ]


def test_a_bad_flow_key_keeps_the_per_operation_findings_but_not_the_graph_ones() -> None:
    text = BROKEN.replace("    consumes: [a, zz]\n", "    consumes: a\n")
    codes = [(f.line, f.code) for f in check_text(text, file="r.yaml")[1]]
    assert codes == [
        (7, "wrong-type"),
        (12, "wrong-type"),
        (14, "wrong-type"),
        (16, "unknown-service"),
        (20, "wrong-type"),
        (21, "duplicate-id"),
        (26, "bad-expected"),
        (28, "unknown-keep-order"),
    ]


def test_a_bad_setting_is_not_judged_by_the_rules_that_read_it() -> None:
    text = MINIMAL.replace(
        "    consumes: [a]\n", "    consumes: [a]\n    deterministic: 'yes'\n    cache: {ttl_s: 1, max_entries: 2}\n"
    )
    assert [f.code for f in check_text(text)[1]] == ["wrong-type"]  # no cache-unsafe: deterministic is unknown


def test_an_operation_without_a_readable_id_stops_the_semantic_checks() -> None:
    text = BROKEN.replace("  - id: g\n", "  - id: [g]\n")
    codes = [f.code for f in check_text(text, file="r.yaml")[1]]
    assert codes == ["wrong-type", "wrong-type", "wrong-type", "wrong-type"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "apiVersion: recipemut/v1",
            "apiVersion: v2",
            "r.yaml:1:1: apiVersion: expected 'recipemut/v1', got text ('v2') [bad-value]",
        ),
        ("    action: F\n", "", "r.yaml:9:5: operations[0] (f): missing required key 'action' [missing-key]"),
        (
            "    action: F\n",
            "    action: F\n    side_effects: externl\n",
            "r.yaml:12:5: operations[0] (f).side_effects: text ('externl') is not one of none, idempotent, external "
            "(did you mean 'external'?) [bad-value]",
        ),
        ("{replicas: 2}", "{replicas: 0}", "r.yaml:7:16: services.s.replicas: must be >= 1, got 0 [out-of-range]"),
        (
            "consumes: [a]",
            "consumes: [a, a]",
            "r.yaml:12:19: operations[0] (f).consumes: 'a' is listed twice [duplicate-item]",
        ),
        (
            "fields: {a:",
            "fields: {'my field': {}, a:",
            "r.yaml:4:10: fields: name 'my field' is not an identifier "
            "(letters, digits, '_', '-', '.'; starting with a letter or '_') [bad-name]",
        ),
        (
            "  - id: f\n",
            "  - id: Load Cart\n",
            "r.yaml:9:5: operations[0] (Load Cart).id: 'Load Cart' is not an identifier "
            "(letters, digits, '_', '-', '.'; starting with a letter or '_') [bad-name]",
        ),
        (
            "name: t\n",
            "name: t\nconstraints: {keep_order: [[f]]}\n",
            "r.yaml:4:28: constraints.keep_order[0]: expected a pair [first, second], got 1 item [bad-value]",
        ),
        ("name: t\n", "name: t\nversion: .nan\n", "r.yaml:4:1: version: nan is not a finite number [bad-value]"),
        (
            "name: t\n",
            "name: t\nformats: {json: {}}\n",
            "r.yaml:4:11: formats.json: set at least one of decode_ms_per_mb, encode_ms_per_mb, size_ratio [bad-value]",
        ),
        (
            "name: t\n",
            "name: t\nvariants: [{name: c, share: 1.0, recipe: {}}]\n",
            "r.yaml:4:34: variants[0] (c).recipe: missing required key 'apiVersion' (write `apiVersion: recipemut/v1`) "
            "[missing-key]",
        ),
    ],
)
def test_schema_findings_are_phrased_for_humans(old: str, new: str, expected: str) -> None:
    text = MINIMAL.replace(old, new, 1)
    assert text != MINIMAL
    assert expected in messages(text)


def test_no_operations() -> None:
    text = MINIMAL.split("operations:")[0] + "operations: []\n"
    assert "r.yaml:8:1: operations: a recipe needs at least one operation [no-operations]" in messages(text)


def test_schema_file_is_a_valid_draft_2020_12_schema_and_matches_the_shipped_copy() -> None:
    schema = recipe_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    shipped = Path(__file__).parents[1] / "schemas" / "recipe.schema.json"
    assert json.loads(shipped.read_text()) == schema


def test_schema_knows_every_key_the_model_writes() -> None:
    """Everything mutations write (cache, hedge, substituted_from, format/compression) is accepted."""
    data, positions, _ = read_document(CHECKOUT)
    d = copy.deepcopy(data)
    d["operations"][0]["cache"] = {"ttl_s": 600, "max_entries": 20000, "hit_latency_ms": 1}
    d["operations"][1]["hedge"] = {"after_ms": 150, "max_extra": 1}
    d["operations"][0]["substituted_from"] = "GetCartV1"
    d["fields"]["quote"].update(format="msgpack", compression="zstd")
    d["formats"] = {"msgpack": {"size_ratio": 0.7, "encode_ms_per_mb": 2, "decode_ms_per_mb": 1.5}}
    d["variants"] = [{"name": "canary", "share": 0.1, "recipe": copy.deepcopy(data)}]
    recipe, findings = check_document(d, positions, file="x.yaml")
    assert findings == []
    assert recipe is not None and recipe.ops["load_cart"].cache is not None


# ---- load / check API ---------------------------------------------------------------------------


def test_load_recipe_raises_with_every_error_in_one_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text((DATA / "broken.yaml").read_text())
    with pytest.raises(RecipeInvalid) as e:
        load_recipe(p)
    assert len(e.value.findings) == 4
    assert "\n" not in str(e.value)
    assert str(e.value).endswith("(and 3 more problems; run `recipemut validate`)")


def test_load_recipe_logs_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="recipemut.recipe.loader"):
        r = load_recipe(DATA / "warnings.yaml")
    assert r.name == "warnings"
    assert "unknown-service" in caplog.text


def test_warnings_about_a_text_not_on_disk_do_not_cite_the_file_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p = tmp_path / "r.yaml"
    text = (DATA / "warnings.yaml").read_text()
    p.write_text(text)
    with caplog.at_level(logging.WARNING, logger="recipemut.recipe.loader"):
        load_recipe_text(text, file=str(p))  # the file's own text: file:line:col is right
    [on_disk] = [r.getMessage() for r in caplog.records]
    assert on_disk.startswith(f"{p}:11:5: ") and on_disk.endswith("[unknown-service]")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recipemut.recipe.loader"):
        load_recipe_text("# planned edit\n" + text, file=str(p))  # a dry run's result: not what p holds
    [unwritten] = [r.getMessage() for r in caplog.records]
    assert unwritten.startswith(f"{p} (as it would be written, not the file on disk), line 12: service 'cart'")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recipemut.recipe.loader"):
        load_recipe_text(text, file=str(p), quiet=True)
    assert caplog.records == []


def test_a_command_run_says_each_warning_of_a_recipe_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Within a command run (said_once), the file's warnings are said once however often it is read, and
    the text it would write says only the warnings the file did not: those are the news."""
    p = tmp_path / "r.yaml"
    text = (DATA / "warnings.yaml").read_text()
    p.write_text(text)
    written = "# planned edit\n" + text.replace("service: cart", "service: carts")
    with caplog.at_level(logging.WARNING, logger="recipemut.recipe.loader"), said_once():
        for _ in range(2):  # a check, then the same again under the lock
            load_recipe_text(text, file=str(p))
            load_recipe_text(written, file=str(p))
    said = [r.getMessage() for r in caplog.records]
    assert [m.split(": service ")[1].split(" ")[0] for m in said] == ["'cart'", "'carts'"], said
    assert said[1].startswith(f"{p} (as it would be written, not the file on disk), line 12: "), said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="recipemut.recipe.loader"):  # outside a run: every reading says it
        load_recipe_text(text, file=str(p))
        load_recipe_text(text, file=str(p))
    assert len(caplog.records) == 2


def test_check_recipe_turns_unreadable_files_into_findings(tmp_path: Path) -> None:
    recipe, findings = check_recipe(tmp_path / "missing.yaml")
    assert recipe is None
    assert [(f.code, f.file) for f in findings] == [("missing-file", str(tmp_path / "missing.yaml"))]


def test_loaded_recipe_matches_model_reading_of_plain_yaml() -> None:
    """Differential: our position-tracking reader and PyYAML's safe_load agree on the fixture."""
    data, _, text = read_document(CHECKOUT)
    assert data == yaml.safe_load(text)


def test_too_many_values_are_refused_before_building_them() -> None:
    text = "a: [" + ",".join(["1"] * 250_000) + "]\n"
    with pytest.raises(RecipeInvalid) as e:
        parse_yaml(text, file="flat.yaml")
    [f] = e.value.findings
    assert (f.code, f.line) == ("too-many-nodes", 1)
    assert f.message == "has more than 100,000 YAML values; a recipe is far smaller"


def test_aliases_point_at_their_use_and_merge_lists() -> None:
    text = "a: &a {x: 1}\nb: &b {y: 2, x: 9}\nc:\n  <<: [*a, *b]\n  z: 3\nd: [*a]\n"
    data, pos, findings = parse_yaml(text)
    assert data["c"] == {"z": 3, "x": 1, "y": 2}
    assert data["d"] == [{"x": 1}]
    assert pos[("d", 0)] == (6, 5)
    assert ("d", 0, "x") not in pos  # inside an alias, messages point at the alias
    assert findings == []


def test_undefined_alias() -> None:
    with pytest.raises(RecipeInvalid, match=r"<string>:1:4: alias \*nope names no anchor defined before it"):
        parse_yaml("a: *nope\n")


def test_a_device_is_refused_before_reading() -> None:
    with pytest.raises(InputFileError) as e:
        read_text("/dev/zero", max_bytes=1024)
    assert str(e.value) == "/dev/zero: is a character device, not a recipe file"
