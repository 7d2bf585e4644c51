"""Run histories (Argo, Step Functions, GitHub Actions) of any shape give spans or one error line.

A value of the wrong type anywhere in a history (a number for an Argo Retry node's
``children``, a list for a node's ``phase`` or ``type`` or an event's ``type``) was a
``TypeError`` traceback; the readers now read such values as absent, and a shape no reader
foresaw is one ``LogError`` naming the file and the history's kind, as for engine definitions.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.errors import LogError, RecipemutError
from recipemut.logs import runs
from recipemut.logs.runs import read_table
from recipemut.recipe.loader import load_recipe

ROOT = Path(__file__).resolve().parents[2] / "recipes"
SOURCES = {
    "argo": (ROOT / "argo-ci" / "runs.yaml", ROOT / "argo-ci" / "workflow.yaml"),
    "stepfunctions": (ROOT / "sfn-checkout" / "runs.jsonl", ROOT / "sfn-checkout" / "definition.asl.json"),
    "github-actions": (ROOT / "gha-flask-publish" / "runs.jsonl", ROOT / "gha-flask-publish" / "workflow.yml"),
}
WRONG: list[Any] = [5, -1, 1e308, "x", "", None, [1, 2], {"a": 1}, True, [[[]]], {"a": {"b": [1]}}, 0]
runner = CliRunner()


def _first_document(fmt: str) -> Any:
    text = SOURCES[fmt][0].read_text()
    if SOURCES[fmt][0].suffix == ".jsonl":
        return json.loads(text.splitlines()[0])
    return yaml.safe_load(text)


def _argo_run() -> dict[str, Any]:
    return copy.deepcopy(_first_document("argo")["items"][0])


def _profile(tmp_path: Path, fmt: str, doc: Any) -> Any:
    logs = tmp_path / "runs.json"
    logs.write_text(json.dumps(doc))
    return runner.invoke(app, ["profile", str(SOURCES[fmt][1]), "--logs", str(logs), "-q"], env={"COLUMNS": "200"})


@pytest.mark.parametrize(
    ("key", "value"),
    [("children", 5), ("phase", ["Succeeded"]), ("type", ["Pod"])],
)
def test_an_argo_node_with_a_wrong_type_is_read(tmp_path: Path, key: str, value: Any) -> None:
    wf = _argo_run()
    node = next(iter(n for n in wf["status"]["nodes"].values() if n.get("type") == "Pod"))
    node[key] = value
    if key == "children":
        node["type"] = "Retry"
    result = _profile(tmp_path, "argo", wf)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1) and "Traceback" not in result.output


def test_a_step_functions_event_type_that_is_a_list_is_read(tmp_path: Path) -> None:
    doc = _first_document("stepfunctions")
    doc["events"][-1]["type"] = ["ExecutionSucceeded"]
    result = _profile(tmp_path, "stepfunctions", doc)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output


def test_a_shape_no_reader_foresaw_is_one_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unforeseen(docs: list[Any], rows: Any) -> None:
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(runs.argo, "collect", unforeseen)
    logs = tmp_path / "runs.json"
    logs.write_text(json.dumps(_argo_run()))
    with pytest.raises(LogError) as err:
        read_table(logs, "argo", recipe=None)
    assert str(logs) in str(err.value) or err.value.file == str(logs)
    assert "could not read this Argo run history (TypeError" in str(err.value)
    result = runner.invoke(app, ["profile", str(SOURCES["argo"][1]), "--logs", str(logs)], env={"COLUMNS": "200"})
    assert result.exit_code == 1 and "Traceback" not in result.output


def _paths(x: Any, p: tuple[Any, ...] = ()) -> Any:
    yield p
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, (*p, k))
    elif isinstance(x, list):
        for i, v in enumerate(x[:3]):
            yield from _paths(v, (*p, i))


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_wrong_types_anywhere_in_a_history_end_in_spans_or_one_error(tmp_path: Path, fmt: str) -> None:
    """Seeded: each trial swaps one to three values of the example's first run for a wrong type
    (the seed found a TypeError in the Argo and the Step Functions reader)."""
    recipe = load_recipe(SOURCES[fmt][1])
    doc = _first_document(fmt)
    paths = [p for p in _paths(doc) if p]
    rnd = random.Random(1)
    for trial in range(300):
        d = copy.deepcopy(doc)
        for _ in range(rnd.randint(1, 3)):
            *up, last = rnd.choice(paths)
            holder = d
            try:
                for k in up:
                    holder = holder[k]
                holder[last] = copy.deepcopy(rnd.choice(WRONG))
            except (KeyError, IndexError, TypeError):
                pass  # an earlier swap replaced a parent of this path
        f = tmp_path / f"{trial}.json"
        f.write_text(json.dumps(d))
        with contextlib.suppress(RecipemutError):  # anything else fails the test
            read_table(f, fmt, recipe=recipe)
