"""End to end on public engine examples: `suggest -O parallelize` on the definition and a run history
of it writes a plan; `apply` writes it into the engine's own file, changing dependency lines only;
`rollback` gives the bytes back.

The histories are made by ``benchmarks/make_run_history.py`` (seed 17: the step durations of the
engine's real histories, varied), as for the shipped examples; the definitions are Argo's and
Tekton's own examples, whose dependencies are ordering only (no shared volume or workspace).
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.edits import Edit, apply_edits
from recipemut.recipe.engines import import_text

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "realdata" / "engines"

#: (engine, definition, what a changed line may be: a dependency key or one of its items)
EXAMPLES = [
    ("argo", REAL / "argo" / "dag-diamond.yaml", r"[-+] {8}dependencies: \[[\w, -]*\]"),
    ("tekton", REAL / "tekton" / "using-retries-and-retry-count-variables.yaml", r"- {6}(runAfter:|- [\w-]+)"),
]


def _changed(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [d for d in diff if d[:1] in "-+" and not d.startswith(("---", "+++"))]


def _after(document: dict[str, object]) -> dict[str, list[str]]:
    return {str(o["id"]): sorted(o.get("after") or []) for o in document["operations"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("engine", "definition", "line"), EXAMPLES)
def test_suggested_parallelize_plan_changes_only_dependency_lines(
    tmp_path: Path, engine: str, definition: Path, line: str
) -> None:
    wf = tmp_path / definition.name
    shutil.copyfile(definition, wf)
    original = wf.read_text()
    history, plan = tmp_path / "runs.jsonl", tmp_path / "plan.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_run_history.py"), str(definition), "--engine",
                    engine, "--runs", "30", "-o", str(history)], check=True, capture_output=True)
    res = runner.invoke(app, ["suggest", str(wf), "--logs", str(history), "-O", "parallelize", "--out",
                              str(plan), "-q"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    data = json.loads(plan.read_text())
    assert data["plan"], f"suggest found no parallelize plan for {definition}"
    res = runner.invoke(app, ["apply", str(wf), "--plan", str(plan)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    written = wf.read_text()
    changed = _changed(original, written)
    assert changed and all(re.fullmatch(line, c) for c in changed), changed
    assert [c for c in original.splitlines() if c.lstrip().startswith("#")] == [
        c for c in written.splitlines() if c.lstrip().startswith("#")
    ]
    imported, again = import_text(original, file=wf.name), import_text(written, file=wf.name)
    assert imported is not None and again is not None
    chosen = [m for m in data["mutations"] if m["id"] in data["plan"]]
    planned = imported.document
    for m in sorted(chosen, key=lambda m: data["plan"].index(m["id"])):
        planned = apply_edits(planned, [Edit.from_dict(e) for e in m["edits"]])
    assert _after(again.document) == _after(planned)
    res = runner.invoke(app, ["rollback", str(wf)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert wf.read_bytes() == definition.read_bytes()
