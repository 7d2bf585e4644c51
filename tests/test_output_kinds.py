"""An output path that holds a file of another kind (a log, notes) is refused before any work;
one of the kind the command writes (the previous run's plan, page, graph, chart, recipe) is replaced."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.files.kinds import GRAPH, PAGE, PLAN, PNG, RECIPE, SVG, looks_like

ROOT = Path(__file__).resolve().parents[1]
CHECKOUT = ROOT / "recipes" / "checkout"
ARGO = ROOT / "recipes" / "argo-ci"
runner = CliRunner()
WIDE = {"COLUMNS": "200", "RECIPEMUT_STORE": "off"}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for f in ("recipe.yaml", "logs.jsonl.gz"):
        shutil.copy(CHECKOUT / f, tmp_path / f)
    return tmp_path


def _commands(w: Path, out: Path) -> dict[str, list[str]]:
    recipe, logs = str(w / "recipe.yaml"), str(w / "logs.jsonl.gz")
    return {
        "graph": ["graph", recipe, "-o", str(out)],
        "suggest": ["suggest", recipe, "--logs", logs, "--out", str(out)],
        "report": ["report", recipe, "--logs", logs, "-o", str(out)],
        "import": ["import", str(ARGO / "workflow.yaml"), "-o", str(out)],
        "forecast": ["forecast", recipe, "--logs", logs, "--plot", str(out)],
    }


@pytest.mark.parametrize("command", ["graph", "suggest", "report", "import", "forecast"])
@pytest.mark.parametrize("victim", ["gzip-log", "notes"])
def test_a_file_of_another_kind_is_never_replaced(work: Path, command: str, victim: str) -> None:
    suffix = {"forecast": ".png", "report": ".html"}.get(command, ".txt")
    out = work / f"victim{suffix}"
    data = gzip.compress(b'{"request_id": "r1"}\n') if victim == "gzip-log" else b"meeting notes: keep\n"
    out.write_bytes(data)
    res = runner.invoke(app, _commands(work, out)[command], env=WIDE)
    assert res.exit_code == 1, res.output
    assert "nothing was written" in res.output and "Traceback" not in res.output
    assert ("gzip data" if victim == "gzip-log" else 'text (it starts "meeting notes: keep")') in res.output
    assert out.read_bytes() == data


def test_the_previous_output_of_the_same_kind_is_replaced(work: Path) -> None:
    g = work / "g.mmd"
    g.write_text("flowchart TD\n  old\n")
    assert runner.invoke(app, ["graph", str(work / "recipe.yaml"), "-o", str(g)], env=WIDE).exit_code == 0
    assert "load_cart" in g.read_text()
    r = work / "r.yaml"
    assert runner.invoke(app, ["import", str(ARGO / "workflow.yaml"), "-o", str(r)], env=WIDE).exit_code == 0
    first = r.read_text()
    assert runner.invoke(app, ["import", str(ARGO / "workflow.yaml"), "-o", str(r)], env=WIDE).exit_code == 0
    assert r.read_text() == first
    empty = work / "empty.txt"  # what mktemp makes: nothing to lose
    empty.touch()
    assert runner.invoke(app, ["graph", str(work / "recipe.yaml"), "-o", str(empty)], env=WIDE).exit_code == 0


@pytest.mark.parametrize(
    ("kind", "head", "expected"),
    [
        (PLAN, b'{\n  "planVersion": 1,\n', True),
        (PLAN, b'{"request_id": "a"}\n', False),
        (PAGE, b"  <!DOCTYPE html>\n<html>", True),
        (PAGE, b"<p>hi</p>", False),
        (GRAPH, b"digraph \"x\" {", True),
        (GRAPH, b"flowchart TD\n", True),
        (GRAPH, b"graphite metrics export\n", False),
        (GRAPH, b"%% my notes\n", False),
        (PNG, b"\x89PNG\r\n\x1a\n", True),
        (SVG, b"<?xml version='1.0'?>\n<svg", True),
        (SVG, b"\x89PNG\r\n\x1a\n", False),
        (RECIPE, b"name: shop\nversion: 1\noperations:\n  a: {}\n", True),
        (RECIPE, b"name: notes\n", False),
    ],
    ids=["plan", "log-not-plan", "page", "fragment-not-page", "dot", "mermaid", "graphite-notes", "percent-notes",
         "png", "svg", "png-not-svg", "recipe", "yaml-not-recipe"],
)
def test_kinds(kind: object, head: bytes, expected: bool) -> None:
    assert kind.matches(head) is expected  # type: ignore[attr-defined]


def test_looks_like_names_what_a_user_would_recognise() -> None:
    assert looks_like(b"\x28\xb5\x2f\xfd\x00") == "zstd data"
    assert looks_like(b'{"request_id": "r", "op": "a"}\n') == "a span log (JSONL)"
    assert looks_like(b"\xff\xfe\x00\x01") == "binary data"
    got = looks_like(b"\x1b[31mred")  # a terminal escape is shown, never sent
    assert "\x1b" not in got and got.startswith('text (it starts "') and "31mred" in got, got


def test_utf8_text_cut_mid_character_by_the_head_is_still_text() -> None:
    """The first 4,096 bytes may end inside a character: still text, not binary data."""
    got = looks_like(("notes: " + "é" * 3000).encode())
    assert got.startswith('text (it starts "notes: é'), got


def test_zeros_are_binary_data_not_text() -> None:
    """A sparse file of zeros was called text and its NUL bytes printed escaped, 300 characters of them."""
    assert looks_like(b"\x00" * 8192) == "binary data"
