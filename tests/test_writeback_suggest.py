"""End to end on the shipped engine examples: `suggest -O parallelize` on the definition and its run
history writes a plan; `apply` writes it into the engine's own file, changing dependency lines only;
`rollback` gives the bytes back."""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.edits import Edit, apply_edits
from recipemut.recipe.engines import import_text

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1] / "recipes"

#: (definition, history, what a changed line may be: a dependency key or one of its items)
EXAMPLES = [
    ("argo-ci/workflow.yaml", "argo-ci/runs.yaml", r"[-+] {12}dependencies:|[-+] {14}- [\w-]+"),
    ("tekton-skaffold-demo/pipeline.yaml", "tekton-skaffold-demo/runs.yaml", r"[-+] {4}runAfter: \[[\w, -]*\]"),
]


def _changed(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [d for d in diff if d[:1] in "-+" and not d.startswith(("---", "+++"))]


def _after(document: dict[str, object]) -> dict[str, list[str]]:
    return {str(o["id"]): sorted(o.get("after") or []) for o in document["operations"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("definition", "history", "line"), EXAMPLES)
def test_suggested_parallelize_plan_changes_only_dependency_lines(
    tmp_path: Path, definition: str, history: str, line: str
) -> None:
    wf = tmp_path / Path(definition).name
    shutil.copyfile(ROOT / definition, wf)
    original = wf.read_text()
    plan = tmp_path / "plan.json"
    res = runner.invoke(app, ["suggest", str(wf), "--logs", str(ROOT / history), "-O", "parallelize", "--out",
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
    assert wf.read_bytes() == (ROOT / definition).read_bytes()
