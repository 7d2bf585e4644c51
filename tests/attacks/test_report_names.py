"""``recipemut report`` on an engine file: names cannot inject markup, and nothing but one line reaches stderr.

A Step Functions state named with HTML, a script, an SVG ``onload``, a CDATA end, a comment end
and a bidi override, and a ``Comment`` holding the same, appear in the page only escaped (the
operation id normalises the name; the page's CSP forbids scripts anyway). A history of one
short window gave a forecast panel of one point, on which matplotlib printed a ``UserWarning``
with its own source line to stderr.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app

ROOT = Path(__file__).resolve().parents[2] / "recipes" / "sfn-checkout"
INJECTION = "\"'><img src=x onerror=alert(1)><script>alert(2)</script>]]>--><svg/onload=alert(3)>\u202e"
STATE = "Third Party Payment Service HTTPS Endpoint"
runner = CliRunner()


def _report(tmp_path: Path, definition: str, runs: str) -> tuple[str, list[warnings.WarningMessage]]:
    (tmp_path / "def.asl.json").write_text(definition)
    (tmp_path / "runs.jsonl").write_text(runs)
    out = tmp_path / "out.html"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(
            app,
            ["report", str(tmp_path / "def.asl.json"), "--logs", str(tmp_path / "runs.jsonl"), "-o", str(out)],
            env={"COLUMNS": "200"},
        )
    assert result.exit_code == 0, result.output
    return out.read_text(), list(caught)


def test_engine_names_and_comments_are_escaped_in_the_page(tmp_path: Path) -> None:
    escaped = json.dumps(STATE + INJECTION)[1:-1]
    definition = json.loads((ROOT / "definition.asl.json").read_text().replace(STATE, escaped))
    definition["Comment"] = INJECTION
    page, _ = _report(tmp_path, json.dumps(definition), (ROOT / "runs.jsonl").read_text().replace(STATE, escaped))
    assert not re.search(r"<script|<img|<svg/|onerror=|onload=|\u202e", page, re.I)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_a_history_of_one_window_draws_without_a_matplotlib_warning(tmp_path: Path) -> None:
    page, caught = _report(tmp_path, (ROOT / "definition.asl.json").read_text(), (ROOT / "runs.jsonl").read_text())
    assert "<svg" in page
    assert [str(w.message) for w in caught if "xlim" in str(w.message)] == []


@pytest.mark.parametrize("target", ["definition", "runs", "link", "hardlink"])
def test_report_out_over_an_input_or_through_a_link_is_refused_before_any_work(tmp_path: Path, target: str) -> None:
    definition = tmp_path / "def.asl.json"
    definition.write_bytes((ROOT / "definition.asl.json").read_bytes())
    logs = tmp_path / "runs.jsonl"
    logs.write_bytes((ROOT / "runs.jsonl").read_bytes())
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    out = {"definition": definition, "runs": logs, "link": tmp_path / "l.html", "hardlink": tmp_path / "h.html"}[target]
    if target == "link":
        out.symlink_to(victim)
    elif target == "hardlink":
        os.link(definition, out)
    before = {p: p.read_bytes() for p in (definition, logs, victim)}
    result = runner.invoke(
        app, ["report", str(definition), "--logs", str(logs), "-o", str(out)], env={"COLUMNS": "200"}
    )
    if out.suffix != ".html":  # the definition or the log by its own name: not a report's name, a usage error
        assert result.exit_code == 2 and "the report is an HTML page" in result.output, result.output
    else:
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1 and "--out" in result.output
    assert {p: p.read_bytes() for p in before} == before
