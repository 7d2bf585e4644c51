"""Argo ``{{...}}`` and Tekton ``$(...)`` references are found in time linear in the text.

``refs`` scanned them with ``\\{\\{\\s*=?\\s*([^{}]+?)\\s*\\}\\}`` (and the same for ``$(...)``),
which backtracks over a run of spaces after an opening with no closing: 20,000 spaces took 0.7 s,
40,000 2.9 s, and a 2 MB parameter value of spaces (within the 5 MiB recipe cap) hours.
``refs.enclosed`` scans each stretch of text once; it finds what the regexes found
(:func:`test_the_linear_scan_finds_what_the_regexes_found`).
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from recipemut.recipe.engines.refs import argo_refs, enclosed, tekton_refs

SPACES = 400_000  # ~80 s with the quadratic regex; well under a second when linear

ARGO: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"name": "w"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {
                            "name": "a",
                            "template": "t",
                            "arguments": {"parameters": [{"name": "p", "value": "{{x" + " " * SPACES}]},
                        }
                    ]
                },
            },
            {"name": "t", "container": {"image": "alpine"}},
        ],
    },
}

TEKTON: dict[str, Any] = {
    "apiVersion": "tekton.dev/v1",
    "kind": "Pipeline",
    "metadata": {"name": "p"},
    "spec": {
        "tasks": [{"name": "a", "taskRef": {"name": "t"}, "params": [{"name": "p", "value": "$(x" + " " * SPACES}]}]
    },
}


@pytest.mark.parametrize(("name", "document"), [("argo.yaml", ARGO), ("tekton.yaml", TEKTON)])
def test_an_unclosed_reference_followed_by_spaces_is_read_in_linear_time(
    tmp_path: Path, name: str, document: dict[str, Any]
) -> None:
    f = tmp_path / name
    f.write_text(yaml.safe_dump(document, width=10**9))
    done = subprocess.run(
        [sys.executable, "-m", "recipemut", "validate", str(f)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


#: the regexes the scan replaced: the oracle for what it finds
OLD_ARGO = re.compile(r"\{\{\s*=?\s*([^{}]+?)\s*\}\}")
OLD_TEKTON = re.compile(r"\$\(\s*([^()]+?)\s*\)")
WORD = re.compile(r"[A-Za-z_][\w.\-]*")


def _words(pattern: re.Pattern[str], text: str) -> list[str]:
    return [w for m in pattern.finditer(text) for w in WORD.findall(m.group(1))]


@pytest.mark.parametrize(
    ("open_", "close", "old", "alphabet"),
    [("{{", "}}", OLD_ARGO, "{}$() =a.\n"), ("$(", ")", OLD_TEKTON, "{}$() =a.\n")],
)
def test_the_linear_scan_finds_what_the_regexes_found(
    open_: str, close: str, old: re.Pattern[str], alphabet: str
) -> None:
    inner = re.compile("[{}]" if open_ == "{{" else "[()]")
    rng = random.Random(19)
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))
        got = [w for inside in enclosed(text, open_, close, inner) for w in WORD.findall(inside)]
        assert got == _words(old, text), text


def test_references_in_awkward_places_are_the_ones_argo_and_tekton_mean() -> None:
    assert argo_refs("{{x {{tasks.a.outputs.result}} {{{workflow.parameters.p}}") == [
        argo_refs("{{tasks.a.outputs.result}}")[0],
        argo_refs("{{workflow.parameters.p}}")[0],
    ]
    assert argo_refs("{{tasks.a}b.outputs.result}}") == []
    assert tekton_refs("$(params.a$(params.b) $() $(tasks.t.results.r)") == [
        tekton_refs("$(params.b)")[0],
        tekton_refs("$(tasks.t.results.r)")[0],
    ]
