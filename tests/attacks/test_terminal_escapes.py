"""Text from recipes, traces, mappings, plans, histories and file names cannot drive the terminal.

Escape sequences, other control characters, line breaks, bidi overrides and invisible format
characters are shown as visible escapes (``\\x1b``, ``\\n``, ``\\u202e``); rich markup in names
prints literally; every error stays one line; JSON stays JSON; Mermaid and DOT stay parseable.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from _apply_helpers import RECIPE_TEXT, make_plan
from typer.testing import CliRunner

from recipemut import cli
from recipemut.cli import app
from recipemut.errors import Finding, InputFileError, RecipeInvalid, RecipemutError
from recipemut.files.text import console, safe, shown

ROOT = Path(__file__).resolve().parents[2]
ZIPKIN = ROOT / "recipes" / "zipkin_simple_db"

#: clear screen, OSC window title ended by BEL, OSC 8 link, OSC 52 clipboard, bidi override and
#: isolate, zero-width joiner, CR+LF, a C1 CSI, and rich markup
EVIL = (
    "\x1b[2J\x1b]0;pwned\x07\x1b]8;;http://x.test\x1b\\link\x1b]8;;\x1b\\\x1b]52;c;ZXZpbA==\x07"
    "\u202eevil\u2066\u200d\r\n[red]x[/red][link=http://x.test]y\x9b"
)

runner = CliRunner()


def unsafe_chars(text: str) -> set[str]:
    """Characters that must not reach a terminal raw (line breaks between lines are the program's own)."""
    return {c for c in text if not c.isprintable() and c != "\n" and unicodedata.category(c) != "Zs"}


def assert_clean(text: str) -> None:
    bad = unsafe_chars(text)
    assert not bad, f"raw {sorted(map(hex, map(ord, bad)))} in output:\n{text!r}"


@pytest.fixture
def evil_recipe(tmp_path: Path) -> tuple[Path, Path]:
    """The Zipkin example with an operation whose service and action, and the spans that map to it, are evil."""
    text = (ZIPKIN / "recipe.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "service: app_db\n    action: call",
        f"service: {json.dumps('db' + EVIL)}\n    action: {json.dumps('call' + EVIL)}",
    )
    text = text.replace("description: Store", f"description: {json.dumps('Store' + EVIL)} #")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text, encoding="utf-8")
    spans = json.loads((ZIPKIN / "trace.json").read_text(encoding="utf-8"))
    for s in spans:
        if s["name"] == "call":
            s["name"] += EVIL
            s["remoteEndpoint"]["serviceName"] = "db" + EVIL
        s["localEndpoint"]["serviceName"] += EVIL
    trace = tmp_path / "z.json"
    trace.write_text(json.dumps(spans), encoding="utf-8")
    return recipe, trace


# ---- the one function ------------------------------------------------------------------------------


def test_safe_escapes_controls_bidi_and_format_characters_visibly() -> None:
    assert safe("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert safe("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert safe("\x07\x7f\x9b\x00") == "\\x07\\x7f\\x9b\\x00"
    assert safe("".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))) == (
        "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069"
    )
    assert safe("\u200b\u200d\ufeff\u2028\u2029\U000e0041") == "\\u200b\\u200d\\ufeff\\u2028\\u2029\\U000e0041"
    assert safe("x\udc80y") == "x\\udc80y"  # an undecodable byte of a file name (surrogateescape)
    assert safe("café 数据 🚀 a\u00a0b [red]") == "café 数据 🚀 a\u00a0b [red]"
    assert safe("\n", keep="\n") == "\n"
    assert shown("[red]x[/red]\x1b") == "\\[red]x\\[/red]\\x1b"


def test_findings_and_errors_render_on_one_safe_line() -> None:
    f = Finding("a\nb\x1b[2J.yaml", 3, 5, "unknown-service", f"service {EVIL!s} is unknown")
    assert "\n" not in str(f) and not unsafe_chars(str(f))
    assert str(f).startswith("a\\nb\\x1b[2J.yaml:3:5: service ")
    e = InputFileError(f"cannot read\n{EVIL}", file="x\ny.yaml", line=2)
    assert "\n" not in str(e) and not unsafe_chars(str(e))
    assert str(RecipemutError(EVIL)) == safe(EVIL)
    assert not unsafe_chars(str(RecipeInvalid([f, f])))
    assert e.message == f"cannot read\n{EVIL}"  # the structured field keeps the text as it was


def test_a_console_escapes_what_a_renderer_was_given_raw() -> None:
    from rich.table import Table

    out = console(file=open(os.devnull, "w"), force_terminal=True, width=200)  # noqa: SIM115
    with out.capture() as cap:
        t = Table()
        t.add_column("name")
        t.add_row("a" + EVIL.replace("[", "("))
        out.print(t)
        out.print("[bold]ok[/] " + "\x1b[2J\u202e")
    text = re.sub(r"\x1b\[[0-9;]*m", "", cap.get())  # rich's own colours
    assert_clean(text)
    assert "\\x1b[2J" in text and "\\u202e" in text


# ---- the CLI ---------------------------------------------------------------------------------------


def test_validate_shows_evil_names_escaped_and_markup_literally(evil_recipe: tuple[Path, Path]) -> None:
    recipe, _ = evil_recipe
    res = runner.invoke(app, ["validate", str(recipe)])
    assert res.exit_code == 0, res.output
    assert_clean(res.stdout + res.stderr)
    assert "[red]x[/red][link=http://x.test]y" in res.stdout
    assert "\\x1b[2J" in res.stdout and "\\u202e" in res.stdout
    finding = [line for line in res.stdout.splitlines() if "unknown-service" in line]
    lines = recipe.read_text(encoding="utf-8").splitlines()
    where = next(n for n, ln in enumerate(lines, 1) if ln.lstrip().startswith('service: "db'))
    assert len(finding) == 1 and finding[0].startswith(f"{recipe}:{where}:5: ")


def test_validate_json_stays_json_with_every_character_escaped(evil_recipe: tuple[Path, Path]) -> None:
    recipe, _ = evil_recipe
    res = runner.invoke(app, ["validate", str(recipe), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert res.stdout.isascii()  # ensure_ascii: bidi and every other non-ASCII character as \uXXXX
    doc = json.loads(res.stdout)
    assert any(EVIL in f["message"] for r in doc["files"] for f in r["findings"])


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_labels_cannot_break_out_of_mermaid_or_dot(evil_recipe: tuple[Path, Path], fmt: str) -> None:
    recipe, _ = evil_recipe
    res = runner.invoke(app, ["graph", str(recipe), "--format", fmt])
    assert res.exit_code == 0, res.output
    assert_clean(res.stdout + res.stderr)
    node = [line for line in res.stdout.splitlines() if "next_id" in line and "->" not in line]
    assert len(node) == 1, res.stdout
    if fmt == "mermaid":
        assert re.fullmatch(r'  n0\["[^"]*"\]', node[0]), node[0]
    else:
        assert re.fullmatch(r'  "next_id" \[label="(?:[^"\\]|\\.)*"\];', node[0]), node[0]
    assert "\\x1b[2J" in node[0] and "\\u202e" in node[0]


def test_profile_of_an_evil_zipkin_trace(evil_recipe: tuple[Path, Path]) -> None:
    recipe, trace = evil_recipe
    res = runner.invoke(app, ["profile", str(recipe), "--logs", str(trace), "--map", str(ZIPKIN / "mapping.yaml")])
    assert res.exit_code == 0, res.output
    assert_clean(res.stdout + res.stderr)
    notes = [line for line in res.stderr.splitlines() if line.startswith("note: ")]
    assert notes and all("bootifulmeters\\x1b[2J" in n for n in notes), res.stderr
    assert "[red]x[/red]" in res.stderr


def test_an_error_naming_evil_spans_is_one_line(tmp_path: Path) -> None:
    spans = json.loads((ZIPKIN / "trace.json").read_text(encoding="utf-8"))
    for s in spans:  # no span maps to an operation: the error lists them all
        s["name"] += EVIL
        s["localEndpoint"]["serviceName"] += EVIL
    trace = tmp_path / "z.json"
    trace.write_text(json.dumps(spans), encoding="utf-8")
    res = runner.invoke(app, ["profile", str(ZIPKIN / "recipe.yaml"), "--logs", str(trace)])
    assert res.exit_code == 1
    assert_clean(res.stdout + res.stderr)
    errors = [line for line in res.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(errors) == 1 and errors[0].startswith("error: "), res.stderr


def test_a_file_named_with_a_newline_and_escapes(tmp_path: Path) -> None:
    bad = tmp_path / "bad\n[red]name[link=x]\x1b[2J\u202e.yaml"  # no "/" in a file name
    bad.write_text("name: [oops\n", encoding="utf-8")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 1
    assert_clean(res.stdout + res.stderr)
    lines = res.stdout.splitlines()
    assert lines[0].startswith(safe(str(bad)) + ":2:1: ") and lines[0].endswith("[yaml-syntax]"), lines
    missing = runner.invoke(app, ["profile", str(bad), "--logs", str(tmp_path / "no\nsuch\x1b[2J.jsonl")])
    assert missing.exit_code == 1
    assert_clean(missing.stdout + missing.stderr)
    assert len(missing.stderr.splitlines()) == 1, missing.stderr


def test_apply_and_history_of_a_recipe_named_with_escapes(tmp_path: Path) -> None:
    recipe = tmp_path / "r\n[red]x[link=y]\x1b]0;t\x07\u202e.yaml"
    recipe.write_text(RECIPE_TEXT, encoding="utf-8")
    plan = make_plan(recipe)
    res = runner.invoke(app, ["apply", str(recipe), "--plan", str(plan)])
    assert res.exit_code == 0, res.output
    assert_clean(res.stdout + res.stderr)
    hist = runner.invoke(app, ["history", str(recipe)])
    assert hist.exit_code == 0, hist.output
    assert_clean(hist.stdout + hist.stderr)
    assert "[red]x[link=y]" in hist.stdout  # the table's title names the file literally


def test_core_warnings_logged_are_escaped(evil_recipe: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    record = logging.LogRecord("recipemut.recipe.loader", logging.WARNING, __file__, 1, "%s: %s", ("f\ny", EVIL), None)
    assert cli._lowercase_level(record)
    assert not unsafe_chars(record.getMessage()) and "\n" not in record.getMessage()


def test_a_real_process_writes_no_raw_control_character(evil_recipe: tuple[Path, Path]) -> None:
    recipe, trace = evil_recipe
    env = {**os.environ, "RECIPEMUT_STORE": "off", "COLUMNS": "200"}
    for argv in (["graph", str(recipe)], ["profile", str(recipe), "--logs", str(trace)]):
        p = subprocess.run(
            [sys.executable, "-m", "recipemut", *argv], capture_output=True, env=env, timeout=60, check=False
        )
        out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
        assert_clean(out + err)
        assert "Traceback" not in err
        assert all(line.startswith(("warning: ", "error: ", "note: ")) for line in err.splitlines()), err
