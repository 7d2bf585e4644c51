"""Engine files read as recipes take time linear in their size, whatever their shape.

A GitHub Actions matrix of 50 keys by 50 values (50**50 combinations), a million ``${{`` or
``${`` with no closing braces, a ladder of Step Functions Choices without ``Default`` (the ways
to a state double at every rung), a Choice of thousands of rules, thousands of state names
that all map to one operation id: each was a hang or minutes of work before, and is now read in
seconds. Hangs are guarded by a child process with a timeout 20 to 1000 times what the read
takes now; the rest is checked by counting work, not by the clock.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from recipemut.cli import app
from recipemut.recipe.engines import githubactions
from recipemut.recipe.engines.build import WHEN_MAX, delimited
from recipemut.recipe.engines.names import UniqueIds
from recipemut.recipe.loader import load_recipe

runner = CliRunner()
LAMBDA = "arn:aws:lambda:us-east-1:1:function:f"


def _validate_in_child(path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``recipemut validate`` in a child process, killed (and the test failed) past ``timeout``."""
    return subprocess.run(
        [sys.executable, "-m", "recipemut", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _workflow(job: dict[str, Any]) -> dict[str, Any]:
    return {"name": "w", "on": "push", "jobs": {"t": {"runs-on": "ubuntu-latest", "steps": [{"run": "x"}], **job}}}


def test_a_matrix_of_50_keys_by_50_values_is_counted_not_enumerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [0]
    real = itertools.product

    def counting(*lists: Any) -> Any:
        for combo in real(*lists):
            made[0] += 1
            assert made[0] <= 100_000, "the matrix is being enumerated"
            yield combo

    monkeypatch.setattr(githubactions.itertools, "product", counting)
    matrix = {f"k{i}": [f"v{j}" for j in range(50)] for i in range(50)}
    assert githubactions.matrix_size(matrix) == 50**50
    assert githubactions.matrix_size({**matrix, "include": [{"k0": "new"}, {"k0": "v1"}]}) == 50**50 + 1
    f = tmp_path / "wf.yaml"
    f.write_text(yaml.safe_dump(_workflow({"strategy": {"matrix": matrix}})))
    result = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "GitHub Actions runs at most 256 [import-matrix-size]" in " ".join(result.output.split())
    assert made[0] == 0


def test_a_matrix_with_thousands_of_include_and_exclude_entries_is_read(tmp_path: Path) -> None:
    """Each entry was compared with every combination: 64 x 64 values, 9,000 of each took 74 s."""
    matrix: dict[str, Any] = {"a": [f"v{i}" for i in range(64)], "b": [f"w{i}" for i in range(64)]}
    matrix["include"] = [{"a": f"v{i % 64}", "b": f"x{i}"} for i in range(9000)]
    matrix["exclude"] = [{"a": f"v{i % 64}", "b": f"y{i}"} for i in range(9000)]
    f = tmp_path / "wf.yaml"
    f.write_text(yaml.safe_dump(_workflow({"strategy": {"matrix": matrix}})))
    done = _validate_in_child(f, timeout=30)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert githubactions.matrix_size(matrix) == 64 * 64 + 9000


def test_a_small_matrix_is_still_counted_exactly_with_its_excludes() -> None:
    matrix = {"os": ["a", "b"], "py": [1, 2, 3], "exclude": [{"os": "a"}]}
    assert githubactions.matrix_size(matrix) == 3


@pytest.mark.parametrize(
    ("name", "open_", "document"),
    [
        ("wf.yaml", "${{", lambda s: yaml.safe_dump(_workflow({"steps": [{"run": s}]}), width=10**9)),
        (
            "sw.json",
            "${",
            lambda s: json.dumps(
                {
                    "id": "w",
                    "version": "1.0",
                    "specVersion": "0.8",
                    "start": "s",
                    "functions": [{"name": "f", "operation": "http://x#y"}],
                    "states": [
                        {
                            "name": "s",
                            "type": "operation",
                            "actions": [{"functionRef": {"refName": "f", "arguments": {"x": s}}}],
                            "end": True,
                        }
                    ],
                }
            ),
        ),
    ],
)
def test_a_million_unclosed_expressions_are_read_in_linear_time(
    tmp_path: Path, name: str, open_: str, document: Any
) -> None:
    """GitHub Actions ``${{`` and Serverless Workflow ``${`` with no ``}}``: the lazy regex rescanned
    the rest of the text from each one (hours); the scan now stops at the first that has no end."""
    f = tmp_path / name
    f.write_text(document(open_ * 1_000_000))
    done = _validate_in_child(f)
    assert done.returncode == 0, done.stdout + done.stderr


def test_delimited_is_the_lazy_regex() -> None:
    import re

    for text in ["", "${{", "}}${{a}}", "${{a}}${{b}}c}}", "${{ x ${{ y }} }}", "a${{\n}}b${{"]:
        assert delimited(text, "${{", "}}") == re.findall(r"\$\{\{(.*?)\}\}", text, re.DOTALL)


def _ladder(rungs: int, *, default: bool) -> dict[str, Any]:
    states: dict[str, Any] = {}
    for i in range(rungs):
        rules = [{"Variable": "$.x", "NumericEquals": i, "Next": f"A{i}"}]
        if default:
            states[f"C{i}"] = {"Type": "Choice", "Choices": rules, "Default": f"B{i}"}
        else:
            rules.append({"Variable": "$.y", "NumericEquals": i, "Next": f"B{i}"})
            states[f"C{i}"] = {"Type": "Choice", "Choices": rules}
        states[f"A{i}"] = {"Type": "Task", "Resource": LAMBDA, "Next": f"J{i}"}
        states[f"B{i}"] = {"Type": "Task", "Resource": LAMBDA, "Next": f"J{i}"}
        states[f"J{i}"] = {"Type": "Pass", "Next": f"C{i + 1}" if i + 1 < rungs else "End"}
    states["End"] = {"Type": "Succeed"}
    return {"StartAt": "C0", "States": states}


def test_a_ladder_of_400_choices_without_default_is_read(tmp_path: Path) -> None:
    """2**400 ways to the last state: it took past 60 s at 14 rungs; now about 3 s for 400."""
    f = tmp_path / "ladder.asl.json"
    f.write_text(json.dumps(_ladder(400, default=False)))
    done = _validate_in_child(f, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    recipe = load_recipe(f)
    ops = {op.id: op for op in recipe.operations}
    whens = [op.when for op in ops.values() if op.when]
    assert whens and all(len(w) <= WHEN_MAX for w in whens)
    # a state after every rung still runs on a condition (never dropped to "always")
    assert ops["A399"].when is not None


def test_a_ladder_with_defaults_still_merges_to_always() -> None:
    from recipemut.recipe.engines import import_text

    imported = import_text(json.dumps(_ladder(30, default=True)), file="l.json")
    assert imported is not None
    ops = {op["id"]: op for op in imported.document["operations"]}
    assert "when" in ops["A29"] and "when" not in ops["J29"]


def test_a_choice_of_5000_rules_gives_a_valid_recipe(tmp_path: Path) -> None:
    """The state reached by the first rule and by ``Default`` had a ``when`` of 100,000 characters,
    which the schema refused (the recipe was invalid); every ``when`` is cut at 500 now."""
    rules = [{"Variable": "$.x", "NumericEquals": i, "Next": f"T{i}"} for i in range(5000)]
    states: dict[str, Any] = {"C": {"Type": "Choice", "Choices": rules, "Default": "T0"}}
    states |= {f"T{i}": {"Type": "Task", "Resource": LAMBDA, "Next": "E"} for i in range(5000)}
    states["E"] = {"Type": "Succeed"}
    f = tmp_path / "wide.asl.json"
    f.write_text(json.dumps({"StartAt": "C", "States": states}))
    result = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output[-3000:]
    when = {op.id: op for op in load_recipe(f).operations}["T0"].when
    assert when is not None and len(when) <= WHEN_MAX and when.startswith("($.x == 0) or (not (")


class _CountingSet(set[str]):
    probes = 0

    def __contains__(self, item: object) -> bool:
        _CountingSet.probes += 1
        return super().__contains__(item)


def test_ids_of_names_that_collide_are_handed_out_in_linear_work() -> None:
    """15,000 Step Functions states whose names all map to one id took 64 s (each new one probed
    every suffix taken before it)."""
    ids = UniqueIds()
    ids.taken = _CountingSet()
    _CountingSet.probes = 0
    got = [ids.take("a") for _ in range(5000)]
    assert len(set(got)) == 5000 and got[:3] == ["a", "a_2", "a_3"]
    assert _CountingSet.probes <= 3 * 5000


def test_colliding_state_names_keep_distinct_ids() -> None:
    from recipemut.recipe.engines import import_text

    names = ["a_2", "a b", "a!", "a_b", "a"]
    states = {n: {"Type": "Task", "Resource": LAMBDA, "Next": names[i + 1]} for i, n in enumerate(names[:-1])}
    states["a"] = {"Type": "Task", "Resource": LAMBDA, "End": True}
    imported = import_text(json.dumps({"StartAt": "a_2", "States": states}), file="s.json")
    assert imported is not None
    ids = [op["id"] for op in imported.document["operations"]]
    assert ids == ["a_2", "a_b", "a_", "a_b_2", "a"]


def test_github_jobs_whose_ids_collide_with_a_made_up_one_stay_distinct(tmp_path: Path) -> None:
    """Job ``x_2``, then ``x``, then ``"x "`` (its id is ``x`` too): the third was named
    ``x_<number of jobs so far>`` = ``x_2``, the first job's id, and the recipe was invalid; the
    warning said 'another job has the name None'."""
    f = tmp_path / "wf.yaml"
    jobs = {k: {"runs-on": "u", "steps": [{"run": "x"}]} for k in ("x_2", "x", "x ")}
    f.write_text(yaml.safe_dump({"on": "push", "jobs": jobs}, sort_keys=False))
    result = runner.invoke(app, ["validate", str(f)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "None" not in result.output
    assert "its operation id 'x' is another job's; its operation is 'x_3'" in " ".join(result.output.split())
